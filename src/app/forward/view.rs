//! The Forward panel: an image noised t by t under every compared schedule, with the same ε.

use crate::app::plot_export::ExportablePlot;
use eframe::egui::{self, Color32, RichText};
use egui_plot::{AxisHints, Legend, Line, LineStyle, Plot, PlotPoints};

use super::export::forward_style;
use super::frequency::{frequency_export, frequency_ui};
use super::{ForwardPanel, row_for};
use crate::app::exports::ExportRequest;
use crate::app::file_dialog::{IMAGE_FILE, PendingDialog};
use crate::app::formula_strip::forward_formula;
use crate::app::image_view::{ImageStyle, image_view};
use crate::app::math::math_ui;
use crate::app::panel::{Command, Shared};
use crate::app::readout::{Axis, readout};
use crate::app::schedules::SLOT_COLORS;
use crate::app::widgets::{busy_indicator, cursor_slider};
use crate::data::FASHION_CLASSES;
use crate::diffusion::ForwardMode;
use crate::export::Curve;
use crate::render::Colormap;

/// Images in the film strip of each schedule.
const STRIP_FRAMES: usize = 10;
/// Bins of the pixel histogram over [−4, 4].
const HISTOGRAM_BINS: usize = 40;
const HISTOGRAM_LIMIT: f64 = 4.0;

/// Draws the panel.
pub fn forward_ui(
    ui: &mut egui::Ui,
    panel: &mut ForwardPanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    if shared.controls {
        source_ui(ui, panel, shared);
        ui.separator();
        controls_ui(ui, panel);
    }
    t_slider_ui(ui, shared, commands);
    formula_strip_ui(ui, shared);
    ui.separator();
    if let Some(error) = &panel.error {
        ui.colored_label(Color32::from_rgb(235, 80, 80), error);
    }
    if panel.stacks.len() != shared.schedules.len() {
        ui.horizontal(|ui| {
            busy_indicator(ui);
            ui.label("computing x_t for every t…");
        });
        return;
    }
    if shared.controls {
        export_row_ui(ui, panel, shared, commands);
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        frames_ui(ui, panel, shared);
        ui.separator();
        frequency_ui(ui, panel, shared);
        ui.separator();
        film_strips_ui(ui, panel, shared, commands);
    });
}

/// Buttons that export the frames, the film strips, the process as a GIF and the frequency
/// view's curves.
fn export_row_ui(
    ui: &mut egui::Ui,
    panel: &ForwardPanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Export:");
        let mut request = None;
        if ui
            .button("PNG: these frames")
            .on_hover_text("x0 and x_t of every schedule at t (also the E key)")
            .clicked()
        {
            request = panel.frames(shared).frames_export(shared.cursor_t);
        }
        if ui.button("PNG: film strips").clicked() {
            request = panel.frames(shared).strips_export();
        }
        let frames = shared.export.gif_frames;
        if ui
            .button(format!("GIF: x0 → x_T, {frames} frames"))
            .on_hover_text("frames, speed and scale: Export… at the top right")
            .clicked()
        {
            request = panel.frames(shared).gif_export(frames);
        }
        if ui.button("CSV: frequency view").clicked() {
            request = Some(frequency_export(panel, shared));
        }
        if ui.button("CSV: histogram").clicked() {
            request = Some(histogram_export(panel, shared));
        }
        commands.extend(request.map(Command::Export));
    });
}

fn source_ui(ui: &mut egui::Ui, panel: &mut ForwardPanel, shared: &Shared<'_>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Image:").strong());
        ui.label(&panel.source.name);
        ui.separator();
        match shared.dataset {
            Ok(dataset) => {
                let mut index = panel.settings.dataset_index;
                let last = dataset.len().saturating_sub(1);
                let label = ui.label("dataset #");
                let changed = ui
                    .add(egui::DragValue::new(&mut index).range(0..=last))
                    .labelled_by(label.id)
                    .changed();
                let mut next_class = None;
                egui::ComboBox::from_label("next of class")
                    .selected_text("choose…")
                    .show_ui(ui, |ui| {
                        for (class, name) in FASHION_CLASSES.iter().enumerate() {
                            if ui.selectable_label(false, *name).clicked() {
                                next_class = Some(class as u8);
                            }
                        }
                    });
                let from = panel.settings.dataset_index;
                if let Some(found) = next_class.and_then(|c| dataset.next_of_class(c, from)) {
                    index = found;
                }
                if changed || index != panel.settings.dataset_index || next_class.is_some() {
                    panel.select_dataset_image(dataset, index);
                }
            }
            Err(message) => {
                ui.colored_label(
                    Color32::from_rgb(235, 80, 80),
                    format!("dataset unavailable: {message}"),
                );
            }
        }
        ui.separator();
        let waiting = panel.file_dialog.is_some();
        if ui
            .add_enabled(!waiting, egui::Button::new("Open image…"))
            .clicked()
        {
            panel.file_dialog = Some(PendingDialog::open(ui.ctx(), &IMAGE_FILE));
        }
        if waiting {
            busy_indicator(ui);
            ui.label("waiting for the file dialog — if none appears, this desktop has no file-chooser portal: drop the image on the window instead");
        } else {
            ui.label(RichText::new("or drop an image file on the window").weak());
        }
        if panel.files.running() {
            busy_indicator(ui);
        }
    });
    for note in &panel.source.notes {
        ui.label(RichText::new(format!("ℹ {note}")).small().weak());
    }
    if let Some(error) = &panel.image_error {
        ui.colored_label(Color32::from_rgb(235, 80, 80), error);
    }
}

