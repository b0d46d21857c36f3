//! The U-Net's composite layers on one image: the residual block and self-attention, forward
//! (keeping what the backward pass needs) and backward.

use pulp::Arch;

use super::conv::{Conv, ConvGradients, Side};
use super::elementwise::{
    GroupNorm, NormGradients, NormStats, silu, silu_backward, softmax_backward, softmax_rows,
};
use super::kernel::{ColumnsProduct, RowMap, RowsProduct, Segment, columns_product, padded};
use super::kernel::{MAX_LANES, rows_product};

/// GroupNorm followed by SiLU; returns (stats, a = norm(x), u = silu(a)).
pub fn norm_silu(arch: Arch, norm: &GroupNorm, x: &[f32]) -> (NormStats, Vec<f32>, Vec<f32>) {
    let stats = norm.stats(arch, x);
    let mut a = vec![0.0; x.len()];
    norm.apply(arch, x, &stats, &mut a);
    let mut u = vec![0.0; x.len()];
    silu(arch, &a, &mut u);
    (stats, a, u)
}

/// Back through [`norm_silu`]: ∂L/∂x from ∂L/∂u (consumed).
pub fn norm_silu_backward(
    arch: Arch,
    norm: &GroupNorm,
    x: &[f32],
    stats: &NormStats,
    a: &[f32],
    mut du: Vec<f32>,
    grads: &mut NormGradients,
) -> Vec<f32> {
    silu_backward(arch, a, &mut du);
    norm.backward(arch, x, stats, &du, grads)
}

/// A residual block: GN → SiLU → conv → + time → GN → SiLU → dropout → conv, plus the skip.
#[derive(Clone, Debug)]
pub struct ResBlock {
    /// First normalisation (input channels).
    pub norm1: GroupNorm,
    /// First convolution.
    pub conv1: Conv,
    /// Projection of the SiLU'd time embedding to the output channels.
    pub time_proj: Conv,
    /// Second normalisation.
    pub norm2: GroupNorm,
    /// Second convolution.
    pub conv2: Conv,
    /// 1×1 convolution on the skip path when the channel count changes.
    pub skip: Option<Conv>,
    /// Dropout probability while training.
    pub dropout: f32,
}

/// Gradients of a [`ResBlock`].
#[derive(Clone, Debug)]
pub struct ResBlockGradients {
    /// Of `norm1`.
    pub norm1: NormGradients,
    /// Of `conv1`.
    pub conv1: ConvGradients,
    /// Of `time_proj`.
    pub time_proj: ConvGradients,
    /// Of `norm2`.
    pub norm2: NormGradients,
    /// Of `conv2`.
    pub conv2: ConvGradients,
    /// Of `skip`.
    pub skip: Option<ConvGradients>,
}

/// What a [`ResBlock`]'s backward pass needs of its forward pass.
pub struct ResBlockTape {
    side: Side,
    x: Vec<f32>,
    stats1: NormStats,
    a1: Vec<f32>,
    u1: Vec<f32>,
    h: Vec<f32>,
    stats2: NormStats,
    a2: Vec<f32>,
    /// The second convolution's input (after dropout).
    d: Vec<f32>,
    /// Dropout's scale per element (0 or 1/(1 − p)), if dropout ran.
    mask: Option<Vec<f32>>,
}

/// Where dropout draws its randomness.
pub struct DropoutSource {
    state: u64,
}

impl DropoutSource {
    /// A source for one image of one step.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// A uniform number in [0, 1) (splitmix64).
    fn next_uniform(&mut self) -> f32 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

impl ResBlock {
    /// Zeroed gradients.
    pub fn zero_gradients(&self) -> ResBlockGradients {
        ResBlockGradients {
            norm1: zero_norm(&self.norm1),
            conv1: self.conv1.zero_gradients(),
            time_proj: self.time_proj.zero_gradients(),
            norm2: zero_norm(&self.norm2),
            conv2: self.conv2.zero_gradients(),
            skip: self.skip.as_ref().map(Conv::zero_gradients),
        }
    }

