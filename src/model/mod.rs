//! The networks (burn Modules with Configs) and their weights files.

mod classifier;
mod conditioning;
pub mod cpu;
mod dae;
mod denoisers;
mod history;

pub use denoisers::{DaeUnderSchedule, Guided, WithinTrainedLogSnr};
mod unet;
mod weights;

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

pub use classifier::{Classifier, ClassifierConfig};
pub use conditioning::{Condition, Conditioned, DEFAULT_GUIDANCE, MAX_GUIDANCE, log_snr_range};
pub use dae::{dae_clean_estimate, dae_loss_weights};
pub use history::{LogEntry, SampleGrid, TrainingHistory};
pub use unet::{
    LOG_SNR_BOTTOM, LOG_SNR_TOP, NoiseInput, UNet, UNetConfig, noise_embedding_values,
    step_positions,
};
pub use weights::{
    ModelKind, TrainingRecord, WeightsError, WeightsFile, WeightsMetadata, fingerprint,
    nan_from_null, save_module, write_atomically,
};

use crate::schedule::ScheduleSpec;

/// A U-Net loaded from a weights file, with what the file says about it.
#[derive(Debug)]
pub struct LoadedUNet {
    /// The network, in evaluation mode.
    pub model: InferenceUNet,
    /// Its architecture.
    pub config: UNetConfig,
    /// The schedule it was trained for.
    pub schedule: ScheduleSpec,
    /// The file's metadata.
    pub metadata: WeightsMetadata,
}

/// A network F(x_t, t) evaluated on a batch of images.
pub trait Network {
    /// F for images `x` `[B, C, H, W]` at 1-based steps `t` (one per image).
    fn evaluate(&self, x: Tensor<4>, t: &[usize]) -> Tensor<4>;
}

impl Network for UNet {
    fn evaluate(&self, x: Tensor<4>, t: &[usize]) -> Tensor<4> {
        self.forward(x, t)
    }
}

/// A U-Net for inference: burn's module, and, when it lives on the CPU, its weights packed for
/// the project's CPU kernels ([`cpu`]), which then compute every evaluation.
#[derive(Debug)]
pub struct InferenceUNet {
    /// burn's module (evaluation mode).
    pub module: UNet,
    cpu: Option<cpu::CpuUNet>,
}

impl InferenceUNet {
    /// Wraps `module` (architecture `config`) living on `device`.
    pub fn new(module: UNet, config: &UNetConfig, device: &Device) -> Self {
        let cpu = cpu_kernels_enabled(device).then(|| cpu::CpuUNet::new(&module, config));
        Self { module, cpu }
    }

    /// Whether evaluations run through the project's CPU kernels.
    pub fn uses_cpu_kernels(&self) -> bool {
        self.cpu.is_some()
    }

    /// F for images `x` at noise-level `positions` and `classes` (one each per image; see
    /// [`UNet::forward_conditioned`]), through the CPU kernels when they apply.
    pub fn evaluate_conditioned(
        &self,
        x: Tensor<4>,
        positions: &[f64],
        classes: &[Option<usize>],
    ) -> Tensor<4> {
        match &self.cpu {
            Some(packed) if cpu::is_cpu(&x.device()) && packed.accepts(x.dims()) => {
                let (shape, device) = (x.shape(), x.device());
                let values = x.into_data().try_into_vec::<f32>().unwrap_or_else(|error| {
                    unreachable!("float tensors read back as f32: {error:?}")
                });
                let out = packed.forward_conditioned(&values, positions, classes);
                Tensor::from_data(TensorData::new(out, shape), &device)
            }
            _ => self.module.forward_conditioned(x, positions, classes),
        }
    }
}

impl Network for InferenceUNet {
    /// Through the project's CPU kernels when `x` is on the CPU (and of the network's image
    /// size), through burn otherwise.
    fn evaluate(&self, x: Tensor<4>, t: &[usize]) -> Tensor<4> {
        let positions = step_positions(t);
        self.evaluate_conditioned(x, &positions, &vec![None; t.len()])
    }
}

/// What computes U-Nets on the CPU, for status lines: the project's kernels with their
/// instruction set, or burn's CPU backend when `NOISESCOPE_CPU_KERNELS=burn`.
pub fn cpu_compute_label() -> String {
    if cpu_kernels_enabled(&Device::flex()) {
        format!("Noisescope's CPU kernels, {}", cpu::instruction_set())
    } else {
        "burn flex".to_owned()
    }
}

/// Whether networks on `device` use the project's CPU kernels: on burn's CPU backend, unless
/// `NOISESCOPE_CPU_KERNELS=burn` asks for burn's own operations (for comparison).
pub fn cpu_kernels_enabled(device: &Device) -> bool {
    cpu::is_cpu(device) && std::env::var("NOISESCOPE_CPU_KERNELS").as_deref() != Ok("burn")
}

