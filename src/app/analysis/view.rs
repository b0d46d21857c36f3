//! The Analysis panel: log-SNR per step with the 10 %, 20 % and switching-point marks, and
//! reconstruction error per step for the linear and cosine models, in and out of distribution.

use crate::app::plot_export::ExportablePlot;
use eframe::egui::{self, Color32, RichText};
use egui_plot::{Corner, HLine, Legend, Line, LineStyle, Plot, PlotPoints, Points, VLine};

use super::AnalysisPanel;
use super::state::{Curve, MAX_IMAGES};
use crate::app::condition::{Offer, condition_ui};
use crate::app::image_view::{ImageStyle, image_view};
use crate::app::panel::{Command, Shared};
use crate::app::readout::{Axis, readout};
use crate::app::schedules::SLOT_COLORS;
use crate::app::settings::{AnalysisAxis, AnalysisSettings, ModelsShown, ProbeChoice, ShippedPair};
use crate::app::widgets::{
    busy_indicator, labelled_drag, model_color, sampler_picker, switch_rule_ui, switch_slider,
};
use crate::render::{Colormap, ValueRange};
use crate::schedule::{Schedule, ScheduleKind, ScheduleSpec};

/// What the person asked for with the panel's buttons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Measure the curves.
    Measure,
    /// Stop measuring.
    Cancel,
    /// Export the measured curves as CSV.
    Export,
}

/// Draws the panel.
pub fn analysis_ui(
    ui: &mut egui::Ui,
    panel: &mut AnalysisPanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) -> Action {
    let mut action = Action::None;
    if shared.controls {
        action = controls_ui(ui, panel, shared);
        if view_controls_ui(ui, panel, shared, commands) {
            action = Action::Export;
        }
    }
    if let Some(error) = &panel.state.error {
        ui.colored_label(Color32::from_rgb(235, 80, 80), error);
    }
    for note in &panel.state.notes {
        ui.label(RichText::new(format!("ℹ {note}")).small().weak());
    }
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| {
        log_snr_plot_ui(ui, panel, shared, commands);
        recon_plot_ui(ui, panel, shared, commands);
        transitions_ui(ui, panel);
        examples_ui(ui, panel, shared);
    });
    action
}

fn controls_ui(ui: &mut egui::Ui, panel: &mut AnalysisPanel, shared: &Shared<'_>) -> Action {
    let running = panel.analysing();
    let mut action = Action::None;
    ui.horizontal_wrapped(|ui| {
        let s = &mut panel.settings;
        egui::ComboBox::from_label("models")
            .selected_text(models_text(s.models))
            .show_ui(ui, |ui| {
                for choice in [ModelsShown::Both, ModelsShown::Linear, ModelsShown::Cosine] {
                    ui.selectable_value(&mut s.models, choice, models_text(choice));
                }
            });
        egui::ComboBox::from_label("images")
            .selected_text(data_text(s.data))
            .show_ui(ui, |ui| {
                for choice in [
                    ProbeChoice::FashionMnist,
                    ProbeChoice::Mnist,
                    ProbeChoice::Path,
                ] {
                    ui.selectable_value(&mut s.data, choice, data_text(choice));
                }
            });
        if s.data == ProbeChoice::Path {
            ui.add(
                egui::TextEdit::singleline(&mut s.path)
                    .hint_text("folder or image file")
                    .desired_width(200.0),
            );
        }
        if s.data != ProbeChoice::FashionMnist {
            ui.checkbox(&mut s.overlay_in_distribution, "with Fashion-MNIST");
        }
        labelled_drag(ui, "N", &mut s.n, 1..=MAX_IMAGES);
        labelled_drag(ui, "seed", &mut s.seed, 0..=u64::MAX);
        let _ = sampler_picker(ui, "chain", &mut s.sampler, &mut s.steps);
        let label = ui.label("t list");
        ui.add(
            egui::TextEdit::singleline(&mut s.t_list)
                .hint_text("default: 25 over T")
                .desired_width(180.0),
        )
        .labelled_by(label.id)
        .on_hover_text(
            "1-based steps, comma-separated. Empty: 25 steps from 1 to each model's own T, \
             denser at small t.",
        );
        condition_ui(ui, &mut s.condition, shared.schedules, Offer::ScheduleOnly);
        if running {
            if ui.button("Cancel").clicked() {
                action = Action::Cancel;
            }
            let (done, total) = panel.state.progress();
            busy_indicator(ui);
            ui.label(format!("{done}/{total} points"));
        } else if ui.button("Measure").clicked() {
            action = Action::Measure;
        }
        if let Some(seconds) = panel.state.seconds.filter(|_| !running) {
            ui.label(RichText::new(format!("measured in {seconds:.1} s")).small());
        }
    });
    action
}

