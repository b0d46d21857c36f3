//! Reverse samplers: DDPM and DDIM coefficients against hand-derived formulas, tensor steps
//! against f64 arithmetic, and an oracle denoiser that knows x0.

use burn::tensor::{Device, Tensor, TensorData};
use noisescope::data::BuiltinDataset;
use noisescope::diffusion::{
    Denoiser, OracleDenoiser, Sampler, SamplerConfig, SamplerKind, tensor_to_vec,
};
use noisescope::noise::{NoiseSource, NoiseStream};
use noisescope::schedule::{
    ReverseVariance, Schedule, ScheduleKind, ScheduleSpec, TimestepSpacing, ddim_timesteps,
    ddpm_step,
};

fn schedule(kind: ScheduleKind) -> Schedule {
    Schedule::new(ScheduleSpec::new(kind)).expect("valid")
}

fn flat(tensor: &Tensor<4>) -> Vec<f32> {
    let [b, c, h, w] = tensor.dims();
    tensor_to_vec(tensor.clone().reshape([b, c * h * w]))
}

fn image_batch(device: &Device) -> Tensor<4> {
    let data = BuiltinDataset::load_shipped().expect("dataset");
    let values: Vec<f32> = (0..3).flat_map(|i| data.image(i).expect("image")).collect();
    Tensor::from_data(TensorData::new(values, [3, 1, 28, 28]), device)
}

/// Always predicts the same ε.
struct FixedNoise(Tensor<4>);

impl Denoiser for FixedNoise {
    fn predict_noise(&self, _x_t: Tensor<4>, _t: usize) -> Tensor<4> {
        self.0.clone()
    }
}

#[test]
fn ddpm_coefficients_match_the_posterior_formulas() {
    for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
        let s = schedule(kind);
        let posterior = s.posterior_variance();
        for t in [1, 2, 487, 999, 1000] {
            let beta = s.betas()[t - 1];
            let (ab, ab_prev) = (s.alpha_bar_at(t), s.alpha_bar_at(t - 1));
            let alpha = 1.0 - beta;
            let large = ddpm_step(&s, t, ReverseVariance::Beta);
            let small = ddpm_step(&s, t, ReverseVariance::PosteriorBeta);
            // μ = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t, written through x̂0.
            let on_xt = large.mean_x0 * large.x0.from_xt + large.mean_xt;
            let on_eps = large.mean_x0 * large.x0.from_eps;
            assert!(
                (on_xt - 1.0 / alpha.sqrt()).abs() < 1e-9,
                "{kind:?} t={t}: {on_xt}"
            );
            assert!((on_eps + beta / (alpha.sqrt() * (1.0 - ab).sqrt())).abs() < 1e-9);
            assert!((large.mean_x0 - beta * ab_prev.sqrt() / (1.0 - ab)).abs() < 1e-15);
            if t == 1 {
                assert_eq!((large.sigma, small.sigma), (0.0, 0.0), "no noise at t = 1");
            } else {
                assert!((large.sigma.powi(2) - beta).abs() < 1e-15);
                assert!((small.sigma.powi(2) - posterior[t - 1]).abs() < 1e-15);
            }
        }
    }
    // diffusers' DDPMScheduler._get_variance(487) for the linear schedule (index 487 ↔ t = 488).
    let s = schedule(ScheduleKind::Linear);
    let sigma = ddpm_step(&s, 488, ReverseVariance::PosteriorBeta).sigma;
    assert!((sigma.powi(2) - 0.00979).abs() < 5e-6, "{}", sigma.powi(2));
}

#[test]
fn ddpm_tensor_step_matches_f64_arithmetic_with_and_without_clipping() {
    let device = Device::flex();
    let s = schedule(ScheduleKind::Linear);
    let x_t = image_batch(&device) * 1.7;
    let eps_values: Vec<f32> = NoiseSource::new(5, NoiseStream::Epsilon).next_chunk(3 * 784);
    let eps = Tensor::<4>::from_data(TensorData::new(eps_values.clone(), [3, 1, 28, 28]), &device);
    let denoiser = FixedNoise(eps);
    let x = flat(&x_t);
    for (t, clip, variance) in [
        (300, false, ReverseVariance::Beta),
        (300, true, ReverseVariance::PosteriorBeta),
        (20, true, ReverseVariance::Beta),
        (1, false, ReverseVariance::PosteriorBeta),
    ] {
        let config = SamplerConfig {
            kind: SamplerKind::Ddpm { variance },
            clip_x0: clip,
        };
        let seed = 11;
        let mut sampler =
            Sampler::from_state(&denoiser, &s, config, x_t.clone(), t, seed).expect("plan");
        let step = sampler.next().expect("one step");
        assert_eq!(step.t, t);
        let got = flat(sampler.current());
        let c = ddpm_step(&s, t, variance);
        let z = if c.sigma > 0.0 {
            NoiseSource::new(seed, NoiseStream::SampleSteps).next_chunk(3 * 784)
        } else {
            vec![0.0; 3 * 784]
        };
        for i in 0..x.len() {
            let (xi, ei) = (f64::from(x[i]), f64::from(eps_values[i]));
            let mut x0 = c.x0.from_xt * xi + c.x0.from_eps * ei;
            if clip {
                x0 = x0.clamp(-1.0, 1.0);
            }
            let expected = c.mean_x0 * x0 + c.mean_xt * xi + c.sigma * f64::from(z[i]);
            assert!(
                (f64::from(got[i]) - expected).abs() < 1e-4,
                "t={t} clip={clip} i={i}"
            );
        }
    }
}

