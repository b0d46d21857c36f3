//! The Reverse panel's state: the running sampling job and every recorded step of each model.

use std::path::{Path, PathBuf};

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::diffusion::{RecordedStep, SamplerConfig, recording_bytes};
use crate::model::shipped;
use crate::render::ImageStack;
use crate::schedule::Schedule;

use super::job::SampleEvent;
use crate::app::job::Update;
use crate::app::settings::{ModelsShown, ReverseSettings};

/// The most memory a recording may take.
pub const RECORDING_LIMIT_BYTES: u64 = 1 << 30;
/// The largest batch the panel offers.
pub const MAX_BATCH: usize = 256;

/// One model's column.
#[derive(Default)]
pub struct ModelRun {
    /// "linear" or "cosine".
    pub label: String,
    /// Its schedule, once loaded.
    pub schedule: Option<Schedule>,
    /// Steps the run will record.
    pub expected: usize,
    /// Recorded steps, t descending.
    pub steps: Vec<RecordedStep>,
    /// x_0 once finished.
    pub final_x0: Option<Vec<f32>>,
    /// Why this model could not sample.
    pub error: Option<String>,
    /// Why its samples may differ from what was asked (a clamped λ range).
    pub note: Option<String>,
    shown: Option<(usize, ShownStep)>,
}

impl ModelRun {
    /// An empty column for the model called `label`.
    pub fn new(label: String) -> Self {
        Self {
            label,
            ..Self::default()
        }
    }

    /// Index of the recorded step nearest to `t`.
    pub fn step_index(&self, t: usize) -> Option<usize> {
        if self.steps.is_empty() {
            return None;
        }
        let after = self.steps.partition_point(|s| s.t > t);
        let candidates = [after.checked_sub(1), Some(after.min(self.steps.len() - 1))];
        candidates
            .into_iter()
            .flatten()
            .min_by_key(|&i| self.steps[i].t.abs_diff(t))
    }

    /// The batch at the step nearest to `t`, as image stacks (cached).
    pub fn frames_at(&mut self, t: usize) -> Option<&ShownStep> {
        let index = self.step_index(t)?;
        if self.shown.as_ref().is_none_or(|(i, _)| *i != index) {
            let step = &self.steps[index];
            let stack = |q: &crate::diffusion::QuantizedBatch| {
                ImageStack::new(q.values(), IMAGE_SIDE, IMAGE_SIDE)
            };
            let shown = ShownStep {
                t: step.t,
                x_t: stack(&step.x_t)?,
                x0_hat: stack(&step.x0_hat)?,
                eps_hat: stack(&step.eps_hat)?,
                x0_unguided: match &step.x0_unguided {
                    Some(q) => Some(stack(q)?),
                    None => None,
                },
            };
            self.shown = Some((index, shown));
        }
        self.shown.as_ref().map(|(_, shown)| shown)
    }
}

/// One recorded step as image stacks.
#[derive(Clone)]
pub struct ShownStep {
    /// The step.
    pub t: usize,
    /// x_t.
    pub x_t: ImageStack,
    /// x̂0 (guided, when a class was asked for).
    pub x0_hat: ImageStack,
    /// ε̂.
    pub eps_hat: ImageStack,
    /// x̂0 without guidance (w = 0), when the step was guided.
    pub x0_unguided: Option<ImageStack>,
}

/// The Reverse panel's results.
#[derive(Default)]
pub struct ReverseState {
    /// One run per model.
    pub runs: Vec<ModelRun>,
    /// Why the last request failed or was refused.
    pub error: Option<String>,
    /// Wall time of the last finished job.
    pub seconds: Option<f64>,
    /// Whether playback is on.
    pub playing: bool,
    /// Fractional steps of playback not yet shown.
    pub play_carry: f64,
    /// The longest UI frame (CPU time, seconds) while this job ran.
    pub slowest_frame: f32,
    /// When Sample was pressed.
    pub requested: Option<std::time::Instant>,
    /// Seconds from Sample to the first recorded step reaching the UI.
    pub first_step_after: Option<f64>,
    /// When the run on screen was kept from an earlier sampling: that sampling's wall time.
    pub kept_from: Option<f64>,
}

impl ReverseState {
    /// Applies one update of the current job.
    pub fn apply(&mut self, update: Update<SampleEvent>) {
        let Some(event) = update.event_or_end(&mut self.seconds, &mut self.error) else {
            return;
        };
        match event {
            SampleEvent::Started {
                model,
                schedule,
                steps,
                note,
            } => {
                if let Some(run) = self.runs.get_mut(model) {
                    run.schedule = Some(*schedule);
                    run.expected = steps;
                    run.note = note;
                }
            }
            SampleEvent::Steps { model, steps } => {
                if let Some(run) = self.runs.get_mut(model) {
                    run.steps.extend(steps);
                }
                if self.first_step_after.is_none() {
                    self.first_step_after = self.requested.map(|at| at.elapsed().as_secs_f64());
                }
            }
            SampleEvent::Finished { model, x0 } => {
                if let Some(run) = self.runs.get_mut(model) {
                    run.final_x0 = Some(x0);
                }
            }
            SampleEvent::Kept { seconds } => self.kept_from = Some(seconds),
            SampleEvent::NotKept => *self = Self::default(),
            SampleEvent::ModelFailed { model, message } => {
                if let Some(run) = self.runs.get_mut(model) {
                    run.error = Some(message);
                }
            }
        }
    }

