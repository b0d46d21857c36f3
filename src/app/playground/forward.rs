//! The Playground's forward view: the (standardised) cloud noised to the cursor t under each
//! compared schedule with the same ε, and the marginal densities of x and y against N(0, 1).

use crate::app::plot_export::ExportablePlot;
use eframe::egui::{self, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};

use crate::app::exports::ExportRequest;
use crate::app::panel::{Command, Shared};
use crate::app::readout::{Axis, readout};
use crate::app::schedules::SLOT_COLORS;
use crate::app::widgets::cursor_slider;
use crate::export::Curve;
use crate::noise::{NoiseStream, standard_normal};
use crate::schedule::Schedule;
use crate::toy::{Point, Standardiser};

/// The ε of every point, kept while the points stay the same.
#[derive(Default)]
pub struct ForwardNoise {
    key: Option<(usize, u64)>,
    eps: Vec<Point>,
}

impl ForwardNoise {
    /// One ε per point of a set of `count` points, drawn from `seed`.
    fn for_points(&mut self, count: usize, seed: u64) -> &[Point] {
        if self.key != Some((count, seed)) {
            let values = standard_normal(seed, NoiseStream::Epsilon, 2 * count);
            self.eps = values
                .chunks(2)
                .map(|c| [f64::from(c[0]), f64::from(c[1])])
                .collect();
            self.key = Some((count, seed));
        }
        &self.eps
    }
}

/// `points` (standardised) noised to step `t` of `schedule` with `eps`:
/// x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε.
pub fn noised(points: &[Point], eps: &[Point], schedule: &Schedule, t: usize) -> Vec<Point> {
    let alpha_bar = schedule.alpha_bar_at(t.clamp(1, schedule.steps()));
    let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
    points
        .iter()
        .zip(eps)
        .map(|(p, e)| [a * p[0] + s * e[0], a * p[1] + s * e[1]])
        .collect()
}

/// Bins of the marginal densities, over −4…4.
const BINS: usize = 32;

/// The density of one coordinate (standardised) as a step line over −4…4.
pub fn density(values: impl Iterator<Item = f64>, count: usize) -> Vec<[f64; 2]> {
    let width = 8.0 / BINS as f64;
    let mut bins = [0usize; BINS];
    for v in values {
        let bin = ((v + 4.0) / width).floor();
        if (0.0..BINS as f64).contains(&bin) {
            bins[bin as usize] += 1;
        }
    }
    let scale = 1.0 / (count.max(1) as f64 * width);
    bins.iter()
        .enumerate()
        .flat_map(|(i, &n)| {
            let left = -4.0 + i as f64 * width;
            let y = n as f64 * scale;
            [[left, y], [left + width, y]]
        })
        .collect()
}

/// Draws the cursor slider and, per compared schedule, the noised cloud and its marginals.
pub fn forward_ui(
    ui: &mut egui::Ui,
    (points, seed): (&[Point], u64),
    noise: &mut ForwardNoise,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    if points.len() < 2 {
        ui.label("draw some points first");
        return;
    }
    let standard: Vec<Point> = {
        let t = Standardiser::fit(points);
        points.iter().map(|&p| t.apply(p)).collect()
    };
    let eps = noise.for_points(standard.len(), seed).to_vec();
    let max_t = shared
        .schedules
        .iter()
        .map(Schedule::steps)
        .max()
        .unwrap_or(1000);
    let clouds: Vec<(usize, Vec<Point>)> = shared
        .schedules
        .iter()
        .map(|schedule| {
            let t = shared.cursor_t.clamp(1, schedule.steps());
            (t, noised(&standard, &eps, schedule, t))
        })
        .collect();
    ui.horizontal(|ui| {
        let hint = "←/→ step by 1, Shift+←/→ by 10 (shared with the Schedules, Forward and Reverse panels)";
        cursor_slider(ui, shared.cursor_t, max_t, (40.0, hint), commands);
    });
    ui.horizontal(|ui| {
        if ui
            .small_button("CSV: clouds and marginals at t")
            .on_hover_text("each schedule's x_t points and the densities of x and y, with N(0, 1)")
            .clicked()
        {
            let curves = forward_curves(shared.schedules, &clouds);
            commands.push(Command::Export(ExportRequest::Csv {
                stem: format!("playground-forward-t{}", shared.cursor_t),
                x_name: "x".to_owned(),
                y_name: "y".to_owned(),
                curves,
            }));
        }
    });
    let width = ui.available_width() / shared.schedules.len().max(1) as f32 - 8.0;
    ui.horizontal(|ui| {
        for (slot, (schedule, (t, cloud))) in shared.schedules.iter().zip(&clouds).enumerate() {
            let t = *t;
            ui.vertical(|ui| {
                ui.set_width(width);
                let alpha_bar = schedule.alpha_bar_at(t);
                let title = format!(
                    "{} at t = {t}: ᾱ_t = {alpha_bar:.4}",
                    schedule.spec().label()
                );
                ui.label(RichText::new(title).strong());
                cloud_plot(ui, slot, cloud, width);
                marginals_plot(ui, slot, cloud, width);
            });
        }
    });
}

