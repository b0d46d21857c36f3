//! The Playground panel's controls and plots: the data and the sampled points (scrubbed from
//! noise to samples) side by side with the loss curve.

use crate::app::plot_export::ExportablePlot;
use eframe::egui::{self, Color32, RichText};
use egui_plot::{Legend, Line, LineStyle, Plot, PlotPoints, Points};

use super::PlaygroundPanel;
use super::forward::{density, forward_ui};
use crate::app::exports::ExportRequest;
use crate::app::file_dialog::{POINTS_FILE, PendingDialog};
use crate::app::panel::{Command, Shared};
use crate::app::readout::{Axis, readout};
use crate::app::settings::{PlaygroundSettings, PlaygroundSource};
use crate::app::widgets::{busy_indicator, labelled_drag, sampler_picker};
use crate::export::Curve;
use crate::toy::{Objective, Point, ToyData};

/// What the person asked for.
pub enum Action {
    /// Nothing.
    None,
    /// Train and sample.
    Run,
    /// Stop the run, keeping what it gave.
    Cancel,
    /// Pause (true) or resume (false) the training.
    Pause(bool),
    /// Stop the run and forget its results.
    Reset,
}

const DATA_COLOR: Color32 = Color32::from_rgb(70, 130, 230);
/// The samples' colour of each model (the second one's when two are compared).
const SAMPLE_COLORS: [Color32; 2] = [
    Color32::from_rgb(240, 140, 40),
    Color32::from_rgb(200, 90, 200),
];

fn sample_color(model: usize) -> Color32 {
    SAMPLE_COLORS[model.min(SAMPLE_COLORS.len() - 1)]
}

/// Draws the panel.
pub fn playground_ui(
    ui: &mut egui::Ui,
    panel: &mut PlaygroundPanel,
    shared: &Shared<'_>,
    (progress, commands): (Option<(usize, usize)>, &mut Vec<Command>),
) -> Action {
    let action = if shared.controls {
        controls_ui(ui, panel, shared, progress)
    } else {
        Action::None
    };
    if let Some(error) = &panel.state.error {
        ui.colored_label(Color32::from_rgb(235, 80, 80), error);
    }
    if let Some(t) = &panel.state.standardiser {
        let text = format!(
            "the model sees the points standardised: x′ = (x − {:.3}) / {:.3}, y′ = (y − {:.3}) / {:.3}",
            t.mean[0], t.scale[0], t.mean[1], t.scale[1]
        );
        ui.label(RichText::new(text).small().weak());
    }
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| {
        path_slider_ui(ui, panel);
        let height = (ui.available_height() - 40.0).clamp(200.0, 520.0);
        let panes = panel
            .state
            .models
            .len()
            .max(if panel.settings.compare { 2 } else { 1 });
        if panes == 1 {
            ui.columns(2, |columns| {
                commands.extend(points_plot_ui(&mut columns[0], panel, 0, height));
                loss_plot_ui(&mut columns[1], panel, height, commands);
            });
        } else {
            ui.columns(panes, |columns| {
                for (model, column) in columns.iter_mut().enumerate() {
                    commands.extend(points_plot_ui(column, panel, model, height));
                }
            });
            loss_plot_ui(ui, panel, (height * 0.6).max(180.0), commands);
        }
        egui::CollapsingHeader::new("Forward: the data diffusing under each compared schedule")
            .id_salt("playground forward")
            .show(ui, |ui| {
                let s = &panel.settings;
                let points = match s.source {
                    PlaygroundSource::Drawn => s.drawn.clone(),
                    PlaygroundSource::BuiltIn => {
                        panel.state.data_or_preview(s.data, s.seed).to_vec()
                    }
                };
                let noise = &mut panel.state.forward_noise;
                forward_ui(ui, (&points, panel.settings.seed), noise, shared, commands);
            });
    });
    action
}

