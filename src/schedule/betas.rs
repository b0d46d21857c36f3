//! β sequences of each schedule kind, indexed 0..T−1 for t = 1..T.

use std::f64::consts::FRAC_PI_2;

use super::{ScheduleKind, ScheduleSpec};

/// β_1..β_T of a validated spec, and how many of them the cosine cap clipped.
pub(super) fn betas(spec: &ScheduleSpec) -> (Vec<f64>, usize) {
    let steps = spec.steps;
    let (start, end) = (spec.beta_start, spec.beta_end);
    match spec.kind {
        ScheduleKind::Linear => (linspace(start, end, steps), 0),
        ScheduleKind::ScaledLinear => {
            let roots = linspace(start.sqrt(), end.sqrt(), steps);
            (roots.into_iter().map(|r| r * r).collect(), 0)
        }
        ScheduleKind::Sigmoid => {
            let betas = linspace(-6.0, 6.0, steps)
                .into_iter()
                .map(|x| sigmoid(x) * (end - start) + start)
                .collect();
            (betas, 0)
        }
        ScheduleKind::Cosine => cosine_betas(steps, spec.cosine_s, spec.max_beta),
        ScheduleKind::LinearCombine => {
            let mut betas = linspace(start, end, steps);
            betas[0] = spec.beta1;
            (betas, 0)
        }
    }
}

/// `n` evenly spaced values from `start` to `end`, both included (n ≥ 2).
fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    let last = (n - 1) as f64;
    (0..n)
        .map(|i| start + (end - start) * (i as f64 / last))
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Nichol & Dhariwal: β_t = min(1 − ᾱ(t)/ᾱ(t−1), max_beta) with ᾱ(t) = f(t)/f(0).
fn cosine_betas(steps: usize, offset: f64, max_beta: f64) -> (Vec<f64>, usize) {
    let f = |t: f64| ((t + offset) / (1.0 + offset) * FRAC_PI_2).cos().powi(2);
    let mut clipped = 0;
    let betas = (0..steps)
        .map(|i| {
            let t1 = i as f64 / steps as f64;
            let t2 = (i + 1) as f64 / steps as f64;
            let beta = 1.0 - f(t2) / f(t1);
            if beta > max_beta {
                clipped += 1;
                max_beta
            } else {
                beta
            }
        })
        .collect();
    (betas, clipped)
}

/// Lin et al. 2023, Algorithm 1: shift and scale √ᾱ so that √ᾱ_T = 0 and √ᾱ_1 is kept,
/// then recover β. The last β becomes exactly 1.
pub(super) fn rescale_zero_terminal_snr(betas: &[f64]) -> Vec<f64> {
    let mut alpha_bar = 1.0;
    let roots: Vec<f64> = betas
        .iter()
        .map(|beta| {
            alpha_bar *= 1.0 - beta;
            alpha_bar.sqrt()
        })
        .collect();
    let first = roots[0];
    let last = roots[roots.len() - 1];
    let alpha_bars: Vec<f64> = roots
        .iter()
        .map(|root| ((root - last) * first / (first - last)).powi(2))
        .collect();
    let mut previous = 1.0;
    alpha_bars
        .iter()
        .map(|&alpha_bar| {
            let beta = 1.0 - alpha_bar / previous;
            previous = alpha_bar;
            beta
        })
        .collect()
}
