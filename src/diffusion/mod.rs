//! The diffusion processes on burn tensors.

mod chains;
mod daed;
mod forward;
mod recon;
mod recording;
mod sampler;

pub use chains::{Chain, SampleSize};
pub use daed::{
    CleanImagePredictor, DaedImages, DaedModels, DaedRun, Handover, RecordedChain, SwitchImages,
    frac_saved,
};
pub use forward::{ForwardMode, forward_all_steps, tensor_to_vec};
pub use recon::{
    DEFAULT_T_COUNT, KEPT_EXAMPLES, ReconMeasurement, ReconPoint, ReconProbe, TSelection,
    default_t_values, image_batch, parse_t_list, psnr, recon_csv, threshold_crossing,
};
pub use recording::{ByteReader, QuantizedBatch, RecordedStep, recording_bytes, write_count};
pub use sampler::{
    DefaultSampler, Denoiser, OracleDenoiser, ReverseStep, Sampler, SamplerConfig, SamplerFamily,
    SamplerKind, predict_x0,
};
