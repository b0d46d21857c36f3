//! The Noisescope weights file: a short header, JSON metadata (architecture, schedule, how it
//! was trained) and the tensors as burnpack bytes, guarded by a length and a CRC-32.
//!
//! Layout (little endian): `NOISESCOPE-WEIGHTS\n` · u32 version · u64 metadata length ·
//! metadata JSON · u64 payload length · u32 CRC-32 · payload. Version 2 (written now) checksums
//! the metadata and the payload, so an edited schedule is refused like a damaged tensor;
//! version 1 (still read) checksummed the payload only.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::schedule::ScheduleSpec;

const MAGIC: &[u8] = b"NOISESCOPE-WEIGHTS\n";
const VERSION: u32 = 2;
/// The first version, whose checksum covers the payload only.
const VERSION_PAYLOAD_CRC: u32 = 1;
const MAX_METADATA: u64 = 16 << 20;

/// What a weights file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// An ε-prediction U-Net for a diffusion schedule.
    Unet,
    /// The Fashion-MNIST classifier used for FID and confidence.
    Classifier,
    /// A denoising autoencoder (x0-prediction) for small noise levels of a schedule (DAED).
    Dae,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unet => "U-Net denoiser",
            Self::Classifier => "classifier",
            Self::Dae => "denoising autoencoder",
        })
    }
}

/// How a model was trained; written into its weights file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The training data (folder and files).
    pub data: String,
    /// Optimiser steps taken.
    pub steps: u64,
    /// Images per step.
    pub batch: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// The seed of the run.
    pub seed: u64,
    /// The last logged training loss (mean over the last logging window); NaN before the
    /// first report (written as `null`).
    #[serde(deserialize_with = "nan_from_null")]
    pub final_loss: f64,
    /// Seconds spent training, summed over resumed sittings.
    pub wall_time_s: f64,
    /// The device(s) that trained it.
    pub device: String,
    /// EMA decay of the shipped weights (0 when the raw weights are stored).
    pub ema_decay: f64,
    /// The exact command line of the last sitting.
    pub command: String,
    /// The run's log and sample grids (empty in files written before they were recorded).
    #[serde(default, skip_serializing_if = "super::TrainingHistory::is_empty")]
    pub history: super::TrainingHistory,
}

/// Reads a number that JSON wrote as `null` because it was NaN.
pub fn nan_from_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// Everything a weights file says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightsMetadata {
    /// The model family.
    pub kind: ModelKind,
    /// The architecture config as JSON (a `UNetConfig` or `ClassifierConfig`).
    pub architecture: serde_json::Value,
    /// The diffusion schedule the model was trained for (U-Nets and DAEs).
    pub schedule: Option<ScheduleSpec>,
    /// A DAE's largest training step: it learned to denoise x_t for 1 ≤ t ≤ this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dae_t_max: Option<usize>,
    /// How it was trained.
    pub training: TrainingRecord,
    /// The version of Noisescope that wrote it.
    pub written_by: String,
}

/// Why a weights file could not be written or used.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a valid weights file.
    #[error("{path}: not a usable Noisescope weights file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file is valid but holds a different model than the one asked for.
    #[error("{path}: {reason}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
}

impl WeightsError {
    fn format(path: &Path, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn mismatch(path: &Path, reason: impl Into<String>) -> Self {
        Self::Mismatch {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Writes `module` with `metadata` to `path`, atomically (a temporary file renamed into place).
pub fn save_module<M: Module>(
    module: &M,
    metadata: &WeightsMetadata,
    path: &Path,
) -> Result<(), WeightsError> {
    let mut store = BurnpackStore::from_bytes(None);
    module
        .save_into(&mut store)
        .map_err(|e| WeightsError::format(path, format!("could not serialise tensors: {e}")))?;
    let payload = store
        .get_bytes()
        .map_err(|e| WeightsError::format(path, format!("could not serialise tensors: {e}")))?;
    let meta = serde_json::to_vec_pretty(metadata)
        .map_err(|e| WeightsError::format(path, format!("could not serialise metadata: {e}")))?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + meta.len() + payload.len() + 32);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32(&[&meta, &payload]).to_le_bytes());
    bytes.extend_from_slice(&payload);
    write_atomically(path, &bytes)
}

/// The size and CRC-32 of the file at `path` as it is now: what tells one weights file (a
/// model retrained, another copy) from another.
pub fn fingerprint(path: &Path) -> std::io::Result<(u64, u32)> {
    let bytes = fs::read(path)?;
    Ok((bytes.len() as u64, crc32fast::hash(&bytes)))
}

/// Writes `bytes` to `path` through a temporary file in the same folder.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    let io = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let temporary = path.with_file_name(name);
    let mut file = fs::File::create(&temporary).map_err(io)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    fs::rename(&temporary, path).map_err(io)
}

/// A weights file read and checked for integrity, not yet turned into a module.
#[derive(Debug)]
pub struct WeightsFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its metadata.
    pub metadata: WeightsMetadata,
    payload: Vec<u8>,
}

