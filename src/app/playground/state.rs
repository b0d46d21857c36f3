//! The Playground's results: the data, and per model the loss so far, the samples with their
//! paths and the learned field.

use super::job::{ModelEvent, TRAINING_POINTS, ToyEvent};
use crate::app::job::Update;
use crate::toy::{Point, Standardiser, ToyData, ToyField, ToySamples};

/// What one model of the run has given so far.
#[derive(Clone, Debug, Default)]
pub struct ModelResults {
    /// Its objective and schedule, in words.
    pub label: String,
    /// (step, loss) of every training step so far.
    pub losses: Vec<(u64, f64)>,
    /// The samples once drawn.
    pub samples: Option<ToySamples>,
    /// The learned field: with each preview while training, then the final one.
    pub field: Option<ToyField>,
    /// The latest quick sample during training, with its step.
    pub preview: Option<(u64, ToySamples)>,
}

impl ModelResults {
    fn apply(&mut self, event: ModelEvent) {
        match event {
            ModelEvent::Loss(losses) => self.losses.extend(losses),
            ModelEvent::Samples(samples) => {
                self.samples = Some(samples);
                self.preview = None;
            }
            ModelEvent::Preview { step, samples } => self.preview = Some((step, samples)),
            ModelEvent::Field(field) => self.field = Some(field),
        }
    }
}

/// What the panel shows.
#[derive(Default)]
pub struct PlaygroundState {
    /// The training points of the last run (in their own units).
    pub data: Vec<Point>,
    /// How the models saw them.
    pub standardiser: Option<Standardiser>,
    /// The models of the last run: one, or two compared.
    pub models: Vec<ModelResults>,
    /// The field's level shown (index into its levels).
    pub field_level: usize,
    /// Whether the field is drawn over the points.
    pub show_field: bool,
    /// Whether the person set the field's level (otherwise it follows the path shown).
    pub field_level_fixed: bool,
    /// How far along the sampling path the view is, 0 (the noise) to 1 (the samples); each
    /// model shows its own state nearest to it.
    pub shown_fraction: f64,
    /// Whether the path plays forward by itself.
    pub playing: bool,
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
    /// Results of a run about to start with models of these labels; the forward view and the
    /// preview of the data stay.
    pub fn start(&mut self, labels: Vec<String>) {
        self.clear_results();
        self.models = labels
            .into_iter()
            .map(|label| ModelResults {
                label,
                ..ModelResults::default()
            })
            .collect();
    }

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
            ToyEvent::Model(index, event) => {
                let sampled = matches!(event, ModelEvent::Samples(_));
                if let Some(model) = self.models.get_mut(index) {
                    model.apply(event);
                }
                if sampled {
                    self.shown_fraction = 1.0;
                }
            }
        }
    }

    /// Forgets the last run's results (its data changed, or the person reset it).
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

    /// The state of `model`'s path nearest to the fraction shown, if it has sampled.
    pub fn shown_state(&self, model: usize) -> Option<usize> {
        let samples = self.models.get(model)?.samples.as_ref()?;
        let last = samples.path.len().checked_sub(1)?;
        Some((self.shown_fraction.clamp(0.0, 1.0) * last as f64).round() as usize)
    }

    /// `model`'s points at the path state shown, if it has sampled.
    pub fn shown_points(&self, model: usize) -> Option<&[Point]> {
        let state = self.shown_state(model)?;
        let samples = self.models.get(model)?.samples.as_ref()?;
        samples.path.get(state).map(Vec::as_slice)
    }

    /// The most states any model's path has (0 before sampling).
    pub fn path_states(&self) -> usize {
        self.models
            .iter()
            .filter_map(|m| m.samples.as_ref().map(|s| s.path.len()))
            .max()
            .unwrap_or(0)
    }

    /// Moves a playing path on by `states` of the longest path; stops at the samples.
    pub fn advance_play(&mut self, states: usize) {
        let last = self.path_states().saturating_sub(1);
        if !self.playing || last == 0 {
            self.playing = false;
            return;
        }
        self.shown_fraction = (self.shown_fraction + states as f64 / last as f64).min(1.0);
        if self.shown_fraction >= 1.0 {
            self.playing = false;
        }
    }
}
