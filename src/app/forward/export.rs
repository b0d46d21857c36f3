//! What the Forward panel exports: the frames at the cursor, the film strips, the process as
//! a GIF and the frequency view's curves.

use super::view::strip_steps;
use super::{ForwardPanel, row_for};
use crate::app::exports::{ExportRequest, Tiles};
use crate::app::panel::Shared;
use crate::data::IMAGE_SIDE;
use crate::export::PictureStyle;
use crate::export::gif::evenly_spaced;
use crate::render::ValueRange;

impl ForwardPanel {
    fn picture_style(&self) -> PictureStyle {
        PictureStyle {
            range: (!self.settings.auto_range).then(ValueRange::default),
            colormap: self.settings.colormap,
        }
    }

    /// x0 and x_t of every schedule at state `t` (0: x0 everywhere), in one row.
    fn row_at(&self, shared: &Shared<'_>, t: usize) -> Tiles {
        let x0 = self.source.image.row(0).to_vec();
        let mut images = vec![x0.clone()];
        for (slot, stack) in self.stacks.iter().enumerate() {
            images.push(match t {
                0 => x0.clone(),
                t => stack.row(row_for(shared.schedules, slot, t)).to_vec(),
            });
        }
        Tiles {
            columns: images.len(),
            images,
            side: (IMAGE_SIDE, IMAGE_SIDE),
            style: self.picture_style(),
            t: Some(t),
        }
    }

    /// The frames on screen: x0 and x_t of every schedule at the cursor.
    pub fn frames_export(&self, shared: &Shared<'_>) -> Option<ExportRequest> {
        if self.stacks.is_empty() {
            return None;
        }
        let t = shared.cursor_t;
        Some(ExportRequest::Png {
            stem: format!("forward-t{t:04}"),
            tiles: self.row_at(shared, t),
        })
    }

    /// The film strips: one row of ~10 frames per schedule.
    pub fn strips_export(&self, shared: &Shared<'_>) -> Option<ExportRequest> {
        let steps = shared.schedules.iter().map(|s| s.steps()).max()?;
        let ts = strip_steps(steps);
        let mut images = Vec::new();
        for (slot, stack) in self.stacks.iter().enumerate() {
            for &t in &ts {
                images.push(stack.row(row_for(shared.schedules, slot, t)).to_vec());
            }
        }
        (!images.is_empty()).then(|| ExportRequest::Png {
            stem: "forward-film-strips".to_owned(),
            tiles: Tiles {
                images,
                side: (IMAGE_SIDE, IMAGE_SIDE),
                columns: ts.len(),
                style: self.picture_style(),
                t: None,
            },
        })
    }

    /// The process from x0 to x_T as `frames` frames, evenly spaced, both ends included.
    pub fn gif_export(&self, shared: &Shared<'_>, frames: usize) -> Option<ExportRequest> {
        if self.stacks.is_empty() {
            return None;
        }
        let states = shared.schedules.iter().map(|s| s.steps()).max()? + 1;
        let indices = evenly_spaced(states, frames.clamp(2, states))?;
        Some(ExportRequest::Gif {
            stem: "forward".to_owned(),
            frames: indices
                .into_iter()
                .map(|t| self.row_at(shared, t))
                .collect(),
        })
    }
}
