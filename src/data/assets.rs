//! The Fashion-MNIST slice shipped in `assets/`, and where to find it.

use std::path::{Path, PathBuf};

use super::{IMAGE_SIDE, IdxError, IdxImages, read_idx_images, read_idx_labels, to_unit_range};

/// Environment variable that points the app at another assets folder.
pub const ASSETS_ENV: &str = "NOISESCOPE_ASSETS";
const IMAGES_FILE: &str = "fashion-mnist/t10k-images-idx3-ubyte.gz";
const LABELS_FILE: &str = "fashion-mnist/t10k-labels-idx1-ubyte.gz";

/// Why the shipped dataset could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// No assets folder was found where the app looks.
    #[error(
        "no assets folder found (looked in {0}); set {ASSETS_ENV} to the folder that holds fashion-mnist/"
    )]
    NotFound(String),
    /// A file is missing or broken.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// The images and labels do not belong together.
    #[error("{0}")]
    Mismatch(String),
}

/// The folders searched for `assets/`, in order: `$NOISESCOPE_ASSETS`, beside the executable
/// and up to three levels up (a cargo target folder), the working folder, the package
/// `cargo run`/`cargo test` names at run time, and last the source tree this binary was built
/// from (so that a copy of the project run elsewhere reads its own files, not the original
/// checkout's).
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(ASSETS_ENV) {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(exe_dir) = exe.parent()
    {
        dirs.push(exe_dir.join("assets"));
        for ancestor in exe_dir.ancestors().skip(1).take(3) {
            dirs.push(ancestor.join("assets"));
        }
    }
    if let Ok(working) = std::env::current_dir() {
        dirs.push(working.join("assets"));
    }
    if let Some(package) = std::env::var_os("CARGO_MANIFEST_DIR") {
        dirs.push(PathBuf::from(package).join("assets"));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"));
    dirs
}

/// The first assets folder that holds the shipped dataset.
pub fn find_assets_dir() -> Result<PathBuf, AssetError> {
    let dirs = candidate_dirs();
    dirs.iter()
        .find(|dir| dir.join(IMAGES_FILE).is_file())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            AssetError::NotFound(looked.join(", "))
        })
}

/// Fashion-MNIST's test split as shipped: 28×28 images with their labels.
#[derive(Clone, Debug)]
pub struct BuiltinDataset {
    images: IdxImages,
    labels: Vec<u8>,
}

impl BuiltinDataset {
    /// Loads the dataset from an assets folder.
    pub fn load(assets_dir: &Path) -> Result<Self, AssetError> {
        let images = read_idx_images(&assets_dir.join(IMAGES_FILE))?;
        let labels = read_idx_labels(&assets_dir.join(LABELS_FILE))?;
        if images.rows != IMAGE_SIDE || images.cols != IMAGE_SIDE {
            return Err(AssetError::Mismatch(format!(
                "{IMAGES_FILE} holds {}×{} images; the app works on {IMAGE_SIDE}×{IMAGE_SIDE}",
                images.rows, images.cols
            )));
        }
        if labels.len() != images.count || labels.iter().any(|&l| l > 9) {
            return Err(AssetError::Mismatch(format!(
                "{LABELS_FILE} has {} labels for {} images (each must be 0–9)",
                labels.len(),
                images.count
            )));
        }
        Ok(Self { images, labels })
    }

    /// Finds and loads the shipped dataset.
    pub fn load_shipped() -> Result<Self, AssetError> {
        Self::load(&find_assets_dir()?)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.count
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.count == 0
    }

    /// Label (0–9) of image `index`.
    pub fn label(&self, index: usize) -> Option<u8> {
        self.labels.get(index).copied()
    }

    /// Image `index` as values in [−1, 1].
    pub fn image(&self, index: usize) -> Option<Vec<f32>> {
        self.images.image(index).map(to_unit_range)
    }

    /// The next index after `from` (wrapping around) whose label is `class`.
    pub fn next_of_class(&self, class: u8, from: usize) -> Option<usize> {
        let n = self.labels.len();
        (1..=n)
            .map(|offset| (from + offset) % n)
            .find(|&i| self.labels[i] == class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_dataset_is_the_fashion_mnist_test_split() {
        let dataset = BuiltinDataset::load_shipped().expect("assets are in the source tree");
        assert_eq!(dataset.len(), 10_000);
        // The first ten test labels of Fashion-MNIST.
        let labels: Vec<u8> = (0..10).filter_map(|i| dataset.label(i)).collect();
        assert_eq!(labels, [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
        let image = dataset.image(0).expect("image 0");
        assert!(image.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert_eq!(
            dataset.label(dataset.next_of_class(3, 0).expect("a dress")),
            Some(3)
        );
    }

    #[test]
    fn the_build_trees_assets_are_the_last_resort() {
        let dirs = candidate_dirs();
        let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        assert_eq!(dirs.last(), Some(&built));
        let working = std::env::current_dir().expect("cwd").join("assets");
        let position = |d: &PathBuf| dirs.iter().position(|x| x == d);
        assert!(position(&working) < Some(dirs.len() - 1), "{dirs:?}");
        let exe = std::env::current_exe().expect("exe");
        let beside = exe.parent().expect("folder").join("assets");
        assert!(position(&beside) < position(&working), "{dirs:?}");
    }

    #[test]
    fn broken_assets_name_the_file() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path();
        std::fs::create_dir_all(dir.join("fashion-mnist")).expect("temp dir");
        std::fs::write(dir.join(IMAGES_FILE), b"\x1f\x8bbroken gzip").expect("temp file");
        let message = BuiltinDataset::load(dir).expect_err("broken").to_string();
        assert!(message.contains("t10k-images-idx3-ubyte.gz"), "{message}");
        let missing = BuiltinDataset::load(&dir.join("nowhere"))
            .expect_err("missing")
            .to_string();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
