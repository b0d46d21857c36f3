//! A labelled split of an IDX dataset folder (`train-…` or `t10k-…` files, raw or gzipped).

use std::path::{Path, PathBuf};

use super::{IMAGE_PIXELS, IMAGE_SIDE, IdxError, read_idx_images, read_idx_labels};

/// Which files of a dataset folder to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`.
    Train,
    /// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`.
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "t10k",
        }
    }
}

/// Why a dataset split could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// The folder lacks the file.
    #[error(
        "{dir}: no {name} or {name}.gz (expected an IDX dataset folder such as Fashion-MNIST's)"
    )]
    Missing {
        /// The folder searched.
        dir: PathBuf,
        /// The file looked for.
        name: String,
    },
    /// A file is malformed.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// The files disagree or hold images of another size.
    #[error("{0}")]
    Mismatch(String),
}

/// 28×28 grayscale images with labels 0–9, kept as bytes.
#[derive(Clone, Debug)]
pub struct LabelledImages {
    /// Pixels, image after image.
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
    /// The images file read.
    pub source: PathBuf,
}

impl LabelledImages {
    /// Reads `split` from the IDX folder `dir`.
    pub fn load(dir: &Path, split: Split) -> Result<Self, SplitError> {
        let images_path = find(dir, &format!("{}-images-idx3-ubyte", split.prefix()))?;
        let labels_path = find(dir, &format!("{}-labels-idx1-ubyte", split.prefix()))?;
        let images = read_idx_images(&images_path)?;
        let labels = read_idx_labels(&labels_path)?;
        if images.rows != IMAGE_SIDE || images.cols != IMAGE_SIDE {
            return Err(SplitError::Mismatch(format!(
                "{}: {}×{} images; Noisescope trains on {IMAGE_SIDE}×{IMAGE_SIDE}",
                images_path.display(),
                images.rows,
                images.cols
            )));
        }
        if labels.len() != images.count || labels.iter().any(|&l| l > 9) {
            return Err(SplitError::Mismatch(format!(
                "{}: {} labels (each 0–9 expected) for {} images",
                labels_path.display(),
                labels.len(),
                images.count
            )));
        }
        if images.count == 0 {
            return Err(SplitError::Mismatch(format!(
                "{}: no images",
                images_path.display()
            )));
        }
        Ok(Self {
            pixels: images.pixels,
            labels,
            source: images_path,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The class (0–9) of image `index`.
    pub fn label(&self, index: usize) -> usize {
        usize::from(self.labels[index])
    }

    /// The bytes of image `index`.
    pub fn image_bytes(&self, index: usize) -> &[u8] {
        &self.pixels[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS]
    }

    /// Images `indices` in [−1, 1], concatenated.
    pub fn batch(&self, indices: &[usize]) -> Vec<f32> {
        indices
            .iter()
            .flat_map(|&i| super::to_unit_range(self.image_bytes(i)))
            .collect()
    }
}

fn find(dir: &Path, name: &str) -> Result<PathBuf, SplitError> {
    let raw = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    [raw, gz]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| SplitError::Missing {
            dir: dir.to_path_buf(),
            name: name.to_owned(),
        })
}
