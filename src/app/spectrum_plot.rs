//! The frequency view's plot, shared by the Forward and Reverse panels: radially averaged
//! power (log scale) against spatial frequency, with the crossings of signal and noise.

use eframe::egui::{self, Color32};
use egui_plot::{Corner, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoints, VLine};

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

/// Draws `curves` and `markers`, `height` points tall.
pub fn spectrum_plot(
    ui: &mut egui::Ui,
    id: &str,
    curves: &[SpectrumCurve],
    markers: &[Marker],
    height: f32,
) {
    Plot::new(id)
        .height(height)
        .legend(Legend::default().position(Corner::RightTop))
        .x_axis_label("spatial frequency (cycles per image)")
        .y_axis_label("log₁₀ power")
        .allow_scroll(false)
        .include_x(0.0)
        .label_formatter(|position| {
            let (name, point) = match position {
                HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => (*plot_name, position),
                HoverPosition::Elsewhere { position } => ("", position),
            };
            Some(format!(
                "{name}\nk = {:.1} cycles per image\npower = {:.3}",
                point.x,
                10f64.powf(point.y)
            ))
        })
        .show(ui, |plot_ui| {
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
