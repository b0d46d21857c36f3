//! A caption such as "t = 250" under a picture, drawn with a 3×5 pixel font (digits and the
//! few letters captions need), so that GIF frames say which step they show.

use image::{Rgb, RgbImage};

const FOREGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const BACKGROUND: Rgb<u8> = Rgb([0, 0, 0]);
/// Glyph width and height in font pixels, and the space after each glyph.
const GLYPH: (u32, u32, u32) = (3, 5, 1);

/// The rows of a glyph, top to bottom, three bits each (the high bit is the left pixel);
/// characters without a glyph are drawn as spaces.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b001, 0b001, 0b001],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        't' => [0b010, 0b111, 0b010, 0b010, 0b011],
        's' => [0b011, 0b100, 0b010, 0b001, 0b110],
        'x' => [0b000, 0b101, 0b010, 0b101, 0b000],
        '=' => [0b000, 0b111, 0b000, 0b111, 0b000],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        _ => [0; 5],
    }
}

/// `picture` with a black strip below it holding `text` in white, as large as fits (font
/// pixels of up to a 40th of the picture's height).
pub fn stamp_label(picture: &RgbImage, text: &str) -> RgbImage {
    let (width, height) = picture.dimensions();
    let chars = text.chars().count() as u32;
    let text_width = (chars * (GLYPH.0 + GLYPH.2)).max(1);
    let size = (height / 40)
        .min(width.saturating_sub(2) / text_width)
        .max(1);
    let strip = (GLYPH.1 + 2) * size;
    let mut out = RgbImage::from_pixel(width, height + strip, BACKGROUND);
    image::imageops::replace(&mut out, picture, 0, 0);
    let mut left = size;
    for c in text.chars() {
        for (row, bits) in glyph(c).into_iter().enumerate() {
            for column in 0..GLYPH.0 {
                if bits & (0b100 >> column) != 0 {
                    let x = left + column * size;
                    let y = height + size + row as u32 * size;
                    fill(&mut out, (x, y), size);
                }
            }
        }
        left += (GLYPH.0 + GLYPH.2) * size;
    }
    out
}

/// A `size`×`size` square of the foreground colour at `(x, y)`, clipped to the picture.
fn fill(picture: &mut RgbImage, (x, y): (u32, u32), size: u32) {
    for dy in 0..size {
        for dx in 0..size {
            if x + dx < picture.width() && y + dy < picture.height() {
                picture.put_pixel(x + dx, y + dy, FOREGROUND);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(picture: &RgbImage, top: u32) -> usize {
        picture
            .enumerate_pixels()
            .filter(|(_, y, p)| *y >= top && **p == FOREGROUND)
            .count()
    }

    #[test]
    fn the_caption_goes_below_the_picture_and_different_text_draws_differently() {
        let picture = RgbImage::from_pixel(120, 120, Rgb([128, 128, 128]));
        let one = stamp_label(&picture, "t = 1");
        let eight = stamp_label(&picture, "t = 8");
        // Font pixels of 3 (120 / 40): a strip of 7 × 3 rows.
        assert_eq!(one.dimensions(), (120, 141));
        assert_eq!(one.get_pixel(60, 60), &Rgb([128, 128, 128]));
        // 't' (8 pixels) + '=' (6) + '1' (8) at 3×3 each; '8' has 13 pixels.
        assert_eq!(lit(&one, 120), (8 + 6 + 8) * 9);
        assert_eq!(lit(&eight, 120), (8 + 6 + 13) * 9);
    }

    #[test]
    fn long_captions_shrink_to_fit() {
        let picture = RgbImage::new(40, 400);
        let captioned = stamp_label(&picture, "t = 1000");
        // 8 glyphs of 4 font pixels: 32 wide at size 1 fit in 40, size 2 would not.
        assert_eq!(captioned.height(), 400 + 7);
    }
}
