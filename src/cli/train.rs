//! `noisescope train` and `noisescope train-classifier`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::{DeviceArg, ScheduleShapeArgs, parse_kind};
use crate::model::{ClassifierConfig, NoiseInput, UNetConfig, load_classifier, parameter_count};
use crate::schedule::{ScheduleKind, ScheduleSpec};
use crate::train::{
    ClassifierTraining, DiffusionTraining, LrDecay, Outcome, Progress, TrainingTarget,
    classifier_accuracy, train_classifier, train_unet,
};

/// The schedule of a model (T is `--timesteps`, since `--steps` counts training steps).
#[derive(Debug, Args)]
pub struct ModelScheduleArgs {
    /// T, the number of diffusion steps.
    #[arg(long, default_value_t = 1000)]
    pub timesteps: usize,
    /// The β range, cosine offset and terminal SNR.
    #[command(flatten)]
    pub shape: ScheduleShapeArgs,
}

impl ModelScheduleArgs {
    /// The schedule these options describe for `kind`.
    pub fn spec(&self, kind: ScheduleKind) -> ScheduleSpec {
        self.shape.spec(kind, self.timesteps)
    }
}

/// The U-Net's architecture options.
#[derive(Debug, Args)]
pub struct ArchitectureArgs {
    /// Channels of the first level.
    #[arg(long, default_value_t = 32)]
    pub channels: usize,
    /// Channel multiplier per level, e.g. 1,2,2 (28 → 14 → 7 pixels).
    #[arg(long, value_delimiter = ',', default_value = "1,2,2")]
    pub multipliers: Vec<usize>,
    /// Residual blocks per level.
    #[arg(long, default_value_t = 1)]
    pub blocks: usize,
    /// Resolutions with self-attention, e.g. 7.
    #[arg(long, value_delimiter = ',', default_value = "7")]
    pub attention: Vec<usize>,
    /// Dropout inside residual blocks.
    #[arg(long, default_value_t = 0.1)]
    pub dropout: f64,
    /// Condition on the ten Fashion-MNIST classes (0: unconditional).
    #[arg(long, default_value_t = 0)]
    pub classes: usize,
    /// With --classes: the share of images shown without their class, so that the network
    /// also learns the unconditional model that classifier-free guidance needs.
    #[arg(long, default_value_t = 0.1)]
    pub class_dropout: f64,
    /// What the network is told of the noise level: the step t, or the log-SNR λ_t (then it
    /// can sample under other schedules within its trained λ range).
    #[arg(long, value_enum, default_value_t = NoiseInputArg::Step)]
    pub noise_input: NoiseInputArg,
}

/// How the learning rate falls, on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LrDecayArg {
    /// It stays at --lr.
    None,
    /// Half a cosine down to zero.
    Cosine,
    /// A straight line down to zero.
    Linear,
}

/// What the noise-level embedding encodes, on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum NoiseInputArg {
    /// The step t.
    Step,
    /// The log-SNR λ_t.
    Logsnr,
}

impl ArchitectureArgs {
    fn config(&self) -> UNetConfig {
        UNetConfig::new()
            .with_base_channels(self.channels)
            .with_channel_multipliers(self.multipliers.clone())
            .with_blocks_per_level(self.blocks)
            .with_attention_resolutions(self.attention.clone())
            .with_dropout(self.dropout)
            .with_classes(self.classes)
            .with_noise_input(match self.noise_input {
                NoiseInputArg::Step => NoiseInput::Step,
                NoiseInputArg::Logsnr => NoiseInput::LogSnr,
            })
    }
}

