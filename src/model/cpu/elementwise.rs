//! The element-wise layers of the CPU U-Net on one image in channels-last layout (`[pixel][channel]`):
//! GroupNorm with its statistics, SiLU, a row softmax, and their gradients.
//!
//! The loops are plain Rust over slices, written so the compiler vectorises them; each public
//! function runs them under `pulp`'s run-time dispatch so that they are compiled for the widest
//! instruction set the processor has. `exp` is a polynomial (Cephes' `expf`, relative error
//! ~1e-7) rather than the C library's, which does not vectorise.

use pulp::{Arch, Simd, WithSimd};

/// A loop to compile for the best instruction set: its `run` must be `#[inline(always)]` and
/// call only `#[inline(always)]` functions, so that all of it is compiled inside the dispatched
/// function (a closure would not reliably be).
trait Loop {
    type Output;
    fn run(self) -> Self::Output;
}

/// Runs `body` compiled for the best instruction set of `arch`.
fn vectorized<L: Loop>(arch: Arch, body: L) -> L::Output {
    struct Op<L>(L);
    impl<L: Loop> WithSimd for Op<L> {
        type Output = L::Output;
        #[inline(always)]
        fn with_simd<S: Simd>(self, _simd: S) -> L::Output {
            self.0.run()
        }
    }
    arch.dispatch(Op(body))
}

/// e^x for x in float range (clamped to [−87, 88]).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    // 2^n: n + 127 lands in the low mantissa bits of n + 127 + 2^23, and shifting those bits
    // into the exponent field drops the rest (an integer conversion would not vectorise).
    let scale = f32::from_bits((n + (127.0 + 8_388_608.0)).to_bits() << 23);
    p * scale
}

/// 1 / (1 + e^−x).
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `u = a · σ(a)`, element by element.
pub fn silu(arch: Arch, a: &[f32], u: &mut [f32]) {
    struct Silu<'a>(&'a [f32], &'a mut [f32]);
    impl Loop for Silu<'_> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            for (u, &a) in self.1.iter_mut().zip(self.0) {
                *u = a * sigmoid(a);
            }
        }
    }
    vectorized(arch, Silu(a, u));
}

/// `g ← g · silu′(a)`, silu′(a) = σ(a)(1 + a(1 − σ(a))).
pub fn silu_backward(arch: Arch, a: &[f32], g: &mut [f32]) {
    struct SiluBackward<'a>(&'a [f32], &'a mut [f32]);
    impl Loop for SiluBackward<'_> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            for (g, &a) in self.1.iter_mut().zip(self.0) {
                let s = sigmoid(a);
                *g *= s * (1.0 + a * (1.0 - s));
            }
        }
    }
    vectorized(arch, SiluBackward(a, g));
}

/// Per channel, Σ_pixels (x − centre)² (or Σ x without a centre) of `[pixel][channel]` rows.
struct ChannelSums<'a> {
    x: &'a [f32],
    channels: usize,
    centre: Option<&'a [f32]>,
}

impl Loop for ChannelSums<'_> {
    type Output = Vec<f32>;
    #[inline(always)]
    fn run(self) -> Vec<f32> {
        let mut sums = vec![0.0f32; self.channels];
        match self.centre {
            None => {
                for pixel in self.x.chunks_exact(self.channels) {
                    for (s, &v) in sums.iter_mut().zip(pixel) {
                        *s += v;
                    }
                }
            }
            Some(centre) => {
                for pixel in self.x.chunks_exact(self.channels) {
                    for ((s, &v), &m) in sums.iter_mut().zip(pixel).zip(centre) {
                        *s += (v - m) * (v - m);
                    }
                }
            }
        }
        sums
    }
}

/// `a = x · scale + shift` per channel.
struct Affine<'a> {
    x: &'a [f32],
    a: &'a mut [f32],
    scale: &'a [f32],
    shift: &'a [f32],
}

impl Loop for Affine<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let c = self.scale.len();
        for (a, x) in self.a.chunks_exact_mut(c).zip(self.x.chunks_exact(c)) {
            for (((a, &x), &scale), &shift) in a.iter_mut().zip(x).zip(self.scale).zip(self.shift) {
                *a = x * scale + shift;
            }
        }
    }
}

/// Per channel, Σ ∂L/∂a and Σ ∂L/∂a · x̂ over the pixels.
struct NormGradientSums<'a> {
    da: &'a [f32],
    x: &'a [f32],
    stats: &'a NormStats,
}

