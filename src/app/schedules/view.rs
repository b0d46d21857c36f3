//! The Schedules panel: up to four schedules edited live, their plots, and a sanity read-out.

use crate::app::plot_export::ExportablePlot;
use eframe::egui::{self, Color32, RichText};
use egui_plot::{HoverPosition, Legend, Line, LineStyle, Plot, PlotPoints, VLine};

use super::slots::ScheduleSlot;
use crate::app::exports::ExportRequest;
use crate::app::panel::Command;
use crate::app::readout::significant;
use crate::app::settings::{MAX_SCHEDULES, SchedulesSettings, XAxis};
use crate::export::Curve;
use crate::schedule::{DiffusersConfig, Schedule, ScheduleKind, ScheduleSpec};

/// Colours of the compared schedules, by slot.
pub const SLOT_COLORS: [Color32; MAX_SCHEDULES] = [
    Color32::from_rgb(66, 133, 244),
    Color32::from_rgb(240, 134, 40),
    Color32::from_rgb(52, 168, 83),
    Color32::from_rgb(171, 71, 188),
];

const WARNING: Color32 = Color32::from_rgb(230, 160, 40);
const ERROR: Color32 = Color32::from_rgb(235, 80, 80);

/// Draws the panel: the editors on the left, the plots with the cursor t beside them.
pub fn schedules_ui(
    ui: &mut egui::Ui,
    (slots, settings): (&mut Vec<ScheduleSlot>, &mut SchedulesSettings),
    (can_import, import_error): (bool, Option<&str>),
    (cursor_t, controls): (usize, bool),
    commands: &mut Vec<Command>,
) -> bool {
    let mut import = false;
    if controls {
        egui::Panel::left("schedule_editors")
            .resizable(true)
            .default_size(330.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    import = editors_ui(ui, slots, (can_import, import_error), commands);
                });
            });
    }
    egui::CentralPanel::default().show(ui, |ui| {
        if ui
            .button("CSV: these curves")
            .on_hover_text("β_t, ᾱ_t, λ_t, √ᾱ_t and √(1 − ᾱ_t) of every schedule, one row per t")
            .clicked()
        {
            commands.push(Command::Export(curves_export(slots)));
        }
        plots_ui(ui, slots, settings, cursor_t, commands);
    });
    import
}

/// The editors; true when the person asked to import a diffusers config.
fn editors_ui(
    ui: &mut egui::Ui,
    slots: &mut Vec<ScheduleSlot>,
    (can_import, import_error): (bool, Option<&str>),
    commands: &mut Vec<Command>,
) -> bool {
    ui.horizontal(|ui| {
        ui.heading("Schedules");
        let can_add = slots.len() < MAX_SCHEDULES;
        let add = ui.add_enabled(can_add, egui::Button::new("+ Add schedule"));
        if add
            .on_disabled_hover_text("at most four schedules")
            .clicked()
        {
            slots.push(ScheduleSlot::new(ScheduleSpec::new(
                ScheduleKind::ScaledLinear,
            )));
        }
    });
    let import = ui
        .add_enabled(can_import, egui::Button::new("Import diffusers config…"))
        .on_hover_text(
            "a scheduler_config.json, as a new schedule (replacing the last when four are \
             compared); or drop the file on the window",
        )
        .clicked();
    if let Some(error) = import_error {
        ui.colored_label(ERROR, error);
    }
    let mut remove = None;
    let removable = slots.len() > 1;
    for (index, slot) in slots.iter_mut().enumerate() {
        ui.separator();
        if editor_ui(ui, index, slot, removable) {
            remove = Some(index);
        }
        commands.extend(config_export_ui(ui, slot).map(Command::Export));
    }
    if let Some(index) = remove {
        slots.remove(index);
    }
    import
}

/// "Export diffusers config", or why this schedule has none.
fn config_export_ui(ui: &mut egui::Ui, slot: &ScheduleSlot) -> Option<ExportRequest> {
    let config = DiffusersConfig::from_schedule(slot.schedule.spec())
        .and_then(|c| serde_json::to_string_pretty(&c).map_err(|e| e.to_string()));
    let button = ui.add_enabled(config.is_ok(), egui::Button::new("Export diffusers config"));
    let clicked = match &config {
        Ok(_) => button
            .on_hover_text("this schedule as a scheduler_config.json diffusers reads")
            .clicked(),
        Err(reason) => {
            button.on_disabled_hover_text(reason.as_str());
            false
        }
    };
    let text = config.ok().filter(|_| clicked)?;
    Some(ExportRequest::Text {
        stem: "scheduler_config".to_owned(),
        extension: "json",
        text: text + "\n",
    })
}

