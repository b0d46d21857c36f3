//! The command line: `noisescope` with no subcommand opens the app. Subcommands: `schedule`,
//! `daed-switch` and `forward` (schedules and forward noising), `train`, `train-dae` and
//! `train-classifier` (the networks), `sample`, `fid`, `evaluate` and `bench` (sampling, its
//! quality and speed), `recon`, `daed` and `daed-sweep` (the analyses).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

mod bench;
mod daed;
mod export;
mod gif;
mod per_class;
mod quality;
mod recon;
mod sample;
mod toy;
mod toy_plot;
mod train;

pub use bench::BenchArgs;
pub use daed::{DaedArgs, DaedModelArgs, DaedSweepArgs};
pub use export::ExportArgs;
pub use gif::{GifCommand, GifForwardArgs, GifOptions, GifReverseArgs};
pub use quality::{EvaluateArgs, FidArgs, fid_between, sample_many};

pub use recon::{ReconArgs, run_recon};
pub use sample::{ModelChoice, SampleArgs, SamplerArgs, save_grid};
pub use toy::ToyArgs;
pub use train::{
    ArchitectureArgs, ModelScheduleArgs, TrainArgs, TrainClassifierArgs, TrainDaeArgs,
};

use crate::data::{IMAGE_SIDE, load_user_image, to_bytes};
use crate::diffusion::{ForwardMode, forward_all_steps, tensor_to_vec};
use crate::schedule::{
    DiffusersConfig, SanityReport, Schedule, ScheduleKind, ScheduleSpec, daed_switch,
};

/// Noisescope: an explorer of denoising diffusion models.
#[derive(Debug, Parser)]
#[command(name = "noisescope", version, about, long_about = None)]
pub struct Cli {
    /// What to do; without one, the app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a schedule's per-step table (t = 1..T).
    Schedule {
        /// linear, cosine, scaled-linear, sigmoid or linear-combine.
        #[arg(value_parser = parse_kind, required_unless_present = "from_config")]
        kind: Option<ScheduleKind>,
        /// The schedule's parameters.
        #[command(flatten)]
        params: ScheduleArgs,
        /// Read the schedule from a diffusers scheduler_config.json instead (it gives every
        /// parameter; fields that belong to a sampler or a network are noted on stderr).
        #[arg(long, conflicts_with = "kind")]
        from_config: Option<PathBuf>,
        /// csv (header t,beta,alpha_bar,log_snr,posterior_variance), json, or
        /// diffusers-config (a scheduler_config.json diffusers reads as this schedule).
        #[arg(long, value_enum, default_value_t = ScheduleFormat::Csv)]
        format: ScheduleFormat,
    },
    /// Print DAED's automatic switching point: the t whose ᾱ_t is closest to 1 − β1.
    ///
    /// JSON fields: t (1-based), alpha_bar, log_snr, and steps_left = T − t, the reverse steps
    /// the diffusion model still runs before the denoising autoencoder takes over.
    DaedSwitch {
        /// The schedule of the diffusion model.
        #[arg(long, value_parser = parse_kind)]
        schedule: ScheduleKind,
        /// The schedule's parameters.
        #[command(flatten)]
        params: ScheduleArgs,
    },
    /// Write x_t of an image at chosen steps as PNG files (t250.png, …, and original.png).
    Forward {
        /// The image (PNG, JPEG, GIF, BMP, WebP, TIFF, PNM); converted to 28×28 grayscale.
        #[arg(long)]
        image: PathBuf,
        /// The schedule.
        #[arg(long, value_parser = parse_kind)]
        schedule: ScheduleKind,
        /// The schedule's parameters.
        #[command(flatten)]
        params: ScheduleArgs,
        /// Comma-separated 1-based steps, e.g. 1,250,500,1000.
        #[arg(long, value_delimiter = ',', required = true)]
        t: Vec<usize>,
        /// Seed of the noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// closed-form or markov-chain.
        #[arg(long, value_enum, default_value_t = ModeArg::ClosedForm)]
        mode: ModeArg,
        /// Where the tensors are computed.
        #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
        device: DeviceArg,
        /// Enlarge each pixel to N×N in the written files.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
        scale: u32,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// The forward or reverse process as an animated GIF (exactly --frames frames).
    #[command(subcommand)]
    Gif(GifCommand),
    /// A scene saved by the app (Scenes…) as a PNG or a GIF, computed as the app does it.
    Export(Box<ExportArgs>),
    /// Train an ε-prediction U-Net on IDX images (checkpoints, --resume, Ctrl-C saves).
    Train(Box<TrainArgs>),
    /// Train DAED's denoising autoencoder (x0-prediction for t ≤ --t-max), options as `train`.
    TrainDae(Box<TrainDaeArgs>),
    /// Train the Fashion-MNIST classifier used by `fid` and the quality checks.
    TrainClassifier(TrainClassifierArgs),
    /// Generate images with a trained U-Net (DDPM or DDIM); --frames keeps every step.
    Sample(Box<SampleArgs>),
    /// FID-style distance between two image sets (folders, test-set or train-set).
    Fid(FidArgs),
    /// Sample N images and report FID to the test set, the FID floor and classifier confidence.
    Evaluate(Box<EvaluateArgs>),
    /// Time the U-Net and the DDPM sampler for batch sizes 1, 16 and 64.
    Bench(BenchArgs),
    /// Reconstruction error per step: noise images to x_t, run the reverse chain back, compare.
    Recon(Box<ReconArgs>),
    /// DAED samples: the diffusion model down to step s, then the autoencoder in one call.
    Daed(Box<DaedArgs>),
    /// FID against s for DAED, the diffusion model's one-shot x̂0 at s, and the full chain.
    DaedSweep(Box<DaedSweepArgs>),
    /// The 2D playground from the command line: train a small MLP on 2D points, sample, and
    /// measure the energy distance to the data.
    Toy(Box<ToyArgs>),
}

/// Parameters shared by every schedule kind; each kind reads the ones it uses.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// T, the number of diffusion steps (2–10000).
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// The β range, cosine offset and terminal SNR.
    #[command(flatten)]
    pub shape: ScheduleShapeArgs,
    /// β1: linear-combine's first β, and daed-switch's DAE noise level.
    #[arg(long)]
    pub beta1: Option<f64>,
}

