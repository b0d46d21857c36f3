//! The DAED panel: at a movable switching point s, the full chain, the diffusion model's own
//! one-shot x̂0 from x_s, and DAED (the autoencoder's x̂0 from x_s) side by side; and the FID
//! of each against s.

use crate::app::plot_export::ExportablePlot;
use eframe::egui::{self, Color32, RichText};
use egui_plot::{
    AxisHints, HPlacement, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoints, VLine,
};

use super::DaedPanel;
use super::state::{DaedTask, MAX_SHOWN, MAX_SWEEP_IMAGES};
use crate::app::condition::{Offer, condition_row};
use crate::app::image_view::{ImageStyle, image_grid, image_view};
use crate::app::panel::{Command, Shared};
use crate::app::readout::{Axis, hover_text};
use crate::app::settings::{DaeChoice, ShippedPair};
use crate::app::widgets::{
    busy_indicator, labelled_drag, sampler_picker, switch_rule_ui, switch_slider,
};
use crate::render::{Colormap, ValueRange};

const METHOD_COLORS: [Color32; 3] = [
    Color32::from_rgb(160, 160, 160),
    Color32::from_rgb(240, 134, 40),
    Color32::from_rgb(66, 133, 244),
];

/// What the person asked for with the panel's buttons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Sample at the switching point.
    Sample,
    /// Run the FID sweep.
    Sweep,
    /// Stop the running job.
    Cancel,
    /// Write the sweep to the CSV path.
    Export,
}

/// Draws the panel; `progress` is the running job's.
pub fn daed_ui(
    ui: &mut egui::Ui,
    panel: &mut DaedPanel,
    shared: &Shared<'_>,
    progress: Option<(usize, usize)>,
    commands: &mut Vec<Command>,
) -> Action {
    let mut action = if shared.controls {
        controls_ui(ui, panel, shared, progress)
    } else {
        Action::None
    };
    switch_ui(ui, panel, shared, commands);
    if let Some(error) = &panel.state.error {
        ui.colored_label(Color32::from_rgb(235, 80, 80), error);
    }
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| {
        samples_ui(ui, panel, shared);
        ui.separator();
        let sweep = sweep_ui(ui, panel, shared, progress);
        if sweep != Action::None {
            action = sweep;
        }
    });
    action
}

fn controls_ui(
    ui: &mut egui::Ui,
    panel: &mut DaedPanel,
    shared: &Shared<'_>,
    progress: Option<(usize, usize)>,
) -> Action {
    let running = panel.state.running;
    let mut action = Action::None;
    ui.horizontal_wrapped(|ui| {
        let s = &mut panel.settings;
        ui.label("model:");
        ui.selectable_value(&mut s.model, ShippedPair::Linear, "linear");
        ui.selectable_value(&mut s.model, ShippedPair::Cosine, "cosine");
        egui::ComboBox::from_label("autoencoder")
            .selected_text(dae_name(s.dae))
            .show_ui(ui, |ui| {
                for choice in [DaeChoice::FineTuned, DaeChoice::Separate] {
                    ui.selectable_value(&mut s.dae, choice, dae_name(choice));
                }
            })
            .response
            .on_hover_text(
                "fine-tuned: the diffusion model trained further on t ≤ t_max only; own network: \
                 a U-Net trained from scratch on t ≤ t_max, as in Deja et al.'s code",
            );
        labelled_drag(ui, "images", &mut s.batch, 1..=MAX_SHOWN);
        labelled_drag(ui, "seed", &mut s.seed, 0..=u64::MAX);
        let _ = sampler_picker(ui, "sampler", &mut s.sampler, &mut s.steps);
        match job_status_ui(ui, panel, progress, DaedTask::Samples) {
            Some(cancel) => action = cancel,
            None if job_button(ui, running, "Sample") => action = Action::Sample,
            None => {}
        }
    });
    let condition = &mut panel.settings.condition;
    condition_row(ui, condition, shared.schedules, Offer::ClassAndSchedule);
    action
}

fn dae_name(choice: DaeChoice) -> &'static str {
    match choice {
        DaeChoice::FineTuned => "fine-tuned from the diffusion model",
        DaeChoice::Separate => "its own network",
    }
}

/// While `task` runs: Cancel, a spinner and the progress; `None` when it does not run, else
/// whether Cancel was pressed.
fn job_status_ui(
    ui: &mut egui::Ui,
    panel: &DaedPanel,
    progress: Option<(usize, usize)>,
    task: DaedTask,
) -> Option<Action> {
    if panel.state.running != Some(task) {
        return None;
    }
    let cancel = ui.button("Cancel").clicked();
    busy_indicator(ui);
    let what = match task {
        DaedTask::Samples => "chain steps",
        DaedTask::Sweep => "images",
    };
    if let Some(phase) = panel.state.phase {
        ui.label(phase);
    } else if let Some((done, total)) = progress {
        ui.label(format!("{done}/{total} {what}"));
    }
    Some(if cancel { Action::Cancel } else { Action::None })
}