/// Every plotted quantity of every schedule as CSV curves against t.
fn curves_export(slots: &[ScheduleSlot]) -> ExportRequest {
    let mut curves = Vec::new();
    for (index, slot) in slots.iter().enumerate() {
        let schedule = &slot.schedule;
        let label = format!("{}: {}", index + 1, schedule.spec().label());
        let quantities = [
            ("beta", schedule.betas().to_vec()),
            ("alpha_bar", schedule.alpha_bar()),
            ("log_snr", schedule.log_snr()),
            ("sqrt_alpha_bar", schedule.signal_coefficient()),
            ("sqrt_one_minus_alpha_bar", schedule.noise_coefficient()),
        ];
        for (name, values) in quantities {
            let points = values
                .iter()
                .enumerate()
                .map(|(i, &v)| [(i + 1) as f64, v])
                .collect();
            curves.push(Curve::new(format!("{label} · {name}"), points));
        }
    }
    ExportRequest::Csv {
        stem: "schedules".to_owned(),
        x_name: "t".to_owned(),
        y_name: "value".to_owned(),
        curves,
    }
}

/// One schedule's editor; returns true when the user asked to remove it.
fn editor_ui(ui: &mut egui::Ui, index: usize, slot: &mut ScheduleSlot, removable: bool) -> bool {
    let mut remove = false;
    let before = slot.draft.clone();
    ui.push_id(index, |ui| {
        ui.horizontal(|ui| {
            let title = ui.label(
                RichText::new(format!("■ Schedule {}", index + 1))
                    .color(SLOT_COLORS[index])
                    .strong(),
            );
            kind_combo(ui, &mut slot.draft).labelled_by(title.id);
            if removable
                && ui
                    .button("Remove")
                    .on_hover_text("Remove this schedule from the comparison")
                    .clicked()
            {
                remove = true;
            }
        });
        ui.label(RichText::new(slot.draft.kind.explanation()).small().weak());
        if let Some(note) = &slot.note {
            ui.label(RichText::new(note).small());
        }
        parameters_ui(ui, &mut slot.draft);
        if slot.draft != before {
            slot.apply_draft();
        }
        if let Some(error) = &slot.error {
            ui.colored_label(ERROR, format!("Rejected: {error}"));
        }
        sanity_ui(ui, &slot.schedule);
    });
    remove
}

fn kind_combo(ui: &mut egui::Ui, spec: &mut ScheduleSpec) -> egui::Response {
    egui::ComboBox::from_id_salt("kind")
        .selected_text(spec.kind.cli_name())
        .show_ui(ui, |ui| {
            for kind in ScheduleKind::ALL {
                ui.selectable_value(&mut spec.kind, kind, kind.cli_name());
            }
        })
        .response
}

/// The parameters the kind uses.
fn parameters_ui(ui: &mut egui::Ui, spec: &mut ScheduleSpec) {
    egui::Grid::new("parameters").num_columns(2).show(ui, |ui| {
        let label = ui.label("T (steps)");
        ui.add(egui::DragValue::new(&mut spec.steps).speed(5.0))
            .labelled_by(label.id);
        ui.end_row();
        if spec.kind.uses_beta_range() {
            beta_row(ui, "β_start", &mut spec.beta_start);
            beta_row(ui, "β_end", &mut spec.beta_end);
        }
        match spec.kind {
            ScheduleKind::Cosine => {
                let label = ui.label("offset s");
                ui.add(
                    egui::DragValue::new(&mut spec.cosine_s)
                        .speed(1e-4)
                        .max_decimals(6),
                )
                .labelled_by(label.id);
                ui.end_row();
                beta_row(ui, "max β", &mut spec.max_beta);
            }
            ScheduleKind::LinearCombine => beta_row(ui, "β1", &mut spec.beta1),
            _ => {}
        }
    });
    ui.checkbox(
        &mut spec.zero_terminal_snr,
        "rescale to zero terminal SNR (Lin et al. 2023)",
    );
}

