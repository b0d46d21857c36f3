//! `noisescope bench`: how fast the U-Net evaluates and samples on a device, and where that
//! stands against the device's own f32 matrix-product peak.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use clap::Args;

use super::DeviceArg;
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::diffusion::{Denoiser, Sampler, SamplerConfig, tensor_to_vec};
use crate::model::{InferenceUNet, UNetConfig, load_unet, shipped};
use crate::schedule::{Schedule, ScheduleSpec};

/// Options of `noisescope bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// cpu or gpu.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Weights to time (default: the shipped linear model's architecture).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Seconds to spend per measurement (at least 3 repetitions each).
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
}

/// The side of the square matrices whose product measures the peak.
const PEAK_SIDE: usize = 1024;

/// Runs `noisescope bench`.
pub fn run_bench(args: &BenchArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let (device, label) = args.device.open()?;
    let (model, config, spec, origin) = bench_model(args.model.as_ref(), &device)?;
    let schedule = Schedule::new(spec)?;
    let compute = if model.uses_cpu_kernels() {
        "Noisescope's CPU kernels"
    } else {
        "burn's operations"
    };
    let peak = matmul_peak_gflops(&device, args.seconds);
    let flops = config.flops_per_image() as f64;
    writeln!(
        out,
        "device: {label}; model: {origin}; computed by {compute}"
    )?;
    writeln!(
        out,
        "f32 matmul peak ({PEAK_SIDE}² by burn on this device): {peak:.1} GFLOP/s; the U-Net: {:.1} MFLOP per image and evaluation",
        flops * 1e-6
    )?;
    writeln!(
        out,
        "batch,unet_evals_per_s,image_steps_per_s,ms_per_1000_step_ddpm_batch,gflop_per_s,share_of_matmul_peak"
    )?;
    for batch in [1, 16, 64] {
        let evals_per_s = evaluation_rate(&model, batch, &device, args.seconds);
        let steps_per_s = sampling_rate(&model, &schedule, batch, &device, args.seconds)?;
        let gflops = evals_per_s * batch as f64 * flops * 1e-9;
        writeln!(
            out,
            "{batch},{evals_per_s:.2},{:.1},{:.0},{gflops:.1},{:.3}",
            steps_per_s * batch as f64,
            1000.0 * 1000.0 / steps_per_s,
            gflops / peak
        )?;
    }
    Ok(())
}

/// The model to time: a weights file, the shipped linear U-Net, or (without it) an untrained
/// network of the shipped architecture.
fn bench_model(
    path: Option<&PathBuf>,
    device: &Device,
) -> anyhow::Result<(InferenceUNet, UNetConfig, ScheduleSpec, String)> {
    if let Some(path) = path {
        let loaded = load_unet(path, None, device)?;
        return Ok((
            loaded.model,
            loaded.config,
            loaded.schedule,
            path.display().to_string(),
        ));
    }
    let path = shipped::path(shipped::UNET_LINEAR)?;
    Ok(match load_unet(&path, None, device) {
        Ok(loaded) => (
            loaded.model,
            loaded.config,
            loaded.schedule,
            path.display().to_string(),
        ),
        Err(_) => {
            let config = UNetConfig::new()
                .with_base_channels(16)
                .with_channel_multipliers(vec![1, 2, 4])
                .with_dropout(0.0);
            let model = InferenceUNet::new(config.init(device), &config, device);
            let origin = "untrained, of the shipped architecture".into();
            (model, config, ScheduleSpec::default(), origin)
        }
    })
}

/// GFLOP/s of a square f32 matrix product on `device`, read back each time.
fn matmul_peak_gflops(device: &Device, seconds: f64) -> f64 {
    let shape = [PEAK_SIDE, PEAK_SIDE];
    let a = Tensor::<2>::random(shape, Distribution::Default, device);
    let b = Tensor::<2>::random(shape, Distribution::Default, device);
    let product = || {
        let _ = a.clone().matmul(b.clone()).into_data();
    };
    product();
    let rate = repeat_rate(seconds, product);
    2.0 * (PEAK_SIDE as f64).powi(3) * rate * 1e-9
}

/// U-Net evaluations per second on batches of `batch` images, read back each time.
fn evaluation_rate(model: &InferenceUNet, batch: usize, device: &Device, seconds: f64) -> f64 {
    let x = Tensor::<4>::zeros([batch, 1, IMAGE_SIDE, IMAGE_SIDE], device);
    let evaluate = || {
        let _ = tensor_to_vec(
            model
                .predict_noise(x.clone(), 500)
                .reshape([batch, IMAGE_PIXELS]),
        );
    };
    evaluate();
    repeat_rate(seconds, evaluate)
}

/// DDPM steps per second on batches of `batch` images (a new chain whenever one ends).
fn sampling_rate(
    model: &InferenceUNet,
    schedule: &Schedule,
    batch: usize,
    device: &Device,
    seconds: f64,
) -> anyhow::Result<f64> {
    let shape = [batch, 1, IMAGE_SIDE, IMAGE_SIDE];
    let start = || {
        Sampler::from_noise(model, schedule, SamplerConfig::default(), shape, 0, device)
            .map_err(anyhow::Error::msg)
    };
    let mut sampler = start()?;
    let mut failure = None;
    let rate = repeat_rate(seconds, || {
        if sampler.next().is_none() {
            match start() {
                Ok(fresh) => sampler = fresh,
                Err(error) => failure = Some(error),
            }
            let _ = sampler.next();
        }
        let _ = tensor_to_vec(sampler.current().clone().reshape([batch, IMAGE_PIXELS]));
    });
    match failure {
        Some(error) => Err(error),
        None => Ok(rate),
    }
}

/// Calls `work` for about `seconds` (at least 3 times) and returns calls per second.
fn repeat_rate(seconds: f64, mut work: impl FnMut()) -> f64 {
    let started = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || started.elapsed().as_secs_f64() < seconds {
        work();
        calls += 1;
    }
    f64::from(calls) / started.elapsed().as_secs_f64()
}
