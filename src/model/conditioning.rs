//! A loaded U-Net asked for a class, with classifier-free guidance, under a sampling schedule:
//! what `sample`, `evaluate` and the app's panels run their samplers with.

use super::{Guided, LoadedUNet, NoiseInput, WithinTrainedLogSnr};
use crate::data::FASHION_CLASSES;
use crate::schedule::{Schedule, ScheduleSpec};

/// The guidance scale w used when a class is asked for and no scale is given.
pub const DEFAULT_GUIDANCE: f64 = 1.0;

/// The largest guidance scale offered (beyond it the samples saturate into caricatures).
pub const MAX_GUIDANCE: f64 = 10.0;

/// What to generate, and under which schedule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Condition {
    /// The class (an index into [`FASHION_CLASSES`]); `None`: any class, the unconditional
    /// model, one evaluation per step.
    pub class: Option<usize>,
    /// The guidance scale w ≥ 0 (used with a class).
    pub guidance: f64,
    /// Sample under this schedule instead of the model's own (log-SNR-conditioned models).
    pub sampling: Option<ScheduleSpec>,
}

/// A model under a [`Condition`], ready for the samplers.
pub struct Conditioned<'a> {
    /// The model with guidance, evaluated within its trained λ.
    pub denoiser: WithinTrainedLogSnr<Guided<'a>>,
    /// The schedule to sample under.
    pub schedule: Schedule,
    /// The schedule the model was trained with.
    pub trained: Schedule,
    /// Set when the sampling schedule leaves the trained λ range (and is clamped to it).
    pub note: Option<String>,
}

impl Condition {
    /// Refuses a class that does not exist and a guidance scale that is not in 0..=MAX.
    pub fn check(&self) -> Result<(), String> {
        if let Some(class) = self.class
            && class >= FASHION_CLASSES.len()
        {
            return Err(format!(
                "class {class} does not exist: the classes are 0–{}",
                FASHION_CLASSES.len() - 1
            ));
        }
        if !(0.0..=MAX_GUIDANCE).contains(&self.guidance) {
            return Err(format!(
                "the guidance scale {} must lie in 0–{MAX_GUIDANCE}",
                self.guidance
            ));
        }
        Ok(())
    }

    /// `loaded` under this condition; refuses a class for an unconditional model and another
    /// schedule for a step-conditioned one.
    pub fn apply<'a>(&self, loaded: &'a LoadedUNet) -> Result<Conditioned<'a>, String> {
        self.check()?;
        if self.class.is_some() && loaded.model.module.classes() == 0 {
            return Err(
                "this model is not class-conditioned (train --classes 10): it can only \
                 generate \"any class\""
                    .into(),
            );
        }
        let trained = Schedule::new(loaded.schedule.clone()).map_err(|e| e.to_string())?;
        let (low, high) = log_snr_range(&trained);
        let (schedule, note) = match &self.sampling {
            None => (trained.clone(), None),
            Some(spec) => sampling_schedule(loaded, spec, (low, high))?,
        };
        let denoiser = WithinTrainedLogSnr {
            inner: Guided::new(&loaded.model, self.class, self.guidance),
            low,
            high,
        };
        Ok(Conditioned {
            denoiser,
            schedule,
            trained,
            note,
        })
    }
}

/// `spec` as the schedule to sample `loaded` under, with a note when its λ leave `trained`.
fn sampling_schedule(
    loaded: &LoadedUNet,
    spec: &ScheduleSpec,
    (low, high): (f64, f64),
) -> Result<(Schedule, Option<String>), String> {
    if loaded.model.module.noise_input() != NoiseInput::LogSnr {
        return Err(
            "sampling under another schedule needs a model conditioned on the log-SNR (train \
             --noise-input logsnr); this one is conditioned on the step t of its own schedule"
                .into(),
        );
    }
    let sampling = Schedule::new(spec.clone()).map_err(|e| e.to_string())?;
    let (s_low, s_high) = log_snr_range(&sampling);
    let note = (s_low < low - 1e-9 || s_high > high + 1e-9).then(|| {
        format!(
            "{} spans λ {s_low:.2}…{s_high:.2}, the model was trained on {low:.2}…{high:.2}; \
             beyond that it is evaluated at the nearest trained λ",
            sampling.spec().label()
        )
    });
    Ok((sampling, note))
}

/// The lowest and highest finite log-SNR of `schedule`.
pub fn log_snr_range(schedule: &Schedule) -> (f64, f64) {
    let values = schedule.log_snr();
    let finite = values.iter().copied().filter(|l| l.is_finite());
    finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
        (lo.min(l), hi.max(l))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_scales_outside_their_ranges_are_refused() {
        let ok = Condition {
            class: Some(9),
            guidance: 2.0,
            sampling: None,
        };
        assert!(ok.check().is_ok());
        let class = Condition {
            class: Some(10),
            ..ok.clone()
        };
        assert!(class.check().expect_err("no class 10").contains("0–9"));
        for guidance in [-0.5, f64::NAN, f64::INFINITY, 11.0] {
            let bad = Condition {
                guidance,
                ..ok.clone()
            };
            assert!(bad.check().is_err(), "{guidance}");
        }
    }

    #[test]
    fn the_log_snr_range_skips_infinities() {
        let spec = ScheduleSpec {
            zero_terminal_snr: true,
            ..ScheduleSpec::new(crate::schedule::ScheduleKind::Linear)
        };
        let (low, high) = log_snr_range(&Schedule::new(spec).expect("valid"));
        assert!(low.is_finite() && high.is_finite() && low < high);
    }
}
