//! The ε-prediction U-Net of Ho et al. (2020), sized for 28×28 grayscale images.
//!
//! Layout: sinusoidal embedding of t → MLP; a 3×3 input convolution; per resolution level
//! `blocks_per_level` residual blocks (GroupNorm, SiLU, the time embedding added between the two
//! convolutions, dropout) and self-attention where the resolution is listed; strided-convolution
//! downsampling; a middle residual–attention–residual stack; the mirrored upsampling path that
//! concatenates the skip connections; GroupNorm, SiLU and a 3×3 output convolution.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    Dropout, DropoutConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Device, Tensor, TensorData};

/// The architecture of a [`UNet`]; stored in every weights file.
#[derive(Config, Debug, PartialEq)]
pub struct UNetConfig {
    /// Image channels (1 for Fashion-MNIST).
    #[config(default = 1)]
    pub image_channels: usize,
    /// Image side in pixels; must be divisible by 2^(levels − 1).
    #[config(default = 28)]
    pub image_side: usize,
    /// Channels of the first level.
    #[config(default = 32)]
    pub base_channels: usize,
    /// Channel multiplier of each resolution level (the first level is full resolution).
    #[config(default = "vec![1, 2, 2]")]
    pub channel_multipliers: Vec<usize>,
    /// Residual blocks per level on the way down (the way up has one more).
    #[config(default = 1)]
    pub blocks_per_level: usize,
    /// Resolutions (image sides in pixels) that get self-attention.
    #[config(default = "vec![7]")]
    pub attention_resolutions: Vec<usize>,
    /// Dropout probability inside residual blocks during training.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// GroupNorm groups; every channel count must be divisible by it.
    #[config(default = 8)]
    pub norm_groups: usize,
    /// Classes it is conditioned on (0: unconditional). A conditioned network has one learned
    /// embedding per class and one for "no class", added to the time embedding.
    #[config(default = 0)]
    pub classes: usize,
    /// What the noise-level embedding encodes: the step t, or the log-SNR λ (so that the network
    /// can run under another schedule whose λ stay in its trained range).
    #[config(default = "NoiseInput::Step")]
    pub noise_input: NoiseInput,
}

/// What a U-Net's noise-level embedding encodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NoiseInput {
    /// The 1-based step t of the schedule it was trained with.
    #[default]
    Step,
    /// The log-SNR λ_t, mapped linearly so that λ from [`LOG_SNR_TOP`] down to [`LOG_SNR_BOTTOM`]
    /// spans positions 0 to 1000, the range of the step embedding.
    LogSnr,
}

/// The log-SNR at position 0 of a [`NoiseInput::LogSnr`] embedding (above every λ_1 of the
/// shipped schedules: linear 9.2, cosine 10.1).
pub const LOG_SNR_TOP: f64 = 12.0;
/// The log-SNR at position 1000 (below the cosine schedule's λ_T of −19.8).
pub const LOG_SNR_BOTTOM: f64 = -20.0;

impl NoiseInput {
    /// The embedding position of step `t` whose log-SNR is `log_snr`.
    pub fn position(self, t: usize, log_snr: f64) -> f64 {
        match self {
            Self::Step => t as f64,
            Self::LogSnr => 1000.0 * (LOG_SNR_TOP - log_snr) / (LOG_SNR_TOP - LOG_SNR_BOTTOM),
        }
    }
}

