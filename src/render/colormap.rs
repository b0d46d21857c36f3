//! The colour mapping of `shaders/image.wgsl`, in Rust: the reference the shader is tested
//! against, and the path used for exports and CPU-side thumbnails.

use serde::{Deserialize, Serialize};

/// How values become colours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Colormap {
    /// Black at the low end, white at the high end.
    #[default]
    Gray,
    /// Blue, white, red: for signed quantities such as ε.
    Diverging,
}

impl Colormap {
    /// Every map, in the order the UI lists them.
    pub const ALL: [Self; 2] = [Self::Gray, Self::Diverging];

    /// The index the shader switches on.
    pub fn shader_index(self) -> u32 {
        match self {
            Self::Gray => 0,
            Self::Diverging => 1,
        }
    }

    /// Name for menus.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gray => "gray",
            Self::Diverging => "diverging",
        }
    }
}

/// The values drawn at the two ends of a colour map.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueRange {
    /// Drawn as the map's low end; anything below is clamped.
    pub low: f32,
    /// Drawn as the map's high end; anything above is clamped.
    pub high: f32,
}

impl Default for ValueRange {
    fn default() -> Self {
        Self {
            low: -1.0,
            high: 1.0,
        }
    }
}

impl ValueRange {
    /// The smallest and largest finite value of `values` (the default range if there are none).
    pub fn of(values: &[f32]) -> Self {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (low, high) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if low < high {
            Self { low, high }
        } else {
            Self::default()
        }
    }
}

const BLUE: [f32; 3] = [0.230, 0.299, 0.754];
const WHITE: [f32; 3] = [1.0, 1.0, 1.0];
const RED: [f32; 3] = [0.706, 0.016, 0.150];

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|i| a[i] * (1.0 - t) + b[i] * t)
}

/// The colour of one value, as the shader computes it (gamma-encoded RGB in 0..1).
pub fn color_of(value: f32, range: ValueRange, map: Colormap) -> [f32; 3] {
    let t = ((value - range.low) / (range.high - range.low)).clamp(0.0, 1.0);
    match map {
        Colormap::Gray => [t, t, t],
        Colormap::Diverging if t < 0.5 => mix(BLUE, WHITE, t * 2.0),
        Colormap::Diverging => mix(WHITE, RED, t * 2.0 - 1.0),
    }
}

/// An image as 8-bit RGBA, row-major, as the shader draws it into an `Rgba8Unorm` target.
pub fn to_rgba8(values: &[f32], range: ValueRange, map: Colormap) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| {
            let [r, g, b] = color_of(v, range, map).map(|c| (c * 255.0).round() as u8);
            [r, g, b, 255]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_maps_the_range_ends_to_black_and_white_and_clamps() {
        let range = ValueRange::default();
        assert_eq!(color_of(-1.0, range, Colormap::Gray), [0.0; 3]);
        assert_eq!(color_of(1.0, range, Colormap::Gray), [1.0; 3]);
        assert_eq!(color_of(7.0, range, Colormap::Gray), [1.0; 3]);
        assert_eq!(color_of(0.0, range, Colormap::Gray), [0.5; 3]);
    }

    #[test]
    fn diverging_is_white_at_the_middle() {
        let range = ValueRange {
            low: -3.0,
            high: 3.0,
        };
        assert_eq!(color_of(0.0, range, Colormap::Diverging), WHITE);
        assert_eq!(color_of(-3.0, range, Colormap::Diverging), BLUE);
        assert_eq!(color_of(3.0, range, Colormap::Diverging), RED);
    }

    #[test]
    fn auto_range_spans_the_finite_values() {
        let range = ValueRange::of(&[0.5, -2.0, f32::NAN, 3.0]);
        assert_eq!((range.low, range.high), (-2.0, 3.0));
        assert_eq!(ValueRange::of(&[1.0, 1.0]), ValueRange::default());
    }
}