fn models_text(models: ModelsShown) -> &'static str {
    match models {
        ModelsShown::Both => "linear and cosine",
        ModelsShown::Linear => "linear",
        ModelsShown::Cosine => "cosine",
    }
}

fn data_text(data: ProbeChoice) -> &'static str {
    match data {
        ProbeChoice::FashionMnist => "Fashion-MNIST test",
        ProbeChoice::Mnist => "MNIST (unseen)",
        ProbeChoice::Path => "folder or image…",
    }
}

/// The schedule DAED's switching point refers to: that of the DAED panel's model, as loaded
/// for a curve or for the DAED samples, or before either the schedule it ships with.
fn switch_schedule(panel: &AnalysisPanel, shared: &Shared<'_>) -> Option<Schedule> {
    let (name, kind) = match shared.daed_model {
        ShippedPair::Linear => ("linear", ScheduleKind::Linear),
        ShippedPair::Cosine => ("cosine", ScheduleKind::Cosine),
    };
    let measured = panel.state.curves.iter().filter(|c| c.model == name);
    measured
        .filter_map(|c| c.schedule.clone())
        .next()
        .or_else(|| shared.daed_schedule.cloned())
        .or_else(|| Schedule::new(ScheduleSpec::new(kind)).ok())
}

/// The view's controls; true when the CSV was asked for.
fn view_controls_ui(
    ui: &mut egui::Ui,
    panel: &mut AnalysisPanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) -> bool {
    let reference = switch_schedule(panel, shared);
    let mut export = false;
    ui.horizontal_wrapped(|ui| {
        let s = &mut panel.settings;
        ui.label("x axis:");
        ui.selectable_value(&mut s.axis, AnalysisAxis::Step, "t");
        ui.selectable_value(&mut s.axis, AnalysisAxis::Fraction, "t/T");
        ui.selectable_value(&mut s.axis, AnalysisAxis::LogSnr, "log-SNR");
        ui.separator();
        ui.checkbox(&mut s.psnr, "PSNR (dB)");
        ui.checkbox(&mut s.show_x0, "one-shot x̂0");
        ui.checkbox(&mut s.show_eps, "ε̂ error");
        ui.separator();
        let label = ui.label("threshold (MSE)");
        ui.add(
            egui::DragValue::new(&mut s.threshold)
                .range(1e-5..=4.0)
                .speed(0.001),
        )
        .labelled_by(label.id);
        ui.separator();
        let steps = reference.as_ref().map_or(1000, Schedule::steps);
        switch_slider(ui, shared, 1..=steps, reference.as_ref(), commands);
        ui.separator();
        let measured = panel.state.curves.iter().any(|c| !c.points.is_empty());
        export = ui
            .add_enabled(measured, egui::Button::new("CSV: the measured points"))
            .on_hover_text("t, MSE of the chain, of the one-shot x̂0 and of ε̂, per curve")
            .on_disabled_hover_text("press Measure first")
            .clicked();
    });
    switch_rule_ui(ui, shared, reference.as_ref());
    export
}