impl UNetConfig {
    /// Checks that the configuration describes a buildable network.
    pub fn validate(&self) -> Result<(), String> {
        let levels = self.channel_multipliers.len();
        if levels == 0 || self.channel_multipliers.contains(&0) {
            return Err("channel multipliers must be a non-empty list of positive numbers".into());
        }
        if self.base_channels == 0 || self.norm_groups == 0 || self.image_channels == 0 {
            return Err("base channels, norm groups and image channels must be positive".into());
        }
        let factor = 1usize << (levels - 1);
        if self.image_side == 0 || !self.image_side.is_multiple_of(factor) {
            return Err(format!(
                "image side {} is not divisible by 2^{} for {levels} levels",
                self.image_side,
                levels - 1
            ));
        }
        if let Some(m) = self
            .channel_multipliers
            .iter()
            .find(|m| !(*m * self.base_channels).is_multiple_of(self.norm_groups))
        {
            return Err(format!(
                "{} channels are not divisible into {} norm groups",
                m * self.base_channels,
                self.norm_groups
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout {} is outside [0, 1)", self.dropout));
        }
        Ok(())
    }

    /// Width of the time embedding MLP.
    pub fn time_channels(&self) -> usize {
        4 * self.base_channels
    }

    /// Builds the network with freshly initialised weights. Call [`Self::validate`] first.
    pub fn init(&self, device: &Device) -> UNet {
        let base = self.base_channels;
        let time = self.time_channels();
        let block = |cin, cout| ResBlockConfig {
            cin,
            cout,
            time,
            groups: self.norm_groups,
            dropout: self.dropout,
        };
        let mut down = Vec::new();
        let mut skips = vec![base];
        let (mut ch, mut side) = (base, self.image_side);
        for (level, mult) in self.channel_multipliers.iter().enumerate() {
            let out = mult * base;
            for _ in 0..self.blocks_per_level {
                down.push(Stage::block(block(ch, out), self.attends(side), device));
                ch = out;
                skips.push(ch);
            }
            if level + 1 < self.channel_multipliers.len() {
                down.push(Stage::resample(conv(ch, ch, 3, 2, device)));
                side /= 2;
                skips.push(ch);
            }
        }
        let middle = vec![
            Stage::block(block(ch, ch), true, device),
            Stage::block(block(ch, ch), false, device),
        ];
        let mut up = Vec::new();
        for (level, mult) in self.channel_multipliers.iter().enumerate().rev() {
            let out = mult * base;
            for _ in 0..=self.blocks_per_level {
                let skip = skips.pop().unwrap_or(0);
                up.push(Stage::block(
                    block(ch + skip, out),
                    self.attends(side),
                    device,
                ));
                ch = out;
            }
            if level > 0 {
                up.push(Stage::resample(conv(ch, ch, 3, 1, device)));
                side *= 2;
            }
        }
        let class_embedding = (self.classes > 0).then(|| {
            // Small at the start, like the other layers' contributions.
            let init = Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            };
            init.init([self.classes + 1, time], device)
        });
        UNet {
            class_embedding,
            classes: self.classes,
            log_snr_input: self.noise_input == NoiseInput::LogSnr,
            time_in: LinearConfig::new(base, time).init(device),
            time_out: LinearConfig::new(time, time).init(device),
            conv_in: conv(self.image_channels, base, 3, 1, device),
            down,
            middle,
            up,
            norm_out: GroupNormConfig::new(self.norm_groups, ch).init(device),
            conv_out: conv(ch, self.image_channels, 3, 1, device),
            base_channels: base,
        }
    }

    fn attends(&self, side: usize) -> bool {
        self.attention_resolutions.contains(&side)
    }

    /// Multiply–add operations ×2 (FLOPs) of one evaluation on one image, counting convolutions,
    /// linear layers and attention products (normalisations and activations are ignored).
    pub fn flops_per_image(&self) -> u64 {
        let base = self.base_channels;
        let time = self.time_channels() as u64;
        let mut flops = 2 * (base as u64 * time + time * time);
        let conv_flops = |cin: usize, cout: usize, k: usize, side: usize| {
            2 * (cin * cout * k * k * side * side) as u64
        };
        let block_flops = |cin: usize, cout: usize, side: usize, attend: bool| {
            let mut f = conv_flops(cin, cout, 3, side) + conv_flops(cout, cout, 3, side);
            f += 2 * (time * cout as u64);
            if cin != cout {
                f += conv_flops(cin, cout, 1, side);
            }
            if attend {
                let n = (side * side) as u64;
                let c = cout as u64;
                f += 2 * n * c * 4 * c + 2 * 2 * n * n * c;
            }
            f
        };
        let mut side = self.image_side;
        flops += conv_flops(self.image_channels, base, 3, side);
        let mut skips = vec![base];
        let mut ch = base;
        let levels = self.channel_multipliers.len();
        for (level, mult) in self.channel_multipliers.iter().enumerate() {
            for _ in 0..self.blocks_per_level {
                flops += block_flops(ch, mult * base, side, self.attends(side));
                ch = mult * base;
                skips.push(ch);
            }
            if level + 1 < levels {
                side /= 2;
                flops += conv_flops(ch, ch, 3, side);
                skips.push(ch);
            }
        }
        flops += block_flops(ch, ch, side, true) + block_flops(ch, ch, side, false);
        for (level, mult) in self.channel_multipliers.iter().enumerate().rev() {
            for _ in 0..=self.blocks_per_level {
                let skip = skips.pop().unwrap_or(0);
                flops += block_flops(ch + skip, mult * base, side, self.attends(side));
                ch = mult * base;
            }
            if level > 0 {
                side *= 2;
                flops += conv_flops(ch, ch, 3, side);
            }
        }
        flops + conv_flops(ch, self.image_channels, 3, side)
    }
}

fn conv(cin: usize, cout: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            kernel / 2,
            kernel / 2,
            kernel / 2,
            kernel / 2,
        ))
        .init(device)
}