fn beta_row(ui: &mut egui::Ui, name: &str, value: &mut f64) {
    let label = ui.label(name);
    ui.add(
        egui::DragValue::new(value)
            .speed(1e-5)
            .max_decimals(8)
            .custom_formatter(|v, _| format!("{v:.6}")),
    )
    .labelled_by(label.id);
    ui.end_row();
}

fn sanity_ui(ui: &mut egui::Ui, schedule: &Schedule) {
    let report = schedule.sanity();
    let crossing = report
        .log_snr_zero_crossing
        .map_or_else(|| "never".to_owned(), |t| format!("t = {t}"));
    egui::Grid::new("sanity").num_columns(2).show(ui, |ui| {
        for (name, value) in [
            ("ᾱ_T", format!("{:.4e}", report.terminal_alpha_bar)),
            (
                "λ_T (terminal log-SNR)",
                format!("{:.3}", report.terminal_log_snr),
            ),
            ("λ_1", format!("{:.3}", report.first_log_snr)),
            ("β clipped", report.clipped.to_string()),
            ("λ crosses 0 at", crossing),
        ] {
            ui.label(RichText::new(name).weak());
            ui.monospace(value);
            ui.end_row();
        }
    });
    for warning in &report.warnings {
        ui.colored_label(WARNING, format!("⚠ {warning}"));
    }
}

/// What one plot shows of a schedule.
#[derive(Clone, Copy)]
enum Quantity {
    /// β_t, on a log₁₀ scale when true.
    Beta(bool),
    AlphaBar,
    LogSnr,
    Coefficients,
}

impl Quantity {
    fn all(log_beta: bool) -> [Self; 4] {
        [
            Self::Beta(log_beta),
            Self::AlphaBar,
            Self::LogSnr,
            Self::Coefficients,
        ]
    }

    /// The file name of its plot's picture.
    fn stem(self) -> &'static str {
        match self {
            Self::Beta(false) => "schedules-beta",
            Self::Beta(true) => "schedules-log-beta",
            Self::AlphaBar => "schedules-alpha-bar",
            Self::LogSnr => "schedules-log-snr",
            Self::Coefficients => "schedules-coefficients",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Beta(false) => "β_t",
            Self::Beta(true) => "log₁₀ β_t",
            Self::AlphaBar => "ᾱ_t",
            Self::LogSnr => "log-SNR λ_t = ln(ᾱ_t / (1 − ᾱ_t))",
            Self::Coefficients => "√ᾱ_t (signal, solid) and √(1 − ᾱ_t) (noise, dashed)",
        }
    }

    /// The series of this quantity, with a name suffix and a line style each.
    fn series(self, schedule: &Schedule) -> Vec<(&'static str, Vec<f64>, LineStyle)> {
        match self {
            Self::Beta(false) => vec![("", schedule.betas().to_vec(), LineStyle::Solid)],
            Self::Beta(true) => {
                let logs = schedule.betas().iter().map(|b| b.log10()).collect();
                vec![("", logs, LineStyle::Solid)]
            }
            Self::AlphaBar => vec![("", schedule.alpha_bar(), LineStyle::Solid)],
            Self::LogSnr => vec![("", schedule.log_snr(), LineStyle::Solid)],
            Self::Coefficients => vec![
                (" √ᾱ", schedule.signal_coefficient(), LineStyle::Solid),
                (
                    " √(1−ᾱ)",
                    schedule.noise_coefficient(),
                    LineStyle::dashed_loose(),
                ),
            ],
        }
    }
}

