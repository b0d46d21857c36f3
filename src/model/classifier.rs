//! A LeNet-scale Fashion-MNIST classifier whose penultimate features define the project's
//! FID-style distance between image sets.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

/// The architecture of a [`Classifier`]; stored in its weights file.
#[derive(Config, Debug, PartialEq)]
pub struct ClassifierConfig {
    /// Channels of the first convolution (the second has twice as many).
    #[config(default = 32)]
    pub channels: usize,
    /// Width of the penultimate layer, the feature vector used by the FID.
    #[config(default = 128)]
    pub features: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub classes: usize,
}

impl ClassifierConfig {
    /// Builds the network for 28×28 single-channel images.
    pub fn init(&self, device: &Device) -> Classifier {
        let conv = |cin, cout| {
            Conv2dConfig::new([cin, cout], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device)
        };
        Classifier {
            conv1: conv(1, self.channels),
            conv2: conv(self.channels, 2 * self.channels),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            hidden: LinearConfig::new(2 * self.channels * 7 * 7, self.features).init(device),
            output: LinearConfig::new(self.features, self.classes).init(device),
        }
    }
}

/// conv5×5 → ReLU → pool → conv5×5 → ReLU → pool → linear (features) → ReLU → linear (logits).
#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    hidden: Linear,
    output: Linear,
}

impl Classifier {
    /// The penultimate activations `[B, features]` of images `[B, 1, 28, 28]` in [−1, 1].
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(images)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let [b, c, h, w] = x.dims();
        relu(self.hidden.forward(x.reshape([b, c * h * w])))
    }

    /// Class logits `[B, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.output.forward(self.features(images))
    }

    /// Class probabilities from penultimate features.
    pub fn classify_features(&self, features: Tensor<2>) -> Tensor<2> {
        softmax(self.output.forward(features), 1)
    }

    /// Class probabilities `[B, classes]`.
    pub fn probabilities(&self, images: Tensor<4>) -> Tensor<2> {
        softmax(self.forward(images), 1)
    }
}
