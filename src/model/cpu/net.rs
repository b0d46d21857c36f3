//! The whole U-Net on one image: forward (optionally keeping a tape) and backward.

use pulp::Arch;

use super::blocks::{
    Attention, AttentionGradients, AttentionTape, DropoutSource, ResBlock, ResBlockGradients,
    ResBlockTape, add_into, norm_silu, norm_silu_backward, zero_norm,
};
use super::conv::{Conv, ConvGradients, Side};
use super::elementwise::{GroupNorm, NormGradients, NormStats, silu, silu_backward};

/// One step of a path: a residual block (with optional attention) or a resampling convolution
/// (stride 2 on the way down; nearest ×2 then 3×3 on the way up).
#[derive(Clone, Debug)]
pub struct Stage {
    /// The residual block.
    pub block: Option<ResBlock>,
    /// Attention after the block.
    pub attention: Option<Attention>,
    /// The resampling convolution.
    pub resample: Option<Conv>,
    /// Side of the stage's input.
    pub side: Side,
    /// Whether the resampling doubles the side first (the way up).
    pub upsample: bool,
}

/// Gradients of a [`Stage`].
#[derive(Clone, Debug)]
pub struct StageGradients {
    /// Of the block.
    pub block: Option<ResBlockGradients>,
    /// Of the attention.
    pub attention: Option<AttentionGradients>,
    /// Of the resampling convolution.
    pub resample: Option<ConvGradients>,
}

struct StageTape {
    block: Option<ResBlockTape>,
    attention: Option<AttentionTape>,
    /// The resampling convolution's input.
    resample_input: Option<Vec<f32>>,
}

impl Stage {
    fn zero_gradients(&self) -> StageGradients {
        StageGradients {
            block: self.block.as_ref().map(ResBlock::zero_gradients),
            attention: self.attention.as_ref().map(Attention::zero_gradients),
            resample: self.resample.as_ref().map(Conv::zero_gradients),
        }
    }

    /// The side of the stage's output.
    pub fn output_side(&self) -> Side {
        match &self.resample {
            Some(_) if self.upsample => self.side.doubled(),
            Some(conv) => conv.output_side(self.side),
            None => self.side,
        }
    }

    fn forward(
        &self,
        arch: Arch,
        x: Vec<f32>,
        time: &[f32],
        dropout: Option<&mut DropoutSource>,
        keep: bool,
    ) -> (Vec<f32>, Option<StageTape>) {
        let mut h = x;
        let mut tape = StageTape {
            block: None,
            attention: None,
            resample_input: None,
        };
        if let Some(block) = &self.block {
            let (out, block_tape) = block.forward(arch, h, self.side, time, dropout, keep);
            (h, tape.block) = (out, block_tape);
        }
        if let Some(attention) = &self.attention {
            let (out, attention_tape) = attention.forward(arch, h, self.side, keep);
            (h, tape.attention) = (out, attention_tape);
        }
        if let Some(conv) = &self.resample {
            let (input, side) = if self.upsample {
                (upsample(&h, self.side, conv.cin), self.side.doubled())
            } else {
                (h, self.side)
            };
            h = conv.forward(arch, &input, side, None);
            if keep {
                tape.resample_input = Some(input);
            }
        }
        (h, keep.then_some(tape))
    }

    fn backward(
        &self,
        arch: Arch,
        tape: &StageTape,
        time: &[f32],
        dout: Vec<f32>,
        grads: &mut StageGradients,
        dtime: &mut [f32],
    ) -> Vec<f32> {
        let mut d = dout;
        if let (Some(conv), Some(conv_grads), Some(input)) =
            (&self.resample, &mut grads.resample, &tape.resample_input)
        {
            let side = if self.upsample {
                self.side.doubled()
            } else {
                self.side
            };
            d = conv
                .backward(arch, input, side, &d, conv_grads, true)
                .unwrap_or_default();
            if self.upsample {
                d = upsample_backward(&d, self.side, conv.cin);
            }
        }
        if let (Some(attention), Some(attention_grads), Some(attention_tape)) =
            (&self.attention, &mut grads.attention, &tape.attention)
        {
            d = attention.backward(arch, attention_tape, self.side, &d, attention_grads);
        }
        if let (Some(block), Some(block_grads), Some(block_tape)) =
            (&self.block, &mut grads.block, &tape.block)
        {
            d = block.backward(arch, block_tape, time, &d, block_grads, dtime);
        }
        d
    }
}

