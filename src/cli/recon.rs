//! `noisescope recon`: reconstruction error per step of a trained U-Net.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::sample::{SamplerArgs, SamplingScheduleArg, apply_noting, model_path};
use super::{DeviceArg, Format};
use crate::data::{IMAGE_SIDE, ProbeData};
use crate::diffusion::{DefaultSampler, ReconProbe, TSelection, image_batch, recon_csv};
use crate::model::{Condition, load_unet};

/// Options of `noisescope recon`.
#[derive(Debug, Args)]
pub struct ReconArgs {
    /// linear or cosine (the shipped models) or a weights file.
    #[arg(long, default_value = "linear")]
    pub model: String,
    /// fashion-mnist (held-out test images), mnist (never seen), a folder of images or one image.
    #[arg(long, default_value = "fashion-mnist")]
    pub data: String,
    /// Comma-separated 1-based steps; default 25 steps from 1 to T, denser at small t.
    #[arg(long)]
    pub t: Option<String>,
    /// Number of images.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Seed of ε and of the chain's noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The reverse chain.
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Noise and reconstruct under another schedule than the model's own.
    #[command(flatten)]
    pub sampling: SamplingScheduleArg,
    /// csv (t,t_frac,log_snr,mse_chain,mse_x0,mse_eps) or json.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// cpu or gpu (wgpu).
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// Runs `noisescope recon`; notes and progress go to stderr.
pub fn run_recon(args: &ReconArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if args.n == 0 {
        anyhow::bail!("--n must be at least 1");
    }
    let (device, _) = args.device.open()?;
    let path: PathBuf = model_path(&args.model)?;
    let loaded = load_unet(&path, None, &device)?;
    let condition = Condition {
        sampling: args.sampling.spec(&loaded),
        ..Condition::default()
    };
    let conditioned = apply_noting(&condition, &loaded)?;
    let schedule = conditioned.schedule.clone();
    let (selection, notes) =
        TSelection::from_text(args.t.as_deref()).map_err(anyhow::Error::msg)?;
    for note in notes {
        eprintln!("note: {note}");
    }
    let t_values = selection
        .for_steps(schedule.steps())
        .map_err(anyhow::Error::msg)?;
    let data = ProbeData::parse(&args.data);
    let images = data.load(args.n).map_err(anyhow::Error::msg)?;
    for note in &images.notes {
        eprintln!("note: {note}");
    }
    if images.count < args.n {
        eprintln!("note: {data} has {} images; using them all", images.count);
    }
    let x0 = image_batch(images.pixels, IMAGE_SIDE, &device);
    let probe = ReconProbe::new(
        &conditioned.denoiser,
        &schedule,
        args.sampler.config(DefaultSampler::ANALYSIS),
        x0,
        args.seed,
    );
    let mut points = Vec::with_capacity(t_values.len());
    for (i, &t) in t_values.iter().enumerate() {
        let measured = probe.measure(t).map_err(anyhow::Error::msg)?;
        eprintln!(
            "[{}/{}] t = {t}: chain MSE {:.5}",
            i + 1,
            t_values.len(),
            measured.point.mse_chain
        );
        points.push(measured.point);
    }
    match args.format {
        Format::Csv => write!(out, "{}", recon_csv(&points))?,
        Format::Json => writeln!(out, "{}", serde_json::to_string(&points)?)?,
    }
    Ok(())
}