    /// The block on `x` with the SiLU'd time embedding `time`; with `dropout` a source, dropout
    /// is applied (training). Returns the output and, if `keep`, the tape.
    pub fn forward(
        &self,
        arch: Arch,
        x: Vec<f32>,
        side: Side,
        time: &[f32],
        dropout: Option<&mut DropoutSource>,
        keep: bool,
    ) -> (Vec<f32>, Option<ResBlockTape>) {
        let (stats1, a1, u1) = norm_silu(arch, &self.norm1, &x);
        let time_channels = self.time_proj.forward(arch, time, Side::square(1), None);
        let h = self.conv1.forward(arch, &u1, side, Some(&time_channels));
        let (stats2, a2, u2) = norm_silu(arch, &self.norm2, &h);
        let (d, mask) = match dropout {
            Some(source) if self.dropout > 0.0 => {
                let keep_scale = 1.0 / (1.0 - self.dropout);
                let mask: Vec<f32> = (0..u2.len())
                    .map(|_| {
                        if source.next_uniform() < self.dropout {
                            0.0
                        } else {
                            keep_scale
                        }
                    })
                    .collect();
                let d = u2.iter().zip(&mask).map(|(u, m)| u * m).collect();
                (d, Some(mask))
            }
            _ => (u2, None),
        };
        let mut out = self.conv2.forward(arch, &d, side, None);
        match &self.skip {
            Some(conv) => add_into(&mut out, &conv.forward(arch, &x, side, None)),
            None => add_into(&mut out, &x),
        }
        let tape = keep.then_some(ResBlockTape {
            side,
            x,
            stats1,
            a1,
            u1,
            h,
            stats2,
            a2,
            d,
            mask,
        });
        (out, tape)
    }

    /// ∂L/∂x from ∂L/∂out; adds the parameters' gradients and ∂L/∂time to `grads` and `dtime`.
    pub fn backward(
        &self,
        arch: Arch,
        tape: &ResBlockTape,
        time: &[f32],
        dout: &[f32],
        grads: &mut ResBlockGradients,
        dtime: &mut [f32],
    ) -> Vec<f32> {
        let side = tape.side;
        let dd = self
            .conv2
            .backward(arch, &tape.d, side, dout, &mut grads.conv2, true)
            .unwrap_or_default();
        let du2 = match &tape.mask {
            Some(mask) => dd.iter().zip(mask).map(|(g, m)| g * m).collect(),
            None => dd,
        };
        let dh = norm_silu_backward(
            arch,
            &self.norm2,
            &tape.h,
            &tape.stats2,
            &tape.a2,
            du2,
            &mut grads.norm2,
        );
        let mut dtime_channels = vec![0.0; self.conv1.cout];
        for pixel in dh.chunks_exact(self.conv1.cout) {
            add_into(&mut dtime_channels, pixel);
        }
        let dt = self
            .time_proj
            .backward(
                arch,
                time,
                Side::square(1),
                &dtime_channels,
                &mut grads.time_proj,
                true,
            )
            .unwrap_or_default();
        add_into(dtime, &dt);
        let du1 = self
            .conv1
            .backward(arch, &tape.u1, side, &dh, &mut grads.conv1, true)
            .unwrap_or_default();
        let mut dx = norm_silu_backward(
            arch,
            &self.norm1,
            &tape.x,
            &tape.stats1,
            &tape.a1,
            du1,
            &mut grads.norm1,
        );
        match (&self.skip, &mut grads.skip) {
            (Some(conv), Some(skip_grads)) => {
                let ds = conv
                    .backward(arch, &tape.x, side, dout, skip_grads, true)
                    .unwrap_or_default();
                add_into(&mut dx, &ds);
            }
            _ => add_into(&mut dx, dout),
        }
        dx
    }
}

/// Single-head self-attention over the pixels, with a residual connection.
#[derive(Clone, Debug)]
pub struct Attention {
    /// Normalisation before the projections.
    pub norm: GroupNorm,
    /// Channels → 3 × channels (q, k, v).
    pub qkv: Conv,
    /// Output projection.
    pub proj: Conv,
}

/// Gradients of an [`Attention`].
#[derive(Clone, Debug)]
pub struct AttentionGradients {
    /// Of `norm`.
    pub norm: NormGradients,
    /// Of `qkv`.
    pub qkv: ConvGradients,
    /// Of `proj`.
    pub proj: ConvGradients,
}

/// What an [`Attention`]'s backward pass needs.
pub struct AttentionTape {
    x: Vec<f32>,
    stats: NormStats,
    n: Vec<f32>,
    qkv: Vec<f32>,
    /// Softmax weights `[query][padded(tokens)]`.
    p: Vec<f32>,
    o: Vec<f32>,
}

impl Attention {
    /// Zeroed gradients.
    pub fn zero_gradients(&self) -> AttentionGradients {
        AttentionGradients {
            norm: zero_norm(&self.norm),
            qkv: self.qkv.zero_gradients(),
            proj: self.proj.zero_gradients(),
        }
    }

