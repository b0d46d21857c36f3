//! The Playground panel: train a small model on 2D points on a background thread, watch the
//! loss fall, then scrub the sampled points from noise to data.

mod forward;
mod job;
mod state;
mod view;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eframe::egui;

use super::file_dialog::{POINTS_FILE, PendingDialog, take_answer};
use super::job::{Lane, LaneTarget};
use super::panel::{Command, Panel, Shared};
use super::settings::{
    PlaygroundSettings, PlaygroundSource, SamplerChoice, Settings, Tab, ToyModelChoice,
};
use crate::schedule::Schedule;
use crate::toy::{Objective, ToySampler, ToyTraining};
use job::{ToyJob, ToyModelRun, ToySource};
pub use state::{ModelResults, PlaygroundState};

/// The panel: its settings, its results and the training lane.
pub struct PlaygroundPanel {
    settings: PlaygroundSettings,
    state: PlaygroundState,
    lane: Lane<ToyJob>,
    file_dialog: Option<PendingDialog>,
    /// Shared with the running job: while set, training waits.
    pause: Arc<AtomicBool>,
}

impl PlaygroundPanel {
    /// The panel with `settings`.
    pub fn new(settings: PlaygroundSettings, target: &LaneTarget) -> Self {
        Self {
            settings,
            state: PlaygroundState::default(),
            lane: Lane::spawn("noisescope-playground", target),
            file_dialog: None,
            pause: Arc::new(AtomicBool::new(false)),
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

    /// Whether the running training waits.
    pub fn paused(&self) -> bool {
        self.running() && self.pause.load(Ordering::SeqCst)
    }

    /// Trains and samples with the settings, replacing any run.
    fn start(&mut self, shared: &Shared<'_>) {
        self.pause.store(false, Ordering::SeqCst);
        match job_for(&self.settings, shared, &self.pause) {
            Ok((job, labels)) => {
                let total = job.models.iter().map(|m| m.training.steps as usize).sum();
                if self.lane.start_counting(job, total) {
                    self.state.start(labels);
                }
            }
            Err(message) => self.state.error = Some(message),
        }
    }

    /// Stops any run and forgets its results.
    fn reset(&mut self) {
        self.lane.cancel();
        self.pause.store(false, Ordering::SeqCst);
        self.state.clear_results();
    }
}

/// The run the settings describe — one model, or two compared — with each model's label.
fn job_for(
    settings: &PlaygroundSettings,
    shared: &Shared<'_>,
    pause: &Arc<AtomicBool>,
) -> Result<(ToyJob, Vec<String>), String> {
    if !(1..=crate::toy::MAX_POINTS).contains(&settings.n) || settings.steps == 0 {
        return Err("sample at least one point and train at least one step".into());
    }
    let first = ToyModelChoice {
        objective: settings.objective,
        schedule_slot: settings.schedule_slot,
    };
    let choices = if settings.compare {
        vec![first, settings.second]
    } else {
        vec![first]
    };
    let mut models = Vec::new();
    let mut labels = Vec::new();
    for choice in choices {
        let schedule = compared_schedule(shared, choice.schedule_slot)?;
        labels.push(model_label(choice.objective, &schedule));
        models.push(model_run(settings, choice.objective, schedule)?);
    }
    let data = match settings.source {
        PlaygroundSource::BuiltIn => ToySource::BuiltIn(settings.data),
        PlaygroundSource::Drawn => ToySource::Drawn(settings.drawn.clone()),
    };
    let job = ToyJob {
        data,
        models,
        n: settings.n,
        pause: Arc::clone(pause),
    };
    Ok((job, labels))
}

/// The Schedules panel's schedule in `slot`, or why there is none.
fn compared_schedule(shared: &Shared<'_>, slot: usize) -> Result<Schedule, String> {
    shared.schedules.get(slot).cloned().ok_or_else(|| {
        format!(
            "the Schedules panel compares {} schedules, not {}: choose another",
            shared.schedules.len(),
            slot + 1
        )
    })
}

/// A model's objective and, for diffusion, its schedule, in words.
fn model_label(objective: Objective, schedule: &Schedule) -> String {
    match objective {
        Objective::Flow => view::objective_name(objective).to_owned(),
        _ => format!(
            "{}, {}",
            view::objective_name(objective),
            schedule.spec().label()
        ),
    }
}

/// How one model trains and samples under the settings.
fn model_run(
    settings: &PlaygroundSettings,
    objective: Objective,
    schedule: Schedule,
) -> Result<ToyModelRun, String> {
    let sampler = if objective == Objective::Flow {
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
    let training = ToyTraining {
        steps: settings.steps,
        seed: settings.seed,
        ..ToyTraining::new(objective, schedule)
    };
    Ok(ToyModelRun { training, sampler })
}

impl Panel for PlaygroundPanel {
    fn restore(&mut self, settings: &Settings, _shared: &Shared<'_>, _shown: bool) {
        self.settings = settings.playground.clone();
    }

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
            view::Action::Pause(paused) => self.pause.store(paused, Ordering::SeqCst),
            view::Action::Reset => self.reset(),
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
