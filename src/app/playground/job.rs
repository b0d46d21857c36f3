//! The Playground's job: draw the data, train the MLP — or two, side by side, one thread each —
//! streaming the loss, then sample and keep every point's path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::tensor::Device;

use crate::app::job::{Job, JobContext};
use crate::toy::{
    Objective, Point, Standardiser, ToyData, ToyField, ToyNet, ToySampler, ToySamples, ToyTraining,
    learned_field, sample_toy, train_toy,
};

/// Points drawn from the distribution to train on.
pub const TRAINING_POINTS: usize = 5000;

/// The points to train on.
#[derive(Clone, Debug)]
pub enum ToySource {
    /// [`TRAINING_POINTS`] drawn from a built-in distribution with the run's seed.
    BuiltIn(ToyData),
    /// Points the person drew.
    Drawn(Vec<Point>),
}

/// One model of a run: how it trains and how it samples.
#[derive(Clone, Debug)]
pub struct ToyModelRun {
    /// The training run (its seed also draws the data and the samples).
    pub training: ToyTraining,
    /// How to sample.
    pub sampler: ToySampler,
}

/// Train one model, or two side by side on the same points and seed, then sample.
#[derive(Clone, Debug)]
pub struct ToyJob {
    /// The points.
    pub data: ToySource,
    /// The models, each trained on its own thread.
    pub models: Vec<ToyModelRun>,
    /// Points to sample.
    pub n: usize,
    /// While set, training waits (the panel's Pause).
    pub pause: Arc<AtomicBool>,
}

/// What the job reports besides progress and its end.
pub enum ToyEvent {
    /// The training points (in their own units) and the standardisation the models see them
    /// through.
    Data(Vec<Point>, Standardiser),
    /// Something about the model of this index.
    Model(usize, ModelEvent),
}

/// What one model's training and sampling report.
pub enum ModelEvent {
    /// Newly logged (step, loss) pairs.
    Loss(Vec<(u64, f64)>),
    /// The samples and their paths.
    Samples(ToySamples),
    /// The learned field (grid and directions in the data's own units), after training and
    /// with every preview.
    Field(ToyField),
    /// A quick sample of the model as trained so far.
    Preview {
        /// The training step.
        step: u64,
        /// The points (DDIM-20 or 20 Euler steps).
        samples: ToySamples,
    },
}

/// How often training stops for a preview.
const PREVIEW_INTERVAL: Duration = Duration::from_secs(2);
/// Points of a preview.
const PREVIEW_POINTS: usize = 500;
/// How often a paused training looks whether it may go on.
const PAUSE_POLL: Duration = Duration::from_millis(50);

/// A cheap sampler for previews: 20 deterministic steps.
fn preview_sampler(objective: Objective) -> ToySampler {
    if objective == Objective::Flow {
        ToySampler::FlowEuler { steps: 20 }
    } else {
        let mut config = crate::diffusion::SamplerFamily::Ddim.chain(20);
        config.clip_x0 = false;
        ToySampler::Diffusion(config)
    }
}

/// What a model's thread shares with the job: the points and the flags that stop or pause it.
struct Workbench<'a> {
    points: &'a [Point],
    standardiser: &'a Standardiser,
    n: usize,
    device: &'a Device,
    stop: &'a AtomicBool,
    pause: &'a AtomicBool,
}

impl Workbench<'_> {
    /// Waits while paused; false once the job should stop.
    fn may_go_on(&self) -> bool {
        while self.pause.load(Ordering::SeqCst) && !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(PAUSE_POLL);
        }
        !self.stop.load(Ordering::SeqCst)
    }

    /// Trains `model`, with a preview (samples and field) every few seconds, then samples it.
    fn train_and_sample(
        &self,
        model: &ToyModelRun,
        emit: &mut dyn FnMut(ModelEvent),
    ) -> Result<(), String> {
        let (objective, schedule) = (model.training.objective, &model.training.schedule);
        let (total, seed) = (model.training.steps, model.training.seed);
        let mut pending = Vec::new();
        let mut last_preview = Instant::now();
        let mut report = |step: u64, loss: f64, net: &ToyNet| {
            pending.push((step, loss));
            if step.is_multiple_of(50) || step == total {
                emit(ModelEvent::Loss(std::mem::take(&mut pending)));
            }
            // Every few seconds, a quick look at what the model has learned so far.
            if last_preview.elapsed() >= PREVIEW_INTERVAL && step < total {
                let snapshot = net.valid();
                let size = (self.n.min(PREVIEW_POINTS), seed);
                let quick = preview_sampler(objective);
                if let Ok(samples) =
                    sample_toy(&snapshot, objective, schedule, quick, size, self.device)
                {
                    let samples = in_data_units(samples, self.standardiser);
                    emit(ModelEvent::Preview { step, samples });
                }
                let field = learned_field(&snapshot, objective, schedule, self.device);
                emit(ModelEvent::Field(field_in_data_units(
                    field,
                    self.standardiser,
                )));
                last_preview = Instant::now();
            }
            self.may_go_on()
        };
        let net = train_toy(self.points, &model.training, self.device, &mut report)?;
        if !self.may_go_on() {
            return Ok(());
        }
        let size = (self.n, seed);
        let samples = sample_toy(&net, objective, schedule, model.sampler, size, self.device)?;
        emit(ModelEvent::Samples(in_data_units(
            samples,
            self.standardiser,
        )));
        let field = learned_field(&net, objective, schedule, self.device);
        emit(ModelEvent::Field(field_in_data_units(
            field,
            self.standardiser,
        )));
        Ok(())
    }
}

