//! The frequency view: radially averaged power spectra of square images, and where the noise
//! of x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε drowns the signal.
//!
//! Power is |F(k)|² / n² for an n×n image, so white noise of unit variance has an expected
//! power of 1 at every frequency, and x_t's expected spectrum is ᾱ_t P_x0(k) + (1 − ᾱ_t): the
//! signal's spectrum scaled by ᾱ_t against the flat noise spectrum scaled by 1 − ᾱ_t. Natural
//! images put most power at low frequencies, so as t grows the noise overtakes the signal at
//! ever lower frequencies: fine detail is lost first, and the reverse process makes coarse
//! structure before fine.

use std::f64::consts::PI;

/// A radially averaged power spectrum: `power[r]` is the mean power over the frequencies
/// (kx, ky) whose length rounds to r cycles per image, for r = 0 (the mean) up to n/2.
#[derive(Clone, Debug, PartialEq)]
pub struct RadialSpectrum {
    /// The mean power in each radial bin.
    pub power: Vec<f64>,
}

impl RadialSpectrum {
    /// The spectrum of `image`, `side`×`side` values, row-major.
    ///
    /// # Panics
    /// When `image` does not hold `side * side` values.
    pub fn of(image: &[f32], side: usize) -> Self {
        assert_eq!(image.len(), side * side, "a {side}×{side} image");
        let power = power_2d(image, side);
        let bins = side / 2 + 1;
        let mut sums = vec![0.0; bins];
        let mut counts = vec![0usize; bins];
        for ky in 0..side {
            for kx in 0..side {
                let radius = signed(kx, side).hypot(signed(ky, side)).round() as usize;
                if radius < bins {
                    sums[radius] += power[ky * side + kx];
                    counts[radius] += 1;
                }
            }
        }
        let power = sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| s / c.max(1) as f64)
            .collect();
        Self { power }
    }

    /// The mean of the spectra of `images` (each `side`×`side`).
    pub fn mean_of<'a>(images: impl IntoIterator<Item = &'a [f32]>, side: usize) -> Option<Self> {
        let mut total: Option<Vec<f64>> = None;
        let mut count = 0usize;
        for image in images {
            let spectrum = Self::of(image, side);
            let sum = total.get_or_insert_with(|| vec![0.0; spectrum.power.len()]);
            sum.iter_mut()
                .zip(&spectrum.power)
                .for_each(|(s, p)| *s += p);
            count += 1;
        }
        total.map(|sum| Self {
            power: sum.into_iter().map(|s| s / count as f64).collect(),
        })
    }

    /// The frequencies of the bins, in cycles per image.
    pub fn frequencies(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.power.len()).map(|r| r as f64)
    }

    /// The expected spectrum of x_t = √ᾱ x0 + √(1 − ᾱ) ε for this spectrum of x0.
    pub fn noised(&self, alpha_bar: f64) -> Self {
        Self {
            power: self
                .power
                .iter()
                .map(|p| alpha_bar * p + (1.0 - alpha_bar))
                .collect(),
        }
    }

    /// The frequency (cycles per image) from which the noise, 1 − ᾱ, is at least the signal,
    /// ᾱ P(k): the first bin where it is, interpolated in log power from the bin before.
    /// 0 when even the mean is drowned; `None` when the signal is above the noise at every
    /// frequency up to n/2, or ᾱ is 0 or 1.
    pub fn crossing(&self, alpha_bar: f64) -> Option<f64> {
        if !(alpha_bar > 0.0 && alpha_bar < 1.0) {
            return None;
        }
        // ln(signal / noise) = λ + ln P(k), with λ the log-SNR.
        let log_snr = (alpha_bar / (1.0 - alpha_bar)).ln();
        let margin = |p: f64| log_snr + p.max(f64::MIN_POSITIVE).ln();
        let first = self.power.iter().position(|&p| margin(p) <= 0.0)?;
        if first == 0 {
            return Some(0.0);
        }
        let (above, below) = (margin(self.power[first - 1]), margin(self.power[first]));
        Some(first as f64 - 1.0 + above / (above - below))
    }
}

/// A frequency index as a signed frequency: 0..n/2, then negative.
fn signed(k: usize, side: usize) -> f64 {
    if k <= side / 2 {
        k as f64
    } else {
        k as f64 - side as f64
    }
}