impl Loop for NormGradientSums<'_> {
    type Output = (Vec<f32>, Vec<f32>);
    #[inline(always)]
    fn run(self) -> (Vec<f32>, Vec<f32>) {
        let c = self.stats.mean.len();
        let (mean, rstd) = (&self.stats.mean[..c], &self.stats.rstd[..c]);
        let mut s1 = vec![0.0f32; c];
        let mut s2 = vec![0.0f32; c];
        for (da, x) in self.da.chunks_exact(c).zip(self.x.chunks_exact(c)) {
            for i in 0..c {
                let xhat = (x[i] - mean[i]) * rstd[i];
                s1[i] += da[i];
                s2[i] += da[i] * xhat;
            }
        }
        (s1, s2)
    }
}

/// ∂L/∂x = (1/σ)(γ ∂L/∂a − mean(γ ∂L/∂a) − x̂ mean(γ ∂L/∂a x̂)), the means per group given per
/// channel.
struct NormInputGradient<'a> {
    dx: &'a mut [f32],
    da: &'a [f32],
    x: &'a [f32],
    stats: &'a NormStats,
    gamma: &'a [f32],
    mean_g: &'a [f32],
    mean_g_xhat: &'a [f32],
}

impl Loop for NormInputGradient<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let c = self.gamma.len();
        let (mean, rstd) = (&self.stats.mean[..c], &self.stats.rstd[..c]);
        let (mean_g, mean_g_xhat) = (&self.mean_g[..c], &self.mean_g_xhat[..c]);
        for ((dx, da), x) in self
            .dx
            .chunks_exact_mut(c)
            .zip(self.da.chunks_exact(c))
            .zip(self.x.chunks_exact(c))
        {
            for i in 0..c {
                let xhat = (x[i] - mean[i]) * rstd[i];
                dx[i] = rstd[i] * (self.gamma[i] * da[i] - mean_g[i] - xhat * mean_g_xhat[i]);
            }
        }
    }
}

/// A GroupNorm layer's parameters.
#[derive(Clone, Debug)]
pub struct GroupNorm {
    /// Channels.
    pub channels: usize,
    /// Groups (dividing the channels).
    pub groups: usize,
    /// Scale per channel.
    pub gamma: Vec<f32>,
    /// Shift per channel.
    pub beta: Vec<f32>,
    /// Added to the variance.
    pub epsilon: f32,
}

/// The statistics of one image under a [`GroupNorm`], per channel (each group's value repeated).
#[derive(Clone, Debug)]
pub struct NormStats {
    /// Mean of the channel's group.
    pub mean: Vec<f32>,
    /// 1 / √(variance + ε) of the channel's group.
    pub rstd: Vec<f32>,
}

/// Gradients of a [`GroupNorm`]'s parameters.
#[derive(Clone, Debug)]
pub struct NormGradients {
    /// ∂L/∂γ.
    pub gamma: Vec<f32>,
    /// ∂L/∂β.
    pub beta: Vec<f32>,
}

impl GroupNorm {
    /// Mean and 1/σ of each group of `x` (`[pixel][channel]`), computed in two passes.
    pub fn stats(&self, arch: Arch, x: &[f32]) -> NormStats {
        let c = self.channels;
        let per_group = c / self.groups;
        let count = (x.len() / c * per_group) as f32;
        let sums = ChannelSums {
            x,
            channels: c,
            centre: None,
        };
        let mean = self.spread(&vectorized(arch, sums), |s| s / count);
        let squares = ChannelSums {
            x,
            channels: c,
            centre: Some(&mean),
        };
        let squares = vectorized(arch, squares);
        let epsilon = self.epsilon;
        let rstd = self.spread(&squares, |s| 1.0 / (s / count + epsilon).sqrt());
        NormStats { mean, rstd }
    }

    /// Sums `per_channel` over each group, maps the sum, and repeats it for every channel.
    fn spread(&self, per_channel: &[f32], map: impl Fn(f32) -> f32) -> Vec<f32> {
        let per_group = self.channels / self.groups;
        per_channel
            .chunks_exact(per_group)
            .flat_map(|group| std::iter::repeat_n(map(group.iter().sum()), per_group))
            .collect()
    }

    /// `a = (x − μ)/σ · γ + β`.
    pub fn apply(&self, arch: Arch, x: &[f32], stats: &NormStats, a: &mut [f32]) {
        let (scale, shift) = self.affine(stats);
        vectorized(
            arch,
            Affine {
                x,
                a,
                scale: &scale,
                shift: &shift,
            },
        );
    }

