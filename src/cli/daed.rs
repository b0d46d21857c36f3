//! `noisescope daed` and `noisescope daed-sweep`: the diffusion model generates down to a
//! switching step s, the denoising autoencoder finishes in one call.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::progress_printer;
use super::quality::{classifier, image_set};
use super::sample::{
    ClassArgs, ImageCount, SamplerArgs, SamplingScheduleArg, apply_noting, model_path, save_grid,
};
use super::{DeviceArg, save_png};
use crate::data::IMAGE_PIXELS;
use crate::diffusion::{DaedModels, DefaultSampler, SampleSize};
use crate::experiment::{daed_sweep, sweep_csv};
use crate::metrics::{FeatureStats, FidReference};
use crate::model::{
    Condition, Conditioned, DaeUnderSchedule, Guided, LoadedDae, LoadedUNet, WithinTrainedLogSnr,
    load_dae, load_unet, shipped,
};
use crate::schedule::{ScheduleKind, daed_switch};

/// The models of a DAED run.
#[derive(Debug, Args)]
pub struct DaedModelArgs {
    /// linear or cosine (the shipped models) or a U-Net weights file.
    #[arg(long, default_value = "linear")]
    pub model: String,
    /// The denoising autoencoder (default: the shipped one for the model's schedule).
    #[arg(long)]
    pub dae: Option<PathBuf>,
    /// The chain of the diffusion model.
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// The class and guidance of the diffusion model.
    #[command(flatten)]
    pub class: ClassArgs,
    /// Sample under another schedule (the autoencoder is asked at its trained step of the
    /// nearest log-SNR).
    #[command(flatten)]
    pub sampling: SamplingScheduleArg,
    /// How many images.
    #[command(flatten)]
    pub count: ImageCount,
    /// cpu or gpu (wgpu).
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// Options of `noisescope daed`.
#[derive(Debug, Args)]
pub struct DaedArgs {
    /// The models, sampler and images.
    #[command(flatten)]
    pub run: DaedModelArgs,
    /// The switching step s (0 = the full chain), or `auto` for DAED's rule with --beta1.
    #[arg(long)]
    pub switch: String,
    /// β1 of the automatic rule s = argmin_t |ᾱ_t − (1 − β1)|.
    #[arg(long)]
    pub beta1: Option<f64>,
    /// Output folder: the DAED samples, and grids of the three methods.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `noisescope daed-sweep`.
#[derive(Debug, Args)]
pub struct DaedSweepArgs {
    /// The models, sampler and images.
    #[command(flatten)]
    pub run: DaedModelArgs,
    /// Comma-separated switching steps, e.g. 0,10,25,50,100,250.
    #[arg(long, value_delimiter = ',', required = true)]
    pub switch_list: Vec<usize>,
    /// Classifier weights for the FID (default: the shipped one).
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// csv (header t_switch,frac_saved,fid_daed,fid_ddgm_x0,fid_full) or json (an array of
    /// objects with those fields).
    #[arg(long, value_enum, default_value_t = super::Format::Csv)]
    pub format: super::Format,
}

struct Loaded {
    size: SampleSize,
    ddgm: LoadedUNet,
    dae: LoadedDae,
    device: burn::tensor::Device,
}

impl DaedModelArgs {
    fn load(&self) -> anyhow::Result<Loaded> {
        let size = self.count.size()?;
        self.class.condition()?;
        let (device, _) = self.device.open()?;
        let ddgm = load_unet(&model_path(&self.model)?, None, &device)?;
        let dae_path = match &self.dae {
            Some(path) => path.clone(),
            None => shipped_dae(ddgm.schedule.kind)?,
        };
        let dae = load_dae(&dae_path, Some(&ddgm.schedule), &device)?;
        Ok(Loaded {
            size,
            ddgm,
            dae,
            device,
        })
    }

    /// The diffusion model asked for the class, under the sampling schedule.
    fn conditioned<'a>(&self, loaded: &'a Loaded) -> anyhow::Result<Conditioned<'a>> {
        let condition = Condition {
            sampling: self.sampling.spec(&loaded.ddgm),
            ..self.class.condition()?
        };
        apply_noting(&condition, &loaded.ddgm)
    }

    /// The models as DAED runs them.
    fn models<'a>(
        &self,
        ddgm: &'a Conditioned<'a>,
        dae: &'a DaeUnderSchedule<'a>,
    ) -> DaedModels<'a, WithinTrainedLogSnr<Guided<'a>>, DaeUnderSchedule<'a>> {
        DaedModels {
            ddgm: &ddgm.denoiser,
            dae: Some(dae),
            schedule: &ddgm.schedule,
            config: self.sampler.config(DefaultSampler::DAED),
        }
    }
}

