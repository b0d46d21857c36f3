//! Frames as an animated GIF, written atomically and stoppable between frames.

use std::path::Path;

use image::buffer::ConvertBuffer;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbImage, RgbaImage};

use super::{ExportError, Overwrite, write_atomically_with};

/// The slowest and fastest frame rates.
pub const FPS_RANGE: (f64, f64) = (0.1, 100.0);

/// How the animation plays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GifSettings {
    /// Frames per second (GIF delays count hundredths of a second, so it is rounded to them).
    pub fps: f64,
    /// Whether it starts again after the last frame.
    pub looping: bool,
}

impl Default for GifSettings {
    fn default() -> Self {
        Self {
            fps: 10.0,
            looping: true,
        }
    }
}

impl GifSettings {
    /// Refuses a frame rate outside [`FPS_RANGE`].
    pub fn check(&self) -> Result<(), ExportError> {
        if (FPS_RANGE.0..=FPS_RANGE.1).contains(&self.fps) {
            Ok(())
        } else {
            Err(ExportError::Invalid(format!(
                "the frame rate must be between {} and {} frames per second",
                FPS_RANGE.0, FPS_RANGE.1
            )))
        }
    }

    fn delay(&self) -> Delay {
        let hundredths = (100.0 / self.fps).round().max(1.0) as u32;
        Delay::from_numer_denom_ms(hundredths * 10, 1)
    }
}

/// Writes `frames` (all of one size) as a GIF at `path`. `go_on` is told how many frames are
/// written before each frame; when it says stop, nothing is left behind and
/// [`ExportError::Cancelled`] is returned.
pub fn write_gif(
    path: &Path,
    frames: &[RgbImage],
    settings: GifSettings,
    overwrite: Overwrite,
    go_on: &mut dyn FnMut(usize) -> bool,
) -> Result<(), ExportError> {
    settings.check()?;
    let first = frames
        .first()
        .ok_or_else(|| ExportError::Invalid("no frames to write".to_owned()))?;
    if frames.iter().any(|f| f.dimensions() != first.dimensions()) {
        return Err(ExportError::Invalid(
            "the frames of a GIF must all have one size".to_owned(),
        ));
    }
    let encode = |e: image::ImageError| ExportError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    write_atomically_with(path, overwrite, |writer| {
        let mut encoder = GifEncoder::new_with_speed(writer, 10);
        let repeat = if settings.looping {
            Repeat::Infinite
        } else {
            Repeat::Finite(0)
        };
        encoder.set_repeat(repeat).map_err(encode)?;
        for (done, frame) in frames.iter().enumerate() {
            if !go_on(done) {
                return Err(ExportError::Cancelled(path.to_path_buf()));
            }
            let rgba: RgbaImage = frame.convert();
            encoder
                .encode_frame(Frame::from_parts(rgba, 0, 0, settings.delay()))
                .map_err(encode)?;
        }
        Ok(())
    })
}

/// `frames` indices of `states` states, evenly spaced, the first and the last included;
/// `None` when there are fewer states than frames or fewer than two frames.
pub fn evenly_spaced(states: usize, frames: usize) -> Option<Vec<usize>> {
    if frames < 2 || frames > states {
        return None;
    }
    let spacing = (states - 1) as f64 / (frames - 1) as f64;
    Some(
        (0..frames)
            .map(|i| (i as f64 * spacing).round() as usize)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use image::AnimationDecoder;
    use image::codecs::gif::GifDecoder;

    use super::*;

    fn frames(count: u8) -> Vec<RgbImage> {
        (0..count)
            .map(|i| RgbImage::from_pixel(6, 4, image::Rgb([i * 40, i * 40, i * 40])))
            .collect()
    }

    #[test]
    fn a_gif_decodes_to_its_frames_size_and_delay() {
        let path = std::env::temp_dir().join(format!("noisescope-gif-{}.gif", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let settings = GifSettings {
            fps: 4.0,
            looping: true,
        };
        write_gif(&path, &frames(5), settings, Overwrite::Refuse, &mut |_| {
            true
        })
        .expect("writes");
        let file = std::io::BufReader::new(std::fs::File::open(&path).expect("opens"));
        let decoded = GifDecoder::new(file)
            .expect("a GIF")
            .into_frames()
            .collect_frames()
            .expect("frames");
        assert_eq!(decoded.len(), 5);
        assert_eq!(decoded[0].buffer().dimensions(), (6, 4));
        assert_eq!(decoded[4].delay().numer_denom_ms(), (250, 1));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn cancelling_midway_or_bad_settings_write_nothing() {
        let path = std::env::temp_dir().join(format!("noisescope-gifc-{}.gif", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut stop_at_third = |done: usize| done < 2;
        let result = write_gif(
            &path,
            &frames(5),
            GifSettings::default(),
            Overwrite::Refuse,
            &mut stop_at_third,
        );
        assert!(
            matches!(result, Err(ExportError::Cancelled(_))),
            "{result:?}"
        );
        assert!(!path.exists());
        let slow = GifSettings {
            fps: 0.0,
            looping: true,
        };
        assert!(write_gif(&path, &frames(2), slow, Overwrite::Refuse, &mut |_| true).is_err());
        assert!(
            write_gif(
                &path,
                &[],
                GifSettings::default(),
                Overwrite::Refuse,
                &mut |_| true
            )
            .is_err()
        );
        assert!(!path.exists());
    }
}
