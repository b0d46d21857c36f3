//! The 2D playground's computation, without GUI: toy distributions, a small MLP trained with
//! ε, x0, v or flow-matching targets, sampling with the image samplers or Euler steps along the
//! learned velocity, and the energy distance between samples and data.

pub mod data;
mod distance;
mod field;
mod net;
mod sample;
mod train;

pub use data::{MAX_POINTS, Point, Standardiser, ToyData, check_points, parse_csv, read_csv};
pub use distance::{MAX_DISTANCE_POINTS, chamfer_distance, energy_distance};
pub use field::{FIELD_LEVELS, FIELD_SIDE, ToyField, learned_field};
pub use net::{
    Objective, ToyDenoiser, ToyNet, ToyNetConfig, diffusion_position, flow_position,
    noise_from_output,
};
pub use sample::{ToySampler, ToySamples, sample_toy};
pub use train::{DEFAULT_TOY_BATCH, DEFAULT_TOY_LR, DEFAULT_TOY_STEPS, ToyTraining, train_toy};
