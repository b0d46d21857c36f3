//! The Reverse panel: sample with the trained models, then scrub or play every step, with x_t,
//! the model's x̂0 and ε̂ side by side.

use eframe::egui::{self, Color32, RichText};

use super::frequency::{frequency_export, frequency_ui};
use super::history::history_ui;
use super::{MAX_BATCH, ReversePanel};
use crate::app::condition::{Offer, condition_row};
use crate::app::formula_strip::reverse_formula;
use crate::app::image_view::{ImageStyle, image_grid, image_view};
use crate::app::math::math_ui;
use crate::app::panel::{Command, Shared};
use crate::app::settings::{ModelsShown, SamplerChoice};
use crate::app::widgets::{busy_indicator, cursor_slider, labelled_drag, sampler_picker};
use crate::render::{Colormap, ValueRange};
use crate::schedule::{ReverseVariance, TimestepSpacing};

/// What the person asked for with the panel's buttons.
pub enum Action {
    /// Nothing.
    None,
    /// Start sampling.
    Sample,
    /// Stop sampling.
    Cancel,
}

/// Draws the panel; `max_t` is the largest t of the recorded models.
pub fn reverse_ui(
    ui: &mut egui::Ui,
    panel: &mut ReversePanel,
    shared: &Shared<'_>,
    max_t: usize,
    commands: &mut Vec<Command>,
) -> Action {
    let mut action = Action::None;
    if shared.controls {
        action = controls_ui(ui, panel);
        let condition = &mut panel.settings.condition;
        condition_row(ui, condition, shared.schedules, Offer::ClassAndSchedule);
        history_section_ui(ui, panel, shared, commands);
        ui.separator();
    }
    scrubber_ui(ui, panel, shared.cursor_t, max_t, commands);
    if shared.controls {
        export_row_ui(ui, panel, shared, commands);
    }
    if let Some(error) = &panel.state.error {
        ui.colored_label(Color32::from_rgb(235, 80, 80), error);
    }
    ui.separator();
    if panel.state.runs.is_empty() {
        ui.label(
            "Press Sample: the models start from the same noise x_T and every step is recorded.",
        );
        return action;
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.columns(panel.state.runs.len(), |columns| {
            for (index, column) in columns.iter_mut().enumerate() {
                model_column_ui(column, panel, shared, index);
            }
        });
        ui.separator();
        frequency_ui(ui, panel, shared);
    });
    action
}

/// Buttons that export each model's batch at t, the chains as GIFs and the frequency view.
fn export_row_ui(
    ui: &mut egui::Ui,
    panel: &ReversePanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    if panel.state.runs.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label("Export:");
        if ui
            .button("PNG: the batch at t")
            .on_hover_text("each model's x_t (also the E key)")
            .clicked()
        {
            commands.extend(
                panel
                    .state
                    .batch_exports(shared.cursor_t)
                    .into_iter()
                    .map(Command::Export),
            );
        }
        let frames = shared.export.gif_frames;
        if ui
            .add_enabled(
                !panel.sampling(),
                egui::Button::new(format!("GIF: x_T → x0, up to {frames} frames")),
            )
            .on_hover_text("one GIF per model; frames, speed and scale: Export… at the top right")
            .clicked()
        {
            commands.extend(
                panel
                    .state
                    .gif_exports(frames)
                    .into_iter()
                    .map(Command::Export),
            );
        }
        if ui.button("CSV: frequency view").clicked() {
            commands.push(Command::Export(frequency_export(panel, shared.cursor_t)));
        }
    });
}

