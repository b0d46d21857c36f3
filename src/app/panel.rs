//! What a panel is: a tab with its own settings, results and jobs, drawn from what the panels
//! share and changing it only through [`Command`]s, which the app applies once per frame after
//! the panel has drawn.

use std::path::Path;

use eframe::egui;

use super::exports::ExportRequest;
use super::settings::{ExportSettings, Settings, ShippedPair, Tab};
use crate::data::BuiltinDataset;
use crate::schedule::Schedule;

/// What every panel reads.
pub struct Shared<'a> {
    /// The cursor t (1-based), shared by Schedules, Forward and Reverse.
    pub cursor_t: usize,
    /// DAED's switching point s (0: the full chain), shared by Analysis and DAED.
    pub switch_t: usize,
    /// β1 of DAED's automatic switching rule.
    pub beta1: f64,
    /// The compared schedules, in slot order (the last valid ones).
    pub schedules: &'a [Schedule],
    /// The diffusion model the DAED panel uses; Analysis refers the switching point to it.
    pub daed_model: ShippedPair,
    /// That model's schedule, once the DAED panel has loaded it.
    pub daed_schedule: Option<&'a Schedule>,
    /// The shipped Fashion-MNIST test split, or why it is missing.
    pub dataset: Result<&'a BuiltinDataset, &'a str>,
    /// Where the weights files are when not in the assets (tests).
    pub models_dir: Option<&'a Path>,
    /// Whether images are drawn by the image shader.
    pub gpu_draw: bool,
    /// CPU seconds the last frame took, where the platform says.
    pub frame_cpu: Option<f32>,
    /// Where and how exports are written.
    pub export: &'a ExportSettings,
    /// Whether the panels show their controls (hidden while presenting, so the figures fill
    /// the screen).
    pub controls: bool,
}

/// A change to what the panels share.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Move the cursor t.
    SetCursor(usize),
    /// Move the switching point s.
    SetSwitch(usize),
    /// Set β1 of the automatic switching rule.
    SetBeta1(f64),
    /// The compared schedules changed.
    SetSchedules(Vec<Schedule>),
    /// The DAED panel's model changed, or its schedule became known.
    SetDaedModel(ShippedPair, Option<Schedule>),
    /// The widget that takes ←/→ while focused (a t slider).
    TSlider(egui::Id),
    /// Write a picture, a GIF or curves to the export folder.
    Export(ExportRequest),
}

/// One tab of the app.
pub trait Panel {
    /// The tab it is shown under.
    fn tab(&self) -> Tab;

    /// The tab's title.
    fn title(&self) -> &'static str;

    /// Takes what its jobs reported since the last frame (every frame, shown or not).
    fn poll(&mut self, shared: &Shared<'_>, commands: &mut Vec<Command>);

    /// Takes this panel's settings from a scene. `shown`: the scene opens this panel, which
    /// then computes what it shows unless it already has it (caches are reused).
    fn restore(&mut self, settings: &Settings, shared: &Shared<'_>, shown: bool);

    /// Draws the panel.
    fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>);

    /// Its part of the status bar (a job's progress, timings), if any.
    fn status_ui(&mut self, _ui: &mut egui::Ui) {}

    /// The largest t its cursor can take, when it is not the compared schedules' T.
    fn max_t(&self) -> Option<usize> {
        None
    }

    /// What "export what is on screen" writes for this panel (nothing when it shows only
    /// plots, which export as CSV).
    fn screen_export(&self, _shared: &Shared<'_>) -> Vec<ExportRequest> {
        Vec::new()
    }

    /// Whether its jobs' threads are between jobs (a cancelled job has stopped computing).
    fn idle(&self) -> bool {
        true
    }
}