#[test]
fn the_last_ddpm_step_adds_no_noise() {
    let device = Device::flex();
    let s = schedule(ScheduleKind::Cosine);
    let x1 = image_batch(&device);
    let denoiser = FixedNoise(x1.clone() * 0.1);
    let config = SamplerConfig::default();
    let a = Sampler::from_state(&denoiser, &s, config, x1.clone(), 1, 1)
        .expect("plan")
        .finish();
    let b = Sampler::from_state(&denoiser, &s, config, x1, 1, 2)
        .expect("plan")
        .finish();
    assert_eq!(flat(&a), flat(&b));
}

#[test]
fn oracle_ddim_with_eta_zero_returns_x0_from_any_step() {
    let device = Device::flex();
    for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
        let s = schedule(kind);
        let x0 = image_batch(&device);
        let oracle = OracleDenoiser::new(x0.clone(), &s);
        let eps = Tensor::<4>::from_data(
            TensorData::new(
                NoiseSource::new(3, NoiseStream::Epsilon).next_chunk(3 * 784),
                [3, 1, 28, 28],
            ),
            &device,
        );
        for t in [1, 10, 250, 999] {
            let ab = s.alpha_bar_at(t);
            let x_t = x0.clone() * ab.sqrt() + eps.clone() * (1.0 - ab).sqrt();
            let kind = SamplerKind::Ddim {
                steps: 20,
                eta: 0.0,
                spacing: TimestepSpacing::Trailing,
            };
            let config = SamplerConfig {
                kind,
                clip_x0: false,
            };
            let out = Sampler::from_state(&oracle, &s, config, x_t, t, 0)
                .expect("plan")
                .finish();
            let worst = flat(&out)
                .iter()
                .zip(flat(&x0))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 2e-3, "{kind:?} from t={t}: {worst}");
        }
    }
}

#[test]
fn oracle_ddpm_predicts_x0_at_every_step() {
    let device = Device::flex();
    let s = Schedule::new(ScheduleSpec {
        steps: 200,
        ..ScheduleSpec::new(ScheduleKind::Linear)
    })
    .expect("valid");
    let x0 = image_batch(&device);
    let oracle = OracleDenoiser::new(x0.clone(), &s);
    let config = SamplerConfig {
        clip_x0: false,
        ..SamplerConfig::default()
    };
    let sampler =
        Sampler::from_noise(&oracle, &s, config, [3, 1, 28, 28], 4, &device).expect("plan");
    let reference = flat(&x0);
    let mut steps = 0;
    for step in sampler {
        let worst = flat(&step.x0_hat)
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let tolerance = 2e-5 / s.alpha_bar_at(step.t).sqrt() as f32;
        assert!(worst < tolerance.max(1e-4), "t={}: {worst}", step.t);
        steps += 1;
    }
    assert_eq!(steps, 200);
}

#[test]
fn ddim_timesteps_match_diffusers() {
    // diffusers DDIMScheduler.set_timesteps(10) for T = 1000 (0-based there, 1-based here).
    let leading = ddim_timesteps(1000, 10, TimestepSpacing::Leading).expect("ok");
    assert_eq!(
        leading,
        vec![901, 801, 701, 601, 501, 401, 301, 201, 101, 1]
    );
    let trailing = ddim_timesteps(1000, 10, TimestepSpacing::Trailing).expect("ok");
    assert_eq!(
        trailing,
        vec![1000, 900, 800, 700, 600, 500, 400, 300, 200, 100]
    );
    let linspace = ddim_timesteps(1000, 10, TimestepSpacing::Linspace).expect("ok");
    assert_eq!(
        linspace,
        vec![1000, 889, 778, 667, 556, 445, 334, 223, 112, 1]
    );
    assert!(ddim_timesteps(1000, 0, TimestepSpacing::Leading).is_err());
    assert!(ddim_timesteps(10, 11, TimestepSpacing::Leading).is_err());
}

#[test]
fn bad_sampler_settings_are_refused() {
    let s = schedule(ScheduleKind::Linear);
    let eta = SamplerConfig {
        kind: SamplerKind::Ddim {
            steps: 10,
            eta: 1.5,
            spacing: TimestepSpacing::Leading,
        },
        clip_x0: true,
    };
    assert!(eta.plan(&s, 1000).expect_err("refused").contains("η"));
    assert!(SamplerConfig::default().plan(&s, 1001).is_err());
    let zero_snr = Schedule::new(ScheduleSpec {
        zero_terminal_snr: true,
        ..ScheduleSpec::new(ScheduleKind::Linear)
    })
    .expect("valid");
    let refused = SamplerConfig::default().plan(&zero_snr, 1000);
    assert!(refused.expect_err("refused").contains("zero terminal SNR"));
    assert!(SamplerConfig::default().plan(&zero_snr, 999).is_ok());
}