fn controls_ui(ui: &mut egui::Ui, panel: &mut ReversePanel) -> Action {
    let running = panel.sampling();
    let mut action = Action::None;
    ui.horizontal_wrapped(|ui| {
        let s = &mut panel.settings;
        egui::ComboBox::from_label("models")
            .selected_text(match s.models {
                ModelsShown::Linear => "linear",
                ModelsShown::Cosine => "cosine",
                ModelsShown::Both => "linear and cosine",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.models, ModelsShown::Both, "linear and cosine");
                ui.selectable_value(&mut s.models, ModelsShown::Linear, "linear");
                ui.selectable_value(&mut s.models, ModelsShown::Cosine, "cosine");
            });
        labelled_drag(ui, "images", &mut s.batch, 1..=MAX_BATCH);
        labelled_drag(ui, "seed", &mut s.seed, 0..=u64::MAX);
        if sampler_picker(ui, "sampler", &mut s.sampler, &mut s.steps) {
            s.spacing = s.sampler.default_spacing();
        }
        if s.sampler == SamplerChoice::Ddpm {
            egui::ComboBox::from_label("σ²")
                .selected_text(variance_name(s.variance))
                .show_ui(ui, |ui| {
                    for v in [ReverseVariance::PosteriorBeta, ReverseVariance::Beta] {
                        ui.selectable_value(&mut s.variance, v, variance_name(v));
                    }
                });
        } else {
            if s.sampler == SamplerChoice::Ddim {
                ui.add(egui::Slider::new(&mut s.eta, 0.0..=1.0).text("η"));
            }
            egui::ComboBox::from_label("spacing")
                .selected_text(spacing_name(s.spacing))
                .show_ui(ui, |ui| {
                    for v in [
                        TimestepSpacing::Leading,
                        TimestepSpacing::Trailing,
                        TimestepSpacing::Linspace,
                        TimestepSpacing::LogSnr,
                    ] {
                        ui.selectable_value(&mut s.spacing, v, spacing_name(v));
                    }
                });
        }
        ui.checkbox(&mut s.clip, "clip predicted x0 to [−1, 1]");
        ui.separator();
        if running {
            let (done, total) = panel.state.progress();
            busy_indicator(ui);
            let left = panel.state.seconds_left().map_or_else(String::new, |s| {
                format!(", about {} left", crate::app::widgets::duration_words(s))
            });
            ui.label(format!("sampling: {done}/{total} steps{left}"));
            if ui.button("Cancel").clicked() {
                action = Action::Cancel;
            }
        } else if ui.button("Sample").clicked() {
            action = Action::Sample;
        }
        let last_run = match (panel.state.kept_from, panel.state.seconds) {
            (Some(sampled), Some(loaded)) => Some(format!(
                "kept from an earlier session (sampled in {sampled:.1} s, read in {loaded:.1} s)"
            )),
            (None, Some(seconds)) => Some(format!("last run {seconds:.1} s")),
            _ => None,
        };
        if let Some(text) = last_run {
            let text = RichText::new(text).small().weak();
            ui.add(egui::Label::new(text).extend()).on_hover_text(
                "a finished run is kept on disk and shown again for the same settings",
            );
        }
    });
    action
}

/// "How the models learned", closed at first: opening it reads the models' training logs.
fn history_section_ui(
    ui: &mut egui::Ui,
    panel: &mut ReversePanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    egui::CollapsingHeader::new("How the models learned: loss curve and samples during training")
        .id_salt("reverse history")
        .show(ui, |ui| {
            panel.ensure_history(shared);
            let export = history_ui(ui, &mut panel.history, shared.gpu_draw);
            commands.extend(export.map(Command::Export));
        });
}

fn variance_name(v: ReverseVariance) -> &'static str {
    match v {
        ReverseVariance::PosteriorBeta => "posterior variance",
        ReverseVariance::Beta => "β_t",
    }
}

fn spacing_name(v: TimestepSpacing) -> &'static str {
    match v {
        TimestepSpacing::Leading => "leading",
        TimestepSpacing::Trailing => "trailing",
        TimestepSpacing::Linspace => "linspace",
        TimestepSpacing::LogSnr => "even in log-SNR",
    }
}

fn scrubber_ui(
    ui: &mut egui::Ui,
    panel: &mut ReversePanel,
    cursor_t: usize,
    max_t: usize,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        let label = if panel.state.playing { "Pause" } else { "Play" };
        if ui.button(label).on_hover_text("Space").clicked() {
            if !panel.state.playing && cursor_t <= 1 {
                commands.push(Command::SetCursor(max_t));
            }
            panel.state.playing = !panel.state.playing;
        }
        ui.add(
            egui::Slider::new(&mut panel.settings.speed, 1.0..=500.0)
                .logarithmic(true)
                .text("steps/s"),
        );
        let hint = "←/→ step by 1, Shift+←/→ by 10, Space plays";
        cursor_slider(ui, cursor_t, max_t, (80.0, hint), commands);
    });
}