/// Nearest-neighbour ×2 upsampling of `[pixel][channels]`.
fn upsample(x: &[f32], side: Side, channels: usize) -> Vec<f32> {
    let out_width = 2 * side.width;
    let mut out = vec![0.0; 4 * x.len()];
    for (p, pixel) in x.chunks_exact(channels).enumerate() {
        let (y, x) = (p / side.width, p % side.width);
        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let q = (2 * y + dy) * out_width + 2 * x + dx;
            out[q * channels..(q + 1) * channels].copy_from_slice(pixel);
        }
    }
    out
}

/// The gradient of [`upsample`]: each input pixel sums its four copies.
fn upsample_backward(d: &[f32], side: Side, channels: usize) -> Vec<f32> {
    let out_width = 2 * side.width;
    let mut out = vec![0.0; d.len() / 4];
    for (p, pixel) in out.chunks_exact_mut(channels).enumerate() {
        let (y, x) = (p / side.width, p % side.width);
        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let q = (2 * y + dy) * out_width + 2 * x + dx;
            add_into(pixel, &d[q * channels..(q + 1) * channels]);
        }
    }
    out
}

/// `[a | b]` per pixel.
fn concat(a: &[f32], a_channels: usize, b: &[f32], b_channels: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    for (a, b) in a.chunks_exact(a_channels).zip(b.chunks_exact(b_channels)) {
        out.extend_from_slice(a);
        out.extend_from_slice(b);
    }
    out
}

/// Splits `[a | b]` per pixel.
fn split(x: &[f32], a_channels: usize, b_channels: usize) -> (Vec<f32>, Vec<f32>) {
    let mut a = Vec::with_capacity(x.len() / (a_channels + b_channels) * a_channels);
    let mut b = Vec::with_capacity(x.len() - a.capacity());
    for pixel in x.chunks_exact(a_channels + b_channels) {
        a.extend_from_slice(&pixel[..a_channels]);
        b.extend_from_slice(&pixel[a_channels..]);
    }
    (a, b)
}

/// The network with its weights packed for the CPU kernels.
#[derive(Clone, Debug)]
pub struct Net {
    /// Width of the sinusoidal embedding.
    pub base_channels: usize,
    /// Image channels.
    pub image_channels: usize,
    /// Image side.
    pub side: Side,
    /// One row of time channels per class and a last one for "no class"; empty when the
    /// network is unconditional.
    pub class_embedding: Vec<f32>,
    /// Embedding → time channels.
    pub time_in: Conv,
    /// Time channels → time channels.
    pub time_out: Conv,
    /// Image → base channels.
    pub conv_in: Conv,
    /// The way down.
    pub down: Vec<Stage>,
    /// The middle.
    pub middle: Vec<Stage>,
    /// The way up.
    pub up: Vec<Stage>,
    /// The last normalisation.
    pub norm_out: GroupNorm,
    /// Base channels → image.
    pub conv_out: Conv,
}

/// Gradients of a [`Net`].
#[derive(Clone, Debug)]
pub struct NetGradients {
    /// Of `class_embedding`.
    pub class_embedding: Vec<f32>,
    /// Of `time_in`.
    pub time_in: ConvGradients,
    /// Of `time_out`.
    pub time_out: ConvGradients,
    /// Of `conv_in`.
    pub conv_in: ConvGradients,
    /// Of the way down.
    pub down: Vec<StageGradients>,
    /// Of the middle.
    pub middle: Vec<StageGradients>,
    /// Of the way up.
    pub up: Vec<StageGradients>,
    /// Of `norm_out`.
    pub norm_out: NormGradients,
    /// Of `conv_out`.
    pub conv_out: ConvGradients,
}

impl NetGradients {
    /// Calls `f` on every gradient buffer of `self` with the same buffer of `other`.
    pub fn zip_buffers(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        f(&mut self.class_embedding, &other.class_embedding);
        zip_conv(&mut self.time_in, &other.time_in, f);
        zip_conv(&mut self.time_out, &other.time_out, f);
        zip_conv(&mut self.conv_in, &other.conv_in, f);
        for (a, b) in self
            .down
            .iter_mut()
            .chain(&mut self.middle)
            .chain(&mut self.up)
            .zip(other.down.iter().chain(&other.middle).chain(&other.up))
        {
            zip_stage(a, b, f);
        }
        zip_norm(&mut self.norm_out, &other.norm_out, f);
        zip_conv(&mut self.conv_out, &other.conv_out, f);
    }
}

fn zip_conv(a: &mut ConvGradients, b: &ConvGradients, f: &mut impl FnMut(&mut [f32], &[f32])) {
    f(&mut a.weight, &b.weight);
    f(&mut a.bias, &b.bias);
}