#[derive(Clone, Copy)]
struct ResBlockConfig {
    cin: usize,
    cout: usize,
    time: usize,
    groups: usize,
    dropout: f64,
}

/// One step of a U-Net path: a residual block (with optional attention) or a resampling
/// convolution (stride 2 on the way down; nearest ×2 then 3×3 on the way up).
#[derive(Module, Debug)]
pub struct Stage {
    pub(super) block: Option<ResBlock>,
    pub(super) attention: Option<SelfAttention>,
    pub(super) resample: Option<Conv2d>,
}

impl Stage {
    fn block(config: ResBlockConfig, attend: bool, device: &Device) -> Self {
        let attention = attend.then(|| SelfAttention::new(config.cout, config.groups, device));
        Self {
            block: Some(ResBlock::new(&config, device)),
            attention,
            resample: None,
        }
    }

    fn resample(conv: Conv2d) -> Self {
        Self {
            block: None,
            attention: None,
            resample: Some(conv),
        }
    }

    fn is_block(&self) -> bool {
        self.block.is_some()
    }

    fn forward(&self, x: Tensor<4>, time: &Tensor<2>, upsample: bool) -> Tensor<4> {
        let mut x = x;
        if let Some(block) = &self.block {
            x = block.forward(x, time);
        }
        if let Some(attention) = &self.attention {
            x = attention.forward(x);
        }
        if let Some(conv) = &self.resample {
            x = conv.forward(if upsample { upsample_nearest(x) } else { x });
        }
        x
    }
}

/// A residual block: GN → SiLU → conv → + time → GN → SiLU → dropout → conv, plus the skip.
#[derive(Module, Debug)]
pub struct ResBlock {
    pub(super) norm1: GroupNorm,
    pub(super) conv1: Conv2d,
    pub(super) time_proj: Linear,
    pub(super) norm2: GroupNorm,
    pub(super) dropout: Dropout,
    pub(super) conv2: Conv2d,
    pub(super) skip: Option<Conv2d>,
}

impl ResBlock {
    fn new(c: &ResBlockConfig, device: &Device) -> Self {
        Self {
            norm1: GroupNormConfig::new(c.groups, c.cin).init(device),
            conv1: conv(c.cin, c.cout, 3, 1, device),
            time_proj: LinearConfig::new(c.time, c.cout).init(device),
            norm2: GroupNormConfig::new(c.groups, c.cout).init(device),
            dropout: DropoutConfig::new(c.dropout).init(),
            conv2: conv(c.cout, c.cout, 3, 1, device),
            skip: (c.cin != c.cout).then(|| conv(c.cin, c.cout, 1, 1, device)),
        }
    }

    fn forward(&self, x: Tensor<4>, time: &Tensor<2>) -> Tensor<4> {
        let h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        let [b, c, _, _] = h.dims();
        let t = self
            .time_proj
            .forward(silu(time.clone()))
            .reshape([b, c, 1, 1]);
        let h = silu(self.norm2.forward(h + t));
        let h = self.conv2.forward(self.dropout.forward(h));
        let skip = match &self.skip {
            Some(conv) => conv.forward(x),
            None => x,
        };
        skip + h
    }
}

/// Single-head self-attention over the pixels of a feature map, with a residual connection.
#[derive(Module, Debug)]
pub struct SelfAttention {
    pub(super) norm: GroupNorm,
    pub(super) qkv: Linear,
    pub(super) proj: Linear,
}

