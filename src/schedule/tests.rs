use proptest::prelude::*;

use super::*;

fn schedule(kind: ScheduleKind) -> Schedule {
    Schedule::new(ScheduleSpec::new(kind)).expect("published defaults are valid")
}

fn stable_diffusion() -> Schedule {
    Schedule::new(ScheduleSpec {
        beta_start: 0.00085,
        beta_end: 0.012,
        ..ScheduleSpec::new(ScheduleKind::ScaledLinear)
    })
    .expect("valid")
}

fn assert_close(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} is not within {tolerance} of {expected}"
    );
}

fn snr(alpha_bar: f64) -> f64 {
    alpha_bar / (1.0 - alpha_bar)
}

// Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps Are Flawed", Table 1.
#[test]
fn terminal_snr_matches_lin_et_al_table_1() {
    let linear = schedule(ScheduleKind::Linear).alpha_bar_at(1000);
    assert_close(snr(linear), 4.035993e-05, 1e-11);
    assert_close(linear.sqrt(), 0.006353, 5e-7);
    let cosine = schedule(ScheduleKind::Cosine).alpha_bar_at(1000);
    // The table was computed in float32: its cosine value is 1.3e-5 (relative) off the f64 one.
    assert_close(snr(cosine), 2.428735e-09, 5e-14);
    assert_close(cosine.sqrt(), 0.000049, 5e-7);
    let sd = stable_diffusion().alpha_bar_at(1000);
    assert_close(snr(sd), 0.004682, 5e-7);
    assert_close(sd.sqrt(), 0.068265, 5e-7);
}

#[test]
fn linear_terminal_alpha_bar_is_ho_et_al() {
    assert_close(
        schedule(ScheduleKind::Linear).alpha_bar_at(1000),
        4.036e-5,
        5e-9,
    );
}

// diffusers tests/schedulers/test_scheduler_ddpm.py: `_get_variance` of the linear schedule.
#[test]
fn posterior_variance_matches_diffusers() {
    let variance = schedule(ScheduleKind::Linear).posterior_variance();
    assert_eq!(variance[0], 0.0);
    assert_close(variance[487], 0.00979, 1e-5);
    assert_close(variance[999], 0.02, 1e-5);
}

#[test]
fn cosine_last_beta_is_exactly_the_cap() {
    let cosine = schedule(ScheduleKind::Cosine);
    assert_eq!(cosine.betas()[999], 0.999);
    assert_eq!(cosine.clipped(), 1);
}

#[test]
fn linear_betas_are_the_published_endpoints() {
    let linear = schedule(ScheduleKind::Linear);
    assert_eq!(linear.betas()[0], 1e-4);
    assert_close(linear.betas()[999], 0.02, 1e-17);
}

#[test]
fn scaled_linear_is_linear_in_square_root() {
    let betas = stable_diffusion().betas().to_vec();
    let roots: Vec<f64> = betas.iter().map(|b| b.sqrt()).collect();
    let step = roots[1] - roots[0];
    for pair in roots.windows(2) {
        assert_close(pair[1] - pair[0], step, 1e-15);
    }
    assert_close(betas[0], 0.00085, 1e-15);
    assert_close(betas[999], 0.012, 1e-15);
}

#[test]
fn sigmoid_is_symmetric_about_the_midpoint() {
    let sigmoid = Schedule::new(ScheduleSpec {
        steps: 1001,
        ..ScheduleSpec::new(ScheduleKind::Sigmoid)
    })
    .expect("valid");
    let betas = sigmoid.betas();
    assert_close(betas[500], (1e-4 + 0.02) / 2.0, 1e-15);
    assert_close(betas[0] - 1e-4, 0.02 - betas[1000], 1e-15);
    assert_close(betas[0], 1e-4 + 0.0199 / (1.0 + 6f64.exp()), 1e-15);
}

#[test]
fn linear_combine_replaces_only_the_first_beta() {
    let spec = ScheduleSpec {
        beta1: 0.003,
        ..ScheduleSpec::new(ScheduleKind::LinearCombine)
    };
    let combined = Schedule::new(spec).expect("valid");
    let linear = schedule(ScheduleKind::Linear);
    assert_eq!(combined.betas()[0], 0.003);
    assert_eq!(combined.betas()[1..], linear.betas()[1..]);
}

#[test]
fn log_snr_at_the_ends_of_the_linear_schedule() {
    let log_snr = schedule(ScheduleKind::Linear).log_snr();
    assert_close(log_snr[0], (0.9999f64 / 1e-4).ln(), 1e-9);
    assert_close(log_snr[999], -10.117673, 1e-5);
}

