//! Small widgets the panels share.

use eframe::egui;

use super::panel::{Command, Shared};
use super::settings::SamplerChoice;
use crate::schedule::{Schedule, daed_switch};

/// The DAED switching point's marker in every plot: a gold that no schedule, model or method
/// colour is close to.
pub const SWITCH_COLOR: egui::Color32 = egui::Color32::from_rgb(230, 185, 20);

/// A spinner that turns only when something else repaints the UI (a job's progress does, at
/// most once a second): egui's spinner asks for a new frame at once, every frame, so while a job
/// ran the UI repainted as fast as it could, and on a software renderer that took much of the
/// CPU the job was computing on.
pub fn busy_indicator(ui: &mut egui::Ui) {
    let size = ui.style().spacing.interact_size.y;
    let (rect, _) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    if ui.is_rect_visible(rect) {
        let start = ui.input(|i| i.time) as f32 * 2.0;
        let radius = rect.height() / 2.0 - 2.0;
        let points: Vec<egui::Pos2> = (0..=24)
            .map(|i| {
                let angle = start + i as f32 / 24.0 * 4.2;
                rect.center() + radius * egui::vec2(angle.cos(), angle.sin())
            })
            .collect();
        let stroke = ui.visuals().widgets.active.fg_stroke;
        ui.painter().add(egui::Shape::line(points, stroke));
    }
}

/// A menu of the samplers and, for those that take one, their number of steps; true when the
/// sampler changed.
pub fn sampler_picker(
    ui: &mut egui::Ui,
    label: &str,
    choice: &mut SamplerChoice,
    steps: &mut usize,
) -> bool {
    let before = *choice;
    egui::ComboBox::from_label(label)
        .selected_text(choice.name())
        .show_ui(ui, |ui| {
            for option in SamplerChoice::ALL {
                ui.selectable_value(choice, option, option.name());
            }
        });
    if choice.has_steps() {
        labelled_drag(ui, "steps", steps, 1..=1000);
    }
    *choice != before
}

/// A label and a drag value that screen readers (and UI tests) know belong together.
pub fn labelled_drag<N: egui::emath::Numeric>(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut N,
    range: std::ops::RangeInclusive<N>,
) {
    let label = ui.label(label);
    ui.add(egui::DragValue::new(value).range(range))
        .labelled_by(label.id);
}

/// The cursor t as a slider over 1..=`max_t` (filling the row but `room` points), drawing the
/// shared value within its range and reporting only a move; the slider takes ←/→ while
/// focused.
pub fn cursor_slider(
    ui: &mut egui::Ui,
    cursor_t: usize,
    max_t: usize,
    (room, hint): (f32, &str),
    commands: &mut Vec<Command>,
) {
    ui.spacing_mut().slider_width = (ui.available_width() - room).max(120.0);
    let mut t = cursor_t.clamp(1, max_t);
    let slider = ui
        .add(egui::Slider::new(&mut t, 1..=max_t).text("t"))
        .on_hover_text(hint);
    if slider.changed() {
        commands.push(Command::SetCursor(t));
    }
    commands.push(Command::TSlider(slider.id));
}

/// The switching point s as a slider over `range`, with its % of T and λ under `schedule`, and
/// DAED's automatic rule from β1 (s = argmin |ᾱ_t − (1 − β1)|, kept within `range`). Both are
/// shared by panels, so changes go out as commands.
pub fn switch_slider(
    ui: &mut egui::Ui,
    shared: &Shared<'_>,
    range: std::ops::RangeInclusive<usize>,
    schedule: Option<&Schedule>,
    commands: &mut Vec<Command>,
) {
    let label = ui.label("switch s");
    // The slider draws a value within its range but reports only what the person moves it to:
    // the point is shared by panels whose ranges differ.
    let switch_t = shared.switch_t;
    let mut shown = switch_t.clamp(*range.start(), *range.end());
    let moved = ui
        .add(egui::Slider::new(&mut shown, range.clone()))
        .labelled_by(label.id)
        .on_hover_text("the diffusion model runs T → s; the autoencoder maps x_s to x̂0")
        .changed();
    if moved {
        commands.push(Command::SetSwitch(shown));
    }
    let Some(schedule) = schedule else { return };
    let steps = schedule.steps();
    let lambda = match switch_t {
        0 => "∞".to_owned(),
        t => format!("{:.2}", schedule.log_snr()[t.min(steps) - 1]),
    };
    ui.label(format!(
        "{:.1} % of T, λ = {lambda}",
        100.0 * switch_t as f64 / steps as f64
    ));
    let label = ui.label("β1");
    let mut beta1 = shared.beta1;
    let edited = ui
        .add(
            egui::DragValue::new(&mut beta1)
                .range(1e-6..=0.5)
                .speed(1e-4)
                .min_decimals(4),
        )
        .labelled_by(label.id)
        .changed();
    if edited {
        commands.push(Command::SetBeta1(beta1));
    }
    if ui
        .button("auto")
        .on_hover_text("DAED's rule: s = argmin |ᾱ_t − (1 − β1)|")
        .clicked()
        && let Ok(switch) = daed_switch(schedule, beta1)
    {
        commands.push(Command::SetSwitch(
            switch.t.clamp(*range.start(), *range.end()),
        ));
    }
}

/// A model's colour in every plot: the linear model in the first schedule slot's colour, the
/// cosine model in the second's.
pub fn model_color(label: &str) -> egui::Color32 {
    use super::schedules::SLOT_COLORS;
    SLOT_COLORS[usize::from(label == "cosine")]
}

/// DAED's automatic switching rule written out with the values of `schedule` and β1.
pub fn switch_rule_ui(ui: &mut egui::Ui, shared: &Shared<'_>, schedule: Option<&Schedule>) {
    let Some(schedule) = schedule else { return };
    let Ok(switch) = daed_switch(schedule, shared.beta1) else {
        return;
    };
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("automatic s:").small());
        let formula = super::formula_strip::switch_formula(schedule, shared.beta1, switch.t);
        super::math::math_ui(ui, "DAED switching rule", &formula, 16.0);
    });
}

/// A duration as a person says it: "40 s", "3 min", "1 h 5 min".
pub fn duration_words(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", (seconds + 30) / 60),
        _ => format!("{} h {} min", seconds / 3600, (seconds % 3600 + 30) / 60),
    }
}

#[cfg(test)]
mod duration_tests {
    use super::duration_words;

    #[test]
    fn durations_read_as_spoken() {
        assert_eq!(duration_words(39.6), "40 s");
        assert_eq!(duration_words(150.0), "3 min");
        assert_eq!(duration_words(3900.0), "1 h 5 min");
    }
}