fn controls_ui(
    ui: &mut egui::Ui,
    panel: &mut PlaygroundPanel,
    shared: &Shared<'_>,
    progress: Option<(usize, usize)>,
) -> Action {
    let running = panel.running();
    let mut action = Action::None;
    ui.horizontal_wrapped(|ui| {
        let s = &mut panel.settings;
        let before = (s.source, s.data, s.drawn.len());
        let source_name = |s: &PlaygroundSettings| match s.source {
            PlaygroundSource::BuiltIn => s.data.name(),
            PlaygroundSource::Drawn => "your points",
        };
        egui::ComboBox::from_label("data")
            .selected_text(source_name(s))
            .show_ui(ui, |ui| {
                for data in ToyData::ALL {
                    let chosen = s.source == PlaygroundSource::BuiltIn && s.data == data;
                    if ui.selectable_label(chosen, data.name()).clicked() {
                        (s.source, s.data) = (PlaygroundSource::BuiltIn, data);
                    }
                }
                let drawn = s.source == PlaygroundSource::Drawn;
                if ui.selectable_label(drawn, "your points (drawn or from a CSV)").clicked() {
                    s.source = PlaygroundSource::Drawn;
                }
            });
        if s.source == PlaygroundSource::Drawn {
            if ui.button("Undo stroke").clicked()
                && let Some(start) = s.strokes.pop()
            {
                s.drawn.truncate(start);
            }
            if ui.button("Clear").clicked() {
                s.drawn.clear();
                s.strokes.clear();
            }
            if ui
                .add_enabled(panel.file_dialog.is_none(), egui::Button::new("Open CSV…"))
                .on_hover_text("x,y points, one per line (a header line is allowed); or drop the file on the window")
                .clicked()
            {
                panel.file_dialog = Some(PendingDialog::open(ui.ctx(), &POINTS_FILE));
            }
            ui.label(RichText::new(format!("{} points", s.drawn.len())).small());
        }
        if (s.source, s.data, s.drawn.len()) != before {
            panel.state.clear_results();
        }
        let s = &mut panel.settings;
        model_picker(ui, "", (&mut s.objective, &mut s.schedule_slot), shared);
        ui.checkbox(&mut s.compare, "compare with")
            .on_hover_text("train a second model beside the first, on the same points and seed (one thread each)");
        if s.compare {
            let second = &mut s.second;
            model_picker(ui, "second ", (&mut second.objective, &mut second.schedule_slot), shared);
        }
        labelled_drag(ui, "training steps", &mut s.steps, 1..=100_000);
        labelled_drag(ui, "points", &mut s.n, 1..=crate::toy::MAX_POINTS);
        labelled_drag(ui, "seed", &mut s.seed, 0..=u64::MAX);
        if s.objective == Objective::Flow {
            labelled_drag(ui, "Euler steps", &mut s.sampler_steps, 1..=1000);
        } else {
            let _ = sampler_picker(ui, "sampler", &mut s.sampler, &mut s.sampler_steps);
        }
        ui.separator();
        if running {
            let paused = panel.paused();
            if !paused {
                busy_indicator(ui);
            }
            if let Some((done, total)) = progress {
                let state = if paused { "paused at" } else { "training:" };
                ui.label(format!("{state} step {done}/{total}"));
            }
            let (label, pause) = if paused { ("Resume", false) } else { ("Pause", true) };
            if ui.button(label).clicked() {
                action = Action::Pause(pause);
            }
            if ui.button("Stop").on_hover_text("stop training; what it showed stays").clicked() {
                action = Action::Cancel;
            }
        } else if ui.button("Train and sample").clicked() {
            action = Action::Run;
        }
        if (running || !panel.state.models.is_empty())
            && ui.button("Reset").on_hover_text("stop and clear the loss, samples and field").clicked()
        {
            action = Action::Reset;
        }
        if let Some(seconds) = panel.state.seconds {
            ui.label(
                RichText::new(format!("last run {seconds:.1} s"))
                    .small()
                    .weak(),
            );
        }
    });
    action
}

