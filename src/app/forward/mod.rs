//! The Forward panel: an image (from the dataset or the person's file) noised t by t under
//! every compared schedule, with the same ε.

mod export;
mod frequency;
mod job;
mod source;
mod view;

use std::path::PathBuf;

use eframe::egui;

pub use export::{ForwardFrames, forward_style};
pub use job::ForwardJob;
pub use source::SourceImage;

use super::exports::ExportRequest;
use super::file_dialog::{IMAGE_FILE, PendingDialog, take_answer};
use super::job::{Lane, LaneTarget, Update};
use super::panel::{Command, Panel, Shared};
use super::settings::{ForwardSettings, Settings, Tab};
use crate::data::BuiltinDataset;
use crate::diffusion::ForwardMode;
use crate::render::ImageStack;
use crate::schedule::{Schedule, ScheduleSpec};
use job::LoadImageJob;

/// What a set of forward stacks was computed from.
#[derive(Clone, Debug, PartialEq)]
struct ForwardKey {
    source: u64,
    specs: Vec<ScheduleSpec>,
    mode: ForwardMode,
    seed: u64,
}

/// The panel: its settings, the image, the frames and the jobs computing them.
pub struct ForwardPanel {
    settings: ForwardSettings,
    source: SourceImage,
    image_error: Option<String>,
    file_dialog: Option<PendingDialog>,
    requested: Option<ForwardKey>,
    shown: Option<ForwardKey>,
    stacks: Vec<ImageStack>,
    seconds: Option<f64>,
    error: Option<String>,
    frames: Lane<ForwardJob>,
    files: Lane<LoadImageJob>,
}

impl ForwardPanel {
    /// The panel with `settings`, showing the dataset image they name (a test pattern without
    /// the dataset).
    pub fn new(
        settings: ForwardSettings,
        dataset: Option<&BuiltinDataset>,
        target: &LaneTarget,
    ) -> Self {
        let source = dataset
            .and_then(|d| SourceImage::from_dataset(d, settings.dataset_index))
            .unwrap_or_else(SourceImage::test_pattern);
        Self {
            settings,
            source,
            image_error: None,
            file_dialog: None,
            requested: None,
            shown: None,
            stacks: Vec::new(),
            seconds: None,
            error: None,
            frames: Lane::spawn("noisescope-forward", target),
            files: Lane::spawn("noisescope-files", target),
        }
    }

    /// The settings to remember.
    pub fn settings(&self) -> &ForwardSettings {
        &self.settings
    }

    /// The image being noised.
    pub fn source(&self) -> &SourceImage {
        &self.source
    }

    /// Why the last image file was refused, while that is shown.
    pub fn image_error(&self) -> Option<&str> {
        self.image_error.as_deref()
    }

    /// Whether the frames shown match the image, schedules, mode and seed of `schedules`.
    pub fn ready(&self, schedules: &[Schedule]) -> bool {
        self.shown.is_some() && self.shown == Some(self.key(schedules))
    }

    /// The frames on screen, one stack per schedule.
    pub fn stacks(&self) -> &[ImageStack] {
        &self.stacks
    }

    /// The frame x_t of schedule `slot` at `cursor_t` (clamped to its T).
    pub fn frame(&self, slot: usize, cursor_t: usize, schedules: &[Schedule]) -> Option<&[f32]> {
        let stack = self.stacks.get(slot)?;
        Some(stack.row(row_for(schedules, slot, cursor_t)))
    }

    /// Reads an image file on the worker; the current image stays until it succeeds.
    pub fn load_image_file(&mut self, path: PathBuf) {
        self.files.start(LoadImageJob(path));
    }

    fn key(&self, schedules: &[Schedule]) -> ForwardKey {
        ForwardKey {
            source: self.source.id,
            specs: schedules.iter().map(|s| s.spec().clone()).collect(),
            mode: self.settings.mode,
            seed: self.settings.seed,
        }
    }

    /// Starts a forward job when what is shown is not what is wanted.
    fn request_frames(&mut self, schedules: &[Schedule]) {
        let key = self.key(schedules);
        if self.requested.as_ref() == Some(&key) {
            return;
        }
        let job = ForwardJob {
            x0: self.source.image.clone(),
            schedules: schedules.to_vec(),
            mode: key.mode,
            seed: key.seed,
        };
        if self.frames.start_counting(job, schedules.len()) {
            self.requested = Some(key);
        }
    }

    fn cancel_frames(&mut self) {
        self.frames.cancel();
        self.error = Some("cancelled — change anything to compute again".to_owned());
    }

    /// Shows dataset image `index`.
    fn select_dataset_image(&mut self, dataset: &BuiltinDataset, index: usize) {
        if let Some(source) = SourceImage::from_dataset(dataset, index) {
            self.settings.dataset_index = index % dataset.len();
            self.source = source;
            self.image_error = None;
        }
    }

    fn poll_file_dialog(&mut self) {
        match take_answer(&mut self.file_dialog, &IMAGE_FILE) {
            Some(Ok(path)) => self.load_image_file(path),
            Some(Err(message)) => self.image_error = Some(message),
            None => {}
        }
    }
}

/// The 0-based row of slot `slot`'s stack at `cursor_t`.
fn row_for(schedules: &[Schedule], slot: usize, cursor_t: usize) -> usize {
    let steps = schedules.get(slot).map_or(1, Schedule::steps);
    cursor_t.clamp(1, steps) - 1
}

impl Panel for ForwardPanel {
    fn restore(&mut self, settings: &Settings, shared: &Shared<'_>, _shown: bool) {
        self.settings = settings.forward.clone();
        if let Ok(dataset) = shared.dataset {
            self.select_dataset_image(dataset, settings.forward.dataset_index);
        }
    }

    fn tab(&self) -> Tab {
        Tab::Forward
    }

    fn title(&self) -> &'static str {
        "Forward"
    }

    fn poll(&mut self, _shared: &Shared<'_>, _commands: &mut Vec<Command>) {
        self.poll_file_dialog();
        for update in self.frames.poll() {
            match update {
                Update::Event(stacks) => {
                    self.stacks = stacks;
                    self.shown = self.requested.clone();
                    self.error = None;
                }
                Update::Done { seconds } => self.seconds = Some(seconds),
                Update::Failed(message) => self.error = Some(message),
                Update::Progress { .. } => {}
            }
        }
        for update in self.files.poll() {
            match update {
                Update::Event(loaded) => {
                    self.source = SourceImage::from_file(loaded);
                    self.image_error = None;
                }
                Update::Failed(message) => {
                    self.image_error =
                        Some(format!("{message} — still showing {}", self.source.name));
                }
                Update::Progress { .. } | Update::Done { .. } => {}
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        view::forward_ui(ui, self, shared, commands);
        self.request_frames(shared.schedules);
    }

    fn idle(&self) -> bool {
        self.frames.idle() && self.files.idle()
    }

    fn screen_export(&self, shared: &Shared<'_>) -> Vec<ExportRequest> {
        self.frames(shared)
            .frames_export(shared.cursor_t)
            .into_iter()
            .collect()
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        if let Some((done, total)) = self.frames.progress().filter(|_| self.frames.running()) {
            ui.separator();
            super::widgets::busy_indicator(ui);
            ui.label(format!("noising: {done}/{total} schedules"));
            if ui.button("Cancel").clicked() {
                self.cancel_frames();
            }
        } else if let Some(seconds) = self.seconds {
            ui.separator();
            ui.label(
                egui::RichText::new(format!("forward frames in {:.0} ms", seconds * 1e3)).small(),
            );
        }
    }
}