impl Job for ToyJob {
    type Event = ToyEvent;
    type Memory = ();

    fn run(self, context: &mut JobContext<'_, ToyEvent>, (): &mut ()) -> Result<(), String> {
        let seed = self.models.first().map_or(0, |m| m.training.seed);
        let raw = match &self.data {
            ToySource::BuiltIn(data) => data.sample(TRAINING_POINTS, seed),
            ToySource::Drawn(points) => points.clone(),
        };
        crate::toy::check_points(&raw).map_err(|e| format!("the drawn points: {e}"))?;
        let standardiser = Standardiser::fit(&raw);
        let points: Vec<Point> = raw.iter().map(|&p| standardiser.apply(p)).collect();
        context.emit(ToyEvent::Data(raw, standardiser));
        let stop = AtomicBool::new(false);
        let device = context.device.clone();
        let bench = Workbench {
            points: &points,
            standardiser: &standardiser,
            n: self.n,
            device: &device,
            stop: &stop,
            pause: &self.pause,
        };
        let (send, receive) = channel();
        std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .models
                .iter()
                .enumerate()
                .map(|(index, model)| {
                    let send = send.clone();
                    let bench = &bench;
                    scope.spawn(move || {
                        let mut emit = |event| drop(send.send((index, event)));
                        bench.train_and_sample(model, &mut emit)
                    })
                })
                .collect();
            drop(send);
            relay(context, &receive, &self.models, &stop);
            workers.into_iter().try_for_each(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err("a training thread failed".into()))
            })
        })
    }
}

/// Passes the models' events to the panel, with the training steps done of all of them as
/// progress, until every model is done; a cancelled job stops them.
fn relay(
    context: &mut JobContext<'_, ToyEvent>,
    receive: &Receiver<(usize, ModelEvent)>,
    models: &[ToyModelRun],
    stop: &AtomicBool,
) {
    let total: u64 = models.iter().map(|m| m.training.steps).sum();
    let mut steps_done = vec![0_u64; models.len()];
    loop {
        match receive.recv_timeout(PAUSE_POLL) {
            Ok((index, event)) => {
                if let ModelEvent::Loss(losses) = &event
                    && let Some(&(step, _)) = losses.last()
                {
                    steps_done[index] = step;
                    let done: u64 = steps_done.iter().sum();
                    context.progress(done as usize, total as usize);
                }
                context.emit(ToyEvent::Model(index, event));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if context.cancelled() {
            stop.store(true, Ordering::SeqCst);
        }
    }
}

/// Samples (and their paths) back in the data's own units.
fn in_data_units(samples: ToySamples, standardiser: &Standardiser) -> ToySamples {
    let back = |points: Vec<Point>| points.into_iter().map(|p| standardiser.invert(p)).collect();
    ToySamples {
        points: back(samples.points),
        path: samples.path.into_iter().map(back).collect(),
    }
}

/// A field in the data's own units: grid points mapped back, directions stretched per axis.
fn field_in_data_units(field: ToyField, standardiser: &Standardiser) -> ToyField {
    let scale = standardiser.scale.map(|s| if s > 0.0 { s } else { 1.0 });
    ToyField {
        grid: field
            .grid
            .into_iter()
            .map(|p| standardiser.invert(p))
            .collect(),
        levels: field
            .levels
            .into_iter()
            .map(|(share, d)| {
                (
                    share,
                    d.into_iter()
                        .map(|v| [v[0] * scale[0], v[1] * scale[1]])
                        .collect(),
                )
            })
            .collect(),
    }
}