/// Pickers of what a model learns and, for diffusion, under which compared schedule; `prefix`
/// tells a second model's pickers apart.
fn model_picker(
    ui: &mut egui::Ui,
    prefix: &str,
    (objective, slot): (&mut Objective, &mut usize),
    shared: &Shared<'_>,
) {
    egui::ComboBox::from_label(format!("{prefix}objective"))
        .selected_text(objective_name(*objective))
        .show_ui(ui, |ui| {
            for choice in Objective::ALL {
                ui.selectable_value(objective, choice, objective_name(choice));
            }
        });
    let slot_name = |slot: usize| match shared.schedules.get(slot) {
        Some(schedule) => format!("schedule {}: {}", slot + 1, schedule.spec().label()),
        None => format!("schedule {} (no longer compared)", slot + 1),
    };
    if *objective != Objective::Flow {
        egui::ComboBox::from_label(format!("{prefix}schedule"))
            .selected_text(slot_name(*slot))
            .show_ui(ui, |ui| {
                for choice in 0..shared.schedules.len() {
                    ui.selectable_value(slot, choice, slot_name(choice));
                }
            });
    }
}

/// An objective in words.
pub fn objective_name(objective: Objective) -> &'static str {
    match objective {
        Objective::Eps => "ε-prediction",
        Objective::X0 => "x0-prediction",
        Objective::V => "v-prediction",
        Objective::Flow => "flow matching",
    }
}

fn path_slider_ui(ui: &mut egui::Ui, panel: &mut PlaygroundPanel) {
    field_controls_ui(ui, &mut panel.state);
    let path_states = panel.state.path_states();
    if path_states == 0 {
        ui.label("Train and sample: the model learns the data, then carries noise to it.");
        return;
    }
    let state = &mut panel.state;
    ui.horizontal(|ui| {
        let label = if state.playing {
            "■ Hold"
        } else {
            "▶ Play"
        };
        if ui
            .button(label)
            .on_hover_text("run the sampler's path from the noise to the samples")
            .clicked()
        {
            if !state.playing && state.shown_fraction >= 1.0 {
                state.shown_fraction = 0.0;
            }
            state.playing = !state.playing;
        }
        // Room for the button, the value and the caption beside the slider.
        ui.spacing_mut().slider_width = (ui.available_width() - 520.0).max(120.0);
        let changed = ui
            .add(
                egui::Slider::new(&mut state.shown_fraction, 0.0..=1.0)
                    .custom_formatter(|f, _| format!("{:.0} %", 100.0 * f))
                    .text("of the sampler's path (0: noise, 100 %: samples)"),
            )
            .changed();
        if changed {
            state.playing = false;
        }
    });
    if state.playing {
        // About four seconds from the noise to the samples.
        let frame = ui.input(|i| i.stable_dt).clamp(0.001, 0.1);
        let states = ((path_states as f32 * frame / 4.0).ceil() as usize).max(1);
        state.advance_play(states);
        ui.ctx().request_repaint();
    }
}

/// The field's switch and noise level, once a model has a field (with its first preview). The
/// level follows the path shown (the share of the way to noise of its state; a little noise
/// before sampling) until it is moved.
fn field_controls_ui(ui: &mut egui::Ui, state: &mut super::PlaygroundState) {
    let Some(shares) = field_shares(state) else {
        return;
    };
    let last = shares.len().saturating_sub(1);
    if !state.field_level_fixed {
        // Before sampling there is no path: a little noise, where the field draws the data.
        let share = if state.path_states() == 0 {
            0.05
        } else {
            1.0 - state.shown_fraction.clamp(0.0, 1.0)
        };
        state.field_level = ((share * shares.len() as f64).round() as usize)
            .saturating_sub(1)
            .min(last);
    }
    ui.horizontal(|ui| {
        ui.checkbox(&mut state.show_field, "show the learned field at noise level");
        let share = shares.get(state.field_level.min(last)).copied().unwrap_or(0.0);
        let moved = ui
            .add_enabled(
                state.show_field,
                egui::Slider::new(&mut state.field_level, 0..=last)
                    .custom_formatter(move |_, _| format!("{:.0} % of the way to noise", 100.0 * share))
                    .show_value(true),
            )
            .on_hover_text("arrows: where the model moves a point there (the score −ε̂/σ, or against the flow's velocity), scaled to fit")
            .changed();
        state.field_level_fixed |= moved;
        if state.field_level_fixed && ui.button("follow the path").clicked() {
            state.field_level_fixed = false;
        }
    });
}

