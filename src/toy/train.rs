//! Training the playground's MLP on standardised 2D points: each step draws a batch of points,
//! noise levels and noise, and regresses the objective's target with Adam.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::data::Point;
use super::net::{Objective, ToyNet, ToyNetConfig, diffusion_position, flow_position};
use crate::schedule::Schedule;

/// Training steps of the playground's default run (about 7 s on one 2-core machine's core).
pub const DEFAULT_TOY_STEPS: u64 = 6000;
/// Points per step of the default run.
pub const DEFAULT_TOY_BATCH: usize = 256;
/// The default run's starting learning rate (it falls along half a cosine to zero).
pub const DEFAULT_TOY_LR: f64 = 1e-2;

/// Held while a network's initial weights are drawn.
static INITIALISING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A toy training run.
#[derive(Clone, Debug)]
pub struct ToyTraining {
    /// What the network predicts.
    pub objective: Objective,
    /// The diffusion schedule (not used by flow matching).
    pub schedule: Schedule,
    /// The network's size.
    pub net: ToyNetConfig,
    /// Optimiser steps.
    pub steps: u64,
    /// Points per step.
    pub batch: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of the initial weights and of every batch.
    pub seed: u64,
}

impl ToyTraining {
    /// The defaults of the playground and of `noisescope toy`.
    pub fn new(objective: Objective, schedule: Schedule) -> Self {
        Self {
            objective,
            schedule,
            net: ToyNetConfig::new(),
            steps: DEFAULT_TOY_STEPS,
            batch: DEFAULT_TOY_BATCH,
            learning_rate: DEFAULT_TOY_LR,
            seed: 0,
        }
    }
}

/// One batch's inputs and targets.
struct ToyBatch {
    x_t: Vec<f32>,
    positions: Vec<f64>,
    target: Vec<f32>,
}

/// Trains on `points` (standardised), calling `report(step, loss, network)` after every step
/// (the network as trained so far; `valid()` gives a copy to sample with); stops early, keeping
/// what was learned, when it returns false. Returns the network on the plain device.
pub fn train_toy(
    points: &[Point],
    options: &ToyTraining,
    device: &Device,
    report: &mut dyn FnMut(u64, f64, &ToyNet) -> bool,
) -> Result<ToyNet, String> {
    super::data::check_points(points)?;
    if options.batch == 0 || !(options.learning_rate > 0.0 && options.learning_rate.is_finite()) {
        return Err("the batch must hold a point and the learning rate be positive".into());
    }
    let train_device = device.clone().autodiff();
    let mut net = {
        // The backend's random generator is one for the process: two runs starting at once
        // (the Playground's comparison) must not draw from it in between.
        let _alone = INITIALISING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        train_device.seed(options.seed);
        options.net.init(&train_device)
    };
    let mut optimizer = AdamConfig::new().init();
    for step in 0..options.steps {
        let batch = toy_batch(points, options, step);
        let n = batch.positions.len();
        let x_t = Tensor::<2>::from_data(TensorData::new(batch.x_t, [n, 2]), &train_device);
        let target = Tensor::<2>::from_data(TensorData::new(batch.target, [n, 2]), &train_device);
        let out = net.forward(x_t, &batch.positions);
        let loss = (out - target).powi_scalar(2).mean();
        let value = f64::from(loss.clone().into_scalar::<f32>());
        if !value.is_finite() {
            return Err(format!(
                "the loss became {value} at step {}; try a lower learning rate",
                step + 1
            ));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        // Half a cosine down to zero over the run: the last steps settle instead of jitter.
        let progress = step as f64 / options.steps as f64;
        let lr = options.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        net = optimizer.step(lr, net, grads);
        if !report(step + 1, value, &net) {
            break;
        }
    }
    Ok(net.valid())
}

/// The batch of `step`: reproducible from the seed and the step.
fn toy_batch(points: &[Point], options: &ToyTraining, step: u64) -> ToyBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    rng.set_stream(step);
    let n = options.batch;
    let alpha_bar = options.schedule.alpha_bar();
    let log_snr = options.schedule.log_snr();
    let mut batch = ToyBatch {
        x_t: Vec::with_capacity(2 * n),
        positions: Vec::with_capacity(n),
        target: Vec::with_capacity(2 * n),
    };
    for _ in 0..n {
        let x0 = points[rng.random_range(0..points.len())];
        let eps: [f64; 2] = [
            StandardNormal.sample(&mut rng),
            StandardNormal.sample(&mut rng),
        ];
        let (a, s, position) = if options.objective == Objective::Flow {
            let t: f64 = rng.random();
            (1.0 - t, t, flow_position(t))
        } else {
            let t = rng.random_range(1..=alpha_bar.len());
            let ab = alpha_bar[t - 1];
            (
                ab.sqrt(),
                (1.0 - ab).sqrt(),
                diffusion_position(log_snr[t - 1]),
            )
        };
        for axis in 0..2 {
            let x_t = a * x0[axis] + s * eps[axis];
            let target = match options.objective {
                Objective::Eps => eps[axis],
                Objective::X0 => x0[axis],
                Objective::V => a * eps[axis] - s * x0[axis],
                Objective::Flow => eps[axis] - x0[axis],
            };
            batch.x_t.push(x_t as f32);
            batch.target.push(target as f32);
        }
        batch.positions.push(position);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{ScheduleKind, ScheduleSpec};

    fn options(objective: Objective) -> ToyTraining {
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("valid");
        ToyTraining {
            batch: 8,
            ..ToyTraining::new(objective, schedule)
        }
    }

    #[test]
    fn batches_follow_the_objectives_paths_and_the_seed() {
        let points = vec![[0.5, -1.0], [2.0, 0.25]];
        for objective in Objective::ALL {
            let o = options(objective);
            let b = toy_batch(&points, &o, 3);
            assert_eq!(b.x_t.len(), 16);
            assert_eq!(b.x_t, toy_batch(&points, &o, 3).x_t, "reproducible");
            assert_ne!(
                b.x_t,
                toy_batch(&points, &o, 4).x_t,
                "another step, another batch"
            );
        }
        // Flow matching: x_t = (1 − t) x0 + t ε with target ε − x0, so x_t − t·target = x0,
        // one of the points.
        let o = options(Objective::Flow);
        let b = toy_batch(&points, &o, 0);
        for i in 0..8 {
            let t = b.positions[i] / 1000.0;
            let x0 =
                [0, 1].map(|a| f64::from(b.x_t[2 * i + a]) - t * f64::from(b.target[2 * i + a]));
            let near = points
                .iter()
                .any(|p| (p[0] - x0[0]).abs() < 1e-4 && (p[1] - x0[1]).abs() < 1e-4);
            assert!(near, "{x0:?}");
        }
    }

    #[test]
    fn training_lowers_the_loss_and_bad_settings_are_refused() {
        let points = super::super::data::ToyData::Gaussians.sample(500, 0);
        let mut o = options(Objective::Eps);
        o.steps = 150;
        o.batch = 128;
        let mut losses = Vec::new();
        train_toy(&points, &o, &Device::flex(), &mut |_, l, _| {
            losses.push(l);
            true
        })
        .expect("trains");
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        assert!(mean(&losses[120..]) < mean(&losses[..30]), "the loss falls");
        o.learning_rate = 0.0;
        assert!(train_toy(&points, &o, &Device::flex(), &mut |_, _, _| true).is_err());
        assert!(
            train_toy(
                &points[..1],
                &options(Objective::Eps),
                &Device::flex(),
                &mut |_, _, _| true
            )
            .is_err()
        );
    }
}
