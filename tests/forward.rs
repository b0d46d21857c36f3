//! The forward process on burn tensors: the closed form, the Markov chain, and CPU vs wgpu.

mod common;

use burn::tensor::Device;
use noisescope::data::{BuiltinDataset, IMAGE_PIXELS, IMAGE_SIDE};
use noisescope::diffusion::{ForwardMode, forward_all_steps, tensor_to_vec};
use noisescope::metrics::RadialSpectrum;
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

#[test]
fn on_the_shipped_data_noise_drowns_ever_lower_frequencies_as_t_grows() {
    let dataset = BuiltinDataset::load_shipped().expect("the shipped dataset loads");
    let images: Vec<Vec<f32>> = (0..200).filter_map(|i| dataset.image(i)).collect();
    let x0 = RadialSpectrum::mean_of(images.iter().map(Vec::as_slice), IMAGE_SIDE).expect("images");
    let linear = schedule(ScheduleKind::Linear, 1000, false);
    let steps = [1, 50, 100, 200, 400, 800];
    let crossings: Vec<f64> = steps
        .iter()
        .map(|&t| x0.crossing(linear.alpha_bar_at(t)).unwrap_or(f64::INFINITY))
        .collect();
    println!("crossing (cycles per image) at t = {steps:?}: {crossings:.2?}");
    // Fashion-MNIST's power falls with frequency: the crossing moves down as t grows, from
    // above the highest frequency at t = 1 to the mean itself by t = 400.
    assert!(
        crossings[0] > 14.0,
        "at t = 1 the signal is above the noise everywhere"
    );
    assert!(crossings.windows(2).all(|w| w[1] < w[0]), "{crossings:?}");
    assert!(crossings[2] < 10.0 && crossings[3] < crossings[2] - 1.0);
    assert_eq!(crossings[5], 0.0);
    // What x_t's measured spectrum averages to is ᾱ P_x0 + (1 − ᾱ), frequency by frequency.
    let t = 100;
    let x_t = |seed: u64| {
        let frames = tensor_to_vec(forward_all_steps(
            &images[0],
            &linear,
            ForwardMode::ClosedForm,
            seed,
            &Device::flex(),
        ));
        frames[(t - 1) * IMAGE_PIXELS..t * IMAGE_PIXELS].to_vec()
    };
    let noised: Vec<Vec<f32>> = (0..40).map(x_t).collect();
    let measured =
        RadialSpectrum::mean_of(noised.iter().map(Vec::as_slice), IMAGE_SIDE).expect("frames");
    let expected = RadialSpectrum::of(&images[0], IMAGE_SIDE).noised(linear.alpha_bar_at(t));
    for (r, (m, e)) in measured
        .power
        .iter()
        .zip(&expected.power)
        .enumerate()
        .skip(1)
    {
        assert!(
            (m / e - 1.0).abs() < 0.25,
            "bin {r}: measured {m}, expected {e}"
        );
    }
}