fn plots_ui(
    ui: &mut egui::Ui,
    slots: &[ScheduleSlot],
    settings: &mut SchedulesSettings,
    cursor_t: usize,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.label("x axis:");
        ui.selectable_value(&mut settings.x_axis, XAxis::Step, "t");
        ui.selectable_value(&mut settings.x_axis, XAxis::Fraction, "t/T");
        ui.checkbox(&mut settings.log_beta, "log₁₀ β");
        ui.separator();
        ui.label(format!("red: cursor t = {cursor_t}"))
            .on_hover_text(
                "Click or drag in a plot to move it; ←/→ step it. The Forward panel shows this t.",
            );
        ui.label(RichText::new("dotted: 10 % of the steps").weak());
    });
    let reference_steps = slots.first().map_or(1000, |s| s.schedule.steps());
    let title_height = 4.0 * (ui.text_style_height(&egui::TextStyle::Body) + 12.0);
    let height = ((ui.available_height() - title_height) / 4.0).max(110.0);
    let group = ui.scope_id().with("schedule_plots");
    egui::ScrollArea::vertical().show(ui, |ui| {
        let x_axis = settings.x_axis;
        for quantity in Quantity::all(settings.log_beta) {
            ui.label(RichText::new(quantity.title()).strong());
            let mut plot = Plot::new(quantity.title())
                .height(height)
                .allow_scroll(false)
                .y_axis_min_width(44.0)
                .link_axis(group, [true, false])
                .link_cursor(group, [true, false])
                .allow_drag(false)
                .label_formatter(move |position| hover_label(position, quantity, x_axis))
                .x_axis_label(match settings.x_axis {
                    XAxis::Step => "t",
                    XAxis::Fraction => "t/T",
                });
            if matches!(quantity, Quantity::AlphaBar) {
                plot = plot.legend(Legend::default());
            }
            let response = plot.show_exportable(ui, quantity.stem(), |plot_ui| {
                for (index, slot) in slots.iter().enumerate() {
                    add_series(plot_ui, index, &slot.schedule, quantity, settings.x_axis);
                }
                add_marks(plot_ui, slots, settings, cursor_t);
                let pressed = plot_ui.response().is_pointer_button_down_on();
                plot_ui.pointer_coordinate().filter(|_| pressed)
            });
            if let Some(point) = response.inner {
                let t = match settings.x_axis {
                    XAxis::Step => point.x,
                    XAxis::Fraction => point.x * reference_steps as f64,
                };
                commands.push(Command::SetCursor(t.round().clamp(1.0, 10_000.0) as usize));
            }
        }
    });
}

fn x_of(t: usize, steps: usize, axis: XAxis) -> f64 {
    match axis {
        XAxis::Step => t as f64,
        XAxis::Fraction => t as f64 / steps as f64,
    }
}

fn add_series(
    plot_ui: &mut egui_plot::PlotUi<'_>,
    index: usize,
    schedule: &Schedule,
    quantity: Quantity,
    axis: XAxis,
) {
    let steps = schedule.steps();
    for (suffix, values, style) in quantity.series(schedule) {
        let points: PlotPoints<'_> = values
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(i, &y)| [x_of(i + 1, steps, axis), y])
            .collect();
        let name = format!("{}: {}{suffix}", index + 1, schedule.spec().label());
        plot_ui.line(
            Line::new(name, points)
                .color(SLOT_COLORS[index])
                .style(style)
                .width(1.5),
        );
    }
}

/// The 10 % marks and the cursor.
fn add_marks(
    plot_ui: &mut egui_plot::PlotUi<'_>,
    slots: &[ScheduleSlot],
    settings: &SchedulesSettings,
    cursor_t: usize,
) {
    let mut marked = Vec::new();
    for slot in slots {
        let steps = slot.schedule.steps();
        let x = x_of(steps.div_ceil(10), steps, settings.x_axis);
        if !marked.iter().any(|m: &f64| (m - x).abs() < 1e-9) {
            marked.push(x);
            plot_ui.vline(
                // Left out of the legend (the line above the plots explains the marks), so
                // that the legend fits where the curves are not.
                VLine::new("", x)
                    .color(Color32::GRAY)
                    .style(LineStyle::dotted_dense()),
            );
        }
    }
    let reference = slots.first().map_or(1000, |s| s.schedule.steps());
    plot_ui.vline(
        VLine::new("", x_of(cursor_t, reference, settings.x_axis))
            .color(Color32::from_rgb(220, 50, 50))
            .width(1.5),
    );
}

/// The values under the pointer, to six significant digits: the curve, t, and the value (β itself on
/// the log plot).
fn hover_label(position: &HoverPosition<'_>, quantity: Quantity, x_axis: XAxis) -> Option<String> {
    match position {
        HoverPosition::NearDataPoint {
            plot_name,
            position,
            index,
        } if !plot_name.is_empty() => {
            let value = match quantity {
                Quantity::Beta(true) => format!("β = {}", significant(10f64.powf(position.y), 6)),
                _ => format!("y = {}", significant(position.y, 6)),
            };
            let x = match x_axis {
                XAxis::Step => String::new(),
                XAxis::Fraction => format!("  (t/T = {})", significant(position.x, 4)),
            };
            Some(format!("{plot_name}\nt = {}{x}\n{value}", index + 1))
        }
        _ => None,
    }
}
