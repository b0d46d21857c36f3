//! What the Reverse panel exports: each model's batch at the cursor, the chain from x_T to x0
//! as a GIF, and the frequency view's curves.

use super::state::{ModelRun, ReverseState};
use crate::app::exports::{ExportRequest, Tiles};
use crate::data::IMAGE_SIDE;
use crate::export::PictureStyle;
use crate::export::gif::evenly_spaced;

/// The batch `images` (flat) as a square-ish grid at step `t`.
fn batch_tiles(images: &[f32], t: usize) -> Tiles {
    let images: Vec<Vec<f32>> = images
        .chunks(IMAGE_SIDE * IMAGE_SIDE)
        .map(<[f32]>::to_vec)
        .collect();
    Tiles {
        columns: (images.len() as f64).sqrt().ceil() as usize,
        images,
        side: (IMAGE_SIDE, IMAGE_SIDE),
        style: PictureStyle::default(),
        t: Some(t),
    }
}

/// The states of a run: x_t of every recorded step (x_T first), then x0 once finished.
fn states(run: &ModelRun) -> Vec<(usize, Vec<f32>)> {
    let recorded = run.steps.iter().map(|s| (s.t, s.x_t.values()));
    let last = run.final_x0.clone().map(|x0| (0, x0));
    recorded.chain(last).collect()
}

impl ReverseState {
    /// Each model's batch at the step nearest the cursor.
    pub fn batch_exports(&self, cursor_t: usize) -> Vec<ExportRequest> {
        let finished_at_one = |run: &ModelRun| cursor_t <= 1 && run.final_x0.is_some();
        self.runs
            .iter()
            .filter_map(|run| {
                let (t, images) = if finished_at_one(run) {
                    (0, run.final_x0.clone()?)
                } else {
                    let step = &run.steps[run.step_index(cursor_t)?];
                    (step.t, step.x_t.values())
                };
                Some(ExportRequest::Png {
                    stem: format!("reverse-{}-t{t:04}", run.label),
                    tiles: batch_tiles(&images, t),
                })
            })
            .collect()
    }

    /// Each model's chain from x_T to x0 as `frames` frames, evenly spaced, both ends
    /// included (fewer when fewer steps were recorded).
    pub fn gif_exports(&self, frames: usize) -> Vec<ExportRequest> {
        self.runs
            .iter()
            .filter_map(|run| {
                let states = states(run);
                let indices = evenly_spaced(states.len(), frames.clamp(2, states.len()))?;
                let frames = indices
                    .into_iter()
                    .map(|i| batch_tiles(&states[i].1, states[i].0))
                    .collect();
                Some(ExportRequest::Gif {
                    stem: format!("reverse-{}", run.label),
                    frames,
                })
            })
            .collect()
    }
}
