//! The Reverse panel's job: load the models (shared), run their samplers side by side from the
//! same x_T, and stream every step back in compact form.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Tensor};

use super::state::check_recording_size;
use crate::app::job::{Job, JobContext};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::diffusion::{
    QuantizedBatch, RecordedStep, ReverseStep, Sampler, SamplerConfig, tensor_to_vec,
};
use crate::model::{InferenceUNet, LoadedUNet};
use crate::schedule::Schedule;

/// Sampling with one or more models side by side, streaming every step.
#[derive(Clone, Debug)]
pub struct SampleJob {
    /// The weights files, one per column.
    pub models: Vec<PathBuf>,
    /// The sampler.
    pub config: SamplerConfig,
    /// Images per model.
    pub batch: usize,
    /// Seed of x_T and the steps' noise (the same for every model).
    pub seed: u64,
}

/// What a sampling job reports besides progress and its end.
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
}

impl Job for SampleJob {
    type Event = SampleEvent;
    type Memory = ();

    fn run(self, context: &mut JobContext<'_, SampleEvent>, (): &mut ()) -> Result<(), String> {
        let mut loaded = Vec::new();
        for (index, path) in self.models.iter().enumerate() {
            match context.models.unet(path, context.device) {
                Ok(model) => loaded.push((index, path, model)),
                Err(message) => context.emit(SampleEvent::ModelFailed {
                    model: index,
                    message,
                }),
            }
        }
        let mut samplers = Vec::new();
        for (index, path, model) in &loaded {
            match start_sampler(&self, model, context.device) {
                Ok((schedule, sampler)) => samplers.push((*index, schedule, sampler)),
                Err(message) => context.emit(SampleEvent::ModelFailed {
                    model: *index,
                    message: format!("{}: {message}", path.display()),
                }),
            }
        }
        // The size of the recording follows from the models' own T (DDPM visits every step).
        let longest = samplers.iter().map(|(_, _, s)| s.plan().len()).max();
        if let Some(longest) = longest {
            check_recording_size(samplers.len(), longest, self.batch)?;
        }
        let mut indices = Vec::with_capacity(samplers.len());
        let mut samplers: Vec<_> = samplers
            .into_iter()
            .map(|(index, schedule, sampler)| {
                context.emit(SampleEvent::Started {
                    model: index,
                    schedule: Box::new(schedule),
                    steps: sampler.plan().len(),
                });
                indices.push(index);
                sampler
            })
            .collect();
        run_side_by_side(&mut samplers, &indices, self.batch, context)
    }
}

/// Steps every sampler in turn, sending the first step at once, so it is on screen as soon as
/// it exists, then batches of steps every 150 ms, and each model's x_0 at the end.
fn run_side_by_side(
    samplers: &mut [Sampler<'_, InferenceUNet>],
    indices: &[usize],
    batch: usize,
    context: &mut JobContext<'_, SampleEvent>,
) -> Result<(), String> {
    let mut pending: Vec<Vec<RecordedStep>> = vec![Vec::new(); samplers.len()];
    let mut last_sent: Option<Instant> = None;
    loop {
        let mut any = false;
        for (index, sampler) in samplers.iter_mut().enumerate() {
            if context.cancelled() {
                return Ok(());
            }
            if let Some(step) = sampler.next() {
                pending[index].push(record(step, batch));
                any = true;
            }
        }
        if !any || last_sent.is_none_or(|at| at.elapsed().as_millis() > 150) {
            for (index, steps) in pending.iter_mut().enumerate() {
                if !steps.is_empty() {
                    context.emit(SampleEvent::Steps {
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
        let x0 = tensor_to_vec(sampler.current().clone().reshape([batch, IMAGE_PIXELS]));
        context.emit(SampleEvent::Finished {
            model: indices[index],
            x0,
        });
    }
    Ok(())
}

/// The model's schedule and a sampler from the request's x_T under it.
fn start_sampler<'m>(
    request: &SampleJob,
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
