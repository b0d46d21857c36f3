//! How far sampled points lie from the data. The energy distance (Székely & Rizzo 2013),
//! D² = 2 E|X − Y| − E|X − X'| − E|Y − Y'|, is zero exactly when the distributions agree but
//! sees mostly their large-scale shape; the Chamfer distance, the mean distance from each point
//! of one set to the nearest of the other, both ways, sees a blurred or collapsed one.

use super::data::Point;

/// The most points of each set used (a random-free prefix keeps it deterministic and O(n²)
/// affordable).
pub const MAX_DISTANCE_POINTS: usize = 2000;

/// The energy distance D (the square root of D²) between two point sets, on their first
/// [`MAX_DISTANCE_POINTS`] points each.
pub fn energy_distance(a: &[Point], b: &[Point]) -> f64 {
    let a = &a[..a.len().min(MAX_DISTANCE_POINTS)];
    let b = &b[..b.len().min(MAX_DISTANCE_POINTS)];
    let between = mean_distance(a, b);
    let squared = 2.0 * between - mean_distance(a, a) - mean_distance(b, b);
    squared.max(0.0).sqrt()
}

/// The Chamfer distance: ½ (mean over `a` of the distance to the nearest point of `b` + the
/// same from `b` to `a`), on the first [`MAX_DISTANCE_POINTS`] points of each.
pub fn chamfer_distance(a: &[Point], b: &[Point]) -> f64 {
    let a = &a[..a.len().min(MAX_DISTANCE_POINTS)];
    let b = &b[..b.len().min(MAX_DISTANCE_POINTS)];
    0.5 * (mean_nearest(a, b) + mean_nearest(b, a))
}

fn mean_nearest(from: &[Point], to: &[Point]) -> f64 {
    if from.is_empty() || to.is_empty() {
        return 0.0;
    }
    let nearest = |p: &Point| {
        to.iter()
            .map(|q| (p[0] - q[0]).hypot(p[1] - q[1]))
            .fold(f64::INFINITY, f64::min)
    };
    from.iter().map(nearest).sum::<f64>() / from.len() as f64
}

fn mean_distance(a: &[Point], b: &[Point]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let total: f64 = a
        .iter()
        .map(|p| {
            b.iter()
                .map(|q| (p[0] - q[0]).hypot(p[1] - q[1]))
                .sum::<f64>()
        })
        .sum();
    total / (a.len() * b.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toy::data::ToyData;

    #[test]
    fn the_distance_is_zero_for_a_set_with_itself_and_grows_with_a_shift() {
        let moons = ToyData::Moons.sample(400, 1);
        assert!(energy_distance(&moons, &moons) < 1e-9);
        let fresh = ToyData::Moons.sample(400, 2);
        let shifted: Vec<Point> = fresh.iter().map(|p| [p[0] + 1.0, p[1]]).collect();
        let floor = energy_distance(&moons, &fresh);
        assert!(floor > 0.0 && floor < energy_distance(&moons, &shifted));
        // By hand: {0} against {1}: 2·1 − 0 − 0 = 2, D = √2.
        assert!((energy_distance(&[[0.0, 0.0]], &[[1.0, 0.0]]) - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn the_chamfer_distance_sees_a_collapse_and_is_symmetric() {
        // By hand: {0, 2} against {0}: from the pair 0 and 2 (mean 1), from {0} 0: ½(1 + 0).
        let pair = [[0.0, 0.0], [2.0, 0.0]];
        assert!((chamfer_distance(&pair, &[[0.0, 0.0]]) - 0.5).abs() < 1e-12);
        assert_eq!(
            chamfer_distance(&pair, &[[0.0, 0.0]]),
            chamfer_distance(&[[0.0, 0.0]], &pair)
        );
        let moons = ToyData::Moons.sample(500, 1);
        let fresh = ToyData::Moons.sample(500, 2);
        let collapsed = vec![[0.5, 0.25]; 500];
        assert!(chamfer_distance(&fresh, &moons) < chamfer_distance(&collapsed, &moons) / 3.0);
    }
}
