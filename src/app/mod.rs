//! The eframe app: what the panels share, the panels (one folder each, behind the [`Panel`]
//! trait), and the frame loop that polls their jobs, draws the open one and applies the
//! [`Command`]s they issued.

mod analysis;
mod condition;
mod daed;
mod exports;
mod file_dialog;
mod fonts;
mod formula_strip;
mod forward;
mod image_view;
mod inspect;
mod job;
mod math;
mod offscreen;
mod panel;
mod playground;
pub mod plot_export;
mod presentation;
pub mod readout;
mod reverse;
mod scene_actions;
pub mod scene_export;
pub mod scene_file;
mod scenes;
mod schedules;
mod settings;
mod spectrum_plot;
mod widgets;

use eframe::egui;

pub use analysis::CurveSchedule;
pub use forward::SourceImage;
pub use playground::{ModelResults, PlaygroundState};
pub use reverse::ModelHistory;
pub use schedules::ScheduleSlot;
pub use settings::{
    AnalysisAxis, AnalysisSettings, ConditionSettings, DaeChoice, DaedSettings, ExportSettings,
    ForwardSettings, MAX_SCHEDULES, ModelsShown, PlaygroundSettings, PlaygroundSource, ProbeChoice,
    ReverseSettings, SamplerChoice, SamplingChoice, SchedulesSettings, Settings, ShippedPair, Tab,
    Theme, ToyModelChoice, XAxis,
};

use crate::data::BuiltinDataset;
use crate::gpu::{self, ComputeDevice, ComputePreference};
use crate::render::ImageRenderer;
use crate::schedule::Schedule;
use job::LaneTarget;
use panel::{Command, Panel, Shared};

const SETTINGS_KEY: &str = "noisescope-settings";
/// The app's name: its window title and the name of its data folder.
const APP_NAME: &str = "Noisescope";
/// The folder of the data folder where the Reverse panel keeps finished runs.
const RUNS_FOLDER: &str = "reverse-runs";

/// The panels, in tab order.
struct Panels {
    schedules: schedules::SchedulesPanel,
    forward: forward::ForwardPanel,
    reverse: reverse::ReversePanel,
    analysis: analysis::AnalysisPanel,
    daed: daed::DaedPanel,
    playground: playground::PlaygroundPanel,
}

impl Panels {
    /// Every panel, in tab order.
    fn all(&self) -> [&dyn Panel; 6] {
        [
            &self.schedules,
            &self.forward,
            &self.reverse,
            &self.analysis,
            &self.daed,
            &self.playground,
        ]
    }

    /// Every panel, in tab order, to change.
    fn all_mut(&mut self) -> [&mut dyn Panel; 6] {
        [
            &mut self.schedules,
            &mut self.forward,
            &mut self.reverse,
            &mut self.analysis,
            &mut self.daed,
            &mut self.playground,
        ]
    }

    /// The panel of `tab`.
    fn open(&self, tab: Tab) -> Option<&dyn Panel> {
        self.all().into_iter().find(|p| p.tab() == tab)
    }

    /// The panel of `tab`, to change.
    fn open_mut(&mut self, tab: Tab) -> Option<&mut dyn Panel> {
        self.all_mut().into_iter().find(|p| p.tab() == tab)
    }
}

/// What the panels share, besides what [`Shared`] lends them each frame.
struct SharedValues {
    tab: Tab,
    cursor_t: usize,
    switch_t: usize,
    beta1: f64,
    /// The compared schedules, as the Schedules panel last reported them.
    schedules: Vec<Schedule>,
    /// The DAED panel's model and its schedule, as that panel last reported them.
    daed_model: ShippedPair,
    daed_schedule: Option<Schedule>,
    /// The widget that takes ←/→ while focused.
    t_slider: Option<egui::Id>,
    /// Where and how exports are written.
    export: ExportSettings,
    /// Whether the panels show their controls.
    controls: bool,
}

/// Where the app runs: its devices, data and folders.
struct Surroundings {
    compute: ComputeDevice,
    gpu_draw: bool,
    dataset: Result<BuiltinDataset, String>,
    assets_dir: Option<std::path::PathBuf>,
    models_dir: Option<std::path::PathBuf>,
    frame_cpu: Option<f32>,
}

/// What the panels read this frame: the shared values and the surroundings.
fn lend<'a>(shared: &'a SharedValues, around: &'a Surroundings) -> Shared<'a> {
    Shared {
        cursor_t: shared.cursor_t,
        switch_t: shared.switch_t,
        beta1: shared.beta1,
        schedules: &shared.schedules,
        daed_model: shared.daed_model,
        daed_schedule: shared.daed_schedule.as_ref(),
        dataset: around.dataset.as_ref().map_err(String::as_str),
        models_dir: around.models_dir.as_deref(),
        gpu_draw: around.gpu_draw,
        frame_cpu: around.frame_cpu,
        export: &shared.export,
        controls: shared.controls,
    }
}

