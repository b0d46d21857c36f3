//! DAED (Deja et al. 2022): the diffusion model generates from x_T down to a switching step s,
//! then a denoising autoencoder maps x_s to x̂0 in one call. One chain serves many switching
//! points: it is run once and handed over at each s on the way down.

use burn::tensor::{Device, Tensor};

use super::chains::{Chain, SampleSize};
use super::forward::tensor_to_vec;
use super::sampler::{Denoiser, Sampler, SamplerConfig, predict_x0};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::schedule::{Schedule, x0_coefficients};

/// Anything that predicts the clean image x0 from x_t in one call.
pub trait CleanImagePredictor {
    /// x̂0 for a batch `x_t` `[B, C, H, W]`, all at 1-based step `t`.
    fn predict_clean(&self, x_t: Tensor<4>, t: usize) -> Tensor<4>;
}

/// The three results at one switching point, from the same x_T.
#[derive(Clone, Debug)]
pub struct Handover {
    /// The requested switching point s (0: no switch).
    pub s: usize,
    /// The step of the state handed over: s for DDPM, the first DDIM step at or below s.
    pub t_state: usize,
    /// The diffusion model's own one-shot x̂0 from x_s (clipped to [−1, 1]).
    pub ddgm_x0: Tensor<4>,
    /// DAED's result: the autoencoder's x̂0 from x_s; the full chain's x_0 when s = 0.
    pub daed_x0: Tensor<4>,
    /// The share of the sampler's steps not run by the diffusion model.
    pub frac_saved: f64,
}

/// One chain with its handovers.
#[derive(Clone, Debug)]
pub struct DaedRun {
    /// The full chain's x_0 (s = 0).
    pub full: Tensor<4>,
    /// One handover per requested switching point, s descending.
    pub handovers: Vec<Handover>,
}

/// What a DAED run uses.
pub struct DaedModels<'a, D: Denoiser + ?Sized, P: CleanImagePredictor + ?Sized> {
    /// The diffusion model.
    pub ddgm: &'a D,
    /// The denoising autoencoder; without one, DAED's column repeats the one-shot x̂0.
    pub dae: Option<&'a P>,
    /// The diffusion model's schedule.
    pub schedule: &'a Schedule,
    /// The sampler of the chain.
    pub config: SamplerConfig,
}

/// The images of one switching point over all chains, flat.
#[derive(Clone, Debug, Default)]
pub struct SwitchImages {
    /// The diffusion model's one-shot x̂0 at s.
    pub ddgm_x0: Vec<f32>,
    /// DAED's x̂0.
    pub daed: Vec<f32>,
    /// The share of the sampler's steps saved.
    pub frac_saved: f64,
}

/// The images of many chains, flat: the full chain's, and per switching point (in the order
/// asked) those of the two one-call methods.
#[derive(Clone, Debug, Default)]
pub struct DaedImages {
    /// The full chain's x_0.
    pub full: Vec<f32>,
    /// One entry per requested switching point.
    pub per_switch: Vec<SwitchImages>,
}

/// A chain run once from x_T, keeping the states it passed at small t for handovers.
#[derive(Clone, Debug)]
pub struct RecordedChain {
    /// The full chain's x_0.
    pub full: Tensor<4>,
    /// (t, x_t) of every state with t ≤ the kept bound, t descending; x_T first if kept.
    pub states: Vec<(usize, Tensor<4>)>,
    /// Steps of the sampler's plan.
    pub plan_len: usize,
    /// Every state with t ≤ this bound was kept.
    keep: usize,
    /// How many plan steps lead to each kept state (parallel to `states`).
    steps_run: Vec<usize>,
}

impl RecordedChain {
    /// The state handed over at switching point `s`: the first one at or below s.
    fn state_at(&self, s: usize) -> Option<(usize, &Tensor<4>, usize)> {
        let index = self.states.iter().position(|(t, _)| *t <= s)?;
        let (t, state) = &self.states[index];
        Some((*t, state, self.steps_run[index]))
    }

    /// Whether the chain can hand over at switching point `s`: it kept every state at or
    /// below its bound, so the first state at or below any s up to the bound is among them.
    pub fn serves(&self, s: usize) -> bool {
        s <= self.keep
    }
}

