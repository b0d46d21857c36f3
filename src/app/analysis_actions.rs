//! The App's side of the Analysis panel: measuring, cancelling and exporting the curves, and
//! what the tests read back.

use super::{App, analysis, export_csv, recon_job};

impl App {
    /// Whether a reconstruction-error job is running.
    pub fn analysing(&self) -> bool {
        self.lanes.as_ref().is_ok_and(|l| l.recon.running())
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
        let Ok(lanes) = &mut self.lanes else { return };
        let job = recon_job::ReconJob {
            curves: plan.requests,
            t_selection: plan.t_selection,
            n: self.settings.analysis.n,
            seed: self.settings.analysis.seed,
            sampler: plan.sampler,
        };
        // Everything from the cache: nothing to run, and the running job (if any) is stale.
        let started = if job.curves.is_empty() {
            lanes.recon.cancel();
            true
        } else {
            lanes.recon.start(job)
        };
        if started {
            let cache = std::mem::take(&mut self.analysis.cache);
            self.analysis = analysis::AnalysisState {
                curves: plan.curves,
                cache,
                notes: plan.notes,
                ..Default::default()
            };
        }
    }

    /// Stops the analysis job; the points measured so far stay.
    pub(super) fn cancel_analysis(&mut self) {
        if let Ok(lanes) = &mut self.lanes {
            lanes.recon.cancel();
        }
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
