//! Reverse samplers as iterators: each item is one step (t, x_t, x̂0, ε̂); after the last,
//! [`Sampler::current`] holds x_0.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::noise::{NoiseSource, NoiseStream};
use crate::schedule::{
    ReverseVariance, Schedule, TimestepSpacing, X0Coefficients, ddim_step, ddpm_step,
    dpm_solver_step, euler_step, heun_corrects, sampler_timesteps, x0_coefficients,
};

/// Anything that predicts the noise ε in x_t.
pub trait Denoiser {
    /// ε̂ for a batch `x_t` `[B, C, H, W]`, all at 1-based step `t` (of the schedule the
    /// network was trained with; the samplers call [`Self::predict_noise_at`]).
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4>;

    /// ε̂ at step `t` of the sampling schedule, whose log-SNR there is `log_snr`: a network
    /// conditioned on λ reads that (so it can sample under another schedule), the others `t`.
    fn predict_noise_at(&self, x_t: Tensor<4>, t: usize, _log_snr: f64) -> Tensor<4> {
        self.predict_noise(x_t, t)
    }
}

/// Which sampler, with its options.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum SamplerKind {
    /// Ancestral sampling, every step from T to 1 (Ho et al. Algorithm 2).
    Ddpm {
        /// σ_t² = β_t or β̃_t.
        variance: ReverseVariance,
    },
    /// DDIM with `steps` steps; η = 0 is deterministic, η = 1 DDPM-like.
    Ddim {
        /// Number of steps N.
        steps: usize,
        /// Stochasticity η ∈ [0, 1].
        eta: f64,
        /// How the N steps are chosen.
        spacing: TimestepSpacing,
    },
    /// DPM-Solver++(2M) (Lu et al. 2022): a second-order multistep solver of the
    /// probability-flow ODE on x̂0, one model call per step; `stochastic` for its SDE form,
    /// which adds fresh noise at every step.
    DpmSolver {
        /// Number of steps N.
        steps: usize,
        /// How the N steps are chosen.
        spacing: TimestepSpacing,
        /// The SDE form (SDE-DPM-Solver++(2M)).
        stochastic: bool,
    },
    /// Euler's method on the probability-flow ODE in the variables of Karras et al. 2022
    /// (EDM), one model call per step.
    Euler {
        /// Number of steps N.
        steps: usize,
        /// How the N steps are chosen.
        spacing: TimestepSpacing,
    },
    /// Heun's second-order method (EDM's Algorithm 1): an Euler step corrected with the model's
    /// slope at its end, two model calls per step (one on the last, and on steps from above
    /// σ/α = [`crate::schedule::HEUN_MAX_SCALE`]).
    Heun {
        /// Number of steps N.
        steps: usize,
        /// How the N steps are chosen.
        spacing: TimestepSpacing,
    },
}

/// The samplers, without their settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SamplerFamily {
    /// DDPM ancestral sampling.
    #[default]
    Ddpm,
    /// DDIM.
    Ddim,
    /// DPM-Solver++(2M).
    DpmSolver,
    /// SDE-DPM-Solver++(2M).
    DpmSolverSde,
    /// Euler's method on the probability-flow ODE (EDM).
    Euler,
    /// Heun's method on the probability-flow ODE (EDM).
    Heun,
}

impl SamplerFamily {
    /// Every family, in menu order.
    pub const ALL: [Self; 6] = [
        Self::Ddpm,
        Self::Ddim,
        Self::DpmSolver,
        Self::DpmSolverSde,
        Self::Euler,
        Self::Heun,
    ];

