//! The networks as the diffusion processes see them: a U-Net predicts the noise ε, an
//! autoencoder the clean image x0, for a batch all at one step.

use std::cell::RefCell;

use burn::tensor::Tensor;

use super::{InferenceUNet, LoadedDae, Network, UNet, dae_clean_estimate};
use crate::diffusion::{CleanImagePredictor, Denoiser};
use crate::schedule::Schedule;

impl Denoiser for UNet {
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let batch = x_t.dims()[0];
        self.evaluate(x_t, &vec![t; batch])
    }

    fn predict_noise_at(&self, x_t: Tensor<4>, t: usize, log_snr: f64) -> Tensor<4> {
        let batch = x_t.dims()[0];
        let position = self.noise_input().position(t, log_snr);
        self.forward_conditioned(x_t, &vec![position; batch], &vec![None; batch])
    }
}

impl Denoiser for InferenceUNet {
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let batch = x_t.dims()[0];
        self.evaluate(x_t, &vec![t; batch])
    }

    fn predict_noise_at(&self, x_t: Tensor<4>, t: usize, log_snr: f64) -> Tensor<4> {
        let batch = x_t.dims()[0];
        let position = self.module.noise_input().position(t, log_snr);
        self.evaluate_conditioned(x_t, &vec![position; batch], &vec![None; batch])
    }
}

/// A denoiser whose network was trained on log-SNRs in `low..=high`: a sampling schedule that
/// goes beyond them is evaluated at the nearest trained λ (the samplers' own coefficients keep
/// the schedule's λ).
pub struct WithinTrainedLogSnr<D> {
    /// The denoiser.
    pub inner: D,
    /// The lowest trained λ (at the training schedule's T).
    pub low: f64,
    /// The highest trained λ (at its t = 1).
    pub high: f64,
}

impl<D: Denoiser> Denoiser for WithinTrainedLogSnr<D> {
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        self.inner.predict_noise(x_t, t)
    }

    fn predict_noise_at(&self, x_t: Tensor<4>, t: usize, log_snr: f64) -> Tensor<4> {
        self.inner
            .predict_noise_at(x_t, t, log_snr.clamp(self.low, self.high))
    }
}

/// A class-conditioned U-Net asked for `class` with classifier-free guidance of scale `w`
/// (Ho & Salimans 2022): ε̂ = ε̂_uncond + (1 + w)(ε̂_cond − ε̂_uncond), so w = 0 is the plain
/// conditional model. Both predictions come from one batched call.
pub struct Guided<'a> {
    /// The network.
    pub model: &'a InferenceUNet,
    /// The class asked for; `None`: the unconditional model, one evaluation.
    pub class: Option<usize>,
    /// The guidance scale w ≥ 0.
    pub guidance: f64,
    /// The step and ε̂_cond of the latest guided evaluation, so that a viewer can show what
    /// the model predicts without guidance at no extra cost.
    latest_conditional: RefCell<Option<(usize, Tensor<4>)>>,
}

impl<'a> Guided<'a> {
    /// `model` asked for `class` (`None`: any class) with guidance scale `guidance`.
    pub fn new(model: &'a InferenceUNet, class: Option<usize>, guidance: f64) -> Self {
        Self {
            model,
            class,
            guidance,
            latest_conditional: RefCell::new(None),
        }
    }

    /// ε̂_cond (w = 0) of the latest evaluation when it was a guided one at step `t`.
    pub fn take_conditional(&self, t: usize) -> Option<Tensor<4>> {
        let latest = self.latest_conditional.borrow_mut().take();
        latest.and_then(|(at, eps)| (at == t).then_some(eps))
    }
}

