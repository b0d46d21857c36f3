//! Coefficients of the reverse samplers: DDPM's Algorithm 2 and DDIM (Song et al. 2021).
//! All steps `t` here are 1-based; ᾱ_0 = 1.

use serde::{Deserialize, Serialize};

use super::Schedule;

/// DDPM's choice of the reverse variance σ_t².
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReverseVariance {
    /// σ_t² = β_t (the upper bound; Ho et al.'s choice for CIFAR-10).
    Beta,
    /// σ_t² = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), the true posterior variance.
    #[default]
    PosteriorBeta,
}

/// How DDIM picks its N steps out of 1..=T.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimestepSpacing {
    /// 1, 1 + T/N, 1 + 2T/N, … (diffusers "leading").
    #[default]
    Leading,
    /// T, T − T/N, … (diffusers "trailing"; starts at the last step).
    Trailing,
    /// N evenly spaced steps from 1 to T, rounded (diffusers "linspace").
    Linspace,
    /// N steps evenly spaced in log-SNR λ from λ_T to λ_1, each the step nearest its λ (the
    /// spacing DPM-Solver recommends, Lu et al. 2022; diffusers' `use_lu_lambdas`).
    LogSnr,
}

/// x̂0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t as `x0 = a · x_t + b · ε̂`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct X0Coefficients {
    /// 1 / √ᾱ_t.
    pub from_xt: f64,
    /// −√(1 − ᾱ_t) / √ᾱ_t.
    pub from_eps: f64,
}

/// The coefficients of x̂0 at 1-based `t`.
pub fn x0_coefficients(schedule: &Schedule, t: usize) -> X0Coefficients {
    let alpha_bar = schedule.alpha_bar_at(t);
    X0Coefficients {
        from_xt: 1.0 / alpha_bar.sqrt(),
        from_eps: -(1.0 - alpha_bar).sqrt() / alpha_bar.sqrt(),
    }
}

/// One DDPM step t → t − 1: x_{t−1} = mean_x0 · x̂0 + mean_xt · x_t + sigma · z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DdpmStep {
    /// How x̂0 follows from x_t and ε̂.
    pub x0: X0Coefficients,
    /// β_t √ᾱ_{t−1} / (1 − ᾱ_t), the posterior mean's weight on x̂0.
    pub mean_x0: f64,
    /// (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t), the posterior mean's weight on x_t.
    pub mean_xt: f64,
    /// σ_t; zero at t = 1 (no noise is added on the last step).
    pub sigma: f64,
}

/// The DDPM step at 1-based `t` (Ho et al. eq. 7 and Algorithm 2).
pub fn ddpm_step(schedule: &Schedule, t: usize, variance: ReverseVariance) -> DdpmStep {
    let beta = schedule.betas()[t - 1];
    let alpha_bar = schedule.alpha_bar_at(t);
    let alpha_bar_prev = schedule.alpha_bar_at(t - 1);
    let one_minus = 1.0 - alpha_bar;
    let sigma_sq = match variance {
        ReverseVariance::Beta => beta,
        ReverseVariance::PosteriorBeta => beta * (1.0 - alpha_bar_prev) / one_minus,
    };
    DdpmStep {
        x0: x0_coefficients(schedule, t),
        mean_x0: beta * alpha_bar_prev.sqrt() / one_minus,
        mean_xt: (1.0 - alpha_bar_prev) * (1.0 - beta).sqrt() / one_minus,
        sigma: if t == 1 { 0.0 } else { sigma_sq.sqrt() },
    }
}

/// One DDIM step t → `prev` (eq. 12 of Song et al.):
/// x_prev = √ᾱ_prev x̂0 + dir_eps · ε̂ + sigma · z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DdimStep {
    /// The step it goes to (0 after the last).
    pub prev: usize,
    /// How x̂0 follows from x_t and ε̂.
    pub x0: X0Coefficients,
    /// √ᾱ_t, to recompute ε̂ from a clipped x̂0.
    pub signal_t: f64,
    /// √(1 − ᾱ_t).
    pub noise_t: f64,
    /// √ᾱ_prev.
    pub signal_prev: f64,
    /// √(1 − ᾱ_prev − σ²), the weight of the "direction pointing to x_t".
    pub dir_eps: f64,
    /// σ = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev).
    pub sigma: f64,
}

