//! `noisescope sample`: generate images with a trained U-Net, optionally keeping every step.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use super::DeviceArg;
use crate::data::{FASHION_CLASSES, IMAGE_PIXELS, IMAGE_SIDE, to_bytes};
use crate::diffusion::{
    Chain, DefaultSampler, SampleSize, Sampler, SamplerConfig, SamplerFamily, tensor_to_vec,
};
use crate::model::{Condition, Conditioned, DEFAULT_GUIDANCE, LoadedUNet, load_unet, shipped};
use crate::schedule::{ReverseVariance, ScheduleKind, ScheduleSpec, TimestepSpacing};

/// The shipped models, by schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShippedModel {
    /// The U-Net trained with the linear schedule.
    Linear,
    /// The U-Net trained with the cosine schedule.
    Cosine,
}

impl ShippedModel {
    fn relative_path(self) -> &'static str {
        match self {
            Self::Linear => shipped::UNET_LINEAR,
            Self::Cosine => shipped::UNET_COSINE,
        }
    }
}

/// The weights file a `--model` value names: `linear` or `cosine` (shipped) or a path.
pub fn model_path(name: &str) -> anyhow::Result<PathBuf> {
    Ok(match name {
        "linear" => shipped::path(ShippedModel::Linear.relative_path())?,
        "cosine" => shipped::path(ShippedModel::Cosine.relative_path())?,
        path => PathBuf::from(path),
    })
}

/// Which model to use: a shipped one by schedule, or a weights file.
#[derive(Debug, Args)]
pub struct ModelChoice {
    /// A shipped model: linear or cosine.
    #[arg(
        long,
        value_enum,
        conflicts_with = "model",
        required_unless_present = "model"
    )]
    pub schedule: Option<ShippedModel>,
    /// A weights file written by `noisescope train`.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// cpu or gpu (wgpu).
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

impl ModelChoice {
    /// Loads the model on the chosen device.
    pub fn load(&self) -> anyhow::Result<(LoadedUNet, burn::tensor::Device)> {
        let path = match (&self.model, self.schedule) {
            (Some(path), _) => path.clone(),
            (None, Some(kind)) => shipped::path(kind.relative_path())?,
            (None, None) => bail!("give --schedule linear|cosine or --model FILE"),
        };
        let (device, _) = self.device.open()?;
        Ok((load_unet(&path, None, &device)?, device))
    }
}

/// Sampler options on the command line.
#[derive(Debug, Args)]
pub struct SamplerArgs {
    /// ddpm (every step, Algorithm 2), ddim, dpmpp-2m (DPM-Solver++(2M)), dpmpp-2m-sde (its
    /// stochastic form), euler or heun (default: the sampler of the app's panel for this
    /// command: dpmpp-2m-sde for sample and evaluate, dpmpp-2m for recon, ddim for daed).
    #[arg(long, value_enum)]
    pub sampler: Option<SamplerArg>,
    /// Number of steps of every sampler but ddpm (default: the panel's, 20 or DDIM's 50).
    #[arg(long)]
    pub steps: Option<usize>,
    /// DDIM's η in [0, 1].
    #[arg(long, default_value_t = 0.0)]
    pub eta: f64,
    /// Timestep spacing of every sampler but ddpm (default: leading for ddim, logsnr for
    /// dpmpp-2m-sde, trailing for the others).
    #[arg(long, value_enum)]
    pub spacing: Option<SpacingArg>,
    /// DDPM's σ_t²: posterior (β̃_t) or beta (β_t).
    #[arg(long, value_enum, default_value_t = VarianceArg::Posterior)]
    pub variance: VarianceArg,
    /// Do not clip x̂0 to [−1, 1].
    #[arg(long)]
    pub no_clip: bool,
}

/// Samplers on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SamplerArg {
    /// Ancestral sampling.
    Ddpm,
    /// DDIM.
    Ddim,
    /// DPM-Solver++(2M).
    #[value(name = "dpmpp-2m")]
    DpmSolver,
    /// SDE-DPM-Solver++(2M).
    #[value(name = "dpmpp-2m-sde")]
    DpmSolverSde,
    /// Euler's method on the probability-flow ODE (EDM).
    Euler,
    /// Heun's method on the probability-flow ODE (EDM).
    Heun,
}

