//! Convolutions (3×3 with padding 1, stride 1 or 2; and 1×1) and dense layers of the CPU U-Net,
//! forward and backward, on one image in channels-last layout (`[pixel][channel]`).
//!
//! A 3×3 convolution copies its input into a zero-bordered buffer whose lines are two pixels
//! wider than the image. Output pixel (y, x) then reads input pixel (y + ky)·line + x + kx for
//! tap (ky, kx): within a line, and across lines, consecutive outputs read consecutive pixels,
//! so the whole convolution is one [`rows_product`] with nine taps over "padded lines" (the
//! two extra outputs per line are computed and dropped). The input gradient is the same product
//! over the zero-bordered output gradient with the kernel flipped and transposed; the weight
//! gradient is a [`columns_product`] per tap. A dense layer is the 1×1 case.

use pulp::Arch;

use super::kernel::{
    ColumnsProduct, RowMap, RowsProduct, Segment, columns_product, padded, rows_product,
};

/// A convolution or dense layer, its weights packed for the kernels.
#[derive(Clone, Debug)]
pub struct Conv {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// 1 or 3.
    pub kernel: usize,
    /// 1 or 2 (2 only with kernel 3).
    pub stride: usize,
    /// `[tap][cin][padded(cout)]`, tap = ky·3 + kx.
    forward_weights: Vec<f32>,
    /// For the input gradient. Stride 1: `[tap][cout][padded(cin)]` of the flipped kernel
    /// (tap′ = (2 − ky)·3 + (2 − kx)); stride 2: `[cout][padded(9·cin)]`.
    backward_weights: Vec<f32>,
    /// Bias per output channel.
    pub bias: Vec<f32>,
}

/// Gradients of a [`Conv`]'s parameters, the weights in the forward packing.
#[derive(Clone, Debug)]
pub struct ConvGradients {
    /// ∂L/∂W as `[tap][cin][padded(cout)]`.
    pub weight: Vec<f32>,
    /// ∂L/∂b.
    pub bias: Vec<f32>,
}

/// Image sides in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Side {
    /// Lines.
    pub height: usize,
    /// Pixels per line.
    pub width: usize,
}

impl Side {
    /// A square image.
    pub fn square(side: usize) -> Self {
        Self {
            height: side,
            width: side,
        }
    }

    /// Pixels.
    pub fn pixels(self) -> usize {
        self.height * self.width
    }

    /// Twice as high and wide.
    pub fn doubled(self) -> Self {
        Self {
            height: 2 * self.height,
            width: 2 * self.width,
        }
    }
}

impl Conv {
    /// Packs weights given as `w[cout][cin][ky][kx]` (burn's `Conv2d` layout; for a dense layer
    /// `kernel` 1 and `w[cout][cin]`).
    pub fn new(
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        weights: &[f32],
        bias: Vec<f32>,
    ) -> Self {
        assert!(kernel == 1 || kernel == 3, "kernel {kernel} is not 1 or 3");
        assert!(
            stride == 1 || (stride == 2 && kernel == 3),
            "stride {stride}"
        );
        assert_eq!(weights.len(), cout * cin * kernel * kernel, "weights");
        assert_eq!(bias.len(), cout, "bias");
        let taps = kernel * kernel;
        let at = |o: usize, i: usize, tap: usize| weights[(o * cin + i) * taps + tap];
        let n_pad = padded(cout);
        let mut forward_weights = vec![0.0; taps * cin * n_pad];
        for tap in 0..taps {
            for i in 0..cin {
                for o in 0..cout {
                    forward_weights[(tap * cin + i) * n_pad + o] = at(o, i, tap);
                }
            }
        }
        let backward_weights = if stride == 1 {
            let cin_pad = padded(cin);
            let mut w = vec![0.0; taps * cout * cin_pad];
            for tap in 0..taps {
                let flipped = taps - 1 - tap;
                for o in 0..cout {
                    for i in 0..cin {
                        w[(flipped * cout + o) * cin_pad + i] = at(o, i, tap);
                    }
                }
            }
            w
        } else {
            let n = padded(taps * cin);
            let mut w = vec![0.0; cout * n];
            for o in 0..cout {
                for tap in 0..taps {
                    for i in 0..cin {
                        w[o * n + tap * cin + i] = at(o, i, tap);
                    }
                }
            }
            w
        };
        Self {
            cin,
            cout,
            kernel,
            stride,
            forward_weights,
            backward_weights,
            bias,
        }
    }

    /// Packs a dense layer given as `w[input][output]` (burn's `Linear` layout).
    pub fn dense(cin: usize, cout: usize, weights: &[f32], bias: Vec<f32>) -> Self {
        let mut transposed = vec![0.0; cin * cout];
        for i in 0..cin {
            for o in 0..cout {
                transposed[o * cin + i] = weights[i * cout + o];
            }
        }
        Self::new(cin, cout, 1, 1, &transposed, bias)
    }