fn model_column_ui(ui: &mut egui::Ui, panel: &mut ReversePanel, shared: &Shared<'_>, index: usize) {
    let t = shared.cursor_t;
    let selected = panel.settings.selected;
    let gpu = shared.gpu_draw;
    let Some(run) = panel.state.runs.get_mut(index) else {
        return;
    };
    // The column's width before anything in it (a long formula) could widen it.
    let column_width = ui.available_width();
    ui.label(RichText::new(format!("{} model", run.label)).strong());
    if let Some(message) = &run.error {
        ui.colored_label(Color32::RED, message);
        return;
    }
    if let Some(note) = &run.note {
        ui.colored_label(Color32::from_rgb(220, 160, 40), format!("note: {note}"));
    }
    let Some(shown) = run.frames_at(t).cloned() else {
        ui.horizontal(|ui| {
            busy_indicator(ui);
            ui.label("waiting for the first step…");
        });
        return;
    };
    let (shown_t, x_t) = (shown.t, &shown.x_t);
    if let Some(schedule) = &run.schedule {
        let alpha_bar = schedule.alpha_bar_at(shown_t);
        let log_snr = (alpha_bar / (1.0 - alpha_bar)).ln();
        ui.label(format!(
            "t = {shown_t}   ᾱ_t = {alpha_bar:.5}   λ_t = {log_snr:.2}"
        ));
        let next = run
            .step_index(t)
            .and_then(|i| run.steps.get(i + 1))
            .map_or(0, |s| s.t);
        let s = &panel.settings;
        let formula = reverse_formula(schedule, (shown_t, next), s.sampler, (s.variance, s.eta));
        math_ui(ui, &format!("{} update", run.label), &formula, 16.0);
    }
    let data_range = ImageStyle {
        range: Some(ValueRange::default()),
        colormap: Colormap::Gray,
        gpu,
    };
    let noise_range = ImageStyle {
        range: Some(ValueRange {
            low: -3.0,
            high: 3.0,
        }),
        colormap: Colormap::Diverging,
        gpu,
    };
    let row = selected.min(x_t.rows().saturating_sub(1));
    let mut images = vec![
        ("x_t", x_t, data_range),
        ("predicted x0", &shown.x0_hat, data_range),
    ];
    if let Some(unguided) = &shown.x0_unguided {
        images[1].0 = "predicted x0 (guided)";
        images.push(("x0 without guidance (w = 0)", unguided, data_range));
    }
    images.push(("predicted noise ε", &shown.eps_hat, noise_range));
    let side = ((column_width - 24.0) / images.len() as f32).clamp(64.0, 220.0);
    ui.horizontal(|ui| {
        for (name, stack, style) in images {
            ui.vertical(|ui| {
                ui.label(RichText::new(name).strong());
                image_view(
                    ui,
                    &format!("{} {name} of image {row}", run.label),
                    stack,
                    row,
                    side,
                    style,
                );
                if style.colormap == Colormap::Diverging {
                    crate::app::image_view::colour_bar(ui, style, side);
                }
            });
        }
    });
    ui.label(
        RichText::new("the batch at this step (click an image to show it large)")
            .small()
            .weak(),
    );
    let cell = 44.0;
    image_grid(ui, (x_t.rows(), cell, 6.0), |ui, image| {
        let name = format!("{} x_t of image {image}", run.label);
        let response = image_view(ui, &name, x_t, image, cell, data_range);
        if image == row {
            let stroke = egui::Stroke::new(3.0, ui.visuals().selection.bg_fill);
            let rect = response.rect.expand(2.0);
            ui.painter()
                .rect_stroke(rect, 2.0, stroke, egui::StrokeKind::Outside);
        }
        if response.clicked() {
            panel.settings.selected = image;
        }
    });
}