fn cloud_plot(ui: &mut egui::Ui, slot: usize, cloud: &[Point], width: f32) {
    let plotted: PlotPoints<'_> = cloud.iter().map(|p| [p[0], p[1]]).collect();
    Plot::new(("playground forward", slot))
        .width(width)
        .height(width.min(260.0))
        .data_aspect(1.0)
        .include_x(-3.5)
        .include_x(3.5)
        .include_y(-3.5)
        .include_y(3.5)
        .label_formatter(readout(Axis::Value("x"), Axis::Value("y")))
        .allow_drag(false)
        .allow_scroll(false)
        .show_exportable(ui, &format!("playground-forward-{}", slot + 1), |plot_ui| {
            let color = SLOT_COLORS[slot % SLOT_COLORS.len()];
            plot_ui.points(Points::new("x_t", plotted).color(color).radius(1.0));
        });
}

/// Each schedule's cloud at its t ("<schedule> x_t": one row per point), the densities of its
/// x and y ("<schedule> x density": the step line's corners) and the N(0, 1) they approach.
fn forward_curves(schedules: &[Schedule], clouds: &[(usize, Vec<Point>)]) -> Vec<Curve> {
    let mut curves = Vec::new();
    for (schedule, (t, cloud)) in schedules.iter().zip(clouds) {
        let name = format!("{} t={t}", schedule.spec().label());
        curves.push(Curve::new(format!("{name} x_t"), cloud.clone()));
        for (axis, index) in [("x", 0), ("y", 1)] {
            let line = density(cloud.iter().map(|p| p[index]), cloud.len());
            curves.push(Curve::new(format!("{name} {axis} density"), line));
        }
    }
    curves.push(Curve::new(
        "standard normal density",
        standard_normal_density(),
    ));
    curves
}

/// The density of N(0, 1) over −4…4 in steps of 0.05.
fn standard_normal_density() -> Vec<[f64; 2]> {
    (0..=160)
        .map(|i| {
            let x = -4.0 + f64::from(i) * 0.05;
            [
                x,
                (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt(),
            ]
        })
        .collect()
}

fn marginals_plot(ui: &mut egui::Ui, slot: usize, cloud: &[Point], width: f32) {
    let normal = PlotPoints::from(standard_normal_density());
    let xs = density(cloud.iter().map(|p| p[0]), cloud.len());
    let ys = density(cloud.iter().map(|p| p[1]), cloud.len());
    Plot::new(("playground marginals", slot))
        .width(width)
        .label_formatter(readout(Axis::Value("coordinate"), Axis::Value("density")))
        .height(110.0)
        .legend(Legend::default())
        .allow_drag(false)
        .allow_scroll(false)
        .show_exportable(
            ui,
            &format!("playground-forward-marginals-{}", slot + 1),
            |plot_ui| {
                plot_ui.line(Line::new("N(0, 1)", normal).color(egui::Color32::GRAY));
                plot_ui.line(Line::new("x", PlotPoints::from(xs)));
                plot_ui.line(Line::new("y", PlotPoints::from(ys)));
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{ScheduleKind, ScheduleSpec};

    #[test]
    fn the_cloud_follows_the_closed_form_and_its_density_integrates_to_one() {
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Linear)).expect("valid");
        let points = [[1.0, -2.0]];
        let eps = [[0.5, 0.25]];
        let ab = schedule.alpha_bar_at(300);
        let x = noised(&points, &eps, &schedule, 300)[0];
        assert!((x[0] - (ab.sqrt() + 0.5 * (1.0 - ab).sqrt())).abs() < 1e-12);
        assert!((x[1] - (-2.0 * ab.sqrt() + 0.25 * (1.0 - ab).sqrt())).abs() < 1e-12);
        let values: Vec<f64> = (0..1000)
            .map(|i| -3.0 + 6.0 * f64::from(i) / 1000.0)
            .collect();
        let line = density(values.iter().copied(), values.len());
        let area: f64 = line.chunks(2).map(|c| (c[1][0] - c[0][0]) * c[0][1]).sum();
        assert!((area - 1.0).abs() < 1e-9, "{area}");
    }
}