impl SelfAttention {
    fn new(channels: usize, groups: usize, device: &Device) -> Self {
        Self {
            norm: GroupNormConfig::new(groups, channels).init(device),
            qkv: LinearConfig::new(channels, 3 * channels).init(device),
            proj: LinearConfig::new(channels, channels).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let tokens = self
            .norm
            .forward(x.clone())
            .reshape([b, c, h * w])
            .swap_dims(1, 2);
        let qkv = self.qkv.forward(tokens);
        let q = qkv.clone().narrow(2, 0, c);
        let k = qkv.clone().narrow(2, c, c);
        let v = qkv.narrow(2, 2 * c, c);
        let scores = q.matmul(k.swap_dims(1, 2)) / (c as f64).sqrt();
        let attended = softmax(scores, 2).matmul(v);
        let out = self
            .proj
            .forward(attended)
            .swap_dims(1, 2)
            .reshape([b, c, h, w]);
        x + out
    }
}

fn upsample_nearest(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .repeat_dim(3, 2)
        .repeat_dim(5, 2)
        .reshape([b, c, 2 * h, 2 * w])
}

/// The denoiser ε_θ(x_t, t), optionally conditioned on a class.
#[derive(Module, Debug)]
pub struct UNet {
    pub(super) class_embedding: Option<Param<Tensor<2>>>,
    pub(super) classes: usize,
    pub(super) log_snr_input: bool,
    pub(super) time_in: Linear,
    pub(super) time_out: Linear,
    pub(super) conv_in: Conv2d,
    pub(super) down: Vec<Stage>,
    pub(super) middle: Vec<Stage>,
    pub(super) up: Vec<Stage>,
    pub(super) norm_out: GroupNorm,
    pub(super) conv_out: Conv2d,
    pub(super) base_channels: usize,
}

impl UNet {
    /// Predicts ε for images `x` `[B, C, H, W]` at 1-based steps `t` (one per image), without
    /// a class.
    pub fn forward(&self, x: Tensor<4>, t: &[usize]) -> Tensor<4> {
        let positions = step_positions(t);
        self.forward_conditioned(x, &positions, &vec![None; t.len()])
    }

    /// Classes it is conditioned on (0: unconditional).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// What its noise-level embedding encodes.
    pub fn noise_input(&self) -> NoiseInput {
        if self.log_snr_input {
            NoiseInput::LogSnr
        } else {
            NoiseInput::Step
        }
    }

    /// Predicts ε for images `x` at noise-level `positions` (what the sinusoidal embedding
    /// encodes: the step t, or a position computed from the log-SNR) and `classes` (one per
    /// image; `None` or an unconditional network: no class).
    pub fn forward_conditioned(
        &self,
        x: Tensor<4>,
        positions: &[f64],
        classes: &[Option<usize>],
    ) -> Tensor<4> {
        let device = x.device();
        let values = noise_embedding_values(positions, self.base_channels);
        let embedding = Tensor::from_data(
            TensorData::new(values, [positions.len(), self.base_channels]),
            &device,
        );
        let mut time = self.time_out.forward(silu(self.time_in.forward(embedding)));
        if let Some(table) = &self.class_embedding {
            let rows: Vec<i64> = classes
                .iter()
                .map(|c| c.filter(|&c| c < self.classes).unwrap_or(self.classes) as i64)
                .collect();
            let index = Tensor::<1, burn::tensor::Int>::from_data(
                TensorData::new(rows, [classes.len()]),
                &device,
            );
            time = time + table.val().select(0, index);
        }
        let mut h = self.conv_in.forward(x);
        let mut skips = vec![h.clone()];
        for stage in &self.down {
            h = stage.forward(h, &time, false);
            skips.push(h.clone());
        }
        for stage in &self.middle {
            h = stage.forward(h, &time, false);
        }
        for stage in &self.up {
            if stage.is_block() {
                let skip = skips.pop().unwrap_or_else(|| h.clone());
                h = Tensor::cat(vec![h, skip], 1);
            }
            h = stage.forward(h, &time, true);
        }
        self.conv_out.forward(silu(self.norm_out.forward(h)))
    }
}

/// The embedding positions of steps `t` (a step-conditioned network's positions).
pub fn step_positions(t: &[usize]) -> Vec<f64> {
    t.iter().map(|&t| t as f64).collect()
}

/// The sinusoidal embedding of Ho et al. / Vaswani et al. of real positions p (a step t, or a
/// position from the log-SNR): `[sin(p·f_k), cos(p·f_k)]` with `f_k = 10000^(−k/(half−1))`,
/// `[positions.len()][dim]`, computed on the host in f64 so every device sees the same numbers.
pub fn noise_embedding_values(positions: &[f64], dim: usize) -> Vec<f32> {
    let half = dim / 2;
    let scale = (10000f64).ln() / (half.max(2) - 1) as f64;
    let mut values = Vec::with_capacity(positions.len() * dim);
    for &position in positions {
        let row: Vec<f64> = (0..half)
            .map(|k| position * (-(k as f64) * scale).exp())
            .collect();
        values.extend(row.iter().map(|a| a.sin() as f32));
        values.extend(row.iter().map(|a| a.cos() as f32));
        values.extend(std::iter::repeat_n(0.0, dim - 2 * half));
    }
    values
}