    /// The name shown in menus.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ddpm => "DDPM",
            Self::Ddim => "DDIM",
            Self::DpmSolver => "DPM-Solver++(2M)",
            Self::DpmSolverSde => "DPM-Solver++(2M) SDE",
            Self::Euler => "Euler (EDM)",
            Self::Heun => "Heun (EDM)",
        }
    }

    /// Whether the sampler takes a number of steps (all but DDPM, which visits every t).
    pub fn has_steps(self) -> bool {
        self != Self::Ddpm
    }

    /// The spacing the sampler takes when none is chosen, the one that gave it the better FID
    /// with 20 steps on the shipped models (README, "Samplers"): DDIM its own (leading, as in
    /// DDIM's code and diffusers' `DDIMScheduler`); the deterministic solvers trailing, which
    /// starts at T and ends with one step to 0 (Lin et al. 2023); the SDE form even in log-SNR
    /// (Lu et al. 2022).
    pub fn default_spacing(self) -> TimestepSpacing {
        match self {
            Self::Ddpm | Self::Ddim => TimestepSpacing::Leading,
            Self::DpmSolver | Self::Euler | Self::Heun => TimestepSpacing::Trailing,
            Self::DpmSolverSde => TimestepSpacing::LogSnr,
        }
    }

    /// The sampler with `steps` steps, `spacing`, DDPM's σ² = `variance` and DDIM's `eta`.
    pub fn kind(
        self,
        steps: usize,
        spacing: TimestepSpacing,
        variance: ReverseVariance,
        eta: f64,
    ) -> SamplerKind {
        match self {
            Self::Ddpm => SamplerKind::Ddpm { variance },
            Self::Ddim => SamplerKind::Ddim {
                steps,
                eta,
                spacing,
            },
            Self::DpmSolver | Self::DpmSolverSde => SamplerKind::DpmSolver {
                steps,
                spacing,
                stochastic: self == Self::DpmSolverSde,
            },
            Self::Euler => SamplerKind::Euler { steps, spacing },
            Self::Heun => SamplerKind::Heun { steps, spacing },
        }
    }

    /// The chain this family means where no further options are offered: DDPM with σ² = β̃,
    /// the others with `steps` steps in their default spacing (DDIM with η = 0); x̂0 clipped.
    pub fn chain(self, steps: usize) -> SamplerConfig {
        SamplerConfig {
            kind: self.kind(
                steps,
                self.default_spacing(),
                ReverseVariance::PosteriorBeta,
                0.0,
            ),
            clip_x0: true,
        }
    }
}

impl SamplerKind {
    /// The solver's number of steps and their spacing (`None` for DDPM, which visits every t).
    pub fn steps(&self) -> Option<(usize, TimestepSpacing)> {
        match *self {
            Self::Ddpm { .. } => None,
            Self::Ddim { steps, spacing, .. }
            | Self::DpmSolver { steps, spacing, .. }
            | Self::Euler { steps, spacing }
            | Self::Heun { steps, spacing } => Some((steps, spacing)),
        }
    }

    /// A short name: "DDPM", "DDIM-50", "DPM-Solver++(2M)-20", …
    pub fn label(&self) -> String {
        match self {
            Self::Ddpm { .. } => "DDPM".to_owned(),
            Self::Ddim { steps, .. } => format!("DDIM-{steps}"),
            Self::DpmSolver {
                steps, stochastic, ..
            } => {
                let sde = if *stochastic { " SDE" } else { "" };
                format!("DPM-Solver++(2M){sde}-{steps}")
            }
            Self::Euler { steps, .. } => format!("Euler-{steps}"),
            Self::Heun { steps, .. } => format!("Heun-{steps}"),
        }
    }
}

/// A panel's starting sampler; the command that does the panel's work defaults to the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultSampler {
    /// The sampler.
    pub family: SamplerFamily,
    /// Its number of steps (in the family's default spacing).
    pub steps: usize,
}

