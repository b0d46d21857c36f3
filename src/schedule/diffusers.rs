//! diffusers' scheduler configuration (`scheduler_config.json`): which of its fields shape a
//! schedule here, which belong to a sampler or a network, and which have no counterpart.

use serde::{Deserialize, Serialize};

use super::spec::{ScheduleKind, ScheduleSpec};

/// The fields of a diffusers scheduler configuration that concern the schedule or its use, with
/// diffusers' own defaults (those of `DDPMScheduler`); other fields are ignored on import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiffusersConfig {
    /// The scheduler class that wrote the file.
    #[serde(rename = "_class_name", skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// T.
    pub num_train_timesteps: usize,
    /// β at the first step (linear, scaled_linear, sigmoid).
    pub beta_start: f64,
    /// β at the last step (linear, scaled_linear, sigmoid).
    pub beta_end: f64,
    /// linear, scaled_linear, squaredcos_cap_v2 or sigmoid.
    pub beta_schedule: String,
    /// An explicit list of β, which overrides `beta_schedule`.
    pub trained_betas: Option<Vec<f64>>,
    /// Rescale to zero terminal SNR (Lin et al. 2023).
    pub rescale_betas_zero_snr: bool,
    /// How a sampler spaces its steps: leading, trailing or linspace.
    pub timestep_spacing: String,
    /// Added to every sampled step under leading spacing.
    pub steps_offset: usize,
    /// Whether x̂0 is clipped to [−1, 1].
    pub clip_sample: bool,
    /// What the network predicts: epsilon, v_prediction or sample.
    pub prediction_type: String,
}

impl Default for DiffusersConfig {
    fn default() -> Self {
        Self {
            class_name: None,
            num_train_timesteps: 1000,
            beta_start: 0.0001,
            beta_end: 0.02,
            beta_schedule: "linear".into(),
            trained_betas: None,
            rescale_betas_zero_snr: false,
            timestep_spacing: "leading".into(),
            steps_offset: 0,
            clip_sample: true,
            prediction_type: "epsilon".into(),
        }
    }
}

/// diffusers' `squaredcos_cap_v2`: the cosine schedule with offset 0.008 and β capped at 0.999.
const DIFFUSERS_COSINE: (f64, f64) = (0.008, 0.999);

/// A configuration read as a schedule here, with what was not taken over and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedSchedule {
    /// The schedule.
    pub spec: ScheduleSpec,
    /// One line per field that is not part of the schedule here, saying where it belongs.
    pub notes: Vec<String>,
}

