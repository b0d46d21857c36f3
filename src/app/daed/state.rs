//! The DAED panel's state: the samples at the current switching point, the sweep, and the
//! jobs computing them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::IMAGE_SIDE;
use crate::diffusion::SamplerConfig;
use crate::experiment::SweepPoint;
use crate::model::shipped;
use crate::render::ImageStack;
use crate::schedule::Schedule;

use super::job::{DaedEvent, DaedSamples, DaedSetup};
use crate::app::condition::resolve;
use crate::app::job::Update;
use crate::app::reverse::shipped_file;
use crate::app::settings::{DaeChoice, DaedSettings, ShippedPair};

/// The most images per method the panel shows.
pub const MAX_SHOWN: usize = 64;
/// The most images per method a sweep samples.
pub const MAX_SWEEP_IMAGES: usize = 5000;

/// Which job is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaedTask {
    /// Samples at one switching point.
    Samples,
    /// The FID sweep.
    Sweep,
}

/// The panel's results.
#[derive(Default)]
pub struct DaedState {
    /// What is running.
    pub running: Option<DaedTask>,
    /// What the running job does before its counted work, if it says.
    pub phase: Option<&'static str>,
    /// The setup and s of the samples being computed or shown.
    pub requested: Option<(DaedSetup, usize)>,
    /// The samples shown.
    pub samples: Option<DaedSamples>,
    /// full, one-shot x̂0, DAED as image stacks.
    pub stacks: Option<[ImageStack; 3]>,
    /// The sweep shown.
    pub sweep: Option<Vec<SweepPoint>>,
    /// Finished sweeps by request.
    pub sweep_cache: HashMap<String, Vec<SweepPoint>>,
    /// The key of the sweep being computed.
    pub sweep_key: Option<String>,
    /// When the sweep being computed was started.
    pub sweep_started: Option<std::time::Instant>,
    /// Seconds the last computed sweep took.
    pub sweep_seconds: Option<f64>,
    /// Why the last request failed.
    pub error: Option<String>,
}

impl DaedState {
    /// Applies one update of the current job.
    pub fn apply(&mut self, update: Update<DaedEvent>) {
        let event = match update {
            Update::Event(event) => event,
            Update::Progress { .. } => {
                self.phase = None;
                return;
            }
            Update::Done { .. } => {
                self.set_running(None);
                return;
            }
            Update::Failed(message) => {
                self.set_running(None);
                self.error = Some(message);
                return;
            }
        };
        match event {
            DaedEvent::Phase(phase) => self.phase = Some(phase),
            DaedEvent::Samples(samples) => {
                self.error = None;
                let stack =
                    |values: &[f32]| ImageStack::new(values.to_vec(), IMAGE_SIDE, IMAGE_SIDE);
                self.stacks = match (
                    stack(&samples.full),
                    stack(&samples.ddgm_x0),
                    stack(&samples.daed),
                ) {
                    (Some(a), Some(b), Some(c)) => Some([a, b, c]),
                    _ => None,
                };
                self.samples = Some(*samples);
            }
            DaedEvent::Sweep(points) => {
                self.error = None;
                if let Some(key) = self.sweep_key.take() {
                    self.sweep_cache.insert(key, points.clone());
                }
                self.sweep_seconds = self
                    .sweep_started
                    .take()
                    .map(|at| at.elapsed().as_secs_f64());
                self.sweep = Some(points);
            }
        }
    }

    /// Marks `task` as running (or none); any phase text is cleared.
    pub fn set_running(&mut self, task: Option<DaedTask>) {
        self.running = task;
        self.phase = None;
    }

    /// The s of the samples on screen.
    pub fn shown_s(&self) -> Option<usize> {
        self.samples.as_ref().map(|s| s.s)
    }
}

/// The weights files of a shipped pair with the chosen autoencoder, from `dir` when given
/// (tests), else the assets.
pub fn pair_files(
    pair: ShippedPair,
    choice: DaeChoice,
    dir: Option<&Path>,
) -> Result<(PathBuf, PathBuf), String> {
    let (unet, dae) = match (pair, choice) {
        (ShippedPair::Linear, DaeChoice::FineTuned) => (shipped::UNET_LINEAR, shipped::DAE_LINEAR),
        (ShippedPair::Linear, DaeChoice::Separate) => {
            (shipped::UNET_LINEAR, shipped::DAE_LINEAR_SEPARATE)
        }
        (ShippedPair::Cosine, DaeChoice::FineTuned) => (shipped::UNET_COSINE, shipped::DAE_COSINE),
        (ShippedPair::Cosine, DaeChoice::Separate) => {
            (shipped::UNET_COSINE, shipped::DAE_COSINE_SEPARATE)
        }
    };
    Ok((shipped_file(unet, dir)?, shipped_file(dae, dir)?))
}

/// The diffusion model's sampler for the settings.
pub fn daed_sampler(settings: &DaedSettings) -> SamplerConfig {
    settings.sampler.chain(settings.steps)
}

/// The setup the settings describe, checked; `schedules` are the Schedules panel's.
pub fn setup(
    settings: &DaedSettings,
    (dir, schedules): (Option<&Path>, &[Schedule]),
) -> Result<DaedSetup, String> {
    if settings.batch == 0 || settings.batch > MAX_SHOWN {
        return Err(format!(
            "the number of images must be between 1 and {MAX_SHOWN}"
        ));
    }
    let (ddgm, dae) = pair_files(settings.model, settings.dae, dir)?;
    Ok(DaedSetup {
        ddgm,
        dae,
        config: daed_sampler(settings),
        batch: settings.batch,
        seed: settings.seed,
        condition: resolve(&settings.condition, schedules)?,
    })
}

/// The cache key of a sweep.
pub fn sweep_key(setup: &DaedSetup, images: usize, switches: &[usize]) -> String {
    serde_json::json!({
        "ddgm": setup.ddgm,
        "dae": setup.dae,
        "config": setup.config,
        "batch": setup.batch,
        "seed": setup.seed,
        "class": setup.condition.class,
        "guidance": setup.condition.guidance,
        "sampling": setup.condition.sampling,
        "images": images,
        "switches": switches,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_starts_with_the_sampler_that_daed_defaults_to() {
        let config = daed_sampler(&DaedSettings::default());
        assert_eq!(config, crate::diffusion::DefaultSampler::DAED.config());
    }
}