impl DefaultSampler {
    /// The Reverse panel's, `sample`'s and `evaluate`'s: SDE-DPM-Solver++(2M), 20 steps even
    /// in log-SNR (the best FID per model call, README "Samplers").
    pub const REVERSE: Self = Self {
        family: SamplerFamily::DpmSolverSde,
        steps: 20,
    };
    /// The Analysis panel's and `recon`'s: the deterministic DPM-Solver++(2M), 20 steps
    /// (a reconstruction is only comparable across t without fresh noise).
    pub const ANALYSIS: Self = Self {
        family: SamplerFamily::DpmSolver,
        steps: 20,
    };
    /// The DAED panel's and `daed`'s: DDIM-50, as in Deja et al.
    pub const DAED: Self = Self {
        family: SamplerFamily::Ddim,
        steps: 50,
    };

    /// The sampler in its default spacing, x̂0 clipped.
    pub fn config(self) -> SamplerConfig {
        self.family.chain(self.steps)
    }
}

/// A sampler and whether x̂0 is clipped to [−1, 1].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplerConfig {
    /// The sampler.
    pub kind: SamplerKind,
    /// Clip x̂0 to the data range before using it.
    pub clip_x0: bool,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            kind: SamplerKind::Ddpm {
                variance: ReverseVariance::PosteriorBeta,
            },
            clip_x0: true,
        }
    }
}

impl SamplerConfig {
    /// The app's default sampler (the Reverse panel's), which `sample` and `evaluate` use
    /// without sampler options.
    pub fn app_default() -> Self {
        DefaultSampler::REVERSE.config()
    }

    /// The steps visited from `t_start` down, each with the step it goes to (0 = done).
    pub fn plan(&self, schedule: &Schedule, t_start: usize) -> Result<Vec<(usize, usize)>, String> {
        let t_max = schedule.steps();
        if t_start == 0 || t_start > t_max {
            return Err(format!("the start step {t_start} is outside 1..={t_max}"));
        }
        if schedule.alpha_bar_at(t_start) <= 0.0 {
            return Err(format!(
                "ᾱ_{t_start} = 0 (zero terminal SNR): x̂0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t is \
                 undefined there, so an ε-prediction model cannot start from it"
            ));
        }
        if let SamplerKind::Ddim { eta, .. } = self.kind
            && !(0.0..=1.0).contains(&eta)
        {
            return Err(format!("η = {eta} is outside [0, 1]"));
        }
        let visited: Vec<usize> = match self.kind.steps() {
            None => (1..=t_start).rev().collect(),
            Some((steps, spacing)) => {
                let below: Vec<usize> = sampler_timesteps(schedule, steps, spacing)?
                    .into_iter()
                    .filter(|&t| t < t_start)
                    .collect();
                // N steps are N model calls: a start that is not one of the spaced steps (T
                // under leading spacing) takes the place of the highest when all lie below it.
                let replaced = usize::from(below.len() == steps);
                std::iter::once(t_start)
                    .chain(below.into_iter().skip(replaced))
                    .collect()
            }
        };
        let next = visited.iter().skip(1).copied().chain(std::iter::once(0));
        Ok(visited.iter().copied().zip(next).collect())
    }

    /// How many model calls one chain from `t_start` makes: one per step, and Heun's
    /// corrections on top.
    pub fn model_calls(&self, schedule: &Schedule, t_start: usize) -> Result<usize, String> {
        let plan = self.plan(schedule, t_start)?;
        let corrections = match self.kind {
            SamplerKind::Heun { .. } => plan
                .iter()
                .filter(|&&(t, to)| heun_corrects(schedule, t, to))
                .count(),
            _ => 0,
        };
        Ok(plan.len() + corrections)
    }
}

/// One reverse step as recorded: the state x_t and the model's predictions at t.
#[derive(Clone, Debug)]
pub struct ReverseStep {
    /// The 1-based step.
    pub t: usize,
    /// x_t `[B, C, H, W]`.
    pub x_t: Tensor<4>,
    /// x̂0 (clipped when the sampler clips).
    pub x0_hat: Tensor<4>,
    /// ε̂ (recomputed from the clipped x̂0 when the sampler clips and reads ε̂).
    pub eps_hat: Tensor<4>,
    /// ε̂ as the model predicted it.
    pub model_eps: Tensor<4>,
}

