//! The playground's network: a small MLP F(x, noise level) on 2D points, trained with one of four
//! objectives, and read as a [`Denoiser`] so the image samplers run on points unchanged.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::diffusion::Denoiser;
use crate::model::{NoiseInput, noise_embedding_values};

/// What the network learns to predict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Objective {
    /// The noise ε (Ho et al. 2020).
    #[default]
    Eps,
    /// The clean point x0.
    X0,
    /// v = √ᾱ ε − √(1 − ᾱ) x0 (Salimans & Ho 2022).
    V,
    /// Flow matching on the straight path x_t = (1 − t) x0 + t ε: the velocity ε − x0
    /// (Lipman et al. 2023; Liu et al. 2023's rectified flow).
    Flow,
}

impl Objective {
    /// Every objective, in menu order.
    pub const ALL: [Self; 4] = [Self::Eps, Self::X0, Self::V, Self::Flow];

    /// The name on the command line and in menus.
    pub fn name(self) -> &'static str {
        match self {
            Self::Eps => "eps",
            Self::X0 => "x0",
            Self::V => "v",
            Self::Flow => "flow",
        }
    }
}

/// The MLP's size.
#[derive(Config, Debug, PartialEq)]
pub struct ToyNetConfig {
    /// Width of the hidden layers.
    #[config(default = 128)]
    pub hidden: usize,
    /// Hidden layers.
    #[config(default = 3)]
    pub depth: usize,
    /// Size of the sinusoidal noise-level embedding.
    #[config(default = 32)]
    pub embedding: usize,
    /// Sine and cosine features of each coordinate at this many frequencies, from 1 to
    /// [`Self::top_frequency`] in geometric steps, fed in beside the raw point: a plain MLP
    /// learns sharp shapes slowly (Tancik et al. 2020), these let it draw edges early (0: none).
    #[config(default = 16)]
    pub frequencies: usize,
    /// The highest frequency of the coordinate features, in radians per standardised unit.
    #[config(default = 16.0)]
    pub top_frequency: f64,
}

impl ToyNetConfig {
    /// The network on `device`.
    pub fn init(&self, device: &Device) -> ToyNet {
        let width = self.hidden;
        ToyNet {
            input: LinearConfig::new(2 + 4 * self.frequencies + self.embedding, width).init(device),
            hidden: (1..self.depth.max(1))
                .map(|_| LinearConfig::new(width + self.embedding, width).init(device))
                .collect(),
            output: LinearConfig::new(width, 2).init(device),
            embedding: self.embedding,
            frequencies: self.coordinate_frequencies(),
        }
    }

    /// The frequencies of the coordinate features.
    fn coordinate_frequencies(&self) -> Vec<f64> {
        let k = self.frequencies;
        (0..k)
            .map(|i| {
                let fraction = if k > 1 {
                    i as f64 / (k - 1) as f64
                } else {
                    0.0
                };
                self.top_frequency.max(1.0).powf(fraction)
            })
            .collect()
    }
}

/// x and the noise level's embedding in, two numbers out; the embedding is fed to every layer.
#[derive(Module, Debug)]
pub struct ToyNet {
    input: Linear,
    hidden: Vec<Linear>,
    output: Linear,
    embedding: usize,
    frequencies: Vec<f64>,
}

impl ToyNet {
    /// F for points `x` `[N, 2]` at embedding positions (one per point, 0…1000).
    pub fn forward(&self, x: Tensor<2>, positions: &[f64]) -> Tensor<2> {
        let n = positions.len();
        let values = noise_embedding_values(positions, self.embedding);
        let embedding =
            Tensor::<2>::from_data(TensorData::new(values, [n, self.embedding]), &x.device());
        let inputs = Tensor::cat(vec![self.coordinate_features(x), embedding.clone()], 1);
        let mut h = silu(self.input.forward(inputs));
        for layer in &self.hidden {
            h = silu(layer.forward(Tensor::cat(vec![h, embedding.clone()], 1)));
        }
        self.output.forward(h)
    }

    /// `[N, 2 + 4K]`: the points, then sin of every frequency times x and times y, then cos.
    fn coordinate_features(&self, x: Tensor<2>) -> Tensor<2> {
        if self.frequencies.is_empty() {
            return x;
        }
        let phases = x.clone().matmul(self.frequency_matrix(&x.device()));
        Tensor::cat(vec![x, phases.clone().sin(), phases.cos()], 1)
    }

    /// `[2, 2K]`: x times it gives every frequency times x, then every frequency times y.
    fn frequency_matrix(&self, device: &Device) -> Tensor<2> {
        let k = self.frequencies.len();
        let mut values = vec![0.0_f32; 4 * k];
        for (i, &f) in self.frequencies.iter().enumerate() {
            values[i] = f as f32;
            values[2 * k + k + i] = f as f32;
        }
        Tensor::from_data(TensorData::new(values, [2, 2 * k]), device)
    }
}

