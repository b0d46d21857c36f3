//! The Playground's results: the data, the loss so far, and the samples with their paths.

use super::job::{TRAINING_POINTS, ToyEvent};
use crate::app::job::Update;
use crate::toy::{Point, Standardiser, ToyData, ToyField, ToySamples};

/// What the panel shows.
#[derive(Default)]
pub struct PlaygroundState {
    /// The training points of the last run (in their own units).
    pub data: Vec<Point>,
    /// How the model saw them.
    pub standardiser: Option<Standardiser>,
    /// (step, loss) of every training step so far.
    pub losses: Vec<(u64, f64)>,
    /// The samples once drawn.
    pub samples: Option<ToySamples>,
    /// The learned field after training.
    pub field: Option<ToyField>,
    /// The field's level shown (index into its levels).
    pub field_level: usize,
    /// Whether the field is drawn over the points.
    pub show_field: bool,
    /// The latest quick sample during training, with its step.
    pub preview: Option<(u64, ToySamples)>,
    /// The state of the path shown (0: the noise; the last: the samples).
    pub shown_state: usize,
    /// Why the last run failed.
    pub error: Option<String>,
    /// Wall time of the last finished run.
    pub seconds: Option<f64>,
    /// The longest UI frame (CPU time, seconds) while a run was going.
    pub slowest_frame: f32,
    /// The forward view's ε.
    pub forward_noise: super::forward::ForwardNoise,
    /// The distribution as the settings pick it, shown before a run.
    data_preview: Option<((ToyData, u64), Vec<Point>)>,
}

impl PlaygroundState {
    /// Takes one update of the running job.
    pub fn apply(&mut self, update: Update<ToyEvent>) {
        let Some(event) = update.event_or_end(&mut self.seconds, &mut self.error) else {
            return;
        };
        match event {
            ToyEvent::Data(points, standardiser) => {
                self.data = points;
                self.standardiser = Some(standardiser);
            }
            ToyEvent::Loss(losses) => self.losses.extend(losses),
            ToyEvent::Samples(samples) => {
                self.shown_state = samples.path.len().saturating_sub(1);
                self.samples = Some(samples);
                self.preview = None;
            }
            ToyEvent::Preview { step, samples } => self.preview = Some((step, samples)),
            ToyEvent::Field(field) => self.field = Some(field),
        }
    }

    /// Forgets the last run's results (its data changed).
    pub fn clear_results(&mut self) {
        let data_preview = self.data_preview.take();
        let forward_noise = std::mem::take(&mut self.forward_noise);
        *self = Self {
            data_preview,
            forward_noise,
            ..Self::default()
        };
    }

    /// The points to show as the data: the run's, or a preview of the chosen distribution.
    pub fn data_or_preview(&mut self, data: ToyData, seed: u64) -> &[Point] {
        if !self.data.is_empty() {
            return &self.data;
        }
        let key = (data, seed);
        if self.data_preview.as_ref().is_none_or(|(k, _)| *k != key) {
            self.data_preview = Some((key, data.sample(TRAINING_POINTS, seed)));
        }
        let preview = self.data_preview.as_ref();
        preview.map_or(&[], |(_, points)| points.as_slice())
    }

    /// The points at the path state shown, if sampled.
    pub fn shown_points(&self) -> Option<&[Point]> {
        let samples = self.samples.as_ref()?;
        let last = samples.path.len().checked_sub(1)?;
        samples
            .path
            .get(self.shown_state.min(last))
            .map(Vec::as_slice)
    }
}
