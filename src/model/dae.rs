//! DAED's denoising autoencoder: a U-Net whose output F is read as x0 through the relation the
//! forward process gives, x̂0 = (x_t − √(1 − ᾱ_t) F) / √ᾱ_t. At small t, where x_t is nearly
//! x0, the identity is then free and the network only learns the correction; and a diffusion
//! model's weights are a natural starting point for it.

use burn::tensor::{Device, Tensor, TensorData};

use super::Network;

/// x̂0 = (x_t − √(1 − ᾱ_t) F(x_t, t)) / √ᾱ_t, with `t` 1-based per image and `alpha_bar[t − 1]`
/// = ᾱ_t.
pub fn dae_clean_estimate<N: Network + ?Sized>(
    net: &N,
    x_t: Tensor<4>,
    t: &[usize],
    alpha_bar: &[f64],
) -> Tensor<4> {
    let device = x_t.device();
    let per_image = |f: &dyn Fn(f64) -> f64| {
        column(
            t.iter().map(|&t| f(alpha_bar[t - 1]) as f32).collect(),
            &device,
        )
    };
    let from_xt = per_image(&|a| 1.0 / a.sqrt());
    let from_out = per_image(&|a| -((1.0 - a) / a).sqrt());
    let out = net.evaluate(x_t.clone(), t);
    x_t * from_xt + out * from_out
}

/// Loss weights ᾱ_t / (1 − ᾱ_t) (the SNR) per image: the x0 error they weigh equals the
/// network's own error at unit scale, so small t count as much as large t.
pub fn dae_loss_weights(t: &[usize], alpha_bar: &[f64], device: &Device) -> Tensor<4> {
    let weights = t.iter().map(|&t| snr(alpha_bar[t - 1]) as f32).collect();
    column(weights, device)
}

/// ᾱ / (1 − ᾱ).
fn snr(alpha_bar: f64) -> f64 {
    alpha_bar / (1.0 - alpha_bar)
}

fn column(values: Vec<f32>, device: &Device) -> Tensor<4> {
    let n = values.len();
    Tensor::<4>::from_data(TensorData::new(values, [n, 1, 1, 1]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_make_the_x0_error_the_networks_own() {
        // x̂0 − x0 = −√((1 − ᾱ)/ᾱ) (F − ε): weighted by the SNR, the squared error is (F − ε)².
        for alpha_bar in [0.999_9, 0.9, 0.5, 0.01] {
            let scale = (1.0 - alpha_bar) / alpha_bar;
            assert!((snr(alpha_bar) * scale - 1.0).abs() < 1e-12);
        }
    }
}