/// x of step t of `schedule` on the chosen axis.
fn x_of(t: f64, schedule: &Schedule, axis: AnalysisAxis) -> f64 {
    let steps = schedule.steps();
    match axis {
        AnalysisAxis::Step => t,
        AnalysisAxis::Fraction => t / steps as f64,
        AnalysisAxis::LogSnr => schedule.log_snr()[(t.round() as usize).clamp(1, steps) - 1],
    }
}

/// How the hover read-out names and rounds a point's position on `axis`.
fn axis_readout(axis: AnalysisAxis) -> Axis {
    match axis {
        AnalysisAxis::Step => Axis::Whole("t"),
        other => Axis::Value(axis_name(other)),
    }
}

fn axis_name(axis: AnalysisAxis) -> &'static str {
    match axis {
        AnalysisAxis::Step => "t",
        AnalysisAxis::Fraction => "t/T",
        AnalysisAxis::LogSnr => "log-SNR λ",
    }
}

/// Vertical marks at 10 % and 20 % of the steps (dotted, left out of the legend, which the
/// plots' titles explain) and at the switching point.
fn add_marks(
    plot_ui: &mut egui_plot::PlotUi<'_>,
    schedule: &Schedule,
    axis: AnalysisAxis,
    switch_t: usize,
) {
    let steps = schedule.steps() as f64;
    for share in [0.1, 0.2] {
        plot_ui.vline(
            VLine::new("", x_of((steps * share).ceil(), schedule, axis))
                .color(Color32::GRAY)
                .style(LineStyle::dotted_dense()),
        );
    }
    plot_ui.vline(
        VLine::new(
            format!("switch s = {switch_t}"),
            x_of(switch_t as f64, schedule, axis),
        )
        .color(crate::app::widgets::SWITCH_COLOR)
        .width(2.0),
    );
}

fn log_snr_plot_ui(
    ui: &mut egui::Ui,
    panel: &AnalysisPanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    // λ against λ says nothing: the log-SNR plot then runs over t/T.
    let axis = match panel.settings.axis {
        AnalysisAxis::LogSnr => AnalysisAxis::Fraction,
        other => other,
    };
    ui.label(
        RichText::new("log-SNR λ_t of the compared schedules (dotted: 10 % and 20 % of the steps)")
            .strong(),
    );
    let response = Plot::new("analysis log-SNR")
        .height(230.0)
        .allow_scroll(false)
        // Bottom left: λ of the early steps is high, so the low corner there holds no curve
        // (top right, the cosine curve's last steps fall through a legend of five entries).
        .legend(Legend::default().position(Corner::LeftBottom))
        .allow_drag(false)
        .x_axis_label(axis_name(axis))
        .label_formatter(readout(axis_readout(axis), Axis::Value("λ")))
        .show_exportable(ui, "analysis-log-snr", |plot_ui| {
            for (index, schedule) in shared.schedules.iter().enumerate() {
                let points: PlotPoints<'_> = schedule
                    .log_snr()
                    .iter()
                    .enumerate()
                    .filter(|(_, y)| y.is_finite())
                    .map(|(i, &y)| [x_of((i + 1) as f64, schedule, axis), y])
                    .collect();
                let name = format!("{}: {}", index + 1, schedule.spec().label());
                plot_ui.line(Line::new(name, points).color(SLOT_COLORS[index]).width(1.5));
            }
            if let Some(first) = shared.schedules.first() {
                add_marks(plot_ui, first, axis, shared.switch_t);
            }
            add_trained_ranges(plot_ui, &panel.state.curves);
            let pressed = plot_ui.response().is_pointer_button_down_on();
            plot_ui.pointer_coordinate().filter(|_| pressed)
        });
    if let (Some(point), Some(first)) = (response.inner, shared.schedules.first()) {
        let steps = first.steps() as f64;
        let t = match axis {
            AnalysisAxis::Fraction => point.x * steps,
            _ => point.x,
        };
        commands.push(Command::SetSwitch(t.round().clamp(1.0, steps) as usize));
    }
}

