//! The eframe app: state, the job lanes, and the panels (one per file).

mod analysis;
mod analysis_actions;
mod analysis_panel;
mod daed;
mod daed_actions;
mod daed_job;
mod daed_panel;
mod file_dialog;
mod fonts;
mod forward_job;
mod forward_panel;
mod image_view;
mod job;
mod recon_job;
mod reverse;
mod reverse_panel;
mod sample_job;
mod schedules_panel;
mod settings;
mod slots;
mod source;
mod widgets;

use eframe::egui;

pub use settings::{
    AnalysisAxis, AnalysisSettings, DaedSettings, MAX_SCHEDULES, ModelsShown, ProbeChoice,
    ReverseSettings, SamplerChoice, Settings, ShippedPair, Tab, XAxis,
};
pub use slots::ScheduleSlot;
pub use source::SourceImage;

use crate::data::BuiltinDataset;
use crate::diffusion::ForwardMode;
use crate::gpu::{self, ComputeDevice, ComputePreference};
use crate::render::{ImageRenderer, ImageStack};
use crate::schedule::ScheduleSpec;
use job::{Lane, LaneTarget, Update};

const SETTINGS_KEY: &str = "noisescope-settings";

/// What a set of forward stacks was computed from.
#[derive(Clone, Debug, PartialEq)]
struct ForwardKey {
    source: u64,
    specs: Vec<ScheduleSpec>,
    mode: ForwardMode,
    seed: u64,
}

/// Results of forward noising.
#[derive(Default)]
struct ForwardState {
    requested: Option<ForwardKey>,
    shown: Option<ForwardKey>,
    stacks: Vec<ImageStack>,
    seconds: Option<f64>,
    error: Option<String>,
}

/// The app's job lanes, one thread per kind of work so that long runs do not hold each other
/// up; they share the loaded networks.
struct Lanes {
    forward: Lane<forward_job::ForwardJob>,
    image: Lane<forward_job::LoadImageJob>,
    sample: Lane<sample_job::SampleJob>,
    recon: Lane<recon_job::ReconJob>,
    daed: Lane<daed_job::DaedJob>,
}

impl Lanes {
    fn spawn(compute: &ComputeDevice, ui: &egui::Context) -> std::io::Result<Self> {
        let target = LaneTarget::new(compute, ui);
        Ok(Self {
            forward: Lane::spawn("noisescope-forward", &target)?,
            image: Lane::spawn("noisescope-files", &target)?,
            sample: Lane::spawn("noisescope-sampler", &target)?,
            recon: Lane::spawn("noisescope-analysis", &target)?,
            daed: Lane::spawn("noisescope-daed", &target)?,
        })
    }
}

/// The Noisescope app.
pub struct App {
    settings: Settings,
    slots: Vec<ScheduleSlot>,
    compute: ComputeDevice,
    gpu_draw: bool,
    dataset: Result<BuiltinDataset, String>,
    assets_dir: Option<std::path::PathBuf>,
    source: SourceImage,
    image_error: Option<String>,
    file_dialog: Option<file_dialog::PendingDialog>,
    t_slider: Option<egui::Id>,
    forward: ForwardState,
    reverse: reverse::ReverseState,
    analysis: analysis::AnalysisState,
    daed: daed::DaedState,
    models_dir: Option<std::path::PathBuf>,
    lanes: Result<Lanes, String>,
}