/// |F(kx, ky)|² / n² of the 2-D discrete Fourier transform, row-major in (ky, kx).
fn power_2d(image: &[f32], side: usize) -> Vec<f64> {
    let twiddles: Vec<(f64, f64)> = (0..side)
        .map(|k| {
            let angle = -2.0 * PI * k as f64 / side as f64;
            (angle.cos(), angle.sin())
        })
        .collect();
    let dft = |values: &[(f64, f64)], k: usize| -> (f64, f64) {
        values
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(re, im), (j, &(a, b))| {
                let (c, s) = twiddles[(j * k) % side];
                (re + a * c - b * s, im + a * s + b * c)
            })
    };
    // Along each row, then along each column.
    let mut rows = vec![(0.0, 0.0); side * side];
    for y in 0..side {
        let row: Vec<(f64, f64)> = image[y * side..(y + 1) * side]
            .iter()
            .map(|&v| (f64::from(v), 0.0))
            .collect();
        for kx in 0..side {
            rows[y * side + kx] = dft(&row, kx);
        }
    }
    let norm = (side * side) as f64;
    let mut power = vec![0.0; side * side];
    for kx in 0..side {
        let column: Vec<(f64, f64)> = (0..side).map(|y| rows[y * side + kx]).collect();
        for ky in 0..side {
            let (re, im) = dft(&column, ky);
            power[ky * side + kx] = (re * re + im * im) / norm;
        }
    }
    power
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::{NoiseStream, standard_normal};

    #[test]
    fn a_constant_image_has_power_only_at_frequency_zero() {
        let spectrum = RadialSpectrum::of(&[0.5; 64], 8);
        assert_eq!(spectrum.power.len(), 5);
        // |F(0)|² / n² = (64 · 0.5)² / 64 = 16.
        assert!((spectrum.power[0] - 16.0).abs() < 1e-9);
        assert!(spectrum.power[1..].iter().all(|p| p.abs() < 1e-12));
    }

    #[test]
    fn a_cosine_wave_puts_its_power_at_its_frequency() {
        let side = 16;
        let image: Vec<f32> = (0..side * side)
            .map(|i| (2.0 * PI * 3.0 * (i % side) as f64 / side as f64).cos() as f32)
            .collect();
        let spectrum = RadialSpectrum::of(&image, side);
        let loudest = (0..spectrum.power.len())
            .max_by(|&a, &b| spectrum.power[a].total_cmp(&spectrum.power[b]))
            .expect("bins");
        assert_eq!(loudest, 3);
        for (r, p) in spectrum.power.iter().enumerate() {
            if r != 3 {
                assert!(p.abs() < 1e-9, "bin {r}: {p}");
            }
        }
    }

    #[test]
    fn white_noise_of_unit_variance_has_unit_power_everywhere() {
        let side = 28;
        let images: Vec<Vec<f32>> = (0..200)
            .map(|seed| standard_normal(seed, NoiseStream::Epsilon, side * side))
            .collect();
        let mean = RadialSpectrum::mean_of(images.iter().map(Vec::as_slice), side).expect("images");
        // Bin 1 and up average many frequencies over 200 images: within 10 %.
        for (r, p) in mean.power.iter().enumerate().skip(1) {
            assert!((p - 1.0).abs() < 0.1, "bin {r}: {p}");
        }
    }

    #[test]
    fn the_crossing_is_where_the_scaled_signal_meets_the_noise() {
        // P(k) = 10^(2 − k/2): ᾱ = 0.5 (λ = 0) crosses where P = 1, at k = 4.
        let spectrum = RadialSpectrum {
            power: (0..8).map(|k| 10f64.powf(2.0 - k as f64 / 2.0)).collect(),
        };
        let at_half = spectrum.crossing(0.5).expect("crosses");
        assert!((at_half - 4.0).abs() < 1e-9, "{at_half}");
        // More noise: a lower crossing; less: higher; none when the signal stays above.
        let noisier = spectrum.crossing(0.1).expect("crosses");
        assert!(noisier < at_half);
        assert!(spectrum.crossing(0.999_999_9).is_none());
        assert_eq!(spectrum.crossing(1e-9), Some(0.0));
        let noised = spectrum.noised(0.5);
        assert!((noised.power[4] - 1.0).abs() < 1e-12);
    }
}
