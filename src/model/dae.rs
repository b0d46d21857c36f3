//! DAED's denoising autoencoder: a U-Net whose output F is read as x0 through the relation the
//! forward process gives, x̂0 = (x_t − √(1 − ᾱ_t) F) / √ᾱ_t. At small t, where x_t is nearly
//! x0, the identity is then free and the network only learns the correction; and a diffusion
//! model's weights are a natural starting point for it.

use burn::tensor::{Device, Tensor, TensorData};

/// x̂0 = (x_t − √(1 − ᾱ_t) F) / √ᾱ_t from the network's output `out` = F(x_t, t), with `t`
/// 1-based per image and `alpha_bar[t − 1]` = ᾱ_t.
pub fn dae_clean_estimate(
    x_t: Tensor<4>,
    out: Tensor<4>,
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

    fn values(tensor: Tensor<4>) -> Vec<f32> {
        tensor.into_data().try_into_vec::<f32>().expect("f32")
    }

    #[test]
    fn the_estimate_inverts_the_forward_process_and_the_weights_undo_its_scale() {
        let device = Device::flex();
        let alpha_bar: [f64; 4] = [0.999_9, 0.9, 0.5, 0.01];
        let t = [1, 2, 3, 4];
        let image = |v: [f32; 4]| {
            Tensor::<4>::from_data(TensorData::new(v.to_vec(), [4, 1, 1, 1]), &device)
        };
        let x0 = image([0.5, -0.25, 0.75, -1.0]);
        let eps = image([1.0, -2.0, 0.3, 0.8]);
        let x_t = x0.clone() * column(alpha_bar.map(|a| a.sqrt() as f32).to_vec(), &device)
            + eps.clone() * column(alpha_bar.map(|a| (1.0 - a).sqrt() as f32).to_vec(), &device);
        // F = ε: x̂0 is x0 exactly.
        let exact = dae_clean_estimate(x_t.clone(), eps.clone(), &t, &alpha_bar);
        for (a, b) in values(exact).iter().zip(values(x0.clone())) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        // F = ε + d: the SNR-weighted squared x0 error is d², whatever ᾱ.
        let d = image([0.1, -0.2, 0.05, 0.3]);
        let off = dae_clean_estimate(x_t, eps + d.clone(), &t, &alpha_bar);
        let weighted = (off - x0).square() * dae_loss_weights(&t, &alpha_bar, &device);
        for (a, b) in values(weighted).iter().zip(values(d.square())) {
            assert!((a - b).abs() < 1e-3 * b.max(1e-3), "{a} vs {b}");
        }
    }
}