impl App {
    /// Builds the app with the compute device `NOISESCOPE_COMPUTE` asks for (see [`Self::with_compute`]).
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        Self::with_compute(cc, ComputePreference::from_env())
    }

    /// Builds the app: restores settings, chooses the compute device, loads the dataset and
    /// starts the job lanes.
    pub fn with_compute(cc: &eframe::CreationContext<'_>, preference: ComputePreference) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, SETTINGS_KEY))
            .unwrap_or_default();
        fonts::install_fallback_font(&cc.egui_ctx);
        let render_state = cc.wgpu_render_state.as_ref();
        if let Some(state) = render_state {
            ImageRenderer::install(state);
        }
        let compute = gpu::compute_device(render_state, preference);
        let gpu_draw = render_state.is_some() && compute.images_through_shader();
        let assets_dir = crate::data::find_assets_dir().ok();
        let dataset = BuiltinDataset::load_shipped().map_err(|e| e.to_string());
        let source = dataset
            .as_ref()
            .ok()
            .and_then(|d| SourceImage::from_dataset(d, settings.dataset_index))
            .unwrap_or_else(SourceImage::test_pattern);
        let lanes = Lanes::spawn(&compute, &cc.egui_ctx)
            .map_err(|e| format!("cannot start the worker threads: {e}"));
        let mut slots: Vec<ScheduleSlot> = settings
            .specs
            .iter()
            .take(MAX_SCHEDULES)
            .cloned()
            .map(ScheduleSlot::new)
            .collect();
        if slots.is_empty() {
            slots = Settings::default()
                .specs
                .into_iter()
                .map(ScheduleSlot::new)
                .collect();
        }
        Self {
            settings,
            slots,
            compute,
            gpu_draw,
            dataset,
            assets_dir,
            source,
            image_error: None,
            file_dialog: None,
            t_slider: None,
            forward: ForwardState::default(),
            reverse: reverse::ReverseState::default(),
            analysis: analysis::AnalysisState::default(),
            daed: daed::DaedState::default(),
            models_dir: None,
            lanes,
        }
    }

    /// Takes the model files from `dir` (`unet-linear.nsw`, `unet-cosine.nsw`) instead of the
    /// assets' `models/` folder.
    #[must_use]
    pub fn with_models_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.models_dir = Some(dir);
        self
    }

    /// The settings as they stand.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings, to change them as a script would.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The compared schedules.
    pub fn slots(&self) -> &[ScheduleSlot] {
        &self.slots
    }

    /// The image being noised.
    pub fn source(&self) -> &SourceImage {
        &self.source
    }

    /// Why the last image file was refused, while that is shown.
    pub fn image_error(&self) -> Option<&str> {
        self.image_error.as_deref()
    }

    /// Whether the forward frames shown match the current image, schedules, mode and seed.
    pub fn forward_ready(&self) -> bool {
        self.forward.shown.is_some() && self.forward.shown == Some(self.forward_key())
    }

    /// Where tensors are computed and what draws the UI.
    pub fn compute_device(&self) -> &gpu::ComputeDevice {
        &self.compute
    }

    /// Whether images are drawn by the WGSL paint callback (rather than as egui textures).
    pub fn draws_through_shader(&self) -> bool {
        self.gpu_draw
    }

    /// Whether the frames on screen are drawn straight from the tensors' GPU buffers.
    pub fn draws_from_tensor_buffers(&self) -> bool {
        !self.forward.stacks.is_empty()
            && self
                .forward
                .stacks
                .iter()
                .all(ImageStack::draws_from_tensor_buffer)
    }

    /// The frame x_t shown for schedule `slot` at the cursor (t clamped to its T).
    pub fn displayed_frame(&self, slot: usize) -> Option<&[f32]> {
        let stack = self.forward.stacks.get(slot)?;
        Some(stack.row(self.row_for(slot)))
    }

    /// Whether a sampling job is running.
    pub fn sampling(&self) -> bool {
        self.lanes.as_ref().is_ok_and(|l| l.sample.running())
    }

    /// Whether every job lane's thread is between jobs (a cancelled job has stopped).
    pub fn jobs_idle(&self) -> bool {
        self.lanes.as_ref().is_ok_and(|l| {
            l.forward.idle() && l.image.idle() && l.sample.idle() && l.recon.idle() && l.daed.idle()
        })
    }

    /// Steps recorded so far for each model column of the Reverse panel.
    pub fn recorded_steps(&self) -> Vec<usize> {
        self.reverse.runs.iter().map(|r| r.steps.len()).collect()
    }

    /// Why the last sampling request failed, while that is shown.
    pub fn reverse_error(&self) -> Option<&str> {
        self.reverse.first_error()
    }

    /// The recorded step t shown for model column `model` at the cursor.
    pub fn reverse_shown_t(&self, model: usize) -> Option<usize> {
        let run = self.reverse.runs.get(model)?;
        run.step_index(self.settings.cursor_t)
            .map(|i| run.steps[i].t)
    }

    /// x_t of the selected image as shown for model column `model` (dequantised).
    pub fn reverse_shown_x_t(&self, model: usize) -> Option<Vec<f32>> {
        let run = self.reverse.runs.get(model)?;
        let step = &run.steps[run.step_index(self.settings.cursor_t)?];
        let selected = self
            .settings
            .reverse
            .selected
            .min(self.settings.reverse.batch.max(1) - 1);
        let values = step.x_t.values();
        values
            .chunks(crate::data::IMAGE_PIXELS)
            .nth(selected)
            .map(<[f32]>::to_vec)
    }

    /// Starts sampling with the Reverse panel's settings, replacing any running job.
    fn start_sampling(&mut self) {
        let settings = self.settings.reverse.clone();
        let config = reverse::sampler_config(&settings);
        let files = match reverse::model_files(settings.models, self.models_dir.as_deref()) {
            Ok(files) => files,
            Err(message) => {
                self.reverse.error = Some(message);
                return;
            }
        };
        // DDPM's steps are the models' own T, which the job checks once it has loaded them.
        let steps = config.kind.steps().map_or(1, |(steps, _)| steps);
        if let Err(message) = reverse::check_recording_size(files.len(), steps, settings.batch) {
            self.reverse.error = Some(message);
            return;
        }
        let Ok(lanes) = &mut self.lanes else { return };
        let job = sample_job::SampleJob {
            models: files.iter().map(|(_, p)| p.clone()).collect(),
            config,
            batch: settings.batch,
            seed: settings.seed,
        };
        if lanes.sample.start(job) {
            self.reverse = reverse::ReverseState {
                runs: files
                    .into_iter()
                    .map(|(label, _)| reverse::ModelRun::new(label))
                    .collect(),
                requested: Some(std::time::Instant::now()),
                ..Default::default()
            };
        }
    }

    /// Stops the sampling job; the steps recorded so far stay.
    fn cancel_sampling(&mut self) {
        if let Ok(lanes) = &mut self.lanes {
            lanes.sample.cancel();
        }
    }

    /// Advances playback (towards t = 1) by the time since the last frame.
    fn advance_playback(&mut self, ctx: &egui::Context) {
        if !self.reverse.playing {
            return;
        }
        let dt = f64::from(ctx.input(|i| i.stable_dt)).min(0.1);
        self.reverse.play_carry += dt * self.settings.reverse.speed;
        let whole = self.reverse.play_carry.floor();
        self.reverse.play_carry -= whole;
        let t = self.settings.cursor_t.saturating_sub(whole as usize).max(1);
        self.settings.cursor_t = t;
        if t == 1 {
            self.reverse.playing = false;
        }
        ctx.request_repaint();
    }

    /// The 0-based row of slot `slot`'s stack at the cursor.
    fn row_for(&self, slot: usize) -> usize {
        let steps = self.slots.get(slot).map_or(1, |s| s.schedule.steps());
        self.settings.cursor_t.clamp(1, steps) - 1
    }

    fn forward_key(&self) -> ForwardKey {
        ForwardKey {
            source: self.source.id,
            specs: self
                .slots
                .iter()
                .map(|s| s.schedule.spec().clone())
                .collect(),
            mode: self.settings.mode,
            seed: self.settings.seed,
        }
    }

    /// Sends a forward job when what is shown is not what is wanted.
    fn request_forward(&mut self) {
        let key = self.forward_key();
        if self.forward.requested.as_ref() == Some(&key) {
            return;
        }
        let Ok(lanes) = &mut self.lanes else { return };
        let job = forward_job::ForwardJob {
            x0: self.source.image.clone(),
            schedules: self.slots.iter().map(|s| s.schedule.clone()).collect(),
            mode: key.mode,
            seed: key.seed,
        };
        if lanes.forward.start(job) {
            self.forward.requested = Some(key);
        }
    }

    /// Cancels the running forward job.
    fn cancel_forward(&mut self) {
        if let Ok(lanes) = &mut self.lanes {
            lanes.forward.cancel();
        }
        self.forward.error = Some("cancelled — change anything to compute again".to_owned());
    }

    /// Asks the worker to read an image file; the current image stays until it succeeds.
    fn load_image_file(&mut self, path: std::path::PathBuf) {
        if let Ok(lanes) = &mut self.lanes {
            lanes.image.start(forward_job::LoadImageJob(path));
        }
    }

    /// Whether an image file is being read.
    fn loading_image(&self) -> bool {
        self.lanes.as_ref().is_ok_and(|l| l.image.running())
    }

    /// The forward job's progress (schedules done, of), while it runs.
    fn forward_progress(&self) -> Option<(usize, usize)> {
        let lanes = self.lanes.as_ref().ok()?;
        let total = self.slots.len();
        lanes
            .forward
            .running()
            .then(|| lanes.forward.progress().unwrap_or((0, total)))
    }

    /// Shows dataset image `index`.
    fn select_dataset_image(&mut self, index: usize) {
        if let Ok(dataset) = &self.dataset
            && let Some(source) = SourceImage::from_dataset(dataset, index)
        {
            self.settings.dataset_index = index % dataset.len();
            self.source = source;
            self.image_error = None;
        }
    }

    fn apply_events(&mut self) {
        if let Some(dialog) = &self.file_dialog {
            match dialog.poll() {
                file_dialog::DialogAnswer::Waiting => {}
                file_dialog::DialogAnswer::Closed(path) => {
                    self.file_dialog = None;
                    if let Some(path) = path {
                        self.load_image_file(path);
                    }
                }
                file_dialog::DialogAnswer::Unavailable => {
                    self.file_dialog = None;
                    self.image_error = Some(
                        "no file dialog could be shown (on Linux it needs xdg-desktop-portal): \
                         drop the image file on the window instead"
                            .to_owned(),
                    );
                }
            }
        }
        let Ok(lanes) = &mut self.lanes else { return };
        for update in lanes.forward.poll() {
            match update {
                Update::Event(stacks) => {
                    self.forward.stacks = stacks;
                    self.forward.shown = self.forward.requested.clone();
                    self.forward.error = None;
                }
                Update::Done { seconds } => self.forward.seconds = Some(seconds),
                Update::Failed(message) => self.forward.error = Some(message),
                Update::Progress { .. } => {}
            }
        }
        for update in lanes.image.poll() {
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
        for update in lanes.sample.poll() {
            self.reverse.apply(update);
        }
        for update in lanes.recon.poll() {
            self.analysis.apply(update);
        }
        for update in lanes.daed.poll() {
            self.daed.apply(update);
        }
    }

    fn handle_input(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(path) = dropped {
            self.settings.tab = Tab::Forward;
            self.load_image_file(path);
        }
        // Text fields and the t slider handle the arrows themselves.
        let focused = ctx.memory(|m| m.focused());
        if ctx.egui_wants_keyboard_input() || (focused.is_some() && focused == self.t_slider) {
            return;
        }
        let (left, right, shift) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::ArrowRight),
                i.modifiers.shift,
            )
        });
        if self.settings.tab == Tab::Reverse && ctx.input(|i| i.key_pressed(egui::Key::Space)) {
            self.reverse.playing = !self.reverse.playing;
        }
        let stride = if shift { 10 } else { 1 };
        let max_t = self.cursor_limit();
        if left {
            self.settings.cursor_t = self.settings.cursor_t.saturating_sub(stride).max(1);
        }
        if right {
            self.settings.cursor_t = (self.settings.cursor_t + stride).min(max_t);
        }
    }

    /// The largest t the cursor can take in the current panel: the sampled models' T in
    /// Reverse (once loaded), the compared schedules' elsewhere.
    fn cursor_limit(&self) -> usize {
        let sampled = self.reverse.max_steps();
        match sampled {
            Some(steps) if self.settings.tab == Tab::Reverse => steps,
            _ => self.max_steps(),
        }
    }

    /// The largest T among the compared schedules.
    fn max_steps(&self) -> usize {
        self.slots
            .iter()
            .map(|s| s.schedule.steps())
            .max()
            .unwrap_or(1)
    }

    /// The assets folder the app reads its data and weights from, if it found one.
    pub fn assets_dir(&self) -> Option<&std::path::Path> {
        self.assets_dir.as_deref()
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(self.compute.status_line()).small());
            let assets = match &self.assets_dir {
                Some(dir) => format!("assets: {}", shown_path(dir).display()),
                None => "no assets folder found".to_owned(),
            };
            ui.separator();
            ui.label(egui::RichText::new(assets).small());
            if let Err(message) = &self.lanes {
                ui.colored_label(egui::Color32::RED, message);
            }
            if self.reverse.slowest_frame > 0.0 {
                ui.separator();
                let mut text = format!(
                    "slowest UI frame while sampling: {:.0} ms",
                    self.reverse.slowest_frame * 1e3
                );
                if let Some(seconds) = self.reverse.first_step_after {
                    text += &format!(
                        " · first step on screen {:.0} ms after Sample",
                        seconds * 1e3
                    );
                }
                ui.label(egui::RichText::new(text).small());
            }
            if let Some((done, total)) = self.forward_progress() {
                ui.separator();
                widgets::busy_indicator(ui);
                ui.label(format!("noising: {done}/{total} schedules"));
                if ui.button("Cancel").clicked() {
                    self.cancel_forward();
                }
            } else if let Some(seconds) = self.forward.seconds {
                ui.separator();
                ui.label(
                    egui::RichText::new(format!("forward frames in {:.0} ms", seconds * 1e3))
                        .small(),
                );
            }
        });
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if self.sampling()
            && let Some(seconds) = frame.info().cpu_usage
        {
            self.reverse.slowest_frame = self.reverse.slowest_frame.max(seconds);
        }
        self.apply_events();
        self.handle_input(&ctx);
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Noisescope");
                ui.separator();
                ui.selectable_value(&mut self.settings.tab, Tab::Schedules, "Schedules");
                ui.selectable_value(&mut self.settings.tab, Tab::Forward, "Forward");
                ui.selectable_value(&mut self.settings.tab, Tab::Reverse, "Reverse");
                ui.selectable_value(&mut self.settings.tab, Tab::Analysis, "Analysis");
                ui.selectable_value(&mut self.settings.tab, Tab::Daed, "DAED");
            });
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::CentralPanel::default().show(ui, |ui| match self.settings.tab {
            Tab::Schedules => {
                schedules_panel::schedules_ui(ui, &mut self.slots, &mut self.settings);
            }
            Tab::Forward => forward_panel::forward_ui(ui, self),
            Tab::Reverse => reverse_panel::reverse_ui(ui, self),
            Tab::Analysis => analysis_panel::analysis_ui(ui, self),
            Tab::Daed => daed_panel::daed_ui(ui, self),
        });
        self.advance_playback(&ctx);
        self.settings.cursor_t = self.settings.cursor_t.clamp(1, self.cursor_limit());
        self.settings.specs = self.slots.iter().map(|s| s.draft.clone()).collect();
        if self.settings.tab == Tab::Forward {
            self.request_forward();
        }
        if self.settings.tab == Tab::Daed && self.daed.running.is_none() {
            self.follow_switch();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

/// `path` relative to the working folder when it lies inside it, else as it is.
fn shown_path(path: &std::path::Path) -> std::path::PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|working| {
            path.strip_prefix(working)
                .ok()
                .map(std::path::Path::to_path_buf)
        })
        .unwrap_or_else(|| path.to_path_buf())
}

/// Writes `csv` (a header and rows) to the path typed in `path`, atomically, and says what
/// happened; with no rows it writes nothing and says `empty`.
fn export_csv(path: &str, csv: &str, empty: &str) -> String {
    let rows = csv.lines().count().saturating_sub(1);
    if rows == 0 {
        return empty.to_owned();
    }
    let path = std::path::PathBuf::from(path.trim());
    match crate::model::write_atomically(&path, csv.as_bytes()) {
        Ok(()) => format!(
            "wrote {rows} rows to {}",
            std::path::absolute(&path).unwrap_or(path).display()
        ),
        Err(error) => format!("not exported: {error}"),
    }
}

/// Opens the Noisescope window.
pub fn run_native() -> anyhow::Result<()> {
    job::lower_compute_priority();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Noisescope")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([720.0, 480.0])
            .with_drag_and_drop(true),
        wgpu_options: gpu::wgpu_configuration(),
        ..Default::default()
    };
    eframe::run_native(
        "Noisescope",
        options,
        Box::new(|cc| Ok(Box::new(App::new(cc)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
