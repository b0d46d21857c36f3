//! Any plot exports on its own: right-click it, "Export this plot as PNG". The request waits in
//! egui's memory until the app, after the frame, draws the open panel anew offscreen at the
//! export resolution and keeps the plot's part of it.

use eframe::egui;
use egui_plot::{Plot, PlotResponse, PlotUi};

/// The menu entry a right-click on a plot shows.
pub const MENU_ENTRY: &str = "Export this plot as PNG";

/// A plot asked to be exported: where it was drawn, and the file name it asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotExport {
    /// The plot's rectangle in the window, in points.
    pub rect: egui::Rect,
    /// The file name without extension.
    pub stem: String,
}

/// Shows a plot that offers its own export on a right-click.
pub trait ExportablePlot<'a> {
    /// [`Plot::show`], with the menu that exports the plot as `<stem>.png`.
    fn show_exportable<R>(
        self,
        ui: &mut egui::Ui,
        stem: &str,
        build: impl FnOnce(&mut PlotUi<'a>) -> R + 'a,
    ) -> PlotResponse<R>;
}

impl<'a> ExportablePlot<'a> for Plot<'a> {
    fn show_exportable<R>(
        self,
        ui: &mut egui::Ui,
        stem: &str,
        build: impl FnOnce(&mut PlotUi<'a>) -> R + 'a,
    ) -> PlotResponse<R> {
        // The plot's response covers its data area; the scope also holds its axes.
        let scoped = ui.scope(|ui| self.show(ui, build));
        let (rect, shown) = (scoped.response.rect, scoped.inner);
        shown.response.context_menu(|ui| {
            if ui.button(MENU_ENTRY).clicked() {
                let export = PlotExport {
                    rect,
                    stem: stem.to_owned(),
                };
                ui.ctx().data_mut(|d| d.insert_temp(request_id(), export));
                ui.close();
            }
        });
        shown
    }
}

/// The plot export asked for during the frame, taken (once).
pub fn take_request(ctx: &egui::Context) -> Option<PlotExport> {
    ctx.data_mut(|d| {
        let request = d.get_temp::<PlotExport>(request_id());
        d.remove::<PlotExport>(request_id());
        request
    })
}

fn request_id() -> egui::Id {
    egui::Id::unique("noisescope plot export")
}

/// The part of a picture of the panel drawn at `rect_of_panel` (points) and `pixels_per_point`
/// that shows `rect` (points, in the window): its corner and size in pixels, within the picture
/// of `size` pixels.
pub fn crop_of(
    rect: egui::Rect,
    rect_of_panel: egui::Rect,
    pixels_per_point: f32,
    size: [u32; 2],
) -> Option<[u32; 4]> {
    let inside = rect.intersect(rect_of_panel);
    if !inside.is_positive() {
        return None;
    }
    let to_pixels =
        |v: f32, limit: u32| ((v * pixels_per_point).round().max(0.0) as u32).min(limit);
    let relative = inside.translate(-rect_of_panel.min.to_vec2());
    let (left, top) = (
        to_pixels(relative.min.x, size[0]),
        to_pixels(relative.min.y, size[1]),
    );
    let (right, bottom) = (
        to_pixels(relative.max.x, size[0]),
        to_pixels(relative.max.y, size[1]),
    );
    (right > left && bottom > top).then_some([left, top, right - left, bottom - top])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_is_cut_out_of_the_panel_at_the_export_resolution() {
        let panel = egui::Rect::from_min_size(egui::pos2(0.0, 30.0), egui::vec2(800.0, 600.0));
        let plot = egui::Rect::from_min_size(egui::pos2(100.0, 80.0), egui::vec2(300.0, 150.0));
        assert_eq!(
            crop_of(plot, panel, 2.0, [1600, 1200]),
            Some([200, 100, 600, 300])
        );
        // A plot partly scrolled out of the panel keeps its visible part: y from −20 to 130,
        // of which 30 to 130 shows, 100 points.
        let scrolled = plot.translate(egui::vec2(0.0, -100.0));
        assert_eq!(
            crop_of(scrolled, panel, 2.0, [1600, 1200]),
            Some([200, 0, 600, 200])
        );
        let outside = plot.translate(egui::vec2(0.0, 2000.0));
        assert_eq!(crop_of(outside, panel, 2.0, [1600, 1200]), None);
    }
}
