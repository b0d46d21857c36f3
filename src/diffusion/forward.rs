//! Forward noising q(x_t | x0) of one image at every t, batched over t.
//!
//! The result is a `[T, P]` tensor whose row `i` holds x_t for t = i + 1.

use burn::Tensor;
use burn::prelude::{Device, TensorData};
use serde::{Deserialize, Serialize};

use crate::noise::{NoiseStream, standard_normal};
use crate::schedule::Schedule;

/// Steps of the Markov chain computed by one matrix product.
const CHAIN_BLOCK: usize = 256;

/// How x_t is produced from x0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardMode {
    /// x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε, one ε for every t.
    #[default]
    ClosedForm,
    /// x_t = √α_t x_{t−1} + √β_t z_t, fresh z_t at every step.
    MarkovChain,
}

/// x_1..x_T of `x0` (P values in [−1, 1]) as a `[T, P]` tensor on `device`.
///
/// The noise comes from `seed`: the closed form uses ε from [`NoiseStream::Epsilon`],
/// the chain draws its z_t from [`NoiseStream::Chain`].
pub fn forward_all_steps(
    x0: &[f32],
    schedule: &Schedule,
    mode: ForwardMode,
    seed: u64,
    device: &Device,
) -> Tensor<2> {
    match mode {
        ForwardMode::ClosedForm => closed_form(x0, schedule, seed, device),
        ForwardMode::MarkovChain => markov_chain(x0, schedule, seed, device),
    }
}

/// `[√ᾱ_t, √(1 − ᾱ_t)]` rows times `[x0; ε]`: one matrix product for all t.
fn closed_form(x0: &[f32], schedule: &Schedule, seed: u64, device: &Device) -> Tensor<2> {
    let pixels = x0.len();
    let coefficients: Vec<f32> = schedule
        .signal_coefficient()
        .into_iter()
        .zip(schedule.noise_coefficient())
        .flat_map(|(signal, noise)| [signal as f32, noise as f32])
        .collect();
    let coefficients = matrix(coefficients, schedule.steps(), 2, device);
    let mut sources = x0.to_vec();
    sources.extend(standard_normal(seed, NoiseStream::Epsilon, pixels));
    coefficients.matmul(matrix(sources, 2, pixels, device))
}

/// The chain unrolled in blocks: within a block starting after step b,
/// x_t = √(ᾱ_t/ᾱ_b) x_b + Σ_{b<s≤t} √(ᾱ_t/ᾱ_s) √β_s z_s, one matrix product per block.
fn markov_chain(x0: &[f32], schedule: &Schedule, seed: u64, device: &Device) -> Tensor<2> {
    let pixels = x0.len();
    let steps = schedule.steps();
    let noise = standard_normal(seed, NoiseStream::Chain, steps * pixels);
    let mut previous = matrix(x0.to_vec(), 1, pixels, device);
    let mut blocks = Vec::new();
    for start in (1..=steps).step_by(CHAIN_BLOCK) {
        let end = (start + CHAIN_BLOCK - 1).min(steps);
        let width = end - start + 1;
        let transfer = matrix(
            chain_transfer(schedule, start, end),
            width,
            width + 1,
            device,
        );
        let z = matrix(
            noise[(start - 1) * pixels..end * pixels].to_vec(),
            width,
            pixels,
            device,
        );
        let block = transfer.matmul(Tensor::cat(vec![previous, z], 0));
        previous = block.clone().slice([width - 1..width, 0..pixels]);
        blocks.push(block);
    }
    Tensor::cat(blocks, 0)
}

/// Rows t = start..=end of `[√(ᾱ_t/ᾱ_b) | √(ᾱ_t/ᾱ_s) √β_s for s = start..=end (0 for s > t)]`.
fn chain_transfer(schedule: &Schedule, start: usize, end: usize) -> Vec<f32> {
    let alpha_bar = |t: usize| schedule.alpha_bar_at(t);
    let betas = schedule.betas();
    let mut rows = Vec::with_capacity((end - start + 1) * (end - start + 2));
    for t in start..=end {
        rows.push((alpha_bar(t) / alpha_bar(start - 1)).sqrt() as f32);
        for s in start..=end {
            let coefficient = match s.cmp(&t) {
                std::cmp::Ordering::Less => (alpha_bar(t) / alpha_bar(s) * betas[s - 1]).sqrt(),
                std::cmp::Ordering::Equal => betas[s - 1].sqrt(),
                std::cmp::Ordering::Greater => 0.0,
            };
            rows.push(coefficient as f32);
        }
    }
    rows
}

fn matrix(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// Reads a float tensor back into a flat vector (row-major).
pub fn tensor_to_vec(tensor: Tensor<2>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_else(|error| unreachable!("float tensors read back as f32: {error:?}"))
}