/// The Noisescope app.
pub struct App {
    shared: SharedValues,
    panels: Panels,
    around: Surroundings,
    presentation: presentation::Presentation,
    exporter: exports::Exporter,
    export_window: bool,
    scenes: scenes::Scenes,
    scene_file: String,
    /// Where the open panel was drawn last frame (what E captures of a panel of plots).
    central_rect: egui::Rect,
    /// Draws a panel of plots anew at the export resolution (with the window's device).
    offscreen: Option<offscreen::Offscreen>,
    /// A plot asked to be exported last frame (done at the start of the next, once its menu
    /// has closed).
    plot_export: Option<plot_export::PlotExport>,
}

/// The settings, to change them as a script would: the shared values and each panel's own.
pub struct SettingsMut<'a> {
    /// The open panel.
    pub tab: &'a mut Tab,
    /// The cursor t.
    pub cursor_t: &'a mut usize,
    /// DAED's switching point s.
    pub switch_t: &'a mut usize,
    /// The Reverse panel's settings.
    pub reverse: &'a mut ReverseSettings,
    /// The Analysis panel's settings.
    pub analysis: &'a mut AnalysisSettings,
    /// The DAED panel's settings.
    pub daed: &'a mut DaedSettings,
    /// The Playground panel's settings.
    pub playground: &'a mut PlaygroundSettings,
    /// Where and how exports are written.
    pub export: &'a mut ExportSettings,
}

