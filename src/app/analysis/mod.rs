//! The Analysis panel: log-SNR per step with the 10 %, 20 % and switching-point marks, and
//! reconstruction error per step for the linear and cosine models, in and out of distribution.

mod job;
mod state;
mod view;

use eframe::egui;

use super::exports::ExportRequest;
use super::job::{Lane, LaneTarget};
use super::panel::{Command, Panel, Shared};
use super::settings::{AnalysisSettings, Settings, Tab};
use job::ReconJob;
use state::AnalysisState;

use crate::schedule::ScheduleSpec;

/// What a curve was measured under.
#[derive(Clone, Debug, PartialEq)]
pub struct CurveSchedule {
    /// The schedule the images were noised and reconstructed under, once known.
    pub schedule: Option<ScheduleSpec>,
    /// The λ range its model was trained on (λ-conditioned models).
    pub trained_log_snr: Option<(f64, f64)>,
    /// Conversions, skipped files, a clamped λ range.
    pub notes: Vec<String>,
}

/// The panel: its settings, the curves (and the cache of finished ones) and the measuring job.
pub struct AnalysisPanel {
    settings: AnalysisSettings,
    state: AnalysisState,
    lane: Lane<ReconJob>,
}

impl AnalysisPanel {
    /// The panel with `settings`.
    pub fn new(settings: AnalysisSettings, target: &LaneTarget) -> Self {
        Self {
            settings,
            state: AnalysisState::default(),
            lane: Lane::spawn("noisescope-analysis", target),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &AnalysisSettings {
        &self.settings
    }

    /// The settings, to change them as a script would.
    pub fn settings_mut(&mut self) -> &mut AnalysisSettings {
        &mut self.settings
    }

    /// Whether a measuring job runs.
    pub fn analysing(&self) -> bool {
        self.lane.running()
    }

    /// Points measured so far for each curve.
    pub fn points(&self) -> Vec<usize> {
        self.state.curves.iter().map(|c| c.points.len()).collect()
    }

    /// The steps measured so far for each curve.
    pub fn steps(&self) -> Vec<Vec<usize>> {
        self.state
            .curves
            .iter()
            .map(|c| c.points.iter().map(|p| p.t).collect())
            .collect()
    }

    /// Each curve's schedule (once known), its model's trained λ range (λ-conditioned models)
    /// and its notes.
    pub fn curve_schedules(&self) -> Vec<CurveSchedule> {
        let curves = self.state.curves.iter();
        curves
            .map(|c| CurveSchedule {
                schedule: c.schedule.as_ref().map(|s| s.spec().clone()),
                trained_log_snr: c.trained_log_snr,
                notes: c.notes.clone(),
            })
            .collect()
    }

    /// Why the last request failed, while that is shown.
    pub fn error(&self) -> Option<&str> {
        self.state.error.as_deref()
    }

    /// Measures the curves, taking finished ones from the cache.
    fn start(&mut self, shared: &Shared<'_>) {
        let models = (shared.models_dir, shared.schedules);
        let planned = state::plan(&self.settings, models, &self.state.cache);
        let plan = match planned {
            Ok(plan) => plan,
            Err(message) => {
                self.state.error = Some(message);
                return;
            }
        };
        let job = ReconJob {
            curves: plan.requests,
            t_selection: plan.t_selection,
            n: self.settings.n,
            seed: self.settings.seed,
            sampler: plan.sampler,
            sampling: plan.sampling,
        };
        // Everything from the cache: nothing to run, and the running job (if any) is stale.
        let started = if job.curves.is_empty() {
            self.lane.cancel();
            true
        } else {
            self.lane.start(job)
        };
        if started {
            let cache = std::mem::take(&mut self.state.cache);
            self.state = AnalysisState {
                curves: plan.curves,
                cache,
                notes: plan.notes,
                ..Default::default()
            };
        }
    }

    /// Every measured point of every curve, as a CSV export.
    fn export(&self) -> ExportRequest {
        ExportRequest::Table {
            stem: "analysis-reconstruction".to_owned(),
            csv: state::curves_csv(&self.state.curves),
        }
    }
}

impl Panel for AnalysisPanel {
    fn restore(&mut self, settings: &Settings, shared: &Shared<'_>, shown: bool) {
        self.settings = settings.analysis.clone();
        if shown {
            self.start(shared);
        }
    }

    fn tab(&self) -> Tab {
        Tab::Analysis
    }

    fn title(&self) -> &'static str {
        "Analysis"
    }

    fn poll(&mut self, _shared: &Shared<'_>, _commands: &mut Vec<Command>) {
        for update in self.lane.poll() {
            self.state.apply(update);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, shared: &Shared<'_>, commands: &mut Vec<Command>) {
        match view::analysis_ui(ui, self, shared, commands) {
            view::Action::Measure => self.start(shared),
            view::Action::Cancel => self.lane.cancel(),
            view::Action::Export => commands.push(Command::Export(self.export())),
            view::Action::None => {}
        }
    }

    fn idle(&self) -> bool {
        self.lane.idle()
    }
}