#[test]
fn zero_terminal_snr_rescale_ends_at_zero_and_keeps_the_first_step() {
    for kind in [ScheduleKind::Linear, ScheduleKind::ScaledLinear] {
        let plain = schedule(kind);
        let rescaled = Schedule::new(ScheduleSpec {
            zero_terminal_snr: true,
            ..ScheduleSpec::new(kind)
        })
        .expect("valid");
        assert_eq!(rescaled.alpha_bar_at(1000), 0.0);
        assert_eq!(rescaled.betas()[999], 1.0);
        assert_eq!(rescaled.log_snr()[999], f64::NEG_INFINITY);
        assert_close(rescaled.alpha_bar_at(1), plain.alpha_bar_at(1), 1e-15);
        assert!(rescaled.posterior_variance().iter().all(|v| v.is_finite()));
    }
}

#[test]
fn coefficients_square_to_one() {
    let cosine = schedule(ScheduleKind::Cosine);
    for (signal, noise) in cosine
        .signal_coefficient()
        .iter()
        .zip(cosine.noise_coefficient())
    {
        assert_close(signal * signal + noise * noise, 1.0, 1e-12);
    }
}

#[test]
fn sanity_report_of_the_linear_schedule() {
    let report = schedule(ScheduleKind::Linear).sanity();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.clipped, 0);
    assert_eq!(report.log_snr_zero_crossing, Some(260));
    assert_close(report.terminal_log_snr, -10.117673, 1e-5);
}

#[test]
fn short_linear_schedule_warns_that_signal_is_left() {
    let short = Schedule::new(ScheduleSpec {
        steps: 50,
        ..ScheduleSpec::default()
    })
    .expect("valid");
    let warnings = short.sanity().warnings;
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("not near 0"), "{warnings:?}");
}

#[test]
fn a_falling_beta_range_is_warned_about_where_the_kind_uses_it() {
    let falling = |kind| {
        Schedule::new(ScheduleSpec {
            beta_start: 0.02,
            beta_end: 1e-4,
            ..ScheduleSpec::new(kind)
        })
        .expect("valid")
        .sanity()
        .warnings
    };
    let linear = falling(ScheduleKind::Linear);
    assert!(
        linear.iter().any(|w| w.contains("β_start = 0.02 > β_end")),
        "{linear:?}"
    );
    assert!(
        !falling(ScheduleKind::Cosine)
            .iter()
            .any(|w| w.contains("β_start")),
        "the cosine schedule has no β range"
    );
    assert!(
        Schedule::new(ScheduleSpec::default())
            .expect("valid")
            .sanity()
            .warnings
            .is_empty()
    );
}

