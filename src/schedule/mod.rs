//! Noise schedules: pure f64 mathematics, no GUI and no tensors.
//!
//! Paper notation is t = 1..T. Every array here is indexed 0..T−1 and index `i` holds
//! t = i + 1, as in diffusers. Functions that take a `t` say whether it is 1-based.

mod betas;
mod daed;
mod diffusers;
mod report;
mod sampling;
mod solvers;
mod spec;

pub use daed::{DaedSwitch, daed_switch};
pub use diffusers::{DiffusersConfig, ImportedSchedule};
pub use report::SanityReport;
pub use sampling::{
    DdimStep, DdpmStep, LOG_SNR_SPACING_FLOOR, ReverseVariance, TimestepSpacing, X0Coefficients,
    ddim_step, ddim_timesteps, ddpm_step, sampler_timesteps, x0_coefficients,
};
pub use solvers::{
    DpmSolverStep, EulerStep, HEUN_MAX_SCALE, dpm_solver_step, euler_step, heun_corrects,
};
pub use spec::{MAX_STEPS, MIN_STEPS, ScheduleKind, ScheduleSpec};

/// Why a spec cannot become a schedule.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// T outside [`MIN_STEPS`]..=[`MAX_STEPS`].
    #[error(
        "T = {0} is out of range: the number of steps must be between {MIN_STEPS} and {MAX_STEPS}"
    )]
    Steps(usize),
    /// A β-like parameter outside the open interval (0, 1).
    #[error("{name} = {value} is out of range: it must be a number strictly between 0 and 1")]
    Beta {
        /// The parameter's name.
        name: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A negative or non-finite cosine offset.
    #[error("cosine offset s = {0} is out of range: it must be a finite number ≥ 0")]
    CosineOffset(f64),
    /// The parameters produce a schedule that is not a diffusion process.
    #[error("the schedule is degenerate: {0}")]
    Degenerate(String),
}

/// A noise schedule evaluated at every step.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    spec: ScheduleSpec,
    betas: Vec<f64>,
    log_alpha_bar: Vec<f64>,
    clipped: usize,
}

impl Schedule {
    /// Evaluates a spec; fails with the reason when a parameter is out of range.
    pub fn new(spec: ScheduleSpec) -> Result<Self, ScheduleError> {
        spec.validate()?;
        let (mut betas, clipped) = betas::betas(&spec);
        if spec.zero_terminal_snr {
            betas = betas::rescale_zero_terminal_snr(&betas);
        }
        check_betas(&betas, spec.zero_terminal_snr)?;
        let log_alpha_bar = betas
            .iter()
            .scan(0.0, |sum, beta| {
                *sum += (-beta).ln_1p();
                Some(*sum)
            })
            .collect();
        Ok(Self {
            spec,
            betas,
            log_alpha_bar,
            clipped,
        })
    }

    /// The spec this schedule was made from.
    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    /// T.
    pub fn steps(&self) -> usize {
        self.betas.len()
    }

    /// How many β the cosine cap clipped.
    pub fn clipped(&self) -> usize {
        self.clipped
    }

    /// β_t for t = 1..T.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// α_t = 1 − β_t for t = 1..T.
    pub fn alphas(&self) -> Vec<f64> {
        self.betas.iter().map(|beta| 1.0 - beta).collect()
    }

    /// ᾱ_t = Π_{s ≤ t} α_s for t = 1..T.
    pub fn alpha_bar(&self) -> Vec<f64> {
        self.log_alpha_bar.iter().map(|l| l.exp()).collect()
    }

    /// ᾱ at 1-based `t`, with ᾱ_0 = 1.
    pub fn alpha_bar_at(&self, t: usize) -> f64 {
        if t == 0 {
            1.0
        } else {
            self.log_alpha_bar[t - 1].exp()
        }
    }

    /// √ᾱ_t, the signal coefficient of x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε.
    pub fn signal_coefficient(&self) -> Vec<f64> {
        self.log_alpha_bar.iter().map(|l| (0.5 * l).exp()).collect()
    }

    /// √(1 − ᾱ_t), the noise coefficient.
    pub fn noise_coefficient(&self) -> Vec<f64> {
        self.log_alpha_bar
            .iter()
            .map(|l| one_minus_exp(*l).sqrt())
            .collect()
    }

    /// log-SNR λ_t = ln(ᾱ_t / (1 − ᾱ_t)); −∞ where ᾱ_t = 0.
    pub fn log_snr(&self) -> Vec<f64> {
        self.log_alpha_bar
            .iter()
            .map(|&l| l - one_minus_exp(l).ln())
            .collect()
    }

    /// Posterior variance β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), with ᾱ_0 = 1 so β̃_1 = 0.
    pub fn posterior_variance(&self) -> Vec<f64> {
        (0..self.steps())
            .map(|i| {
                let previous = if i == 0 {
                    0.0
                } else {
                    one_minus_exp(self.log_alpha_bar[i - 1])
                };
                self.betas[i] * previous / one_minus_exp(self.log_alpha_bar[i])
            })
            .collect()
    }

    /// The per-step report a person reads to spot a degenerate choice.
    pub fn sanity(&self) -> SanityReport {
        SanityReport::of(self)
    }
}

/// 1 − e^l, accurate when l is near 0.
fn one_minus_exp(log_value: f64) -> f64 {
    -log_value.exp_m1()
}

fn check_betas(betas: &[f64], zero_terminal_snr: bool) -> Result<(), ScheduleError> {
    let last = betas.len() - 1;
    for (i, &beta) in betas.iter().enumerate() {
        let terminal_one = zero_terminal_snr && i == last && beta <= 1.0;
        if !(beta.is_finite() && beta > 0.0 && (beta < 1.0 || terminal_one)) {
            return Err(ScheduleError::Degenerate(format!(
                "β at t = {} is {beta}; every β must lie in (0, 1)",
                i + 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
