//! A scene's pictures without the window: the panel's own job computes what the scene shows
//! (the frames of Forward, the sampled chain of Reverse), and the panel's own export code lays
//! it out, so `noisescope export --scene` writes what the app would.

use std::path::Path;

use burn::tensor::Device;

use super::exports::ExportRequest;
use super::forward::{ForwardFrames, ForwardJob, SourceImage, forward_style};
use super::job::{Update, run_here};
use super::reverse::{ModelRun, ReverseState, sample_job};
use super::scene_file::Scene;
use super::schedules::SchedulesPanel;
use super::settings::Tab;
use crate::data::BuiltinDataset;

/// What to make of a scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SceneOutput {
    /// The picture at the scene's t.
    Png,
    /// The process as `frames` frames.
    Gif {
        /// Frames, evenly spaced, both ends included.
        frames: usize,
    },
}

/// Computes what `scene` shows on `device` (weights from `models_dir`, the assets' when
/// `None`) and returns it as exports: one per model for Reverse scenes.
pub fn scene_exports(
    scene: &Scene,
    output: SceneOutput,
    device: &Device,
    models_dir: Option<&Path>,
) -> Result<Vec<ExportRequest>, String> {
    let settings = &scene.settings;
    let schedules = SchedulesPanel::new(settings.schedules.clone()).schedules();
    let t = settings.cursor_t;
    match settings.tab {
        Tab::Forward => {
            let dataset = BuiltinDataset::load_shipped().map_err(|e| e.to_string())?;
            let index = settings.forward.dataset_index;
            let source = SourceImage::from_dataset(&dataset, index)
                .ok_or_else(|| format!("the test split has no image {index}"))?;
            let job = ForwardJob {
                x0: source.image.clone(),
                schedules: schedules.clone(),
                mode: settings.forward.mode,
                seed: settings.forward.seed,
            };
            let stacks = run_here(job, device)?.pop().unwrap_or_default();
            let frames = ForwardFrames {
                x0: source.image.row(0),
                stacks: &stacks,
                schedules: &schedules,
                style: forward_style(&settings.forward),
            };
            let request = match output {
                SceneOutput::Png => frames.frames_export(t.clamp(1, max_steps(&schedules))),
                SceneOutput::Gif { frames: count } => frames.gif_export(count),
            };
            Ok(request.into_iter().collect())
        }
        Tab::Reverse => {
            let (job, labels) = sample_job(&settings.reverse, models_dir, &schedules)?;
            let mut state = ReverseState {
                runs: labels.into_iter().map(ModelRun::new).collect(),
                ..ReverseState::default()
            };
            for event in run_here(job, device)? {
                state.apply(Update::Event(event));
            }
            if let Some(message) = state.runs.iter().find_map(|r| r.error.clone()) {
                return Err(message);
            }
            Ok(match output {
                SceneOutput::Png => state.batch_exports(t),
                SceneOutput::Gif { frames } => state.gif_exports(frames),
            })
        }
        other => Err(format!(
            "scene \"{}\" opens the {other:?} panel, whose figures are plots: open the scene \
             in the app and press E (the panel as PNG) or right-click a plot (that plot alone), \
             or export their curves as CSV there; `export --scene` makes pictures of Forward \
             and Reverse scenes",
            scene.name
        )),
    }
}

fn max_steps(schedules: &[crate::schedule::Schedule]) -> usize {
    schedules
        .iter()
        .map(crate::schedule::Schedule::steps)
        .max()
        .unwrap_or(1)
}