    /// Zeroed gradients for this layer.
    pub fn zero_gradients(&self) -> ConvGradients {
        ConvGradients {
            weight: vec![0.0; self.forward_weights.len()],
            bias: vec![0.0; self.cout],
        }
    }

    /// The output side for an input of side `side`.
    pub fn output_side(&self, side: Side) -> Side {
        if self.stride == 2 {
            Side {
                height: (side.height - 1) / 2 + 1,
                width: (side.width - 1) / 2 + 1,
            }
        } else {
            side
        }
    }

    /// y = conv(x) + bias + `extra` (per output channel, if given).
    pub fn forward(&self, arch: Arch, x: &[f32], side: Side, extra: Option<&[f32]>) -> Vec<f32> {
        assert_eq!(x.len(), side.pixels() * self.cin, "conv input");
        let n_pad = padded(self.cout);
        let out_side = self.output_side(side);
        let mut bias = self.bias.clone();
        if let Some(extra) = extra {
            for (b, e) in bias.iter_mut().zip(extra) {
                *b += e;
            }
        }
        let mut out = vec![0.0; out_side.pixels() * self.cout];
        if self.kernel == 1 {
            let m = side.pixels();
            let mut c = vec![0.0; m * n_pad];
            let taps = [0];
            let product = RowsProduct {
                a: x,
                a_stride: self.cin,
                k_len: self.cin,
                map: RowMap::Identity,
                taps: &taps,
                b: &self.forward_weights,
                n_pad,
                m,
            };
            rows_product(arch, &product, &mut c);
            copy_rows(&c, n_pad, &mut out, self.cout, &bias, |m| m);
            return out;
        }
        let line = side.width + 2;
        let padded_x = pad_image(x, side, self.cin);
        let taps = row_taps(line);
        let (map, m) = if self.stride == 1 {
            (RowMap::Identity, (side.height - 1) * line + side.width)
        } else {
            let map = RowMap::Stride2 {
                width: out_side.width,
                line,
            };
            (map, out_side.pixels())
        };
        let mut c = vec![0.0; m * n_pad];
        let product = RowsProduct {
            a: &padded_x,
            a_stride: self.cin,
            k_len: 3 * self.cin,
            map,
            taps: &taps,
            b: &self.forward_weights,
            n_pad,
            m,
        };
        rows_product(arch, &product, &mut c);
        if self.stride == 1 {
            copy_rows(&c, n_pad, &mut out, self.cout, &bias, |p| {
                p / side.width * line + p % side.width
            });
        } else {
            copy_rows(&c, n_pad, &mut out, self.cout, &bias, |p| p);
        }
        out
    }

    /// Adds this layer's parameter gradients for input `x` (side `side`) and output gradient
    /// `dy` to `grads`, and returns ∂L/∂x if `input_gradient`.
    pub fn backward(
        &self,
        arch: Arch,
        x: &[f32],
        side: Side,
        dy: &[f32],
        grads: &mut ConvGradients,
        input_gradient: bool,
    ) -> Option<Vec<f32>> {
        let out_side = self.output_side(side);
        assert_eq!(
            dy.len(),
            out_side.pixels() * self.cout,
            "conv output gradient"
        );
        for pixel in dy.chunks_exact(self.cout) {
            for (g, d) in grads.bias.iter_mut().zip(pixel) {
                *g += d;
            }
        }
        if self.kernel == 1 {
            self.dense_weight_gradient(arch, x, dy, &mut grads.weight);
            return input_gradient.then(|| self.dense_input_gradient(arch, dy));
        }
        let line = side.width + 2;
        let padded_x = pad_image(x, side, self.cin);
        let taps = row_taps(line);
        let n_pad = padded(self.cout);
        // The weight rows of one kernel line: [kx][cin], 3·cin rows of n_pad.
        let block = 3 * self.cin * n_pad;
        if self.stride == 1 {
            // dy on the padded lines of the forward product, zero in the two dropped columns.
            let m = (side.height - 1) * line + side.width;
            let mut dy_lines = vec![0.0; m * n_pad];
            for (p, d) in dy.chunks_exact(self.cout).enumerate() {
                let row = p / side.width * line + p % side.width;
                dy_lines[row * n_pad..row * n_pad + self.cout].copy_from_slice(d);
            }
            for (tap, &offset) in taps.iter().enumerate() {
                let segment = Segment {
                    a_start: offset * self.cin,
                    a_step: self.cin,
                    b_start: 0,
                    b_step: n_pad,
                    len: m,
                };
                let product = ColumnsProduct {
                    a: &padded_x,
                    b: &dy_lines,
                    segments: &[segment],
                    n_pad,
                    m: 3 * self.cin,
                };
                columns_product(arch, &product, &mut grads.weight[tap * block..]);
            }
            return input_gradient.then(|| self.flipped_input_gradient(arch, dy, side));
        }
        let dy_rows = pad_rows(dy, self.cout, n_pad);
        for (tap, &offset) in taps.iter().enumerate() {
            let segments: Vec<Segment> = (0..out_side.height)
                .map(|y| Segment {
                    a_start: (2 * y * line + offset) * self.cin,
                    a_step: 2 * self.cin,
                    b_start: y * out_side.width * n_pad,
                    b_step: n_pad,
                    len: out_side.width,
                })
                .collect();
            let product = ColumnsProduct {
                a: &padded_x,
                b: &dy_rows,
                segments: &segments,
                n_pad,
                m: 3 * self.cin,
            };
            columns_product(arch, &product, &mut grads.weight[tap * block..]);
        }
        input_gradient.then(|| self.strided_input_gradient(arch, dy, side))
    }