/// The λ range each λ-conditioned model was trained on, as two dashed lines in its colour:
/// a schedule whose curve leaves the band samples it at the nearest trained λ.
fn add_trained_ranges(plot_ui: &mut egui_plot::PlotUi<'_>, curves: &[Curve]) {
    let mut drawn = Vec::new();
    for curve in curves {
        let Some((low, high)) = curve.trained_log_snr else {
            continue;
        };
        if drawn.contains(&curve.model) {
            continue;
        }
        drawn.push(curve.model.clone());
        let name = format!("{} model's trained λ range", curve.model);
        for y in [low, high] {
            let line = HLine::new(name.clone(), y)
                .color(curve_color(curve))
                .style(LineStyle::dashed_dense());
            plot_ui.hline(line);
        }
    }
}

/// y of a point for a metric on the chosen scale.
fn y_of(mse: f64, psnr: bool) -> f64 {
    if psnr {
        crate::diffusion::psnr(mse)
    } else {
        mse
    }
}

fn curve_color(curve: &Curve) -> Color32 {
    model_color(&curve.model)
}

/// The quantities a reconstruction-error curve can show.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    /// The chain's reconstruction from x_t.
    Chain,
    /// The one-shot x̂0 at t.
    OneShot,
    /// The ε̂ error at t.
    Noise,
}

impl Metric {
    fn of(self, point: &crate::diffusion::ReconPoint) -> f64 {
        match self {
            Self::Chain => point.mse_chain,
            Self::OneShot => point.mse_x0,
            Self::Noise => point.mse_eps,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Chain => "chain",
            Self::OneShot => "one-shot x̂0",
            Self::Noise => "ε̂",
        }
    }
}

/// Draws one curve's metrics, its points and its transition mark; returns the chain's points
/// (empty until the curve's schedule is known).
fn draw_curve(
    plot_ui: &mut egui_plot::PlotUi<'_>,
    curve: &Curve,
    s: &AnalysisSettings,
    switch_t: usize,
) -> Vec<[f64; 2]> {
    let Some(schedule) = &curve.schedule else {
        return Vec::new();
    };
    let color = curve_color(curve);
    let chain_style = if curve.data.in_distribution() {
        LineStyle::Solid
    } else {
        LineStyle::dashed_dense()
    };
    // Lighter tints for the one-shot and ε̂ curves, so their legend dots differ from the
    // chain's.
    let tint = |amount: f32| color.lerp_to_gamma(Color32::WHITE, amount);
    let mut shown = vec![(Metric::Chain, 2.0, chain_style, color)];
    if s.show_x0 {
        shown.push((Metric::OneShot, 1.5, LineStyle::dotted_loose(), tint(0.45)));
    }
    if s.show_eps && !s.psnr {
        shown.push((Metric::Noise, 1.5, LineStyle::dotted_dense(), tint(0.7)));
    }
    let mut chain = Vec::new();
    for (metric, width, style, color) in shown {
        let points: Vec<[f64; 2]> = curve
            .points
            .iter()
            .map(|p| {
                [
                    x_of(p.t as f64, schedule, s.axis),
                    y_of(metric.of(p), s.psnr),
                ]
            })
            .collect();
        let name = format!("{} — {}", curve.name(), metric.label());
        plot_ui.line(
            Line::new(name.clone(), PlotPoints::from(points.clone()))
                .color(color)
                .style(style)
                .width(width),
        );
        if metric == Metric::Chain {
            plot_ui.points(Points::new(name, points.clone()).color(color).radius(2.5));
            chain = points;
        }
    }
    if let Some((t, _, _)) = curve.transition(s.threshold) {
        let at = [x_of(t, schedule, s.axis), y_of(s.threshold, s.psnr)];
        plot_ui.points(
            Points::new(format!("{} — transition", curve.name()), vec![at])
                .color(color)
                .shape(egui_plot::MarkerShape::Diamond)
                .radius(6.0),
        );
    }
    add_marks(plot_ui, schedule, s.axis, switch_t);
    chain
}

