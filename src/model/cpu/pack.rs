//! Between burn's [`UNet`] module and the CPU kernels' [`Net`]: packing the weights, and handing
//! the gradients back as burn tensors keyed by parameter id.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm as BurnGroupNorm, Linear};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use super::blocks::{Attention, AttentionGradients, ResBlock, ResBlockGradients};
use super::conv::{Conv, ConvGradients, Side};
use super::elementwise::{GroupNorm, NormGradients};
use super::kernel::padded;
use super::net::{Net, NetGradients, Stage, StageGradients};
use crate::model::unet::{ResBlock as BurnResBlock, SelfAttention, Stage as BurnStage};
use crate::model::{UNet, UNetConfig};

fn values<const D: usize>(param: &Param<Tensor<D>>) -> Vec<f32> {
    param
        .val()
        .inner()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_else(|error| unreachable!("converted to f32: {error:?}"))
}

fn bias_or_zero(bias: Option<&Param<Tensor<1>>>, channels: usize) -> Vec<f32> {
    bias.map_or_else(|| vec![0.0; channels], values)
}

fn pack_conv(conv: &Conv2d) -> Conv {
    let [cout, cin, kernel, _] = conv.weight.dims();
    Conv::new(
        cin,
        cout,
        kernel,
        conv.stride[0],
        &values(&conv.weight),
        bias_or_zero(conv.bias.as_ref(), cout),
    )
}

fn pack_linear(linear: &Linear) -> Conv {
    let [cin, cout] = linear.weight.dims();
    Conv::dense(
        cin,
        cout,
        &values(&linear.weight),
        bias_or_zero(linear.bias.as_ref(), cout),
    )
}

fn pack_norm(norm: &BurnGroupNorm) -> GroupNorm {
    let c = norm.num_channels;
    GroupNorm {
        channels: c,
        groups: norm.num_groups,
        gamma: norm.gamma.as_ref().map_or_else(|| vec![1.0; c], values),
        beta: norm.beta.as_ref().map_or_else(|| vec![0.0; c], values),
        #[allow(clippy::cast_possible_truncation)]
        epsilon: norm.epsilon as f32,
    }
}

fn pack_block(block: &BurnResBlock) -> ResBlock {
    #[allow(clippy::cast_possible_truncation)]
    ResBlock {
        norm1: pack_norm(&block.norm1),
        conv1: pack_conv(&block.conv1),
        time_proj: pack_linear(&block.time_proj),
        norm2: pack_norm(&block.norm2),
        conv2: pack_conv(&block.conv2),
        skip: block.skip.as_ref().map(pack_conv),
        dropout: block.dropout.prob as f32,
    }
}

fn pack_attention(attention: &SelfAttention) -> Attention {
    Attention {
        norm: pack_norm(&attention.norm),
        qkv: pack_linear(&attention.qkv),
        proj: pack_linear(&attention.proj),
    }
}

/// Packs the stages of one path, starting at `side`; returns the side after them.
fn pack_stages(stages: &[BurnStage], mut side: Side, upsample: bool) -> (Vec<Stage>, Side) {
    let packed = stages
        .iter()
        .map(|stage| {
            let packed = Stage {
                block: stage.block.as_ref().map(pack_block),
                attention: stage.attention.as_ref().map(pack_attention),
                resample: stage.resample.as_ref().map(pack_conv),
                side,
                upsample,
            };
            side = packed.output_side();
            packed
        })
        .collect();
    (packed, side)
}

/// The network of `unet` (architecture `config`) for the CPU kernels.
pub fn pack(unet: &UNet, config: &UNetConfig) -> Net {
    let side = Side::square(config.image_side);
    let (down, bottom) = pack_stages(&unet.down, side, false);
    let (middle, bottom) = pack_stages(&unet.middle, bottom, false);
    let (up, _) = pack_stages(&unet.up, bottom, true);
    Net {
        base_channels: unet.base_channels,
        image_channels: config.image_channels,
        side,
        class_embedding: unet
            .class_embedding
            .as_ref()
            .map(values)
            .unwrap_or_default(),
        time_in: pack_linear(&unet.time_in),
        time_out: pack_linear(&unet.time_out),
        conv_in: pack_conv(&unet.conv_in),
        down,
        middle,
        up,
        norm_out: pack_norm(&unet.norm_out),
        conv_out: pack_conv(&unet.conv_out),
    }
}