/// A running reverse process.
pub struct Sampler<'a, D: Denoiser + ?Sized> {
    denoiser: &'a D,
    schedule: Schedule,
    config: SamplerConfig,
    plan: Vec<(usize, usize)>,
    position: usize,
    x: Tensor<4>,
    noise: NoiseSource,
    /// DPM-Solver's x̂0 and step of the previous step.
    previous: Option<(Tensor<4>, usize)>,
}

impl<'a, D: Denoiser + ?Sized> Sampler<'a, D> {
    /// Starts from pure noise x_T drawn from `seed` (the same seed gives the same x_T for every
    /// model and device).
    pub fn from_noise(
        denoiser: &'a D,
        schedule: &Schedule,
        config: SamplerConfig,
        shape: [usize; 4],
        seed: u64,
        device: &Device,
    ) -> Result<Self, String> {
        let len = shape.iter().product();
        let start = NoiseSource::new(seed, NoiseStream::SampleStart).next_chunk(len);
        let x = Tensor::from_data(TensorData::new(start, shape), device);
        Self::from_state(denoiser, schedule, config, x, schedule.steps(), seed)
    }

    /// Starts from a given x_t at 1-based step `t_start`.
    pub fn from_state(
        denoiser: &'a D,
        schedule: &Schedule,
        config: SamplerConfig,
        x_t: Tensor<4>,
        t_start: usize,
        seed: u64,
    ) -> Result<Self, String> {
        Ok(Self {
            denoiser,
            schedule: schedule.clone(),
            plan: config.plan(schedule, t_start)?,
            config,
            position: 0,
            x: x_t,
            noise: NoiseSource::new(seed, NoiseStream::SampleSteps),
            previous: None,
        })
    }

    /// The state after the steps taken so far: x_0 once the iterator is exhausted.
    pub fn current(&self) -> &Tensor<4> {
        &self.x
    }

    /// The steps this run visits, with the step each goes to.
    pub fn plan(&self) -> &[(usize, usize)] {
        &self.plan
    }

    /// Runs every remaining step and returns x_0.
    pub fn finish(mut self) -> Tensor<4> {
        for _ in self.by_ref() {}
        self.x
    }

    /// [`Self::finish`], asking `go_on` before each step; `None` when it says stop.
    pub fn finish_while(mut self, go_on: &mut dyn FnMut() -> bool) -> Option<Tensor<4>> {
        while self.position < self.plan.len() {
            if !go_on() {
                return None;
            }
            self.next();
        }
        Some(self.x)
    }

    /// The model's x̂0 (clipped if the sampler clips), the ε̂ that goes with it, and ε̂ as the
    /// model predicted it, at (x, t).
    fn predict(&self, x: &Tensor<4>, t: usize) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let model_eps =
            self.denoiser
                .predict_noise_at(x.clone(), t, self.schedule.log_snr()[t - 1]);
        let coefficients = x0_coefficients(&self.schedule, t);
        let x0 = predict_x0(x, &model_eps, coefficients, self.config.clip_x0);
        let eps = match self.config.kind {
            // DDPM's update reads x̂0 only; the rest read ε̂ as well, which must agree with a
            // clipped x̂0.
            SamplerKind::Ddpm { .. } => model_eps.clone(),
            _ if self.config.clip_x0 => {
                let alpha_bar = self.schedule.alpha_bar_at(t);
                (x.clone() - x0.clone() * alpha_bar.sqrt()) / (1.0 - alpha_bar).sqrt()
            }
            _ => model_eps.clone(),
        };
        (x0, eps, model_eps)
    }

    /// `mean + σ z` with fresh noise z (just `mean` when σ = 0).
    fn with_noise(&mut self, mean: Tensor<4>, sigma: f64) -> Tensor<4> {
        match self.fresh_noise(sigma) {
            Some(z) => mean + z * sigma,
            None => mean,
        }
    }

    fn fresh_noise(&mut self, sigma: f64) -> Option<Tensor<4>> {
        (sigma > 0.0).then(|| {
            let shape = self.x.shape();
            let values = self.noise.next_chunk(shape.num_elements());
            Tensor::from_data(TensorData::new(values, shape), &self.x.device())
        })
    }
}