    /// x + proj(softmax(q kᵀ/√c) v) with q, k, v from norm(x).
    pub fn forward(
        &self,
        arch: Arch,
        x: Vec<f32>,
        side: Side,
        keep: bool,
    ) -> (Vec<f32>, Option<AttentionTape>) {
        let c = self.norm.channels;
        let tokens = side.pixels();
        let stats = self.norm.stats(arch, &x);
        let mut n = vec![0.0; x.len()];
        self.norm.apply(arch, &x, &stats, &mut n);
        let qkv = self.qkv.forward(arch, &n, side, None);
        let t_pad = padded(tokens);
        // Scores: rows of q against kᵀ laid out [channel][token].
        let k_t = transpose_part(&qkv, 3 * c, c, c, tokens, t_pad);
        let mut p = vec![0.0; tokens * t_pad];
        let scores = RowsProduct {
            a: &qkv,
            a_stride: 3 * c,
            k_len: c,
            map: RowMap::Identity,
            taps: &[0],
            b: &k_t,
            n_pad: t_pad,
            m: tokens,
        };
        rows_product(arch, &scores, &mut p);
        softmax_rows(arch, &mut p, t_pad, tokens, 1.0 / (c as f32).sqrt());
        let v = part_rows(&qkv, 3 * c, 2 * c, c);
        let o = matmul(arch, &p, t_pad, tokens, &v, c);
        let mut out = self.proj.forward(arch, &o, side, None);
        add_into(&mut out, &x);
        let tape = keep.then_some(AttentionTape {
            x,
            stats,
            n,
            qkv,
            p,
            o,
        });
        (out, tape)
    }

    /// ∂L/∂x from ∂L/∂out, adding the parameters' gradients to `grads`.
    pub fn backward(
        &self,
        arch: Arch,
        tape: &AttentionTape,
        side: Side,
        dout: &[f32],
        grads: &mut AttentionGradients,
    ) -> Vec<f32> {
        let c = self.norm.channels;
        let tokens = side.pixels();
        let t_pad = padded(tokens);
        let d_o = self
            .proj
            .backward(arch, &tape.o, side, dout, &mut grads.proj, true)
            .unwrap_or_default();
        // dP = dO vᵀ, with vᵀ laid out [channel][token].
        let v_t = transpose_part(&tape.qkv, 3 * c, 2 * c, c, tokens, t_pad);
        let mut dp = matmul(arch, &d_o, c, c, &v_t, t_pad);
        softmax_backward(arch, &tape.p, &mut dp, t_pad, tokens);
        let scale = 1.0 / (c as f32).sqrt();
        dp.iter_mut().for_each(|g| *g *= scale);
        let ds = dp;
        // dv = Pᵀ dO, dq = dS k, dk = dSᵀ q.
        let c_pad = padded(c);
        let mut dv = vec![0.0; t_pad * c_pad];
        transposed_matmul(
            arch,
            &tape.p,
            t_pad,
            tokens,
            &pad_cols(&d_o, c, c_pad),
            c_pad,
            &mut dv,
        );
        let k = part_rows(&tape.qkv, 3 * c, c, c);
        let dq = matmul(arch, &ds, t_pad, tokens, &k, c);
        let mut dk = vec![0.0; t_pad * c_pad];
        let q = part_rows(&tape.qkv, 3 * c, 0, c);
        transposed_matmul(
            arch,
            &ds,
            t_pad,
            tokens,
            &pad_cols(&q, c, c_pad),
            c_pad,
            &mut dk,
        );
        let mut dqkv = vec![0.0; tokens * 3 * c];
        for (token, row) in dqkv.chunks_exact_mut(3 * c).enumerate() {
            row[..c].copy_from_slice(&dq[token * c..(token + 1) * c]);
            row[c..2 * c].copy_from_slice(&dk[token * c_pad..token * c_pad + c]);
            row[2 * c..].copy_from_slice(&dv[token * c_pad..token * c_pad + c]);
        }
        let dn = self
            .qkv
            .backward(arch, &tape.n, side, &dqkv, &mut grads.qkv, true)
            .unwrap_or_default();
        let mut dx = self
            .norm
            .backward(arch, &tape.x, &tape.stats, &dn, &mut grads.norm);
        add_into(&mut dx, dout);
        dx
    }
}

/// Zeroed gradients of a GroupNorm.
pub fn zero_norm(norm: &GroupNorm) -> NormGradients {
    NormGradients {
        gamma: vec![0.0; norm.channels],
        beta: vec![0.0; norm.channels],
    }
}

/// `target += source`, element by element.
pub fn add_into(target: &mut [f32], source: &[f32]) {
    for (t, s) in target.iter_mut().zip(source) {
        *t += s;
    }
}

/// Columns `start..start + width` of rows of `stride` floats, as dense rows of `width`.
fn part_rows(x: &[f32], stride: usize, start: usize, width: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() / stride * width);
    for row in x.chunks_exact(stride) {
        out.extend_from_slice(&row[start..start + width]);
    }
    out
}

