//! Turning float images into pixels: the WGSL image shader, its Rust reference, and the
//! egui paint callback that draws with it.

mod callback;
mod colormap;
mod pipeline;

pub use callback::{ImageCallback, ImageRenderer, ImageStack};
pub use colormap::{Colormap, ValueRange, color_of, to_rgba8};
pub use pipeline::{ImageParams, ImagePipeline};
