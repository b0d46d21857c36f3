//! The frequency view's plot, shared by the Forward and Reverse panels: radially averaged
//! power (log scale) against spatial frequency, with the crossings of signal and noise.

use crate::app::plot_export::ExportablePlot;
use eframe::egui::{self, Color32};
use egui_plot::{Line, LineStyle, Plot, PlotPoints, VLine};

use crate::app::readout::{name_and_point, significant};
use crate::export::Curve;

/// The lowest power drawn (the log axis stops there).
const FLOOR: f64 = 1e-4;

/// One curve of the plot.
pub struct SpectrumCurve {
    /// Its legend entry.
    pub name: String,
    /// Power per radial bin (bin r is r cycles per image).
    pub power: Vec<f64>,
    /// Its colour.
    pub color: Color32,
    /// Solid, dashed or dotted.
    pub style: LineStyle,
}

/// A frequency marked on the plot.
pub struct Marker {
    /// Its legend entry.
    pub name: String,
    /// Cycles per image.
    pub frequency: f64,
    /// Its colour.
    pub color: Color32,
}

/// Draws `curves` and `markers`, `height` points tall, with their legend below the plot (so
/// that it never covers a curve).
pub fn spectrum_plot(
    ui: &mut egui::Ui,
    id: &str,
    curves: &[SpectrumCurve],
    markers: &[Marker],
    height: f32,
) {
    Plot::new(id)
        .height(height)
        .x_axis_label("spatial frequency (cycles per image)")
        .y_axis_label("log₁₀ power")
        .y_axis_min_width(40.0)
        .allow_scroll(false)
        .include_x(0.0)
        .label_formatter(|position| {
            let (name, point) = name_and_point(position);
            Some(format!(
                "{name}\nk = {:.1} cycles per image\npower = {}",
                point.x,
                significant(10f64.powf(point.y), 4)
            ))
        })
        .show_exportable(ui, &id.replace(' ', "-"), |plot_ui| {
            for curve in curves {
                let points: PlotPoints<'_> = curve
                    .power
                    .iter()
                    .enumerate()
                    .map(|(r, p)| [r as f64, p.max(FLOOR).log10()])
                    .collect();
                plot_ui.line(
                    Line::new(curve.name.as_str(), points)
                        .color(curve.color)
                        .style(curve.style)
                        .width(1.8),
                );
            }
            for marker in markers {
                plot_ui.vline(
                    VLine::new(marker.name.as_str(), marker.frequency)
                        .color(marker.color)
                        .style(LineStyle::dashed_loose())
                        .width(1.5),
                );
            }
        });
    ui.horizontal_wrapped(|ui| {
        for curve in curves {
            legend_entry(ui, &curve.name, curve.color, curve.style);
        }
        for marker in markers {
            legend_entry(ui, &marker.name, marker.color, LineStyle::dashed_loose());
        }
    });
}

/// A short sample of a line in its colour and style, and its name.
fn legend_entry(ui: &mut egui::Ui, name: &str, color: Color32, style: LineStyle) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(26.0, 12.0), egui::Sense::hover());
    let (y, stroke) = (rect.center().y, egui::Stroke::new(2.0, color));
    let (left, right) = (rect.left() + 2.0, rect.right() - 2.0);
    let painter = ui.painter();
    match style {
        LineStyle::Solid => {
            painter.line_segment([egui::pos2(left, y), egui::pos2(right, y)], stroke);
        }
        LineStyle::Dashed { .. } => {
            for start in [left, left + 8.0, left + 16.0] {
                let end = (start + 5.0).min(right);
                painter.line_segment([egui::pos2(start, y), egui::pos2(end, y)], stroke);
            }
        }
        LineStyle::Dotted { .. } => {
            for k in 0..6 {
                painter.circle_filled(egui::pos2(left + 4.0 * k as f32, y), 1.2, color);
            }
        }
    }
    ui.label(egui::RichText::new(name).small());
    ui.add_space(8.0);
}

/// The curves as CSV rows: frequency (cycles per image) and power.
pub fn export_curves(curves: &[SpectrumCurve]) -> Vec<Curve> {
    curves
        .iter()
        .map(|c| {
            let points = c.power.iter().enumerate().map(|(r, &p)| [r as f64, p]);
            Curve::new(c.name.clone(), points.collect())
        })
        .collect()
}
