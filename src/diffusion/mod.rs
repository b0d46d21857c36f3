//! The diffusion processes on burn tensors.

mod forward;
mod recording;
mod sampler;

pub use forward::{ForwardMode, forward_all_steps, tensor_to_vec};
pub use recording::{QuantizedBatch, RecordedStep, recording_bytes};
pub use sampler::{Denoiser, OracleDenoiser, ReverseStep, Sampler, SamplerConfig, SamplerKind};
