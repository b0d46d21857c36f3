//! Sampling points from a trained toy network: the image samplers (DDPM, DDIM, DPM-Solver, …)
//! on points shaped `[N, 2, 1, 1]`, or Euler steps along flow matching's velocity, keeping every
//! point's path.

use burn::tensor::{Device, Tensor, TensorData};

use super::data::Point;
use super::net::{Objective, ToyDenoiser, ToyNet, flow_position};
use crate::diffusion::{Sampler, SamplerConfig, tensor_to_vec};
use crate::noise::{NoiseStream, standard_normal};
use crate::schedule::Schedule;

/// How to sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ToySampler {
    /// A diffusion sampler under a schedule.
    Diffusion(SamplerConfig),
    /// Euler steps from t = 1 (noise) to 0 along the learned velocity.
    FlowEuler {
        /// Number of steps.
        steps: usize,
    },
}

/// The sampled points and their paths (standardised units).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToySamples {
    /// The final points.
    pub points: Vec<Point>,
    /// Every visited state, from the noise to the points; each `[N]` points.
    pub path: Vec<Vec<Point>>,
}

/// Samples `n` points from `seed` (the same seed gives the same starting noise for every model).
pub fn sample_toy(
    net: &ToyNet,
    objective: Objective,
    schedule: &Schedule,
    sampler: ToySampler,
    (n, seed): (usize, u64),
    device: &Device,
) -> Result<ToySamples, String> {
    if n == 0 {
        return Err("sample at least one point".into());
    }
    match (sampler, objective) {
        (ToySampler::FlowEuler { steps }, Objective::Flow) => {
            Ok(flow_euler(net, steps, (n, seed), device))
        }
        (ToySampler::Diffusion(config), objective) if objective != Objective::Flow => {
            diffusion(net, objective, schedule, config, (n, seed), device)
        }
        (ToySampler::FlowEuler { .. }, _) => {
            Err("Euler steps along a velocity need a flow-matching model".into())
        }
        (ToySampler::Diffusion(_), _) => Err(
            "a flow-matching model predicts a velocity, not noise: sample it with Euler steps"
                .into(),
        ),
    }
}

fn to_points(values: &[f32]) -> Vec<Point> {
    values
        .chunks(2)
        .map(|c| [f64::from(c[0]), f64::from(c[1])])
        .collect()
}

fn diffusion(
    net: &ToyNet,
    objective: Objective,
    schedule: &Schedule,
    config: SamplerConfig,
    (n, seed): (usize, u64),
    device: &Device,
) -> Result<ToySamples, String> {
    let log_snr = schedule.log_snr();
    let denoiser = ToyDenoiser {
        net,
        objective,
        log_snr: &log_snr,
    };
    let mut sampler = Sampler::from_noise(&denoiser, schedule, config, [n, 2, 1, 1], seed, device)?;
    let flat = |x: &Tensor<4>| to_points(&tensor_to_vec(x.clone().reshape([n, 2])));
    let mut path = vec![flat(sampler.current())];
    while sampler.next().is_some() {
        path.push(flat(sampler.current()));
    }
    let points = path.last().cloned().unwrap_or_default();
    Ok(ToySamples { points, path })
}

fn flow_euler(net: &ToyNet, steps: usize, (n, seed): (usize, u64), device: &Device) -> ToySamples {
    let steps = steps.max(1);
    let start = standard_normal(seed, NoiseStream::SampleStart, 2 * n);
    let mut x = Tensor::<2>::from_data(TensorData::new(start, [n, 2]), device);
    let mut path = vec![to_points(&tensor_to_vec(x.clone()))];
    for k in (1..=steps).rev() {
        let (t, t_next) = (k as f64 / steps as f64, (k - 1) as f64 / steps as f64);
        let velocity = net.forward(x.clone(), &vec![flow_position(t); n]);
        x = x + velocity * (t_next - t);
        path.push(to_points(&tensor_to_vec(x.clone())));
    }
    let points = path.last().cloned().unwrap_or_default();
    ToySamples { points, path }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::SamplerFamily;
    use crate::schedule::{ScheduleKind, ScheduleSpec};
    use crate::toy::{ToyNetConfig, diffusion_position, noise_from_output};

    /// One DDIM step on points, worked by hand from the network's output: the toy path follows
    /// the image sampler's update (Song et al. 2021, eq. 12 with σ = 0) under the same schedule.
    #[test]
    fn a_ddim_step_on_points_is_the_image_samplers_update() {
        let device = Device::flex();
        device.seed(3);
        let net = ToyNetConfig::new().init(&device);
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("valid");
        let mut config = SamplerFamily::Ddim.chain(10);
        config.clip_x0 = false;
        let objective = Objective::V;
        let samples = sample_toy(
            &net,
            objective,
            &schedule,
            ToySampler::Diffusion(config),
            (5, 7),
            &device,
        )
        .expect("samples");
        assert_eq!(samples.path.len(), 11);
        // A step in the middle: near x_T, x̂0 divides by a tiny √ᾱ and f32 rounding shows.
        let k = 5;
        let (t, t_next) = config.plan(&schedule, schedule.steps()).expect("plan")[k];
        let log_snr = schedule.log_snr()[t - 1];
        let x: Vec<f32> = samples.path[k]
            .iter()
            .flatten()
            .map(|&v| v as f32)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [5, 2]), &device);
        let out = net.forward(x.clone(), &[diffusion_position(log_snr); 5]);
        let eps = tensor_to_vec(noise_from_output(objective, x.clone(), out, log_snr));
        let (ab, ab_next) = (schedule.alpha_bar_at(t), schedule.alpha_bar_at(t_next));
        let start = tensor_to_vec(x);
        for i in 0..10 {
            let (x_t, e) = (f64::from(start[i]), f64::from(eps[i]));
            let x0 = (x_t - (1.0 - ab).sqrt() * e) / ab.sqrt();
            let expected = ab_next.sqrt() * x0 + (1.0 - ab_next).sqrt() * e;
            let got = samples.path[k + 1][i / 2][i % 2];
            assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
        }
    }
}
