//! The image the Forward panel noises: a dataset image, the user's file, or a test pattern.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::data::{BuiltinDataset, FASHION_CLASSES, IMAGE_PIXELS, IMAGE_SIDE, LoadedImage};
use crate::render::ImageStack;

static NEXT_SOURCE_ID: AtomicU64 = AtomicU64::new(1);

/// An image in [−1, 1] at the working resolution, with where it came from.
#[derive(Clone, Debug)]
pub struct SourceImage {
    /// Changes whenever the pixels change.
    pub id: u64,
    /// What to call it.
    pub name: String,
    /// IMAGE_SIDE² values in [−1, 1], as a one-image stack ready to draw.
    pub image: ImageStack,
    /// What conversion did to it.
    pub notes: Vec<String>,
}

impl SourceImage {
    fn new(name: String, mut pixels: Vec<f32>, notes: Vec<String>) -> Self {
        pixels.resize(IMAGE_PIXELS, -1.0);
        let image = ImageStack::new(pixels, IMAGE_SIDE, IMAGE_SIDE)
            .unwrap_or_else(|| unreachable!("IMAGE_PIXELS values make one image"));
        Self {
            id: NEXT_SOURCE_ID.fetch_add(1, Ordering::Relaxed),
            name,
            image,
            notes,
        }
    }

    /// The pixels, in [−1, 1].
    pub fn pixels(&self) -> &[f32] {
        self.image.row(0)
    }

    /// Image `index` of the dataset (wrapped into range).
    pub fn from_dataset(dataset: &BuiltinDataset, index: usize) -> Option<Self> {
        let index = index % dataset.len().max(1);
        let pixels = dataset.image(index)?;
        let class = dataset
            .label(index)
            .and_then(|l| FASHION_CLASSES.get(usize::from(l)))
            .copied()
            .unwrap_or("?");
        Some(Self::new(
            format!("Fashion-MNIST test #{index} ({class})"),
            pixels,
            Vec::new(),
        ))
    }

    /// A file the user opened.
    pub fn from_file(loaded: LoadedImage) -> Self {
        Self::new(loaded.name, loaded.pixels, loaded.notes)
    }

    /// A bright ring on black, for when the dataset cannot be loaded.
    pub fn test_pattern() -> Self {
        let centre = (IMAGE_SIDE as f32 - 1.0) / 2.0;
        let pixels = (0..IMAGE_SIDE * IMAGE_SIDE)
            .map(|i| {
                let (x, y) = ((i % IMAGE_SIDE) as f32, (i / IMAGE_SIDE) as f32);
                let radius = ((x - centre).powi(2) + (y - centre).powi(2)).sqrt();
                if (6.0..10.0).contains(&radius) {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        Self::new("test pattern".to_owned(), pixels, Vec::new())
    }
}