/// The noise levels of the learned field (the same for every model), once there is one.
fn field_shares(state: &super::PlaygroundState) -> Option<Vec<f64>> {
    let field = state.models.iter().find_map(|m| m.field.as_ref())?;
    Some(field.levels.iter().map(|l| l.0).collect())
}

fn scatter(name: &str, points: &[Point], color: Color32, radius: f32) -> Points<'static> {
    let plotted: PlotPoints<'static> = points.iter().map(|p| [p[0], p[1]]).collect();
    Points::new(name.to_owned(), plotted)
        .color(color)
        .radius(radius)
}

/// The points of `model` and their marginal densities; returns those densities as CSV when
/// asked.
fn points_plot_ui(
    ui: &mut egui::Ui,
    panel: &mut PlaygroundPanel,
    model: usize,
    height: f32,
) -> Option<Command> {
    let drawn = panel.settings.source == PlaygroundSource::Drawn;
    let drawing = drawn && !panel.running();
    let title = match panel.state.models.get(model) {
        _ if drawing => "drag to paint points, then Train and sample".to_owned(),
        Some(results) => format!("data and samples: {}", results.label),
        None => "data and samples".to_owned(),
    };
    ui.label(RichText::new(title).strong());
    let (data, seed) = (panel.settings.data, panel.settings.seed);
    let shown = if drawn {
        panel.settings.drawn.as_slice()
    } else {
        panel.state.data_or_preview(data, seed)
    };
    let data = scatter("data", shown, DATA_COLOR, 1.0);
    let color = sample_color(model);
    let state = &panel.state;
    let response = Plot::new(("playground points", model))
        .height(height)
        .data_aspect(1.0)
        .legend(Legend::default())
        .allow_drag(!drawing)
        .allow_scroll(false)
        .include_x(-2.0)
        .include_x(2.0)
        .include_y(-2.0)
        .include_y(2.0)
        .label_formatter(readout(Axis::Value("x"), Axis::Value("y")))
        .show_exportable(ui, &format!("playground-points-{}", model + 1), |plot_ui| {
            plot_ui.points(data);
            let results = state.models.get(model);
            if let Some(points) = state.shown_points(model) {
                plot_ui.points(scatter("samples", points, color, 1.5));
                add_trails(plot_ui, state, model);
            } else if let Some((step, preview)) = results.and_then(|r| r.preview.as_ref()) {
                let name = format!("samples after {step} steps");
                plot_ui.points(scatter(&name, &preview.points, color, 1.5));
            }
            if state.show_field {
                add_field(plot_ui, state, model);
            }
            let response = plot_ui.response();
            let started = response.drag_started() || response.clicked();
            let pressed = response.is_pointer_button_down_on();
            (started, plot_ui.pointer_coordinate().filter(|_| pressed))
        });
    if drawing {
        let (started, at) = response.inner;
        if paint(&mut panel.settings, started, at.map(|p| [p.x, p.y])) {
            panel.state.clear_results();
        }
    }
    density_plot_ui(ui, &panel.state, model)
}

