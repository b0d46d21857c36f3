//! How the models learned: each model's training log (its loss curve) and the grids of samples
//! its run kept every few hundred steps, read from the weights files off the UI thread and
//! scrubbed by step.

use crate::app::plot_export::ExportablePlot;
use std::path::PathBuf;

use eframe::egui::{self, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

use crate::app::exports::ExportRequest;
use crate::app::image_view::{ImageStyle, image_view};
use crate::app::job::{Job, JobContext, Update};
use crate::app::readout::{Axis, readout};
use crate::app::widgets::model_color;
use crate::data::IMAGE_SIDE;
use crate::export::Curve;
use crate::model::LogEntry;
use crate::render::{Colormap, ImageStack, ValueRange};

/// Reads the training histories of the models.
#[derive(Clone, Debug)]
pub struct HistoryJob {
    /// Label and weights file of each model.
    pub models: Vec<(String, PathBuf)>,
}

/// One model's history, ready to draw.
#[derive(Clone)]
pub struct ModelHistory {
    /// "linear" or "cosine".
    pub label: String,
    /// The log, oldest first.
    pub log: Vec<LogEntry>,
    /// The sample grids by step, oldest first.
    pub grids: Vec<(u64, ImageStack)>,
    /// Why there is nothing to show.
    pub problem: Option<String>,
}

/// What the job reports: every model's history at once.
pub struct HistoryLoaded(pub Vec<ModelHistory>);

impl Job for HistoryJob {
    type Event = HistoryLoaded;
    type Memory = ();

    fn run(self, context: &mut JobContext<'_, HistoryLoaded>, (): &mut ()) -> Result<(), String> {
        let histories = self
            .models
            .into_iter()
            .map(
                |(label, path)| match context.models.unet(&path, context.device) {
                    Ok(loaded) => model_history(label, &loaded.metadata.training.history),
                    Err(message) => ModelHistory {
                        label,
                        log: Vec::new(),
                        grids: Vec::new(),
                        problem: Some(message),
                    },
                },
            )
            .collect();
        context.emit(HistoryLoaded(histories));
        Ok(())
    }
}

/// The drawable form of a weights file's history.
fn model_history(label: String, history: &crate::model::TrainingHistory) -> ModelHistory {
    let mut problem = history
        .is_empty()
        .then(|| "its weights file has no training log (written before runs kept one)".to_owned());
    let mut grids = Vec::new();
    for grid in &history.grids {
        let decoded = grid.pixels().and_then(|bytes| {
            let values = bytes.iter().map(|&b| f32::from(b) / 127.5 - 1.0).collect();
            ImageStack::new(values, IMAGE_SIDE, IMAGE_SIDE).ok_or_else(|| "no images".into())
        });
        match decoded {
            Ok(stack) => grids.push((grid.step, stack)),
            Err(message) => problem = Some(message),
        }
    }
    ModelHistory {
        label,
        log: history.log.clone(),
        grids,
        problem,
    }
}

/// The histories on screen and the step scrubbed to.
#[derive(Default)]
pub struct HistoryState {
    /// The models whose histories were asked for.
    pub asked: Vec<(String, PathBuf)>,
    /// Their histories, once read.
    pub models: Vec<ModelHistory>,
    /// Why reading failed.
    pub error: Option<String>,
    /// The step whose grids are shown (the nearest recorded one per model).
    pub step: u64,
}

impl HistoryState {
    /// Takes the job's update.
    pub fn apply(&mut self, update: Update<HistoryLoaded>) {
        let mut seconds = None;
        if let Some(HistoryLoaded(models)) = update.event_or_end(&mut seconds, &mut self.error) {
            let last = models.iter().filter_map(|m| m.grids.last()).map(|g| g.0);
            self.step = last.max().unwrap_or(0);
            self.models = models;
        }
    }

    /// The largest step any model logged or drew a grid at.
    fn last_step(&self) -> u64 {
        let logged = self
            .models
            .iter()
            .filter_map(|m| m.log.last())
            .map(|e| e.step);
        let drawn = self
            .models
            .iter()
            .filter_map(|m| m.grids.last())
            .map(|g| g.0);
        logged.chain(drawn).max().unwrap_or(0)
    }
}

/// The grid of `model` nearest to `step`.
pub fn grid_near(model: &ModelHistory, step: u64) -> Option<&(u64, ImageStack)> {
    model.grids.iter().min_by_key(|(at, _)| at.abs_diff(step))
}

/// Draws the loss curves, a step slider and each model's grid at that step.
/// The training history: returns the loss curves as CSV when asked.
pub fn history_ui(ui: &mut egui::Ui, state: &mut HistoryState, gpu: bool) -> Option<ExportRequest> {
    if let Some(error) = &state.error {
        ui.colored_label(egui::Color32::from_rgb(235, 80, 80), error);
    }
    if state.models.is_empty() {
        ui.label("reading the weights files…");
        return None;
    }
    let export = ui
        .small_button("CSV: loss curves")
        .clicked()
        .then(|| loss_export(state));
    for model in &state.models {
        if let Some(problem) = &model.problem {
            ui.label(RichText::new(format!("{} model: {problem}", model.label)).weak());
        }
    }
    loss_plot_ui(ui, state);
    let last = state.last_step();
    if last == 0 {
        return export;
    }
    ui.add(
        egui::Slider::new(&mut state.step, 0..=last)
            .text("after step")
            .clamping(egui::SliderClamping::Always),
    );
    let style = ImageStyle {
        range: Some(ValueRange::default()),
        colormap: Colormap::Gray,
        gpu,
    };
    ui.horizontal_wrapped(|ui| {
        for model in &state.models {
            let Some((at, stack)) = grid_near(model, state.step) else {
                continue;
            };
            ui.vertical(|ui| {
                ui.label(format!("{} model after {at} steps", model.label));
                grid_ui(ui, &model.label, stack, *at, style);
            });
        }
    });
    export
}

/// Every model's logged loss by training step.
fn loss_export(state: &HistoryState) -> ExportRequest {
    let curves = state
        .models
        .iter()
        .map(|m| {
            let points = m.log.iter().map(|e| [e.step as f64, e.loss]);
            Curve::new(format!("{} model", m.label), points.collect())
        })
        .collect();
    ExportRequest::Csv {
        stem: "training-loss".to_owned(),
        x_name: "step".to_owned(),
        y_name: "loss".to_owned(),
        curves,
    }
}

fn loss_plot_ui(ui: &mut egui::Ui, state: &HistoryState) {
    Plot::new("training loss")
        .height(160.0)
        .allow_scroll(false)
        .legend(Legend::default())
        .x_axis_label("training step")
        .y_axis_label("log₁₀ loss")
        .label_formatter(readout(Axis::Whole("step"), Axis::Log10("loss")))
        .allow_drag(false)
        .show_exportable(ui, "training-loss", |plot_ui| {
            for model in &state.models {
                let points: PlotPoints<'_> = model
                    .log
                    .iter()
                    .filter(|e| e.loss.is_finite() && e.loss > 0.0)
                    .map(|e| [e.step as f64, e.loss.log10()])
                    .collect();
                let name = format!("{} model", model.label);
                plot_ui.line(Line::new(name, points).color(model_color(&model.label)));
            }
            plot_ui.vline(VLine::new("grids shown", state.step as f64));
        });
}

fn grid_ui(ui: &mut egui::Ui, label: &str, stack: &ImageStack, step: u64, style: ImageStyle) {
    let columns = (stack.rows() as f64).sqrt().ceil().max(1.0) as usize;
    egui::Grid::new(format!("{label} grid"))
        .spacing(egui::vec2(2.0, 2.0))
        .show(ui, |ui| {
            for row in 0..stack.rows() {
                let name = format!("{label} sample {row} after {step} steps");
                image_view(ui, &name, stack, row, 44.0, style);
                if (row + 1) % columns == 0 {
                    ui.end_row();
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SampleGrid, TrainingHistory};

    #[test]
    fn grids_decode_to_images_and_the_nearest_step_is_shown() {
        let image = vec![0.5_f32; 784];
        let history = TrainingHistory {
            log: Vec::new(),
            grids: vec![
                SampleGrid::encode(500, &image).expect("grid"),
                SampleGrid::encode(1000, &[image.clone(), image].concat()).expect("grid"),
            ],
        };
        let model = model_history("linear".into(), &history);
        assert!(model.problem.is_none());
        assert_eq!(grid_near(&model, 700).map(|g| g.0), Some(500));
        assert_eq!(grid_near(&model, 800).map(|(_, s)| s.rows()), Some(2));
        let empty = model_history("cosine".into(), &TrainingHistory::default());
        assert!(empty.problem.expect("said").contains("no training log"));
    }
}