/// Columns `start..start + width` of `rows` rows of `stride` floats, transposed to
/// `[width][rows_pad]` (zero beyond `rows`).
fn transpose_part(
    x: &[f32],
    stride: usize,
    start: usize,
    width: usize,
    rows: usize,
    rows_pad: usize,
) -> Vec<f32> {
    let mut out = vec![0.0; width * rows_pad];
    for (r, row) in x.chunks_exact(stride).take(rows).enumerate() {
        for (j, &v) in row[start..start + width].iter().enumerate() {
            out[j * rows_pad + r] = v;
        }
    }
    out
}

/// Rows of `width` floats widened to `width_pad` with zeros.
fn pad_cols(x: &[f32], width: usize, width_pad: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len() / width * width_pad];
    for (target, source) in out.chunks_exact_mut(width_pad).zip(x.chunks_exact(width)) {
        target[..width].copy_from_slice(source);
    }
    out
}

/// A · B with A `[m][a_stride]` (first `k` columns used) and B `[k][n]` dense: `[m][n]`.
fn matmul(arch: Arch, a: &[f32], a_stride: usize, k: usize, b: &[f32], n: usize) -> Vec<f32> {
    let m = a.len() / a_stride;
    let n_pad = padded(n);
    let b_pad = if n == n_pad {
        b.to_vec()
    } else {
        pad_cols(b, n, n_pad)
    };
    let mut c = vec![0.0; m * n_pad];
    let product = RowsProduct {
        a,
        a_stride,
        k_len: k,
        map: RowMap::Identity,
        taps: &[0],
        b: &b_pad,
        n_pad,
        m,
    };
    rows_product(arch, &product, &mut c);
    if n == n_pad {
        c
    } else {
        part_rows(&c, n_pad, 0, n)
    }
}

/// C += Aᵀ · B: A `[k][a_stride]` (first `m` columns used, m ≤ a_stride), B `[k][n_pad]`, C
/// `[a_stride][n_pad]` (rows ≥ m untouched).
fn transposed_matmul(
    arch: Arch,
    a: &[f32],
    a_stride: usize,
    m: usize,
    b: &[f32],
    n_pad: usize,
    c: &mut [f32],
) {
    debug_assert!(n_pad.is_multiple_of(MAX_LANES));
    let segment = Segment {
        a_start: 0,
        a_step: a_stride,
        b_start: 0,
        b_step: n_pad,
        len: b.len() / n_pad,
    };
    let product = ColumnsProduct {
        a,
        b,
        segments: &[segment],
        n_pad,
        m,
    };
    columns_product(arch, &product, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(channels: usize) -> GroupNorm {
        GroupNorm {
            channels,
            groups: 4,
            gamma: vec![1.0; channels],
            beta: vec![0.0; channels],
            epsilon: 1e-5,
        }
    }

    fn conv(cin: usize, cout: usize, kernel: usize) -> Conv {
        let weights: Vec<f32> = (0..cin * cout * kernel * kernel)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.05)
            .collect();
        Conv::new(cin, cout, kernel, 1, &weights, vec![0.1; cout])
    }

    #[test]
    fn dropout_zeroes_about_p_and_scales_the_rest_by_one_over_one_minus_p() {
        let block = ResBlock {
            norm1: norm(8),
            conv1: conv(8, 8, 3),
            time_proj: conv(4, 8, 1),
            norm2: norm(8),
            conv2: conv(8, 8, 3),
            skip: None,
            dropout: 0.3,
        };
        let side = Side::square(10);
        let x: Vec<f32> = (0..side.pixels() * 8)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let time = [0.5, -0.2, 0.1, 0.9];
        let mut source = DropoutSource::new(42);
        let (_, tape) = block.forward(Arch::new(), x, side, &time, Some(&mut source), true);
        let mask = tape
            .and_then(|t| t.mask)
            .expect("a dropout mask in training");
        let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / mask.len() as f64;
        assert!((dropped - 0.3).abs() < 0.05, "dropped {dropped}");
        let kept = 1.0 / (1.0 - 0.3);
        assert!(mask.iter().all(|&m| m == 0.0 || (m - kept).abs() < 1e-6));
    }
}
