//! The PNG of `noisescope toy`: the data and the samples as two scatter plots side by side, in
//! standardised units from −3 to 3.

use std::path::Path;

use anyhow::Context;
use image::{Rgb, RgbImage};

use crate::toy::Point;

const SIDE: u32 = 320;
const RANGE: f64 = 3.0;

/// Writes data (left, blue) and samples (right, orange) to `path`.
pub fn save_scatter(path: &Path, data: &[Point], samples: &[Point]) -> anyhow::Result<()> {
    let mut image = RgbImage::from_pixel(2 * SIDE + 8, SIDE, Rgb([255, 255, 255]));
    for x in SIDE..SIDE + 8 {
        for y in 0..SIDE {
            image.put_pixel(x, y, Rgb([200, 200, 200]));
        }
    }
    plot(&mut image, data, 0, Rgb([40, 90, 200]));
    plot(&mut image, samples, SIDE + 8, Rgb([230, 120, 20]));
    image
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn plot(image: &mut RgbImage, points: &[Point], left: u32, color: Rgb<u8>) {
    let to_pixel = |v: f64| ((v + RANGE) / (2.0 * RANGE) * f64::from(SIDE - 1)).round();
    for p in points {
        let (x, y) = (to_pixel(p[0]), f64::from(SIDE - 1) - to_pixel(p[1]));
        if !(0.0..f64::from(SIDE - 1)).contains(&x) || !(0.0..f64::from(SIDE - 1)).contains(&y) {
            continue;
        }
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            image.put_pixel(left + x as u32 + dx, y as u32 + dy, color);
        }
    }
}
