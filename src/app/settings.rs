//! What the app remembers between runs.

use serde::{Deserialize, Serialize};

use crate::diffusion::{DefaultSampler, ForwardMode};
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
    /// log-SNR and reconstruction error per step.
    Analysis,
    /// The diffusion model to a switching point, then the denoising autoencoder.
    Daed,
    /// Train a small model on 2D points and watch them travel.
    Playground,
}

/// One of the two shipped diffusion models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShippedPair {
    /// The linear-schedule U-Net and its DAE.
    #[default]
    Linear,
    /// The cosine-schedule U-Net and its DAE.
    Cosine,
}

/// The DAED panel's settings (the switching point is shared with the Analysis panel).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DaedSettings {
    /// Which model and autoencoder.
    pub model: ShippedPair,
    /// Which kind of autoencoder.
    pub dae: DaeChoice,
    /// Images shown per method.
    pub batch: usize,
    /// Seed of x_T and the chain's noise.
    pub seed: u64,
    /// The sampler of the diffusion model's chain.
    pub sampler: SamplerChoice,
    /// Its number of steps (all samplers but DDPM).
    #[serde(alias = "ddim_steps")]
    pub steps: usize,
    /// The class and guidance of the diffusion model (its own schedule).
    pub condition: ConditionSettings,
    /// Images per method and switching point in the sweep.
    pub sweep_images: usize,
    /// Switching points of the sweep, from 0 to the autoencoder's t_max.
    pub sweep_points: usize,
}

impl Default for DaedSettings {
    fn default() -> Self {
        Self {
            model: ShippedPair::default(),
            dae: DaeChoice::default(),
            batch: 16,
            seed: 0,
            sampler: DefaultSampler::DAED.family,
            steps: DefaultSampler::DAED.steps,
            condition: ConditionSettings::default(),
            sweep_images: 500,
            sweep_points: 12,
        }
    }
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

/// The sampler chosen in a panel (the library's sampler families).
pub use crate::diffusion::SamplerFamily as SamplerChoice;

/// The schedule a panel samples under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SamplingChoice {
    /// Each model's own training schedule.
    #[default]
    Trained,
    /// Slot k (0-based) of the schedules compared in the Schedules panel (log-SNR-conditioned
    /// models only).
    Compared(usize),
}

/// What the models are asked to generate, and under which schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConditionSettings {
    /// The class (an index into the Fashion-MNIST classes); `None`: any class.
    pub class: Option<usize>,
    /// Classifier-free guidance scale w (with a class).
    pub guidance: f64,
    /// The schedule to sample under.
    pub sampling: SamplingChoice,
}

impl Default for ConditionSettings {
    fn default() -> Self {
        Self {
            class: None,
            guidance: crate::model::DEFAULT_GUIDANCE,
            sampling: SamplingChoice::Trained,
        }
    }
}

/// Which denoising autoencoder finishes DAED's chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DaeChoice {
    /// The diffusion model fine-tuned for small t (`train-dae --init`).
    #[default]
    FineTuned,
    /// A network of its own, trained from scratch for small t, as in Deja et al.'s code.
    Separate,
}

/// Where the Playground's points come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlaygroundSource {
    /// A built-in distribution.
    #[default]
    BuiltIn,
    /// The points the person drew.
    Drawn,
}

/// The Playground panel's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlaygroundSettings {
    /// Built-in or drawn points.
    pub source: PlaygroundSource,
    /// The built-in distribution.
    pub data: crate::toy::ToyData,
    /// The drawn points (kept between runs of the app).
    pub drawn: Vec<crate::toy::Point>,
    /// Where each drawn stroke begins in `drawn`, for Undo.
    pub strokes: Vec<usize>,
    /// What the network learns.
    pub objective: crate::toy::Objective,
    /// The compared schedule (0-based slot of the Schedules panel) to train and sample under.
    pub schedule_slot: usize,
    /// Training steps.
    pub steps: u64,
    /// Seed of the data, the weights, the batches and the samples.
    pub seed: u64,
    /// The sampler (diffusion objectives).
    pub sampler: SamplerChoice,
    /// Its steps (all samplers but DDPM; flow matching's Euler steps).
    pub sampler_steps: usize,
    /// Points to sample.
    pub n: usize,
    /// Whether a second model trains beside the first, on the same points and seed.
    pub compare: bool,
    /// The second model.
    pub second: ToyModelChoice,
}

