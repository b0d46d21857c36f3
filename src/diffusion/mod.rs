//! The diffusion processes on burn tensors.

mod forward;

pub use forward::{ForwardMode, forward_all_steps, tensor_to_vec};