#[test]
fn n_steps_are_n_model_calls_from_t_in_every_spacing() {
    use noisescope::diffusion::SamplerFamily;
    let spacings = [
        TimestepSpacing::Leading,
        TimestepSpacing::Trailing,
        TimestepSpacing::Linspace,
        TimestepSpacing::LogSnr,
    ];
    for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
        let s = schedule(kind);
        for spacing in spacings {
            for steps in [1, 2, 10, 20, 50] {
                for family in SamplerFamily::ALL.into_iter().filter(|f| f.has_steps()) {
                    let config = SamplerConfig {
                        kind: family.kind(steps, spacing, ReverseVariance::PosteriorBeta, 0.0),
                        clip_x0: true,
                    };
                    let plan = config.plan(&s, 1000).expect("plan");
                    let what = format!("{kind:?} {spacing:?} {family:?}-{steps}");
                    assert_eq!(plan.len(), steps, "{what}: {plan:?}");
                    assert_eq!(plan[0].0, 1000, "{what}: starts at T");
                    assert_eq!(plan[steps - 1].1, 0, "{what}: ends at 0");
                    let calls = config.model_calls(&s, 1000).expect("calls");
                    if family == SamplerFamily::Heun {
                        assert!((steps..=2 * steps - 1).contains(&calls), "{what}: {calls}");
                    } else {
                        assert_eq!(calls, steps, "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn ddim_with_eta_one_between_adjacent_steps_has_ddpms_posterior_sigma() {
    use noisescope::schedule::ddim_step;
    for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
        let s = schedule(kind);
        let posterior = s.posterior_variance();
        for t in [2, 10, 500, 999, 1000] {
            let one = ddim_step(&s, t, t - 1, 1.0);
            assert!(
                (one.sigma.powi(2) - posterior[t - 1]).abs() < 1e-12 * (1.0 + posterior[t - 1]),
                "{kind:?} t = {t}: σ² = {} against β̃ = {}",
                one.sigma.powi(2),
                posterior[t - 1]
            );
            // Then √(1 − ᾱ_{t−1} − σ²) ε̂ + √ᾱ_{t−1} x̂0 is DDPM's posterior mean.
            let ddpm = ddpm_step(&s, t, ReverseVariance::PosteriorBeta);
            let on_xt = one.dir_eps / one.noise_t;
            assert!((on_xt - ddpm.mean_xt).abs() < 1e-9, "{kind:?} t = {t}");
            let half = ddim_step(&s, t, t - 1, 0.5);
            assert!((half.sigma - 0.5 * one.sigma).abs() < 1e-15);
        }
    }
}

#[test]
fn a_clipped_ddim_step_uses_the_noise_that_agrees_with_the_clipped_x0() {
    let device = Device::flex();
    let s = schedule(ScheduleKind::Linear);
    let t = 400;
    // A denoiser that predicts far too much noise: x̂0 leaves [−1, 1] and is clipped.
    let x_t = image_batch(&device);
    let eps = Tensor::<4>::ones([3, 1, 28, 28], &device) * -3.0;
    let denoiser = FixedNoise(eps);
    let config = SamplerConfig {
        kind: SamplerKind::Ddim {
            steps: 10,
            eta: 0.0,
            spacing: TimestepSpacing::Trailing,
        },
        clip_x0: true,
    };
    let mut sampler =
        Sampler::from_state(&denoiser, &s, config, x_t.clone(), t, 0).expect("sampler");
    let step = sampler.next().expect("a step");
    let x0 = flat(&step.x0_hat);
    assert!(x0.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert!(x0.contains(&1.0), "the prediction was clipped");
    let ab = s.alpha_bar_at(t);
    let x_values = flat(&x_t);
    let eps_hat = flat(&step.eps_hat);
    for ((x, x0), e) in x_values.iter().zip(&x0).zip(&eps_hat) {
        let expected = (f64::from(*x) - ab.sqrt() * f64::from(*x0)) / (1.0 - ab).sqrt();
        assert!((f64::from(*e) - expected).abs() < 1e-4, "{e} vs {expected}");
    }
    assert!(
        flat(&step.model_eps).iter().all(|&v| v == -3.0),
        "the model's own ε̂ is kept"
    );
    // The step lands on √ᾱ_prev x̂0 + √(1 − ᾱ_prev) ε̂ with the consistent pair.
    let prev = sampler.plan()[0].1;
    let abp = s.alpha_bar_at(prev);
    let next = flat(sampler.current());
    for ((n, x0), e) in next.iter().zip(&x0).zip(&eps_hat) {
        let expected = abp.sqrt() * f64::from(*x0) + (1.0 - abp).sqrt() * f64::from(*e);
        assert!((f64::from(*n) - expected).abs() < 1e-4, "{n} vs {expected}");
    }
}