    /// The first error: the request's, or a model's.
    pub fn first_error(&self) -> Option<&str> {
        let models = self.runs.iter().filter_map(|r| r.error.as_deref());
        self.error.as_deref().or(models.into_iter().next())
    }

    /// The largest T among the models sampled (their schedules, once loaded).
    pub fn max_steps(&self) -> Option<usize> {
        let loaded = self.runs.iter().filter_map(|r| r.schedule.as_ref());
        loaded.map(Schedule::steps).max()
    }

    /// Recorded and expected steps over all models.
    pub fn progress(&self) -> (usize, usize) {
        let done = self.runs.iter().map(|r| r.steps.len()).sum();
        let total = self.runs.iter().map(|r| r.expected).sum();
        (done, total)
    }

    /// Seconds left at the pace so far, once a step is done.
    pub fn seconds_left(&self) -> Option<f64> {
        let (done, total) = self.progress();
        let elapsed = self.requested?.elapsed().as_secs_f64();
        (done > 0 && total >= done).then(|| elapsed / done as f64 * (total - done) as f64)
    }
}

/// The sampler the settings describe.
pub fn sampler_config(settings: &ReverseSettings) -> SamplerConfig {
    SamplerConfig {
        kind: settings.sampler.kind(
            settings.steps,
            settings.spacing,
            settings.variance,
            settings.eta,
        ),
        clip_x0: settings.clip,
    }
}

/// The shipped model files to sample with, labelled.
pub fn model_files(
    models: ModelsShown,
    dir: Option<&Path>,
) -> Result<Vec<(String, PathBuf)>, String> {
    let names: &[(&str, &str)] = match models {
        ModelsShown::Linear => &[("linear", shipped::UNET_LINEAR)],
        ModelsShown::Cosine => &[("cosine", shipped::UNET_COSINE)],
        ModelsShown::Both => &[
            ("linear", shipped::UNET_LINEAR),
            ("cosine", shipped::UNET_COSINE),
        ],
    };
    names
        .iter()
        .map(|(label, file)| shipped_file(file, dir).map(|p| ((*label).to_owned(), p)))
        .collect()
}

/// Where the shipped weights file `file` (e.g. `models/unet-linear.nsw`) is: in `dir` under
/// its own name when given, else in the assets folder.
pub fn shipped_file(file: &str, dir: Option<&Path>) -> Result<PathBuf, String> {
    match dir {
        Some(dir) => Ok(dir.join(Path::new(file).file_name().unwrap_or_default())),
        None => shipped::path(file).map_err(|e| e.to_string()),
    }
}

/// Bytes a recording of `steps` steps of `batch` images for `models` models takes.
pub fn recording_size(models: usize, steps: usize, batch: usize, guided: bool) -> u64 {
    let bytes = recording_bytes(models, steps, batch, IMAGE_PIXELS);
    // A guided step also keeps the unguided x̂0: four images instead of three.
    if guided { bytes / 3 * 4 } else { bytes }
}

/// Refuses recordings that would not fit comfortably in memory, with the estimate.
pub fn check_recording_size(
    models: usize,
    steps: usize,
    batch: usize,
    guided: bool,
) -> Result<(), String> {
    let bytes = recording_size(models, steps, batch, guided);
    if batch == 0 || batch > MAX_BATCH {
        return Err(format!(
            "the batch must be between 1 and {MAX_BATCH} images"
        ));
    }
    if bytes > RECORDING_LIMIT_BYTES {
        return Err(format!(
            "recording {steps} steps of {batch} images for {models} model(s) needs about {:.0} MB \
             (limit {:.0} MB): use fewer images or a sampler with fewer steps",
            bytes as f64 / 1e6,
            RECORDING_LIMIT_BYTES as f64 / 1e6
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::{DefaultSampler, QuantizedBatch};

    #[test]
    fn the_panel_starts_with_the_sampler_that_sample_and_evaluate_default_to() {
        let config = sampler_config(&ReverseSettings::default());
        assert_eq!(config, DefaultSampler::REVERSE.config());
        assert_eq!(config, SamplerConfig::app_default());
    }

    fn run_with_steps(ts: &[usize]) -> ModelRun {
        let q = QuantizedBatch::new(&[0.0; 4]);
        let mut run = ModelRun::new("test".into());
        run.steps = ts
            .iter()
            .map(|&t| RecordedStep {
                t,
                x_t: q.clone(),
                x0_hat: q.clone(),
                eps_hat: q.clone(),
                x0_unguided: None,
            })
            .collect();
        run
    }

    #[test]
    fn the_nearest_recorded_step_is_shown() {
        let ddim = run_with_steps(&[901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
        let t_at = |t| ddim.step_index(t).map(|i| ddim.steps[i].t);
        assert_eq!(t_at(1000), Some(901));
        assert_eq!(t_at(860), Some(901));
        assert_eq!(t_at(840), Some(801));
        assert_eq!(t_at(101), Some(101));
        assert_eq!(t_at(1), Some(1));
        let streaming = run_with_steps(&[1000, 999, 998]);
        assert_eq!(
            streaming.step_index(250),
            Some(2),
            "while streaming, the newest step"
        );
        assert_eq!(run_with_steps(&[]).step_index(5), None);
    }

    #[test]
    fn recordings_over_the_limit_are_refused_with_the_estimate() {
        assert!(check_recording_size(2, 1000, 64, false).is_ok());
        let message = check_recording_size(2, 1000, 256, false).expect_err("too large");
        assert!(message.contains("1204 MB"), "{message}");
        assert!(check_recording_size(1, 1000, 0, false).is_err());
    }
}
