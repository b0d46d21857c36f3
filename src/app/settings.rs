//! What the app remembers between runs.

use serde::{Deserialize, Serialize};

use crate::diffusion::ForwardMode;
use crate::render::Colormap;
use crate::schedule::{ScheduleKind, ScheduleSpec};

/// Most schedules compared at once.
pub const MAX_SCHEDULES: usize = 4;

/// The panels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    /// Pick, edit and plot schedules.
    #[default]
    Schedules,
    /// Noise an image t by t.
    Forward,
}

/// What the x axis of the schedule plots shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum XAxis {
    /// The step t.
    #[default]
    Step,
    /// t/T, so schedules of different T line up.
    Fraction,
}

/// The persisted settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The open panel.
    pub tab: Tab,
    /// The compared schedules, as the user last typed them.
    pub specs: Vec<ScheduleSpec>,
    /// The x axis of the schedule plots.
    pub x_axis: XAxis,
    /// Plot β on a log₁₀ scale, so small and large β show together.
    pub log_beta: bool,
    /// The shared cursor t (1-based).
    pub cursor_t: usize,
    /// Index of the dataset image shown in the Forward panel.
    pub dataset_index: usize,
    /// Seed of ε.
    pub seed: u64,
    /// Closed form or Markov chain.
    pub mode: ForwardMode,
    /// Colour map of the images.
    pub colormap: Colormap,
    /// Stretch each frame's own min..max instead of [−1, 1].
    pub auto_range: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tab: Tab::default(),
            specs: vec![
                ScheduleSpec::new(ScheduleKind::Linear),
                ScheduleSpec::new(ScheduleKind::Cosine),
            ],
            x_axis: XAxis::default(),
            log_beta: true,
            cursor_t: 250,
            dataset_index: 0,
            seed: 0,
            mode: ForwardMode::default(),
            colormap: Colormap::default(),
            auto_range: false,
        }
    }
}
