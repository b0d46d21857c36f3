//! Noisescope: a native desktop explorer of denoising diffusion models.
//!
//! The mathematics of schedules lives in [`schedule`] (pure f64), the processes on tensors in
//! [`diffusion`], images in [`data`], drawing in [`render`], and the app in [`app`].

pub mod app;
pub mod cli;
pub mod data;
pub mod diffusion;
pub mod gpu;
pub mod metrics;
pub mod model;
pub mod noise;
pub mod render;
pub mod schedule;
pub mod train;

pub use app::App;
