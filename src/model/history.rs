//! What a training run leaves in its weights file besides the weights: the log of its loss and
//! learning rate, and grids of samples drawn at fixed seeds every so many steps, so that a
//! person can see how the model learned ("the model after 500, 1000, … steps").

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, to_bytes};

/// The log and sample grids of a training run, over all its sittings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingHistory {
    /// One entry every few steps, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogEntry>,
    /// Samples of the averaged weights at fixed seeds, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grids: Vec<SampleGrid>,
}

impl TrainingHistory {
    /// Whether the run recorded nothing (files written before histories existed).
    pub fn is_empty(&self) -> bool {
        self.log.is_empty() && self.grids.is_empty()
    }
}

/// The state of a run after `step` steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Steps done.
    pub step: u64,
    /// Mean loss over the steps since the previous entry (NaN, written `null`, when none).
    #[serde(deserialize_with = "super::nan_from_null")]
    pub loss: f64,
    /// The learning rate of the last of those steps.
    pub learning_rate: f64,
    /// Training images per second in the sitting that took the step.
    pub images_per_s: f64,
    /// Seconds of training so far, over all sittings.
    pub wall_time_s: f64,
}

/// Images sampled from the averaged weights after `step` steps, as an 8-bit grayscale PNG
/// (the images stacked vertically, 28 pixels wide) in base64.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleGrid {
    /// Steps done when the images were drawn.
    pub step: u64,
    /// Number of images.
    pub images: usize,
    /// The PNG, base64.
    pub png: String,
}

impl SampleGrid {
    /// The grid of `images` (each 28×28 values in [−1, 1], one after the other).
    pub fn encode(step: u64, images: &[f32]) -> Result<Self, String> {
        let count = images.len() / IMAGE_PIXELS;
        if count == 0 || !images.len().is_multiple_of(IMAGE_PIXELS) {
            return Err(format!(
                "a sample grid needs whole 28×28 images, got {} values",
                images.len()
            ));
        }
        let strip = image::GrayImage::from_raw(
            IMAGE_SIDE as u32,
            (IMAGE_SIDE * count) as u32,
            to_bytes(images),
        )
        .ok_or("the sample grid does not fit its image")?;
        let mut png = Vec::new();
        strip
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| format!("could not encode a sample grid: {e}"))?;
        Ok(Self {
            step,
            images: count,
            png: BASE64.encode(png),
        })
    }

    /// The images' pixels (0 = black, 255 = white), 784 per image, one after the other.
    pub fn pixels(&self) -> Result<Vec<u8>, String> {
        let broken = |why: String| format!("the sample grid of step {}: {why}", self.step);
        let png = BASE64
            .decode(&self.png)
            .map_err(|e| broken(format!("not base64: {e}")))?;
        let strip = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .map_err(|e| broken(format!("not a PNG: {e}")))?
            .into_luma8();
        if strip.width() as usize != IMAGE_SIDE
            || strip.height() as usize != IMAGE_SIDE * self.images
        {
            return Err(broken(format!(
                "{}×{} pixels, expected {IMAGE_SIDE}×{}",
                strip.width(),
                strip.height(),
                IMAGE_SIDE * self.images
            )));
        }
        Ok(strip.into_raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_gives_back_its_images_as_bytes() {
        let images: Vec<f32> = (0..2 * IMAGE_PIXELS)
            .map(|i| (i % 7) as f32 / 3.0 - 1.0)
            .collect();
        let grid = SampleGrid::encode(500, &images).expect("valid");
        assert_eq!((grid.step, grid.images), (500, 2));
        assert_eq!(grid.pixels().expect("valid"), to_bytes(&images));
    }

    #[test]
    fn partial_images_and_damaged_grids_are_refused() {
        assert!(SampleGrid::encode(1, &[0.0; 100]).is_err());
        let mut grid = SampleGrid::encode(1, &[0.0; IMAGE_PIXELS]).expect("valid");
        grid.images = 3;
        assert!(
            grid.pixels()
                .expect_err("refused")
                .contains("expected 28×84")
        );
        grid.png = "not base64!".into();
        assert!(grid.pixels().expect_err("refused").contains("base64"));
    }

    #[test]
    fn an_empty_history_is_left_out_and_read_back_as_empty() {
        let json = serde_json::to_string(&TrainingHistory::default()).expect("valid");
        assert_eq!(json, "{}");
        let back: TrainingHistory = serde_json::from_str(&json).expect("valid");
        assert!(back.is_empty());
    }
}
