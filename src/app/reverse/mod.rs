//! The Reverse panel: sample with the shipped U-Nets side by side from the same x_T, then scrub
//! or play every recorded step.

mod export;
mod frequency;
mod history;
mod job;
mod kept;
mod state;
mod view;

use eframe::egui;

pub use state::{
    MAX_BATCH, ModelRun, ReverseState, check_recording_size, model_files, sampler_config,
    shipped_file,
};

use super::condition::resolve;
use super::exports::ExportRequest;
use super::job::{Lane, LaneTarget, Update};
use super::panel::{Command, Panel, Shared};
use super::settings::{ReverseSettings, Settings, Tab};
use crate::schedule::ScheduleSpec;
pub use history::ModelHistory;
use history::{HistoryJob, HistoryState};
pub use job::SampleJob;
pub use kept::RunStore;

/// The panel: its settings, the recorded runs and the sampling job.
pub struct ReversePanel {
    settings: ReverseSettings,
    state: ReverseState,
    lane: Lane<SampleJob>,
    history: HistoryState,
    history_lane: Lane<HistoryJob>,
    /// The test images' mean spectrum, once the frequency view needed it.
    data_spectrum: Option<crate::metrics::RadialSpectrum>,
    /// What the runs on screen were sampled with.
    sampled_with: Option<SamplingKey>,
    /// Whether the cursor goes to the finished samples (t = 1) when the run ends: after Sample,
    /// not after a scene, which lands where it was saved.
    land_on_samples: bool,
    /// Where finished runs are kept between sessions (none in tests unless asked for).
    keep: Option<RunStore>,
    /// Whether the run kept for the settings was looked for (once, at start).
    looked_for_kept: bool,
}

/// The sampling job `settings` ask for, with the label of each model's column; models are
/// looked for in `models_dir` (the assets' when `None`).
pub fn sample_job(
    settings: &ReverseSettings,
    models_dir: Option<&std::path::Path>,
    schedules: &[crate::schedule::Schedule],
) -> Result<(SampleJob, Vec<String>), String> {
    let config = sampler_config(settings);
    let files = model_files(settings.models, models_dir)?;
    let condition = resolve(&settings.condition, schedules)?;
    // DDPM's steps are the models' own T, which the job checks once it has loaded them.
    let steps = config.kind.steps().map_or(1, |(steps, _)| steps);
    let guided = condition.class.is_some();
    check_recording_size(files.len(), steps, settings.batch, guided)?;
    let (labels, models) = files.into_iter().unzip();
    let job = SampleJob {
        models,
        config,
        batch: settings.batch,
        seed: settings.seed,
        condition,
        keep: None,
        replay_only: false,
    };
    Ok((job, labels))
}

/// What a sampling run depends on: the settings but the shown image and the playback speed,
/// and the compared schedules (a model may sample under one).
type SamplingKey = (ReverseSettings, Vec<ScheduleSpec>);

fn sampling_key(settings: &ReverseSettings, shared: &Shared<'_>) -> SamplingKey {
    let mut settings = settings.clone();
    settings.selected = 0;
    settings.speed = 0.0;
    let specs = shared.schedules.iter().map(|s| s.spec().clone()).collect();
    (settings, specs)
}

impl ReversePanel {
    /// The panel with `settings`.
    pub fn new(settings: ReverseSettings, target: &LaneTarget) -> Self {
        Self {
            settings,
            state: ReverseState::default(),
            lane: Lane::spawn("noisescope-sampler", target),
            history: HistoryState::default(),
            history_lane: Lane::spawn("noisescope-history", target),
            data_spectrum: None,
            sampled_with: None,
            land_on_samples: false,
            keep: None,
            looked_for_kept: false,
        }
    }

    /// Keeps finished runs in `store` and shows the run kept for the settings at start.
    pub fn set_run_store(&mut self, store: Option<RunStore>) {
        self.keep = store;
    }

    /// The settings.
    pub fn settings(&self) -> &ReverseSettings {
        &self.settings
    }

    /// The settings, to change them as a script would.
    pub fn settings_mut(&mut self) -> &mut ReverseSettings {
        &mut self.settings
    }

    /// The runs and what the job reported.
    pub fn state(&self) -> &ReverseState {
        &self.state
    }

    /// Whether a sampling job runs.
    pub fn sampling(&self) -> bool {
        self.lane.running()
    }

    /// The training histories read so far.
    pub fn history(&self) -> &HistoryState {
        &self.history
    }

