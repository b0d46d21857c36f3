//! The diffusion processes on burn tensors.

mod forward;
mod sampler;

pub use forward::{ForwardMode, forward_all_steps, tensor_to_vec};
pub use sampler::{Denoiser, OracleDenoiser, ReverseStep, Sampler, SamplerConfig, SamplerKind};
