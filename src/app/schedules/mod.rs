//! The Schedules panel: up to four schedules edited live, their plots, and a sanity read-out.
//! The compared schedules it holds are what the Forward and Analysis panels show.

mod slots;
mod view;

use eframe::egui;

pub use slots::ScheduleSlot;
pub use view::SLOT_COLORS;

use super::file_dialog::{PendingDialog, SCHEDULER_CONFIG_FILE, take_answer};
use super::panel::{Command, Panel, Shared};
use super::settings::{MAX_SCHEDULES, SchedulesSettings, Settings, Tab};
use crate::schedule::{DiffusersConfig, Schedule};

/// The panel: its settings and the compared schedules.
pub struct SchedulesPanel {
    settings: SchedulesSettings,
    slots: Vec<ScheduleSlot>,
    file_dialog: Option<PendingDialog>,
    /// Why the last import failed.
    import_error: Option<String>,
}

impl SchedulesPanel {
    /// The panel with the schedules of `settings` (the defaults when it has none).
    pub fn new(mut settings: SchedulesSettings) -> Self {
        settings.specs.truncate(MAX_SCHEDULES);
        if settings.specs.is_empty() {
            settings.specs = SchedulesSettings::default().specs;
        }
        let slots = settings
            .specs
            .iter()
            .cloned()
            .map(ScheduleSlot::new)
            .collect();
        Self {
            settings,
            slots,
            file_dialog: None,
            import_error: None,
        }
    }

    /// Adds the schedule of a diffusers scheduler config as a new slot (the last slot when four
    /// are compared), noting what was not taken over; a file that cannot be imported changes
    /// nothing and says why.
    pub fn import_config(&mut self, path: &std::path::Path) {
        let imported = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| DiffusersConfig::from_json(&text))
            .and_then(|config| config.to_schedule())
            .map_err(|e| format!("{}: {e}", path.display()));
        match imported {
            Ok(imported) => {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let mut slot = ScheduleSlot::new(imported.spec);
                slot.note = Some(format!(
                    "from the diffusers config {name}. Not part of the schedule: {}.",
                    imported.notes.join("; ")
                ));
                if self.slots.len() >= MAX_SCHEDULES {
                    self.slots.pop();
                }
                self.slots.push(slot);
                self.import_error = None;
            }
            Err(message) => self.import_error = Some(message),
        }
    }

    /// Why the last import failed, if it did.
    pub fn import_error(&self) -> Option<&str> {
        self.import_error.as_deref()
    }

    /// The settings to remember, with the schedules as typed.
    pub fn settings(&self) -> SchedulesSettings {
        SchedulesSettings {
            specs: self.slots.iter().map(|s| s.draft.clone()).collect(),
            ..self.settings.clone()
        }
    }

    /// The compared slots.
    pub fn slots(&self) -> &[ScheduleSlot] {
        &self.slots
    }

    /// The last valid schedule of every slot.
    pub fn schedules(&self) -> Vec<Schedule> {
        self.slots.iter().map(|s| s.schedule.clone()).collect()
    }
}

impl Panel for SchedulesPanel {
    fn restore(&mut self, settings: &Settings, _shared: &Shared<'_>, _shown: bool) {
        *self = Self::new(settings.schedules.clone());
    }

    fn tab(&self) -> Tab {
        Tab::Schedules
    }

    fn title(&self) -> &'static str {
        "Schedules"
    }

    fn poll(&mut self, _shared: &Shared<'_>, _commands: &mut Vec<Command>) {
        match take_answer(&mut self.file_dialog, &SCHEDULER_CONFIG_FILE) {
            Some(Ok(path)) => self.import_config(&path),
            Some(Err(message)) => self.import_error = Some(message),
            None => {}
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        let import = view::schedules_ui(
            ui,
            (&mut self.slots, &mut self.settings),
            (self.file_dialog.is_none(), self.import_error.as_deref()),
            (shared.cursor_t, shared.controls),
            commands,
        );
        if import {
            self.file_dialog = Some(PendingDialog::open(ui.ctx(), &SCHEDULER_CONFIG_FILE));
        }
        let changed = self.slots.len() != shared.schedules.len()
            || self
                .slots
                .iter()
                .zip(shared.schedules)
                .any(|(slot, shown)| slot.schedule.spec() != shown.spec());
        if changed {
            commands.push(Command::SetSchedules(self.schedules()));
        }
    }
}
