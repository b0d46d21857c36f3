//! The formula strip: the equation behind what is on screen with the numbers of the current
//! step filled in — the forward closed form, a reverse update, DAED's switching rule.

use super::math::{Math, frac, hat, num, sqrt, text, var_sub};
use crate::diffusion::SamplerFamily;
use crate::schedule::{ReverseVariance, Schedule};

fn row(parts: Vec<Math>) -> Math {
    Math::Row(parts)
}

/// An operator with space around it.
fn op(symbol: &str) -> Math {
    text(&format!("\u{2009}{symbol}\u{2009}"))
}

/// x̂0, the predicted clean image.
fn x0_hat() -> Math {
    Math::Scripts {
        base: Box::new(hat("x")),
        sub: Some(Box::new(text("0"))),
        sup: None,
    }
}

fn var(name: &str) -> Math {
    Math::Var(name.to_owned())
}

/// ᾱ at step `t` (ᾱ_0 = 1).
fn alpha_bar(schedule: &Schedule, t: usize) -> f64 {
    if t == 0 {
        1.0
    } else {
        schedule.alpha_bar_at(t)
    }
}

/// x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε at step `t`, then with the numbers of `schedule`.
pub fn forward_formula(schedule: &Schedule, t: usize) -> Math {
    let t_name = t.to_string();
    let a = alpha_bar(schedule, t);
    let ab = || var_sub("ᾱ", &t_name);
    row(vec![
        var_sub("x", &t_name),
        op("="),
        sqrt(ab()),
        var_sub("x", "0"),
        op("+"),
        sqrt(row(vec![text("1 −"), ab()])),
        var("ε"),
        op("="),
        sqrt(num(a, 5)),
        var_sub("x", "0"),
        op("+"),
        sqrt(num(1.0 - a, 5)),
        var("ε"),
        op("="),
        num(a.sqrt(), 5),
        var_sub("x", "0"),
        op("+"),
        num((1.0 - a).sqrt(), 5),
        var("ε"),
    ])
}

/// The sampler's update from step `t` to step `next` (0: the end) under `schedule`.
pub fn reverse_formula(
    schedule: &Schedule,
    (t, next): (usize, usize),
    sampler: SamplerFamily,
    (variance, eta): (ReverseVariance, f64),
) -> Math {
    match sampler {
        SamplerFamily::Ddpm => ddpm_formula(schedule, t, variance),
        SamplerFamily::Ddim => ddim_formula(schedule, (t, next), eta),
        _ => x0_formula(schedule, t),
    }
}

/// DDPM's Algorithm 2 (Ho et al. 2020): x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t + σ_t z.
fn ddpm_formula(schedule: &Schedule, t: usize, variance: ReverseVariance) -> Math {
    let (t_name, before) = (t.to_string(), format!("{}", t.saturating_sub(1)));
    let i = t.clamp(1, schedule.steps()) - 1;
    let beta = schedule.betas()[i];
    let a = alpha_bar(schedule, t);
    let sigma2 = match variance {
        ReverseVariance::PosteriorBeta => schedule.posterior_variance()[i],
        ReverseVariance::Beta => beta,
    };
    let sigma = if t > 1 { sigma2.sqrt() } else { 0.0 };
    let eps = || hat("ε");
    row(vec![
        var_sub("x", &before),
        op("="),
        frac(text("1"), sqrt(var_sub("α", &t_name))),
        text("("),
        var_sub("x", &t_name),
        op("−"),
        frac(
            var_sub("β", &t_name),
            sqrt(row(vec![text("1 −"), var_sub("ᾱ", &t_name)])),
        ),
        eps(),
        text(") +"),
        var_sub("σ", &t_name),
        var("z"),
        op("="),
        num(1.0 / (1.0 - beta).sqrt(), 5),
        text("("),
        var_sub("x", &t_name),
        op("−"),
        num(beta / (1.0 - a).sqrt(), 5),
        eps(),
        text(") +"),
        num(sigma, 5),
        var("z"),
    ])
}

/// x̂0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t, which every sampler's update starts from.
fn x0_formula(schedule: &Schedule, t: usize) -> Math {
    let t_name = t.to_string();
    let a = alpha_bar(schedule, t);
    row(vec![
        x0_hat(),
        op("="),
        frac(
            row(vec![
                var_sub("x", &t_name),
                op("−"),
                sqrt(row(vec![text("1 −"), var_sub("ᾱ", &t_name)])),
                hat("ε"),
            ]),
            sqrt(var_sub("ᾱ", &t_name)),
        ),
        op("="),
        num(1.0 / a.sqrt(), 4),
        var_sub("x", &t_name),
        op("−"),
        num(((1.0 - a) / a).sqrt(), 4),
        hat("ε"),
    ])
}