/// (curve, point) of the chain point whose x is nearest to `x`.
fn nearest_point(chains: &[Vec<[f64; 2]>], x: f64) -> Option<(usize, usize)> {
    chains
        .iter()
        .enumerate()
        .flat_map(|(ci, points)| points.iter().enumerate().map(move |(pi, p)| (ci, pi, p[0])))
        .min_by(|a, b| (a.2 - x).abs().total_cmp(&(b.2 - x).abs()))
        .map(|(ci, pi, _)| (ci, pi))
}

fn recon_plot_ui(
    ui: &mut egui::Ui,
    panel: &mut AnalysisPanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    let s = panel.settings.clone();
    ui.label(
        RichText::new(
            "Reconstruction error: noise x0 to x_t, run the chain back, compare with x0 \
             (solid; dashed: images the model never saw; dotted verticals: 10 % and 20 % of \
             the steps)",
        )
        .strong(),
    );
    if panel.state.curves.is_empty() {
        ui.label("Press Measure to compute the curves.");
        return;
    }
    let curves = &panel.state.curves;
    let response = Plot::new("analysis reconstruction")
        .height(300.0)
        .allow_scroll(false)
        // Where the curves are not: MSE rises from the bottom left, PSNR falls from the top
        // left (against t; against log-SNR the axis runs the other way).
        .legend(
            Legend::default().position(match (s.psnr, s.axis == AnalysisAxis::LogSnr) {
                (false, false) | (true, true) => Corner::LeftTop,
                (true, false) | (false, true) => Corner::LeftBottom,
            }),
        )
        .allow_drag(false)
        .x_axis_label(axis_name(s.axis))
        .y_axis_label(if s.psnr { "PSNR (dB)" } else { "MSE" })
        .label_formatter(readout(
            axis_readout(s.axis),
            Axis::Value(if s.psnr { "PSNR (dB)" } else { "MSE" }),
        ))
        .show_exportable(ui, "analysis-reconstruction", |plot_ui| {
            let pointer = plot_ui
                .pointer_coordinate()
                .filter(|_| plot_ui.response().hovered());
            let chains: Vec<Vec<[f64; 2]>> = curves
                .iter()
                .map(|curve| draw_curve(plot_ui, curve, &s, shared.switch_t))
                .collect();
            let nearest = pointer.and_then(|pointer| nearest_point(&chains, pointer.x));
            plot_ui.hline(
                egui_plot::HLine::new("threshold", y_of(s.threshold, s.psnr))
                    .color(Color32::from_rgb(150, 150, 150))
                    .style(LineStyle::dashed_loose()),
            );
            let pressed = plot_ui.response().is_pointer_button_down_on();
            let dragged_to = plot_ui.pointer_coordinate().filter(|_| pressed);
            (nearest, dragged_to)
        });
    let (hovered, dragged_to) = response.inner;
    if let Some(hovered) = hovered {
        panel.state.hovered = Some(hovered);
    }
    if let (Some(point), Some(schedule)) = (dragged_to, switch_schedule(panel, shared)) {
        commands.push(Command::SetSwitch(t_from_x(point.x, &schedule, s.axis)));
    }
}

/// The step whose x on the chosen axis is nearest to `x` (for dragging the switching point).
fn t_from_x(x: f64, schedule: &Schedule, axis: AnalysisAxis) -> usize {
    let steps = schedule.steps();
    let t = match axis {
        AnalysisAxis::Step => x.round(),
        AnalysisAxis::Fraction => (x * steps as f64).round(),
        AnalysisAxis::LogSnr => {
            let lambda = schedule.log_snr();
            let nearest =
                (0..steps).min_by(|&a, &b| (lambda[a] - x).abs().total_cmp(&(lambda[b] - x).abs()));
            nearest.map_or(1.0, |i| (i + 1) as f64)
        }
    };
    t.clamp(1.0, steps as f64) as usize
}

