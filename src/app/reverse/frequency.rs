//! The Reverse panel's frequency view: the power spectra of x_t, x̂0 and ε̂ of the selected
//! image at the cursor, for each model, against the test images' mean spectrum. Early in the
//! chain x̂0 has only low frequencies; detail arrives as t falls.

use eframe::egui::{self, Color32, RichText};
use egui_plot::LineStyle;

use super::ReversePanel;
use crate::app::exports::ExportRequest;
use crate::app::panel::Shared;
use crate::app::schedules::SLOT_COLORS;
use crate::app::spectrum_plot::{SpectrumCurve, export_curves, spectrum_plot};
use crate::data::{BuiltinDataset, IMAGE_PIXELS, IMAGE_SIDE};
use crate::metrics::RadialSpectrum;

/// Test images averaged for the data's spectrum.
const DATA_IMAGES: usize = 200;

/// The mean spectrum of the first test images.
pub fn data_spectrum(dataset: &BuiltinDataset) -> Option<RadialSpectrum> {
    let images: Vec<Vec<f32>> = (0..DATA_IMAGES).filter_map(|i| dataset.image(i)).collect();
    RadialSpectrum::mean_of(images.iter().map(Vec::as_slice), IMAGE_SIDE)
}

fn curves(panel: &ReversePanel, cursor_t: usize) -> Vec<SpectrumCurve> {
    let mut curves = Vec::new();
    if let Some(data) = &panel.data_spectrum {
        curves.push(SpectrumCurve {
            name: format!("test images (mean of {DATA_IMAGES})"),
            power: data.power.clone(),
            color: Color32::GRAY,
            style: LineStyle::Solid,
        });
    }
    let selected = panel.settings.selected;
    for (index, run) in panel.state.runs.iter().enumerate() {
        let Some(step) = run.step_index(cursor_t).map(|i| &run.steps[i]) else {
            continue;
        };
        let color = SLOT_COLORS[index % SLOT_COLORS.len()];
        let quantities = [
            ("x_t", &step.x_t, LineStyle::Solid),
            ("x̂0", &step.x0_hat, LineStyle::dashed_dense()),
            ("ε̂", &step.eps_hat, LineStyle::dotted_dense()),
        ];
        for (name, batch, style) in quantities {
            let Some(image) = batch.item(selected, IMAGE_PIXELS) else {
                continue;
            };
            curves.push(SpectrumCurve {
                name: format!("{name}, {} model", run.label),
                power: RadialSpectrum::of(&image, IMAGE_SIDE).power,
                color,
                style,
            });
        }
    }
    curves
}

/// The frequency view, below the model columns.
pub fn frequency_ui(ui: &mut egui::Ui, panel: &mut ReversePanel, shared: &Shared<'_>) {
    if panel.data_spectrum.is_none()
        && let Ok(dataset) = shared.dataset
    {
        panel.data_spectrum = data_spectrum(dataset);
    }
    ui.label(RichText::new("Frequency view of the large image").strong());
    ui.label(
        RichText::new(
            "Power of each spatial frequency (radially averaged). Solid: x_t; dashed: the \
             predicted x0; dotted: the predicted noise. At large t the prediction holds only \
             coarse shapes (low frequencies); fine detail comes as t falls.",
        )
        .small()
        .weak(),
    );
    let curves = curves(panel, shared.cursor_t);
    spectrum_plot(ui, "reverse spectrum", &curves, &[], 220.0);
}

/// The frequency view's curves at the cursor, as CSV.
pub fn frequency_export(panel: &ReversePanel, cursor_t: usize) -> ExportRequest {
    ExportRequest::Csv {
        stem: format!("reverse-spectrum-t{cursor_t:04}"),
        x_name: "cycles_per_image".to_owned(),
        y_name: "power".to_owned(),
        curves: export_curves(&curves(panel, cursor_t)),
    }
}