/// Timestep spacings on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SpacingArg {
    /// 1, 1 + T/N, …
    Leading,
    /// T, T − T/N, …
    Trailing,
    /// Evenly from 1 to T.
    Linspace,
    /// Evenly in log-SNR.
    #[value(name = "logsnr")]
    LogSnr,
}

/// DDPM variances on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VarianceArg {
    /// σ_t² = β̃_t.
    Posterior,
    /// σ_t² = β_t.
    Beta,
}

impl SamplerArgs {
    /// The sampler configuration; what the options leave open comes from `default`.
    pub fn config(&self, default: DefaultSampler) -> SamplerConfig {
        let family = match self.sampler {
            None => default.family,
            Some(SamplerArg::Ddpm) => SamplerFamily::Ddpm,
            Some(SamplerArg::Ddim) => SamplerFamily::Ddim,
            Some(SamplerArg::DpmSolver) => SamplerFamily::DpmSolver,
            Some(SamplerArg::DpmSolverSde) => SamplerFamily::DpmSolverSde,
            Some(SamplerArg::Euler) => SamplerFamily::Euler,
            Some(SamplerArg::Heun) => SamplerFamily::Heun,
        };
        let steps = self.steps.unwrap_or(default.steps);
        let spacing = match self.spacing {
            Some(SpacingArg::Leading) => TimestepSpacing::Leading,
            Some(SpacingArg::Trailing) => TimestepSpacing::Trailing,
            Some(SpacingArg::Linspace) => TimestepSpacing::Linspace,
            Some(SpacingArg::LogSnr) => TimestepSpacing::LogSnr,
            None => family.default_spacing(),
        };
        let variance = match self.variance {
            VarianceArg::Posterior => ReverseVariance::PosteriorBeta,
            VarianceArg::Beta => ReverseVariance::Beta,
        };
        SamplerConfig {
            kind: family.kind(steps, spacing, variance, self.eta),
            clip_x0: !self.no_clip,
        }
    }
}

/// How many images to sample, in batches of how many, from which seed.
#[derive(Debug, Args)]
pub struct ImageCount {
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    pub n: usize,
    /// Images per model evaluation.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Seed of x_T and of every step's noise (batch k uses seed + k).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ImageCount {
    /// The count as the samplers take it; none of --n and --batch may be 0.
    pub fn size(&self) -> anyhow::Result<SampleSize> {
        checked_size(self.n, self.batch, self.seed)
    }
}

/// The most images one command samples (FID is usually measured on 50 000 at most).
pub const MAX_IMAGES: usize = 100_000;

/// The largest chain: its activations must fit in memory (~2 MB per image on the CPU).
pub const MAX_BATCH: usize = 1024;

/// `--n` images in chains of `--batch` from `--seed`, refused when either count is 0 or more
/// than the command can finish or hold.
pub fn checked_size(n: usize, batch: usize, seed: u64) -> anyhow::Result<SampleSize> {
    if n == 0 || batch == 0 {
        bail!("--n and --batch must be at least 1");
    }
    if n > MAX_IMAGES {
        bail!(
            "--n {n} is more than this command samples (at most {MAX_IMAGES}: with DDPM's 1000 \
             model calls per image, {MAX_IMAGES} images already take about a day on a 2-core CPU)"
        );
    }
    if batch > MAX_BATCH {
        bail!(
            "--batch {batch} would hold about {} GB of activations at once (at most {MAX_BATCH})",
            batch * 2 / 1000
        );
    }
    Ok(SampleSize {
        images: n,
        batch,
        seed,
    })
}

/// Options of `noisescope sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelChoice,
    /// The sampler.
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// How many images.
    #[command(flatten)]
    pub count: ImageCount,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write every visited step of the first batch as a grid image (frames/t1000.png, …,
    /// t0001.png).
    #[arg(long)]
    pub frames: bool,
    /// The class, guidance and sampling schedule.
    #[command(flatten)]
    pub condition: ConditionArgs,
}

/// Which class to generate, with which guidance (`sample`, `evaluate`, `daed`).
#[derive(Debug, Args)]
pub struct ClassArgs {
    /// The class to generate, by name (e.g. Bag, "Ankle boot") or index 0–9, or `any` for the
    /// unconditional model; needs a class-conditioned model (`train --classes 10`).
    #[arg(long, default_value = "any")]
    pub class: String,
    /// Classifier-free guidance scale w in 0–10 with --class: ε̂ = ε̂_uncond + (1 + w)(ε̂_cond −
    /// ε̂_uncond); 0 is the plain conditional model (default: the app's, 1, with a class).
    #[arg(long, allow_negative_numbers = true)]
    pub guidance: Option<f64>,
}

