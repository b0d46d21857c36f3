//! Image sets to probe a model with: the shipped Fashion-MNIST test split (held out from
//! training), the shipped MNIST slice (never seen), a folder of the user's images, or one image.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{LabelledImages, Split, find_assets_dir, load_user_image};

/// Where probe images come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProbeData {
    /// Fashion-MNIST's test split, as shipped (the models trained on the training split).
    FashionMnist,
    /// The shipped slice of MNIST's test digits: out of distribution.
    Mnist,
    /// Every readable image in a folder.
    Folder(PathBuf),
    /// One image file.
    Image(PathBuf),
}

impl fmt::Display for ProbeData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FashionMnist => write!(f, "Fashion-MNIST test"),
            Self::Mnist => write!(f, "MNIST test (unseen)"),
            Self::Folder(dir) => write!(f, "folder {}", dir.display()),
            Self::Image(path) => write!(f, "image {}", path.display()),
        }
    }
}

/// Images in [−1, 1], image after image, with notes on what loading did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeImages {
    /// IMAGE_PIXELS values per image.
    pub pixels: Vec<f32>,
    /// How many images.
    pub count: usize,
    /// Conversions and skipped files, one line each.
    pub notes: Vec<String>,
}

impl ProbeData {
    /// `fashion-mnist`, `mnist`, or a path (a folder or an image file).
    pub fn parse(text: &str) -> Self {
        match text {
            "fashion-mnist" => Self::FashionMnist,
            "mnist" => Self::Mnist,
            path if Path::new(path).is_dir() => Self::Folder(PathBuf::from(path)),
            path => Self::Image(PathBuf::from(path)),
        }
    }

    /// Whether the models were trained on this kind of image.
    pub fn in_distribution(&self) -> bool {
        matches!(self, Self::FashionMnist)
    }

    /// Loads up to `limit` images (a single image file gives one).
    pub fn load(&self, limit: usize) -> Result<ProbeImages, String> {
        match self {
            Self::FashionMnist => shipped_split("fashion-mnist", limit),
            Self::Mnist => shipped_split("mnist", limit),
            Self::Folder(dir) => load_image_folder(dir, limit),
            Self::Image(path) => {
                let image = load_user_image(path).map_err(|e| e.to_string())?;
                Ok(ProbeImages {
                    count: 1,
                    pixels: image.pixels,
                    notes: image.notes,
                })
            }
        }
    }
}

fn shipped_split(folder: &str, limit: usize) -> Result<ProbeImages, String> {
    let dir = find_assets_dir().map_err(|e| e.to_string())?.join(folder);
    let images = LabelledImages::load(&dir, Split::Test).map_err(|e| e.to_string())?;
    let indices: Vec<usize> = (0..images.len().min(limit)).collect();
    Ok(ProbeImages {
        pixels: images.batch(&indices),
        count: indices.len(),
        notes: Vec::new(),
    })
}

/// Reads up to `limit` images from a folder (sorted by name), converting each to 28×28
/// grayscale; files that are not images are skipped and counted in the notes.
pub fn load_image_folder(dir: &Path, limit: usize) -> Result<ProbeImages, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    let mut images = ProbeImages::default();
    let (mut skipped, mut converted) = (Vec::new(), 0);
    for path in paths {
        if images.count == limit {
            break;
        }
        match load_user_image(&path) {
            Ok(image) => {
                converted += usize::from(!image.notes.is_empty());
                images.pixels.extend(image.pixels);
                images.count += 1;
            }
            Err(_) => skipped.push(
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            ),
        }
    }
    if images.count == 0 {
        return Err(format!(
            "{} holds no readable images ({} could not be read as images)",
            dir.display(),
            file_list(&skipped)
        ));
    }
    if converted > 0 {
        images.notes.push(format!(
            "{converted} of {} images were converted to 28×28 grayscale",
            images.count
        ));
    }
    if !skipped.is_empty() {
        images.notes.push(format!(
            "skipped {}: not readable images",
            file_list(&skipped)
        ));
    }
    Ok(images)
}

/// "a.txt", "a.txt, b.bin" … up to five names, then how many more.
fn file_list(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut list = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    if names.is_empty() {
        list.push_str("no file");
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_sets_load_and_differ() {
        let fashion = ProbeData::FashionMnist.load(8).expect("fashion-mnist");
        let mnist = ProbeData::Mnist.load(8).expect("mnist");
        assert_eq!((fashion.count, mnist.count), (8, 8));
        assert_eq!(mnist.pixels.len(), 8 * super::super::IMAGE_PIXELS);
        assert_ne!(fashion.pixels, mnist.pixels);
        assert!(ProbeData::Mnist.load(5000).expect("all").count == 1000);
    }

    #[test]
    fn folders_without_images_are_refused_with_the_reason() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path();
        std::fs::write(dir.join("notes.txt"), b"not an image").expect("temp file");
        let message = ProbeData::parse(dir.to_str().expect("utf-8"))
            .load(4)
            .expect_err("no images");
        assert!(
            message.contains("no readable images") && message.contains("notes.txt"),
            "{message}"
        );
        let colour = image::RgbImage::from_pixel(40, 30, image::Rgb([200, 10, 10]));
        colour.save(dir.join("red.png")).expect("png");
        let loaded = load_image_folder(dir, 4).expect("one image");
        assert_eq!(loaded.count, 1);
        assert_eq!(loaded.notes.len(), 2, "{:?}", loaded.notes);
        assert!(loaded.notes[1].contains("notes.txt"), "{:?}", loaded.notes);
    }
}
