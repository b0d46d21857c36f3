//! The App's side of the Analysis panel: measuring, cancelling and exporting the curves, and
//! what the tests read back.

use super::jobs::Job;
use super::{App, analysis, export_csv, recon_job};

impl App {
    /// Whether a reconstruction-error job is running.
    pub fn analysing(&self) -> bool {
        self.analysis.running
    }

    /// Points measured so far for each curve of the Analysis panel.
    pub fn analysis_points(&self) -> Vec<usize> {
        self.analysis
            .curves
            .iter()
            .map(|c| c.points.len())
            .collect()
    }

    /// The steps measured so far for each curve of the Analysis panel.
    pub fn analysis_steps(&self) -> Vec<Vec<usize>> {
        self.analysis
            .curves
            .iter()
            .map(|c| c.points.iter().map(|p| p.t).collect())
            .collect()
    }

    /// Why the last analysis request failed, while that is shown.
    pub fn analysis_error(&self) -> Option<&str> {
        self.analysis.error.as_deref()
    }

    /// Measures the Analysis panel's curves, taking finished ones from the cache.
    pub(super) fn start_analysis(&mut self) {
        let planned = analysis::plan(
            &self.settings.analysis,
            self.models_dir.as_deref(),
            &self.analysis.cache,
        );
        let plan = match planned {
            Ok(plan) => plan,
            Err(message) => {
                self.analysis.error = Some(message);
                return;
            }
        };
        let Ok(worker) = &self.worker else { return };
        let generation = worker.next_analysis_generation();
        let running = !plan.requests.is_empty();
        let request = recon_job::ReconRequest {
            generation,
            curves: plan.requests,
            t_selection: plan.t_selection,
            n: self.settings.analysis.n,
            seed: self.settings.analysis.seed,
            sampler: plan.sampler,
        };
        if !running || worker.send(Job::Recon(request)) {
            let cache = std::mem::take(&mut self.analysis.cache);
            self.analysis = analysis::AnalysisState {
                generation,
                curves: plan.curves,
                cache,
                running,
                notes: plan.notes,
                ..Default::default()
            };
        }
    }

    /// Stops the analysis job; the points measured so far stay, and a point still in flight
    /// is dropped (generations start at 1).
    pub(super) fn cancel_analysis(&mut self) {
        if let Ok(worker) = &self.worker {
            worker.cancel_analysis();
        }
        self.analysis.running = false;
        self.analysis.generation = 0;
    }

    /// Writes every curve to the CSV path of the settings.
    pub(super) fn export_analysis_csv(&mut self) {
        let csv = analysis::curves_csv(&self.analysis.curves);
        self.analysis.export_message = Some(export_csv(
            &self.settings.analysis.export_path,
            &csv,
            "nothing to export yet: press Measure",
        ));
    }
}