/// Loads a U-Net; with `expected` set, refuses one trained for another schedule.
pub fn load_unet(
    path: &Path,
    expected: Option<&ScheduleSpec>,
    device: &Device,
) -> Result<LoadedUNet, WeightsError> {
    load_network(path, ModelKind::Unet, expected, device)
}

/// A denoising autoencoder loaded from a weights file: x_t, t ↦ x̂0 for 1 ≤ t ≤ `t_max`.
#[derive(Debug)]
pub struct LoadedDae {
    /// The network (a U-Net that predicts x0), in evaluation mode, with its file's facts.
    pub net: LoadedUNet,
    /// The largest step it was trained on.
    pub t_max: usize,
    /// ᾱ_t of its schedule, t = 1..T.
    pub alpha_bar: Vec<f64>,
}

/// Loads a DAE; with `expected` set (the diffusion model's schedule), refuses one trained for
/// another schedule, since its t would mean another noise level.
pub fn load_dae(
    path: &Path,
    expected: Option<&ScheduleSpec>,
    device: &Device,
) -> Result<LoadedDae, WeightsError> {
    let net = load_network(path, ModelKind::Dae, expected, device)?;
    let format = |reason: String| WeightsError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let t_max = net
        .metadata
        .dae_t_max
        .ok_or_else(|| format("the metadata gives no dae_t_max".into()))?;
    let schedule = crate::schedule::Schedule::new(net.schedule.clone())
        .map_err(|e| format(format!("its schedule is invalid: {e}")))?;
    if t_max == 0 || t_max > schedule.steps() {
        return Err(format(format!(
            "dae_t_max = {t_max} lies outside 1..={}",
            schedule.steps()
        )));
    }
    Ok(LoadedDae {
        net,
        t_max,
        alpha_bar: schedule.alpha_bar(),
    })
}

fn load_network(
    path: &Path,
    kind: ModelKind,
    expected: Option<&ScheduleSpec>,
    device: &Device,
) -> Result<LoadedUNet, WeightsError> {
    let file = WeightsFile::read(path)?;
    file.expect_kind(kind)?;
    let config: UNetConfig = file.architecture(&UNetConfig::new())?;
    config.validate().map_err(|reason| WeightsError::Format {
        path: path.to_path_buf(),
        reason: format!("invalid architecture: {reason}"),
    })?;
    let schedule = file
        .metadata
        .schedule
        .clone()
        .ok_or_else(|| WeightsError::Format {
            path: path.to_path_buf(),
            reason: "the metadata names no schedule".into(),
        })?;
    if let Some(expected) = expected.filter(|e| **e != schedule) {
        return Err(WeightsError::Mismatch {
            path: path.to_path_buf(),
            reason: format!(
                "was trained for the schedule {}, not {}",
                describe_schedule(&schedule),
                describe_schedule(expected)
            ),
        });
    }
    let model = file.load_into(config.init(device))?.valid();
    Ok(LoadedUNet {
        model: InferenceUNet::new(model, &config, device),
        config,
        schedule,
        metadata: file.metadata,
    })
}

/// Loads the FID/confidence classifier.
pub fn load_classifier(path: &Path, device: &Device) -> Result<Classifier, WeightsError> {
    let file = WeightsFile::read(path)?;
    file.expect_kind(ModelKind::Classifier)?;
    let config: ClassifierConfig = file.architecture(&ClassifierConfig::new())?;
    Ok(file.load_into(config.init(device))?.valid())
}

fn describe_schedule(spec: &ScheduleSpec) -> String {
    serde_json::to_string(spec).unwrap_or_else(|_| spec.label())
}

/// Counts the scalar parameters of a module.
pub fn parameter_count<M: Module>(module: &M) -> usize {
    module.num_params()
}

/// The shipped weights files, in the assets folder's `models/`.
pub mod shipped {
    use std::path::PathBuf;

    use crate::data::{AssetError, find_assets_dir};

    /// The U-Net trained with the linear schedule.
    pub const UNET_LINEAR: &str = "models/unet-linear.nsw";
    /// The U-Net trained with the cosine schedule.
    pub const UNET_COSINE: &str = "models/unet-cosine.nsw";
    /// The FID/confidence classifier.
    pub const CLASSIFIER: &str = "models/classifier.nsw";
    /// The denoising autoencoder for the linear schedule.
    pub const DAE_LINEAR: &str = "models/dae-linear.nsw";
    /// The denoising autoencoder for the cosine schedule.
    pub const DAE_COSINE: &str = "models/dae-cosine.nsw";
    /// The denoising autoencoder for the linear schedule trained as a network of its own.
    pub const DAE_LINEAR_SEPARATE: &str = "models/dae-linear-separate.nsw";
    /// The denoising autoencoder for the cosine schedule trained as a network of its own.
    pub const DAE_COSINE_SEPARATE: &str = "models/dae-cosine-separate.nsw";

    /// The path of a shipped file (which may be missing; loading says so).
    pub fn path(relative: &str) -> Result<PathBuf, AssetError> {
        Ok(find_assets_dir()?.join(relative))
    }
}
