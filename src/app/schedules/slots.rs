//! A compared schedule: what the user typed, and the last valid schedule it gave.

use crate::schedule::{Schedule, ScheduleSpec};

/// One schedule of the comparison.
#[derive(Clone, Debug)]
pub struct ScheduleSlot {
    /// The parameters as edited, possibly invalid.
    pub draft: ScheduleSpec,
    /// The last valid schedule; plots and images use it.
    pub schedule: Schedule,
    /// Why the draft is rejected, while it is.
    pub error: Option<String>,
    /// Where the schedule came from and what of it was not taken over (an imported config).
    pub note: Option<String>,
}

impl ScheduleSlot {
    /// A slot from a spec; an invalid spec falls back to its kind's defaults, with the reason.
    pub fn new(spec: ScheduleSpec) -> Self {
        match Schedule::new(spec.clone()) {
            Ok(schedule) => Self {
                draft: spec,
                schedule,
                error: None,
                note: None,
            },
            Err(error) => {
                let fallback = ScheduleSpec::new(spec.kind);
                let schedule = Schedule::new(fallback).unwrap_or_else(|e| {
                    unreachable!("published defaults are valid: {e}");
                });
                Self {
                    draft: spec,
                    schedule,
                    error: Some(format!("{error} — using the defaults")),
                    note: None,
                }
            }
        }
    }

    /// Re-evaluates the draft after an edit; keeps the last valid schedule when it fails.
    pub fn apply_draft(&mut self) {
        if self.draft == *self.schedule.spec() {
            self.error = None;
            return;
        }
        match Schedule::new(self.draft.clone()) {
            Ok(schedule) => {
                self.schedule = schedule;
                self.error = None;
            }
            Err(error) => self.error = Some(format!("{error} — showing the last valid schedule")),
        }
    }
}
