//! What the app remembers between runs.

use serde::{Deserialize, Serialize};

use crate::diffusion::ForwardMode;
use crate::render::Colormap;
use crate::schedule::{ReverseVariance, ScheduleKind, ScheduleSpec, TimestepSpacing};

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
    /// Sample with the trained models and watch every reverse step.
    Reverse,
}

/// Which shipped models the Reverse panel samples with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelsShown {
    /// The linear-schedule model.
    Linear,
    /// The cosine-schedule model.
    Cosine,
    /// Both, side by side from the same x_T.
    #[default]
    Both,
}

/// The sampler family chosen in the Reverse panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SamplerChoice {
    /// DDPM ancestral sampling.
    #[default]
    Ddpm,
    /// DDIM.
    Ddim,
}

/// The Reverse panel's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReverseSettings {
    /// Which models.
    pub models: ModelsShown,
    /// Images per model.
    pub batch: usize,
    /// Seed of x_T and every step's noise.
    pub seed: u64,
    /// DDPM or DDIM.
    pub sampler: SamplerChoice,
    /// DDIM's number of steps.
    pub ddim_steps: usize,
    /// DDIM's η.
    pub eta: f64,
    /// DDIM's timestep spacing.
    pub spacing: TimestepSpacing,
    /// DDPM's σ_t².
    pub variance: ReverseVariance,
    /// Clip x̂0 to [−1, 1].
    pub clip: bool,
    /// The image shown large (index in the batch).
    pub selected: usize,
    /// Playback speed in steps per second.
    pub speed: f64,
}

impl Default for ReverseSettings {
    fn default() -> Self {
        Self {
            models: ModelsShown::default(),
            batch: 16,
            seed: 0,
            sampler: SamplerChoice::default(),
            ddim_steps: 50,
            eta: 0.0,
            spacing: TimestepSpacing::default(),
            variance: ReverseVariance::default(),
            clip: true,
            selected: 0,
            speed: 100.0,
        }
    }
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
    /// The Reverse panel.
    pub reverse: ReverseSettings,
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
            reverse: ReverseSettings::default(),
        }
    }
}
