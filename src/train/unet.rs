//! Training the ε-prediction U-Net: Algorithm 1 of Ho et al. with L_simple, Adam and an EMA;
//! and, with the same loop, DAED's denoising autoencoder, which predicts x0 for small t.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

use super::checkpoint::{self, CheckpointState, checkpoint_dir};
use super::ema::update_ema;
use super::recorder::{HistoryRecorder, StepFacts};
use super::seeded_init;
use super::{Meter, Outcome, Progress, RunFacts, TrainError, learning_rate, step_rng};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, LabelledImages, Split};
use crate::diffusion::{Sampler, SamplerConfig, tensor_to_vec};
use crate::model::cpu::CpuUNet;
use crate::model::{
    InferenceUNet, ModelKind, SampleGrid, TrainingHistory, UNet, UNetConfig, WeightsFile,
    WeightsMetadata, cpu_kernels_enabled, dae_clean_estimate, dae_loss_weights, save_module,
};
use crate::schedule::{Schedule, ScheduleSpec};

/// What the network learns to predict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrainingTarget {
    /// ε at every t in 1..=T: the diffusion model (L_simple).
    #[default]
    Noise,
    /// x0 at t in 1..=t_max: a denoising autoencoder for DAED (the output read through
    /// [`dae_clean_estimate`]; MSE to x0 weighted by the SNR).
    CleanImage {
        /// The largest noise step trained on.
        t_max: usize,
    },
}

/// How the learning rate falls after the warm-up, over the rest of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LrDecay {
    /// It stays at the base rate.
    #[default]
    None,
    /// Half a cosine down to zero at the last step.
    Cosine,
    /// A straight line down to zero at the last step.
    Linear,
}

impl LrDecay {
    /// The factor at step `step` (0-based) of `steps`, `warmup` of them warming up.
    pub fn factor(self, warmup: u64, steps: u64, step: u64) -> f64 {
        let span = steps.saturating_sub(warmup).max(1) as f64;
        let progress = (step.saturating_sub(warmup) as f64 / span).clamp(0.0, 1.0);
        match self {
            Self::None => 1.0,
            Self::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
            Self::Linear => 1.0 - progress,
        }
    }
}

/// Everything a U-Net training run needs.
#[derive(Clone, Debug)]
pub struct DiffusionTraining {
    /// Folder with `train-images-idx3-ubyte[.gz]` and labels.
    pub data_dir: PathBuf,
    /// The diffusion schedule.
    pub schedule: ScheduleSpec,
    /// The network.
    pub architecture: UNetConfig,
    /// ε (diffusion model) or x0 (denoising autoencoder).
    pub target: TrainingTarget,
    /// Start from these weights (a U-Net file of the same architecture and schedule) instead
    /// of random ones.
    pub init_from: Option<PathBuf>,
    /// Total optimiser steps.
    pub steps: u64,
    /// Images per step.
    pub batch: usize,
    /// Adam's learning rate after warm-up.
    pub learning_rate: f64,
    /// Steps of linear learning-rate warm-up.
    pub warmup: u64,
    /// Decay of the weight average that is shipped.
    pub ema_decay: f64,
    /// For a class-conditioned network: the share of images shown without their class, so
    /// that it also learns the unconditional model (classifier-free guidance needs both).
    pub class_dropout: f64,
    /// How the learning rate falls after the warm-up.
    pub lr_decay: LrDecay,
    /// Min-SNR-γ loss weighting (Hang et al. 2023) for the ε loss: each image's loss is
    /// weighted by min(SNR_t, γ)/SNR_t, so the low-noise steps, whose ε is easy to tell and
    /// whose loss says little about the image, stop dominating. `None`: L_simple.
    pub min_snr_gamma: Option<f64>,
    /// Seed of batches, steps, noise and initial weights.
    pub seed: u64,
    /// The weights file to write.
    pub out: PathBuf,
    /// Steps between checkpoints (0: only at the end and on stop).
    pub checkpoint_every: u64,
    /// Steps between progress reports.
    pub report_every: u64,
    /// Steps between entries of the training log kept in the weights (0: none).
    pub log_every: u64,
    /// Steps between sample grids kept in the weights (0: none; a denoising autoencoder,
    /// which does not generate from noise, never has them).
    pub grid_every: u64,
    /// Continue from the checkpoint beside `out`.
    pub resume: bool,
    /// The plain (non-autodiff) device to train on.
    pub device: Device,
    /// Its name, for the metadata.
    pub device_label: String,
    /// The command line, for the metadata.
    pub command: String,
}