/// DDIM (Song et al. 2021, eq. 12) from `t` to `next`: x_next = √ᾱ_next x̂0 +
/// √(1 − ᾱ_next − σ²) ε̂ + σ z, with σ from η.
fn ddim_formula(schedule: &Schedule, (t, next): (usize, usize), eta: f64) -> Math {
    let (a, a_next) = (alpha_bar(schedule, t), alpha_bar(schedule, next));
    let sigma = eta
        * ((1.0 - a_next) / (1.0 - a) * (1.0 - a / a_next))
            .max(0.0)
            .sqrt();
    let next_name = next.to_string();
    row(vec![
        x0_formula(schedule, t),
        text(";"),
        var_sub("x", &next_name),
        op("="),
        sqrt(var_sub("ᾱ", &next_name)),
        x0_hat(),
        op("+"),
        sqrt(row(vec![
            text("1 −"),
            var_sub("ᾱ", &next_name),
            op("−"),
            var("σ²"),
        ])),
        hat("ε"),
        op("+"),
        var("σ"),
        var("z"),
        op("="),
        num(a_next.sqrt(), 4),
        x0_hat(),
        op("+"),
        num((1.0 - a_next - sigma * sigma).max(0.0).sqrt(), 4),
        hat("ε"),
        op("+"),
        num(sigma, 4),
        var("z"),
    ])
}

/// DAED's switching rule (Deja et al. 2022): s = argmin_t |ᾱ_t − (1 − β₁)|, with its value.
pub fn switch_formula(schedule: &Schedule, beta1: f64, s: usize) -> Math {
    let a = alpha_bar(schedule, s);
    row(vec![
        var("s"),
        op("="),
        text("argmin"),
        Math::Scripts {
            base: Box::new(text("")),
            sub: Some(Box::new(var("t"))),
            sup: None,
        },
        text("|"),
        var_sub("ᾱ", "t"),
        text("− (1 −"),
        var_sub("β", "1"),
        text(")|"),
        op("="),
        text(&s.to_string()),
        text(":"),
        var_sub("ᾱ", &s.to_string()),
        op("="),
        num(a, 5),
        text(","),
        text("1 −"),
        var_sub("β", "1"),
        op("="),
        num(1.0 - beta1, 5),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{ScheduleKind, ScheduleSpec};

    fn numbers(math: &Math, into: &mut Vec<f64>) {
        match math {
            Math::Text(s) => into.extend(s.parse::<f64>().ok()),
            Math::Row(parts) => parts.iter().for_each(|p| numbers(p, into)),
            Math::Sqrt(inner) => numbers(inner, into),
            Math::Frac(a, b) => {
                numbers(a, into);
                numbers(b, into);
            }
            Math::Scripts { base, .. } | Math::Hat(base) => numbers(base, into),
            Math::Var(_) => {}
        }
    }

    #[test]
    fn the_forward_strip_fills_in_the_closed_forms_coefficients() {
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Linear)).expect("valid");
        let mut found = Vec::new();
        numbers(&forward_formula(&schedule, 250), &mut found);
        let a = schedule.alpha_bar_at(250);
        let expected = [a, 1.0 - a, a.sqrt(), (1.0 - a).sqrt()];
        assert_eq!(found.len(), 4);
        for (f, e) in found.iter().zip(expected) {
            assert!((f - e).abs() < 1e-5, "{f} vs {e}");
        }
    }

    #[test]
    fn the_ddpm_strip_has_algorithm_twos_coefficients_and_no_noise_at_the_last_step() {
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Linear)).expect("valid");
        let coefficients = |t| {
            let math = reverse_formula(
                &schedule,
                (t, t - 1),
                SamplerFamily::Ddpm,
                (ReverseVariance::Beta, 0.0),
            );
            let mut found = Vec::new();
            numbers(&math, &mut found);
            found
        };
        let beta = schedule.betas()[499];
        let at_500 = coefficients(500);
        // 1 (of 1/√α_t), then 1/√α_t, β_t/√(1 − ᾱ_t) and σ_t = √β_t.
        let expected = [
            1.0,
            1.0 / (1.0 - beta).sqrt(),
            beta / (1.0 - schedule.alpha_bar_at(500)).sqrt(),
            beta.sqrt(),
        ];
        for (f, e) in at_500.iter().zip(expected) {
            assert!((f - e).abs() < 1e-5, "{f} vs {e}");
        }
        assert_eq!(coefficients(1).last(), Some(&0.0));
    }

    #[test]
    fn deterministic_ddim_has_no_noise_term() {
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("valid");
        let math = reverse_formula(
            &schedule,
            (500, 480),
            SamplerFamily::Ddim,
            (ReverseVariance::Beta, 0.0),
        );
        let mut found = Vec::new();
        numbers(&math, &mut found);
        let a = schedule.alpha_bar_at(480);
        assert!((found[found.len() - 3] - a.sqrt()).abs() < 1e-4);
        assert!((found[found.len() - 2] - (1.0 - a).sqrt()).abs() < 1e-4);
        assert_eq!(found.last(), Some(&0.0));
    }
}