impl<D: Denoiser + ?Sized, P: CleanImagePredictor + ?Sized> DaedModels<'_, D, P> {
    /// Runs the chain from the x_T of `seed` and hands over at every s in `switches`
    /// (each in 0..T; 0 means the full chain).
    pub fn run(
        &self,
        shape: [usize; 4],
        seed: u64,
        device: &Device,
        switches: &[usize],
    ) -> Result<DaedRun, String> {
        self.run_checked(shape, seed, device, switches, &mut || true)
    }

    /// [`Self::run`], asking `go_on` before each step of the chain (no: cancelled, an error).
    fn run_checked(
        &self,
        shape: [usize; 4],
        seed: u64,
        device: &Device,
        switches: &[usize],
        go_on: &mut dyn FnMut() -> bool,
    ) -> Result<DaedRun, String> {
        let steps = self.schedule.steps();
        if let Some(bad) = switches.iter().find(|&&s| s >= steps) {
            return Err(format!(
                "the switching point s = {bad} must lie in 0..{steps} (0: the full chain)"
            ));
        }
        let keep = switches.iter().copied().max().unwrap_or(0);
        let chain = self.record(shape, seed, device, keep, go_on)?;
        let mut order = switches.to_vec();
        order.sort_unstable_by(|a, b| b.cmp(a));
        order.dedup();
        let handovers = order
            .into_iter()
            .map(|s| self.handover(&chain, s))
            .collect::<Result<_, _>>()?;
        Ok(DaedRun {
            full: chain.full,
            handovers,
        })
    }

    /// Samples `size.images` images, one chain per batch, handing over at every s in
    /// `switches`; `progress(done, total)` is called before every step of a chain (`done`
    /// counts the images finished, a chain's share pro rata) and after each chain; returning
    /// false cancels (an error).
    pub fn sample_images(
        &self,
        size: SampleSize,
        switches: &[usize],
        device: &Device,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<DaedImages, String> {
        if size.batch == 0 {
            return Err("a chain needs at least one image".into());
        }
        let mut images = DaedImages {
            full: Vec::new(),
            per_switch: vec![SwitchImages::default(); switches.len()],
        };
        let plan_len = self
            .config
            .plan(self.schedule, self.schedule.steps())?
            .len()
            .max(1);
        for Chain {
            first,
            images: b,
            seed,
        } in size.chains()
        {
            let shape = [b, 1, IMAGE_SIDE, IMAGE_SIDE];
            let mut steps_done = 0;
            let mut go_on = || {
                let done = first + b * steps_done / plan_len;
                steps_done += 1;
                progress(done, size.images)
            };
            let run = self.run_checked(shape, seed, device, switches, &mut go_on)?;
            let flat = |x: &Tensor<4>| tensor_to_vec(x.clone().reshape([b, IMAGE_PIXELS]));
            images.full.extend(flat(&run.full));
            for handover in &run.handovers {
                let asked = switches.iter().zip(&mut images.per_switch);
                for (_, slot) in asked.filter(|(s, _)| **s == handover.s) {
                    slot.ddgm_x0.extend(flat(&handover.ddgm_x0));
                    slot.daed.extend(flat(&handover.daed_x0));
                    slot.frac_saved = handover.frac_saved;
                }
            }
            if !progress(first + b, size.images) {
                return Err("cancelled".into());
            }
        }
        Ok(images)
    }

    /// Runs the chain from the x_T of `seed`, keeping every state with t ≤ `keep`;
    /// `go_on` is asked before each step and stops the run (an error) when it says no.
    pub fn record(
        &self,
        shape: [usize; 4],
        seed: u64,
        device: &Device,
        keep: usize,
        go_on: &mut dyn FnMut() -> bool,
    ) -> Result<RecordedChain, String> {
        let mut sampler =
            Sampler::from_noise(self.ddgm, self.schedule, self.config, shape, seed, device)?;
        let plan = sampler.plan().to_vec();
        let mut chain = RecordedChain {
            full: sampler.current().clone(),
            states: Vec::new(),
            plan_len: plan.len(),
            keep,
            steps_run: Vec::new(),
        };
        let keep_state = |chain: &mut RecordedChain, t: usize, x: &Tensor<4>, run: usize| {
            if t <= keep {
                chain.states.push((t, x.clone()));
                chain.steps_run.push(run);
            }
        };
        keep_state(&mut chain, self.schedule.steps(), sampler.current(), 0);
        for (run, &(_, prev)) in plan.iter().enumerate() {
            if !go_on() {
                return Err("cancelled".into());
            }
            sampler.next();
            keep_state(&mut chain, prev, sampler.current(), run + 1);
        }
        chain.full = sampler.current().clone();
        Ok(chain)
    }

    /// The three results at switching point `s` from a recorded chain.
    pub fn handover(&self, chain: &RecordedChain, s: usize) -> Result<Handover, String> {
        let (t_state, state, run) = chain.state_at(s).ok_or_else(|| {
            format!(
                "the chain kept its states only for t ≤ {}; s = {s} needs a new run",
                chain.keep
            )
        })?;
        let frac_saved = (chain.plan_len - run) as f64 / chain.plan_len as f64;
        let (ddgm_x0, daed_x0) = if t_state == 0 {
            (state.clone(), state.clone())
        } else {
            let one_shot = self.one_shot(state, t_state);
            let daed = match self.dae {
                Some(dae) => dae.predict_clean(state.clone(), t_state),
                None => one_shot.clone(),
            };
            (one_shot, daed)
        };
        Ok(Handover {
            s,
            t_state,
            ddgm_x0,
            daed_x0,
            frac_saved,
        })
    }

    /// The diffusion model's x̂0 from x_t in one call, clipped.
    fn one_shot(&self, x_t: &Tensor<4>, t: usize) -> Tensor<4> {
        let log_snr = self.schedule.log_snr()[t - 1];
        let eps = self.ddgm.predict_noise_at(x_t.clone(), t, log_snr);
        predict_x0(x_t, &eps, x0_coefficients(self.schedule, t), true)
    }
}

/// DAED's share of saved steps for switching point `s` under `config`, without running it.
pub fn frac_saved(schedule: &Schedule, config: &SamplerConfig, s: usize) -> Result<f64, String> {
    let plan = config.plan(schedule, schedule.steps())?;
    let run = plan.iter().take_while(|(t, _)| *t > s).count();
    Ok((plan.len() - run) as f64 / plan.len() as f64)
}
