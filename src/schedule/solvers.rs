//! Coefficients of the few-step samplers, each a step from 1-based `t` to `to` < t (0 = the
//! data) of a variance-preserving process with signal α_t = √ᾱ_t and noise σ_t = √(1 − ᾱ_t):
//! - DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2, data prediction, in the
//!   form of diffusers' `DPMSolverMultistepScheduler`: second order from the second step on,
//!   first order on the first step and on the last, which lands on σ = 0), and its stochastic
//!   form SDE-DPM-Solver++(2M) (diffusers' `sde-dpmsolver++`), which adds fresh noise each step;
//! - Euler and Heun on the probability-flow ODE in the variables of Karras et al. 2022 (EDM):
//!   x̃ = x/α_t, s_t = σ_t/α_t, dx̃/ds = ε̂ (diffusers' `EulerDiscreteScheduler` and
//!   `HeunDiscreteScheduler` with their defaults).

use super::Schedule;

/// α_t, σ_t at 1-based `t`; t = 0 is the data (1, 0).
fn signal_noise(schedule: &Schedule, t: usize) -> (f64, f64) {
    let alpha_bar = schedule.alpha_bar_at(t);
    (alpha_bar.sqrt(), (1.0 - alpha_bar).max(0.0).sqrt())
}

/// One DPM-Solver++ step: x_to = `from_x`·x_t + `from_x0`·x̂0_t + `from_x0_previous`·x̂0_previous
/// + `noise`·z, x̂0_previous being the data prediction at the step before t and z ~ N(0, I).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DpmSolverStep {
    /// σ_to / σ_t (· e^{−h} in the stochastic form).
    pub from_x: f64,
    /// Weight of this step's x̂0.
    pub from_x0: f64,
    /// Weight of the previous step's x̂0 (0 for a first-order step).
    pub from_x0_previous: f64,
    /// Weight of fresh noise (0 in the deterministic form and on the last step).
    pub noise: f64,
}

/// The DPM-Solver++(2M) step from `t` to `to`, second order when `previous` (the step before
/// t, > t) is given and `to` > 0; `stochastic` for the SDE form.
pub fn dpm_solver_step(
    schedule: &Schedule,
    t: usize,
    to: usize,
    previous: Option<usize>,
    stochastic: bool,
) -> DpmSolverStep {
    let (alpha_t, sigma_t) = signal_noise(schedule, t);
    let (alpha_to, sigma_to) = signal_noise(schedule, to);
    // e^{−h} with h = λ_to − λ_t, λ = ln(α/σ); 0 when σ_to = 0.
    let decay = (sigma_to * alpha_t) / (alpha_to * sigma_t);
    // The SDE form follows the data prediction over 2h: e^{−2h} in place of e^{−h}.
    let kept = if stochastic { decay * decay } else { decay };
    let base = alpha_to * (1.0 - kept);
    let first_order = DpmSolverStep {
        from_x: sigma_to / sigma_t * if stochastic { decay } else { 1.0 },
        from_x0: base,
        from_x0_previous: 0.0,
        noise: if stochastic {
            sigma_to * (1.0 - decay * decay).max(0.0).sqrt()
        } else {
            0.0
        },
    };
    match previous {
        Some(previous) if to > 0 => {
            let lambda = |t: usize| {
                let (alpha, sigma) = signal_noise(schedule, t);
                (alpha / sigma).ln()
            };
            let h = lambda(to) - lambda(t);
            let h_previous = lambda(t) - lambda(previous);
            // D1 = (x̂0_t − x̂0_previous) / r, r = h_previous / h; x_to += base/2 · D1.
            let half_over_r = 0.5 * h / h_previous;
            DpmSolverStep {
                from_x0: base * (1.0 + half_over_r),
                from_x0_previous: -base * half_over_r,
                ..first_order
            }
        }
        _ => first_order,
    }
}

/// One Euler step of the probability-flow ODE: x_to = `from_x`·x_t + `from_eps`·ε̂.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EulerStep {
    /// α_to / α_t.
    pub from_x: f64,
    /// α_to (s_to − s_t), s = σ/α.
    pub from_eps: f64,
}

/// The Euler step from `t` to `to`. Heun's step is the same with ε̂ replaced by the mean of ε̂ at
/// (x_t, t) and at the Euler proposal (x_to, to).
pub fn euler_step(schedule: &Schedule, t: usize, to: usize) -> EulerStep {
    let (alpha_t, sigma_t) = signal_noise(schedule, t);
    let (alpha_to, sigma_to) = signal_noise(schedule, to);
    EulerStep {
        from_x: alpha_to / alpha_t,
        from_eps: alpha_to * (sigma_to / alpha_to - sigma_t / alpha_t),
    }
}

/// The largest σ_t/α_t at which Heun's step is corrected with the slope at its end; above it the
/// step is Euler's. Heun averages the slopes at both ends of a step, and on a step from
/// σ/α ≫ 1 the two differ by O(1) while the step spans σ/α, so the average multiplies the
/// model's error by about σ/α. Under the cosine schedule σ_T/α_T ≈ 2·10⁴ and a corrected first
/// step ruins the samples (FID ~490). Karras et al. (2022) start their Heun sampler at σ = 80.
pub const HEUN_MAX_SCALE: f64 = 80.0;

/// Whether Heun's step from `t` to `to` gets its second-order correction: not on the last step
/// (to σ = 0) and not from above [`HEUN_MAX_SCALE`].
pub fn heun_corrects(schedule: &Schedule, t: usize, to: usize) -> bool {
    let (alpha, sigma) = signal_noise(schedule, t);
    to > 0 && sigma <= HEUN_MAX_SCALE * alpha
}
