//! What a schedule is made from: its kind and parameters, with validation.

use serde::{Deserialize, Serialize};

use super::ScheduleError;

/// Fewest diffusion steps a schedule may have.
pub const MIN_STEPS: usize = 2;
/// Most diffusion steps a schedule may have.
pub const MAX_STEPS: usize = 10_000;

/// The family a noise schedule belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScheduleKind {
    /// β linear in t (Ho et al. 2020).
    Linear,
    /// ᾱ from a squared cosine (Nichol & Dhariwal 2021).
    Cosine,
    /// √β linear in t: the DDPM code's "quad", latent diffusion's "linear".
    ScaledLinear,
    /// β = σ(linspace(−6, 6, T)) scaled into [β_start, β_end].
    Sigmoid,
    /// DAED's "linear_combine": the linear schedule with its first β replaced by β1.
    LinearCombine,
}

impl ScheduleKind {
    /// Every kind, in the order the UI lists them.
    pub const ALL: [Self; 5] = [
        Self::Linear,
        Self::Cosine,
        Self::ScaledLinear,
        Self::Sigmoid,
        Self::LinearCombine,
    ];

    /// The name used on the command line and in files (`linear`, `scaled-linear`, …).
    pub fn cli_name(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Cosine => "cosine",
            Self::ScaledLinear => "scaled-linear",
            Self::Sigmoid => "sigmoid",
            Self::LinearCombine => "linear-combine",
        }
    }

    /// Parses a command-line name; see [`Self::cli_name`].
    pub fn from_cli_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.cli_name() == name)
    }

    /// Whether β_start and β_end are parameters of this kind.
    pub fn uses_beta_range(self) -> bool {
        !matches!(self, Self::Cosine)
    }

    /// One line that tells people what the kind is, and what it is not.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Linear => "β linear from β_start to β_end (Ho et al. 2020).",
            Self::Cosine => {
                "ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s))·π/2), β capped (Nichol & Dhariwal 2021)."
            }
            Self::ScaledLinear => {
                "√β linear from √β_start to √β_end: the DDPM code calls it \"quad\", \
                 latent diffusion calls it \"linear\" — it is not Ho et al.'s linear schedule."
            }
            Self::Sigmoid => "β = σ(linspace(−6, 6, T)) scaled into [β_start, β_end].",
            Self::LinearCombine => {
                "DAED's linear_combine: the linear schedule whose first β is replaced by β1, \
                 the noise level of the denoising autoencoder."
            }
        }
    }
}

impl std::fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// A complete description of a noise schedule; [`super::Schedule::new`] turns it into numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScheduleSpec {
    /// The family.
    pub kind: ScheduleKind,
    /// T, the number of diffusion steps.
    pub steps: usize,
    /// β at t = 1 (linear, scaled-linear, sigmoid, linear-combine).
    pub beta_start: f64,
    /// β at t = T (linear, scaled-linear, sigmoid, linear-combine).
    pub beta_end: f64,
    /// The cosine schedule's offset s.
    pub cosine_s: f64,
    /// The cap on β for the cosine schedule.
    pub max_beta: f64,
    /// β1 of DAED's linear-combine schedule (the denoising autoencoder's noise level).
    pub beta1: f64,
    /// Rescale so that ᾱ_T = 0 exactly (Lin et al. 2023).
    pub zero_terminal_snr: bool,
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        Self::new(ScheduleKind::Linear)
    }
}

impl ScheduleSpec {
    /// The published defaults of a kind, with T = 1000.
    pub fn new(kind: ScheduleKind) -> Self {
        Self {
            kind,
            steps: 1000,
            beta_start: 1e-4,
            beta_end: 0.02,
            cosine_s: 0.008,
            max_beta: 0.999,
            beta1: 1e-3,
            zero_terminal_snr: false,
        }
    }

    /// A short label such as `cosine T=1000` for legends.
    pub fn label(&self) -> String {
        let zero = if self.zero_terminal_snr {
            ", zero SNR"
        } else {
            ""
        };
        format!("{} T={}{zero}", self.kind, self.steps)
    }

    /// Checks every parameter this kind uses; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if !(MIN_STEPS..=MAX_STEPS).contains(&self.steps) {
            return Err(ScheduleError::Steps(self.steps));
        }
        if self.kind.uses_beta_range() {
            check_beta("β_start", self.beta_start)?;
            check_beta("β_end", self.beta_end)?;
        }
        match self.kind {
            ScheduleKind::Cosine => {
                if !self.cosine_s.is_finite() || self.cosine_s < 0.0 {
                    return Err(ScheduleError::CosineOffset(self.cosine_s));
                }
                check_beta("max β", self.max_beta)?;
            }
            ScheduleKind::LinearCombine => check_beta("β1", self.beta1)?,
            _ => {}
        }
        Ok(())
    }
}

fn check_beta(name: &'static str, value: f64) -> Result<(), ScheduleError> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(ScheduleError::Beta { name, value })
    }
}
