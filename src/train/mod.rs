//! Training loops: the diffusion U-Net (Algorithm 1 of Ho et al., L_simple, Adam, EMA) and the
//! FID classifier. Both checkpoint periodically, resume, stop cleanly when asked, and refuse to
//! go on after a non-finite loss.

mod checkpoint;
mod classifier;
mod ema;
mod recorder;
mod unet;

use std::path::PathBuf;
use std::time::Instant;

pub use checkpoint::{CheckpointState, checkpoint_dir};
pub use classifier::{ClassifierTraining, classifier_accuracy, train_classifier};
pub use unet::{DiffusionTraining, LrDecay, TrainingTarget, train_unet};

/// One report from a running training loop.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Steps done so far (including resumed ones).
    pub step: u64,
    /// Steps the run aims for.
    pub total: u64,
    /// Mean loss since the previous report.
    pub loss: f64,
    /// Training images per second in this sitting.
    pub images_per_s: f64,
    /// Estimated seconds left.
    pub eta_s: f64,
}

/// How a training run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// All steps done; the weights were written to `path`.
    Finished {
        /// The weights file.
        path: PathBuf,
        /// Mean loss of the last reporting window.
        final_loss: f64,
        /// Seconds spent, over all sittings.
        wall_time_s: f64,
    },
    /// Stopped on request at `step`; a checkpoint was saved at `checkpoint`.
    Stopped {
        /// Steps done.
        step: u64,
        /// The checkpoint folder.
        checkpoint: PathBuf,
    },
}

/// Why training could not run or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Bad data, options or files; the message says which.
    #[error("{0}")]
    Input(String),
    /// The loss became NaN or infinite.
    #[error(
        "the loss became {loss} at step {step}; training stopped without saving that step. {kept} \
         Try a lower --lr."
    )]
    NonFinite {
        /// The step that produced it.
        step: u64,
        /// The loss value.
        loss: f64,
        /// What was kept.
        kept: String,
    },
    /// A weights or checkpoint file failed.
    #[error(transparent)]
    Weights(#[from] crate::model::WeightsError),
}

/// A running mean of the loss, with throughput and ETA.
struct Meter {
    started: Instant,
    start_step: u64,
    loss_sum: f64,
    loss_count: u64,
    last_loss: f64,
}

impl Meter {
    fn new(start_step: u64) -> Self {
        Self {
            started: Instant::now(),
            start_step,
            loss_sum: 0.0,
            loss_count: 0,
            last_loss: f64::NAN,
        }
    }

    fn add(&mut self, loss: f64) {
        self.loss_sum += loss;
        self.loss_count += 1;
    }

    fn report(&mut self, step: u64, total: u64, batch: usize) -> Progress {
        if self.loss_count > 0 {
            self.last_loss = self.loss_sum / self.loss_count as f64;
        }
        self.loss_sum = 0.0;
        self.loss_count = 0;
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        let steps = step.saturating_sub(self.start_step) as f64;
        let steps_per_s = steps / elapsed;
        Progress {
            step,
            total,
            loss: self.last_loss,
            images_per_s: steps_per_s * batch as f64,
            eta_s: if steps_per_s > 0.0 {
                total.saturating_sub(step) as f64 / steps_per_s
            } else {
                f64::INFINITY
            },
        }
    }

    /// Training images per second in this sitting.
    fn images_per_s(&self, step: u64, batch: usize) -> f64 {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        step.saturating_sub(self.start_step) as f64 * batch as f64 / elapsed
    }

    fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// What the weights file of a run says about its training.
struct RunFacts<'a> {
    data_dir: &'a std::path::Path,
    batch: usize,
    learning_rate: f64,
    seed: u64,
    device_label: &'a str,
    command: &'a str,
    ema_decay: f64,
}

impl RunFacts<'_> {
    fn record(
        &self,
        step: u64,
        loss: f64,
        wall_time_s: f64,
        history: crate::model::TrainingHistory,
    ) -> crate::model::TrainingRecord {
        crate::model::TrainingRecord {
            data: self.data_dir.display().to_string(),
            steps: step,
            batch: self.batch,
            learning_rate: self.learning_rate,
            seed: self.seed,
            final_loss: loss,
            wall_time_s,
            device: self.device_label.to_owned(),
            ema_decay: self.ema_decay,
            command: self.command.to_owned(),
            history,
        }
    }
}

/// Seeds the device's generator and builds the initial weights while no other training in this
/// process can draw from the same generator, so that a seed always gives the same weights.
fn seeded_init<M>(device: &burn::tensor::Device, seed: u64, init: impl FnOnce() -> M) -> M {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    device.seed(seed);
    init()
}

/// The per-step random generator: reproducible from (seed, step), so resumed runs draw the same
/// batches as uninterrupted ones.
fn step_rng(seed: u64, step: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step);
    rng
}

/// Learning rate with a linear warm-up.
fn learning_rate(base: f64, warmup: u64, step: u64) -> f64 {
    if warmup == 0 {
        base
    } else {
        base * ((step + 1) as f64 / warmup as f64).min(1.0)
    }
}
