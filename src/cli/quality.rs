//! `noisescope fid`, `noisescope evaluate` and `noisescope bench`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use serde_json::json;

use super::DeviceArg;
use super::sample::ConditionArgs;
use super::sample::{ModelChoice, SamplerArgs, checked_size};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, LabelledImages, ProbeData, Split, load_image_folder};
use crate::diffusion::{
    Chain, DefaultSampler, Denoiser, SampleSize, Sampler, SamplerConfig, tensor_to_vec,
};
use crate::metrics::{ClassifierView, FeatureStats, frechet_distance};
use crate::model::{Classifier, load_classifier, shipped};
use crate::schedule::Schedule;

/// The confidence a sample needs to count as recognised.
pub const CONFIDENCE_THRESHOLD: f64 = 0.9;

/// Options of `noisescope fid`.
#[derive(Debug, Args)]
pub struct FidArgs {
    /// First image set: a folder of images, `test-set` or `train-set`.
    #[arg(long)]
    pub a: String,
    /// Second image set.
    #[arg(long)]
    pub b: String,
    /// At most this many images from each set (the first ones).
    #[arg(long)]
    pub n: Option<usize>,
    /// IDX folder for `train-set` (and `test-set`; the shipped test split otherwise).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Classifier weights (default: the shipped one).
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// cpu or gpu.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// Options of `noisescope evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The model.
    #[command(flatten)]
    pub model: ModelChoice,
    /// The sampler.
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Samples to draw.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Images per model evaluation.
    #[arg(long, default_value_t = 250)]
    pub batch: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// IDX folder with the train split (the FID floor uses its first --n images).
    #[arg(long, required_unless_present = "per_class")]
    pub data: Option<PathBuf>,
    /// Classifier weights (default: the shipped one).
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// The class, guidance and sampling schedule.
    #[command(flatten)]
    pub condition: ConditionArgs,
    /// Also write the samples here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Instead of FID: sample --n images of each of the ten classes (with --guidance, default
    /// the app's) and report how often the classifier recognises the class asked for, against
    /// real test images of it.
    #[arg(long, conflicts_with = "out")]
    pub per_class: bool,
}

/// Runs `noisescope fid`.
pub fn run_fid(args: &FidArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let (device, _) = args.device.open()?;
    let classifier = classifier(args.classifier.as_deref(), &device)?;
    let a = image_set(&args.a, args.data.as_deref(), args.n)?;
    let b = image_set(&args.b, args.data.as_deref(), args.n)?;
    let fid = fid_between(&classifier, &a, &b, &device)?;
    writeln!(
        out,
        "fid {fid:.4} ({} images in a, {} in b)",
        a.len() / IMAGE_PIXELS,
        b.len() / IMAGE_PIXELS
    )?;
    Ok(())
}

/// The FID between two sets of images (N × 784 values each).
pub fn fid_between(
    classifier: &Classifier,
    a: &[f32],
    b: &[f32],
    device: &burn::tensor::Device,
) -> anyhow::Result<f64> {
    let fa = FeatureStats::of_images(classifier, a, device).map_err(anyhow::Error::msg)?;
    let fb = FeatureStats::of_images(classifier, b, device).map_err(anyhow::Error::msg)?;
    Ok(frechet_distance(&fa, &fb))
}

pub(super) fn classifier(
    path: Option<&Path>,
    device: &burn::tensor::Device,
) -> anyhow::Result<Classifier> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => shipped::path(shipped::CLASSIFIER)?,
    };
    Ok(load_classifier(&path, device)?)
}

/// Reads `test-set`, `train-set` or a folder of images into N × 784 values in [−1, 1].
pub(super) fn image_set(
    name: &str,
    data: Option<&Path>,
    limit: Option<usize>,
) -> anyhow::Result<Vec<f32>> {
    let limit = limit.unwrap_or(usize::MAX);
    let split = |split, dir: &Path| -> anyhow::Result<Vec<f32>> {
        let images = LabelledImages::load(dir, split)?;
        let indices: Vec<usize> = (0..images.len().min(limit)).collect();
        Ok(images.batch(&indices))
    };
    match (name, data) {
        ("test-set", Some(dir)) => split(Split::Test, dir),
        ("test-set", None) => Ok(ProbeData::FashionMnist
            .load(limit)
            .map_err(anyhow::Error::msg)?
            .pixels),
        ("train-set", Some(dir)) => split(Split::Train, dir),
        ("train-set", None) => {
            bail!("train-set needs --data DIR (the folder with train-images-idx3-ubyte)")
        }
        (folder, _) => image_folder(Path::new(folder), limit),
    }
}