fn controls_ui(ui: &mut egui::Ui, panel: &mut ForwardPanel) {
    let settings = &mut panel.settings;
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("seed of ε");
        ui.add(egui::DragValue::new(&mut settings.seed))
            .labelled_by(label.id);
        if ui.button("New seed").clicked() {
            settings.seed = settings
                .seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
        }
        ui.separator();
        ui.radio_value(&mut settings.mode, ForwardMode::ClosedForm, "closed form")
            .on_hover_text("x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε, one ε for every t");
        ui.radio_value(&mut settings.mode, ForwardMode::MarkovChain, "Markov chain")
            .on_hover_text(
                "x_t = √α_t x_{t−1} + √β_t z_t, fresh noise each step: the same distribution",
            );
        ui.separator();
        egui::ComboBox::from_label("colours")
            .selected_text(settings.colormap.name())
            .show_ui(ui, |ui| {
                for map in Colormap::ALL {
                    ui.selectable_value(&mut settings.colormap, map, map.name());
                }
            });
        ui.checkbox(&mut settings.auto_range, "stretch each frame")
            .on_hover_text("Map each frame's own min..max instead of [−1, 1]");
    });
}

fn t_slider_ui(ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>) {
    let max_t = shared
        .schedules
        .iter()
        .map(|s| s.steps())
        .max()
        .unwrap_or(1);
    ui.horizontal(|ui| {
        let hint = "←/→ step by 1, Shift+←/→ by 10";
        cursor_slider(ui, shared.cursor_t, max_t, (160.0, hint), commands);
    });
}

/// The closed form at the cursor with each schedule's numbers.
fn formula_strip_ui(ui: &mut egui::Ui, shared: &Shared<'_>) {
    for (index, schedule) in shared.schedules.iter().enumerate() {
        let t = shared.cursor_t.clamp(1, schedule.steps());
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!("{}:", index + 1))
                    .color(SLOT_COLORS[index])
                    .strong(),
            );
            let name = format!("forward formula of schedule {}", index + 1);
            math_ui(ui, &name, &forward_formula(schedule, t), 17.0);
        });
    }
}

/// The panel's colours (as its exports use them), drawn on the UI's device.
fn style(panel: &ForwardPanel, shared: &Shared<'_>) -> ImageStyle {
    let colours = forward_style(&panel.settings);
    ImageStyle {
        range: colours.range,
        colormap: colours.colormap,
        gpu: shared.gpu_draw,
    }
}

fn frames_ui(ui: &mut egui::Ui, panel: &ForwardPanel, shared: &Shared<'_>) {
    // The original, one column per schedule, and the histogram (as wide as two images).
    let columns = shared.schedules.len() + 3;
    let side = ((ui.available_width() - 20.0 * columns as f32) / columns as f32).clamp(96.0, 260.0);
    let style = style(panel, shared);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.label(RichText::new("x0").strong());
            image_view(ui, "x0", &panel.source.image, 0, side, style);
            ui.label(RichText::new("the original").small().weak());
        });
        for (index, (schedule, stack)) in shared.schedules.iter().zip(&panel.stacks).enumerate() {
            let row = row_for(shared.schedules, index, shared.cursor_t);
            let t = row + 1;
            ui.vertical(|ui| {
                ui.label(
                    RichText::new(format!("{}: {}", index + 1, schedule.spec().label()))
                        .color(SLOT_COLORS[index])
                        .strong(),
                );
                image_view(
                    ui,
                    &format!("x_t of schedule {}", index + 1),
                    stack,
                    row,
                    side,
                    style,
                );
                let clamped = if t < shared.cursor_t {
                    " (its last step)"
                } else {
                    ""
                };
                ui.monospace(format!("t = {t}{clamped}"));
                ui.monospace(format!("ᾱ_t = {:.5}", schedule.alpha_bar_at(t)));
                ui.monospace(format!("λ_t = {:.3}", schedule.log_snr()[row]));
            });
        }
        ui.vertical(|ui| histogram_ui(ui, panel, shared, side));
    });
}

/// ~10 evenly spaced t from 1 to T.
pub(super) fn strip_steps(steps: usize) -> Vec<usize> {
    let count = STRIP_FRAMES.min(steps);
    (0..count)
        .map(|k| 1 + (steps - 1) * k / (count - 1).max(1))
        .collect()
}