impl ScheduleArgs {
    fn build(&self, kind: ScheduleKind) -> anyhow::Result<Schedule> {
        let mut spec = self.shape.spec(kind, self.steps);
        if let Some(beta1) = self.beta1 {
            spec.beta1 = beta1;
        }
        let schedule = Schedule::new(spec)?;
        for warning in SanityReport::of(&schedule).warnings {
            eprintln!("warning: {warning}");
        }
        Ok(schedule)
    }
}

/// The options that shape a schedule of any T: the β range, the cosine offset and the terminal
/// SNR (`schedule` and `daed-switch` give T as `--steps`, `train` as `--timesteps`).
#[derive(Debug, Args)]
pub struct ScheduleShapeArgs {
    /// β at t = 1 (linear, scaled-linear, sigmoid, linear-combine).
    #[arg(long, default_value_t = 1e-4)]
    pub beta_start: f64,
    /// β at t = T (linear, scaled-linear, sigmoid, linear-combine).
    #[arg(long, default_value_t = 0.02)]
    pub beta_end: f64,
    /// The cosine schedule's offset s.
    #[arg(long, default_value_t = 0.008)]
    pub cosine_s: f64,
    /// Rescale to zero terminal SNR (Lin et al. 2023).
    #[arg(long)]
    pub zero_terminal_snr: bool,
}

impl ScheduleShapeArgs {
    /// A schedule of `kind` with T = `steps` and these options (the kind's defaults for the rest).
    pub fn spec(&self, kind: ScheduleKind, steps: usize) -> ScheduleSpec {
        ScheduleSpec {
            steps,
            beta_start: self.beta_start,
            beta_end: self.beta_end,
            cosine_s: self.cosine_s,
            zero_terminal_snr: self.zero_terminal_snr,
            ..ScheduleSpec::new(kind)
        }
    }
}

/// Output formats of `schedule`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header.
    Csv,
    /// One JSON object.
    Json,
}

/// Output formats of `schedule`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScheduleFormat {
    /// Comma-separated values with a header.
    Csv,
    /// One JSON object.
    Json,
    /// A diffusers scheduler_config.json.
    DiffusersConfig,
}