fn image_folder(dir: &Path, limit: usize) -> anyhow::Result<Vec<f32>> {
    let images = load_image_folder(dir, limit).map_err(anyhow::Error::msg)?;
    if images.count < 2 {
        bail!(
            "{}: {} readable image (an FID needs at least 2)",
            dir.display(),
            images.count
        );
    }
    for note in &images.notes {
        eprintln!("note: {}: {note}", dir.display());
    }
    Ok(images.pixels)
}

/// Runs `noisescope evaluate`: samples, FID to the test set, the floor, and confidence.
pub fn run_evaluate(args: &EvaluateArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if args.per_class {
        return super::per_class::run_per_class(args, out);
    }
    let size = checked_size(args.n, args.batch, args.seed)?;
    let condition = args.condition.condition()?;
    let (loaded, device) = args.model.load()?;
    let classifier = classifier(args.classifier.as_deref(), &device)?;
    let conditioned = args.condition.apply(&loaded)?;
    let schedule = &conditioned.schedule;
    let config = args.sampler.config(DefaultSampler::REVERSE);
    let started = Instant::now();
    let samples = sample_many(&conditioned.denoiser, schedule, config, size, &device)?;
    let sampling_s = started.elapsed().as_secs_f64();
    if let Some(folder) = &args.out {
        std::fs::create_dir_all(folder)?;
        for (i, image) in samples.chunks(IMAGE_PIXELS).enumerate() {
            super::save_png(image, 1, &folder.join(format!("sample-{i:05}.png")))?;
        }
    }
    let test = image_set("test-set", None, None)?;
    // FID's bias depends on the number of images: the floor takes as many as the samples.
    let train = image_set("train-set", args.data.as_deref(), Some(args.n))?;
    let sample_view = ClassifierView::of(&classifier, &samples, &device);
    let test_view = ClassifierView::of(&classifier, &test, &device);
    let train_view = ClassifierView::of(&classifier, &train, &device);
    let stats = |v: &ClassifierView| FeatureStats::fit(&v.features).map_err(anyhow::Error::msg);
    let (s, te, tr) = (
        stats(&sample_view)?,
        stats(&test_view)?,
        stats(&train_view)?,
    );
    let fid = frechet_distance(&s, &te);
    let floor = frechet_distance(&tr, &te);
    let confident = sample_view.confident_share(CONFIDENCE_THRESHOLD);
    let confident_real = test_view.confident_share(CONFIDENCE_THRESHOLD);
    let report = json!({
        "samples": args.n,
        "sampler": config,
        "model_calls_per_image": config.model_calls(schedule, schedule.steps()).map_err(anyhow::Error::msg)?,
        "fid_samples_vs_test": fid,
        "fid_floor_train_vs_test": floor,
        "floor_images": train.len() / IMAGE_PIXELS,
        "fid_ratio": fid / floor,
        "confident_share_samples": confident,
        "confident_share_test": confident_real,
        "confidence_ratio": confident / confident_real,
        "passes_quality_bar": fid <= 5.0 * floor && confident >= 0.8 * confident_real,
        "sampling_seconds": sampling_s,
    });
    let mut report = report;
    if let Some(class) = condition.class {
        let real_share = super::per_class::real_class_shares(&test_view)?[class];
        let share = super::per_class::class_share(&sample_view, class);
        report["class"] = json!(crate::data::FASHION_CLASSES[class]);
        report["guidance"] = json!(condition.guidance);
        report["class_share_samples"] = json!(share);
        report["class_share_test"] = json!(real_share);
        report["meets_class_bar"] = json!(share >= real_share.min(0.9));
    }
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(())
}

/// Draws `size.images` samples, one sampler run per chain of the size.
pub fn sample_many<D: Denoiser + ?Sized>(
    model: &D,
    schedule: &Schedule,
    config: SamplerConfig,
    size: SampleSize,
    device: &burn::tensor::Device,
) -> anyhow::Result<Vec<f32>> {
    let mut values = Vec::with_capacity(size.images * IMAGE_PIXELS);
    for Chain {
        first,
        images,
        seed,
    } in size.chains()
    {
        let shape = [images, 1, IMAGE_SIDE, IMAGE_SIDE];
        let sampler = Sampler::from_noise(model, schedule, config, shape, seed, device)
            .map_err(anyhow::Error::msg)?;
        values.extend(tensor_to_vec(
            sampler.finish().reshape([images, IMAGE_PIXELS]),
        ));
        eprintln!("sampled {}/{}", first + images, size.images);
    }
    Ok(values)
}
