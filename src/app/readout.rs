//! What a plot says under the pointer: the curve's name and the point's coordinates, named as
//! the axes are and rounded to the digits that mean something.

use egui_plot::{HoverPosition, PlotPoint};

/// `value` with `digits` significant digits: plain between 10⁻⁴ and 10⁶, else in scientific
/// notation.
pub fn significant(value: f64, digits: usize) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let digits = digits.max(1);
    let magnitude = value.abs().log10().floor();
    if (-4.0..6.0).contains(&magnitude) {
        let decimals = (digits as f64 - 1.0 - magnitude).max(0.0) as usize;
        format!("{value:.decimals$}")
    } else {
        format!("{value:.*e}", digits - 1)
    }
}

/// How one axis is read out.
#[derive(Clone, Copy, Debug)]
pub enum Axis {
    /// A whole number (a step t, a training step).
    Whole(&'static str),
    /// A value with four significant digits.
    Value(&'static str),
    /// The plot shows log₁₀ of the value; the value itself is read out, with four digits.
    Log10(&'static str),
}

impl Axis {
    fn line(self, coordinate: f64) -> String {
        match self {
            Self::Whole(name) => format!("{name} = {}", coordinate.round()),
            Self::Value(name) => format!("{name} = {}", significant(coordinate, 4)),
            Self::Log10(name) => format!("{name} = {}", significant(10f64.powf(coordinate), 4)),
        }
    }
}

/// A plot's label formatter: near a curve its name and the point, elsewhere the pointer's
/// coordinates, each axis as `x` and `y` say.
pub fn readout(x: Axis, y: Axis) -> impl Fn(&HoverPosition<'_>) -> Option<String> {
    move |position| Some(hover_text(position, x, y))
}

/// The read-out at `position` (see [`readout`]).
pub fn hover_text(position: &HoverPosition<'_>, x: Axis, y: Axis) -> String {
    let (name, point) = name_and_point(position);
    let coordinates = format!("{}\n{}", x.line(point.x), y.line(point.y));
    if name.is_empty() {
        coordinates
    } else {
        format!("{name}\n{coordinates}")
    }
}

/// The curve's name (empty away from curves) and the point under the pointer.
pub fn name_and_point<'a>(position: &'a HoverPosition<'a>) -> (&'a str, &'a PlotPoint) {
    match position {
        HoverPosition::NearDataPoint {
            plot_name,
            position,
            ..
        } => (plot_name, position),
        HoverPosition::Elsewhere { position } => ("", position),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_significant_digits_at_every_magnitude() {
        assert_eq!(significant(0.012_345_678, 4), "0.01235");
        assert_eq!(significant(123.456_78, 4), "123.5");
        assert_eq!(significant(98_765.4, 4), "98765");
        assert_eq!(significant(-1.0, 3), "-1.00");
        assert_eq!(significant(0.000_12, 4), "0.0001200");
        assert_eq!(significant(2.0e-5, 3), "2.00e-5");
        assert_eq!(significant(3.5e7, 2), "3.5e7");
        assert_eq!(significant(0.0, 4), "0");
    }

    #[test]
    fn a_curve_is_named_and_each_axis_read_as_it_is_plotted() {
        let near = HoverPosition::NearDataPoint {
            plot_name: "cosine",
            position: PlotPoint::new(249.6, -1.301_03),
            index: 249,
        };
        let text = hover_text(&near, Axis::Whole("t"), Axis::Log10("loss"));
        assert_eq!(text, "cosine\nt = 250\nloss = 0.05000");
        let elsewhere = HoverPosition::Elsewhere {
            position: PlotPoint::new(0.123_456, 7.891_23),
        };
        let text = hover_text(&elsewhere, Axis::Value("x"), Axis::Value("y"));
        assert_eq!(text, "x = 0.1235\ny = 7.891");
    }
}
