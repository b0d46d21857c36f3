//! Noisescope: a native desktop explorer of denoising diffusion models.
//!
//! The layers, each using only those above it:
//! - [`schedule`]: the mathematics of noise schedules and samplers' coefficients (pure f64);
//! - [`noise`]: seeded Gaussian noise, the same on every device;
//! - [`data`]: IDX datasets and the user's own images;
//! - [`model`]: the networks (burn modules), their weights files and the CPU kernels;
//! - [`diffusion`]: forward noising, the reverse samplers, reconstruction and DAED on tensors;
//! - [`train`]: the training loops with checkpoints;
//! - [`metrics`]: FID and the classifier's confidence;
//! - [`experiment`]: the DAED sweep;
//! - [`export`]: PNG pictures, animated GIFs and CSV curves, written atomically;
//! - [`gpu`] and [`render`]: the wgpu device shared with egui, and drawing images;
//! - [`cli`] and [`app`]: the command line and the desktop app.

pub mod app;
pub mod cli;
pub mod data;
pub mod diffusion;
pub mod experiment;
pub mod export;
pub mod gpu;
pub mod metrics;
pub mod model;
pub mod noise;
pub mod render;
pub mod schedule;
pub mod toy;
pub mod train;

pub use app::App;
