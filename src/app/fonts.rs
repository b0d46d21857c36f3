//! A fallback font with the mathematical symbols the panels use (ᾱ, √, λ, ε, −, ←, …).

use eframe::egui;

const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Adds DejaVu Sans behind egui's own fonts, for both proportional and monospace text.
pub fn install_fallback_font(ctx: &egui::Context) {
    let families = [egui::FontFamily::Proportional, egui::FontFamily::Monospace]
        .into_iter()
        .map(|family| egui::epaint::text::InsertFontFamily {
            family,
            priority: egui::epaint::text::FontPriority::Lowest,
        })
        .collect();
    ctx.add_font(egui::epaint::text::FontInsert::new(
        "DejaVu Sans",
        egui::FontData::from_static(DEJAVU_SANS),
        families,
    ));
}
