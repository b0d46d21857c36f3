//! The Analysis panel's job: for each curve (a model and a set of
//! images), measure the errors at every requested t and stream each point back.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;

use crate::app::job::{Job, JobContext};
use crate::data::{IMAGE_SIDE, ProbeData, ProbeImages};
use crate::diffusion::{ReconMeasurement, ReconProbe, SamplerConfig, TSelection, image_batch};
use crate::model::{Condition, NoiseInput, log_snr_range};
use crate::schedule::{Schedule, ScheduleSpec};

/// One curve to measure.
#[derive(Clone, Debug)]
pub struct CurveRequest {
    /// Index of the curve in the panel.
    pub curve: usize,
    /// The weights file.
    pub model: PathBuf,
    /// The images.
    pub data: ProbeData,
}

/// Reconstruction-error curves to measure, streaming every point.
#[derive(Clone, Debug)]
pub struct ReconJob {
    /// The curves still to measure.
    pub curves: Vec<CurveRequest>,
    /// The steps, resolved against each model's own T.
    pub t_selection: TSelection,
    /// Images per curve.
    pub n: usize,
    /// Seed of ε and the chain's noise.
    pub seed: u64,
    /// The reverse chain.
    pub sampler: SamplerConfig,
    /// The schedule to noise and reconstruct under (`None`: each model's own).
    pub sampling: Option<ScheduleSpec>,
}

/// What the job reports besides progress and its end.
pub enum ReconEvent {
    /// A curve's images are loaded (with notes on conversions) and its schedule known.
    Started {
        /// Which curve.
        curve: usize,
        /// The model's schedule.
        schedule: Box<Schedule>,
        /// The 1-based steps the curve will be measured at, ascending.
        t_values: Vec<usize>,
        /// x0 of the first images kept for display, flat.
        x0: Vec<f32>,
        /// Images actually used.
        images: usize,
        /// Conversions and skipped files.
        notes: Vec<String>,
        /// The λ range the model was trained on, when it is conditioned on λ.
        trained_log_snr: Option<(f64, f64)>,
    },
    /// One measured point.
    Point {
        /// Which curve.
        curve: usize,
        /// The point and its example images.
        measurement: Box<ReconMeasurement>,
    },
    /// A curve could not be measured; the others go on.
    CurveFailed {
        /// Which curve.
        curve: usize,
        /// Why.
        message: String,
    },
}

impl Job for ReconJob {
    type Event = ReconEvent;
    type Memory = ();

    /// Measures the curves in turn; each image set is loaded once.
    fn run(self, context: &mut JobContext<'_, ReconEvent>, (): &mut ()) -> Result<(), String> {
        let mut image_sets = HashMap::new();
        for curve in &self.curves {
            if context.cancelled() {
                return Ok(());
            }
            if let Err(message) = self.run_curve(curve, &mut image_sets, context) {
                context.emit(ReconEvent::CurveFailed {
                    curve: curve.curve,
                    message,
                });
            }
        }
        Ok(())
    }
}

impl ReconJob {
    fn run_curve(
        &self,
        curve: &CurveRequest,
        image_sets: &mut HashMap<ProbeData, ProbeImages>,
        context: &mut JobContext<'_, ReconEvent>,
    ) -> Result<(), String> {
        let loaded = context.models.unet(&curve.model, context.device)?;
        let condition = Condition {
            sampling: self.sampling.clone(),
            ..Condition::default()
        };
        let conditioned = condition.apply(&loaded)?;
        let schedule = conditioned.schedule.clone();
        let t_values = self.t_selection.for_steps(schedule.steps())?;
        let images = match image_sets.entry(curve.data.clone()) {
            Entry::Occupied(loaded) => loaded.get().clone(),
            Entry::Vacant(slot) => slot.insert(curve.data.load(self.n)?).clone(),
        };
        let mut notes = images.notes;
        notes.extend(conditioned.note.clone());
        let kept = images.count.min(crate::diffusion::KEPT_EXAMPLES) * IMAGE_SIDE * IMAGE_SIDE;
        context.emit(ReconEvent::Started {
            curve: curve.curve,
            schedule: Box::new(schedule.clone()),
            t_values: t_values.clone(),
            x0: images.pixels[..kept].to_vec(),
            images: images.count,
            notes,
            trained_log_snr: (loaded.model.module.noise_input() == NoiseInput::LogSnr)
                .then(|| log_snr_range(&conditioned.trained)),
        });
        let x0 = image_batch(images.pixels, IMAGE_SIDE, context.device);
        let probe = ReconProbe::new(
            &conditioned.denoiser,
            &schedule,
            self.sampler,
            x0,
            self.seed,
        );
        for t in t_values {
            let cancelled = || context.cancelled();
            let Some(measurement) = probe.measure_while(t, &mut || !cancelled())? else {
                return Ok(());
            };
            context.emit(ReconEvent::Point {
                curve: curve.curve,
                measurement: Box::new(measurement),
            });
        }
        Ok(())
    }
}