    fn affine(&self, stats: &NormStats) -> (Vec<f32>, Vec<f32>) {
        let scale: Vec<f32> = stats
            .rstd
            .iter()
            .zip(&self.gamma)
            .map(|(r, g)| r * g)
            .collect();
        let shift = self
            .beta
            .iter()
            .zip(&stats.mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        (scale, shift)
    }

    /// Gradient through the normalisation: given ∂L/∂a in `da`, returns ∂L/∂x and adds the
    /// parameters' gradients to `grads`.
    pub fn backward(
        &self,
        arch: Arch,
        x: &[f32],
        stats: &NormStats,
        da: &[f32],
        grads: &mut NormGradients,
    ) -> Vec<f32> {
        let c = self.channels;
        let per_group = c / self.groups;
        let count = (x.len() / c * per_group) as f32;
        let (sum_da, sum_da_xhat) = vectorized(arch, NormGradientSums { da, x, stats });
        for i in 0..c {
            grads.beta[i] += sum_da[i];
            grads.gamma[i] += sum_da_xhat[i];
        }
        let weighted = |sums: &[f32]| -> Vec<f32> {
            sums.iter().zip(&self.gamma).map(|(s, g)| s * g).collect()
        };
        let mean_g = self.spread(&weighted(&sum_da), |s| s / count);
        let mean_g_xhat = self.spread(&weighted(&sum_da_xhat), |s| s / count);
        let mut dx = vec![0.0f32; x.len()];
        let input_gradient = NormInputGradient {
            dx: &mut dx,
            da,
            x,
            stats,
            gamma: &self.gamma,
            mean_g: &mean_g,
            mean_g_xhat: &mean_g_xhat,
        };
        vectorized(arch, input_gradient);
        dx
    }
}

/// Each of the `rows` rows of `s` (`stride` floats apart, the first `cols` used) becomes
/// softmax(scale · row).
pub fn softmax_rows(arch: Arch, s: &mut [f32], stride: usize, cols: usize, scale: f32) {
    struct Softmax<'a>(&'a mut [f32], usize, usize, f32);
    impl Loop for Softmax<'_> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            let Self(s, stride, cols, scale) = self;
            for row in s.chunks_exact_mut(stride) {
                let row = &mut row[..cols];
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let mut sum = 0.0;
                for v in row.iter_mut() {
                    *v = exp((*v - max) * scale);
                    sum += *v;
                }
                let inverse = 1.0 / sum;
                for v in row.iter_mut() {
                    *v *= inverse;
                }
            }
        }
    }
    vectorized(arch, Softmax(s, stride, cols, scale));
}

/// Softmax gradient in place: `g ← p ⊙ (g − Σ_j g_j p_j)` row by row.
pub fn softmax_backward(arch: Arch, p: &[f32], g: &mut [f32], stride: usize, cols: usize) {
    struct SoftmaxBackward<'a>(&'a [f32], &'a mut [f32], usize, usize);
    impl Loop for SoftmaxBackward<'_> {
        type Output = ();
        #[inline(always)]
        fn run(self) {
            let Self(p, g, stride, cols) = self;
            for (g, p) in g.chunks_exact_mut(stride).zip(p.chunks_exact(stride)) {
                let (g, p) = (&mut g[..cols], &p[..cols]);
                let dot: f32 = g.iter().zip(p).map(|(g, p)| g * p).sum();
                for (g, &p) in g.iter_mut().zip(p) {
                    *g = p * (*g - dot);
                }
            }
        }
    }
    vectorized(arch, SoftmaxBackward(p, g, stride, cols));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_library_within_a_few_ulp() {
        for i in -870..=879 {
            let x = i as f32 * 0.1 + 0.013;
            let (ours, theirs) = (exp(x), x.exp());
            assert!(
                ((ours - theirs) / theirs).abs() < 4e-7,
                "exp({x}) = {ours}, not {theirs}"
            );
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut s = vec![1.0, 2.0, 3.0, 0.0, -1.0, 0.0, 5.0, 0.0];
        softmax_rows(Arch::new(), &mut s, 4, 3, 0.5);
        for row in s.chunks(4) {
            assert!((row[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert!(s[0] < s[1] && s[1] < s[2]);
        assert!(s[3] == 0.0 && s[7] == 0.0, "padding columns are left alone");
    }
}