/// The DDIM step from 1-based `t` to `prev` (< t) with stochasticity η.
pub fn ddim_step(schedule: &Schedule, t: usize, prev: usize, eta: f64) -> DdimStep {
    let alpha_bar = schedule.alpha_bar_at(t);
    let alpha_bar_prev = schedule.alpha_bar_at(prev);
    let variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * (1.0 - alpha_bar / alpha_bar_prev);
    let sigma = eta * variance.max(0.0).sqrt();
    DdimStep {
        prev,
        x0: x0_coefficients(schedule, t),
        signal_t: alpha_bar.sqrt(),
        noise_t: (1.0 - alpha_bar).sqrt(),
        signal_prev: alpha_bar_prev.sqrt(),
        dir_eps: (1.0 - alpha_bar_prev - sigma * sigma).max(0.0).sqrt(),
        sigma,
    }
}

/// The lowest log-SNR [`TimestepSpacing::LogSnr`] spaces its steps down to: diffusers'
/// `lambda_min_clipped` of −5.1 for log(α/σ), which it calls critical for the cosine schedule
/// (whose λ_T is −19.8: even spacing from there spends a third of the steps where ᾱ < 10⁻⁴).
/// Sampling still starts at T; its first step goes to the step nearest this λ.
pub const LOG_SNR_SPACING_FLOOR: f64 = -10.2;

/// A sampler's steps, descending and 1-based, for `n` of the schedule's T steps; fails when `n`
/// is 0 or larger than T.
pub fn sampler_timesteps(
    schedule: &Schedule,
    n: usize,
    spacing: TimestepSpacing,
) -> Result<Vec<usize>, String> {
    if spacing != TimestepSpacing::LogSnr {
        return ddim_timesteps(schedule.steps(), n, spacing);
    }
    let t_max = schedule.steps();
    if n == 0 || n > t_max {
        return Err(format!(
            "a sampler needs between 1 and T = {t_max} steps, not {n}"
        ));
    }
    let lambda = schedule.log_snr();
    let (high, low) = (lambda[0], lambda[t_max - 1].max(LOG_SNR_SPACING_FLOOR));
    let mut steps: Vec<usize> = (0..n)
        .map(|i| {
            let target = if n == 1 {
                low
            } else {
                low + (high - low) * i as f64 / (n - 1) as f64
            };
            // λ falls with t: the nearest step by λ.
            let after = lambda.partition_point(|&l| l > target).min(t_max - 1);
            let before = after.saturating_sub(1);
            let nearest = if (lambda[before] - target).abs() <= (lambda[after] - target).abs() {
                before
            } else {
                after
            };
            nearest + 1
        })
        .collect();
    steps.sort_unstable();
    spread_apart(&mut steps, t_max);
    steps.reverse();
    Ok(steps)
}

/// Makes ascending steps distinct within 1..=`t_max` by moving the fewest of them: where λ is
/// flat (near t = 1) neighbouring targets share a nearest step, and N steps must stay N.
fn spread_apart(steps: &mut [usize], t_max: usize) {
    for i in 1..steps.len() {
        steps[i] = steps[i].max(steps[i - 1] + 1);
    }
    let mut ceiling = t_max;
    for step in steps.iter_mut().rev() {
        *step = (*step).min(ceiling);
        ceiling = step.saturating_sub(1);
    }
}

/// DDIM's steps, descending and 1-based, for `n` of `t_max` steps; fails when `n` is 0 or
/// larger than T. [`TimestepSpacing::LogSnr`] needs the schedule: see [`sampler_timesteps`].
pub fn ddim_timesteps(
    t_max: usize,
    n: usize,
    spacing: TimestepSpacing,
) -> Result<Vec<usize>, String> {
    if n == 0 || n > t_max {
        return Err(format!(
            "DDIM needs between 1 and T = {t_max} steps, not {n}"
        ));
    }
    let mut steps: Vec<usize> = match spacing {
        TimestepSpacing::Leading => {
            let ratio = t_max / n;
            (0..n).map(|i| i * ratio + 1).collect()
        }
        TimestepSpacing::Trailing => {
            let ratio = t_max as f64 / n as f64;
            (0..n)
                .map(|i| (t_max as f64 - i as f64 * ratio).round() as usize)
                .collect()
        }
        TimestepSpacing::Linspace | TimestepSpacing::LogSnr => (0..n)
            .map(|i| {
                let x = if n == 1 {
                    0.0
                } else {
                    i as f64 * (t_max - 1) as f64 / (n - 1) as f64
                };
                x.round() as usize + 1
            })
            .collect(),
    };
    steps.sort_unstable_by(|a, b| b.cmp(a));
    steps.dedup();
    Ok(steps)
}
