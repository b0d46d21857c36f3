//! Presenting: full screen, a zoom that is remembered, keys that switch panels and move the
//! cursor, and an overlay that lists every key.

use eframe::egui;

use super::settings::{Tab, Theme};

/// The smallest and largest zoom.
pub const ZOOM_RANGE: (f32, f32) = (0.5, 3.0);
/// One press of Zoom − or Zoom +.
const ZOOM_STEP: f32 = 0.25;
/// The smallest and largest text size, against egui's default.
pub const TEXT_SIZE_RANGE: (f32, f32) = (0.8, 2.0);
/// One press of Text − or Text +.
const TEXT_SIZE_STEP: f32 = 0.1;

/// The keys, as the overlay lists them.
const KEYS: [(&str, &str); 14] = [
    (
        "← / →",
        "cursor t back / on by one step (and the Reverse panel's step)",
    ),
    ("Shift + ← / →", "ten steps"),
    ("Home / End", "cursor t to the first / last step"),
    ("Space", "play / pause the reverse process (Reverse)"),
    ("PageUp / PageDown", "previous / next scene (Scenes…)"),
    (
        "C",
        "hide / show the panels' controls, so the figures fill the screen",
    ),
    (
        "E",
        "export what is on screen as PNG (to the Export… folder)",
    ),
    ("right-click a plot", "export that plot alone as PNG"),
    (
        "1 … 6",
        "Schedules, Forward, Reverse, Analysis, DAED, Playground",
    ),
    ("F11", "full screen on / off"),
    ("Ctrl + + / Ctrl + −", "zoom in / out (remembered)"),
    ("Ctrl + 0", "zoom back to 100 %"),
    ("?", "this list"),
    ("Esc", "close this list"),
];

/// The state of presenting.
#[derive(Debug)]
pub struct Presentation {
    /// The zoom, as last seen (saved with the settings).
    pub zoom: f32,
    /// Whether the window is full screen.
    pub fullscreen: bool,
    /// Whether the list of keys is shown.
    pub help_open: bool,
    /// Dark, or light with high contrast.
    pub theme: Theme,
    /// The size of text against egui's default.
    pub text_size: f32,
}

/// Where a key moves the cursor t.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CursorJump {
    /// t = 1.
    First,
    /// The open panel's last step.
    Last,
}

/// What the keys of this frame asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyActions {
    /// A panel to open.
    pub tab: Option<Tab>,
    /// A jump of the cursor.
    pub cursor: Option<CursorJump>,
    /// Export what is on screen.
    pub export: bool,
    /// Scenes to move by: −1 (PageUp), 1 (PageDown) or 0.
    pub scene_step: isize,
    /// Show or hide the panels' controls.
    pub toggle_controls: bool,
}

impl Presentation {
    /// Starts at the remembered `zoom` (clamped to [`ZOOM_RANGE`]), `theme` and `text_size`
    /// (clamped to [`TEXT_SIZE_RANGE`]).
    pub fn new(ctx: &egui::Context, zoom: f32, theme: Theme, text_size: f32) -> Self {
        let zoom = if zoom.is_finite() { zoom } else { 1.0 };
        let zoom = zoom.clamp(ZOOM_RANGE.0, ZOOM_RANGE.1);
        ctx.set_zoom_factor(zoom);
        apply_theme(ctx, theme);
        let text_size = if text_size.is_finite() {
            text_size
        } else {
            1.0
        };
        let text_size = text_size.clamp(TEXT_SIZE_RANGE.0, TEXT_SIZE_RANGE.1);
        apply_text_size(ctx, text_size);
        Self {
            zoom,
            fullscreen: false,
            help_open: false,
            theme,
            text_size,
        }
    }

