//! The few-step samplers (DPM-Solver++(2M), Euler, Heun) against diffusers' schedulers: the same
//! trajectory, step by step, for the same stand-in denoiser (golden values written by
//! `tests/golden/samplers.py`), and properties that need no reference.

use burn::tensor::{Device, Tensor, TensorData};
use noisescope::diffusion::{
    Denoiser, OracleDenoiser, Sampler, SamplerConfig, SamplerKind, tensor_to_vec,
};
use noisescope::schedule::{
    Schedule, ScheduleKind, ScheduleSpec, TimestepSpacing, ddim_timesteps, dpm_solver_step,
    heun_corrects,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    #[serde(rename = "T")]
    steps: usize,
    start: usize,
    #[serde(rename = "x_T")]
    x_start: Vec<f32>,
    cases: Vec<Case>,
    dpm_solver_coefficients: Vec<Coefficients>,
}

#[derive(Deserialize)]
struct Coefficients {
    schedule: String,
    steps: usize,
    stochastic: bool,
    /// Per step: weights of x_t, x̂0, the previous x̂0 and fresh noise.
    coefficients: Vec<[f64; 4]>,
}

#[derive(Deserialize)]
struct Case {
    schedule: String,
    sampler: String,
    steps: usize,
    visited: Vec<usize>,
    trajectory: Vec<Vec<f64>>,
}

/// The script's stand-in denoiser: x̂0 = 0.8 tanh(x) + 0.1 sin(t/300), ε̂ = (x − √ᾱ x̂0)/√(1 − ᾱ).
struct StandIn {
    schedule: Schedule,
}

impl Denoiser for StandIn {
    fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let (shape, device) = (x_t.shape(), x_t.device());
        let a = self.schedule.alpha_bar_at(t);
        let eps: Vec<f32> = values(&x_t)
            .iter()
            .map(|&x| {
                let x = f64::from(x);
                let x0 = 0.8 * x.tanh() + 0.1 * (t as f64 / 300.0).sin();
                ((x - a.sqrt() * x0) / (1.0 - a).sqrt()) as f32
            })
            .collect();
        Tensor::from_data(TensorData::new(eps, shape), &device)
    }
}

fn values(x: &Tensor<4>) -> Vec<f32> {
    let [b, c, h, w] = x.dims();
    tensor_to_vec(x.clone().reshape([b, c * h * w]))
}

fn kind(name: &str, steps: usize, spacing: TimestepSpacing) -> SamplerKind {
    match name {
        "dpmpp-2m" => SamplerKind::DpmSolver {
            steps,
            spacing,
            stochastic: false,
        },
        "euler" => SamplerKind::Euler { steps, spacing },
        "heun" => SamplerKind::Heun { steps, spacing },
        other => panic!("no sampler {other}"),
    }
}

fn golden() -> Golden {
    serde_json::from_str(include_str!("golden/samplers.json")).expect("golden values")
}

fn named_schedule(name: &str) -> Schedule {
    let kind = match name {
        "linear" => ScheduleKind::Linear,
        _ => ScheduleKind::Cosine,
    };
    Schedule::new(ScheduleSpec::new(kind)).expect("valid")
}

#[test]
fn dpm_solver_coefficients_match_diffusers_in_both_forms() {
    let golden = golden();
    assert_eq!(golden.dpm_solver_coefficients.len(), 8);
    for case in &golden.dpm_solver_coefficients {
        let schedule = named_schedule(&case.schedule);
        let below = ddim_timesteps(golden.steps, case.steps, TimestepSpacing::Trailing)
            .expect("plan")
            .into_iter()
            .filter(|&t| t < golden.start);
        let visited: Vec<usize> = std::iter::once(golden.start).chain(below).collect();
        assert_eq!(visited.len(), case.coefficients.len());
        for (i, expected) in case.coefficients.iter().enumerate() {
            let (t, to) = (visited[i], visited.get(i + 1).copied().unwrap_or(0));
            let previous = i.checked_sub(1).map(|p| visited[p]);
            let step = dpm_solver_step(&schedule, t, to, previous, case.stochastic);
            let ours = [step.from_x, step.from_x0, step.from_x0_previous, step.noise];
            // diffusers keeps ᾱ in float32: its σ at small t carry a few 1e-6 of rounding.
            for (a, b) in ours.iter().zip(expected) {
                assert!(
                    (a - b).abs() < 1e-5 * (1.0 + b.abs()),
                    "{} {} steps, stochastic {}: step {i} ({t} → {to}) has {ours:?}, diffusers \
                     {expected:?}",
                    case.schedule,
                    case.steps,
                    case.stochastic
                );
            }
        }
    }
}

