//! The class picker, guidance scale and "sample with" menu that the Reverse, Analysis and DAED
//! panels share, and what they mean for the models.

use eframe::egui;

use super::settings::{ConditionSettings, SamplingChoice};
use crate::data::FASHION_CLASSES;
use crate::model::{Condition, MAX_GUIDANCE};
use crate::schedule::Schedule;

/// Which of the controls a panel offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Class, guidance and sampling schedule.
    ClassAndSchedule,
    /// Class and guidance (the panel samples under the model's own schedule).
    Class,
    /// The sampling schedule alone (the panel reconstructs given images).
    ScheduleOnly,
}

/// Draws the controls; true when something changed.
pub fn condition_ui(
    ui: &mut egui::Ui,
    settings: &mut ConditionSettings,
    schedules: &[Schedule],
    offer: Offer,
) -> bool {
    let before = settings.clone();
    if offer != Offer::ScheduleOnly {
        class_picker(ui, &mut settings.class);
        ui.add_enabled(
            settings.class.is_some(),
            egui::Slider::new(&mut settings.guidance, 0.0..=MAX_GUIDANCE)
                .text("guidance w")
                .max_decimals(2),
        )
        .on_hover_text(
            "classifier-free guidance (Ho & Salimans 2022): ε̂ = ε̂_uncond + (1 + w)(ε̂_cond − \
             ε̂_uncond); 0 is the plain conditional model",
        )
        .on_disabled_hover_text("guidance needs a class");
    }
    if offer != Offer::Class {
        sampling_picker(ui, &mut settings.sampling, schedules);
    }
    *settings != before
}

/// The controls on a row of their own.
pub fn condition_row(
    ui: &mut egui::Ui,
    settings: &mut ConditionSettings,
    schedules: &[Schedule],
    offer: Offer,
) {
    ui.horizontal_wrapped(|ui| {
        condition_ui(ui, settings, schedules, offer);
    });
}

fn class_picker(ui: &mut egui::Ui, class: &mut Option<usize>) {
    let name = |c: Option<usize>| c.map_or("any class", |c| FASHION_CLASSES[c]);
    egui::ComboBox::from_label("class")
        .selected_text(name(*class))
        .height(320.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(class, None, name(None));
            for index in 0..FASHION_CLASSES.len() {
                ui.selectable_value(class, Some(index), name(Some(index)));
            }
        })
        .response
        .on_hover_text("needs a class-conditioned model; \"any class\" is the unconditional one");
}

fn sampling_picker(ui: &mut egui::Ui, sampling: &mut SamplingChoice, schedules: &[Schedule]) {
    egui::ComboBox::from_label("sample with")
        .selected_text(sampling_name(*sampling, schedules))
        .show_ui(ui, |ui| {
            let trained = SamplingChoice::Trained;
            ui.selectable_value(sampling, trained, sampling_name(trained, schedules));
            for slot in 0..schedules.len() {
                let choice = SamplingChoice::Compared(slot);
                ui.selectable_value(sampling, choice, sampling_name(choice, schedules));
            }
        })
        .response
        .on_hover_text(
            "a model conditioned on the log-SNR can run its reverse process under another \
             schedule, within the λ range it was trained on",
        );
}

/// The menu's name of `choice`.
pub fn sampling_name(choice: SamplingChoice, schedules: &[Schedule]) -> String {
    match choice {
        SamplingChoice::Trained => "each model's training schedule".to_owned(),
        SamplingChoice::Compared(slot) => match schedules.get(slot) {
            Some(schedule) => format!("schedule {}: {}", slot + 1, schedule.spec().label()),
            None => format!("schedule {} (no longer compared)", slot + 1),
        },
    }
}

/// The models' [`Condition`] for `settings`, with the Schedules panel's `schedules`; refused
/// when the chosen slot is no longer compared.
pub fn resolve(settings: &ConditionSettings, schedules: &[Schedule]) -> Result<Condition, String> {
    let sampling = match settings.sampling {
        SamplingChoice::Trained => None,
        SamplingChoice::Compared(slot) => Some(
            schedules
                .get(slot)
                .ok_or_else(|| {
                    format!(
                        "sample with: the Schedules panel compares {} schedules, not {}; choose \
                         another",
                        schedules.len(),
                        slot + 1
                    )
                })?
                .spec()
                .clone(),
        ),
    };
    let condition = Condition {
        class: settings.class,
        guidance: if settings.class.is_some() {
            settings.guidance
        } else {
            0.0
        },
        sampling,
    };
    condition.check()?;
    Ok(condition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{ScheduleKind, ScheduleSpec};

    #[test]
    fn a_compared_slot_becomes_its_schedule_and_a_missing_one_is_refused() {
        let cosine = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("valid");
        let settings = ConditionSettings {
            class: Some(3),
            guidance: 2.5,
            sampling: SamplingChoice::Compared(0),
        };
        let condition = resolve(&settings, std::slice::from_ref(&cosine)).expect("valid");
        assert_eq!(condition.sampling.as_ref(), Some(cosine.spec()));
        assert_eq!((condition.class, condition.guidance), (Some(3), 2.5));
        let missing = resolve(&settings, &[]).expect_err("no slot 1");
        assert!(missing.contains("compares 0 schedules"), "{missing}");
        let any = ConditionSettings {
            class: None,
            ..settings
        };
        let condition = resolve(&any, &[cosine]).expect("valid");
        assert_eq!(condition.guidance, 0.0, "no guidance without a class");
    }
}