/// A button that starts a job, greyed out while the other job runs; true when clicked.
fn job_button(ui: &mut egui::Ui, running: Option<DaedTask>, text: &str) -> bool {
    let button = ui.add_enabled(running.is_none(), egui::Button::new(text));
    button
        .on_disabled_hover_text("one DAED job at a time: wait for the running one or cancel it")
        .clicked()
}

fn switch_ui(
    ui: &mut egui::Ui,
    panel: &DaedPanel,
    shared: &Shared<'_>,
    commands: &mut Vec<Command>,
) {
    let shown = panel.state.samples.as_ref();
    let t_max = shown.map_or(250, |s| s.t_max);
    let schedule = shown.map(|s| &s.schedule);
    ui.horizontal_wrapped(|ui| {
        switch_slider(ui, shared, 0..=t_max, schedule, commands);
        let text = format!("the autoencoder was trained for the noise levels of s ≤ {t_max}");
        ui.label(RichText::new(text).small());
    });
    if let Some(samples) = shown.filter(|s| s.t_state != shared.switch_t && shared.switch_t > 0) {
        let text = format!(
            "The sampler visits only some steps: the chain stops at its step nearest to \
             s = {}, t = {}, and the autoencoder starts there.",
            shared.switch_t, samples.t_state
        );
        ui.label(RichText::new(text).small().weak());
    }
    switch_rule_ui(ui, shared, schedule);
}

fn samples_ui(ui: &mut egui::Ui, panel: &DaedPanel, shared: &Shared<'_>) {
    let (Some(samples), Some(stacks)) = (&panel.state.samples, &panel.state.stacks) else {
        ui.label(
            "Press Sample: one chain from x_T; then move s to compare the three methods at once.",
        );
        return;
    };
    if let Some(note) = &samples.note {
        ui.colored_label(Color32::from_rgb(220, 160, 40), format!("note: {note}"));
    }
    let steps_run = format!(
        "{:.0} % of the sampler's steps saved",
        100.0 * samples.frac_saved
    );
    let titles = [
        "full chain (s = 0)".to_owned(),
        format!(
            "diffusion model to s = {}, its one-shot x̂0",
            samples.t_state
        ),
        format!(
            "DAED: to s = {}, autoencoder ({steps_run})",
            samples.t_state
        ),
    ];
    let style = ImageStyle {
        range: Some(ValueRange::default()),
        colormap: Colormap::Gray,
        gpu: shared.gpu_draw,
    };
    ui.columns(3, |columns| {
        for (k, column) in columns.iter_mut().enumerate() {
            column.label(RichText::new(&titles[k]).strong().color(METHOD_COLORS[k]));
            let stack = &stacks[k];
            let gap = 4.0;
            let side = ((column.available_width() - 3.0 * gap) / 4.0).clamp(24.0, 96.0);
            image_grid(column, (stack.rows(), side, gap), |ui, row| {
                let name = format!("{} image {}", ["full", "one-shot", "DAED"][k], row + 1);
                image_view(ui, &name, stack, row, side, style);
            });
        }
    });
}

