//! The forward process on burn tensors: the closed form, the Markov chain, and CPU vs wgpu.

mod common;

use burn::tensor::Device;
use noisescope::data::{BuiltinDataset, IMAGE_PIXELS};
use noisescope::diffusion::{ForwardMode, forward_all_steps, tensor_to_vec};
use noisescope::noise::{NoiseStream, standard_normal};
use noisescope::schedule::{Schedule, ScheduleKind, ScheduleSpec};

fn schedule(kind: ScheduleKind, steps: usize, zero_terminal_snr: bool) -> Schedule {
    Schedule::new(ScheduleSpec {
        steps,
        zero_terminal_snr,
        ..ScheduleSpec::new(kind)
    })
    .expect("valid schedule")
}

fn shipped_image(index: usize) -> Vec<f32> {
    BuiltinDataset::load_shipped()
        .expect("the shipped dataset loads")
        .image(index)
        .expect("index in range")
}

#[test]
fn closed_form_is_the_formula_with_the_seeded_epsilon() {
    let x0 = shipped_image(0);
    let schedule = schedule(ScheduleKind::Cosine, 1000, false);
    let frames = tensor_to_vec(forward_all_steps(
        &x0,
        &schedule,
        ForwardMode::ClosedForm,
        42,
        &Device::flex(),
    ));
    assert_eq!(frames.len(), 1000 * IMAGE_PIXELS);
    let epsilon = standard_normal(42, NoiseStream::Epsilon, IMAGE_PIXELS);
    for t in [1, 10, 500, 1000] {
        let (a, b) = (
            schedule.alpha_bar_at(t).sqrt(),
            (1.0 - schedule.alpha_bar_at(t)).sqrt(),
        );
        for p in (0..IMAGE_PIXELS).step_by(37) {
            let expected = a * f64::from(x0[p]) + b * f64::from(epsilon[p]);
            let actual = f64::from(frames[(t - 1) * IMAGE_PIXELS + p]);
            assert!(
                (actual - expected).abs() < 1e-5,
                "t={t} p={p}: {actual} vs {expected}"
            );
        }
    }
}

/// The chain stepped one t at a time in f64, the way the paper writes it.
fn sequential_chain(x0: &[f32], schedule: &Schedule, seed: u64) -> Vec<f64> {
    let pixels = x0.len();
    let noise = standard_normal(seed, NoiseStream::Chain, schedule.steps() * pixels);
    let mut x: Vec<f64> = x0.iter().map(|&v| f64::from(v)).collect();
    let mut frames = Vec::with_capacity(schedule.steps() * pixels);
    for (i, beta) in schedule.betas().iter().enumerate() {
        for (p, value) in x.iter_mut().enumerate() {
            *value = (1.0 - beta).sqrt() * *value + beta.sqrt() * f64::from(noise[i * pixels + p]);
        }
        frames.extend_from_slice(&x);
    }
    frames
}

#[test]
fn blocked_markov_chain_equals_stepping_one_t_at_a_time() {
    let x0 = shipped_image(3);
    for schedule in [
        schedule(ScheduleKind::Linear, 1000, false),
        schedule(ScheduleKind::Sigmoid, 300, false),
        schedule(ScheduleKind::ScaledLinear, 600, true),
    ] {
        let blocked = tensor_to_vec(forward_all_steps(
            &x0,
            &schedule,
            ForwardMode::MarkovChain,
            9,
            &Device::flex(),
        ));
        let reference = sequential_chain(&x0, &schedule, 9);
        let worst = blocked
            .iter()
            .zip(&reference)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 2e-4,
            "{}: worst difference {worst}",
            schedule.spec().label()
        );
    }
}

/// Mean and variance over seeds and pixels of (x_t − √ᾱ_t x0) at each `t`.
fn residual_moments(
    mode: ForwardMode,
    schedule: &Schedule,
    x0: &[f32],
    ts: &[usize],
) -> Vec<(f64, f64)> {
    let seeds = 120u64;
    let mut sums = vec![(0.0f64, 0.0f64); ts.len()];
    for seed in 0..seeds {
        let frames = tensor_to_vec(forward_all_steps(x0, schedule, mode, seed, &Device::flex()));
        for (k, &t) in ts.iter().enumerate() {
            let signal = schedule.alpha_bar_at(t).sqrt();
            for (p, &v) in frames[(t - 1) * x0.len()..t * x0.len()].iter().enumerate() {
                let residual = f64::from(v) - signal * f64::from(x0[p]);
                sums[k].0 += residual;
                sums[k].1 += residual * residual;
            }
        }
    }
    let n = (seeds as usize * x0.len()) as f64;
    sums.into_iter()
        .map(|(s, s2)| {
            let mean = s / n;
            (mean, s2 / n - mean * mean)
        })
        .collect()
}

#[test]
fn closed_form_and_markov_chain_agree_in_distribution() {
    let x0 = shipped_image(1);
    let schedule = schedule(ScheduleKind::Linear, 1000, false);
    let ts = [5, 50, 250, 1000];
    let closed = residual_moments(ForwardMode::ClosedForm, &schedule, &x0, &ts);
    let chain = residual_moments(ForwardMode::MarkovChain, &schedule, &x0, &ts);
    let n = 120.0 * IMAGE_PIXELS as f64;
    for (k, &t) in ts.iter().enumerate() {
        let variance = 1.0 - schedule.alpha_bar_at(t);
        // Every pixel of every seed is an independent draw; 6σ bounds keep false alarms negligible.
        let mean_bound = 6.0 * (variance / n).sqrt();
        let variance_bound = 6.0 * variance * (2.0 / n).sqrt();
        for (name, (mean, var)) in [("closed form", closed[k]), ("chain", chain[k])] {
            assert!(
                mean.abs() < mean_bound,
                "{name} t={t}: mean {mean} (bound {mean_bound})"
            );
            assert!(
                (var - variance).abs() < variance_bound,
                "{name} t={t}: variance {var}, expected {variance} ± {variance_bound}"
            );
        }
    }
}

#[test]
fn wgpu_and_cpu_give_the_same_frames() {
    let Some(gpu) = common::wgpu_device_or_fail() else {
        return;
    };
    let x0 = shipped_image(2);
    let schedule = schedule(ScheduleKind::Cosine, 1000, false);
    for mode in [ForwardMode::ClosedForm, ForwardMode::MarkovChain] {
        let cpu = tensor_to_vec(forward_all_steps(&x0, &schedule, mode, 5, &Device::flex()));
        let wgpu = tensor_to_vec(forward_all_steps(&x0, &schedule, mode, 5, &gpu));
        assert_eq!(cpu.len(), wgpu.len());
        let worst = common::largest_difference(&cpu, &wgpu);
        assert!(worst < 1e-4, "{mode:?}: worst difference {worst}");
    }
}
