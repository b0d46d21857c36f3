//! The sampling job on the worker thread: load the models (cached), run their samplers side by
//! side from the same x_T, and stream every step back in compact form.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use burn::tensor::{Device, Tensor};

use super::reverse::check_recording_size;
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::diffusion::{
    QuantizedBatch, RecordedStep, ReverseStep, Sampler, SamplerConfig, tensor_to_vec,
};
use crate::model::{InferenceUNet, LoadedUNet, load_unet};
use crate::schedule::Schedule;

/// What to sample.
#[derive(Clone, Debug)]
pub struct SampleRequest {
    /// Identifies the request; stale generations stop.
    pub generation: u64,
    /// The weights files, one per column.
    pub models: Vec<PathBuf>,
    /// The sampler.
    pub config: SamplerConfig,
    /// Images per model.
    pub batch: usize,
    /// Seed of x_T and the steps' noise (the same for every model).
    pub seed: u64,
}

/// What a sampling job reports.
pub enum SampleEvent {
    /// A model was loaded; its schedule and the steps it will visit.
    Started {
        /// Which model.
        model: usize,
        /// Its schedule.
        schedule: Box<Schedule>,
        /// The steps to come.
        steps: usize,
    },
    /// Newly computed steps of a model.
    Steps {
        /// Which model.
        model: usize,
        /// The steps, in order.
        steps: Vec<RecordedStep>,
    },
    /// The final x_0 of a model.
    Finished {
        /// Which model.
        model: usize,
        /// x_0 of the batch.
        x0: Vec<f32>,
    },
    /// One model cannot be used; the others go on.
    ModelFailed {
        /// Which model.
        model: usize,
        /// Why, and how to fix it.
        message: String,
    },
    /// All done.
    Done {
        /// Wall time.
        seconds: f64,
    },
    /// The job failed; nothing more comes.
    Failed(String),
}

/// Models kept loaded between jobs, by file.
pub type ModelCache = HashMap<PathBuf, LoadedUNet>;

/// What to do about a weights file that cannot be used.
const MISSING_WEIGHTS_ADVICE: &str = "Restore the file from the Noisescope assets or train one \
     with `noisescope train` (see the README).";

/// The U-Net in `path`, loaded on first use and kept in `cache`; the error says how to fix it.
pub fn cached_unet<'c>(
    cache: &'c mut ModelCache,
    path: &Path,
    device: &Device,
) -> Result<&'c LoadedUNet, String> {
    Ok(match cache.entry(path.to_path_buf()) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => entry.insert(
            load_unet(path, None, device)
                .map_err(|error| format!("{error}. {MISSING_WEIGHTS_ADVICE}"))?,
        ),
    })
}

/// Runs a request, sending events tagged by the caller; returns early when superseded.
pub fn run_sample_job(
    request: &SampleRequest,
    device: &Device,
    cache: &mut ModelCache,
    latest: &AtomicU64,
    send: &mut dyn FnMut(SampleEvent),
) {
    let started = Instant::now();
    for (index, path) in request.models.iter().enumerate() {
        if let Err(message) = cached_unet(cache, path, device) {
            send(SampleEvent::ModelFailed {
                model: index,
                message,
            });
        }
    }
    let cache: &ModelCache = cache;
    let mut samplers = Vec::new();
    for (index, path) in request.models.iter().enumerate() {
        let Some(loaded) = cache.get(path) else {
            continue;
        };
        match start_sampler(request, loaded, device) {
            Ok((schedule, sampler)) => samplers.push((index, schedule, sampler)),
            Err(message) => send(SampleEvent::ModelFailed {
                model: index,
                message: format!("{}: {message}", path.display()),
            }),
        }
    }
    // The size of the recording follows from the models' own T (DDPM visits every step).
    let longest = samplers.iter().map(|(_, _, s)| s.plan().len()).max();
    if let Some(longest) = longest
        && let Err(message) = check_recording_size(samplers.len(), longest, request.batch)
    {
        return send(SampleEvent::Failed(message));
    }
    let mut indices = Vec::with_capacity(samplers.len());
    let mut samplers: Vec<_> = samplers
        .into_iter()
        .map(|(index, schedule, sampler)| {
            send(SampleEvent::Started {
                model: index,
                schedule: Box::new(schedule),
                steps: sampler.plan().len(),
            });
            indices.push(index);
            sampler
        })
        .collect();
    let mut pending: Vec<Vec<RecordedStep>> = vec![Vec::new(); samplers.len()];
    // The first step goes out at once, so it is on screen as soon as it exists; then batches
    // of steps every 150 ms.
    let mut last_sent: Option<Instant> = None;
    loop {
        let mut any = false;
        for (index, sampler) in samplers.iter_mut().enumerate() {
            if latest.load(Ordering::SeqCst) != request.generation {
                return;
            }
            if let Some(step) = sampler.next() {
                pending[index].push(record(step, request.batch));
                any = true;
            }
        }
        if !any || last_sent.is_none_or(|at| at.elapsed().as_millis() > 150) {
            for (index, steps) in pending.iter_mut().enumerate() {
                if !steps.is_empty() {
                    send(SampleEvent::Steps {
                        model: indices[index],
                        steps: std::mem::take(steps),
                    });
                }
            }
            last_sent = Some(Instant::now());
        }
        if !any {
            break;
        }
    }
    for (index, sampler) in samplers.iter().enumerate() {
        let x0 = tensor_to_vec(
            sampler
                .current()
                .clone()
                .reshape([request.batch, IMAGE_PIXELS]),
        );
        send(SampleEvent::Finished {
            model: indices[index],
            x0,
        });
    }
    send(SampleEvent::Done {
        seconds: started.elapsed().as_secs_f64(),
    });
}

/// The model's schedule and a sampler from the request's x_T under it.
fn start_sampler<'m>(
    request: &SampleRequest,
    loaded: &'m LoadedUNet,
    device: &Device,
) -> Result<(Schedule, Sampler<'m, InferenceUNet>), String> {
    let schedule = Schedule::new(loaded.schedule.clone()).map_err(|e| e.to_string())?;
    let shape = [request.batch, 1, IMAGE_SIDE, IMAGE_SIDE];
    let sampler = Sampler::from_noise(
        &loaded.model,
        &schedule,
        request.config,
        shape,
        request.seed,
        device,
    )?;
    Ok((schedule, sampler))
}

/// Reads x_t, x̂0 and ε̂ back in one transfer and quantises them.
fn record(step: ReverseStep, batch: usize) -> RecordedStep {
    let flat = |x: Tensor<4>| x.reshape([batch, IMAGE_PIXELS]);
    let all = tensor_to_vec(Tensor::cat(
        vec![flat(step.x_t), flat(step.x0_hat), flat(step.eps_hat)],
        0,
    ));
    let size = batch * IMAGE_PIXELS;
    RecordedStep {
        t: step.t,
        x_t: QuantizedBatch::new(&all[..size]),
        x0_hat: QuantizedBatch::new(&all[size..2 * size]),
        eps_hat: QuantizedBatch::new(&all[2 * size..]),
    }
}