fn film_strips_ui(
    ui: &mut egui::Ui,
    panel: &ForwardPanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    ui.label(RichText::new("Film strips (click a frame to go to its t)").strong());
    let side = ((ui.available_width() - 140.0) / STRIP_FRAMES as f32 - 6.0).clamp(40.0, 90.0);
    let style = style(panel, shared);
    let mut clicked = None;
    for (index, (schedule, stack)) in shared.schedules.iter().zip(&panel.stacks).enumerate() {
        ui.horizontal(|ui| {
            ui.add_sized(
                [110.0, side],
                egui::Label::new(RichText::new(schedule.spec().label()).color(SLOT_COLORS[index])),
            );
            for t in strip_steps(schedule.steps()) {
                ui.vertical(|ui| {
                    let name = format!("schedule {} at t = {t}", index + 1);
                    if image_view(ui, &name, stack, t - 1, side, style)
                        .on_hover_text(format!("t = {t}"))
                        .clicked()
                    {
                        clicked = Some(t);
                    }
                    ui.label(RichText::new(format!("t={t}")).small());
                });
            }
        });
    }
    if let Some(t) = clicked {
        commands.push(Command::SetCursor(t));
    }
}

/// Density histogram of values over [−4, 4] as (bin centre, density) points.
fn histogram(values: &[f32]) -> Vec<[f64; 2]> {
    let width = 2.0 * HISTOGRAM_LIMIT / HISTOGRAM_BINS as f64;
    let mut counts = [0usize; HISTOGRAM_BINS];
    for &v in values {
        let bin = ((f64::from(v) + HISTOGRAM_LIMIT) / width).floor();
        if (0.0..HISTOGRAM_BINS as f64).contains(&bin) {
            counts[bin as usize] += 1;
        }
    }
    let total = values.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            [
                -HISTOGRAM_LIMIT + (i as f64 + 0.5) * width,
                c as f64 / (total * width),
            ]
        })
        .collect()
}

/// The histograms of x_t at the cursor, as CSV (bin centre, density).
fn histogram_export(panel: &ForwardPanel, shared: &Shared<'_>) -> ExportRequest {
    let curves = shared
        .schedules
        .iter()
        .enumerate()
        .filter_map(|(index, schedule)| {
            let frame = panel.frame(index, shared.cursor_t, shared.schedules)?;
            Some(Curve::new(schedule.spec().label(), histogram(frame)))
        })
        .collect();
    ExportRequest::Csv {
        stem: format!("forward-histogram-t{:04}", shared.cursor_t),
        x_name: "pixel_value".to_owned(),
        y_name: "density".to_owned(),
        curves,
    }
}

fn histogram_ui(ui: &mut egui::Ui, panel: &ForwardPanel, shared: &Shared<'_>, height: f32) {
    ui.label(RichText::new("Pixel values of x_t against N(0, 1)").strong());
    Plot::new("histogram")
        .height(height)
        .allow_scroll(false)
        .width(ui.available_width().max(200.0))
        .legend(Legend::default())
        .include_y(0.0)
        .label_formatter(readout(Axis::Value("pixel value"), Axis::Value("density")))
        .custom_x_axes(vec![
            // Short labels such as "−2": every unit gets one, not only 0.
            AxisHints::new_x()
                .label("pixel value")
                .label_spacing(28.0..=40.0),
        ])
        .show_exportable(ui, "forward-histogram", |plot_ui| {
            for (index, schedule) in shared.schedules.iter().enumerate() {
                if let Some(frame) = panel.frame(index, shared.cursor_t, shared.schedules) {
                    let points: PlotPoints<'_> = histogram(frame).into_iter().collect();
                    plot_ui.line(
                        Line::new(schedule.spec().label(), points)
                            .color(SLOT_COLORS[index])
                            .width(1.5),
                    );
                }
            }
            let normal: PlotPoints<'_> = (0..=160)
                .map(|i| {
                    let x = -HISTOGRAM_LIMIT + f64::from(i) * 0.05;
                    [
                        x,
                        (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt(),
                    ]
                })
                .collect();
            plot_ui.line(
                Line::new("N(0, 1)", normal)
                    .color(Color32::GRAY)
                    .style(LineStyle::dashed_dense()),
            );
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_spans_first_to_last_step() {
        assert_eq!(
            strip_steps(1000),
            vec![1, 112, 223, 334, 445, 556, 667, 778, 889, 1000]
        );
        assert_eq!(strip_steps(3), vec![1, 2, 3]);
        assert_eq!(strip_steps(2), vec![1, 2]);
    }

    #[test]
    fn histogram_integrates_to_the_share_inside_the_limits() {
        let values = [0.0f32, 0.1, -0.1, 3.9, 10.0];
        let width = 2.0 * HISTOGRAM_LIMIT / HISTOGRAM_BINS as f64;
        let area: f64 = histogram(&values).iter().map(|[_, d]| d * width).sum();
        assert!((area - 0.8).abs() < 1e-12, "{area}");
    }
}