/// Collects gradients as burn tensors on `device`, keyed by the parameter ids of `unet`.
struct Collector<'a> {
    device: &'a Device,
    grads: GradientsParams,
}

impl Collector<'_> {
    fn add<const D: usize>(&mut self, param: &Param<Tensor<D>>, values: Vec<f32>) {
        let tensor = Tensor::<D>::from_data(TensorData::new(values, param.shape()), self.device);
        self.grads.register(param.id, tensor);
    }

    /// A convolution's weights from `[tap][cin][padded(cout)]` to `[cout][cin][ky][kx]`.
    fn conv(&mut self, conv: &Conv2d, grads: &ConvGradients) {
        let [cout, cin, kh, kw] = conv.weight.dims();
        let (taps, n_pad) = (kh * kw, padded(cout));
        let mut weight = vec![0.0; cout * cin * taps];
        for o in 0..cout {
            for i in 0..cin {
                for tap in 0..taps {
                    weight[(o * cin + i) * taps + tap] = grads.weight[(tap * cin + i) * n_pad + o];
                }
            }
        }
        self.add(&conv.weight, weight);
        if let Some(bias) = &conv.bias {
            self.add(bias, grads.bias.clone());
        }
    }

    /// A dense layer's weights from `[cin][padded(cout)]` to `[cin][cout]`.
    fn linear(&mut self, linear: &Linear, grads: &ConvGradients) {
        let [cin, cout] = linear.weight.dims();
        let n_pad = padded(cout);
        let weight = (0..cin)
            .flat_map(|i| grads.weight[i * n_pad..i * n_pad + cout].iter().copied())
            .collect();
        self.add(&linear.weight, weight);
        if let Some(bias) = &linear.bias {
            self.add(bias, grads.bias.clone());
        }
    }

    fn norm(&mut self, norm: &BurnGroupNorm, grads: &NormGradients) {
        if let Some(gamma) = &norm.gamma {
            self.add(gamma, grads.gamma.clone());
        }
        if let Some(beta) = &norm.beta {
            self.add(beta, grads.beta.clone());
        }
    }

    fn block(&mut self, block: &BurnResBlock, grads: &ResBlockGradients) {
        self.norm(&block.norm1, &grads.norm1);
        self.conv(&block.conv1, &grads.conv1);
        self.linear(&block.time_proj, &grads.time_proj);
        self.norm(&block.norm2, &grads.norm2);
        self.conv(&block.conv2, &grads.conv2);
        if let (Some(skip), Some(skip_grads)) = (&block.skip, &grads.skip) {
            self.conv(skip, skip_grads);
        }
    }

    fn attention(&mut self, attention: &SelfAttention, grads: &AttentionGradients) {
        self.norm(&attention.norm, &grads.norm);
        self.linear(&attention.qkv, &grads.qkv);
        self.linear(&attention.proj, &grads.proj);
    }

    fn stages(&mut self, stages: &[BurnStage], grads: &[StageGradients]) {
        for (stage, grads) in stages.iter().zip(grads) {
            if let (Some(block), Some(g)) = (&stage.block, &grads.block) {
                self.block(block, g);
            }
            if let (Some(attention), Some(g)) = (&stage.attention, &grads.attention) {
                self.attention(attention, g);
            }
            if let (Some(conv), Some(g)) = (&stage.resample, &grads.resample) {
                self.conv(conv, g);
            }
        }
    }
}

/// The gradients `grads` of the CPU network packed from `unet`, as burn tensors on `device`
/// keyed by `unet`'s parameter ids (ready for an optimiser step on `unet`).
pub fn gradients_params(unet: &UNet, grads: &NetGradients, device: &Device) -> GradientsParams {
    let mut collector = Collector {
        device,
        grads: GradientsParams::new(),
    };
    if let Some(table) = &unet.class_embedding {
        collector.add(table, grads.class_embedding.clone());
    }
    collector.linear(&unet.time_in, &grads.time_in);
    collector.linear(&unet.time_out, &grads.time_out);
    collector.conv(&unet.conv_in, &grads.conv_in);
    collector.stages(&unet.down, &grads.down);
    collector.stages(&unet.middle, &grads.middle);
    collector.stages(&unet.up, &grads.up);
    collector.norm(&unet.norm_out, &grads.norm_out);
    collector.conv(&unet.conv_out, &grads.conv_out);
    collector.grads
}