#[test]
fn bad_parameters_are_refused_with_the_reason() {
    let cases = [
        (
            ScheduleSpec {
                steps: 1,
                ..ScheduleSpec::default()
            },
            "T = 1",
        ),
        (
            ScheduleSpec {
                steps: 0,
                ..ScheduleSpec::default()
            },
            "T = 0",
        ),
        (
            ScheduleSpec {
                steps: 10_001,
                ..ScheduleSpec::default()
            },
            "T = 10001",
        ),
        (
            ScheduleSpec {
                beta_start: 0.0,
                ..ScheduleSpec::default()
            },
            "β_start = 0",
        ),
        (
            ScheduleSpec {
                beta_end: 1.0,
                ..ScheduleSpec::default()
            },
            "β_end = 1",
        ),
        (
            ScheduleSpec {
                beta_end: f64::NAN,
                ..ScheduleSpec::default()
            },
            "β_end = NaN",
        ),
        (
            ScheduleSpec {
                cosine_s: -0.1,
                ..ScheduleSpec::new(ScheduleKind::Cosine)
            },
            "s = -0.1",
        ),
        (
            ScheduleSpec {
                beta1: 1.5,
                ..ScheduleSpec::new(ScheduleKind::LinearCombine)
            },
            "β1 = 1.5",
        ),
    ];
    for (spec, expected) in cases {
        let message = Schedule::new(spec)
            .expect_err("must be refused")
            .to_string();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
}

#[test]
fn cosine_ignores_beta_range_and_linear_ignores_offset() {
    let cosine = ScheduleSpec {
        beta_start: 7.0,
        ..ScheduleSpec::new(ScheduleKind::Cosine)
    };
    assert!(Schedule::new(cosine).is_ok());
    let linear = ScheduleSpec {
        cosine_s: -1.0,
        ..ScheduleSpec::default()
    };
    assert!(Schedule::new(linear).is_ok());
}

#[test]
fn daed_switch_is_the_closest_alpha_bar() {
    let linear = schedule(ScheduleKind::Linear);
    let switch = daed_switch(&linear, 0.02).expect("valid β1");
    let alpha_bar = linear.alpha_bar();
    let distance = |t: usize| (alpha_bar[t - 1] - 0.98).abs();
    assert!(distance(switch.t) <= distance(switch.t - 1));
    assert!(distance(switch.t) <= distance(switch.t + 1));
    assert_eq!(switch.steps_left, 1000 - switch.t);
    assert_eq!(switch.alpha_bar, alpha_bar[switch.t - 1]);
    assert!(daed_switch(&linear, 0.0).is_err());
    assert_eq!(daed_switch(&linear, 1e-4).expect("valid").t, 1);
}

#[test]
fn kind_names_round_trip() {
    for kind in ScheduleKind::ALL {
        assert_eq!(ScheduleKind::from_cli_name(kind.cli_name()), Some(kind));
    }
    assert_eq!(ScheduleKind::from_cli_name("quad"), None);
}

fn any_spec() -> impl Strategy<Value = ScheduleSpec> {
    (
        prop::sample::select(ScheduleKind::ALL.to_vec()),
        2usize..3000,
        1e-6f64..0.05,
        0.0f64..0.5,
        0.0f64..0.1,
        1e-5f64..0.1,
    )
        .prop_map(
            |(kind, steps, beta_start, spread, cosine_s, beta1)| ScheduleSpec {
                kind,
                steps,
                beta_start,
                beta_end: (beta_start + spread).min(0.2),
                cosine_s,
                beta1,
                ..ScheduleSpec::new(kind)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_valid_schedule_is_a_diffusion_process(spec in any_spec()) {
        let schedule = Schedule::new(spec).expect("valid by construction");
        prop_assert!(schedule.betas().iter().all(|&b| b > 0.0 && b < 1.0));
        let alpha_bar = schedule.alpha_bar();
        prop_assert!(alpha_bar.windows(2).all(|w| w[1] < w[0]));
        prop_assert!(alpha_bar[0] < 1.0 && alpha_bar[alpha_bar.len() - 1] > 0.0);
        let log_snr = schedule.log_snr();
        prop_assert!(log_snr.windows(2).all(|w| w[1] < w[0]));
        let variance = schedule.posterior_variance();
        prop_assert!(variance[0] == 0.0);
        for (v, b) in variance.iter().zip(schedule.betas()).skip(1) {
            prop_assert!(*v > 0.0 && *v <= *b * (1.0 + 1e-12));
        }
    }
}

#[test]
fn log_snr_spacing_is_even_in_lambda_down_to_its_floor() {
    for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
        let s = schedule(kind);
        let lambda = s.log_snr();
        let steps = sampler_timesteps(&s, 20, TimestepSpacing::LogSnr).expect("ok");
        assert!(steps.windows(2).all(|w| w[0] > w[1]), "{kind:?}: {steps:?}");
        assert_eq!(*steps.last().expect("steps"), 1, "{kind:?}: ends at λ_1");
        let low = lambda[999].max(LOG_SNR_SPACING_FLOOR);
        let first = lambda[steps[0] - 1];
        assert!(
            (first - low).abs() < 0.2,
            "{kind:?}: starts at λ {first}, not {low}"
        );
        // Consecutive steps are (up to rounding to whole steps) equally far apart in λ.
        let gap = (lambda[0] - low) / 19.0;
        for w in steps.windows(2) {
            let between = lambda[w[1] - 1] - lambda[w[0] - 1];
            assert!(
                (between - gap).abs() < 0.35 * gap,
                "{kind:?}: {w:?} {between} vs {gap}"
            );
        }
    }
    // Where λ is flat near t = 1, many steps keep N distinct steps within 1..=T.
    for n in [50, 200, 1000] {
        let steps = sampler_timesteps(&schedule(ScheduleKind::Linear), n, TimestepSpacing::LogSnr)
            .expect("ok");
        assert_eq!(steps.len(), n);
        assert!(steps.windows(2).all(|w| w[0] > w[1]) && steps[n - 1] >= 1 && steps[0] <= 1000);
    }
    // The cosine schedule's λ_T = −19.8 lies below the floor; the linear one's does not.
    assert!(schedule(ScheduleKind::Cosine).log_snr()[999] < LOG_SNR_SPACING_FLOOR);
    assert!(schedule(ScheduleKind::Linear).log_snr()[999] > LOG_SNR_SPACING_FLOOR);
    assert!(
        sampler_timesteps(&schedule(ScheduleKind::Linear), 0, TimestepSpacing::LogSnr).is_err()
    );
}