/// The U-Net architecture fields that checkpoints written before them do not name.
const LATER_ARCHITECTURE_FIELDS: [&str; 2] = ["classes", "noise_input"];

/// The settings a checkpoint must be resumed with (written into its state as JSON).
#[derive(serde::Serialize)]
struct RunIdentity<'a> {
    schedule: &'a ScheduleSpec,
    architecture: &'a UNetConfig,
    batch: usize,
    seed: u64,
    ema_decay: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dae_t_max: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    init_from: Option<&'a PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    class_dropout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lr_decay: Option<LrDecay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_snr_gamma: Option<f64>,
}

impl DiffusionTraining {
    fn identity(&self) -> serde_json::Value {
        let identity = RunIdentity {
            schedule: &self.schedule,
            architecture: &self.architecture,
            batch: self.batch,
            seed: self.seed,
            ema_decay: self.ema_decay,
            dae_t_max: match self.target {
                TrainingTarget::CleanImage { t_max } => Some(t_max),
                TrainingTarget::Noise => None,
            },
            init_from: self.init_from.as_ref(),
            class_dropout: (self.architecture.classes > 0).then_some(self.class_dropout),
            lr_decay: (self.lr_decay != LrDecay::None).then_some(self.lr_decay),
            min_snr_gamma: self.min_snr_gamma,
        };
        let mut identity = serde_json::to_value(identity).unwrap_or_default();
        // Architecture fields added after checkpoints were first written are left out while
        // they hold their defaults, so the identity reads as it did then and those
        // checkpoints still resume.
        let defaults = serde_json::to_value(UNetConfig::new()).unwrap_or_default();
        if let Some(architecture) = identity["architecture"].as_object_mut() {
            for field in LATER_ARCHITECTURE_FIELDS {
                if architecture.get(field) == defaults.get(field) {
                    architecture.remove(field);
                }
            }
        }
        identity
    }

    /// The largest t drawn for training.
    fn t_max(&self) -> usize {
        match self.target {
            TrainingTarget::Noise => self.schedule.steps,
            TrainingTarget::CleanImage { t_max } => t_max,
        }
    }

    fn metadata(
        &self,
        step: u64,
        loss: f64,
        wall_time_s: f64,
        history: &TrainingHistory,
    ) -> WeightsMetadata {
        let (kind, dae_t_max) = match self.target {
            TrainingTarget::Noise => (ModelKind::Unet, None),
            TrainingTarget::CleanImage { t_max } => (ModelKind::Dae, Some(t_max)),
        };
        WeightsMetadata {
            kind,
            architecture: serde_json::to_value(&self.architecture).unwrap_or_default(),
            schedule: Some(self.schedule.clone()),
            dae_t_max,
            training: RunFacts {
                data_dir: &self.data_dir,
                batch: self.batch,
                learning_rate: self.learning_rate,
                seed: self.seed,
                device_label: &self.device_label,
                command: &self.command,
                ema_decay: self.ema_decay,
            }
            .record(step, loss, wall_time_s, history.clone()),
            written_by: format!("noisescope {}", env!("CARGO_PKG_VERSION")),
        }
    }