impl App {
    /// Builds the app with the compute device `NOISESCOPE_COMPUTE` asks for (see [`Self::with_compute`]).
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        Self::with_compute(cc, ComputePreference::from_env())
    }

    /// Builds the app: restores settings, chooses the compute device, loads the dataset and
    /// builds the panels with their job lanes.
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
        let target = LaneTarget::new(&compute, &cc.egui_ctx);
        let schedules = schedules::SchedulesPanel::new(settings.schedules);
        let mut reverse = reverse::ReversePanel::new(settings.reverse, &target);
        // Runs are kept beside the settings, where the app persists them.
        let runs_dir = cc.storage.and_then(|_| eframe::storage_dir(APP_NAME));
        reverse.set_run_store(runs_dir.map(|dir| reverse::RunStore::new(dir.join(RUNS_FOLDER))));
        let panels = Panels {
            forward: forward::ForwardPanel::new(settings.forward, dataset.as_ref().ok(), &target),
            reverse,
            analysis: analysis::AnalysisPanel::new(settings.analysis, &target),
            daed: daed::DaedPanel::new(settings.daed, &target),
            playground: playground::PlaygroundPanel::new(settings.playground, &target),
            schedules,
        };
        let shared = SharedValues {
            tab: settings.tab,
            cursor_t: settings.cursor_t,
            switch_t: settings.switch_t,
            beta1: settings.beta1,
            schedules: panels.schedules.schedules(),
            daed_model: panels.daed.settings().model,
            daed_schedule: None,
            t_slider: None,
            export: settings.export,
            controls: true,
        };
        let around = Surroundings {
            compute,
            gpu_draw,
            dataset,
            assets_dir,
            models_dir: None,
            frame_cpu: None,
        };
        let presentation = presentation::Presentation::new(
            &cc.egui_ctx,
            settings.zoom,
            settings.theme,
            settings.text_size,
        );
        Self {
            shared,
            panels,
            around,
            presentation,
            exporter: exports::Exporter::new(&target),
            export_window: false,
            scenes: scenes::Scenes::default(),
            scene_file: settings.scene_file,
            central_rect: egui::Rect::NOTHING,
            offscreen: render_state.map(offscreen::Offscreen::new),
            plot_export: None,
        }
        .with_scene_file_opened()
    }

    /// Takes the model files from `dir` (`unet-linear.nsw`, `unet-cosine.nsw`) instead of the
    /// assets' `models/` folder.
    #[must_use]
    pub fn with_models_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.around.models_dir = Some(dir);
        self
    }

    /// Keeps the Reverse panel's finished runs in `dir` and shows the one kept for its
    /// settings (the app keeps them in its data folder; a test chooses its own).
    #[must_use]
    pub fn with_runs_kept_in(mut self, dir: std::path::PathBuf) -> Self {
        self.panels
            .reverse
            .set_run_store(Some(reverse::RunStore::new(dir)));
        self
    }

    /// The settings as they stand.
    pub fn settings(&self) -> Settings {
        Settings {
            tab: self.shared.tab,
            cursor_t: self.shared.cursor_t,
            switch_t: self.shared.switch_t,
            beta1: self.shared.beta1,
            schedules: self.panels.schedules.settings(),
            forward: self.panels.forward.settings().clone(),
            reverse: self.panels.reverse.settings().clone(),
            analysis: self.panels.analysis.settings().clone(),
            daed: self.panels.daed.settings().clone(),
            playground: self.panels.playground.settings().clone(),
            zoom: self.presentation.zoom,
            theme: self.presentation.theme,
            text_size: self.presentation.text_size,
            export: self.shared.export.clone(),
            scene_file: self.scene_file.clone(),
        }
    }

    /// The settings, to change them as a script would.
    pub fn settings_mut(&mut self) -> SettingsMut<'_> {
        SettingsMut {
            tab: &mut self.shared.tab,
            cursor_t: &mut self.shared.cursor_t,
            switch_t: &mut self.shared.switch_t,
            reverse: self.panels.reverse.settings_mut(),
            analysis: self.panels.analysis.settings_mut(),
            daed: self.panels.daed.settings_mut(),
            playground: self.panels.playground.settings_mut(),
            export: &mut self.shared.export,
        }
    }

    /// Polls every panel's jobs, then draws the open panel, then applies what they asked for.
    fn frame(&mut self, ui: &mut egui::Ui) {
        let mut commands = Vec::new();
        let lent = lend(&self.shared, &self.around);
        for panel in self.panels.all_mut() {
            panel.poll(&lent, &mut commands);
        }
        self.exporter.poll();
        self.tab_bar(ui);
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        let tab = self.shared.tab;
        let lent = lend(&self.shared, &self.around);
        let central = egui::CentralPanel::default().show(ui, |ui| {
            if let Some(panel) = self.panels.open_mut(tab) {
                panel.ui(ui, &lent, &mut commands);
            }
        });
        self.central_rect = central.response.rect;
        self.apply(commands);
    }

    fn tab_bar(&mut self, ui: &mut egui::Ui) {
        let mut tab = self.shared.tab;
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Noisescope");
                ui.separator();
                for panel in self.panels.all() {
                    ui.selectable_value(&mut tab, panel.tab(), panel.title());
                }
                // Below this width the presenting controls go into a menu, so that nothing
                // overlaps the tabs.
                let wide = ui.available_width() > 720.0;
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if wide {
                        self.presentation.toolbar_ui(ui);
                    } else {
                        ui.menu_button("View", |ui| self.presentation.toolbar_ui(ui));
                    }
                    ui.toggle_value(&mut self.shared.controls, "Controls")
                        .on_hover_text("show or hide the panels' controls (C)");
                    ui.toggle_value(&mut self.scenes.window_open, "Scenes…")
                        .on_hover_text("Named snapshots to step through with PageUp/PageDown");
                    ui.toggle_value(&mut self.export_window, "Export…")
                        .on_hover_text("Where exports go, their scale, GIF frames and speed");
                });
            });
        });
        self.shared.tab = tab;
    }

    /// Applies the panels' commands, then keeps the cursor within the open panel's range.
    fn apply(&mut self, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::SetCursor(t) => self.shared.cursor_t = t,
                Command::SetSwitch(s) => self.shared.switch_t = s,
                Command::SetBeta1(beta1) => self.shared.beta1 = beta1,
                Command::SetSchedules(schedules) => self.shared.schedules = schedules,
                Command::SetDaedModel(model, schedule) => {
                    self.shared.daed_model = model;
                    self.shared.daed_schedule = schedule;
                }
                Command::TSlider(id) => self.shared.t_slider = Some(id),
                Command::Export(request) => self.exporter.export(request, &self.shared.export),
            }
        }
        self.shared.cursor_t = self.shared.cursor_t.clamp(1, self.cursor_limit());
    }

    fn handle_input(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(path) = dropped {
            let csv = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            let json = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            if csv {
                self.shared.tab = Tab::Playground;
                self.panels.playground.load_points_file(&path);
            } else if json {
                self.shared.tab = Tab::Schedules;
                self.panels.schedules.import_config(&path);
            } else {
                self.shared.tab = Tab::Forward;
                self.panels.forward.load_image_file(path);
            }
        }
        let tabs: Vec<Tab> = self.panels.all().iter().map(|p| p.tab()).collect();
        let typing = ctx.egui_wants_keyboard_input();
        let keys = self.presentation.keys(ctx, typing, &tabs);
        if let Some(tab) = keys.tab {
            self.shared.tab = tab;
        }
        if keys.export {
            self.export_screen(ctx);
        }
        if keys.toggle_controls {
            self.shared.controls = !self.shared.controls;
        }
        if let Some(index) = self.scenes.step(keys.scene_step) {
            self.go_to_scene(index);
        }
        match keys.cursor {
            Some(presentation::CursorJump::First) => self.shared.cursor_t = 1,
            Some(presentation::CursorJump::Last) => self.shared.cursor_t = self.cursor_limit(),
            None => {}
        }
        // Text fields and the t slider handle the arrows themselves.
        let focused = ctx.memory(|m| m.focused());
        if typing || (focused.is_some() && focused == self.shared.t_slider) {
            return;
        }
        let (left, right, shift) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::ArrowRight),
                i.modifiers.shift,
            )
        });
        let stride = if shift { 10 } else { 1 };
        let cursor = &mut self.shared.cursor_t;
        if left {
            *cursor = cursor.saturating_sub(stride).max(1);
        }
        if right {
            *cursor += stride;
        }
    }

    /// Exports what the open panel shows: its pictures, drawn anew at the export scale, or
    /// a panel of plots drawn anew as laid out on screen, at the export's pixels per point
    /// (without wgpu: the window's pixels of the panel).
    pub fn export_screen(&mut self, ctx: &egui::Context) {
        let tab = self.shared.tab;
        let lent = lend(&self.shared, &self.around);
        let open = self.panels.open(tab);
        let requests = open.map(|p| p.screen_export(&lent)).unwrap_or_default();
        let stem = open.map_or("panel", |p| p.title()).to_lowercase();
        if requests.is_empty() {
            let rect = self.central_rect;
            self.export_region(ctx, (rect, &stem));
        }
        for request in requests {
            self.exporter.export(request, &self.shared.export);
        }
    }

    /// Exports the part `rect` of the open panel as `<stem>.png`: the panel drawn anew
    /// offscreen at the export's pixels per point and cut to `rect` (without wgpu: the
    /// window's pixels there).
    fn export_region(&mut self, ctx: &egui::Context, (rect, stem): (egui::Rect, &str)) {
        let Some(offscreen) = &self.offscreen else {
            self.exporter
                .screenshot(ctx, (rect, stem), &self.shared.export);
            return;
        };
        let scale = self.shared.export.panel_scale.clamp(1.0, 4.0);
        let panel_rect = self.central_rect;
        let tab = self.shared.tab;
        let lent = lend(&self.shared, &self.around);
        let mut ignored = Vec::new();
        let Some(panel) = self.panels.open_mut(tab) else {
            return;
        };
        let laid_out = offscreen.lay_out(ctx, (panel_rect.size(), scale), |ui| {
            panel.ui(ui, &lent, &mut ignored);
        });
        let laid_out = match laid_out {
            Ok(laid_out) => laid_out,
            Err(message) => return self.exporter.refused(&message),
        };
        // Drawn, cut and written on the exporter's thread.
        let cut = move || {
            let picture = laid_out.draw()?;
            let size = [picture.width(), picture.height()];
            let [x, y, width, height] =
                plot_export::crop_of(rect, panel_rect, scale, size).ok_or("it is not on screen")?;
            Ok(image::imageops::crop_imm(&picture, x, y, width, height).to_image())
        };
        self.exporter.picture(ctx, (stem, &self.shared.export), cut);
    }

    /// The largest t the cursor can take in the open panel: its own limit (the sampled models'
    /// T in Reverse), else the compared schedules' largest T.
    fn cursor_limit(&self) -> usize {
        let tab = self.shared.tab;
        let own = self.panels.open(tab);
        own.and_then(|p| p.max_t()).unwrap_or_else(|| {
            let schedules = self.shared.schedules.iter();
            schedules.map(Schedule::steps).max().unwrap_or(1)
        })
    }

    /// The status line; on a narrow window it wraps rather than cut off what it says.
    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label(egui::RichText::new(self.around.compute.status_line()).small());
            let assets = match &self.around.assets_dir {
                Some(dir) => format!("assets: {}", shown_path(dir).display()),
                None => "no assets folder found".to_owned(),
            };
            ui.separator();
            ui.label(egui::RichText::new(assets).small());
            if let Some(message) = job::spawn_failure() {
                ui.colored_label(egui::Color32::RED, message);
            }
            for panel in self.panels.all_mut() {
                panel.status_ui(ui);
            }
            self.exporter.status_ui(ui);
        });
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.around.frame_cpu = frame.info().cpu_usage;
        if let Some(plot) = self.plot_export.take() {
            self.export_region(&ctx, (plot.rect, &plot.stem));
        }
        self.handle_input(&ctx);
        self.frame(ui);
        self.plot_export = plot_export::take_request(&ctx);
        if self.plot_export.is_some() {
            ctx.request_repaint();
        }
        self.presentation.help_ui(&ctx);
        egui::Window::new("Export")
            .open(&mut self.export_window)
            .resizable(false)
            .show(&ctx, |ui| exports::settings_ui(ui, &mut self.shared.export));
        let action = self.scenes.window_ui(&ctx, &mut self.scene_file);
        self.scene_action(action);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings());
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
    eframe::run_native(APP_NAME, options, Box::new(|cc| Ok(Box::new(App::new(cc)))))
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
