//! The Reverse panel's job: load the models (shared), run their samplers side by side from the
//! same x_T, and stream every step back in compact form.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::{Device, Tensor};

use super::kept::{KeptRun, RunRecorder, RunStore, run_key};
use super::state::{check_recording_size, recording_size};
use crate::app::job::{Job, JobContext};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::diffusion::{
    QuantizedBatch, RecordedStep, ReverseStep, Sampler, SamplerConfig, predict_x0, tensor_to_vec,
};
use crate::model::{Condition, Conditioned, Guided, WithinTrainedLogSnr};
use crate::schedule::{Schedule, x0_coefficients};

/// The sampler of one model under the job's condition.
type ModelSampler<'a> = Sampler<'a, WithinTrainedLogSnr<Guided<'a>>>;

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
    /// The class, guidance and sampling schedule.
    pub condition: Condition,
    /// Where finished runs are kept between sessions; a kept run of the same request is
    /// replayed instead of sampled.
    pub keep: Option<RunStore>,
    /// Only replay a kept run: when there is none, report [`SampleEvent::NotKept`] and stop.
    pub replay_only: bool,
}

/// What a sampling job reports besides progress and its end.
pub enum SampleEvent {
    /// A model was loaded; the schedule it samples under and the steps it will visit.
    Started {
        /// Which model.
        model: usize,
        /// The schedule it samples under.
        schedule: Box<Schedule>,
        /// The steps to come.
        steps: usize,
        /// Why its samples may differ from what was asked (a clamped λ range).
        note: Option<String>,
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
    /// The run was kept from an earlier sampling, which took `seconds`; its events follow.
    Kept {
        /// Wall time of that sampling.
        seconds: f64,
    },
    /// A replay-only job found no kept run; nothing follows.
    NotKept,
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
        let started = Instant::now();
        let key = self.keep.as_ref().and_then(|_| run_key(&self));
        let kept = self.keep.as_ref().zip(key.as_deref());
        if let Some(run) = kept.and_then(|(store, key)| store.find(key)) {
            replay(run, context);
            return Ok(());
        }
        if self.replay_only {
            context.emit(SampleEvent::NotKept);
            return Ok(());
        }
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
        let mut conditioned = Vec::new();
        for (index, path, model) in &loaded {
            match self.condition.apply(model) {
                Ok(c) => conditioned.push((*index, c)),
                Err(message) => context.emit(SampleEvent::ModelFailed {
                    model: *index,
                    message: format!("{}: {message}", path.display()),
                }),
            }
        }
        let mut samplers = Vec::new();
        for (index, c) in &conditioned {
            match start_sampler(&self, c, context.device) {
                Ok(sampler) => samplers.push((*index, c, sampler)),
                Err(message) => context.emit(SampleEvent::ModelFailed {
                    model: *index,
                    message,
                }),
            }
        }
        // The size of the recording follows from the schedules' T (DDPM visits every step).
        let longest = samplers.iter().map(|(_, _, s)| s.plan().len()).max();
        let guided = self.condition.class.is_some();
        if let Some(longest) = longest {
            check_recording_size(samplers.len(), longest, self.batch, guided)?;
        }
        // A run is kept only when every model samples.
        let everyone = samplers.len() == self.models.len();
        let mut output = Output {
            context,
            recorder: kept.filter(|_| everyone).and_then(|(store, key)| {
                let steps = longest.unwrap_or(0);
                store.recorder(
                    key,
                    recording_size(samplers.len(), steps, self.batch, guided),
                )
            }),
        };
        let mut columns = Vec::with_capacity(samplers.len());
        for (index, c, sampler) in samplers {
            output.emit(SampleEvent::Started {
                model: index,
                schedule: Box::new(c.schedule.clone()),
                steps: sampler.plan().len(),
                note: c.note.clone(),
            });
            columns.push(Column {
                index,
                conditioned: c,
                sampler,
            });
        }
        run_side_by_side(&mut columns, self.batch, self.config.clip_x0, &mut output)?;
        if let Some(recorder) = output.recorder.take()
            && !output.context.cancelled()
        {
            recorder.finish(started.elapsed().as_secs_f64());
        }
        Ok(())
    }
}