    fn dense_weight_gradient(&self, arch: Arch, x: &[f32], dy: &[f32], weight: &mut [f32]) {
        let n_pad = padded(self.cout);
        let dy_rows = pad_rows(dy, self.cout, n_pad);
        let segment = Segment {
            a_start: 0,
            a_step: self.cin,
            b_start: 0,
            b_step: n_pad,
            len: x.len() / self.cin,
        };
        let product = ColumnsProduct {
            a: x,
            b: &dy_rows,
            segments: &[segment],
            n_pad,
            m: self.cin,
        };
        columns_product(arch, &product, weight);
    }

    fn dense_input_gradient(&self, arch: Arch, dy: &[f32]) -> Vec<f32> {
        let m = dy.len() / self.cout;
        let cin_pad = padded(self.cin);
        let mut c = vec![0.0; m * cin_pad];
        let product = RowsProduct {
            a: dy,
            a_stride: self.cout,
            k_len: self.cout,
            map: RowMap::Identity,
            taps: &[0],
            b: &self.backward_weights,
            n_pad: cin_pad,
            m,
        };
        rows_product(arch, &product, &mut c);
        let mut dx = vec![0.0; m * self.cin];
        copy_rows(&c, cin_pad, &mut dx, self.cin, &vec![0.0; self.cin], |p| p);
        dx
    }

    fn flipped_input_gradient(&self, arch: Arch, dy: &[f32], side: Side) -> Vec<f32> {
        let line = side.width + 2;
        let padded_dy = pad_image(dy, side, self.cout);
        let cin_pad = padded(self.cin);
        let m = (side.height - 1) * line + side.width;
        let mut c = vec![0.0; m * cin_pad];
        let taps = row_taps(line);
        let product = RowsProduct {
            a: &padded_dy,
            a_stride: self.cout,
            k_len: 3 * self.cout,
            map: RowMap::Identity,
            taps: &taps,
            b: &self.backward_weights,
            n_pad: cin_pad,
            m,
        };
        rows_product(arch, &product, &mut c);
        let mut dx = vec![0.0; side.pixels() * self.cin];
        copy_rows(&c, cin_pad, &mut dx, self.cin, &vec![0.0; self.cin], |p| {
            p / side.width * line + p % side.width
        });
        dx
    }

    fn strided_input_gradient(&self, arch: Arch, dy: &[f32], side: Side) -> Vec<f32> {
        let out_side = self.output_side(side);
        let line = side.width + 2;
        let n = padded(9 * self.cin);
        let m = out_side.pixels();
        let mut c = vec![0.0; m * n];
        let product = RowsProduct {
            a: dy,
            a_stride: self.cout,
            k_len: self.cout,
            map: RowMap::Identity,
            taps: &[0],
            b: &self.backward_weights,
            n_pad: n,
            m,
        };
        rows_product(arch, &product, &mut c);
        let mut padded_dx = vec![0.0; (side.height + 2) * line * self.cin];
        let taps = window_taps(line);
        for (p, row) in c.chunks_exact(n).enumerate() {
            let base = 2 * (p / out_side.width) * line + 2 * (p % out_side.width);
            for (tap, offset) in taps.iter().enumerate() {
                let start = (base + offset) * self.cin;
                let target = &mut padded_dx[start..start + self.cin];
                for (t, g) in target.iter_mut().zip(&row[tap * self.cin..]) {
                    *t += g;
                }
            }
        }
        unpad_image(&padded_dx, side, self.cin)
    }
}

