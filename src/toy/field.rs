//! The learned field on a grid: where the model would move a point at each noise level — along
//! the score, −ε̂/σ, for the diffusion objectives, and against the velocity (sampling runs from
//! t = 1 to 0) for flow matching.

use burn::tensor::{Device, Tensor, TensorData};

use super::data::Point;
use super::net::{Objective, ToyNet, diffusion_position, flow_position, noise_from_output};
use crate::diffusion::tensor_to_vec;
use crate::schedule::Schedule;

/// Grid points per axis, over −3…3 (standardised units).
pub const FIELD_SIDE: usize = 21;
/// Noise levels the field is computed at, evenly from little noise to pure noise.
pub const FIELD_LEVELS: usize = 40;

/// The field at [`FIELD_LEVELS`] noise levels on one grid.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToyField {
    /// The grid points (standardised units).
    pub grid: Vec<Point>,
    /// Per level (from little noise to pure noise): the level's share of the way, in (0, 1],
    /// and the direction at each grid point.
    pub levels: Vec<(f64, Vec<Point>)>,
}

/// The field of `net` (trained for `objective` under `schedule`).
pub fn learned_field(
    net: &ToyNet,
    objective: Objective,
    schedule: &Schedule,
    device: &Device,
) -> ToyField {
    let step = 6.0 / (FIELD_SIDE - 1) as f64;
    let grid: Vec<Point> = (0..FIELD_SIDE * FIELD_SIDE)
        .map(|i| {
            [
                -3.0 + step * (i % FIELD_SIDE) as f64,
                -3.0 + step * (i / FIELD_SIDE) as f64,
            ]
        })
        .collect();
    let values: Vec<f32> = grid
        .iter()
        .flat_map(|p| [p[0] as f32, p[1] as f32])
        .collect();
    let n = grid.len();
    let x = Tensor::<2>::from_data(TensorData::new(values, [n, 2]), device);
    let log_snr = schedule.log_snr();
    let levels = (1..=FIELD_LEVELS)
        .map(|k| {
            let share = k as f64 / FIELD_LEVELS as f64;
            let direction = if objective == Objective::Flow {
                let v = net.forward(x.clone(), &vec![flow_position(share); n]);
                v.neg()
            } else {
                let t =
                    ((share * schedule.steps() as f64).round() as usize).clamp(1, schedule.steps());
                let lambda = log_snr[t - 1];
                let out = net.forward(x.clone(), &vec![diffusion_position(lambda); n]);
                let eps = noise_from_output(objective, x.clone(), out, lambda);
                let sigma = (1.0 / (1.0 + lambda.exp())).sqrt();
                eps.neg() / sigma
            };
            let flat = tensor_to_vec(direction);
            (
                share,
                flat.chunks(2)
                    .map(|c| [f64::from(c[0]), f64::from(c[1])])
                    .collect(),
            )
        })
        .collect();
    ToyField { grid, levels }
}
