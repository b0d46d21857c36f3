//! What the app shows and computes, read as its tests and scripts read it: the panels' state
//! behind the widgets (which frames, steps, curves and errors are on screen), and a few
//! actions a script takes without the mouse.

use super::analysis::CurveSchedule;
use super::{App, ModelHistory, PlaygroundState, ScheduleSlot, SourceImage, gpu};
use crate::render::ImageStack;
use eframe::egui;

impl App {
    /// The compared schedules.
    pub fn slots(&self) -> &[ScheduleSlot] {
        self.panels.schedules.slots()
    }

    /// The image being noised.
    pub fn source(&self) -> &SourceImage {
        self.panels.forward.source()
    }

    /// Why the last image file was refused, while that is shown.
    pub fn image_error(&self) -> Option<&str> {
        self.panels.forward.image_error()
    }

    /// Whether the forward frames shown match the current image, schedules, mode and seed.
    pub fn forward_ready(&self) -> bool {
        self.panels.forward.ready(&self.shared.schedules)
    }

    /// Where tensors are computed and what draws the UI.
    pub fn compute_device(&self) -> &gpu::ComputeDevice {
        &self.around.compute
    }

    /// Whether images are drawn by the WGSL paint callback (rather than as egui textures).
    pub fn draws_through_shader(&self) -> bool {
        self.around.gpu_draw
    }

    /// Whether the frames on screen are drawn straight from the tensors' GPU buffers.
    pub fn draws_from_tensor_buffers(&self) -> bool {
        let stacks = self.panels.forward.stacks();
        !stacks.is_empty() && stacks.iter().all(ImageStack::draws_from_tensor_buffer)
    }

    /// The frame x_t shown for schedule `slot` at the cursor (t clamped to its T).
    pub fn displayed_frame(&self, slot: usize) -> Option<&[f32]> {
        self.panels
            .forward
            .frame(slot, self.shared.cursor_t, &self.shared.schedules)
    }

    /// Whether every panel's job threads are between jobs (a cancelled job has stopped).
    pub fn jobs_idle(&self) -> bool {
        self.panels.all().iter().all(|p| p.idle()) && self.exporter.idle()
    }

    /// Whether a GIF is being made.
    pub fn exporting(&self) -> bool {
        self.exporter.running()
    }

    /// What the last export did, or why it did not.
    pub fn export_message(&self) -> Option<&str> {
        self.exporter.message()
    }

    /// Whether a sampling job is running.
    pub fn sampling(&self) -> bool {
        self.panels.reverse.sampling()
    }

    /// Steps recorded so far for each model column of the Reverse panel.
    pub fn recorded_steps(&self) -> Vec<usize> {
        let runs = &self.panels.reverse.state().runs;
        runs.iter().map(|r| r.steps.len()).collect()
    }

    /// Where the open panel was drawn last frame, in points.
    pub fn open_panel_rect(&self) -> egui::Rect {
        self.central_rect
    }

    /// When the Reverse panel shows a run kept from an earlier session: the seconds its
    /// sampling took.
    pub fn reverse_run_kept_from(&self) -> Option<f64> {
        self.panels.reverse.state().kept_from
    }

    /// Why the last sampling request failed, while that is shown.
    pub fn reverse_error(&self) -> Option<&str> {
        self.panels.reverse.state().first_error()
    }

    /// The recorded step t shown for model column `model` at the cursor.
    pub fn reverse_shown_t(&self, model: usize) -> Option<usize> {
        let run = self.panels.reverse.state().runs.get(model)?;
        run.step_index(self.shared.cursor_t).map(|i| run.steps[i].t)
    }

    /// The recorded step shown for model column `model` at the cursor.
    pub fn reverse_shown_step(&self, model: usize) -> Option<&crate::diffusion::RecordedStep> {
        let run = self.panels.reverse.state().runs.get(model)?;
        run.steps.get(run.step_index(self.shared.cursor_t)?)
    }

    /// The Reverse panel's training histories, once read.
    pub fn reverse_histories(&self) -> &[ModelHistory] {
        &self.panels.reverse.history().models
    }