/// Pixel offsets of the 3×3 window's lines: the three taps of a line (kx = 0, 1, 2) read three
/// consecutive pixels, so with channels last they are one run of 3·channels floats, and the
/// packed weights of a line (`[kx][cin]` rows) are consecutive too.
fn row_taps(line: usize) -> [usize; 3] {
    [0, line, 2 * line]
}

/// Pixel offsets of the 3×3 window's taps (ky·3 + kx) over lines of `line` pixels.
fn window_taps(line: usize) -> [usize; 9] {
    core::array::from_fn(|tap| tap / 3 * line + tap % 3)
}

/// `x` (`[pixel][channels]`) inside a one-pixel zero border, plus two zero pixels at the end
/// (read by the dropped outputs of the last line).
fn pad_image(x: &[f32], side: Side, channels: usize) -> Vec<f32> {
    let line = side.width + 2;
    let mut out = vec![0.0; ((side.height + 2) * line + 2) * channels];
    let row = side.width * channels;
    for (y, source) in x.chunks_exact(row).enumerate() {
        let start = ((y + 1) * line + 1) * channels;
        out[start..start + row].copy_from_slice(source);
    }
    out
}

/// The interior of a zero-bordered image.
fn unpad_image(padded: &[f32], side: Side, channels: usize) -> Vec<f32> {
    let line = side.width + 2;
    let row = side.width * channels;
    let mut out = vec![0.0; side.pixels() * channels];
    for (y, target) in out.chunks_exact_mut(row).enumerate() {
        let start = ((y + 1) * line + 1) * channels;
        target.copy_from_slice(&padded[start..start + row]);
    }
    out
}

/// Rows of `channels` floats widened to `n_pad` with zeros.
fn pad_rows(x: &[f32], channels: usize, n_pad: usize) -> Vec<f32> {
    if channels == n_pad {
        return x.to_vec();
    }
    let mut out = vec![0.0; x.len() / channels * n_pad];
    for (target, source) in out.chunks_exact_mut(n_pad).zip(x.chunks_exact(channels)) {
        target[..channels].copy_from_slice(source);
    }
    out
}

/// `out[p][..channels] = c[row(p)][..channels] + bias` for every output pixel p.
fn copy_rows(
    c: &[f32],
    n_pad: usize,
    out: &mut [f32],
    channels: usize,
    bias: &[f32],
    row: impl Fn(usize) -> usize,
) {
    for (p, target) in out.chunks_exact_mut(channels).enumerate() {
        let start = row(p) * n_pad;
        for ((t, &v), &b) in target.iter_mut().zip(&c[start..start + channels]).zip(bias) {
            *t = v + b;
        }
    }
}

#[cfg(test)]
mod speed {
    use super::*;

    fn time(reps: usize, mut f: impl FnMut()) -> f64 {
        f();
        let start = std::time::Instant::now();
        for _ in 0..reps {
            f();
        }
        start.elapsed().as_secs_f64() / reps as f64
    }

    #[test]
    #[ignore = "a timing report, not a test"]
    fn layer_speeds() {
        let arch = Arch::new();
        for (cin, cout, side, stride) in [
            (16, 16, 28, 1),
            (48, 16, 28, 1),
            (32, 32, 28, 1),
            (16, 32, 14, 1),
            (96, 32, 14, 1),
            (64, 64, 14, 1),
            (64, 64, 7, 1),
            (128, 64, 7, 1),
            (16, 16, 28, 2),
        ] {
            let side = Side::square(side);
            let w: Vec<f32> = (0..cin * cout * 9).map(|i| (i % 7) as f32 * 0.1).collect();
            let conv = Conv::new(cin, cout, 3, stride, &w, vec![0.0; cout]);
            let x: Vec<f32> = (0..side.pixels() * cin).map(|i| (i % 5) as f32).collect();
            let y = conv.forward(arch, &x, side, None);
            let flops = 2.0 * (cin * cout * 9 * conv.output_side(side).pixels()) as f64;
            let forward = time(200, || {
                std::hint::black_box(conv.forward(arch, &x, side, None));
            });
            let mut grads = conv.zero_gradients();
            let weights = time(100, || {
                std::hint::black_box(conv.backward(arch, &x, side, &y, &mut grads, false));
            });
            let backward = time(100, || {
                std::hint::black_box(conv.backward(arch, &x, side, &y, &mut grads, true));
            });
            println!(
                "{cin:>4}->{cout:<4} {:>2}x{:<2} s{stride}: forward {:6.1}, weight grad {:6.1}, input grad {:6.1} GFLOP/s",
                side.height,
                side.width,
                flops / forward * 1e-9,
                flops / weights * 1e-9,
                flops / (backward - weights) * 1e-9
            );
        }
    }
}