impl ClassArgs {
    /// The class and guidance, checked before anything is loaded.
    pub fn condition(&self) -> anyhow::Result<Condition> {
        let class = parse_class(&self.class)?;
        let guidance = match (self.guidance, class) {
            (Some(w), _) => w,
            (None, Some(_)) => DEFAULT_GUIDANCE,
            (None, None) => 0.0,
        };
        let condition = Condition {
            class,
            guidance,
            sampling: None,
        };
        condition
            .check()
            .map_err(|e| anyhow::anyhow!("--guidance/--class: {e}"))?;
        Ok(condition)
    }
}

/// Sample under another schedule than the model's own (`sample`, `evaluate`, `recon`).
#[derive(Debug, Args)]
pub struct SamplingScheduleArg {
    /// Sample under another schedule (its default parameters, the model's T) than the one the
    /// model was trained with; needs a model conditioned on the log-SNR
    /// (`train --noise-input logsnr`). Where its λ leave the trained range, the network is
    /// evaluated at the nearest trained λ, with a note.
    #[arg(long, value_parser = super::parse_kind)]
    pub sampling_schedule: Option<ScheduleKind>,
}

impl SamplingScheduleArg {
    /// The schedule for `loaded`: the kind with its default parameters and the model's T.
    pub fn spec(&self, loaded: &LoadedUNet) -> Option<ScheduleSpec> {
        self.sampling_schedule.map(|kind| ScheduleSpec {
            steps: loaded.schedule.steps,
            ..ScheduleSpec::new(kind)
        })
    }
}

/// What to generate and under which schedule (`sample`, `evaluate`).
#[derive(Debug, Args)]
pub struct ConditionArgs {
    /// The class and guidance.
    #[command(flatten)]
    pub class: ClassArgs,
    /// The sampling schedule.
    #[command(flatten)]
    pub sampling: SamplingScheduleArg,
}

impl ConditionArgs {
    /// The class and guidance, checked before anything is loaded.
    pub fn condition(&self) -> anyhow::Result<Condition> {
        self.class.condition()
    }

    /// `loaded` under these options; a note goes to stderr when the sampling schedule leaves
    /// the trained λ range.
    pub fn apply<'a>(&self, loaded: &'a LoadedUNet) -> anyhow::Result<Conditioned<'a>> {
        let condition = Condition {
            sampling: self.sampling.spec(loaded),
            ..self.condition()?
        };
        apply_noting(&condition, loaded)
    }
}

/// `loaded` under `condition`, with its note (a clamped λ range) on stderr.
pub fn apply_noting<'a>(
    condition: &Condition,
    loaded: &'a LoadedUNet,
) -> anyhow::Result<Conditioned<'a>> {
    let conditioned = condition.apply(loaded).map_err(anyhow::Error::msg)?;
    if let Some(note) = &conditioned.note {
        eprintln!("note: {note}");
    }
    Ok(conditioned)
}

/// The class `text` names (a Fashion-MNIST class name, any case, or its index), or `None` for
/// `any`; refused with the choices otherwise.
pub fn parse_class(text: &str) -> anyhow::Result<Option<usize>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("any") {
        return Ok(None);
    }
    if let Ok(index) = text.parse::<usize>() {
        if index < FASHION_CLASSES.len() {
            return Ok(Some(index));
        }
        bail!("--class {index} is not a class index (0–9)");
    }
    FASHION_CLASSES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
        .map(Some)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--class {text:?} is not a Fashion-MNIST class: any, 0–9 or one of {}",
                FASHION_CLASSES.join(", ")
            )
        })
}

