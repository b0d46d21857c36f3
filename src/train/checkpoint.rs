//! Checkpoint folders: `model.nsw` (training weights), `ema.nsw` (averaged weights, U-Nets),
//! `optimizer.bpk` (Adam's moments) and `state.json`, written last so that it only ever points
//! at complete files.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use super::TrainError;
use crate::model::{TrainingHistory, WeightsFile, WeightsMetadata, save_module, write_atomically};

const STATE_FILE: &str = "state.json";
const MODEL_FILE: &str = "model.nsw";
const EMA_FILE: &str = "ema.nsw";
const OPTIMIZER_FILE: &str = "optimizer.bpk";

/// Where the checkpoints of a run writing `out` live: `out` with `.checkpoint` appended.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".checkpoint");
    out.with_file_name(name)
}

/// The progress of a run, and what a resumed run must agree with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Steps done.
    pub step: u64,
    /// Seconds spent over all sittings.
    pub wall_time_s: f64,
    /// Mean loss of the last reporting window (NaN before the first, written as `null`).
    #[serde(deserialize_with = "crate::model::nan_from_null")]
    pub recent_loss: f64,
    /// Schedule, architecture, batch, seed…: a resumed run must use the same.
    pub identity: serde_json::Value,
    /// The log and sample grids so far.
    #[serde(default, skip_serializing_if = "TrainingHistory::is_empty")]
    pub history: TrainingHistory,
}

/// Saves a checkpoint of `model` (and `ema`) with the optimiser state.
pub fn save<M: Module>(
    dir: &Path,
    model: &M,
    ema: Option<&M>,
    optimizer: &ModuleOptimizer,
    metadata: &WeightsMetadata,
    state: &CheckpointState,
) -> Result<(), TrainError> {
    save_module(model, metadata, &dir.join(MODEL_FILE))?;
    if let Some(ema) = ema {
        save_module(ema, metadata, &dir.join(EMA_FILE))?;
    }
    let optimizer_bytes = optimizer
        .into_bytes()
        .map_err(|e| TrainError::Input(format!("could not serialise the optimiser state: {e}")))?;
    write_atomically(&dir.join(OPTIMIZER_FILE), &optimizer_bytes)?;
    let json = serde_json::to_vec_pretty(state)
        .map_err(|e| TrainError::Input(format!("could not serialise the checkpoint state: {e}")))?;
    write_atomically(&dir.join(STATE_FILE), &json)?;
    Ok(())
}

/// The state of the checkpoint in `dir` to resume from: refused when there is none or when it
/// was made with settings other than `identity`.
pub fn resume_state(
    dir: &Path,
    identity: &serde_json::Value,
) -> Result<CheckpointState, TrainError> {
    let state = read_state(dir)?.ok_or_else(|| {
        TrainError::Input(format!("--resume: no checkpoint in {}", dir.display()))
    })?;
    check_identity(dir, &state, identity)?;
    Ok(state)
}

/// Reads the state of the checkpoint in `dir`, or `None` when there is none.
fn read_state(dir: &Path) -> Result<Option<CheckpointState>, TrainError> {
    let path = dir.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes =
        fs::read(&path).map_err(|e| TrainError::Input(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        TrainError::Input(format!(
            "{}: unreadable checkpoint state: {e}",
            path.display()
        ))
    })
}

/// Refuses to resume when the checkpoint was made with other settings.
fn check_identity(
    dir: &Path,
    state: &CheckpointState,
    identity: &serde_json::Value,
) -> Result<(), TrainError> {
    if &state.identity == identity {
        return Ok(());
    }
    let mut differences = Vec::new();
    differing_settings("", &state.identity, identity, &mut differences);
    Err(TrainError::Input(format!(
        "{}: the checkpoint was made with other settings ({}); resume with the same ones or \
         choose another --out",
        dir.display(),
        differences.join("; ")
    )))
}

/// "name: checkpoint A, now B" for every setting (dotted path into nested objects) that
/// differs between `then` and `now`.
fn differing_settings(
    path: &str,
    then: &serde_json::Value,
    now: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    if let (Value::Object(a), Value::Object(b)) = (then, now) {
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let (x, y) = (
                a.get(key).unwrap_or(&Value::Null),
                b.get(key).unwrap_or(&Value::Null),
            );
            differing_settings(&inner, x, y, out);
        }
    } else if then != now {
        out.push(format!("{path}: checkpoint {then}, now {now}"));
    }
}

/// Loads the training weights (`ema = false`) or averaged weights (`ema = true`) into `module`,
/// checking that they belong to step `step`.
pub fn load_weights<M: Module>(
    dir: &Path,
    module: M,
    ema: bool,
    step: u64,
) -> Result<M, TrainError> {
    let file = WeightsFile::read(&dir.join(if ema { EMA_FILE } else { MODEL_FILE }))?;
    if file.metadata.training.steps != step {
        return Err(TrainError::Input(format!(
            "{}: holds step {}, but {STATE_FILE} says {step}; the checkpoint is inconsistent",
            file.path.display(),
            file.metadata.training.steps
        )));
    }
    Ok(file.load_into(module)?)
}

/// Loads the optimiser state saved beside the weights.
pub fn load_optimizer(
    dir: &Path,
    optimizer: ModuleOptimizer,
) -> Result<ModuleOptimizer, TrainError> {
    let path = dir.join(OPTIMIZER_FILE);
    let bytes =
        fs::read(&path).map_err(|e| TrainError::Input(format!("{}: {e}", path.display())))?;
    optimizer
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| {
            TrainError::Input(format!(
                "{}: unreadable optimiser state: {e}",
                path.display()
            ))
        })
}
