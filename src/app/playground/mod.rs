//! The Playground panel: train a small model on 2D points on a background thread, watch the
//! loss fall, then scrub the sampled points from noise to data.

mod forward;
mod job;
mod state;
mod view;

use eframe::egui;

use super::file_dialog::{POINTS_FILE, PendingDialog, take_answer};
use super::job::{Lane, LaneTarget};
use super::panel::{Command, Panel, Shared};
use super::settings::{PlaygroundSettings, PlaygroundSource, SamplerChoice, Tab};
use crate::toy::{Objective, ToySampler, ToyTraining};
use job::{ToyJob, ToySource};
pub use state::PlaygroundState;

/// The panel: its settings, its results and the training lane.
pub struct PlaygroundPanel {
    settings: PlaygroundSettings,
    state: PlaygroundState,
    lane: Lane<ToyJob>,
    file_dialog: Option<PendingDialog>,
}

impl PlaygroundPanel {
    /// The panel with `settings`.
    pub fn new(settings: PlaygroundSettings, target: &LaneTarget) -> Self {
        Self {
            settings,
            state: PlaygroundState::default(),
            lane: Lane::spawn("noisescope-playground", target),
            file_dialog: None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &PlaygroundSettings {
        &self.settings
    }

    /// The settings, to change them as a script would.
    pub fn settings_mut(&mut self) -> &mut PlaygroundSettings {
        &mut self.settings
    }

    /// The results.
    pub fn state(&self) -> &PlaygroundState {
        &self.state
    }

    /// Takes x,y points from a CSV file as the person's points (replacing a drawing); a bad
    /// file is refused with the reason and changes nothing.
    pub fn load_points_file(&mut self, path: &std::path::Path) {
        match crate::toy::read_csv(path) {
            Ok(points) => {
                self.settings.source = PlaygroundSource::Drawn;
                self.settings.drawn = points;
                self.settings.strokes = vec![0];
                self.state.clear_results();
            }
            Err(message) => self.state.error = Some(message),
        }
    }

    fn poll_file_dialog(&mut self) {
        match take_answer(&mut self.file_dialog, &POINTS_FILE) {
            Some(Ok(path)) => self.load_points_file(&path),
            Some(Err(message)) => self.state.error = Some(message),
            None => {}
        }
    }

    /// Whether a run (training, then sampling) is going.
    pub fn running(&self) -> bool {
        self.lane.running()
    }

    /// Trains and samples with the settings, replacing any run.
    fn start(&mut self, shared: &Shared<'_>) {
        match job_for(&self.settings, shared) {
            Ok(job) => {
                let total = job.training.steps as usize;
                if self.lane.start_counting(job, total) {
                    self.state = PlaygroundState::default();
                }
            }
            Err(message) => self.state.error = Some(message),
        }
    }
}

/// The run the settings describe, under the chosen compared schedule.
fn job_for(settings: &PlaygroundSettings, shared: &Shared<'_>) -> Result<ToyJob, String> {
    let schedule = shared
        .schedules
        .get(settings.schedule_slot)
        .ok_or_else(|| {
            format!(
                "the Schedules panel compares {} schedules, not {}: choose another",
                shared.schedules.len(),
                settings.schedule_slot + 1
            )
        })?
        .clone();
    if !(1..=crate::toy::MAX_POINTS).contains(&settings.n) || settings.steps == 0 {
        return Err("sample at least one point and train at least one step".into());
    }
    let sampler = if settings.objective == Objective::Flow {
        ToySampler::FlowEuler {
            steps: settings.sampler_steps,
        }
    } else {
        let mut config = settings.sampler.chain(settings.sampler_steps);
        config.clip_x0 = false;
        if settings.sampler != SamplerChoice::Ddpm {
            config.plan(&schedule, schedule.steps())?;
        }
        ToySampler::Diffusion(config)
    };
    let data = match settings.source {
        PlaygroundSource::BuiltIn => ToySource::BuiltIn(settings.data),
        PlaygroundSource::Drawn => ToySource::Drawn(settings.drawn.clone()),
    };
    Ok(ToyJob {
        data,
        training: ToyTraining {
            steps: settings.steps,
            seed: settings.seed,
            ..ToyTraining::new(settings.objective, schedule)
        },
        sampler,
        n: settings.n,
    })
}

impl Panel for PlaygroundPanel {
    fn tab(&self) -> Tab {
        Tab::Playground
    }

    fn title(&self) -> &'static str {
        "Playground"
    }

    fn poll(&mut self, shared: &Shared<'_>, _commands: &mut Vec<Command>) {
        self.lane
            .note_frame(shared.frame_cpu, &mut self.state.slowest_frame);
        for update in self.lane.poll() {
            self.state.apply(update);
        }
        self.poll_file_dialog();
    }

    fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        let progress = self.lane.progress();
        match view::playground_ui(ui, self, shared, (progress, commands)) {
            view::Action::Run => self.start(shared),
            view::Action::Cancel => self.lane.cancel(),
            view::Action::None => {}
        }
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        if self.state.slowest_frame > 0.0 {
            ui.separator();
            let text = format!(
                "slowest UI frame while training: {:.0} ms",
                self.state.slowest_frame * 1e3
            );
            ui.label(egui::RichText::new(text).small());
        }
    }

    fn idle(&self) -> bool {
        self.lane.idle()
    }
}