/// Runs `noisescope sample`.
pub fn run_sample(args: &SampleArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let size = args.count.size()?;
    args.condition.condition()?;
    let (loaded, device) = args.model.load()?;
    let Conditioned {
        denoiser, schedule, ..
    } = args.condition.apply(&loaded)?;
    let config = args.sampler.config(DefaultSampler::REVERSE);
    // Refuse bad sampler options before anything is created.
    config
        .plan(&schedule, schedule.steps())
        .map_err(anyhow::Error::msg)?;
    prepare_out(&args.out)?;
    let mut progress = super::progress_printer();
    let mut written = 0;
    for Chain {
        first,
        images: b,
        seed,
    } in size.chains()
    {
        let shape = [b, 1, IMAGE_SIDE, IMAGE_SIDE];
        let mut sampler = Sampler::from_noise(&denoiser, &schedule, config, shape, seed, &device)
            .map_err(anyhow::Error::msg)?;
        if args.frames && first == 0 {
            let folder = args.out.join("frames");
            std::fs::create_dir_all(&folder)?;
            for step in sampler.by_ref() {
                let values = tensor_to_vec(step.x_t.reshape([b, IMAGE_PIXELS]));
                save_grid(&values, b, &folder.join(format!("t{:04}.png", step.t)))?;
            }
        }
        let images = tensor_to_vec(sampler.finish().reshape([b, IMAGE_PIXELS]));
        for (i, image) in images.chunks(IMAGE_PIXELS).enumerate() {
            super::save_png(
                image,
                1,
                &args.out.join(format!("sample-{:05}.png", first + i)),
            )?;
        }
        written += b;
        progress(written, size.images);
    }
    writeln!(out, "wrote {written} samples to {}", args.out.display())?;
    Ok(())
}

/// Creates the output folder and checks that files can be written in it; a folder it created
/// is removed again when they cannot.
fn prepare_out(out: &Path) -> anyhow::Result<()> {
    let existed = out.exists();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let probe = out.join(".noisescope-write-check");
    if let Err(error) = std::fs::write(&probe, b"") {
        if !existed {
            let _ = std::fs::remove_dir(out);
        }
        bail!("cannot write in {}: {error}", out.display());
    }
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes `count` images side by side in a near-square grid with 1-pixel gaps.
pub fn save_grid(values: &[f32], count: usize, path: &Path) -> anyhow::Result<()> {
    grid_image(values, count)
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The first `count` images of `values` (each 28×28 in [−1, 1]) in a square-ish grid with
/// one-pixel black borders.
pub fn grid_image(values: &[f32], count: usize) -> image::GrayImage {
    let columns = (count as f64).sqrt().ceil().max(1.0) as usize;
    let rows = count.div_ceil(columns);
    let cell = IMAGE_SIDE + 1;
    let (width, height) = (columns * cell + 1, rows * cell + 1);
    let mut grid = image::GrayImage::new(width as u32, height as u32);
    for (index, image) in values.chunks(IMAGE_PIXELS).take(count).enumerate() {
        let (row, column) = (index / columns, index % columns);
        for (p, byte) in to_bytes(image).into_iter().enumerate() {
            let x = column * cell + 1 + p % IMAGE_SIDE;
            let y = row * cell + 1 + p / IMAGE_SIDE;
            grid.put_pixel(x as u32, y as u32, image::Luma([byte]));
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn sampler_of(args: &[&str]) -> SamplerConfig {
        let cli = Cli::try_parse_from(args).expect("parses");
        match cli.command.expect("a command") {
            Command::Sample(a) => a.sampler.config(DefaultSampler::REVERSE),
            Command::Evaluate(a) => a.sampler.config(DefaultSampler::REVERSE),
            other => panic!("unexpected command {other:?}"),
        }
    }

    #[test]
    fn without_sampler_options_the_commands_sample_as_the_app_does() {
        let sample = ["noisescope", "sample", "--schedule", "linear", "--out", "x"];
        assert_eq!(sampler_of(&sample), SamplerConfig::app_default());
        let evaluate = [
            "noisescope",
            "evaluate",
            "--schedule",
            "cosine",
            "--data",
            "d",
        ];
        assert_eq!(sampler_of(&evaluate), SamplerConfig::app_default());
    }

    #[test]
    fn a_chosen_sampler_keeps_its_own_spacing_and_the_default_steps() {
        let args = ["noisescope", "sample", "--schedule", "linear", "--out", "x"];
        let ddim = sampler_of(&[&args[..], &["--sampler", "ddim"]].concat());
        assert_eq!(
            ddim,
            SamplerFamily::Ddim.chain(DefaultSampler::REVERSE.steps)
        );
        let ddpm = sampler_of(&[&args[..], &["--sampler", "ddpm", "--no-clip"]].concat());
        assert_eq!(ddpm.kind.steps(), None);
        assert!(!ddpm.clip_x0);
    }
}
