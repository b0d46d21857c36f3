//! The Forward panel's frequency view: the radially averaged power spectrum of x_t for each
//! schedule, against the signal's spectrum scaled by ᾱ_t and the flat noise spectrum scaled
//! by 1 − ᾱ_t; where they cross, the noise has drowned every finer detail.

use eframe::egui::{self, Color32, RichText};
use egui_plot::LineStyle;

use super::{ForwardPanel, row_for};
use crate::app::exports::ExportRequest;
use crate::app::panel::Shared;
use crate::app::schedules::SLOT_COLORS;
use crate::app::spectrum_plot::{Marker, SpectrumCurve, export_curves, spectrum_plot};
use crate::data::IMAGE_SIDE;
use crate::metrics::RadialSpectrum;

/// The curves and crossings at the cursor.
fn curves(panel: &ForwardPanel, shared: &Shared<'_>) -> (Vec<SpectrumCurve>, Vec<Marker>) {
    let x0 = RadialSpectrum::of(panel.source.image.row(0), IMAGE_SIDE);
    let mut curves = vec![SpectrumCurve {
        name: "x0".to_owned(),
        power: x0.power.clone(),
        color: Color32::GRAY,
        style: LineStyle::Solid,
    }];
    let mut markers = Vec::new();
    for (slot, (schedule, stack)) in shared.schedules.iter().zip(&panel.stacks).enumerate() {
        let row = row_for(shared.schedules, slot, shared.cursor_t);
        let alpha_bar = schedule.alpha_bar_at(row + 1);
        let (color, name) = (SLOT_COLORS[slot], schedule.spec().label());
        curves.push(SpectrumCurve {
            name: format!("x_t, {name}"),
            power: RadialSpectrum::of(stack.row(row), IMAGE_SIDE).power,
            color,
            style: LineStyle::Solid,
        });
        curves.push(SpectrumCurve {
            name: format!("ᾱ_t · x0's, {name}"),
            power: x0.power.iter().map(|p| alpha_bar * p).collect(),
            color,
            style: LineStyle::dashed_dense(),
        });
        curves.push(SpectrumCurve {
            name: format!("noise 1 − ᾱ_t, {name}"),
            power: vec![1.0 - alpha_bar; x0.power.len()],
            color,
            style: LineStyle::dotted_dense(),
        });
        if let Some(frequency) = x0.crossing(alpha_bar) {
            markers.push(Marker {
                name: format!("crossing {frequency:.1}, {name}"),
                frequency,
                color,
            });
        }
    }
    (curves, markers)
}

/// The frequency view.
pub fn frequency_ui(ui: &mut egui::Ui, panel: &ForwardPanel, shared: &Shared<'_>) {
    ui.label(RichText::new("Frequency view").strong());
    ui.label(
        RichText::new(
            "Power of each spatial frequency (radially averaged). Solid: x_t as drawn; dashed: \
             the image's power scaled by ᾱ_t; dotted: the noise's, flat, scaled by 1 − ᾱ_t. \
             Right of the crossing the noise is louder than the signal: fine detail drowns \
             first, and the crossing moves to lower frequencies as t grows.",
        )
        .small()
        .weak(),
    );
    let (curves, markers) = curves(panel, shared);
    spectrum_plot(ui, "forward spectrum", &curves, &markers, 240.0);
}

/// The frequency view's curves at the cursor, as CSV.
pub fn frequency_export(panel: &ForwardPanel, shared: &Shared<'_>) -> ExportRequest {
    let (curves, _) = curves(panel, shared);
    ExportRequest::Csv {
        stem: format!("forward-spectrum-t{:04}", shared.cursor_t),
        x_name: "cycles_per_image".to_owned(),
        y_name: "power".to_owned(),
        curves: export_curves(&curves),
    }
}