fn sweep_ui(
    ui: &mut egui::Ui,
    panel: &mut DaedPanel,
    shared: &Shared<'_>,
    progress: Option<(usize, usize)>,
) -> Action {
    let mut action = Action::None;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Quality against the switching point").strong());
        let s = &mut panel.settings;
        labelled_drag(
            ui,
            "images per point",
            &mut s.sweep_images,
            2..=MAX_SWEEP_IMAGES,
        );
        labelled_drag(ui, "points", &mut s.sweep_points, 2..=50);
        let running = panel.state.running;
        match job_status_ui(ui, panel, progress, DaedTask::Sweep) {
            Some(cancel) => action = cancel,
            None if job_button(ui, running, "Run sweep") => action = Action::Sweep,
            None => {}
        }
        if let Some(seconds) = panel.state.sweep_seconds.filter(|_| running.is_none()) {
            ui.label(RichText::new(format!("swept in {seconds:.0} s")).small());
        }
        let swept = panel.state.sweep.as_ref().is_some_and(|p| !p.is_empty());
        if ui
            .add_enabled(swept, egui::Button::new("CSV: the sweep"))
            .on_hover_text("s, steps saved and FID of each method, per point")
            .on_disabled_hover_text("run the sweep first")
            .clicked()
        {
            action = Action::Export;
        }
    });
    let Some(points) = &panel.state.sweep else {
        ui.label(
            "Run sweep: for s from 0 to the autoencoder's t_max, FID to the test set of each \
             method (the project's classifier features); the default takes about a minute on a \
             2-core CPU.",
        );
        return action;
    };
    let fid_max = points
        .iter()
        .flat_map(|p| [p.fid_daed, p.fid_ddgm_x0, p.fid_full])
        .fold(1e-9_f64, f64::max);
    let scale = round_scale(fid_max);
    let switch = shared.switch_t as f64;
    Plot::new("daed sweep")
        .height(280.0)
        .allow_scroll(false)
        .legend(Legend::default())
        .allow_drag(false)
        .include_y(0.0)
        .include_y(LEGEND_HEADROOM * fid_max)
        .x_axis_label("switching point s")
        .label_formatter(move |position| Some(sweep_readout(position, scale)))
        .custom_y_axes(vec![
            AxisHints::new_y().label("FID"),
            AxisHints::new_y()
                .label("steps saved")
                .placement(HPlacement::Right)
                .formatter(move |mark, _| percent_label(100.0 * mark.value / scale)),
        ])
        .show_exportable(ui, "daed-sweep", |plot_ui| {
            let series = |f: &dyn Fn(&crate::experiment::SweepPoint) -> f64| -> Vec<[f64; 2]> {
                points.iter().map(|p| [p.s as f64, f(p)]).collect()
            };
            for (name, values, color) in [
                ("full chain", series(&|p| p.fid_full), METHOD_COLORS[0]),
                (
                    "one-shot x̂0 at s",
                    series(&|p| p.fid_ddgm_x0),
                    METHOD_COLORS[1],
                ),
                ("DAED", series(&|p| p.fid_daed), METHOD_COLORS[2]),
            ] {
                plot_ui.line(
                    Line::new(name, PlotPoints::from(values))
                        .color(color)
                        .width(2.0),
                );
            }
            plot_ui.line(
                Line::new(
                    "steps saved (right axis)",
                    PlotPoints::from(series(&|p| p.frac_saved * scale)),
                )
                .color(Color32::from_rgb(70, 190, 200))
                .style(LineStyle::dashed_dense()),
            );
            plot_ui.vline(
                VLine::new("switch s", switch)
                    .color(crate::app::widgets::SWITCH_COLOR)
                    .width(2.0),
            );
        });
    action
}

/// How far above the highest FID the plot reaches, so the legend does not hide the curves.
const LEGEND_HEADROOM: f64 = 1.8;

/// The FID that stands for 100 % of steps saved on the right axis: the smallest 1, 2 or 5 × 10^k
/// at or above `max`, so that the FID grid marks read as round percentages.
fn round_scale(max: f64) -> f64 {
    let power = 10_f64.powf(max.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&scale| scale >= max * (1.0 - 1e-12))
        .unwrap_or(10.0 * power)
}

/// The sweep's read-out: FID, except on the "steps saved" curve, drawn on the FID axis, which
/// reads out as a share of the sampler's steps.
fn sweep_readout(position: &HoverPosition<'_>, scale: f64) -> String {
    if let HoverPosition::NearDataPoint {
        plot_name,
        position,
        ..
    } = position
        && plot_name.starts_with("steps saved")
    {
        let share = percent_label(100.0 * position.y / scale);
        return format!(
            "{plot_name}\ns = {}\n{share} of the steps",
            position.x.round()
        );
    }
    hover_text(position, Axis::Whole("s"), Axis::Value("FID"))
}

/// A percentage without decimals when it is whole.
fn percent_label(percent: f64) -> String {
    if (percent - percent.round()).abs() < 1e-6 {
        format!("{percent:.0} %")
    } else {
        format!("{percent:.1} %")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_axis_maps_fid_marks_to_round_percentages() {
        assert_eq!(round_scale(130.0), 200.0);
        assert_eq!(round_scale(84.3), 100.0);
        assert_eq!(round_scale(500.0), 500.0);
        assert_eq!(round_scale(0.3), 0.5);
        for mark in [10.0, 20.0, 50.0, 150.0] {
            assert!(!percent_label(100.0 * mark / 200.0).contains('.'), "{mark}");
        }
        assert_eq!(percent_label(2.5), "2.5 %");
    }

    #[test]
    fn the_sweep_reads_out_fid_and_the_saved_curve_as_a_share_of_the_steps() {
        use egui_plot::PlotPoint;
        let fid = HoverPosition::NearDataPoint {
            plot_name: "DAED",
            position: PlotPoint::new(124.6, 31.234_56),
            index: 3,
        };
        assert_eq!(sweep_readout(&fid, 200.0), "DAED\ns = 125\nFID = 31.23");
        let saved = HoverPosition::NearDataPoint {
            plot_name: "steps saved (right axis)",
            position: PlotPoint::new(250.0, 30.0),
            index: 2,
        };
        assert_eq!(
            sweep_readout(&saved, 200.0),
            "steps saved (right axis)\ns = 250\n15 % of the steps"
        );
    }
}