/// The marginal densities of x and y of the samples against the data's (standardised), once
/// `model` has sampled; returns them as CSV when asked.
fn density_plot_ui(
    ui: &mut egui::Ui,
    state: &super::PlaygroundState,
    model: usize,
) -> Option<Command> {
    let (Some(samples), Some(standardiser)) = (
        state.models.get(model).and_then(|m| m.samples.as_ref()),
        state.standardiser.as_ref(),
    ) else {
        return None;
    };
    let standard = |points: &[Point]| -> Vec<Point> {
        points.iter().map(|&p| standardiser.apply(p)).collect()
    };
    let sets = [
        ("data", standard(&state.data), DATA_COLOR),
        ("samples", standard(&samples.points), sample_color(model)),
    ];
    let mut curves = Vec::new();
    for (name, points, _) in &sets {
        for axis in ["x", "y"] {
            let index = usize::from(axis == "y");
            let line = density(points.iter().map(|p| p[index]), points.len());
            curves.push(Curve::new(format!("{name} {axis}"), line));
        }
    }
    let export = ui.small_button("CSV: marginal densities").clicked();
    Plot::new(("playground density", model))
        .height(110.0)
        .legend(Legend::default())
        .allow_drag(false)
        .allow_scroll(false)
        .x_axis_label("standardised coordinate")
        .label_formatter(readout(Axis::Value("coordinate"), Axis::Value("density")))
        .show_exportable(
            ui,
            &format!("playground-density-{}", model + 1),
            |plot_ui| {
                for (curve, (_, _, color)) in curves.iter().zip(sets.iter().flat_map(|s| [s, s])) {
                    let style = if curve.name.ends_with(" y") {
                        LineStyle::dashed_dense()
                    } else {
                        LineStyle::Solid
                    };
                    let line =
                        Line::new(curve.name.as_str(), PlotPoints::from(curve.points.clone()));
                    plot_ui.line(line.color(*color).style(style).width(1.0));
                }
            },
        );
    export.then(|| {
        Command::Export(ExportRequest::Csv {
            stem: format!("playground-marginals-{}", model + 1),
            x_name: "standardised_coordinate".to_owned(),
            y_name: "density".to_owned(),
            curves,
        })
    })
}

/// Adds a few points around `at` (a spray, so that a stroke has some width); a new stroke
/// starts where the button went down. True when points were added.
fn paint(settings: &mut PlaygroundSettings, started: bool, at: Option<Point>) -> bool {
    let Some([x, y]) = at else {
        return false;
    };
    if started || settings.strokes.is_empty() {
        settings.strokes.push(settings.drawn.len());
    }
    if settings.drawn.len() >= crate::toy::MAX_POINTS {
        return false;
    }
    let n = settings.drawn.len() as f64;
    for k in 0..3 {
        // A deterministic spray: points on a small spiral around the pointer.
        let angle = 2.399_963 * (n + f64::from(k));
        let radius = 0.03 * (1.0 + f64::from(k));
        settings
            .drawn
            .push([x + radius * angle.cos(), y + radius * angle.sin()]);
    }
    true
}

/// The learned field at the level chosen, the longest arrow as long as a twentieth of the
/// grid's extent.
fn add_field(plot_ui: &mut egui_plot::PlotUi<'_>, state: &super::PlaygroundState, model: usize) {
    let Some(field) = state.models.get(model).and_then(|m| m.field.as_ref()) else {
        return;
    };
    let Some((_, directions)) = field
        .levels
        .get(state.field_level.min(field.levels.len().saturating_sub(1)))
    else {
        return;
    };
    let extent = field
        .grid
        .iter()
        .fold(0.0_f64, |m, p| m.max(p[0].abs()).max(p[1].abs()));
    let longest = directions
        .iter()
        .fold(0.0_f64, |m, d| m.max(d[0].hypot(d[1])));
    if longest <= 0.0 {
        return;
    }
    let scale = extent / 20.0 / longest;
    let origins: PlotPoints<'_> = field.grid.iter().map(|p| [p[0], p[1]]).collect();
    let tips: PlotPoints<'_> = field
        .grid
        .iter()
        .zip(directions)
        .map(|(p, d)| [p[0] + scale * d[0], p[1] + scale * d[1]])
        .collect();
    let arrows =
        egui_plot::Arrows::new("learned field", origins, tips).color(Color32::from_gray(170));
    plot_ui.arrows(arrows);
}

