//! The networks as the diffusion processes see them: a U-Net predicts the noise ε, an
//! autoencoder the clean image x0, for a batch all at one step.

use burn::tensor::Tensor;

use super::{InferenceUNet, LoadedDae, Network, UNet, dae_clean_estimate};
use crate::diffusion::{CleanImagePredictor, Denoiser};

impl Denoiser for UNet {
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let batch = x_t.dims()[0];
        self.evaluate(x_t, &vec![t; batch])
    }
}

impl Denoiser for InferenceUNet {
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let batch = x_t.dims()[0];
        self.evaluate(x_t, &vec![t; batch])
    }
}

impl CleanImagePredictor for LoadedDae {
    fn predict_clean(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let batch = x_t.dims()[0];
        dae_clean_estimate(&self.net.model, x_t, &vec![t; batch], &self.alpha_bar).clamp(-1.0, 1.0)
    }
}
