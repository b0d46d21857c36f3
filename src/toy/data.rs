//! The playground's 2D data: built-in distributions, CSV files of x,y points, and the
//! standardisation that puts any of them at mean 0 and unit spread per axis.

use std::f64::consts::{PI, TAU};
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The most points a CSV file may hold.
pub const MAX_POINTS: usize = 200_000;

/// A 2D point.
pub type Point = [f64; 2];

/// The built-in 2D distributions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ToyData {
    /// Two interleaved half circles.
    Moons,
    /// A spiral.
    SwissRoll,
    /// Eight Gaussians in a ring.
    Gaussians,
    /// A 4×4 checkerboard's dark squares.
    Checkerboard,
    /// Two concentric circles.
    Circles,
    /// A face: an outline, two eyes and a smile.
    Smiley,
}

impl ToyData {
    /// Every distribution, in menu order.
    pub const ALL: [Self; 6] = [
        Self::Moons,
        Self::SwissRoll,
        Self::Gaussians,
        Self::Checkerboard,
        Self::Circles,
        Self::Smiley,
    ];

    /// The name on the command line and in menus.
    pub fn name(self) -> &'static str {
        match self {
            Self::Moons => "moons",
            Self::SwissRoll => "swiss-roll",
            Self::Gaussians => "gaussians",
            Self::Checkerboard => "checkerboard",
            Self::Circles => "circles",
            Self::Smiley => "smiley",
        }
    }

    /// The distribution called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// `n` points drawn with `seed`.
    pub fn sample(self, n: usize, seed: u64) -> Vec<Point> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| self.point(&mut rng)).collect()
    }

    fn point(self, rng: &mut ChaCha8Rng) -> Point {
        let jitter = |rng: &mut ChaCha8Rng, s: f64| -> f64 { s * normal(rng) };
        match self {
            Self::Moons => {
                let a = PI * rng.random::<f64>();
                let (x, y) = if rng.random::<bool>() {
                    (a.cos(), a.sin())
                } else {
                    (1.0 - a.cos(), 0.5 - a.sin())
                };
                [x + jitter(rng, 0.05), y + jitter(rng, 0.05)]
            }
            Self::SwissRoll => {
                let u = 1.5 * PI * (1.0 + 2.0 * rng.random::<f64>());
                [
                    u * u.cos() / 10.0 + jitter(rng, 0.05),
                    u * u.sin() / 10.0 + jitter(rng, 0.05),
                ]
            }
            Self::Gaussians => {
                let k = f64::from(rng.random_range(0..8u8));
                let a = TAU * k / 8.0;
                [
                    2.0 * a.cos() + 0.1 * normal(rng),
                    2.0 * a.sin() + 0.1 * normal(rng),
                ]
            }
            Self::Checkerboard => {
                let (i, j) = (rng.random_range(0..4u8), rng.random_range(0..2u8));
                let column = f64::from(i);
                let row = f64::from(2 * j + i % 2);
                [
                    column + rng.random::<f64>() - 2.0,
                    row + rng.random::<f64>() - 2.0,
                ]
            }
            Self::Circles => {
                let a = TAU * rng.random::<f64>();
                let r = if rng.random::<bool>() { 1.0 } else { 0.5 };
                [
                    r * a.cos() + jitter(rng, 0.03),
                    r * a.sin() + jitter(rng, 0.03),
                ]
            }
            Self::Smiley => smiley_point(rng),
        }
    }
}

/// A standard normal number.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn smiley_point(rng: &mut ChaCha8Rng) -> Point {
    let (j1, j2) = (0.03 * normal(rng), 0.03 * normal(rng));
    let part = rng.random::<f64>();
    let a = rng.random::<f64>();
    if part < 0.5 {
        let a = TAU * a;
        [a.cos() + j1, a.sin() + j2]
    } else if part < 0.6 {
        [
            -0.35 + 0.08 * (TAU * a).cos() + j1,
            0.35 + 0.08 * (TAU * a).sin() + j2,
        ]
    } else if part < 0.7 {
        [
            0.35 + 0.08 * (TAU * a).cos() + j1,
            0.35 + 0.08 * (TAU * a).sin() + j2,
        ]
    } else {
        let a = PI * (1.2 + 0.6 * a);
        [0.55 * a.cos() + j1, 0.55 * a.sin() + j2]
    }
}

