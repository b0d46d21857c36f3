//! The user's own image files, converted to the working resolution with notes on what was done.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageBuffer, ImageReader, Luma};

use super::IMAGE_SIDE;

/// Largest image accepted, in pixels; checked from the header before decoding.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// Largest file accepted, in bytes.
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Why an image file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImageLoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file has no bytes.
    #[error("{0} is empty (0 bytes)")]
    Empty(String),
    /// The file or the image is too large.
    #[error("{path} is too large: {what}")]
    TooLarge {
        /// The file.
        path: String,
        /// The size and the limit.
        what: String,
    },
    /// The bytes are not an image this app can decode.
    #[error("{path} is not a readable image: {reason}")]
    Decode {
        /// The file.
        path: String,
        /// The decoder's reason.
        reason: String,
    },
}

/// An image at the working resolution, in [−1, 1], with what conversion did to it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedImage {
    /// The file name, for captions.
    pub name: String,
    /// IMAGE_SIDE² grayscale values in [−1, 1], row-major.
    pub pixels: Vec<f32>,
    /// One line per conversion step that changed the picture.
    pub notes: Vec<String>,
}

/// Reads, checks and converts an image file.
pub fn load_user_image(path: &Path) -> Result<LoadedImage, ImageLoadError> {
    let shown = path.display().to_string();
    let io = |source| ImageLoadError::Io {
        path: shown.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size == 0 {
        return Err(ImageLoadError::Empty(shown));
    }
    if size > MAX_FILE_BYTES {
        return Err(ImageLoadError::TooLarge {
            path: shown,
            what: format!("{size} bytes, the limit is {MAX_FILE_BYTES}"),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let name = path
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    let image = decode_checked(&bytes, &shown)?;
    Ok(convert(&image, name))
}

/// Decodes after checking the header's dimensions against [`MAX_IMAGE_PIXELS`].
fn decode_checked(bytes: &[u8], shown: &str) -> Result<DynamicImage, ImageLoadError> {
    let decode = |error: image::ImageError| ImageLoadError::Decode {
        path: shown.to_owned(),
        reason: error.to_string(),
    };
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| decode(image::ImageError::IoError(e)))
    };
    let (width, height) = reader()?.into_dimensions().map_err(decode)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_IMAGE_PIXELS {
        return Err(ImageLoadError::TooLarge {
            path: shown.to_owned(),
            what: format!("{width}×{height} = {pixels} pixels, the limit is {MAX_IMAGE_PIXELS}"),
        });
    }
    if pixels == 0 {
        return Err(ImageLoadError::Decode {
            path: shown.to_owned(),
            reason: format!("the image is {width}×{height}"),
        });
    }
    reader()?.decode().map_err(decode)
}

/// Grayscale, transparent parts on black, centre square, resized to IMAGE_SIDE².
fn convert(image: &DynamicImage, name: String) -> LoadedImage {
    let (width, height) = image.dimensions();
    let color = image.color();
    let mut notes = Vec::new();
    if color.has_color() {
        notes.push("colour converted to grayscale (Rec. 601 luma)".to_owned());
    }
    if color.has_alpha() {
        notes.push("transparent pixels composited onto black".to_owned());
    }
    if color.bytes_per_pixel() / color.channel_count() > 1 {
        notes.push(format!(
            "{color:?} samples reduced to the working precision"
        ));
    }
    let rgba = image.to_rgba32f();
    let gray = ImageBuffer::from_fn(width, height, |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        Luma([(0.299 * r + 0.587 * g + 0.114 * b) * a])
    });
    let side = width.min(height);
    let square = if width == height {
        gray
    } else {
        notes.push(format!(
            "{width}×{height} is not square: cropped to the centre {side}×{side}"
        ));
        image::imageops::crop_imm(&gray, (width - side) / 2, (height - side) / 2, side, side)
            .to_image()
    };
    let target = IMAGE_SIDE as u32;
    let resized: ImageBuffer<Luma<f32>, Vec<f32>> = if side == target {
        square
    } else {
        notes.push(format!("resized from {side}×{side} to {target}×{target}"));
        image::imageops::resize(&square, target, target, FilterType::Triangle)
    };
    let pixels = resized
        .pixels()
        .map(|p| (p.0[0].clamp(0.0, 1.0) * 2.0) - 1.0)
        .collect();
    LoadedImage {
        name,
        pixels,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgba};

    /// A temporary file ending in `name` that holds `bytes`, removed when dropped.
    fn temp_file(name: &str, bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new()
            .suffix(name)
            .tempfile()
            .expect("temp file");
        std::io::Write::write_all(&mut file, bytes).expect("temp file");
        file
    }

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).expect("encode");
        bytes.into_inner()
    }

    #[test]
    fn grayscale_alpha_sixteen_bit_non_square_is_converted_with_notes() {
        let image = ImageBuffer::from_fn(90, 60, |x, _| {
            image::LumaA([if x < 45 { 65535u16 } else { 0 }, 65535])
        });
        let png = encode(&DynamicImage::ImageLumaA16(image), ImageFormat::Png);
        let loaded = load_user_image(temp_file("la16.png", &png).path()).expect("decodes");
        assert_eq!(loaded.pixels.len(), IMAGE_SIDE * IMAGE_SIDE);
        let notes = loaded.notes.join("; ");
        assert!(notes.contains("transparent"), "{notes}");
        assert!(notes.contains("cropped to the centre 60×60"), "{notes}");
        assert!(notes.contains("resized from 60×60 to 28×28"), "{notes}");
        assert!(notes.contains("La16"), "{notes}");
        assert!(loaded.pixels[0] > 0.99 && loaded.pixels[IMAGE_SIDE - 1] < -0.99);
    }

    #[test]
    fn colour_is_turned_to_luma_and_alpha_darkens() {
        let image = ImageBuffer::from_pixel(28, 28, Rgba([255u8, 0, 0, 128]));
        let png = encode(&DynamicImage::ImageRgba8(image), ImageFormat::Png);
        let loaded = load_user_image(temp_file("red.png", &png).path()).expect("decodes");
        let expected = 0.299 * (128.0 / 255.0) * 2.0 - 1.0;
        assert!(
            (loaded.pixels[0] - expected).abs() < 1e-3,
            "{}",
            loaded.pixels[0]
        );
        assert_eq!(loaded.notes.len(), 2, "{:?}", loaded.notes);
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        let empty = load_user_image(temp_file("empty.png", &[]).path()).expect_err("empty");
        assert!(empty.to_string().contains("empty"), "{empty}");
        let garbage = load_user_image(temp_file("garbage.png", b"not an image at all").path());
        assert!(
            garbage
                .expect_err("garbage")
                .to_string()
                .contains("not a readable image")
        );
        let png = encode(&DynamicImage::new_luma8(40, 40), ImageFormat::Png);
        let truncated = load_user_image(temp_file("cut.png", &png[..png.len() / 2]).path());
        assert!(truncated.is_err());
        let missing = load_user_image(Path::new("/nonexistent/noisescope.png"));
        assert!(
            missing
                .expect_err("missing")
                .to_string()
                .contains("cannot read")
        );
    }

    #[test]
    fn huge_images_are_refused_before_decoding() {
        // A valid PNG header that claims 10000×10000 pixels, with no pixel data behind it.
        let mut png = encode(&DynamicImage::new_luma8(1, 1), ImageFormat::Png);
        png[16..20].copy_from_slice(&10_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&10_000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        let error = load_user_image(temp_file("huge.png", &png).path()).expect_err("huge");
        assert!(error.to_string().contains("too large"), "{error}");
    }
}