fn zip_norm(a: &mut NormGradients, b: &NormGradients, f: &mut impl FnMut(&mut [f32], &[f32])) {
    f(&mut a.gamma, &b.gamma);
    f(&mut a.beta, &b.beta);
}

fn zip_stage(a: &mut StageGradients, b: &StageGradients, f: &mut impl FnMut(&mut [f32], &[f32])) {
    if let (Some(a), Some(b)) = (&mut a.block, &b.block) {
        zip_norm(&mut a.norm1, &b.norm1, f);
        zip_conv(&mut a.conv1, &b.conv1, f);
        zip_conv(&mut a.time_proj, &b.time_proj, f);
        zip_norm(&mut a.norm2, &b.norm2, f);
        zip_conv(&mut a.conv2, &b.conv2, f);
        if let (Some(a), Some(b)) = (&mut a.skip, &b.skip) {
            zip_conv(a, b, f);
        }
    }
    if let (Some(a), Some(b)) = (&mut a.attention, &b.attention) {
        zip_norm(&mut a.norm, &b.norm, f);
        zip_conv(&mut a.qkv, &b.qkv, f);
        zip_conv(&mut a.proj, &b.proj, f);
    }
    if let (Some(a), Some(b)) = (&mut a.resample, &b.resample) {
        zip_conv(a, b, f);
    }
}

/// What the backward pass needs of one image's forward pass.
pub struct NetTape {
    x: Vec<f32>,
    class_row: Option<usize>,
    embedding: Vec<f32>,
    time_hidden: Vec<f32>,
    time_hidden_silu: Vec<f32>,
    time: Vec<f32>,
    time_silu: Vec<f32>,
    down: Vec<StageTape>,
    middle: Vec<StageTape>,
    up: Vec<StageTape>,
    /// Channels of the up path's running tensor and of the skip it is joined with, per block.
    joins: Vec<Option<(usize, usize)>>,
    skip_channels: Vec<usize>,
    last: Vec<f32>,
    stats_out: NormStats,
    a_out: Vec<f32>,
    u_out: Vec<f32>,
}

impl Net {
    /// Zeroed gradients.
    pub fn zero_gradients(&self) -> NetGradients {
        NetGradients {
            class_embedding: vec![0.0; self.class_embedding.len()],
            time_in: self.time_in.zero_gradients(),
            time_out: self.time_out.zero_gradients(),
            conv_in: self.conv_in.zero_gradients(),
            down: self.down.iter().map(Stage::zero_gradients).collect(),
            middle: self.middle.iter().map(Stage::zero_gradients).collect(),
            up: self.up.iter().map(Stage::zero_gradients).collect(),
            norm_out: zero_norm(&self.norm_out),
            conv_out: self.conv_out.zero_gradients(),
        }
    }

    /// The output for one image `x` (`[pixel][channel]`) with the noise-level `embedding` and,
    /// for a class-conditioned network, the class embedding's row `class_row`; with `dropout`,
    /// in training mode; with `keep`, also the tape for [`Self::backward`].
    pub fn forward(
        &self,
        arch: Arch,
        x: &[f32],
        (embedding, class_row): (Vec<f32>, Option<usize>),
        mut dropout: Option<&mut DropoutSource>,
        keep: bool,
    ) -> (Vec<f32>, Option<NetTape>) {
        let one = Side::square(1);
        let time_hidden = self.time_in.forward(arch, &embedding, one, None);
        let mut time_hidden_silu = vec![0.0; time_hidden.len()];
        silu(arch, &time_hidden, &mut time_hidden_silu);
        let mut time = self.time_out.forward(arch, &time_hidden_silu, one, None);
        let class_row = class_row.filter(|_| !self.class_embedding.is_empty());
        if let Some(row) = class_row {
            let width = time.len();
            add_into(
                &mut time,
                &self.class_embedding[row * width..(row + 1) * width],
            );
        }
        let mut time_silu = vec![0.0; time.len()];
        silu(arch, &time, &mut time_silu);

        let mut h = self.conv_in.forward(arch, x, self.side, None);
        let mut skips = vec![h.clone()];
        let mut skip_channels = vec![self.conv_in.cout];
        let mut channels = self.conv_in.cout;
        let mut down = Vec::new();
        for stage in &self.down {
            let (out, tape) = stage.forward(arch, h, &time_silu, dropout.as_deref_mut(), keep);
            h = out;
            channels = stage_channels(stage, channels);
            skips.push(h.clone());
            skip_channels.push(channels);
            down.extend(tape);
        }
        let mut middle = Vec::new();
        for stage in &self.middle {
            let (out, tape) = stage.forward(arch, h, &time_silu, dropout.as_deref_mut(), keep);
            h = out;
            channels = stage_channels(stage, channels);
            middle.extend(tape);
        }
        let mut up = Vec::new();
        let mut joins = Vec::new();
        let mut skip_index = skips.len();
        for stage in &self.up {
            if stage.block.is_some() {
                skip_index -= 1;
                let skip_c = skip_channels[skip_index];
                h = concat(&h, channels, &skips[skip_index], skip_c);
                joins.push(Some((channels, skip_c)));
                channels += skip_c;
            } else {
                joins.push(None);
            }
            let (out, tape) = stage.forward(arch, h, &time_silu, dropout.as_deref_mut(), keep);
            h = out;
            channels = stage_channels(stage, channels);
            up.extend(tape);
        }
        let (stats_out, a_out, u_out) = norm_silu(arch, &self.norm_out, &h);
        let out = self.conv_out.forward(arch, &u_out, self.side, None);
        let tape = keep.then(|| NetTape {
            x: x.to_vec(),
            class_row,
            embedding,
            time_hidden,
            time_hidden_silu,
            time,
            time_silu,
            down,
            middle,
            up,
            joins,
            skip_channels,
            last: h,
            stats_out,
            a_out,
            u_out,
        });
        (out, tape)
    }

