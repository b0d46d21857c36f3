//! The DAED panel: at a movable switching point s, the full chain, the diffusion model's own
//! one-shot x̂0 from x_s, and DAED (the autoencoder's x̂0 from x_s) side by side; and the FID
//! of each against s.

mod job;
mod state;
mod view;

use eframe::egui;

use super::exports::ExportRequest;
use super::job::{Lane, LaneTarget};
use super::panel::{Command, Panel, Shared};
use super::settings::{DaedSettings, SamplingChoice, Settings, ShippedPair, Tab};
use crate::schedule::{Schedule, ScheduleKind};
use job::{DaedJob, DaedSamples};
use state::{DaedState, DaedTask};

/// The panel: its settings, the samples and sweep shown, and the DAED job.
pub struct DaedPanel {
    settings: DaedSettings,
    state: DaedState,
    lane: Lane<DaedJob>,
    /// The switching point last seen moving, and when: the samples follow once it has rested
    /// for [`SWITCH_REST`] (typing "150" asks once, not for 1, 15 and 150).
    switch_moved: Option<(usize, std::time::Instant)>,
}

/// How long the switching point must rest before the samples follow it.
const SWITCH_REST: std::time::Duration = std::time::Duration::from_millis(400);

impl DaedPanel {
    /// The panel with `settings`.
    pub fn new(settings: DaedSettings, target: &LaneTarget) -> Self {
        Self {
            settings,
            state: DaedState::default(),
            lane: Lane::spawn("noisescope-daed", target),
            switch_moved: None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &DaedSettings {
        &self.settings
    }

    /// The settings, to change them as a script would.
    pub fn settings_mut(&mut self) -> &mut DaedSettings {
        &mut self.settings
    }

    /// The diffusion model's schedule, once samples were computed.
    pub fn schedule(&self) -> Option<&Schedule> {
        self.state.samples.as_ref().map(|s| &s.schedule)
    }

    /// The samples on screen.
    pub fn samples(&self) -> Option<&DaedSamples> {
        self.state.samples.as_ref()
    }

    /// Whether a DAED job (samples or sweep) runs.
    pub fn running(&self) -> bool {
        self.state.running.is_some()
    }

    /// The running job's progress and, before its counted work, what it is doing.
    pub fn progress(&self) -> (Option<(usize, usize)>, Option<&'static str>) {
        (self.lane.progress(), self.state.phase)
    }

    /// The switching point of the samples on screen.
    pub fn shown_s(&self) -> Option<usize> {
        self.state.shown_s()
    }

    /// DAED's images on screen (flat), to compare across switching points.
    pub fn shown_images(&self) -> Option<&[f32]> {
        self.state.samples.as_ref().map(|s| s.daed.as_slice())
    }

    /// The switching points of the sweep on screen.
    pub fn sweep_points(&self) -> Option<Vec<usize>> {
        self.state
            .sweep
            .as_ref()
            .map(|p| p.iter().map(|p| p.s).collect())
    }

    /// Why the last request failed, while that is shown.
    pub fn error(&self) -> Option<&str> {
        self.state.error.as_deref()
    }

    /// Computes the samples at switching point `s` (re-using the lane's chain when only s
    /// changed).
    fn start_samples(&mut self, shared: &Shared<'_>, s: usize) {
        let setup = match state::setup(&self.settings, (shared.models_dir, shared.schedules)) {
            Ok(setup) => setup,
            Err(message) => {
                self.state.error = Some(message);
                return;
            }
        };
        let job = DaedJob::Samples {
            setup: setup.clone(),
            s,
        };
        if self.lane.start(job) {
            self.state.set_running(Some(DaedTask::Samples));
            self.state.requested = Some((setup, s));
        }
    }

    /// Re-requests the samples when only the switching point moved since the last ones and
    /// has rested there for [`SWITCH_REST`].
    fn follow_switch(&mut self, ui: &egui::Ui, shared: &Shared<'_>) {
        let Some((setup, s)) = &self.state.requested else {
            return;
        };
        // Cheap checks first: the setup looks for the weights files on disk.
        let moved = *s != shared.switch_t;
        if !moved || self.state.running.is_some() || self.state.error.is_some() {
            return;
        }
        match self.switch_moved {
            Some((seen, at)) if seen == shared.switch_t && at.elapsed() >= SWITCH_REST => {}
            Some((seen, at)) if seen == shared.switch_t => {
                ui.ctx()
                    .request_repaint_after(SWITCH_REST.saturating_sub(at.elapsed()));
                return;
            }
            _ => {
                self.switch_moved = Some((shared.switch_t, std::time::Instant::now()));
                ui.ctx().request_repaint_after(SWITCH_REST);
                return;
            }
        }
        let same_setup = state::setup(&self.settings, (shared.models_dir, shared.schedules))
            .is_ok_and(|now| now == *setup);
        if same_setup {
            self.start_samples(shared, shared.switch_t);
        }
    }

    /// Runs the FID sweep from s = 0 to the autoencoder's t_max (from the cache when done
    /// before).
    fn start_sweep(&mut self, shared: &Shared<'_>) {
        let mut setup = match state::setup(&self.settings, (shared.models_dir, shared.schedules)) {
            Ok(setup) => setup,
            Err(message) => {
                self.state.error = Some(message);
                return;
            }
        };
        let images = self.settings.sweep_images.clamp(2, state::MAX_SWEEP_IMAGES);
        setup.batch = images.min(64);
        let t_max = self.state.samples.as_ref().map_or(250, |s| s.t_max);
        let switches = crate::experiment::sweep_switches(t_max, self.settings.sweep_points);
        let key = state::sweep_key(&setup, images, &switches);
        if let Some(points) = self.state.sweep_cache.get(&key) {
            self.state.sweep = Some(points.clone());
            return;
        }
        let job = DaedJob::Sweep {
            setup,
            images,
            switches,
        };
        if self.lane.start_counting(job, images) {
            self.state.set_running(Some(DaedTask::Sweep));
            self.state.sweep_key = Some(key);
            self.state.sweep_started = Some(std::time::Instant::now());
        }
    }

    /// Stops the job; what is shown stays, and a result still in flight is dropped.
    fn cancel(&mut self) {
        self.lane.cancel();
        self.state.set_running(None);
        let shown_s = self.state.shown_s().unwrap_or(0);
        self.state.requested = self
            .state
            .samples
            .as_ref()
            .and(self.state.requested.clone())
            .map(|(setup, _)| (setup, shown_s));
    }

    /// The sweep, as a CSV export.
    fn export(&self) -> ExportRequest {
        ExportRequest::Table {
            stem: "daed-sweep".to_owned(),
            csv: crate::experiment::sweep_csv(self.state.sweep.as_deref().unwrap_or_default()),
        }
    }
}

impl Panel for DaedPanel {
    fn restore(&mut self, settings: &Settings, shared: &Shared<'_>, shown: bool) {
        self.settings = settings.daed.clone();
        let wanted = state::setup(&self.settings, (shared.models_dir, shared.schedules))
            .ok()
            .map(|setup| (setup, shared.switch_t));
        if shown && (wanted.is_none() || wanted != self.state.requested) {
            self.start_samples(shared, shared.switch_t);
        }
    }

    fn tab(&self) -> Tab {
        Tab::Daed
    }

    fn title(&self) -> &'static str {
        "DAED"
    }

    fn poll(&mut self, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        for update in self.lane.poll() {
            self.state.apply(update);
        }
        // The others refer the switching point to the schedule this panel samples under.
        let model = self.settings.model;
        let kind = match (self.settings.condition.sampling, model) {
            (SamplingChoice::Compared(slot), _) => {
                shared.schedules.get(slot).map(|s| s.spec().kind)
            }
            (SamplingChoice::Trained, ShippedPair::Linear) => Some(ScheduleKind::Linear),
            (SamplingChoice::Trained, ShippedPair::Cosine) => Some(ScheduleKind::Cosine),
        };
        // The samples on screen may still be another model's.
        let known = self.schedule().filter(|s| Some(s.spec().kind) == kind);
        let reported = shared.daed_schedule.map(Schedule::spec);
        if model != shared.daed_model || known.map(Schedule::spec) != reported {
            commands.push(Command::SetDaedModel(model, known.cloned()));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        let progress = self.lane.progress();
        match view::daed_ui(ui, self, shared, progress, commands) {
            view::Action::Sample => self.start_samples(shared, shared.switch_t),
            view::Action::Sweep => self.start_sweep(shared),
            view::Action::Cancel => self.cancel(),
            view::Action::Export => commands.push(Command::Export(self.export())),
            view::Action::None => self.follow_switch(ui, shared),
        }
    }

    fn idle(&self) -> bool {
        self.lane.idle()
    }
}