    /// The note of model column `model` (its sampling schedule left the trained λ range).
    pub fn reverse_note(&self, model: usize) -> Option<&str> {
        let run = self.panels.reverse.state().runs.get(model)?;
        run.note.as_deref()
    }

    /// x_t of the selected image as shown for model column `model` (dequantised).
    pub fn reverse_shown_x_t(&self, model: usize) -> Option<Vec<f32>> {
        let run = self.panels.reverse.state().runs.get(model)?;
        let step = &run.steps[run.step_index(self.shared.cursor_t)?];
        let settings = self.panels.reverse.settings();
        let selected = settings.selected.min(settings.batch.max(1) - 1);
        step.x_t.item(selected, crate::data::IMAGE_PIXELS)
    }

    /// Whether a reconstruction-error job is running.
    pub fn analysing(&self) -> bool {
        self.panels.analysis.analysing()
    }

    /// Points measured so far for each curve of the Analysis panel.
    pub fn analysis_points(&self) -> Vec<usize> {
        self.panels.analysis.points()
    }

    /// The steps measured so far for each curve of the Analysis panel.
    pub fn analysis_steps(&self) -> Vec<Vec<usize>> {
        self.panels.analysis.steps()
    }

    /// What each Analysis curve was measured under.
    pub fn analysis_curve_schedules(&self) -> Vec<CurveSchedule> {
        self.panels.analysis.curve_schedules()
    }

    /// Why the last analysis request failed, while that is shown.
    pub fn analysis_error(&self) -> Option<&str> {
        self.panels.analysis.error()
    }

    /// Whether a DAED job (samples or sweep) is running.
    pub fn daed_running(&self) -> bool {
        self.panels.daed.running()
    }

    /// The running DAED job's progress and, before its counted work, what it is doing.
    pub fn daed_progress(&self) -> (Option<(usize, usize)>, Option<&'static str>) {
        self.panels.daed.progress()
    }

    /// The switching point of the DAED samples on screen.
    pub fn daed_shown_s(&self) -> Option<usize> {
        self.panels.daed.shown_s()
    }

    /// DAED's images on screen (flat), to compare across switching points.
    pub fn daed_shown_images(&self) -> Option<&[f32]> {
        self.panels.daed.shown_images()
    }

    /// The switching points of the sweep on screen.
    pub fn daed_sweep_points(&self) -> Option<Vec<usize>> {
        self.panels.daed.sweep_points()
    }

    /// The schedule the DAED samples on screen were drawn under, the autoencoder's t_max in
    /// its steps, and the note on a clamped λ range.
    pub fn daed_shown_schedule(
        &self,
    ) -> Option<(crate::schedule::ScheduleSpec, usize, Option<&str>)> {
        let samples = self.panels.daed.samples()?;
        Some((
            samples.schedule.spec().clone(),
            samples.t_max,
            samples.note.as_deref(),
        ))
    }

    /// The Playground's results.
    pub fn playground(&self) -> &PlaygroundState {
        self.panels.playground.state()
    }

    /// Imports a diffusers scheduler config into the Schedules panel, as a dropped file is.
    pub fn import_schedule_config(&mut self, path: &std::path::Path) {
        self.panels.schedules.import_config(path);
    }

    /// Why the last import of a scheduler config failed, if it did.
    pub fn schedule_import_error(&self) -> Option<&str> {
        self.panels.schedules.import_error()
    }

    /// Whether the list of keys is shown.
    pub fn keys_shown(&self) -> bool {
        self.presentation.help_open
    }

    /// Loads x,y points from a CSV file into the Playground, as a dropped file is.
    pub fn load_points_file(&mut self, path: &std::path::Path) {
        self.panels.playground.load_points_file(path);
    }

    /// Whether the Playground trains or samples.
    pub fn playground_running(&self) -> bool {
        self.panels.playground.running()
    }

    /// Why the last DAED request failed, while that is shown.
    pub fn daed_error(&self) -> Option<&str> {
        self.panels.daed.error()
    }

    /// The assets folder the app reads its data and weights from, if it found one.
    pub fn assets_dir(&self) -> Option<&std::path::Path> {
        self.around.assets_dir.as_deref()
    }
}
