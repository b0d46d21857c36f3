//! DAED's automatic switching point (Deja et al. 2022).

use serde::Serialize;

use super::{Schedule, ScheduleError};

/// Where the diffusion model hands over to the denoising autoencoder.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DaedSwitch {
    /// The 1-based step s: the diffusion model runs T → s, the autoencoder maps x_s to x̂0.
    pub t: usize,
    /// ᾱ_s.
    pub alpha_bar: f64,
    /// λ_s.
    pub log_snr: f64,
    /// Reverse steps the diffusion model still runs before the switch: T − s.
    pub steps_left: usize,
}

/// s = argmin_t |ᾱ_t − (1 − β1)|, the smallest t on a tie.
pub fn daed_switch(schedule: &Schedule, beta1: f64) -> Result<DaedSwitch, ScheduleError> {
    if !(beta1.is_finite() && beta1 > 0.0 && beta1 < 1.0) {
        return Err(ScheduleError::Beta {
            name: "β1",
            value: beta1,
        });
    }
    let target = 1.0 - beta1;
    let alpha_bar = schedule.alpha_bar();
    let mut best = 0;
    for (i, value) in alpha_bar.iter().enumerate() {
        if (value - target).abs() < (alpha_bar[best] - target).abs() {
            best = i;
        }
    }
    Ok(DaedSwitch {
        t: best + 1,
        alpha_bar: alpha_bar[best],
        log_snr: schedule.log_snr()[best],
        steps_left: schedule.steps() - (best + 1),
    })
}
