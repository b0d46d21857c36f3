//! The reconstruction-error job on the analysis thread: for each curve (a model and a set of
//! images), measure the errors at every requested t and stream each point back.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use burn::tensor::Device;

use super::sample_job::{ModelCache, cached_unet};
use crate::data::{IMAGE_SIDE, ProbeData, ProbeImages};
use crate::diffusion::{ReconMeasurement, ReconProbe, SamplerConfig, TSelection, image_batch};
use crate::schedule::Schedule;

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

/// What to measure.
#[derive(Clone, Debug)]
pub struct ReconRequest {
    /// Identifies the request; stale generations stop.
    pub generation: u64,
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
}

/// What the job reports.
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
    /// The job stopped on an error of the compute device; nothing more comes.
    Failed(String),
    /// All done.
    Done {
        /// Wall time.
        seconds: f64,
    },
}

/// Runs a request; returns early when superseded. Each image set is loaded once.
pub fn run_recon_job(
    request: &ReconRequest,
    device: &Device,
    cache: &mut ModelCache,
    latest: &AtomicU64,
    send: &mut dyn FnMut(ReconEvent),
) {
    let started = Instant::now();
    let mut image_sets = HashMap::new();
    for curve in &request.curves {
        if latest.load(Ordering::SeqCst) != request.generation {
            return;
        }
        let measured = run_curve(request, curve, device, cache, &mut image_sets, latest, send);
        if let Err(message) = measured {
            send(ReconEvent::CurveFailed {
                curve: curve.curve,
                message,
            });
        }
    }
    if latest.load(Ordering::SeqCst) == request.generation {
        send(ReconEvent::Done {
            seconds: started.elapsed().as_secs_f64(),
        });
    }
}

fn run_curve(
    request: &ReconRequest,
    curve: &CurveRequest,
    device: &Device,
    cache: &mut ModelCache,
    image_sets: &mut HashMap<ProbeData, ProbeImages>,
    latest: &AtomicU64,
    send: &mut dyn FnMut(ReconEvent),
) -> Result<(), String> {
    let loaded = cached_unet(cache, &curve.model, device)?;
    let schedule = Schedule::new(loaded.schedule.clone()).map_err(|e| e.to_string())?;
    let t_values = request.t_selection.for_steps(schedule.steps())?;
    let images = match image_sets.entry(curve.data.clone()) {
        Entry::Occupied(loaded) => loaded.get().clone(),
        Entry::Vacant(slot) => slot.insert(curve.data.load(request.n)?).clone(),
    };
    let kept = images.count.min(crate::diffusion::KEPT_EXAMPLES) * IMAGE_SIDE * IMAGE_SIDE;
    send(ReconEvent::Started {
        curve: curve.curve,
        schedule: Box::new(schedule.clone()),
        t_values: t_values.clone(),
        x0: images.pixels[..kept].to_vec(),
        images: images.count,
        notes: images.notes,
    });
    let x0 = image_batch(images.pixels, IMAGE_SIDE, device);
    let probe = ReconProbe::new(&loaded.model, &schedule, request.sampler, x0, request.seed);
    for t in t_values {
        if latest.load(Ordering::SeqCst) != request.generation {
            return Ok(());
        }
        let measurement = probe.measure(t)?;
        send(ReconEvent::Point {
            curve: curve.curve,
            measurement: Box::new(measurement),
        });
    }
    Ok(())
}
