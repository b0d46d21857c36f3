//! The Playground's job: draw the data, train the MLP (streaming the loss), then sample and
//! keep every point's path.

use std::time::{Duration, Instant};

use burn::module::Module;

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

/// Train on a distribution, then sample.
#[derive(Clone, Debug)]
pub struct ToyJob {
    /// The points.
    pub data: ToySource,
    /// The training run (its seed also draws the data and the samples).
    pub training: ToyTraining,
    /// How to sample.
    pub sampler: ToySampler,
    /// Points to sample.
    pub n: usize,
}

/// What the job reports besides progress and its end.
pub enum ToyEvent {
    /// The training points (in their own units) and the standardisation the model sees them
    /// through.
    Data(Vec<Point>, Standardiser),
    /// Newly logged (step, loss) pairs.
    Loss(Vec<(u64, f64)>),
    /// The samples and their paths.
    Samples(ToySamples),
    /// The learned field (grid and directions in the data's own units).
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

impl Job for ToyJob {
    type Event = ToyEvent;
    type Memory = ();

    fn run(self, context: &mut JobContext<'_, ToyEvent>, (): &mut ()) -> Result<(), String> {
        let raw = match &self.data {
            ToySource::BuiltIn(data) => data.sample(TRAINING_POINTS, self.training.seed),
            ToySource::Drawn(points) => points.clone(),
        };
        crate::toy::check_points(&raw).map_err(|e| format!("the drawn points: {e}"))?;
        let standardiser = Standardiser::fit(&raw);
        let points: Vec<Point> = raw.iter().map(|&p| standardiser.apply(p)).collect();
        context.emit(ToyEvent::Data(raw.clone(), standardiser));
        let total = self.training.steps;
        let mut pending = Vec::new();
        let device = context.device.clone();
        let objective: Objective = self.training.objective;
        let schedule = &self.training.schedule;
        let seed = self.training.seed;
        let mut last_preview = Instant::now();
        let mut report = |step: u64, loss: f64, net: &ToyNet| {
            pending.push((step, loss));
            if step.is_multiple_of(50) || step == total {
                context.emit(ToyEvent::Loss(std::mem::take(&mut pending)));
                context.progress(step as usize, total as usize);
            }
            // Every few seconds, a quick look at what the model has learned so far.
            if last_preview.elapsed() >= PREVIEW_INTERVAL && step < total {
                let size = (self.n.min(PREVIEW_POINTS), seed);
                let quick = preview_sampler(objective);
                let snapshot = net.valid();
                if let Ok(samples) =
                    sample_toy(&snapshot, objective, schedule, quick, size, &device)
                {
                    let samples = in_data_units(samples, &standardiser);
                    context.emit(ToyEvent::Preview { step, samples });
                }
                last_preview = Instant::now();
            }
            !context.cancelled()
        };
        let net = train_toy(&points, &self.training, &device, &mut report)?;
        if context.cancelled() {
            return Ok(());
        }
        let size = (self.n, seed);
        let samples = sample_toy(&net, objective, schedule, self.sampler, size, &device)?;
        context.emit(ToyEvent::Samples(in_data_units(samples, &standardiser)));
        let field = learned_field(&net, objective, schedule, &device);
        context.emit(ToyEvent::Field(field_in_data_units(field, &standardiser)));
        Ok(())
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
