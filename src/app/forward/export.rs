//! What the Forward panel exports: the frames at the cursor, the film strips and the process
//! as a GIF (the command line's `export --scene` makes the same from a scene).

use super::view::strip_steps;
use super::{ForwardPanel, row_for};
use crate::app::exports::{ExportRequest, Tiles};
use crate::app::panel::Shared;
use crate::data::IMAGE_SIDE;
use crate::export::PictureStyle;
use crate::export::gif::evenly_spaced;
use crate::render::{ImageStack, ValueRange};
use crate::schedule::Schedule;

/// An image noised under every compared schedule, as the panel draws it.
pub struct ForwardFrames<'a> {
    /// The image.
    pub x0: &'a [f32],
    /// x_1..x_T of each schedule.
    pub stacks: &'a [ImageStack],
    /// The schedules, in slot order.
    pub schedules: &'a [Schedule],
    /// How values become colours.
    pub style: PictureStyle,
}

/// The panel's colours: gray or diverging over [−1, 1], or each frame's own range.
pub fn forward_style(settings: &crate::app::ForwardSettings) -> PictureStyle {
    PictureStyle {
        range: (!settings.auto_range).then(ValueRange::default),
        colormap: settings.colormap,
    }
}

impl ForwardFrames<'_> {
    /// x0 and x_t of every schedule at state `t` (0: x0 everywhere), in one row.
    fn row_at(&self, t: usize) -> Tiles {
        let mut images = vec![self.x0.to_vec()];
        for (slot, stack) in self.stacks.iter().enumerate() {
            images.push(match t {
                0 => self.x0.to_vec(),
                t => stack.row(row_for(self.schedules, slot, t)).to_vec(),
            });
        }
        Tiles {
            columns: images.len(),
            images,
            side: (IMAGE_SIDE, IMAGE_SIDE),
            style: self.style,
            t: Some(t),
        }
    }

    /// x0 and x_t of every schedule at `t`.
    pub fn frames_export(&self, t: usize) -> Option<ExportRequest> {
        (!self.stacks.is_empty()).then(|| ExportRequest::Png {
            stem: format!("forward-t{t:04}"),
            tiles: self.row_at(t),
        })
    }

    /// The film strips: one row of ~10 frames per schedule.
    pub fn strips_export(&self) -> Option<ExportRequest> {
        let steps = self.schedules.iter().map(Schedule::steps).max()?;
        let ts = strip_steps(steps);
        let mut images = Vec::new();
        for (slot, stack) in self.stacks.iter().enumerate() {
            for &t in &ts {
                images.push(stack.row(row_for(self.schedules, slot, t)).to_vec());
            }
        }
        (!images.is_empty()).then(|| ExportRequest::Png {
            stem: "forward-film-strips".to_owned(),
            tiles: Tiles {
                images,
                side: (IMAGE_SIDE, IMAGE_SIDE),
                columns: ts.len(),
                style: self.style,
                t: None,
            },
        })
    }

    /// The process from x0 to x_T as `frames` frames, evenly spaced, both ends included.
    pub fn gif_export(&self, frames: usize) -> Option<ExportRequest> {
        if self.stacks.is_empty() {
            return None;
        }
        let states = self.schedules.iter().map(Schedule::steps).max()? + 1;
        let indices = evenly_spaced(states, frames.clamp(2, states))?;
        Some(ExportRequest::Gif {
            stem: "forward".to_owned(),
            frames: indices.into_iter().map(|t| self.row_at(t)).collect(),
        })
    }
}

impl ForwardPanel {
    /// The frames on screen.
    pub fn frames<'a>(&'a self, shared: &Shared<'a>) -> ForwardFrames<'a> {
        ForwardFrames {
            x0: self.source.image.row(0),
            stacks: &self.stacks,
            schedules: shared.schedules,
            style: forward_style(&self.settings),
        }
    }
}
