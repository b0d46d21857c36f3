//! The App's side of the DAED panel: samples at the switching point, the FID sweep, cancel and
//! export, and what the tests read back.

use super::{App, daed, daed_job, export_csv};

impl App {
    /// Whether a DAED job (samples or sweep) is running.
    pub fn daed_running(&self) -> bool {
        self.daed.running.is_some()
    }

    /// The running DAED job's progress and, before its counted work, what it is doing.
    pub fn daed_progress(&self) -> (Option<(usize, usize)>, Option<&'static str>) {
        let progress = self.lanes.as_ref().ok().and_then(|l| l.daed.progress());
        (progress, self.daed.phase)
    }

    /// The switching point of the DAED samples on screen.
    pub fn daed_shown_s(&self) -> Option<usize> {
        self.daed.shown_s()
    }

    /// DAED's images on screen (flat), to compare across switching points.
    pub fn daed_shown_images(&self) -> Option<&[f32]> {
        self.daed.samples.as_ref().map(|s| s.daed.as_slice())
    }

    /// The switching points of the sweep on screen.
    pub fn daed_sweep_points(&self) -> Option<Vec<usize>> {
        self.daed
            .sweep
            .as_ref()
            .map(|p| p.iter().map(|p| p.s).collect())
    }

    /// Why the last DAED request failed, while that is shown.
    pub fn daed_error(&self) -> Option<&str> {
        self.daed.error.as_deref()
    }

    /// Computes the DAED samples at the current switching point (re-using the worker's chain
    /// when only s changed).
    pub(super) fn start_daed_samples(&mut self) {
        let setup = match daed::setup(&self.settings.daed, self.models_dir.as_deref()) {
            Ok(setup) => setup,
            Err(message) => {
                self.daed.error = Some(message);
                return;
            }
        };
        let s = self.settings.analysis.switch_t;
        let Ok(lanes) = &mut self.lanes else { return };
        let job = daed_job::DaedJob::Samples {
            setup: setup.clone(),
            s,
        };
        if lanes.daed.start(job) {
            self.daed.set_running(Some(daed::DaedTask::Samples));
            self.daed.requested = Some((setup, s));
        }
    }

    /// Re-requests the samples when only the switching point moved since the last ones.
    pub(super) fn follow_switch(&mut self) {
        let Some((setup, s)) = &self.daed.requested else {
            return;
        };
        // Cheap checks first: the setup looks for the weights files on disk.
        let moved = *s != self.settings.analysis.switch_t;
        let busy = self.daed.running == Some(daed::DaedTask::Sweep);
        if !moved || busy || self.daed.error.is_some() {
            return;
        }
        let same_setup = daed::setup(&self.settings.daed, self.models_dir.as_deref())
            .is_ok_and(|now| now == *setup);
        if same_setup {
            self.start_daed_samples();
        }
    }

    /// Runs the FID sweep from s = 0 to the autoencoder's t_max (from the cache when done
    /// before).
    pub(super) fn start_daed_sweep(&mut self) {
        let mut setup = match daed::setup(&self.settings.daed, self.models_dir.as_deref()) {
            Ok(setup) => setup,
            Err(message) => {
                self.daed.error = Some(message);
                return;
            }
        };
        let images = self
            .settings
            .daed
            .sweep_images
            .clamp(2, daed::MAX_SWEEP_IMAGES);
        setup.batch = images.min(64);
        let t_max = self.daed.samples.as_ref().map_or(250, |s| s.t_max);
        let switches = crate::experiment::sweep_switches(t_max, self.settings.daed.sweep_points);
        let key = daed::sweep_key(&setup, images, &switches);
        if let Some(points) = self.daed.sweep_cache.get(&key) {
            self.daed.sweep = Some(points.clone());
            return;
        }
        let Ok(lanes) = &mut self.lanes else { return };
        let job = daed_job::DaedJob::Sweep {
            setup,
            images,
            switches,
        };
        if lanes.daed.start_counting(job, images) {
            self.daed.set_running(Some(daed::DaedTask::Sweep));
            self.daed.sweep_key = Some(key);
            self.daed.sweep_started = Some(std::time::Instant::now());
        }
    }

    /// Stops the DAED job; what is shown stays, and a result still in flight is dropped.
    pub(super) fn cancel_daed(&mut self) {
        if let Ok(lanes) = &mut self.lanes {
            lanes.daed.cancel();
        }
        self.daed.set_running(None);
        self.daed.requested = self
            .daed
            .samples
            .as_ref()
            .and(self.daed.requested.clone())
            .map(|(setup, _)| (setup, self.daed.shown_s().unwrap_or(0)));
    }

    /// Writes the sweep to the CSV path of the settings.
    pub(super) fn export_daed_csv(&mut self) {
        let csv = crate::experiment::sweep_csv(self.daed.sweep.as_deref().unwrap_or_default());
        self.daed.export_message = Some(export_csv(
            &self.settings.daed.export_path,
            &csv,
            "nothing to export yet: run the sweep",
        ));
    }
}