/// The schedule of a diffusers scheduler config; what it does not take over goes to stderr.
fn schedule_from_config(path: &Path) -> anyhow::Result<Schedule> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = DiffusersConfig::from_json(&text)
        .and_then(|config| config.to_schedule())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for note in &config.notes {
        eprintln!("note: {note}");
    }
    Ok(Schedule::new(config.spec)?)
}

/// Forward modes on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    /// x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε.
    ClosedForm,
    /// x_t = √α_t x_{t−1} + √β_t z_t.
    MarkovChain,
}

/// Compute devices on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DeviceArg {
    /// burn's CPU backend (flex).
    Cpu,
    /// burn on the default wgpu adapter.
    Gpu,
}

impl DeviceArg {
    /// Opens the device, with a description for messages and metadata.
    pub fn open(self) -> anyhow::Result<(burn::tensor::Device, String)> {
        Ok(match self {
            Self::Cpu => {
                // The pool the kernels run on (RAYON_NUM_THREADS sets it, e.g. for two runs
                // side by side), not the processor's count.
                let threads = rayon::current_num_threads();
                let unit = if threads == 1 { "thread" } else { "threads" };
                (
                    burn::tensor::Device::flex(),
                    format!(
                        "CPU ({}, {threads} {unit})",
                        crate::model::cpu_compute_label()
                    ),
                )
            }
            Self::Gpu => (
                burn::tensor::Device::wgpu_options()
                    .init()
                    .context("no wgpu device for --device gpu")?,
                "GPU (burn wgpu, default adapter)".to_owned(),
            ),
        })
    }
}

pub(crate) fn parse_kind(name: &str) -> Result<ScheduleKind, String> {
    ScheduleKind::from_cli_name(name).ok_or_else(|| {
        let names: Vec<&str> = ScheduleKind::ALL.iter().map(|k| k.cli_name()).collect();
        format!(
            "unknown schedule kind; expected one of {}",
            names.join(", ")
        )
    })
}

/// Runs a subcommand, writing its results to `out`.
pub fn run(command: Command, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        Command::Schedule {
            kind,
            params,
            from_config,
            format,
        } => {
            let schedule = match (kind, from_config) {
                (_, Some(path)) => schedule_from_config(&path)?,
                (Some(kind), None) => params.build(kind)?,
                (None, None) => bail!("give a schedule KIND or --from-config FILE"),
            };
            match format {
                ScheduleFormat::Csv => write_csv(&schedule, out)?,
                ScheduleFormat::Json => writeln!(out, "{}", schedule_json(&schedule))?,
                ScheduleFormat::DiffusersConfig => {
                    let config = DiffusersConfig::from_schedule(schedule.spec())
                        .map_err(anyhow::Error::msg)?;
                    writeln!(out, "{}", serde_json::to_string_pretty(&config)?)?;
                }
            }
        }
        Command::DaedSwitch { schedule, params } => {
            let Some(beta1) = params.beta1 else {
                bail!("--beta1 is required: the denoising autoencoder's noise level, in (0, 1)");
            };
            let switch = daed_switch(&params.build(schedule)?, beta1)?;
            writeln!(out, "{}", serde_json::to_string(&switch)?)?;
        }
        Command::Forward {
            image,
            schedule,
            params,
            t,
            seed,
            mode,
            device,
            scale,
            out: folder,
        } => {
            let schedule = params.build(schedule)?;
            let mode = match mode {
                ModeArg::ClosedForm => ForwardMode::ClosedForm,
                ModeArg::MarkovChain => ForwardMode::MarkovChain,
            };
            let request = ForwardFiles {
                image: &image,
                t: &t,
                seed,
                mode,
                scale,
                folder: &folder,
            };
            let written = write_forward_pngs(&schedule, &request, device)?;
            writeln!(out, "wrote {written} images to {}", folder.display())?;
        }
        Command::Train(args) => train::run_train(&args, out)?,
        Command::TrainDae(args) => train::run_train_dae(&args, out)?,
        Command::TrainClassifier(args) => train::run_train_classifier(&args, out)?,
        Command::Sample(args) => sample::run_sample(&args, out)?,
        Command::Fid(args) => quality::run_fid(&args, out)?,
        Command::Evaluate(args) => quality::run_evaluate(&args, out)?,
        Command::Bench(args) => bench::run_bench(&args, out)?,
        Command::Recon(args) => recon::run_recon(&args, out)?,
        Command::Daed(args) => daed::run_daed(&args, out)?,
        Command::DaedSweep(args) => daed::run_daed_sweep(&args, out)?,
        Command::Toy(args) => toy::run_toy(&args, out)?,
        Command::Gif(command) => gif::run_gif(&command, out)?,
        Command::Export(args) => export::run_export(&args, out)?,
    }
    Ok(())
}