    /// Reads this frame's presenting keys. `typing`: a text field has the keyboard, so only
    /// F11 and Esc count; `tabs`: the panels in the order of the number keys.
    pub fn keys(&mut self, ctx: &egui::Context, typing: bool, tabs: &[Tab]) -> KeyActions {
        let mut actions = KeyActions::default();
        if ctx.input(|i| i.key_pressed(egui::Key::F11)) {
            self.set_fullscreen(ctx, !self.fullscreen);
        }
        if ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.help_open = false;
        }
        self.zoom = ctx.zoom_factor();
        if typing {
            return actions;
        }
        ctx.input(|i| {
            if i.key_pressed(egui::Key::Questionmark) {
                self.help_open = !self.help_open;
            }
            let digits = [
                egui::Key::Num1,
                egui::Key::Num2,
                egui::Key::Num3,
                egui::Key::Num4,
                egui::Key::Num5,
                egui::Key::Num6,
            ];
            let pressed = digits.iter().position(|&k| i.key_pressed(k));
            actions.tab = pressed.and_then(|index| tabs.get(index).copied());
            actions.export = i.key_pressed(egui::Key::E) && !i.modifiers.any();
            actions.toggle_controls = i.key_pressed(egui::Key::C) && !i.modifiers.any();
            if i.key_pressed(egui::Key::PageUp) {
                actions.scene_step = -1;
            } else if i.key_pressed(egui::Key::PageDown) {
                actions.scene_step = 1;
            }
            if i.key_pressed(egui::Key::Home) {
                actions.cursor = Some(CursorJump::First);
            } else if i.key_pressed(egui::Key::End) {
                actions.cursor = Some(CursorJump::Last);
            }
        });
        actions
    }

    fn set_fullscreen(&mut self, ctx: &egui::Context, on: bool) {
        self.fullscreen = on;
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(on));
    }

    /// Zoom −, the zoom, Zoom +, full screen, the theme and the keys, for the tab bar.
    pub fn toolbar_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if ui
            .button("?")
            .on_hover_text("the keyboard keys (?)")
            .clicked()
        {
            self.help_open = !self.help_open;
        }
        let label = if self.fullscreen {
            "Leave full screen"
        } else {
            "Full screen"
        };
        if ui.button(label).on_hover_text("F11").clicked() {
            self.set_fullscreen(&ctx, !self.fullscreen);
        }
        let (label, other) = match self.theme {
            Theme::Dark => ("Light", Theme::Light),
            Theme::Light => ("Dark", Theme::Dark),
        };
        if ui
            .button(label)
            .on_hover_text("a high-contrast light theme for projectors, or the dark one")
            .clicked()
        {
            self.theme = other;
            apply_theme(&ctx, other);
        }
        self.text_size_ui(ui);
        let zoom = ctx.zoom_factor();
        let (low, high) = ZOOM_RANGE;
        let step = |delta: f32| ((zoom + delta) / ZOOM_STEP).round() * ZOOM_STEP;
        if ui
            .add_enabled(zoom < high, egui::Button::new("Zoom +"))
            .on_hover_text("Ctrl + +; a projector wants 2–2.5×")
            .clicked()
        {
            ctx.set_zoom_factor(step(ZOOM_STEP).min(high));
        }
        ui.label(format!("{:.0} %", 100.0 * zoom));
        if ui
            .add_enabled(zoom > low, egui::Button::new("Zoom −"))
            .on_hover_text("Ctrl + −")
            .clicked()
        {
            ctx.set_zoom_factor(step(-ZOOM_STEP).max(low));
        }
        self.zoom = ctx.zoom_factor();
    }

    /// Text − and Text +: the size of text alone, for captions read from the back of a room.
    fn text_size_ui(&mut self, ui: &mut egui::Ui) {
        let (low, high) = TEXT_SIZE_RANGE;
        let mut size = self.text_size;
        if ui
            .add_enabled(size < high - 1e-3, egui::Button::new("Text +"))
            .on_hover_text("larger text, the rest as it is")
            .clicked()
        {
            size = (size + TEXT_SIZE_STEP).min(high);
        }
        if ui
            .add_enabled(size > low + 1e-3, egui::Button::new("Text −"))
            .on_hover_text("smaller text")
            .clicked()
        {
            size = (size - TEXT_SIZE_STEP).max(low);
        }
        if size != self.text_size {
            self.text_size = (size * 10.0).round() / 10.0;
            apply_text_size(ui.ctx(), self.text_size);
        }
    }

    /// The list of keys, while open.
    pub fn help_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.help_open;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                egui::Grid::new("keys").striped(true).show(ui, |ui| {
                    for (key, what) in KEYS {
                        ui.strong(key);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        self.help_open &= open;
    }
}

/// Sets the look of `theme`: egui's dark look, or a light one with black text, white panels
/// and heavier strokes, which stays legible on a washed-out projector.
pub fn apply_theme(ctx: &egui::Context, theme: Theme) {
    let visuals = match theme {
        Theme::Dark => egui::Visuals::dark(),
        Theme::Light => high_contrast_light(),
    };
    ctx.set_visuals_of(egui::Theme::Dark, visuals.clone());
    ctx.set_visuals_of(egui::Theme::Light, visuals);
}

fn high_contrast_light() -> egui::Visuals {
    let mut visuals = egui::Visuals::light();
    visuals.override_text_color = Some(egui::Color32::BLACK);
    visuals.panel_fill = egui::Color32::WHITE;
    visuals.window_fill = egui::Color32::WHITE;
    visuals.extreme_bg_color = egui::Color32::WHITE;
    visuals.faint_bg_color = egui::Color32::from_gray(235);
    let stroke = egui::Stroke::new(1.5, egui::Color32::BLACK);
    visuals.widgets.noninteractive.bg_stroke = egui::Stroke::new(1.0, egui::Color32::from_gray(90));
    for widget in [
        &mut visuals.widgets.inactive,
        &mut visuals.widgets.hovered,
        &mut visuals.widgets.active,
    ] {
        widget.fg_stroke = stroke;
    }
    visuals.widgets.inactive.bg_stroke = egui::Stroke::new(1.0, egui::Color32::from_gray(60));
    visuals.selection.bg_fill = egui::Color32::from_rgb(255, 214, 102);
    visuals.selection.stroke = stroke;
    visuals
}

/// Scales every text style of egui's default by `size`.
pub fn apply_text_size(ctx: &egui::Context, size: f32) {
    let defaults = egui::Style::default().text_styles;
    ctx.all_styles_mut(|style| {
        for (text_style, font) in &defaults {
            style.text_styles.insert(
                text_style.clone(),
                egui::FontId::new(font.size * size, font.family.clone()),
            );
        }
    });
}
