//! One image of a stack on screen: through the WGSL paint callback when the UI is drawn with
//! wgpu, otherwise through an egui texture made by the shader's Rust reference.

use eframe::egui;

use crate::render::{Colormap, ImageCallback, ImageStack, ValueRange, to_rgba8};

/// How an image is drawn.
#[derive(Clone, Copy, Debug)]
pub struct ImageStyle {
    /// The values at the ends of the colour map; `None` stretches each image's own range.
    pub range: Option<ValueRange>,
    /// The colour map.
    pub colormap: Colormap,
    /// Whether the paint callback is available (the UI is drawn with wgpu).
    pub gpu: bool,
}

/// Draws row `row` of `stack` as a `side`×`side` square named `name` for screen readers;
/// the response can be clicked.
pub fn image_view(
    ui: &mut egui::Ui,
    name: &str,
    stack: &ImageStack,
    row: usize,
    side: f32,
    style: ImageStyle,
) -> egui::Response {
    let key = egui::Id::unique(("noisescope image", name));
    let (rect, response) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::click());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Image, true, name));
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let range = style
        .range
        .unwrap_or_else(|| ValueRange::of(stack.row(row)));
    if style.gpu {
        ImageCallback {
            key,
            stack: stack.clone(),
            row,
            range,
            colormap: style.colormap,
        }
        .paint(ui.painter(), rect);
    } else {
        let texture = texture_for(ui.ctx(), key, stack, row, range, style.colormap);
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        ui.painter()
            .image(texture.id(), rect, uv, egui::Color32::WHITE);
    }
    response
}

/// Columns for `count` images when `fits` fit in a row: the most that fill every row (a
/// divisor of `count`), unless that would leave more than half of the row empty; then as many
/// as fit, and only the last row is short.
pub fn grid_columns(count: usize, fits: usize) -> usize {
    let fits = fits.clamp(1, count.max(1));
    let whole = (1..=fits)
        .rev()
        .find(|c| count.is_multiple_of(*c))
        .unwrap_or(1);
    if 2 * whole >= fits { whole } else { fits }
}

/// Lays out `count` cells of `side`×`side` points in whole rows (see [`grid_columns`]),
/// `gap` apart, drawing cell `index` with `cell`.
pub fn image_grid(
    ui: &mut egui::Ui,
    (count, side, gap): (usize, f32, f32),
    mut cell: impl FnMut(&mut egui::Ui, usize),
) {
    let fits = ((ui.available_width() + gap) / (side + gap))
        .floor()
        .max(1.0) as usize;
    let columns = grid_columns(count, fits);
    ui.scope(|ui| {
        ui.spacing_mut().item_spacing = egui::vec2(gap, gap);
        for first in (0..count).step_by(columns) {
            ui.horizontal(|ui| {
                for index in first..(first + columns).min(count) {
                    cell(ui, index);
                }
            });
        }
    });
}

/// What a cached texture shows: stack, row, range bits and colour map.
type Stamp = (u64, usize, u32, u32, Colormap);

/// The texture of one image, cached under `key` until what it shows changes.
fn texture_for(
    ctx: &egui::Context,
    key: egui::Id,
    stack: &ImageStack,
    row: usize,
    range: ValueRange,
    colormap: Colormap,
) -> egui::TextureHandle {
    let stamp: Stamp = (
        stack.id(),
        row,
        range.low.to_bits(),
        range.high.to_bits(),
        colormap,
    );
    // A panel drawn offscreen has the window's memory but textures of its own.
    let key = if crate::app::offscreen::is_offscreen(ctx) {
        key.with("offscreen")
    } else {
        key
    };
    let cached: Option<(Stamp, egui::TextureHandle)> = ctx.data(|d| d.get_temp(key));
    if let Some((old, handle)) = cached
        && old == stamp
    {
        return handle;
    }
    let rgba = to_rgba8(stack.row(row), range, colormap);
    let image = egui::ColorImage::from_rgba_unmultiplied([stack.width(), stack.height()], &rgba);
    let handle = ctx.load_texture(format!("{key:?}"), image, egui::TextureOptions::NEAREST);
    ctx.data_mut(|d| d.insert_temp(key, (stamp, handle.clone())));
    handle
}

/// A bar of the colour map of `style` across `width`, with the values at its ends and middle.
pub fn colour_bar(ui: &mut egui::Ui, style: ImageStyle, width: f32) {
    let range = style.range.unwrap_or_default();
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 10.0), egui::Sense::hover());
    let segments = 48;
    let step = rect.width() / segments as f32;
    for i in 0..segments {
        let fraction = (i as f32 + 0.5) / segments as f32;
        let value = range.low + fraction * (range.high - range.low);
        let [r, g, b] = crate::render::color_of(value, range, style.colormap)
            .map(|c| (c * 255.0).round() as u8);
        let left = rect.left() + i as f32 * step;
        let cell = egui::Rect::from_min_max(
            egui::pos2(left, rect.top()),
            egui::pos2(left + step + 0.5, rect.bottom()),
        );
        ui.painter()
            .rect_filled(cell, 0.0, egui::Color32::from_rgb(r, g, b));
    }
    ui.allocate_ui(egui::vec2(width, 14.0), |ui| {
        ui.horizontal(|ui| {
            let small = |v: f32| {
                let text = if v == 0.0 {
                    "0".to_owned()
                } else {
                    format!("{v:+}")
                };
                egui::RichText::new(text).small()
            };
            ui.label(small(range.low));
            let middle = 0.5 * (range.low + range.high);
            ui.add_space((width / 2.0 - 40.0).max(0.0));
            ui.label(small(middle));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(small(range.high));
            });
        });
    });
}

#[cfg(test)]
mod tests {
    use super::grid_columns;

    #[test]
    fn grids_fill_whole_rows_when_that_leaves_at_most_half_a_row_empty() {
        assert_eq!(grid_columns(16, 11), 8, "two rows of 8, not 11 + 5");
        assert_eq!(grid_columns(16, 20), 16);
        assert_eq!(grid_columns(16, 4), 4);
        assert_eq!(grid_columns(16, 3), 2);
        assert_eq!(grid_columns(7, 6), 6, "a prime count: as many as fit");
        assert_eq!(grid_columns(12, 5), 4);
        assert_eq!(grid_columns(1, 0), 1);
        assert_eq!(grid_columns(0, 5), 1);
    }
}