fn transitions_ui(ui: &mut egui::Ui, panel: &AnalysisPanel) {
    let threshold = panel.settings.threshold;
    ui.label(
        RichText::new(format!(
            "Transition point: where the chain's MSE first reaches {threshold}"
        ))
        .strong(),
    );
    egui::Grid::new("transitions").striped(true).show(ui, |ui| {
        for curve in &panel.state.curves {
            ui.colored_label(curve_color(curve), curve.name());
            match curve.transition(threshold) {
                Some((t, percent, lambda)) => {
                    ui.label(format!("t ≈ {t:.0}"));
                    ui.label(format!("{percent:.1} % of T"));
                    ui.label(format!("λ = {lambda:.2}"));
                }
                None if curve.points.is_empty() => {
                    ui.label("not measured yet");
                }
                None => {
                    ui.label("not reached");
                }
            }
            let status = match &curve.error {
                Some(error) => error.clone(),
                None if curve.complete() => format!("{} images", curve.images),
                None => format!("{}/{} points", curve.points.len(), curve.expected),
            };
            ui.label(RichText::new(status).small());
            ui.label(RichText::new(curve.notes.join("; ")).small());
            ui.end_row();
        }
    });
}

/// x0 | x_t | reconstruction of a few images at the hovered point.
fn examples_ui(ui: &mut egui::Ui, panel: &AnalysisPanel, shared: &Shared<'_>) {
    let Some((ci, pi)) = panel.state.hovered else {
        ui.label("Point at a curve to see x0 | x_t | reconstruction of a few images.");
        return;
    };
    let Some(curve) = panel.state.curves.get(ci) else {
        return;
    };
    let (Some(point), Some(stack)) = (curve.points.get(pi), curve.examples.get(pi)) else {
        return;
    };
    ui.label(
        RichText::new(format!(
            "{} at t = {}: x0 | x_t | reconstruction (MSE {:.4}, PSNR {:.1} dB)",
            curve.name(),
            point.t,
            point.mse_chain,
            point.psnr_chain()
        ))
        .strong(),
    );
    let style = ImageStyle {
        range: Some(ValueRange::default()),
        colormap: Colormap::Gray,
        gpu: shared.gpu_draw,
    };
    ui.horizontal_wrapped(|ui| {
        for image in 0..stack.rows() / 3 {
            for (k, what) in ["x0", "x_t", "reconstruction"].iter().enumerate() {
                let name = format!("{what} of image {}", image + 1);
                image_view(ui, &name, stack, image * 3 + k, 72.0, style);
            }
            ui.add_space(12.0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{ScheduleKind, ScheduleSpec};

    #[test]
    fn dragging_maps_back_to_the_step_on_every_axis() {
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("valid");
        for t in [1, 37, 250, 999] {
            for axis in [
                AnalysisAxis::Step,
                AnalysisAxis::Fraction,
                AnalysisAxis::LogSnr,
            ] {
                let x = x_of(t as f64, &schedule, axis);
                assert_eq!(t_from_x(x, &schedule, axis), t, "{axis:?}");
            }
        }
        assert_eq!(t_from_x(-5.0, &schedule, AnalysisAxis::Step), 1);
    }

    #[test]
    fn the_hovered_point_is_the_nearest_in_x_over_all_curves() {
        let chains = vec![vec![[1.0, 0.0], [10.0, 0.0]], vec![], vec![[6.0, 1.0]]];
        assert_eq!(nearest_point(&chains, 7.0), Some((2, 0)));
        assert_eq!(nearest_point(&chains, 9.0), Some((0, 1)));
        assert_eq!(nearest_point(&[vec![]], 3.0), None);
    }
}