    /// Reads the histories of the models the settings show, unless they are read already.
    fn ensure_history(&mut self, shared: &Shared<'_>) {
        let files = match model_files(self.settings.models, shared.models_dir) {
            Ok(files) => files,
            Err(message) => {
                self.history.error = Some(message);
                return;
            }
        };
        if self.history.asked != files {
            self.history = HistoryState {
                asked: files.clone(),
                ..HistoryState::default()
            };
            self.history_lane.start(HistoryJob { models: files });
        }
    }

    /// Starts sampling with the settings, replacing any running job; a run kept from an
    /// earlier session with the same settings is replayed instead, and with `replay_only`
    /// nothing is sampled when there is none.
    fn start_sampling(&mut self, shared: &Shared<'_>, replay_only: bool) {
        let (mut job, labels) =
            match sample_job(&self.settings, shared.models_dir, shared.schedules) {
                Ok(planned) => planned,
                Err(message) if !replay_only => {
                    self.state.error = Some(message);
                    return;
                }
                Err(_) => return,
            };
        job.keep = self.keep.clone();
        job.replay_only = replay_only;
        if self.lane.start(job) {
            self.sampled_with = Some(sampling_key(&self.settings, shared));
            self.state = ReverseState {
                runs: labels.into_iter().map(ModelRun::new).collect(),
                requested: Some(std::time::Instant::now()),
                ..Default::default()
            };
        }
    }

    /// Advances playback (towards t = 1) by the time since the last frame.
    fn advance_playback(&mut self, ui: &egui::Ui, cursor_t: usize, commands: &mut Vec<Command>) {
        if !self.state.playing {
            return;
        }
        let dt = f64::from(ui.input(|i| i.stable_dt)).min(0.1);
        self.state.play_carry += dt * self.settings.speed;
        let whole = self.state.play_carry.floor();
        self.state.play_carry -= whole;
        let t = cursor_t.saturating_sub(whole as usize).max(1);
        commands.push(Command::SetCursor(t));
        if t == 1 {
            self.state.playing = false;
        }
        ui.ctx().request_repaint();
    }
}

impl Panel for ReversePanel {
    fn restore(&mut self, settings: &Settings, shared: &Shared<'_>, shown: bool) {
        self.settings = settings.reverse.clone();
        self.state.playing = false;
        self.land_on_samples = false;
        if shown && self.sampled_with != Some(sampling_key(&self.settings, shared)) {
            self.start_sampling(shared, false);
        }
    }

    fn tab(&self) -> Tab {
        Tab::Reverse
    }

    fn title(&self) -> &'static str {
        "Reverse"
    }

    fn poll(&mut self, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        if !std::mem::replace(&mut self.looked_for_kept, true)
            && self.keep.is_some()
            && self.sampled_with.is_none()
        {
            self.start_sampling(shared, true);
        }
        self.lane
            .note_frame(shared.frame_cpu, &mut self.state.slowest_frame);
        for update in self.lane.poll() {
            if matches!(update, Update::Done { .. }) && std::mem::take(&mut self.land_on_samples) {
                commands.push(Command::SetCursor(1));
            }
            self.state.apply(update);
        }
        if self.state.runs.is_empty() {
            // A replay-only job found nothing kept: the panel is as it was, Sample starts afresh.
            self.sampled_with = None;
            self.state.seconds = None;
        }
        for update in self.history_lane.poll() {
            self.history.apply(update);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        let typing = ui.ctx().egui_wants_keyboard_input();
        if !typing && ui.input(|i| i.key_pressed(egui::Key::Space)) {
            self.state.playing = !self.state.playing;
        }
        let max_t = self.max_t().unwrap_or(1000);
        match view::reverse_ui(ui, self, shared, max_t, commands) {
            view::Action::Sample => {
                self.start_sampling(shared, false);
                self.land_on_samples = true;
            }
            view::Action::Cancel => self.lane.cancel(),
            view::Action::None => {}
        }
        self.advance_playback(ui, shared.cursor_t, commands);
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        // A kept run was read, not sampled: there is no sampling to time.
        if self.state.slowest_frame > 0.0 && self.state.kept_from.is_none() {
            ui.separator();
            let mut text = format!(
                "slowest UI frame while sampling: {:.0} ms",
                self.state.slowest_frame * 1e3
            );
            if let Some(seconds) = self.state.first_step_after {
                text += &format!(
                    " · first step on screen {:.0} ms after Sample",
                    seconds * 1e3
                );
            }
            ui.label(egui::RichText::new(text).small());
        }
    }

    fn max_t(&self) -> Option<usize> {
        self.state.max_steps()
    }

    fn idle(&self) -> bool {
        self.lane.idle() && self.history_lane.idle()
    }

    fn screen_export(&self, shared: &Shared<'_>) -> Vec<ExportRequest> {
        self.state.batch_exports(shared.cursor_t)
    }
}
