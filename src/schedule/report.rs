//! The sanity read-out shown beside each schedule.

use super::Schedule;

/// ᾱ_T above this leaves so much signal at t = T that x_T is not close to N(0, I).
const MAX_TERMINAL_ALPHA_BAR: f64 = 1e-2;
/// ᾱ_1 below this means the very first step already destroys most of the signal.
const MIN_FIRST_ALPHA_BAR: f64 = 0.9;

/// Key numbers of a schedule and the warnings they lead to.
#[derive(Clone, Debug, PartialEq)]
pub struct SanityReport {
    /// ᾱ_T.
    pub terminal_alpha_bar: f64,
    /// λ_T (−∞ for a zero-terminal-SNR schedule).
    pub terminal_log_snr: f64,
    /// λ_1.
    pub first_log_snr: f64,
    /// How many β the cap clipped.
    pub clipped: usize,
    /// The first 1-based t with λ_t < 0, if any.
    pub log_snr_zero_crossing: Option<usize>,
    /// Things a person should know about this choice, in plain words.
    pub warnings: Vec<String>,
}

impl SanityReport {
    /// Computes the report of a schedule.
    pub fn of(schedule: &Schedule) -> Self {
        let log_snr = schedule.log_snr();
        let steps = schedule.steps();
        let terminal_alpha_bar = schedule.alpha_bar_at(steps);
        let first_alpha_bar = schedule.alpha_bar_at(1);
        let mut warnings = Vec::new();
        if terminal_alpha_bar > MAX_TERMINAL_ALPHA_BAR {
            warnings.push(format!(
                "ᾱ_T = {terminal_alpha_bar:.3e} is not near 0: x_T keeps {:.1} % of the signal's \
                 amplitude, so sampling from N(0, I) starts off the forward process",
                100.0 * terminal_alpha_bar.sqrt()
            ));
        }
        if first_alpha_bar < MIN_FIRST_ALPHA_BAR {
            warnings.push(format!(
                "ᾱ_1 = {first_alpha_bar:.3}: the first step already removes most of the signal"
            ));
        }
        let spec = schedule.spec();
        if spec.kind.uses_beta_range() && spec.beta_start > spec.beta_end {
            warnings.push(format!(
                "β_start = {} > β_end = {}: the noise added per step shrinks as t grows, the \
                 reverse of every published schedule",
                spec.beta_start, spec.beta_end
            ));
        }
        if schedule.spec().zero_terminal_snr {
            warnings.push(
                "zero terminal SNR: β_T = 1 and λ_T = −∞ by design; an ε-prediction model learns \
                 nothing at t = T (Lin et al. train with v-prediction)"
                    .to_owned(),
            );
        }
        Self {
            terminal_alpha_bar,
            terminal_log_snr: log_snr[steps - 1],
            first_log_snr: log_snr[0],
            clipped: schedule.clipped(),
            log_snr_zero_crossing: log_snr.iter().position(|&l| l < 0.0).map(|i| i + 1),
            warnings,
        }
    }
}
