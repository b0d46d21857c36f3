//! DAED's denoising autoencoder: a U-Net whose output is read as x0 through EDM-style
//! preconditioning (Karras et al. 2022), so that at small t, where x_t is nearly x0, the
//! identity is free and the network only learns the correction.

use burn::tensor::{Device, Tensor, TensorData};

use super::UNet;

/// The data's standard deviation assumed by the preconditioning (images in [−1, 1]).
pub const SIGMA_DATA: f64 = 0.5;

/// The factors (c_skip/√ᾱ_t, c_out) that multiply x_t and the network's output at ᾱ_t.
pub fn preconditioning(alpha_bar: f64) -> (f64, f64) {
    let sigma2 = (1.0 - alpha_bar) / alpha_bar;
    let d2 = SIGMA_DATA * SIGMA_DATA;
    let skip = d2 / (sigma2 + d2) / alpha_bar.sqrt();
    let out = sigma2.sqrt() * SIGMA_DATA / (sigma2 + d2).sqrt();
    (skip, out)
}

/// EDM's loss weights 1/c_out² per image: the x0 error they weigh is the network's own error
/// at unit scale, so small t (where c_out is tiny) count as much as large t.
pub fn dae_loss_weights(t: &[usize], alpha_bar: &[f64], device: &Device) -> Tensor<4> {
    let weights: Vec<f32> = t
        .iter()
        .map(|&t| (1.0 / preconditioning(alpha_bar[t - 1]).1.powi(2)) as f32)
        .collect();
    column(weights, device)
}

fn column(values: Vec<f32>, device: &Device) -> Tensor<4> {
    let n = values.len();
    Tensor::<4>::from_data(TensorData::new(values, [n, 1, 1, 1]), device)
}

/// x̂0 = c_skip · x + c_out · F(x_t, t), with x = x_t/√ᾱ_t = x0 + σ ε, σ² = (1 − ᾱ_t)/ᾱ_t,
/// c_skip = σ_d²/(σ² + σ_d²) and c_out = σ σ_d/√(σ² + σ_d²). `t` is 1-based per image and
/// `alpha_bar[t − 1]` is ᾱ_t.
pub fn dae_clean_estimate(net: &UNet, x_t: Tensor<4>, t: &[usize], alpha_bar: &[f64]) -> Tensor<4> {
    let device = x_t.device();
    let (skip, out): (Vec<f32>, Vec<f32>) = t
        .iter()
        .map(|&t| {
            let (skip, out) = preconditioning(alpha_bar[t - 1]);
            (skip as f32, out as f32)
        })
        .unzip();
    let raw = net.forward(x_t.clone(), t);
    x_t * column(skip, &device) + raw * column(out, &device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditioning_keeps_the_input_at_small_noise_and_the_network_at_large() {
        let (skip, out) = preconditioning(1.0 - 1e-8);
        assert!((skip - 1.0).abs() < 1e-6 && out < 1e-3, "{skip} {out}");
        let (skip, out) = preconditioning(1e-6);
        assert!(
            skip < 1e-3 && (out - SIGMA_DATA).abs() < 1e-3,
            "{skip} {out}"
        );
        // At σ = σ_d the skip and the network weigh the same: c_skip = ½, c_out = σ_d/√2.
        let alpha_bar = 1.0 / (1.0 + SIGMA_DATA * SIGMA_DATA);
        let (skip, out) = preconditioning(alpha_bar);
        assert!((skip * alpha_bar.sqrt() - 0.5).abs() < 1e-12);
        assert!((out - SIGMA_DATA / 2f64.sqrt()).abs() < 1e-12);
    }
}