    fn validate(&self) -> Result<Schedule, TrainError> {
        self.architecture.validate().map_err(TrainError::Input)?;
        if self.architecture.image_side != IMAGE_SIDE || self.architecture.image_channels != 1 {
            return Err(TrainError::Input(format!(
                "the training data are {IMAGE_SIDE}×{IMAGE_SIDE} grayscale images"
            )));
        }
        if self.batch == 0 || self.steps == 0 {
            return Err(TrainError::Input(
                "--batch and --steps must be at least 1".into(),
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(TrainError::Input(format!(
                "--lr {} must be positive",
                self.learning_rate
            )));
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err(TrainError::Input(format!(
                "--ema {} must lie in [0, 1)",
                self.ema_decay
            )));
        }
        let schedule =
            Schedule::new(self.schedule.clone()).map_err(|e| TrainError::Input(e.to_string()))?;
        if !(1..=schedule.steps()).contains(&self.t_max()) {
            return Err(TrainError::Input(format!(
                "--t-max {} must lie in 1..={}",
                self.t_max(),
                schedule.steps()
            )));
        }
        let with_classes = self.architecture.classes > 0 && self.class_dropout < 1.0;
        if with_classes && matches!(self.target, TrainingTarget::CleanImage { .. }) {
            return Err(TrainError::Input(
                "the denoising autoencoder is asked without a class: train it without \
                 --classes, or with --class-dropout 1 (as when it starts from a \
                 class-conditioned diffusion model)"
                    .into(),
            ));
        }
        if let Some(gamma) = self.min_snr_gamma {
            if !(gamma > 0.0 && gamma.is_finite()) {
                return Err(TrainError::Input(format!(
                    "--min-snr-gamma {gamma} must be positive"
                )));
            }
            if matches!(self.target, TrainingTarget::CleanImage { .. }) {
                return Err(TrainError::Input(
                    "--min-snr-gamma weights the ε loss; the autoencoder has its own weighting"
                        .into(),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.class_dropout) {
            return Err(TrainError::Input(format!(
                "--class-dropout {} must lie in [0, 1]",
                self.class_dropout
            )));
        }
        if schedule.alpha_bar_at(self.t_max()) <= 0.0 {
            return Err(TrainError::Input(format!(
                "with zero terminal SNR ᾱ_{} = 0: a model that predicts ε (or reads its output \
                 through ε) cannot give x̂0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t there, and its samples \
                 would all be NaN; train without --zero-terminal-snr{}",
                self.t_max(),
                match self.target {
                    TrainingTarget::Noise => "",
                    TrainingTarget::CleanImage { .. } => ", or with a --t-max below T",
                }
            )));
        }
        Ok(schedule)
    }
}

/// Runs (or resumes) a training run, reporting through `report` and stopping with a checkpoint
/// when `stop` becomes true.
pub fn train_unet(
    options: &DiffusionTraining,
    stop: &AtomicBool,
    report: &mut dyn FnMut(&Progress),
) -> Result<Outcome, TrainError> {
    let schedule = options.validate()?;
    let data = LabelledImages::load(&options.data_dir, Split::Train)
        .map_err(|e| TrainError::Input(e.to_string()))?;
    let alpha_bar = schedule.alpha_bar();
    let dir = checkpoint_dir(&options.out);
    let train_device = options.device.clone().autodiff();
    let mut model = seeded_init(&train_device, options.seed, || {
        options.architecture.init(&train_device)
    });
    // The model of `--init`, read once: its weights start a new run, and a U-Net trained
    // further continues its log and grids (a resumed run too).
    let init_file = options
        .init_from
        .as_deref()
        .map(WeightsFile::read)
        .transpose()?;
    if let (Some(file), false) = (&init_file, options.resume) {
        model = initial_weights(file, options, model)?;
    }
    let earlier = init_file
        .filter(|_| options.target == TrainingTarget::Noise)
        .map(|file| file.metadata.training.history);
    let mut ema = model.valid();
    let mut optimizer = AdamConfig::new().init();
    let (mut step, mut past_s, mut recent_loss) = (0, 0.0, f64::NAN);
    let mut history = TrainingHistory::default();
    if options.resume {
        let state = checkpoint::resume_state(&dir, &options.identity())?;
        model = checkpoint::load_weights(&dir, model, false, state.step)?;
        ema = checkpoint::load_weights(&dir, ema, true, state.step)?;
        optimizer = checkpoint::load_optimizer(&dir, optimizer)?;
        (step, past_s, recent_loss) = (state.step, state.wall_time_s, state.recent_loss);
        history = state.history;
    }
    let grid_every = match options.target {
        TrainingTarget::Noise => options.grid_every,
        TrainingTarget::CleanImage { .. } => 0,
    };
    let recorder = HistoryRecorder::new(history, options.log_every, grid_every);
    let mut recorder = match (&earlier, options.resume) {
        (Some(earlier), false) => recorder.continuing(earlier),
        // The checkpoint's history already holds the earlier model's.
        (Some(earlier), true) => recorder.counting_on_from(earlier),
        (None, _) => recorder,
    };
    let cpu_kernels = cpu_kernels_enabled(&options.device);
    let mut meter = Meter::new(step);
    let mut last_saved = step;
    let save = |model: &UNet,
                ema: &UNet,
                optimizer: &ModuleOptimizer,
                step,
                loss,
                wall,
                history: &TrainingHistory| {
        let metadata = options.metadata(step, loss, wall, history);
        let state = CheckpointState {
            step,
            wall_time_s: wall,
            recent_loss: loss,
            identity: options.identity(),
            history: history.clone(),
        };
        checkpoint::save(&dir, model, Some(ema), optimizer, &metadata, &state)
    };
    while step < options.steps {
        if stop.load(Ordering::Relaxed) {
            let wall = past_s + meter.elapsed_s();
            save(
                &model,
                &ema,
                &optimizer,
                step,
                recent_loss,
                wall,
                recorder.history(),
            )?;
            return Ok(Outcome::Stopped {
                step,
                checkpoint: dir,
            });
        }
        let batch = noisy_batch(&data, &schedule, options, step);
        let (loss_value, grads) = if cpu_kernels {
            cpu_step(&model, &batch, options, &alpha_bar, step)
        } else {
            burn_step(&model, &batch, options, &alpha_bar, (&train_device, step))
        };
        if !loss_value.is_finite() {
            let kept = if last_saved > 0 || options.resume {
                format!(
                    "The last checkpoint (step {last_saved}) is kept in {}.",
                    dir.display()
                )
            } else {
                "No checkpoint had been saved yet.".to_owned()
            };
            return Err(TrainError::NonFinite {
                step: step + 1,
                loss: loss_value,
                kept,
            });
        }
        let decay = options.lr_decay.factor(options.warmup, options.steps, step);
        let lr = learning_rate(options.learning_rate, options.warmup, step) * decay;
        model = optimizer.step(lr, model, grads);
        step += 1;
        let decay = options
            .ema_decay
            .min((1.0 + step as f64) / (10.0 + step as f64));
        ema = update_ema(ema, &model, decay);
        meter.add(loss_value);
        recorder.add_loss(loss_value);
        if step % options.report_every.max(1) == 0 || step == options.steps {
            let progress = meter.report(step, options.steps, options.batch);
            recent_loss = progress.loss;
            report(&progress);
        }
        let facts = StepFacts {
            step,
            learning_rate: lr,
            images_per_s: meter.images_per_s(step, options.batch),
            wall_time_s: past_s + meter.elapsed_s(),
        };
        recorder.log_if_due(&facts, options.steps);
        if recorder.grid_due(step, options.steps) {
            recorder.add_grid(sample_grid(&ema, options, &schedule, step)?);
        }
        if options.checkpoint_every > 0 && step % options.checkpoint_every == 0 {
            let wall = past_s + meter.elapsed_s();
            save(
                &model,
                &ema,
                &optimizer,
                step,
                recent_loss,
                wall,
                recorder.history(),
            )?;
            last_saved = step;
        }
    }
    let wall = past_s + meter.elapsed_s();
    let history = recorder.history();
    save(&model, &ema, &optimizer, step, recent_loss, wall, history)?;
    save_module(
        &ema,
        &options.metadata(step, recent_loss, wall, history),
        &options.out,
    )?;
    Ok(Outcome::Finished {
        path: options.out.clone(),
        final_loss: recent_loss,
        wall_time_s: wall,
    })
}

/// Images in each sample grid of a run's history.
pub const GRID_IMAGES: usize = 16;

/// The seed of every grid's noise, so that grids of different steps start from the same x_T.
const GRID_SEED: u64 = 0;

/// Samples [`GRID_IMAGES`] images ("any class") from the averaged weights `ema` with the app's
/// default sampler.
fn sample_grid(
    ema: &UNet,
    options: &DiffusionTraining,
    schedule: &Schedule,
    step: u64,
) -> Result<SampleGrid, TrainError> {
    let network = InferenceUNet::new(ema.clone(), &options.architecture, &options.device);
    let shape = [GRID_IMAGES, 1, IMAGE_SIDE, IMAGE_SIDE];
    let config = SamplerConfig::app_default();
    let sampler = Sampler::from_noise(
        &network,
        schedule,
        config,
        shape,
        GRID_SEED,
        &options.device,
    )
    .map_err(TrainError::Input)?;
    let images = tensor_to_vec(sampler.finish().reshape([GRID_IMAGES, IMAGE_PIXELS]));
    SampleGrid::encode(step, &images).map_err(TrainError::Input)
}

/// Loads the starting weights of `--init` from `file`, refusing another architecture or
/// schedule.
fn initial_weights(
    file: &WeightsFile,
    options: &DiffusionTraining,
    model: UNet,
) -> Result<UNet, TrainError> {
    file.expect_kind(ModelKind::Unet)?;
    let refuse = |what: &str| {
        TrainError::Input(format!(
            "{}: its {what} differs from this run's, so it cannot be the starting point",
            file.path.display()
        ))
    };
    let architecture: UNetConfig = file.architecture(&UNetConfig::new())?;
    if serde_json::to_value(&architecture).ok() != serde_json::to_value(&options.architecture).ok()
    {
        return Err(refuse("architecture"));
    }
    if file.metadata.schedule.as_ref() != Some(&options.schedule) {
        return Err(refuse("schedule"));
    }
    Ok(file.load_into(model)?)
}

/// One training batch, `[B, 1, H, W]` images flattened.
struct NoisyBatch {
    x0: Vec<f32>,
    x_t: Vec<f32>,
    noise: Vec<f32>,
    t: Vec<usize>,
    /// Where the noise-level embedding sits for each image.
    positions: Vec<f64>,
    /// Each image's class, or none (an unconditional network, or the label dropped).
    classes: Vec<Option<usize>>,
}

impl NoisyBatch {
    fn tensor(&self, values: &[f32], device: &Device) -> Tensor<4> {
        let shape = [self.t.len(), 1, IMAGE_SIDE, IMAGE_SIDE];
        Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
    }
}

/// Draws the batch of step `step`: images x0, steps t ~ U{1..len(alpha_bar)}, noise ε, and
/// x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε, computed on the host in f64 coefficients.
fn noisy_batch(
    data: &LabelledImages,
    schedule: &Schedule,
    options: &DiffusionTraining,
    step: u64,
) -> NoisyBatch {
    let alpha_bar = &schedule.alpha_bar()[..options.t_max()];
    let mut rng = step_rng(options.seed, step);
    let b = options.batch;
    let indices: Vec<usize> = (0..b).map(|_| rng.random_range(0..data.len())).collect();
    let t: Vec<usize> = (0..b)
        .map(|_| rng.random_range(1..=alpha_bar.len()))
        .collect();
    let x0 = data.batch(&indices);
    let noise: Vec<f32> = (0..b * IMAGE_PIXELS)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let x_t: Vec<f32> = x0
        .chunks(IMAGE_PIXELS)
        .zip(noise.chunks(IMAGE_PIXELS))
        .zip(&t)
        .flat_map(|((x, e), &t)| {
            let a = alpha_bar[t - 1];
            let (signal, sigma) = (a.sqrt() as f32, (1.0 - a).sqrt() as f32);
            x.iter().zip(e).map(move |(x, e)| signal * x + sigma * e)
        })
        .collect();
    let noise_input = options.architecture.noise_input;
    let log_snr = schedule.log_snr();
    let positions = t
        .iter()
        .map(|&t| noise_input.position(t, log_snr[t - 1]))
        .collect();
    // Drawn after everything else, so an unconditional run draws the batches it always did.
    let classes = indices
        .iter()
        .map(|&i| {
            let conditioned =
                options.architecture.classes > 0 && rng.random::<f64>() >= options.class_dropout;
            conditioned.then(|| data.label(i))
        })
        .collect();
    NoisyBatch {
        x0,
        x_t,
        noise,
        t,
        positions,
        classes,
    }
}

/// Min-SNR-γ's weight of the ε loss at a step with ᾱ `alpha_bar`: min(SNR, γ)/SNR.
fn min_snr_weight(alpha_bar: f64, gamma: f64) -> f64 {
    let snr = alpha_bar / (1.0 - alpha_bar);
    snr.min(gamma) / snr
}

/// [`min_snr_weight`] per image, as a `[B, 1, 1, 1]` tensor.
fn min_snr_weights(t: &[usize], alpha_bar: &[f64], gamma: f64, device: &Device) -> Tensor<4> {
    let values: Vec<f32> = t
        .iter()
        .map(|&t| min_snr_weight(alpha_bar[t - 1], gamma) as f32)
        .collect();
    Tensor::from_data(TensorData::new(values, [t.len(), 1, 1, 1]), device)
}

/// The seed of step `step`'s dropout masks: derived from the run's seed and the step, so a
/// resumed run draws the masks an uninterrupted one would.
fn dropout_seed(seed: u64, step: u64) -> u64 {
    seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ step
}

/// Loss and gradients of one step through burn's autodiff (any device); dropout is drawn from
/// the device's generator, seeded for the step.
fn burn_step(
    model: &UNet,
    batch: &NoisyBatch,
    options: &DiffusionTraining,
    alpha_bar: &[f64],
    (device, step): (&Device, u64),
) -> (f64, GradientsParams) {
    device.seed(dropout_seed(options.seed, step));
    let x_t = batch.tensor(&batch.x_t, device);
    let loss = match options.target {
        TrainingTarget::Noise => {
            let error = (model.forward_conditioned(x_t, &batch.positions, &batch.classes)
                - batch.tensor(&batch.noise, device))
            .square();
            match options.min_snr_gamma {
                Some(gamma) => (error * min_snr_weights(&batch.t, alpha_bar, gamma, device)).mean(),
                None => error.mean(),
            }
        }
        TrainingTarget::CleanImage { .. } => {
            let out = model.forward_conditioned(x_t.clone(), &batch.positions, &batch.classes);
            let x0_hat = dae_clean_estimate(x_t, out, &batch.t, alpha_bar);
            let weights = dae_loss_weights(&batch.t, alpha_bar, device);
            ((x0_hat - batch.tensor(&batch.x0, device)).square() * weights).mean()
        }
    };
    let loss_value = f64::from(loss.clone().into_scalar::<f32>());
    (
        loss_value,
        GradientsParams::from_grads(loss.backward(), model),
    )
}

/// Loss and gradients of one step through the project's CPU kernels ([`CpuUNet`]): the same
/// loss as [`burn_step`], its gradient with respect to the network's output written out.
fn cpu_step(
    model: &UNet,
    batch: &NoisyBatch,
    options: &DiffusionTraining,
    alpha_bar: &[f64],
    step: u64,
) -> (f64, GradientsParams) {
    let network = CpuUNet::new(model, &options.architecture);
    let count = batch.x_t.len() as f64;
    let image = |i: usize| i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS;
    let loss = |i: usize, out: &[f32]| -> (f64, Vec<f32>) {
        let (target, weight, gain, offset) = match options.target {
            // L = mean w (F − ε)², w = 1 or Min-SNR-γ's.
            TrainingTarget::Noise => {
                let weight = options.min_snr_gamma.map_or(1.0, |gamma| {
                    min_snr_weight(alpha_bar[batch.t[i] - 1], gamma)
                });
                (&batch.noise[image(i)], weight, 1.0, None)
            }
            // x̂0 = a·x_t + b·F, L = mean w (x̂0 − x0)².
            TrainingTarget::CleanImage { .. } => {
                let alpha = alpha_bar[batch.t[i] - 1];
                let weight = alpha / (1.0 - alpha);
                let from_xt = 1.0 / alpha.sqrt();
                let from_out = -((1.0 - alpha) / alpha).sqrt();
                (
                    &batch.x0[image(i)],
                    weight,
                    from_out,
                    Some((from_xt, &batch.x_t[image(i)])),
                )
            }
        };
        let mut sum = 0.0f64;
        let gradient = out
            .iter()
            .enumerate()
            .map(|(p, &f)| {
                let prediction = match offset {
                    Some((from_xt, x_t)) => from_xt * f64::from(x_t[p]) + gain * f64::from(f),
                    None => f64::from(f),
                };
                let error = prediction - f64::from(target[p]);
                sum += weight * error * error;
                (2.0 * weight * error * gain / count) as f32
            })
            .collect();
        (sum / count, gradient)
    };
    let seed = dropout_seed(options.seed, step);
    let conditions = (batch.positions.as_slice(), batch.classes.as_slice());
    let (loss_value, grads) = network.gradients_conditioned(&batch.x_t, conditions, seed, &loss);
    (
        loss_value,
        CpuUNet::gradients_params(model, &grads, &options.device),
    )
}

#[cfg(test)]
mod tests {
    use burn::module::{ModuleVisitor, Param, ParamId};

    use super::*;
    use crate::schedule::ScheduleKind;

    fn options(target: TrainingTarget) -> DiffusionTraining {
        DiffusionTraining {
            data_dir: PathBuf::new(),
            schedule: ScheduleSpec::new(ScheduleKind::Cosine),
            architecture: UNetConfig::new()
                .with_base_channels(8)
                .with_channel_multipliers(vec![1, 2])
                .with_norm_groups(4)
                .with_attention_resolutions(vec![14])
                .with_dropout(0.0),
            target,
            init_from: None,
            steps: 1,
            batch: 3,
            learning_rate: 1e-3,
            warmup: 0,
            ema_decay: 0.9,
            class_dropout: 0.1,
            lr_decay: LrDecay::None,
            min_snr_gamma: None,
            seed: 0,
            out: PathBuf::new(),
            checkpoint_every: 0,
            report_every: 1,
            log_every: 0,
            grid_every: 0,
            resume: false,
            device: Device::flex(),
            device_label: "test".to_owned(),
            command: "test".to_owned(),
        }
    }

    fn batch() -> NoisyBatch {
        let values = |phase: f32| -> Vec<f32> {
            (0..3 * IMAGE_PIXELS)
                .map(|i| (i as f32 * 0.61 + phase).sin())
                .collect()
        };
        NoisyBatch {
            x0: values(0.0),
            x_t: values(1.0),
            noise: values(2.0),
            t: vec![2, 40, 170],
            positions: vec![2.0, 40.0, 170.0],
            classes: vec![None; 3],
        }
    }

    #[derive(Default)]
    struct Ids(Vec<(ParamId, usize)>);

    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, D));
        }
    }

    fn flat(grads: &GradientsParams, id: ParamId, rank: usize) -> Vec<f32> {
        let values = match rank {
            1 => grads.get::<1>(id).map(Tensor::into_data),
            2 => grads.get::<2>(id).map(Tensor::into_data),
            _ => grads.get::<4>(id).map(Tensor::into_data),
        };
        values
            .expect("a gradient")
            .try_into_vec::<f32>()
            .expect("f32")
    }

    #[test]
    fn the_cpu_step_computes_the_burn_steps_loss_and_gradients() {
        let alpha_bar = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine))
            .expect("valid")
            .alpha_bar();
        for (target, gamma) in [
            (TrainingTarget::Noise, None),
            (TrainingTarget::Noise, Some(5.0)),
            (TrainingTarget::CleanImage { t_max: 200 }, None),
        ] {
            let mut options = options(target);
            options.min_snr_gamma = gamma;
            let device = options.device.clone().autodiff();
            let model = seeded_init(&device, 3, || options.architecture.init(&device));
            let batch = batch();
            let (burn_loss, burn_grads) =
                burn_step(&model, &batch, &options, &alpha_bar, (&device, 0));
            let (cpu_loss, cpu_grads) = cpu_step(&model, &batch, &options, &alpha_bar, 0);
            assert!(
                (burn_loss - cpu_loss).abs() < 1e-5 * burn_loss.abs(),
                "{target:?}: loss {cpu_loss} against burn's {burn_loss}"
            );
            let mut ids = Ids::default();
            model.visit(&mut ids);
            for (id, rank) in ids.0 {
                let (ours, theirs) = (flat(&cpu_grads, id, rank), flat(&burn_grads, id, rank));
                let scale = theirs.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                for (a, b) in ours.iter().zip(&theirs) {
                    assert!(
                        (a - b).abs() < 1e-4 * scale,
                        "{target:?}: gradient {a} against burn's {b}"
                    );
                }
            }
        }
    }

    /// 64 patterned images of classes 0–9 in IDX files in a temporary folder.
    fn labelled_images() -> (tempfile::TempDir, LabelledImages) {
        let dir = tempfile::tempdir().expect("temp dir");
        let count = 64u32;
        let mut images = vec![0, 0, 8, 3];
        for v in [count, 28, 28] {
            images.extend_from_slice(&v.to_be_bytes());
        }
        images.extend((0..count as usize * IMAGE_PIXELS).map(|p| (p % 251) as u8));
        let mut labels = vec![0, 0, 8, 1];
        labels.extend_from_slice(&count.to_be_bytes());
        labels.extend((0..count as u8).map(|i| i % 10));
        std::fs::write(dir.path().join("train-images-idx3-ubyte"), images).expect("write");
        std::fs::write(dir.path().join("train-labels-idx1-ubyte"), labels).expect("write");
        let data = LabelledImages::load(dir.path(), Split::Train).expect("data");
        (dir, data)
    }

    #[test]
    fn an_unconditional_step_runs_identity_reads_as_before_conditioning_existed() {
        let plain = options(TrainingTarget::Noise).identity();
        let architecture = plain["architecture"].as_object().expect("an object");
        for field in LATER_ARCHITECTURE_FIELDS {
            assert!(!architecture.contains_key(field), "{field} in {plain}");
        }
        let mut conditioned = options(TrainingTarget::Noise);
        conditioned.architecture = conditioned
            .architecture
            .with_classes(10)
            .with_noise_input(crate::model::NoiseInput::LogSnr);
        let identity = conditioned.identity();
        assert_eq!(identity["architecture"]["classes"], 10);
        assert_eq!(identity["architecture"]["noise_input"], "LogSnr");
    }

    #[test]
    fn the_learning_rate_decays_to_zero_after_the_warm_up_and_min_snr_caps_the_weight() {
        for decay in [LrDecay::Cosine, LrDecay::Linear] {
            assert_eq!(decay.factor(100, 1100, 50), 1.0, "warming up");
            assert_eq!(decay.factor(100, 1100, 100), 1.0);
            assert!(
                (decay.factor(100, 1100, 600) - 0.5).abs() < 1e-12,
                "half way"
            );
            assert_eq!(decay.factor(100, 1100, 1100), 0.0);
        }
        assert!((LrDecay::Cosine.factor(0, 1000, 250) - 0.853_553_390_593).abs() < 1e-9);
        assert_eq!(LrDecay::None.factor(0, 1000, 999), 1.0);
        // SNR = 9 > γ = 5: 5/9; SNR = 1 < γ: 1.
        assert!((min_snr_weight(0.9, 5.0) - 5.0 / 9.0).abs() < 1e-12);
        assert!((min_snr_weight(0.5, 5.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn conditioned_batches_carry_classes_and_log_snr_positions_and_keep_the_images() {
        let (_dir, data) = labelled_images();
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("valid");
        let mut plain = options(TrainingTarget::Noise);
        plain.batch = 400;
        let mut conditioned = plain.clone();
        conditioned.architecture = conditioned
            .architecture
            .with_classes(10)
            .with_noise_input(crate::model::NoiseInput::LogSnr);
        conditioned.class_dropout = 0.25;
        let a = noisy_batch(&data, &schedule, &plain, 3);
        let b = noisy_batch(&data, &schedule, &conditioned, 3);
        assert_eq!(
            (a.t.clone(), a.x_t.clone()),
            (b.t.clone(), b.x_t.clone()),
            "same images"
        );
        assert!(a.classes.iter().all(Option::is_none), "unconditional");
        assert!(a.t.iter().zip(&a.positions).all(|(&t, &p)| p == t as f64));
        let dropped = b.classes.iter().filter(|c| c.is_none()).count();
        assert!(
            (60..=140).contains(&dropped),
            "{dropped} of 400 dropped at 25 %"
        );
        assert!(b.classes.iter().flatten().all(|&c| c < 10));
        let log_snr = schedule.log_snr();
        for (&t, &p) in b.t.iter().zip(&b.positions) {
            let expected = crate::model::NoiseInput::LogSnr.position(t, log_snr[t - 1]);
            assert_eq!(p, expected);
        }
    }

    #[test]
    fn the_cpu_steps_dropout_follows_the_run_seed_and_the_step() {
        // burn's path draws its masks from the device's generator, seeded per step; other tests
        // in this process draw from it too, so that path is checked in a process of its own
        // (tests/cli.rs, a resumed run on burn's operations).
        let alpha_bar = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine))
            .expect("valid")
            .alpha_bar();
        let mut options = options(TrainingTarget::Noise);
        options.architecture = options.architecture.with_dropout(0.5);
        let device = options.device.clone().autodiff();
        let model = seeded_init(&device, 3, || options.architecture.init(&device));
        let batch = batch();
        let loss = |step| cpu_step(&model, &batch, &options, &alpha_bar, step).0;
        let (first, again, next) = (loss(7), loss(7), loss(8));
        assert_eq!(first, again, "the same step draws the same masks");
        assert_ne!(first, next, "another step draws other masks");
    }
}