/// Sends a kept run to the panel as its sampling did, after saying that it was kept.
fn replay(run: KeptRun, context: &mut JobContext<'_, SampleEvent>) {
    context.emit(SampleEvent::Kept {
        seconds: run.seconds,
    });
    for event in run.events {
        context.emit(event);
    }
}

/// Where a sampling job's events go: to the panel, and to the recorder of the run when it is
/// to be kept.
struct Output<'c, 'a> {
    context: &'c mut JobContext<'a, SampleEvent>,
    recorder: Option<RunRecorder>,
}

impl Output<'_, '_> {
    fn emit(&mut self, event: SampleEvent) {
        if let Some(recorder) = &mut self.recorder {
            recorder.record(&event);
        }
        self.context.emit(event);
    }
}

/// One model's sampler, with what it samples under.
struct Column<'a> {
    index: usize,
    conditioned: &'a Conditioned<'a>,
    sampler: ModelSampler<'a>,
}

/// Steps every sampler in turn, sending the first step at once, so it is on screen as soon as
/// it exists, then batches of steps every 150 ms, and each model's x_0 at the end.
fn run_side_by_side(
    columns: &mut [Column<'_>],
    batch: usize,
    clip: bool,
    output: &mut Output<'_, '_>,
) -> Result<(), String> {
    let mut pending: Vec<Vec<RecordedStep>> = vec![Vec::new(); columns.len()];
    let mut last_sent: Option<Instant> = None;
    loop {
        let mut any = false;
        for (slot, column) in columns.iter_mut().enumerate() {
            if output.context.cancelled() {
                return Ok(());
            }
            if let Some(step) = column.sampler.next() {
                let unguided = unguided_x0(column.conditioned, &step, clip);
                pending[slot].push(record(step, unguided, batch));
                any = true;
            }
        }
        if !any || last_sent.is_none_or(|at| at.elapsed().as_millis() > 150) {
            for (slot, steps) in pending.iter_mut().enumerate() {
                if !steps.is_empty() {
                    output.emit(SampleEvent::Steps {
                        model: columns[slot].index,
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
    for column in columns.iter() {
        let current = column.sampler.current().clone();
        let x0 = tensor_to_vec(current.reshape([batch, IMAGE_PIXELS]));
        output.emit(SampleEvent::Finished {
            model: column.index,
            x0,
        });
    }
    Ok(())
}

/// x̂0 of the plain conditional prediction (w = 0) at the step, when the step was guided.
fn unguided_x0(conditioned: &Conditioned<'_>, step: &ReverseStep, clip: bool) -> Option<Tensor<4>> {
    let guided = &conditioned.denoiser.inner;
    let eps = guided.take_conditional(step.t)?;
    let coefficients = x0_coefficients(&conditioned.schedule, step.t);
    Some(predict_x0(&step.x_t, &eps, coefficients, clip))
}

/// A sampler of the conditioned model from the request's x_T.
fn start_sampler<'a>(
    request: &SampleJob,
    conditioned: &'a Conditioned<'a>,
    device: &Device,
) -> Result<ModelSampler<'a>, String> {
    let shape = [request.batch, 1, IMAGE_SIDE, IMAGE_SIDE];
    Sampler::from_noise(
        &conditioned.denoiser,
        &conditioned.schedule,
        request.config,
        shape,
        request.seed,
        device,
    )
}

/// Reads x_t, x̂0, ε̂ (and the unguided x̂0) back in one transfer and quantises them.
fn record(step: ReverseStep, unguided: Option<Tensor<4>>, batch: usize) -> RecordedStep {
    let flat = |x: Tensor<4>| x.reshape([batch, IMAGE_PIXELS]);
    let mut parts = vec![flat(step.x_t), flat(step.x0_hat), flat(step.eps_hat)];
    let has_unguided = unguided.is_some();
    parts.extend(unguided.map(flat));
    let all = tensor_to_vec(Tensor::cat(parts, 0));
    let size = batch * IMAGE_PIXELS;
    let part = |k: usize| QuantizedBatch::new(&all[k * size..(k + 1) * size]);
    RecordedStep {
        t: step.t,
        x_t: part(0),
        x0_hat: part(1),
        eps_hat: part(2),
        x0_unguided: has_unguided.then(|| part(3)),
    }
}