impl Denoiser for Guided<'_> {
    /// At step t alone: only for a network conditioned on t (a λ-conditioned one needs
    /// [`Denoiser::predict_noise_at`], which the samplers call).
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        self.predict_noise_at(x_t, t, f64::NAN)
    }

    fn predict_noise_at(&self, x_t: Tensor<4>, t: usize, log_snr: f64) -> Tensor<4> {
        let batch = x_t.dims()[0];
        let position = self.model.module.noise_input().position(t, log_snr);
        let Some(class) = self.class else {
            return self.model.evaluate_conditioned(
                x_t,
                &vec![position; batch],
                &vec![None; batch],
            );
        };
        let both = Tensor::cat(vec![x_t.clone(), x_t], 0);
        let classes: Vec<Option<usize>> = (0..2 * batch)
            .map(|i| (i < batch).then_some(class))
            .collect();
        let eps = self
            .model
            .evaluate_conditioned(both, &vec![position; 2 * batch], &classes);
        let conditional = eps.clone().narrow(0, 0, batch);
        let unconditional = eps.narrow(0, batch, batch);
        *self.latest_conditional.borrow_mut() = Some((t, conditional.clone()));
        unconditional.clone() + (conditional - unconditional) * (1.0 + self.guidance)
    }
}

impl CleanImagePredictor for LoadedDae {
    /// The autoencoder asked at step t (or its λ_t, as it was trained) without a class.
    fn predict_clean(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let batch = x_t.dims()[0];
        let alpha_bar = self.alpha_bar[t - 1];
        let log_snr = (alpha_bar / (1.0 - alpha_bar)).ln();
        let position = self.net.model.module.noise_input().position(t, log_snr);
        let out = self.net.model.evaluate_conditioned(
            x_t.clone(),
            &vec![position; batch],
            &vec![None; batch],
        );
        dae_clean_estimate(x_t, out, &vec![t; batch], &self.alpha_bar).clamp(-1.0, 1.0)
    }
}

/// A denoising autoencoder, which knows the steps of the schedule it was trained with, asked at
/// the steps of a sampling schedule: each sampling step is served by the trained step of nearest
/// log-SNR (the same noise level, so the same ᾱ, up to the spacing of the trained steps).
pub struct DaeUnderSchedule<'a> {
    /// The autoencoder.
    pub dae: &'a LoadedDae,
    /// The trained step for each sampling step t (index t − 1).
    trained_step: Vec<usize>,
}

impl<'a> DaeUnderSchedule<'a> {
    /// `dae` (trained under `trained`) asked at the steps of `sampling`.
    pub fn new(dae: &'a LoadedDae, trained: &Schedule, sampling: &Schedule) -> Self {
        let trained_log_snr = trained.log_snr();
        let trained_step = sampling
            .log_snr()
            .iter()
            .map(|&lambda| nearest_step(&trained_log_snr, lambda))
            .collect();
        Self { dae, trained_step }
    }

    /// The largest sampling step the autoencoder serves (its trained t_max, in the sampling
    /// schedule's steps; 0 when none).
    pub fn t_max(&self) -> usize {
        self.trained_step
            .iter()
            .rposition(|&t| t <= self.dae.t_max)
            .map_or(0, |i| i + 1)
    }
}

/// The 1-based step whose log-SNR (falling with t) is nearest to `lambda`.
fn nearest_step(log_snr: &[f64], lambda: f64) -> usize {
    let after = log_snr.partition_point(|&l| l > lambda);
    let candidates = [
        after.checked_sub(1),
        (after < log_snr.len()).then_some(after),
    ];
    candidates
        .into_iter()
        .flatten()
        .min_by(|&a, &b| {
            let gap = |i: usize| (log_snr[i] - lambda).abs();
            gap(a).total_cmp(&gap(b))
        })
        .map_or(1, |i| i + 1)
}

impl CleanImagePredictor for DaeUnderSchedule<'_> {
    fn predict_clean(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let trained = self.trained_step[t.clamp(1, self.trained_step.len()) - 1];
        self.dae.predict_clean(x_t, trained)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_snr_is_served_by_the_step_of_nearest_log_snr() {
        let falling = [5.0, 3.0, 1.0, -2.0];
        assert_eq!(nearest_step(&falling, 6.0), 1);
        assert_eq!(nearest_step(&falling, 2.1), 2);
        assert_eq!(nearest_step(&falling, 1.9), 3);
        assert_eq!(nearest_step(&falling, -0.4), 3);
        assert_eq!(nearest_step(&falling, -9.0), 4);
        assert_eq!(nearest_step(&falling, f64::NEG_INFINITY), 4);
    }
}