/// Trails shown: the paths of this many points, up to the state shown, fading into the past.
const TRAILS: usize = 40;

fn add_trails(plot_ui: &mut egui_plot::PlotUi<'_>, state: &super::PlaygroundState, model: usize) {
    let (Some(samples), Some(upto)) = (
        state.models.get(model).and_then(|m| m.samples.as_ref()),
        state.shown_state(model),
    ) else {
        return;
    };
    let points = samples.points.len().min(TRAILS);
    let first = upto.saturating_sub(TRAIL_STATES);
    let color = sample_color(model).gamma_multiply(0.35);
    for index in 0..points {
        let trail: PlotPoints<'_> = samples.path[first..=upto]
            .iter()
            .map(|state| [state[index][0], state[index][1]])
            .collect();
        plot_ui.line(Line::new("trails", trail).color(color).width(1.0));
    }
}

/// States of the path a trail reaches back.
const TRAIL_STATES: usize = 400;

fn loss_plot_ui(
    ui: &mut egui::Ui,
    panel: &PlaygroundPanel,
    height: f32,
    commands: &mut Vec<Command>,
) {
    let models = &panel.state.models;
    ui.horizontal(|ui| {
        ui.label(RichText::new("training loss (log₁₀; raw and smoothed)").strong());
        if ui
            .small_button("CSV")
            .on_hover_text("every model's raw loss by step")
            .clicked()
        {
            let curves = models
                .iter()
                .map(|m| {
                    let points = m.losses.iter().map(|&(step, l)| [step as f64, l]);
                    Curve::new(m.label.clone(), points.collect())
                })
                .collect();
            commands.push(Command::Export(ExportRequest::Csv {
                stem: "playground-loss".to_owned(),
                x_name: "step".to_owned(),
                y_name: "loss".to_owned(),
                curves,
            }));
        }
    });
    let curves: Vec<_> = models.iter().map(|m| loss_curves(&m.losses)).collect();
    Plot::new("playground loss")
        .height(height)
        .allow_scroll(false)
        .legend(Legend::default())
        .x_axis_label("training step")
        .label_formatter(readout(Axis::Whole("step"), Axis::Log10("loss")))
        .show_exportable(ui, "playground-loss", |plot_ui| {
            for (model, ((raw, smoothed), results)) in curves.into_iter().zip(models).enumerate() {
                let color = sample_color(model);
                let name = |what: &str| {
                    if models.len() > 1 {
                        format!("{} ({what})", results.label)
                    } else {
                        what.to_owned()
                    }
                };
                let raw = Line::new(name("raw"), PlotPoints::from(raw));
                plot_ui.line(raw.color(color.gamma_multiply(0.3)));
                plot_ui.line(Line::new(name("smoothed"), PlotPoints::from(smoothed)).color(color));
            }
        });
}

/// log₁₀ of the raw losses and of their exponential moving average, by step.
fn loss_curves(losses: &[(u64, f64)]) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    let mut raw = Vec::with_capacity(losses.len());
    let mut smoothed = Vec::with_capacity(losses.len());
    let mut average = None;
    for &(step, loss) in losses.iter().filter(|(_, l)| *l > 0.0) {
        let a = average.map_or(loss, |a: f64| 0.98 * a + 0.02 * loss);
        average = Some(a);
        raw.push([step as f64, loss.log10()]);
        smoothed.push([step as f64, a.log10()]);
    }
    (raw, smoothed)
}