impl DiffusersConfig {
    /// Reads a configuration from JSON text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("not a diffusers scheduler config: {e}"))
    }

    /// The schedule this configuration computes, or why none here matches it.
    pub fn to_schedule(&self) -> Result<ImportedSchedule, String> {
        if self.trained_betas.is_some() {
            return Err(
                "trained_betas (an explicit list of β) is not supported: a schedule here \
                 is one of the formulas linear, scaled_linear, squaredcos_cap_v2 or sigmoid, \
                 whose parameters the Schedules panel edits"
                    .into(),
            );
        }
        let kind = match self.beta_schedule.as_str() {
            "linear" => ScheduleKind::Linear,
            "scaled_linear" => ScheduleKind::ScaledLinear,
            "squaredcos_cap_v2" => ScheduleKind::Cosine,
            "sigmoid" => ScheduleKind::Sigmoid,
            other => {
                return Err(format!(
                    "beta_schedule \"{other}\" is not supported: linear, scaled_linear, \
                     squaredcos_cap_v2 and sigmoid are"
                ));
            }
        };
        let (cosine_s, max_beta) = DIFFUSERS_COSINE;
        let spec = ScheduleSpec {
            steps: self.num_train_timesteps,
            beta_start: self.beta_start,
            beta_end: self.beta_end,
            cosine_s,
            max_beta,
            zero_terminal_snr: self.rescale_betas_zero_snr,
            ..ScheduleSpec::new(kind)
        };
        Ok(ImportedSchedule {
            spec,
            notes: self.notes(),
        })
    }

    /// Where the fields that do not shape the schedule belong.
    fn notes(&self) -> Vec<String> {
        let mut notes = vec![format!(
            "timestep_spacing \"{}\" and steps_offset {} choose the steps a sampler visits, \
             not the schedule: pick the sampler's spacing (leading, trailing, linspace) where \
             you sample",
            self.timestep_spacing, self.steps_offset
        )];
        notes.push(format!(
            "clip_sample {} is a sampler setting (x̂0 clipped to [−1, 1]; the samplers here clip \
             by default, --no-clip turns it off)",
            self.clip_sample
        ));
        if self.prediction_type != "epsilon" {
            notes.push(format!(
                "prediction_type \"{}\" describes a network, not the schedule; the shipped \
                 U-Nets predict ε",
                self.prediction_type
            ));
        }
        notes
    }

    /// The configuration diffusers would read as `spec` (`DDPMScheduler`, ε-prediction, the
    /// defaults for the rest), or why it cannot express it.
    pub fn from_schedule(spec: &ScheduleSpec) -> Result<Self, String> {
        let beta_schedule = match spec.kind {
            ScheduleKind::Linear => "linear",
            ScheduleKind::ScaledLinear => "scaled_linear",
            ScheduleKind::Sigmoid => "sigmoid",
            ScheduleKind::Cosine => {
                if (spec.cosine_s, spec.max_beta) != DIFFUSERS_COSINE {
                    return Err(format!(
                        "diffusers' squaredcos_cap_v2 fixes the offset s = 0.008 and the cap \
                         β ≤ 0.999; this cosine schedule has s = {} and cap {}",
                        spec.cosine_s, spec.max_beta
                    ));
                }
                "squaredcos_cap_v2"
            }
            ScheduleKind::LinearCombine => {
                return Err("DAED's linear-combine schedule has no diffusers beta_schedule".into());
            }
        };
        Ok(Self {
            class_name: Some("DDPMScheduler".into()),
            num_train_timesteps: spec.steps,
            beta_start: spec.beta_start,
            beta_end: spec.beta_end,
            beta_schedule: beta_schedule.into(),
            rescale_betas_zero_snr: spec.zero_terminal_snr,
            ..Self::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_schedule_round_trips_and_the_rest_is_refused_with_a_reason() {
        for kind in [
            ScheduleKind::Linear,
            ScheduleKind::ScaledLinear,
            ScheduleKind::Sigmoid,
            ScheduleKind::Cosine,
        ] {
            let spec = ScheduleSpec {
                steps: 500,
                zero_terminal_snr: kind == ScheduleKind::ScaledLinear,
                ..ScheduleSpec::new(kind)
            };
            let config = DiffusersConfig::from_schedule(&spec).expect("expressible");
            let text = serde_json::to_string(&config).expect("json");
            let back = DiffusersConfig::from_json(&text).expect("reads");
            let imported = back.to_schedule().expect("imports");
            assert_eq!(imported.spec.kind, kind);
            assert_eq!(imported.spec.steps, 500);
            assert_eq!(imported.spec.zero_terminal_snr, spec.zero_terminal_snr);
            if kind != ScheduleKind::Cosine {
                assert_eq!(
                    (imported.spec.beta_start, imported.spec.beta_end),
                    (spec.beta_start, spec.beta_end)
                );
            }
        }
        let combine = ScheduleSpec::new(ScheduleKind::LinearCombine);
        assert!(DiffusersConfig::from_schedule(&combine).is_err());
        let other_cosine = ScheduleSpec {
            cosine_s: 0.02,
            ..ScheduleSpec::new(ScheduleKind::Cosine)
        };
        let error = DiffusersConfig::from_schedule(&other_cosine).expect_err("refused");
        assert!(error.contains("0.008"), "{error}");
    }

    #[test]
    fn unsupported_fields_are_named_and_sampler_fields_are_noted() {
        let listed = DiffusersConfig::from_json(r#"{"trained_betas": [0.1, 0.2]}"#).expect("json");
        let error = listed.to_schedule().expect_err("refused");
        assert!(error.contains("trained_betas"), "{error}");
        let exp = DiffusersConfig::from_json(r#"{"beta_schedule": "exp"}"#).expect("json");
        assert!(exp.to_schedule().expect_err("refused").contains("\"exp\""));
        let v = DiffusersConfig::from_json(
            r#"{"prediction_type": "v_prediction", "timestep_spacing": "trailing", "variance_type": "fixed_small"}"#,
        )
        .expect("unknown fields are ignored");
        let notes = v.to_schedule().expect("imports").notes.join("\n");
        assert!(
            notes.contains("v_prediction") && notes.contains("trailing"),
            "{notes}"
        );
        assert!(DiffusersConfig::from_json("[1, 2]").is_err());
    }
}