#[test]
fn every_step_matches_diffusers() {
    let golden = golden();
    let device = Device::flex();
    let x_t = Tensor::<4>::from_data(
        TensorData::new(golden.x_start.clone(), [1, 1, 2, 4]),
        &device,
    );
    assert_eq!(golden.cases.len(), 12);
    for case in &golden.cases {
        let schedule = named_schedule(&case.schedule);
        assert_eq!(schedule.steps(), golden.steps);
        let denoiser = StandIn {
            schedule: schedule.clone(),
        };
        let config = SamplerConfig {
            kind: kind(&case.sampler, case.steps, TimestepSpacing::Trailing),
            clip_x0: false,
        };
        let mut sampler =
            Sampler::from_state(&denoiser, &schedule, config, x_t.clone(), golden.start, 0)
                .expect("plan");
        let what = format!("{} {} {}", case.schedule, case.sampler, case.steps);
        // Float32 rounding against diffusers' float64 state (measured: below 1e-6).
        let tolerance = 2e-5;
        let mut worst = 0.0f64;
        assert_eq!(sampler.plan().len(), case.trajectory.len(), "{what}: steps");
        for (i, (expected, &t)) in case.trajectory.iter().zip(&case.visited).enumerate() {
            let step = sampler.next().expect("a step");
            assert_eq!(step.t, t, "{what}: step {i} visits t");
            for (ours, theirs) in values(sampler.current()).iter().zip(expected) {
                let difference = (f64::from(*ours) - theirs).abs();
                worst = worst.max(difference / (1.0 + theirs.abs()));
                assert!(
                    difference < tolerance * (1.0 + theirs.abs()),
                    "{what}: step {i} (t = {t}) gives {ours}, diffusers {theirs}"
                );
            }
        }
        assert!(sampler.next().is_none(), "{what}: no more steps");
        eprintln!("{what}: largest relative difference {worst:.1e}");
    }
}

fn image_like(device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..2 * 28 * 28)
        .map(|i| ((i as f32 * 0.37).sin() * 0.9).clamp(-1.0, 1.0))
        .collect();
    Tensor::from_data(TensorData::new(values, [2, 1, 28, 28]), device)
}

#[test]
fn with_a_perfect_denoiser_every_solver_lands_on_x0() {
    let device = Device::flex();
    let x0 = image_like(&device);
    for schedule_kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
        let schedule = Schedule::new(ScheduleSpec::new(schedule_kind)).expect("valid");
        let oracle = OracleDenoiser::new(x0.clone(), &schedule);
        for name in ["dpmpp-2m", "euler", "heun"] {
            for spacing in [TimestepSpacing::Leading, TimestepSpacing::Trailing] {
                let config = SamplerConfig {
                    kind: kind(name, 7, spacing),
                    clip_x0: true,
                };
                let shape = [2, 1, 28, 28];
                let sampler = Sampler::from_noise(&oracle, &schedule, config, shape, 3, &device)
                    .expect("plan");
                let out = values(&sampler.finish());
                let worst = out
                    .iter()
                    .zip(values(&x0))
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    worst < 1e-3,
                    "{schedule_kind:?} {name} {spacing:?}: off by {worst}"
                );
            }
        }
    }
}

#[test]
fn euler_is_deterministic_ddim() {
    // Euler's method on the probability-flow ODE in σ = √(1 − ᾱ)/√ᾱ is DDIM with η = 0
    // (Karras et al. 2022, section 3), step for step.
    let device = Device::flex();
    let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Linear)).expect("valid");
    let denoiser = StandIn {
        schedule: schedule.clone(),
    };
    let run = |kind: SamplerKind| {
        let config = SamplerConfig {
            kind,
            clip_x0: false,
        };
        let sampler = Sampler::from_noise(&denoiser, &schedule, config, [1, 1, 4, 4], 5, &device)
            .expect("plan");
        values(&sampler.finish())
    };
    let spacing = TimestepSpacing::Leading;
    let euler = run(SamplerKind::Euler { steps: 12, spacing });
    let ddim = run(SamplerKind::Ddim {
        steps: 12,
        eta: 0.0,
        spacing,
    });
    for (a, b) in euler.iter().zip(&ddim) {
        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn heun_corrects_every_step_but_the_last_and_those_from_above_sigma_80() {
    use std::cell::Cell;
    struct Counting<'a>(&'a StandIn, Cell<usize>);
    impl Denoiser for Counting<'_> {
        fn predict_noise(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
            self.1.set(self.1.get() + 1);
            self.0.predict_noise(x_t, t)
        }
    }
    let device = Device::flex();
    let schedule = named_schedule("cosine");
    let stand_in = StandIn {
        schedule: schedule.clone(),
    };
    let config = SamplerConfig {
        kind: SamplerKind::Heun {
            steps: 10,
            spacing: TimestepSpacing::Trailing,
        },
        clip_x0: true,
    };
    let calls = |start: usize| {
        let counting = Counting(&stand_in, Cell::new(0));
        let x = Tensor::<4>::zeros([1, 1, 2, 2], &device);
        let sampler = Sampler::from_state(&counting, &schedule, config, x, start, 0).expect("plan");
        let steps = sampler.plan().len();
        let _ = sampler.finish();
        let counted = counting.1.get();
        assert_eq!(config.model_calls(&schedule, start), Ok(counted));
        (steps, counted)
    };
    // From t = 900 (σ/α ≈ 6): nine steps, each corrected but the last.
    assert_eq!(calls(900), (9, 17));
    // From T (σ/α ≈ 2·10⁴ under the cosine schedule) the first step is Euler's.
    assert_eq!(calls(1000), (10, 18));
    assert!(!heun_corrects(&schedule, 1000, 900) && heun_corrects(&schedule, 900, 800));
    assert!(
        !heun_corrects(&schedule, 100, 0),
        "the last step is Euler's"
    );
}