/// Reads x,y points from a CSV file (an optional header, one point per line); refuses a file
/// with a malformed or non-finite row (naming the line), too many points, fewer than two, or
/// points that all coincide.
pub fn read_csv(path: &Path) -> Result<Vec<Point>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > (MAX_POINTS as u64) * 64 {
        return Err(format!(
            "{}: {size} bytes is more than a CSV of {MAX_POINTS} points needs",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_csv(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The points of CSV `text` (see [`read_csv`]).
pub fn parse_csv(text: &str) -> Result<Vec<Point>, String> {
    let mut points = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let numbers: Vec<Option<f64>> = fields.iter().map(|f| f.parse().ok()).collect();
        match numbers.as_slice() {
            [Some(x), Some(y)] if x.is_finite() && y.is_finite() => points.push([*x, *y]),
            [Some(_), Some(_)] => {
                return Err(format!(
                    "line {}: {line:?} is not a finite point",
                    index + 1
                ));
            }
            _ if points.is_empty() && index == 0 => {} // a header
            _ => {
                return Err(format!(
                    "line {}: {line:?} is not two numbers x,y",
                    index + 1
                ));
            }
        }
        if points.len() > MAX_POINTS {
            return Err(format!("more than {MAX_POINTS} points"));
        }
    }
    check_points(&points)?;
    Ok(points)
}

/// Refuses fewer than two points, non-finite ones, or points that all coincide.
pub fn check_points(points: &[Point]) -> Result<(), String> {
    if points.len() < 2 {
        return Err(format!(
            "{} point(s): a distribution needs at least two",
            points.len()
        ));
    }
    if points.iter().flatten().any(|v| !v.is_finite()) {
        return Err("a point is not finite".into());
    }
    if Standardiser::fit(points).scale.iter().all(|&s| s == 0.0) {
        return Err("all points lie on one spot: there is no distribution to learn".into());
    }
    Ok(())
}

/// x' = (x − mean) / scale per axis (an axis with no spread keeps scale 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standardiser {
    /// The mean of each axis.
    pub mean: [f64; 2],
    /// The standard deviation of each axis (0 when the axis has none).
    pub scale: [f64; 2],
}

impl Standardiser {
    /// The transform that standardises `points`.
    pub fn fit(points: &[Point]) -> Self {
        let n = points.len().max(1) as f64;
        let mean = [0, 1].map(|a| points.iter().map(|p| p[a]).sum::<f64>() / n);
        let scale = [0, 1].map(|a| {
            let var = points.iter().map(|p| (p[a] - mean[a]).powi(2)).sum::<f64>() / n;
            var.sqrt()
        });
        Self { mean, scale }
    }

    fn divisor(&self, axis: usize) -> f64 {
        if self.scale[axis] > 0.0 {
            self.scale[axis]
        } else {
            1.0
        }
    }

    /// `point` standardised.
    pub fn apply(&self, point: Point) -> Point {
        [0, 1].map(|a| (point[a] - self.mean[a]) / self.divisor(a))
    }

    /// A standardised point back in the data's units.
    pub fn invert(&self, point: Point) -> Point {
        [0, 1].map(|a| point[a] * self.divisor(a) + self.mean[a])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_distribution_is_finite_spread_and_seeded() {
        for data in ToyData::ALL {
            let points = data.sample(500, 3);
            assert!(check_points(&points).is_ok(), "{}", data.name());
            assert_eq!(
                points,
                data.sample(500, 3),
                "{}: the seed decides",
                data.name()
            );
            assert_ne!(points, data.sample(500, 4));
            assert_eq!(ToyData::parse(data.name()), Some(data));
        }
    }

    #[test]
    fn standardised_points_have_mean_zero_and_unit_spread_and_invert() {
        let points = ToyData::Moons.sample(1000, 1);
        let s = Standardiser::fit(&points);
        let standard: Vec<Point> = points.iter().map(|&p| s.apply(p)).collect();
        let again = Standardiser::fit(&standard);
        for a in 0..2 {
            assert!(again.mean[a].abs() < 1e-12 && (again.scale[a] - 1.0).abs() < 1e-12);
        }
        let back = s.invert(standard[7]);
        assert!((back[0] - points[7][0]).abs() < 1e-12 && (back[1] - points[7][1]).abs() < 1e-12);
    }

    #[test]
    fn csv_rows_are_read_and_bad_ones_named_by_line() {
        let points = parse_csv("x,y\n1,2\n\n3.5, -4\n").expect("valid");
        assert_eq!(points, vec![[1.0, 2.0], [3.5, -4.0]]);
        assert!(parse_csv("1,2\n3,x\n").expect_err("bad").contains("line 2"));
        assert!(
            parse_csv("1,2\nNaN,3\n")
                .expect_err("NaN")
                .contains("line 2")
        );
        assert!(
            parse_csv("1,2\ninf,3\n")
                .expect_err("inf")
                .contains("not a finite point")
        );
        assert!(
            parse_csv("x,y\n1,2\n")
                .expect_err("one")
                .contains("at least two")
        );
        assert!(parse_csv("").expect_err("empty").contains("at least two"));
        assert!(
            parse_csv("1,1\n1,1\n1,1\n")
                .expect_err("spot")
                .contains("one spot")
        );
        let line = "1,2\n".repeat(MAX_POINTS + 2);
        assert!(parse_csv(&line).expect_err("huge").contains("more than"));
    }
}