/// The embedding position of a diffusion noise level: the U-Nets' log-SNR mapping, so a toy
/// model can sample under any schedule within its trained λ.
pub fn diffusion_position(log_snr: f64) -> f64 {
    NoiseInput::LogSnr.position(0, log_snr)
}

/// The embedding position of flow time t ∈ [0, 1].
pub fn flow_position(t: f64) -> f64 {
    1000.0 * t
}

/// A trained toy network and its objective, as the diffusion samplers see it.
pub struct ToyDenoiser<'a> {
    /// The network.
    pub net: &'a ToyNet,
    /// What it predicts (not [`Objective::Flow`], which has its own sampler).
    pub objective: Objective,
    /// λ_t of the schedule it was trained with, t = 1..T (for [`Denoiser::predict_noise`]).
    pub log_snr: &'a [f64],
}

impl Denoiser for ToyDenoiser<'_> {
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let index = t.clamp(1, self.log_snr.len().max(1)) - 1;
        let log_snr = self.log_snr.get(index).copied().unwrap_or(0.0);
        self.predict_noise_at(x_t, t, log_snr)
    }

    /// ε̂ for points `[N, 2, 1, 1]` at log-SNR λ: the network's output read through its objective.
    fn predict_noise_at(&self, x_t: Tensor<4>, _t: usize, log_snr: f64) -> Tensor<4> {
        let [n, ..] = x_t.dims();
        let x = x_t.clone().reshape([n, 2]);
        let out = self
            .net
            .forward(x.clone(), &vec![diffusion_position(log_snr); n]);
        let eps = noise_from_output(self.objective, x, out, log_snr);
        eps.reshape([n, 2, 1, 1])
    }
}

/// ε̂ from the network's output under `objective` at log-SNR λ (ᾱ = sigmoid(λ)).
pub fn noise_from_output(
    objective: Objective,
    x_t: Tensor<2>,
    out: Tensor<2>,
    log_snr: f64,
) -> Tensor<2> {
    let alpha_bar = 1.0 / (1.0 + (-log_snr).exp());
    let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
    match objective {
        Objective::Eps | Objective::Flow => out,
        // x_t = a x0 + s ε  ⇒  ε = (x_t − a x̂0)/s
        Objective::X0 => (x_t - out * a) / s.max(1e-12),
        // v = a ε − s x0, x_t = a x0 + s ε  ⇒  ε = s x_t + a v
        Objective::V => x_t * s + out * a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinate_features_are_sines_and_cosines_of_each_frequency_times_each_axis() {
        let device = Device::flex();
        let config = ToyNetConfig::new()
            .with_frequencies(3)
            .with_top_frequency(4.0);
        let net = config.init(&device);
        let frequencies = [1.0, 2.0, 4.0];
        let point = [0.3_f64, -0.7];
        let x = Tensor::<2>::from_data(
            TensorData::new(point.map(|v| v as f32).to_vec(), [1, 2]),
            &device,
        );
        let features = crate::diffusion::tensor_to_vec(net.coordinate_features(x));
        let mut expected = point.to_vec();
        for wave in [f64::sin, f64::cos] {
            for axis in point {
                expected.extend(frequencies.map(|f| wave(f * axis)));
            }
        }
        assert_eq!(features.len(), expected.len());
        for (got, want) in features.iter().zip(&expected) {
            assert!(
                (f64::from(*got) - want).abs() < 1e-5,
                "{features:?} vs {expected:?}"
            );
        }
        let without = ToyNetConfig::new().with_frequencies(0).init(&device);
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.3_f32, -0.7], [1, 2]), &device);
        assert_eq!(
            crate::diffusion::tensor_to_vec(without.coordinate_features(x)).len(),
            2
        );
    }

    #[test]
    fn every_objective_reads_back_the_noise_of_a_known_x_t() {
        let device = Device::flex();
        let log_snr: f64 = 0.7;
        let alpha_bar = 1.0 / (1.0 + (-log_snr).exp());
        let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
        let (x0, eps) = ([0.3_f64, -1.2], [0.9_f64, 0.4]);
        let x_t: Vec<f32> = (0..2).map(|i| (a * x0[i] + s * eps[i]) as f32).collect();
        let tensor = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, 2]), &device);
        let outputs = [
            (Objective::Eps, eps.map(|e| e as f32).to_vec()),
            (Objective::X0, x0.map(|x| x as f32).to_vec()),
            (
                Objective::V,
                (0..2).map(|i| (a * eps[i] - s * x0[i]) as f32).collect(),
            ),
        ];
        for (objective, out) in outputs {
            let read = noise_from_output(objective, tensor(x_t.clone()), tensor(out), log_snr);
            let read = crate::diffusion::tensor_to_vec(read);
            for i in 0..2 {
                assert!(
                    (f64::from(read[i]) - eps[i]).abs() < 1e-5,
                    "{objective:?}: {read:?}"
                );
            }
        }
    }
}