/// The shipped DAE for a schedule kind (loading checks the schedule's parameters too).
fn shipped_dae(kind: ScheduleKind) -> anyhow::Result<PathBuf> {
    let file = match kind {
        ScheduleKind::Linear => shipped::DAE_LINEAR,
        ScheduleKind::Cosine => shipped::DAE_COSINE,
        _ => bail!("no shipped denoising autoencoder for this schedule: give --dae FILE"),
    };
    Ok(shipped::path(file)?)
}

/// Runs `noisescope daed`.
pub fn run_daed(args: &DaedArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let loaded = args.run.load()?;
    let conditioned = args.run.conditioned(&loaded)?;
    let schedule = &conditioned.schedule;
    let dae = DaeUnderSchedule::new(&loaded.dae, &conditioned.trained, schedule);
    let (s, auto) = match args.switch.as_str() {
        "auto" => {
            let Some(beta1) = args.beta1 else {
                bail!("--switch auto needs --beta1: the autoencoder's noise level, in (0, 1)");
            };
            (daed_switch(schedule, beta1)?.t, true)
        }
        text => (
            text.parse::<usize>()
                .with_context(|| format!("--switch {text}: expected a step or `auto`"))?,
            false,
        ),
    };
    if s > dae.t_max() {
        eprintln!(
            "note: s = {s} lies beyond the autoencoder's training range t ≤ {}",
            dae.t_max()
        );
    }
    let images = args.run.models(&conditioned, &dae).sample_images(
        loaded.size,
        &[s],
        &loaded.device,
        &mut progress_printer(),
    );
    let images = images.map_err(anyhow::Error::msg)?;
    let switch = &images.per_switch[0];
    let folder = args.out.join("daed");
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    for (i, image) in switch.daed.chunks(IMAGE_PIXELS).enumerate() {
        save_png(image, 1, &folder.join(format!("{i:04}.png")))?;
    }
    write_grids(
        &args.out,
        loaded.size.images,
        [
            ("full.png", &images.full),
            ("ddgm-x0.png", &switch.ddgm_x0),
            ("daed.png", &switch.daed),
        ],
    )?;
    let steps = schedule.steps();
    let lambda = if s == 0 {
        f64::INFINITY
    } else {
        schedule.log_snr()[s - 1]
    };
    writeln!(
        out,
        "{}",
        serde_json::json!({
            "t_switch": s,
            "auto": auto,
            "t_frac": s as f64 / steps as f64,
            "log_snr": if lambda.is_finite() { Some(lambda) } else { None },
            "frac_saved": switch.frac_saved,
            "images": loaded.size.images,
            "out": args.out,
        })
    )?;
    Ok(())
}

fn write_grids(dir: &Path, n: usize, grids: [(&str, &Vec<f32>); 3]) -> anyhow::Result<()> {
    for (name, values) in grids {
        save_grid(values, n.min(64), &dir.join(name))?;
    }
    Ok(())
}

/// Runs `noisescope daed-sweep`: FID of each method against the test set for every s.
pub fn run_daed_sweep(args: &DaedSweepArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let loaded = args.run.load()?;
    let conditioned = args.run.conditioned(&loaded)?;
    let dae = DaeUnderSchedule::new(&loaded.dae, &conditioned.trained, &conditioned.schedule);
    let steps = conditioned.schedule.steps();
    if let Some(bad) = args.switch_list.iter().find(|&&s| s >= steps) {
        bail!("--switch-list: s = {bad} must lie in 0..{steps}");
    }
    let classifier = classifier(args.classifier.as_deref(), &loaded.device)?;
    let test = image_set("test-set", None, None)?;
    eprintln!("measuring the test images' classifier features");
    let stats =
        FeatureStats::of_images(&classifier, &test, &loaded.device).map_err(anyhow::Error::msg)?;
    let reference = FidReference {
        classifier: &classifier,
        stats: &stats,
    };
    let points = daed_sweep(
        &args.run.models(&conditioned, &dae),
        &reference,
        loaded.size,
        &args.switch_list,
        &loaded.device,
        &mut progress_printer(),
    )
    .map_err(anyhow::Error::msg)?;
    match args.format {
        super::Format::Csv => write!(out, "{}", sweep_csv(&points))?,
        super::Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&points)?)?,
    }
    Ok(())
}
