//! Images the app works on: IDX datasets (Fashion-MNIST, MNIST) and the user's own files.

mod assets;
mod idx;
mod probe;
mod split;
mod user_image;

pub use assets::{AssetError, BuiltinDataset, find_assets_dir};
pub use idx::{IdxError, IdxImages, read_idx_images, read_idx_labels};
pub use probe::{ProbeData, ProbeImages, load_image_folder};
pub use split::{LabelledImages, Split, SplitError};
pub use user_image::{ImageLoadError, LoadedImage, MAX_IMAGE_PIXELS, load_user_image};

/// Side length of the square grayscale images everything works on (Fashion-MNIST's).
pub const IMAGE_SIDE: usize = 28;
/// Pixels in one working image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

/// Fashion-MNIST's ten class names, by label.
pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Maps 8-bit pixels to the model's range [−1, 1].
pub fn to_unit_range(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| f32::from(p) / 127.5 - 1.0).collect()
}

/// Maps values in [−1, 1] back to 8-bit pixels, clamping what lies outside.
pub fn to_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|v| ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8)
        .collect()
}
