//! Float images as RGB pictures: coloured as the app draws them, laid out in grids, enlarged
//! pixel by pixel (crisp at any scale) and written as PNG.

use std::path::Path;

use image::{ImageEncoder, Rgb, RgbImage};

use super::{ExportError, Overwrite, stamp_label, write_atomically_with};
use crate::render::{Colormap, ValueRange, color_of};

/// The colour between the images of a grid.
const GAP_COLOR: Rgb<u8> = Rgb([40, 40, 40]);

/// How values become colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PictureStyle {
    /// The values at the colour map's ends; `None`: each image's own min..max.
    pub range: Option<ValueRange>,
    /// The colour map.
    pub colormap: Colormap,
}

impl Default for PictureStyle {
    /// Gray over [−1, 1], as images are drawn by default.
    fn default() -> Self {
        Self {
            range: Some(ValueRange::default()),
            colormap: Colormap::Gray,
        }
    }
}

/// Images laid out in a grid: what one picture or one GIF frame shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Tiles {
    /// The images, each `side.0`×`side.1` values, row-major.
    pub images: Vec<Vec<f32>>,
    /// Width and height of each image.
    pub side: (usize, usize),
    /// Images per row.
    pub columns: usize,
    /// How values become colours.
    pub style: PictureStyle,
    /// The step shown, written under the picture when labels are on.
    pub t: Option<usize>,
}

impl Tiles {
    /// The picture, each pixel `scale`×`scale`, with "t = …" under it when `label` is on.
    pub fn render(&self, scale: u32, label: bool) -> RgbImage {
        let images: Vec<&[f32]> = self.images.iter().map(Vec::as_slice).collect();
        let picture = upscale(
            &image_grid(&images, self.side, self.columns, self.style),
            scale,
        );
        match self.t.filter(|_| label) {
            Some(t) => stamp_label(&picture, &format!("t = {t}")),
            None => picture,
        }
    }
}

/// `images` (each `width`×`height` values, row-major) in a grid of `columns` columns, with a
/// one-pixel border around and between them; rows are filled left to right.
pub fn image_grid(
    images: &[&[f32]],
    (width, height): (usize, usize),
    columns: usize,
    style: PictureStyle,
) -> RgbImage {
    let columns = columns.clamp(1, images.len().max(1));
    let rows = images.len().div_ceil(columns).max(1);
    let (cell_w, cell_h) = (width + 1, height + 1);
    let size = |cells: usize, cell: usize| (cells * cell + 1) as u32;
    let mut grid = RgbImage::from_pixel(size(columns, cell_w), size(rows, cell_h), GAP_COLOR);
    for (index, values) in images.iter().enumerate() {
        let range = style.range.unwrap_or_else(|| ValueRange::of(values));
        let (left, top) = (
            (index % columns) * cell_w + 1,
            (index / columns) * cell_h + 1,
        );
        for (p, &value) in values.iter().take(width * height).enumerate() {
            let rgb = color_of(value, range, style.colormap).map(|c| (c * 255.0).round() as u8);
            let (x, y) = (left + p % width, top + p / width);
            grid.put_pixel(x as u32, y as u32, Rgb(rgb));
        }
    }
    grid
}

/// `picture` with every pixel enlarged to `scale`×`scale` (nearest neighbour: no blur).
pub fn upscale(picture: &RgbImage, scale: u32) -> RgbImage {
    let scale = scale.max(1);
    image::imageops::resize(
        picture,
        picture.width() * scale,
        picture.height() * scale,
        image::imageops::FilterType::Nearest,
    )
}

/// Writes `picture` as a PNG file, atomically.
pub fn write_png(path: &Path, picture: &RgbImage, overwrite: Overwrite) -> Result<(), ExportError> {
    write_atomically_with(path, overwrite, |writer| {
        image::codecs::png::PngEncoder::new(writer)
            .write_image(
                picture.as_raw(),
                picture.width(),
                picture.height(),
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| ExportError::Encode {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_has_whole_rows_borders_and_the_values_coloured() {
        let black = [-1.0f32; 4];
        let white = [1.0f32; 4];
        let images: Vec<&[f32]> = vec![&black, &white, &black];
        let grid = image_grid(&images, (2, 2), 2, PictureStyle::default());
        // Two columns, two rows of 2×2 cells with 1-pixel borders.
        assert_eq!(grid.dimensions(), (7, 7));
        assert_eq!(grid.get_pixel(1, 1), &Rgb([0, 0, 0]));
        assert_eq!(grid.get_pixel(4, 2), &Rgb([255, 255, 255]));
        assert_eq!(grid.get_pixel(0, 0), &GAP_COLOR);
        // The empty fourth cell stays the border colour.
        assert_eq!(grid.get_pixel(5, 5), &GAP_COLOR);
    }

    #[test]
    fn each_image_may_be_stretched_to_its_own_range() {
        let ramp = [0.0f32, 0.1, 0.2, 0.3];
        let style = PictureStyle {
            range: None,
            colormap: Colormap::Gray,
        };
        let grid = image_grid(&[&ramp], (2, 2), 1, style);
        assert_eq!(grid.get_pixel(1, 1), &Rgb([0, 0, 0]));
        assert_eq!(grid.get_pixel(2, 2), &Rgb([255, 255, 255]));
    }

    #[test]
    fn upscaling_repeats_pixels_exactly() {
        let grid = image_grid(&[&[-1.0f32, 1.0]], (2, 1), 1, PictureStyle::default());
        let big = upscale(&grid, 3);
        assert_eq!(big.dimensions(), (12, 9));
        for (x, y) in [(3, 3), (5, 5)] {
            assert_eq!(big.get_pixel(x, y), &Rgb([0, 0, 0]));
        }
        for (x, y) in [(6, 3), (8, 5)] {
            assert_eq!(big.get_pixel(x, y), &Rgb([255, 255, 255]));
        }
    }
}
