//! The Schedules panel: up to four schedules edited live, their plots, and a sanity read-out.
//! The compared schedules it holds are what the Forward and Analysis panels show.

mod slots;
mod view;

use eframe::egui;

pub use slots::ScheduleSlot;
pub use view::SLOT_COLORS;

use super::panel::{Command, Panel, Shared};
use super::settings::{MAX_SCHEDULES, SchedulesSettings, Tab};
use crate::schedule::Schedule;

/// The panel: its settings and the compared schedules.
pub struct SchedulesPanel {
    settings: SchedulesSettings,
    slots: Vec<ScheduleSlot>,
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
        Self { settings, slots }
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
    fn tab(&self) -> Tab {
        Tab::Schedules
    }

    fn title(&self) -> &'static str {
        "Schedules"
    }

    fn poll(&mut self, _shared: &Shared<'_>, _commands: &mut Vec<Command>) {}

    fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        view::schedules_ui(
            ui,
            &mut self.slots,
            &mut self.settings,
            shared.cursor_t,
            commands,
        );
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