/// x̂0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t through the coefficients `c`, clipped to [−1, 1] if `clip`.
pub fn predict_x0(x_t: &Tensor<4>, eps: &Tensor<4>, c: X0Coefficients, clip: bool) -> Tensor<4> {
    let x0 = x_t.clone() * c.from_xt + eps.clone() * c.from_eps;
    if clip { x0.clamp(-1.0, 1.0) } else { x0 }
}

impl<D: Denoiser + ?Sized> Iterator for Sampler<'_, D> {
    type Item = ReverseStep;

    fn next(&mut self) -> Option<ReverseStep> {
        let &(t, prev) = self.plan.get(self.position)?;
        self.position += 1;
        let x_t = self.x.clone();
        let (x0, eps, model_eps) = self.predict(&x_t, t);
        self.x = match self.config.kind {
            SamplerKind::Ddpm { variance } => {
                let step = ddpm_step(&self.schedule, t, variance);
                let mean = x0.clone() * step.mean_x0 + x_t.clone() * step.mean_xt;
                self.with_noise(mean, step.sigma)
            }
            SamplerKind::Ddim { eta, .. } => {
                let step = ddim_step(&self.schedule, t, prev, eta);
                let mean = x0.clone() * step.signal_prev + eps.clone() * step.dir_eps;
                self.with_noise(mean, step.sigma)
            }
            SamplerKind::DpmSolver { stochastic, .. } => {
                let previous_t = self.previous.as_ref().map(|(_, t)| *t);
                let step = dpm_solver_step(&self.schedule, t, prev, previous_t, stochastic);
                let mut next = x_t.clone() * step.from_x + x0.clone() * step.from_x0;
                if let Some((previous_x0, _)) = self.previous.take()
                    && step.from_x0_previous != 0.0
                {
                    next = next + previous_x0 * step.from_x0_previous;
                }
                self.previous = Some((x0.clone(), t));
                self.with_noise(next, step.noise)
            }
            SamplerKind::Euler { .. } => {
                let step = euler_step(&self.schedule, t, prev);
                x_t.clone() * step.from_x + eps.clone() * step.from_eps
            }
            SamplerKind::Heun { .. } => {
                let step = euler_step(&self.schedule, t, prev);
                let proposal = x_t.clone() * step.from_x + eps.clone() * step.from_eps;
                if !heun_corrects(&self.schedule, t, prev) {
                    proposal
                } else {
                    let (_, eps_end, _) = self.predict(&proposal, prev);
                    x_t.clone() * step.from_x + (eps.clone() + eps_end) * (0.5 * step.from_eps)
                }
            }
        };
        Some(ReverseStep {
            t,
            x_t,
            x0_hat: x0,
            eps_hat: eps,
            model_eps,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.plan.len() - self.position;
        (left, Some(left))
    }
}

/// A perfect denoiser for a known x0: ε = (x_t − √ᾱ_t x0) / √(1 − ᾱ_t). Used to check samplers.
pub struct OracleDenoiser {
    x0: Tensor<4>,
    schedule: Schedule,
}

impl OracleDenoiser {
    /// The oracle for clean images `x0` under `schedule`.
    pub fn new(x0: Tensor<4>, schedule: &Schedule) -> Self {
        Self {
            x0,
            schedule: schedule.clone(),
        }
    }
}

impl Denoiser for OracleDenoiser {
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let alpha_bar = self.schedule.alpha_bar_at(t);
        (x_t - self.x0.clone() * alpha_bar.sqrt()) / (1.0 - alpha_bar).sqrt()
    }
}