fn write_csv(schedule: &Schedule, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "t,beta,alpha_bar,log_snr,posterior_variance")?;
    let (alpha_bar, log_snr, variance) = (
        schedule.alpha_bar(),
        schedule.log_snr(),
        schedule.posterior_variance(),
    );
    for (i, beta) in schedule.betas().iter().enumerate() {
        writeln!(
            out,
            "{},{beta},{},{},{}",
            i + 1,
            alpha_bar[i],
            log_snr[i],
            variance[i]
        )?;
    }
    Ok(())
}

/// The JSON form of a schedule; non-finite values (λ_T = −∞ at zero terminal SNR) are `null`.
pub fn schedule_json(schedule: &Schedule) -> serde_json::Value {
    serde_json::json!({
        "kind": schedule.spec().kind.cli_name(),
        "steps": schedule.steps(),
        "beta": schedule.betas(),
        "alpha_bar": schedule.alpha_bar(),
        "log_snr": schedule.log_snr(),
        "posterior_variance": schedule.posterior_variance(),
    })
}

struct ForwardFiles<'a> {
    image: &'a Path,
    t: &'a [usize],
    seed: u64,
    mode: ForwardMode,
    scale: u32,
    folder: &'a Path,
}

/// The person's image as the models see it; what was done to it (resized, made grey, …) goes
/// to stderr as notes.
pub(super) fn load_image_noting(path: &Path) -> anyhow::Result<Vec<f32>> {
    let loaded = load_user_image(path)?;
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    Ok(loaded.pixels)
}

fn write_forward_pngs(
    schedule: &Schedule,
    request: &ForwardFiles<'_>,
    device: DeviceArg,
) -> anyhow::Result<usize> {
    let steps = schedule.steps();
    if let Some(bad) = request.t.iter().find(|&&t| t == 0 || t > steps) {
        bail!("t = {bad} is outside 1..={steps}");
    }
    let pixels = load_image_noting(request.image)?;
    let (device, _) = device.open()?;
    let frames = tensor_to_vec(forward_all_steps(
        &pixels,
        schedule,
        request.mode,
        request.seed,
        &device,
    ));
    std::fs::create_dir_all(request.folder)
        .with_context(|| format!("cannot create {}", request.folder.display()))?;
    let save = |name: String, values: &[f32]| -> anyhow::Result<()> {
        let path = request.folder.join(name);
        save_png(values, request.scale, &path)
            .with_context(|| format!("cannot write {}", path.display()))
    };
    save("original.png".to_owned(), &pixels)?;
    let pixels = pixels.len();
    for &t in request.t {
        save(format!("t{t}.png"), &frames[(t - 1) * pixels..t * pixels])?;
    }
    Ok(request.t.len() + 1)
}

/// Writes a [−1, 1] grayscale image as PNG, each pixel enlarged to `scale`×`scale`.
pub fn save_png(values: &[f32], scale: u32, path: &Path) -> anyhow::Result<()> {
    let side = IMAGE_SIDE as u32;
    let image = image::GrayImage::from_raw(side, side, to_bytes(values))
        .context("image has the wrong number of pixels")?;
    let image = image::imageops::resize(
        &image,
        side * scale,
        side * scale,
        image::imageops::FilterType::Nearest,
    );
    image.save(path)?;
    Ok(())
}

/// Prints "sampled k/n" on stderr about every tenth of the way (the first call and the last
/// always); never asks to stop.
pub(crate) fn progress_printer() -> impl FnMut(usize, usize) -> bool {
    let mut shown: Option<usize> = None;
    move |done, total| {
        let step = total.div_ceil(10).max(1);
        let due = shown.is_none_or(|last| done >= last + step || (done == total && last < total));
        if due {
            eprintln!("sampled {done}/{total}");
            shown = Some(done);
        }
        true
    }
}

/// A run stopped by Ctrl-C before it finished (its checkpoint kept): the process exits with
/// status 130, as shells report an interrupted command.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;
