//! Training the LeNet-scale classifier with cross-entropy and Adam.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::RngExt;

use super::checkpoint::{self, CheckpointState, checkpoint_dir};
use super::seeded_init;
use super::{Meter, Outcome, Progress, RunFacts, TrainError, step_rng};
use crate::data::{IMAGE_SIDE, LabelledImages, Split};
use crate::model::{Classifier, ClassifierConfig, ModelKind, WeightsMetadata, save_module};

/// Everything a classifier training run needs.
#[derive(Clone, Debug)]
pub struct ClassifierTraining {
    /// Folder with the IDX train split.
    pub data_dir: PathBuf,
    /// The network.
    pub architecture: ClassifierConfig,
    /// Total optimiser steps.
    pub steps: u64,
    /// Images per step.
    pub batch: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of batches and initial weights.
    pub seed: u64,
    /// The weights file to write.
    pub out: PathBuf,
    /// Steps between progress reports.
    pub report_every: u64,
    /// Continue from the checkpoint beside `out`.
    pub resume: bool,
    /// The plain device to train on.
    pub device: Device,
    /// Its name, for the metadata.
    pub device_label: String,
    /// The command line, for the metadata.
    pub command: String,
}

impl ClassifierTraining {
    fn identity(&self) -> serde_json::Value {
        /// The settings a checkpoint must be resumed with.
        #[derive(serde::Serialize)]
        struct RunIdentity<'a> {
            architecture: &'a ClassifierConfig,
            batch: usize,
            seed: u64,
        }
        let identity = RunIdentity {
            architecture: &self.architecture,
            batch: self.batch,
            seed: self.seed,
        };
        serde_json::to_value(identity).unwrap_or_default()
    }

    fn metadata(&self, step: u64, loss: f64, wall_time_s: f64) -> WeightsMetadata {
        WeightsMetadata {
            kind: ModelKind::Classifier,
            architecture: serde_json::to_value(&self.architecture).unwrap_or_default(),
            schedule: None,
            dae_t_max: None,
            training: RunFacts {
                data_dir: &self.data_dir,
                batch: self.batch,
                learning_rate: self.learning_rate,
                seed: self.seed,
                device_label: &self.device_label,
                command: &self.command,
                ema_decay: 0.0,
            }
            .record(step, loss, wall_time_s, Default::default()),
            written_by: format!("noisescope {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Trains the classifier on the train split of `data_dir`.
pub fn train_classifier(
    options: &ClassifierTraining,
    stop: &AtomicBool,
    report: &mut dyn FnMut(&Progress),
) -> Result<Outcome, TrainError> {
    if options.batch == 0 || options.steps == 0 || options.learning_rate <= 0.0 {
        return Err(TrainError::Input(
            "--batch, --steps and --lr must be positive".into(),
        ));
    }
    let data = LabelledImages::load(&options.data_dir, Split::Train)
        .map_err(|e| TrainError::Input(e.to_string()))?;
    let dir = checkpoint_dir(&options.out);
    let device = options.device.clone().autodiff();
    let mut model = seeded_init(&device, options.seed, || options.architecture.init(&device));
    let mut optimizer = AdamConfig::new().init();
    let (mut step, mut past_s, mut recent_loss) = (0, 0.0, f64::NAN);
    if options.resume {
        let state = checkpoint::resume_state(&dir, &options.identity())?;
        model = checkpoint::load_weights(&dir, model, false, state.step)?;
        optimizer = checkpoint::load_optimizer(&dir, optimizer)?;
        (step, past_s, recent_loss) = (state.step, state.wall_time_s, state.recent_loss);
    }
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut meter = Meter::new(step);
    while step < options.steps {
        if stop.load(Ordering::Relaxed) {
            let wall = past_s + meter.elapsed_s();
            let state = CheckpointState {
                step,
                wall_time_s: wall,
                recent_loss,
                identity: options.identity(),
                history: Default::default(),
            };
            checkpoint::save(
                &dir,
                &model,
                None,
                &optimizer,
                &options.metadata(step, recent_loss, wall),
                &state,
            )?;
            return Ok(Outcome::Stopped {
                step,
                checkpoint: dir,
            });
        }
        let mut rng = step_rng(options.seed, step);
        let indices: Vec<usize> = (0..options.batch)
            .map(|_| rng.random_range(0..data.len()))
            .collect();
        let images = images_tensor(&data, &indices, &device);
        let labels: Vec<i64> = indices.iter().map(|&i| i64::from(data.labels[i])).collect();
        let targets =
            Tensor::<1, Int>::from_data(TensorData::new(labels, [indices.len()]), &device);
        let loss = loss_fn.forward(model.forward(images), targets);
        let loss_value = f64::from(loss.clone().into_scalar::<f32>());
        if !loss_value.is_finite() {
            return Err(TrainError::NonFinite {
                step: step + 1,
                loss: loss_value,
                kept: String::new(),
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(options.learning_rate, model, grads);
        step += 1;
        meter.add(loss_value);
        if step % options.report_every.max(1) == 0 || step == options.steps {
            let progress = meter.report(step, options.steps, options.batch);
            recent_loss = progress.loss;
            report(&progress);
        }
    }
    let wall = past_s + meter.elapsed_s();
    save_module(
        &model.valid(),
        &options.metadata(step, recent_loss, wall),
        &options.out,
    )?;
    Ok(Outcome::Finished {
        path: options.out.clone(),
        final_loss: recent_loss,
        wall_time_s: wall,
    })
}

fn images_tensor(data: &LabelledImages, indices: &[usize], device: &Device) -> Tensor<4> {
    let shape = [indices.len(), 1, IMAGE_SIDE, IMAGE_SIDE];
    Tensor::from_data(TensorData::new(data.batch(indices), shape), device)
}

/// The share of `split` images that `model` labels correctly.
pub fn classifier_accuracy(model: &Classifier, data: &LabelledImages, device: &Device) -> f64 {
    let all: Vec<usize> = (0..data.len()).collect();
    let correct: usize = all
        .chunks(500)
        .map(|chunk| {
            let predicted = model.forward(images_tensor(data, chunk, device)).argmax(1);
            let predicted: Vec<i64> = predicted
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap_or_default();
            predicted
                .iter()
                .zip(chunk)
                .filter(|(p, i)| **p == i64::from(data.labels[**i]))
                .count()
        })
        .sum();
    correct as f64 / data.len().max(1) as f64
}
