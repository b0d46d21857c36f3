//! The Playground's job: draw the data, train the MLP (streaming the loss), then sample and
//! keep every point's path.

use crate::app::job::{Job, JobContext};
use crate::toy::{
    Objective, Point, Standardiser, ToyData, ToySampler, ToySamples, ToyTraining, sample_toy,
    train_toy,
};

/// Points drawn from the distribution to train on.
pub const TRAINING_POINTS: usize = 5000;

/// Train on a distribution, then sample.
#[derive(Clone, Debug)]
pub struct ToyJob {
    /// The distribution.
    pub data: ToyData,
    /// The training run (its seed also draws the data and the samples).
    pub training: ToyTraining,
    /// How to sample.
    pub sampler: ToySampler,
    /// Points to sample.
    pub n: usize,
}

/// What the job reports besides progress and its end.
pub enum ToyEvent {
    /// The standardised training points.
    Data(Vec<Point>),
    /// Newly logged (step, loss) pairs.
    Loss(Vec<(u64, f64)>),
    /// The samples and their paths.
    Samples(ToySamples),
}

impl Job for ToyJob {
    type Event = ToyEvent;
    type Memory = ();

    fn run(self, context: &mut JobContext<'_, ToyEvent>, (): &mut ()) -> Result<(), String> {
        let raw = self.data.sample(TRAINING_POINTS, self.training.seed);
        let standardiser = Standardiser::fit(&raw);
        let points: Vec<Point> = raw.iter().map(|&p| standardiser.apply(p)).collect();
        context.emit(ToyEvent::Data(points.clone()));
        let total = self.training.steps;
        let mut pending = Vec::new();
        let device = context.device.clone();
        let mut report = |step: u64, loss: f64| {
            pending.push((step, loss));
            if step.is_multiple_of(50) || step == total {
                context.emit(ToyEvent::Loss(std::mem::take(&mut pending)));
                context.progress(step as usize, total as usize);
            }
            !context.cancelled()
        };
        let net = train_toy(&points, &self.training, &device, &mut report)?;
        if context.cancelled() {
            return Ok(());
        }
        let objective: Objective = self.training.objective;
        let schedule = &self.training.schedule;
        let seed = self.training.seed;
        let samples = sample_toy(
            &net,
            objective,
            schedule,
            self.sampler,
            (self.n, seed),
            &device,
        )?;
        context.emit(ToyEvent::Samples(samples));
        Ok(())
    }
}