impl WeightsFile {
    /// Reads `path`, checking the header, lengths, checksum and metadata.
    pub fn read(path: &Path) -> Result<Self, WeightsError> {
        let bytes = fs::read(path).map_err(|source| WeightsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &bytes)
    }

    /// Parses the bytes of a weights file; `path` is only used in messages.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, WeightsError> {
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| {
            WeightsError::format(path, "it does not start with the Noisescope weights header")
        })?;
        let mut reader = Reader { path, rest };
        let version = u32::from_le_bytes(reader.take_array()?);
        if version != VERSION && version != VERSION_PAYLOAD_CRC {
            return Err(WeightsError::format(
                path,
                format!("format version {version}; this Noisescope reads version {VERSION}"),
            ));
        }
        let meta_len = u64::from_le_bytes(reader.take_array()?);
        if meta_len > MAX_METADATA {
            return Err(WeightsError::format(
                path,
                format!("metadata of {meta_len} bytes"),
            ));
        }
        let meta = reader.take(meta_len as usize)?;
        let payload_len = u64::from_le_bytes(reader.take_array()?);
        let expected_crc = u32::from_le_bytes(reader.take_array()?);
        let payload = reader.take(usize::try_from(payload_len).unwrap_or(usize::MAX))?;
        let (covered, what): (&[&[u8]], _) = if version == VERSION_PAYLOAD_CRC {
            (&[payload], "the tensor data")
        } else {
            (&[meta, payload], "the metadata or the tensor data")
        };
        if crc32(covered) != expected_crc {
            return Err(WeightsError::format(
                path,
                format!("{what} is corrupt or was edited (checksum mismatch)"),
            ));
        }
        let metadata: WeightsMetadata = serde_json::from_slice(meta)
            .map_err(|e| WeightsError::format(path, format!("unreadable metadata: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            metadata,
            payload: payload.to_vec(),
        })
    }

    /// Refuses the file unless it holds a model of `kind`.
    pub fn expect_kind(&self, kind: ModelKind) -> Result<(), WeightsError> {
        if self.metadata.kind == kind {
            Ok(())
        } else {
            Err(WeightsError::mismatch(
                &self.path,
                format!("holds a {}, but a {kind} was expected", self.metadata.kind),
            ))
        }
    }

    /// The architecture config stored in the metadata; fields a later version added (absent
    /// from older files) take their values in `defaults`.
    pub fn architecture<C: Serialize + serde::de::DeserializeOwned>(
        &self,
        defaults: &C,
    ) -> Result<C, WeightsError> {
        let mut merged = serde_json::to_value(defaults)
            .map_err(|e| WeightsError::format(&self.path, format!("architecture: {e}")))?;
        if let (Some(merged), Some(stored)) = (
            merged.as_object_mut(),
            self.metadata.architecture.as_object(),
        ) {
            merged.extend(stored.clone());
        } else {
            merged = self.metadata.architecture.clone();
        }
        serde_json::from_value(merged)
            .map_err(|e| WeightsError::format(&self.path, format!("unreadable architecture: {e}")))
    }

    /// Loads the tensors into `module`, which must have the architecture of the metadata.
    pub fn load_into<M: Module>(&self, mut module: M) -> Result<M, WeightsError> {
        let bytes = Bytes::from_bytes_vec(self.payload.clone());
        let mut store = BurnpackStore::from_bytes(Some(bytes));
        let result = module
            .load_from(&mut store)
            .map_err(|e| WeightsError::format(&self.path, format!("unreadable tensors: {e}")))?;
        if !result.is_success() || !result.missing.is_empty() {
            return Err(WeightsError::format(
                &self.path,
                format!("the tensors do not fit the architecture: {result}"),
            ));
        }
        Ok(module)
    }
}

struct Reader<'a> {
    path: &'a Path,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], WeightsError> {
        if self.rest.len() < len {
            return Err(WeightsError::format(
                self.path,
                format!(
                    "the file is truncated ({len} bytes expected, {} left)",
                    self.rest.len()
                ),
            ));
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], WeightsError> {
        let bytes = self.take(N)?;
        let mut array = [0; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }
}

fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = flate2::Crc::new();
    for part in parts {
        crc.update(part);
    }
    crc.sum()
}