/// Options of `noisescope train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder with Fashion-MNIST's IDX files (train-images-idx3-ubyte[.gz], …).
    #[arg(long)]
    pub data: PathBuf,
    /// The schedule: linear, cosine, scaled-linear, sigmoid.
    #[arg(long, value_parser = parse_kind)]
    pub schedule: ScheduleKind,
    /// The schedule's parameters.
    #[command(flatten)]
    pub schedule_args: ModelScheduleArgs,
    /// The network.
    #[command(flatten)]
    pub architecture: ArchitectureArgs,
    /// Total optimiser steps (a resumed run continues up to this count).
    #[arg(long)]
    pub steps: u64,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    /// Steps of linear learning-rate warm-up.
    #[arg(long, default_value_t = 200)]
    pub warmup: u64,
    /// How the learning rate falls after the warm-up, to zero at the last step.
    #[arg(long, value_enum, default_value_t = LrDecayArg::None)]
    pub lr_decay: LrDecayArg,
    /// Weight the ε loss by min(SNR, γ)/SNR (Min-SNR-γ, Hang et al. 2023; 5 is theirs).
    #[arg(long)]
    pub min_snr_gamma: Option<f64>,
    /// Decay of the exponential moving average that is written to --out.
    #[arg(long, default_value_t = 0.999)]
    pub ema: f64,
    /// Seed of everything random in the run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The weights file to write; checkpoints go to FILE.checkpoint/.
    #[arg(long)]
    pub out: PathBuf,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: u64,
    /// Steps between entries of the training log kept in the weights file (0: none).
    #[arg(long, default_value_t = 100)]
    pub log_every: u64,
    /// Steps between grids of samples (fixed seeds, the app's default sampler) kept in the
    /// weights file, so the app can show the model as it learned (0: none; not for the DAE).
    #[arg(long, default_value_t = 500)]
    pub grid_every: u64,
    /// Start from a model's weights (same architecture and schedule), e.g. to train a
    /// finished model further at another learning rate (give it again with --resume).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Continue from the checkpoint beside --out.
    #[arg(long)]
    pub resume: bool,
    /// cpu or gpu (wgpu).
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// Options of `noisescope train-dae`: those of `train`, and the DAE's noise range.
#[derive(Debug, Args)]
pub struct TrainDaeArgs {
    /// The run, as for `noisescope train`.
    #[command(flatten)]
    pub train: TrainArgs,
    /// The largest step t the DAE learns to denoise (default: 25 % of T).
    #[arg(long)]
    pub t_max: Option<usize>,
}