/// What a compared Playground model learns, and under which compared schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToyModelChoice {
    /// What the network learns.
    pub objective: crate::toy::Objective,
    /// The compared schedule (0-based slot of the Schedules panel).
    pub schedule_slot: usize,
}

impl Default for ToyModelChoice {
    /// Flow matching: the comparison a first look asks for.
    fn default() -> Self {
        Self {
            objective: crate::toy::Objective::Flow,
            schedule_slot: 0,
        }
    }
}

impl Default for PlaygroundSettings {
    fn default() -> Self {
        Self {
            source: PlaygroundSource::BuiltIn,
            data: crate::toy::ToyData::Moons,
            drawn: Vec::new(),
            strokes: Vec::new(),
            objective: crate::toy::Objective::Eps,
            schedule_slot: 0,
            steps: crate::toy::DEFAULT_TOY_STEPS,
            seed: 0,
            sampler: SamplerChoice::Ddpm,
            sampler_steps: 100,
            n: 1000,
            compare: false,
            second: ToyModelChoice::default(),
        }
    }
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
    /// The sampler.
    pub sampler: SamplerChoice,
    /// Its number of steps (all samplers but DDPM).
    #[serde(alias = "ddim_steps")]
    pub steps: usize,
    /// DDIM's η.
    pub eta: f64,
    /// The timestep spacing of the samplers with a number of steps.
    pub spacing: TimestepSpacing,
    /// DDPM's σ_t².
    pub variance: ReverseVariance,
    /// Clip x̂0 to [−1, 1].
    pub clip: bool,
    /// The class, guidance and sampling schedule.
    pub condition: ConditionSettings,
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
            sampler: DefaultSampler::REVERSE.family,
            steps: DefaultSampler::REVERSE.steps,
            eta: 0.0,
            spacing: DefaultSampler::REVERSE.family.default_spacing(),
            variance: ReverseVariance::default(),
            clip: true,
            condition: ConditionSettings::default(),
            selected: 0,
            speed: 100.0,
        }
    }
}

/// The images the Analysis panel probes the models with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProbeChoice {
    /// Fashion-MNIST's test split (held out from training).
    #[default]
    FashionMnist,
    /// The shipped MNIST test slice (never seen).
    Mnist,
    /// A folder of images or one image file, by path.
    Path,
}

/// What the x axis of the analysis plots shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnalysisAxis {
    /// The step t.
    #[default]
    Step,
    /// t/T.
    Fraction,
    /// λ_t of each model's schedule.
    LogSnr,
}

/// The Analysis panel's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisSettings {
    /// Which models.
    pub models: ModelsShown,
    /// Which images.
    pub data: ProbeChoice,
    /// The folder or image file for [`ProbeChoice::Path`].
    pub path: String,
    /// Also measure Fashion-MNIST when probing other images, and overlay the curves.
    pub overlay_in_distribution: bool,
    /// The t list as typed; empty means the default 25 steps.
    pub t_list: String,
    /// Images per curve.
    pub n: usize,
    /// Seed of ε and the chain's noise.
    pub seed: u64,
    /// The sampler of the chain back.
    pub sampler: SamplerChoice,
    /// Its number of steps over all of T (all samplers but DDPM).
    #[serde(alias = "ddim_steps")]
    pub steps: usize,
    /// The schedule to noise and reconstruct under (its class and guidance are not used:
    /// the images are given).
    pub condition: ConditionSettings,
    /// The x axis.
    pub axis: AnalysisAxis,
    /// Plot PSNR (dB) instead of MSE.
    pub psnr: bool,
    /// Also plot the one-shot x̂0 error.
    pub show_x0: bool,
    /// Also plot the ε̂ error.
    pub show_eps: bool,
    /// The error (MSE) whose crossing marks the transition point.
    pub threshold: f64,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        Self {
            models: ModelsShown::Both,
            data: ProbeChoice::default(),
            path: String::new(),
            overlay_in_distribution: true,
            t_list: String::new(),
            n: 64,
            seed: 0,
            sampler: DefaultSampler::ANALYSIS.family,
            steps: DefaultSampler::ANALYSIS.steps,
            condition: ConditionSettings::default(),
            axis: AnalysisAxis::default(),
            psnr: false,
            show_x0: true,
            show_eps: false,
            threshold: 0.05,
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

/// The Schedules panel's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulesSettings {
    /// The compared schedules, as the user last typed them.
    pub specs: Vec<ScheduleSpec>,
    /// The x axis of the schedule plots.
    pub x_axis: XAxis,
    /// Plot β on a log₁₀ scale, so small and large β show together.
    pub log_beta: bool,
}

