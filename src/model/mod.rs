//! The networks (burn Modules with Configs) and their weights files.

mod classifier;
mod unet;
mod weights;

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;

pub use classifier::{Classifier, ClassifierConfig};
pub use unet::{UNet, UNetConfig, timestep_embedding};
pub use weights::{
    ModelKind, TrainingRecord, WeightsError, WeightsFile, WeightsMetadata, nan_from_null,
    save_module, write_atomically,
};

use crate::schedule::ScheduleSpec;

/// A U-Net loaded from a weights file, with what the file says about it.
#[derive(Debug)]
pub struct LoadedUNet {
    /// The network, in evaluation mode.
    pub model: UNet,
    /// Its architecture.
    pub config: UNetConfig,
    /// The schedule it was trained for.
    pub schedule: ScheduleSpec,
    /// The file's metadata.
    pub metadata: WeightsMetadata,
}

/// Loads a U-Net; with `expected` set, refuses one trained for another schedule.
pub fn load_unet(
    path: &Path,
    expected: Option<&ScheduleSpec>,
    device: &Device,
) -> Result<LoadedUNet, WeightsError> {
    let file = WeightsFile::read(path)?;
    file.expect_kind(ModelKind::Unet)?;
    let config: UNetConfig = file.architecture()?;
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
        model,
        config,
        schedule,
        metadata: file.metadata,
    })
}

/// Loads the FID/confidence classifier.
pub fn load_classifier(path: &Path, device: &Device) -> Result<Classifier, WeightsError> {
    let file = WeightsFile::read(path)?;
    file.expect_kind(ModelKind::Classifier)?;
    let config: ClassifierConfig = file.architecture()?;
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

    /// The path of a shipped file (which may be missing; loading says so).
    pub fn path(relative: &str) -> Result<PathBuf, AssetError> {
        Ok(find_assets_dir()?.join(relative))
    }
}