    /// Adds the gradients of the parameters for output gradient `dout` to `grads`.
    pub fn backward(&self, arch: Arch, tape: &NetTape, dout: &[f32], grads: &mut NetGradients) {
        let du = self
            .conv_out
            .backward(
                arch,
                &tape.u_out,
                self.side,
                dout,
                &mut grads.conv_out,
                true,
            )
            .unwrap_or_default();
        let mut d = norm_silu_backward(
            arch,
            &self.norm_out,
            &tape.last,
            &tape.stats_out,
            &tape.a_out,
            du,
            &mut grads.norm_out,
        );
        let mut dtime = vec![0.0; tape.time.len()];
        let mut dskips: Vec<Option<Vec<f32>>> = vec![None; tape.skip_channels.len()];
        let mut skip_index = dskips.len() - self.up.iter().filter(|s| s.block.is_some()).count();
        for (((stage, stage_tape), stage_grads), join) in self
            .up
            .iter()
            .zip(&tape.up)
            .zip(&mut grads.up)
            .zip(&tape.joins)
            .rev()
        {
            d = stage.backward(
                arch,
                stage_tape,
                &tape.time_silu,
                d,
                stage_grads,
                &mut dtime,
            );
            if let Some((channels, skip_c)) = *join {
                let (dh, dskip) = split(&d, channels, skip_c);
                dskips[skip_index] = Some(dskip);
                skip_index += 1;
                d = dh;
            }
        }
        for ((stage, stage_tape), stage_grads) in self
            .middle
            .iter()
            .zip(&tape.middle)
            .zip(&mut grads.middle)
            .rev()
        {
            d = stage.backward(
                arch,
                stage_tape,
                &tape.time_silu,
                d,
                stage_grads,
                &mut dtime,
            );
        }
        for (i, ((stage, stage_tape), stage_grads)) in self
            .down
            .iter()
            .zip(&tape.down)
            .zip(&mut grads.down)
            .enumerate()
            .rev()
        {
            if let Some(dskip) = &dskips[i + 1] {
                add_into(&mut d, dskip);
            }
            d = stage.backward(
                arch,
                stage_tape,
                &tape.time_silu,
                d,
                stage_grads,
                &mut dtime,
            );
        }
        if let Some(dskip) = &dskips[0] {
            add_into(&mut d, dskip);
        }
        self.conv_in
            .backward(arch, &tape.x, self.side, &d, &mut grads.conv_in, false);
        let one = Side::square(1);
        silu_backward(arch, &tape.time, &mut dtime);
        if let Some(row) = tape.class_row {
            let width = dtime.len();
            add_into(
                &mut grads.class_embedding[row * width..(row + 1) * width],
                &dtime,
            );
        }
        let mut dhidden = self
            .time_out
            .backward(
                arch,
                &tape.time_hidden_silu,
                one,
                &dtime,
                &mut grads.time_out,
                true,
            )
            .unwrap_or_default();
        silu_backward(arch, &tape.time_hidden, &mut dhidden);
        self.time_in.backward(
            arch,
            &tape.embedding,
            one,
            &dhidden,
            &mut grads.time_in,
            false,
        );
    }
}

/// Channels after `stage`, given `channels` before it.
fn stage_channels(stage: &Stage, channels: usize) -> usize {
    match (&stage.resample, &stage.block) {
        (Some(conv), _) => conv.cout,
        (None, Some(block)) => block.conv2.cout,
        (None, None) => channels,
    }
}