/// Options of `noisescope train-classifier`.
#[derive(Debug, Args)]
pub struct TrainClassifierArgs {
    /// Folder with Fashion-MNIST's IDX files (train and t10k).
    #[arg(long)]
    pub data: PathBuf,
    /// Total optimiser steps.
    #[arg(long, default_value_t = 3000)]
    pub steps: u64,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The weights file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the checkpoint beside --out.
    #[arg(long)]
    pub resume: bool,
    /// cpu or gpu (wgpu).
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// Runs `noisescope train`.
pub fn run_train(args: &TrainArgs, out: &mut impl Write) -> anyhow::Result<()> {
    run_diffusion_training(args, TrainingTarget::Noise, args.init.clone(), out)
}

/// Runs `noisescope train-dae`.
pub fn run_train_dae(args: &TrainDaeArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let steps = args.train.schedule_args.timesteps;
    let t_max = args.t_max.unwrap_or(steps.div_ceil(4));
    writeln!(
        out,
        "denoising autoencoder for t ≤ {t_max} ({:.1} % of T = {steps})",
        100.0 * t_max as f64 / steps as f64
    )?;
    let target = TrainingTarget::CleanImage { t_max };
    run_diffusion_training(&args.train, target, args.train.init.clone(), out)
}

fn run_diffusion_training(
    args: &TrainArgs,
    target: TrainingTarget,
    init_from: Option<PathBuf>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (device, device_label) = args.device.open()?;
    let architecture = args.architecture.config();
    if let Err(reason) = architecture.validate() {
        bail!("invalid architecture: {reason}");
    }
    let params = parameter_count(&architecture.init(&device));
    writeln!(
        out,
        "U-Net: {params} parameters, {:.1} MFLOP per image and evaluation; training on {device_label}",
        architecture.flops_per_image() as f64 / 1e6
    )?;
    let options = DiffusionTraining {
        data_dir: args.data.clone(),
        schedule: args.schedule_args.spec(args.schedule),
        architecture,
        target,
        init_from,
        steps: args.steps,
        batch: args.batch,
        learning_rate: args.lr,
        warmup: args.warmup,
        ema_decay: args.ema,
        class_dropout: args.architecture.class_dropout,
        lr_decay: match args.lr_decay {
            LrDecayArg::None => LrDecay::None,
            LrDecayArg::Cosine => LrDecay::Cosine,
            LrDecayArg::Linear => LrDecay::Linear,
        },
        min_snr_gamma: args.min_snr_gamma,
        seed: args.seed,
        out: args.out.clone(),
        checkpoint_every: args.checkpoint_every,
        report_every: 10,
        log_every: args.log_every,
        grid_every: args.grid_every,
        resume: args.resume,
        device,
        device_label,
        command: command_line(),
    };
    let stop = stop_on_ctrl_c();
    let mut bar = ProgressLine::new();
    let outcome = train_unet(&options, &stop, &mut |p| bar.show(p));
    bar.finish();
    report_outcome(outcome?, out)
}

/// Runs `noisescope train-classifier`, then prints the test accuracy.
pub fn run_train_classifier(
    args: &TrainClassifierArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (device, device_label) = args.device.open()?;
    let options = ClassifierTraining {
        data_dir: args.data.clone(),
        architecture: ClassifierConfig::new(),
        steps: args.steps,
        batch: args.batch,
        learning_rate: args.lr,
        seed: args.seed,
        out: args.out.clone(),
        report_every: 20,
        resume: args.resume,
        device: device.clone(),
        device_label,
        command: command_line(),
    };
    let stop = stop_on_ctrl_c();
    let mut bar = ProgressLine::new();
    let outcome = train_classifier(&options, &stop, &mut |p| bar.show(p));
    bar.finish();
    let finished = matches!(outcome, Ok(Outcome::Finished { .. }));
    report_outcome(outcome?, out)?;
    if finished {
        let test = crate::data::LabelledImages::load(&args.data, crate::data::Split::Test)?;
        let model = load_classifier(&args.out, &device)?;
        let accuracy = classifier_accuracy(&model, &test, &device);
        writeln!(
            out,
            "test accuracy: {:.2} % on {} images",
            100.0 * accuracy,
            test.len()
        )?;
    }
    Ok(())
}

fn report_outcome(outcome: Outcome, out: &mut impl Write) -> anyhow::Result<()> {
    match outcome {
        Outcome::Finished {
            path,
            final_loss,
            wall_time_s,
        } => writeln!(
            out,
            "wrote {} (final loss {final_loss:.5}, {wall_time_s:.0} s of training)",
            path.display()
        )?,
        Outcome::Stopped { step, checkpoint } => {
            writeln!(
                out,
                "stopped at step {step}; checkpoint saved in {} (continue with --resume)",
                checkpoint.display()
            )?;
            return Err(super::Interrupted.into());
        }
    }
    Ok(())
}

/// A flag raised by Ctrl-C, so that a training loop can save a checkpoint and stop; a second
/// Ctrl-C quits at once.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let sigint = signal_hook::consts::SIGINT;
    let installed =
        signal_hook::flag::register_conditional_shutdown(sigint, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sigint, Arc::clone(&stop)));
    if let Err(error) = installed {
        eprintln!("note: Ctrl-C will not save a checkpoint ({error})");
    }
    stop
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// One progress line, rewritten in place on a terminal and appended otherwise (logs).
struct ProgressLine {
    terminal: bool,
}

impl ProgressLine {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, p: &Progress) {
        let line = format!(
            "step {}/{} ({:.1} %) · loss {:.5} · {:.1} images/s · ETA {}",
            p.step,
            p.total,
            100.0 * p.step as f64 / p.total.max(1) as f64,
            p.loss,
            p.images_per_s,
            format_duration(p.eta_s)
        );
        if self.terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".into();
    }
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
