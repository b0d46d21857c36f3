//! An experiment: DAED's quality against the switching point. For each s, the FID to the test
//! set of DAED's samples, of the diffusion model's one-shot x̂0 at s, and of the full chain.

use burn::tensor::Device;

use crate::diffusion::{CleanImagePredictor, DaedModels, Denoiser, SampleSize};
use crate::metrics::FidReference;

/// One row of a sweep.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SweepPoint {
    /// The switching point s.
    #[serde(rename = "t_switch")]
    pub s: usize,
    /// The share of the sampler's steps DAED saves.
    pub frac_saved: f64,
    /// FID of DAED (diffusion model to s, autoencoder in one call).
    pub fid_daed: f64,
    /// FID of the diffusion model's own one-shot x̂0 at s.
    pub fid_ddgm_x0: f64,
    /// FID of the full chain (the same for every s).
    pub fid_full: f64,
}

/// Samples `size.images` images with one chain per batch, hands over at every s, and measures
/// the FIDs. `progress(done, total)` is called before every chain step and after each batch
/// (`done`: images finished, a chain pro rata); returning false cancels.
pub fn daed_sweep<D: Denoiser + ?Sized, P: CleanImagePredictor + ?Sized>(
    models: &DaedModels<'_, D, P>,
    reference: &FidReference<'_>,
    size: SampleSize,
    switches: &[usize],
    device: &Device,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Vec<SweepPoint>, String> {
    if size.images < 2 || size.batch == 0 {
        return Err("a sweep needs at least 2 images and a batch of at least 1".into());
    }
    let images = models.sample_images(size, switches, device, progress)?;
    let fid_full = reference.fid(&images.full, device)?;
    switches
        .iter()
        .zip(&images.per_switch)
        .map(|(&s, switch)| {
            Ok(SweepPoint {
                s,
                frac_saved: switch.frac_saved,
                fid_daed: reference.fid(&switch.daed, device)?,
                fid_ddgm_x0: reference.fid(&switch.ddgm_x0, device)?,
                fid_full,
            })
        })
        .collect()
}

/// A sweep as CSV: `t_switch,frac_saved,fid_daed,fid_ddgm_x0,fid_full`.
pub fn sweep_csv(points: &[SweepPoint]) -> String {
    let mut out = String::from("t_switch,frac_saved,fid_daed,fid_ddgm_x0,fid_full\n");
    for p in points {
        out.push_str(&format!(
            "{},{:.6},{:.4},{:.4},{:.4}\n",
            p.s, p.frac_saved, p.fid_daed, p.fid_ddgm_x0, p.fid_full
        ));
    }
    out
}

/// Evenly spaced switching points from 0 to `t_max`, `count` of them.
pub fn sweep_switches(t_max: usize, count: usize) -> Vec<usize> {
    let count = count.max(2);
    let mut points: Vec<usize> = (0..count)
        .map(|i| (t_max as f64 * i as f64 / (count - 1) as f64).round() as usize)
        .collect();
    points.dedup();
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_points_run_from_zero_to_t_max() {
        assert_eq!(sweep_switches(250, 6), [0, 50, 100, 150, 200, 250]);
        assert_eq!(sweep_switches(3, 12), [0, 1, 2, 3]);
        let csv = sweep_csv(&[SweepPoint {
            s: 50,
            frac_saved: 0.05,
            fid_daed: 1.0,
            fid_ddgm_x0: 2.0,
            fid_full: 0.5,
        }]);
        assert_eq!(csv.lines().nth(1), Some("50,0.050000,1.0000,2.0000,0.5000"));
    }
}