impl Default for SchedulesSettings {
    fn default() -> Self {
        Self {
            specs: vec![
                ScheduleSpec::new(ScheduleKind::Linear),
                ScheduleSpec::new(ScheduleKind::Cosine),
            ],
            x_axis: XAxis::default(),
            log_beta: true,
        }
    }
}

/// The Forward panel's settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForwardSettings {
    /// Index of the dataset image shown.
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

/// The persisted settings: what the panels share, and each panel's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The open panel.
    pub tab: Tab,
    /// The shared cursor t (1-based).
    pub cursor_t: usize,
    /// DAED's switching point s (0: the full chain).
    pub switch_t: usize,
    /// β1 of DAED's automatic switching rule.
    pub beta1: f64,
    /// The Schedules panel.
    pub schedules: SchedulesSettings,
    /// The Forward panel.
    pub forward: ForwardSettings,
    /// The Reverse panel.
    pub reverse: ReverseSettings,
    /// The Analysis panel.
    pub analysis: AnalysisSettings,
    /// The DAED panel.
    pub daed: DaedSettings,
    /// The Playground panel.
    pub playground: PlaygroundSettings,
    /// The UI's zoom (1 = 100 %).
    pub zoom: f32,
    /// Dark, or light with high contrast for projectors.
    pub theme: Theme,
    /// The size of text against egui's default (1 = 100 %), beside the zoom.
    pub text_size: f32,
    /// Where and how pictures, GIFs and CSVs are exported.
    pub export: ExportSettings,
    /// The file of the scene list, opened again at start.
    pub scene_file: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tab: Tab::default(),
            cursor_t: 250,
            switch_t: 100,
            beta1: 0.001,
            schedules: SchedulesSettings::default(),
            forward: ForwardSettings::default(),
            reverse: ReverseSettings::default(),
            analysis: AnalysisSettings::default(),
            daed: DaedSettings::default(),
            playground: PlaygroundSettings::default(),
            zoom: 1.0,
            theme: Theme::default(),
            text_size: 1.0,
            export: ExportSettings::default(),
            scene_file: String::new(),
        }
    }
}

/// The look of the app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theme {
    /// Light text on dark.
    #[default]
    Dark,
    /// Black on white with heavier lines: for projectors.
    Light,
}

/// How pictures, GIFs and CSVs are exported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    /// The folder exports go to (created when missing).
    pub folder: String,
    /// Each pixel of an image becomes `scale`×`scale` pixels.
    pub scale: u32,
    /// Frames of a GIF, evenly spaced over the process, both ends included.
    pub gif_frames: usize,
    /// GIF frames per second.
    pub fps: f64,
    /// Whether GIFs start again after their last frame.
    pub looping: bool,
    /// Whether "t = …" is written under exported pictures and frames.
    pub label: bool,
    /// Pixels per point of a panel of plots exported as a picture (drawn anew at this
    /// resolution, apart from the window's zoom).
    pub panel_scale: f32,
}

impl Default for ExportSettings {
    fn default() -> Self {
        let folder = std::env::var_os("HOME").map_or_else(
            || std::path::PathBuf::from("noisescope-exports"),
            |home| {
                std::path::PathBuf::from(home)
                    .join("Pictures")
                    .join("Noisescope")
            },
        );
        Self {
            folder: folder.to_string_lossy().into_owned(),
            scale: 4,
            gif_frames: 50,
            fps: 10.0,
            looping: true,
            label: true,
            panel_scale: 2.0,
        }
    }
}
