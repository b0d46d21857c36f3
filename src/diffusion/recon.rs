//! Reconstruction error per step (Deja et al. 2022): noise x0 to x_t with a fixed ε, run the
//! model's reverse chain from t back to 0, and measure how far the result is from x0; alongside,
//! the one-shot error of the model's x̂0 and ε̂ at t.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::sampler::{Denoiser, Sampler, SamplerConfig};
use crate::noise::{NoiseStream, standard_normal};
use crate::schedule::Schedule;

/// How many t values the default list holds (spaced by [`default_t_values`]).
pub const DEFAULT_T_COUNT: usize = 25;

/// How many images of each point keep their x_t and reconstruction for display.
pub const KEPT_EXAMPLES: usize = 4;

/// The errors measured at one step t, averaged over the images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReconPoint {
    /// The 1-based step the chain starts from.
    pub t: usize,
    /// t / T.
    pub t_frac: f64,
    /// λ_t.
    pub log_snr: f64,
    /// MSE (data range [−1, 1]) between x0 and the chain's x_0 from x_t.
    pub mse_chain: f64,
    /// MSE between x0 and the model's one-shot x̂0 at t (clipped when the sampler clips).
    pub mse_x0: f64,
    /// MSE between ε and the model's ε̂ at t.
    pub mse_eps: f64,
}

impl ReconPoint {
    /// PSNR of the chain's reconstruction in dB (peak-to-peak 2).
    pub fn psnr_chain(&self) -> f64 {
        psnr(self.mse_chain)
    }
}

/// PSNR in dB of an MSE on data in [−1, 1].
pub fn psnr(mse: f64) -> f64 {
    10.0 * (4.0 / mse.max(1e-12)).log10()
}

/// A measured point with the first few images' x_t and reconstruction (flat, image after image).
#[derive(Clone, Debug)]
pub struct ReconMeasurement {
    /// The averaged errors.
    pub point: ReconPoint,
    /// x_t of the first [`KEPT_EXAMPLES`] images.
    pub x_t: Vec<f32>,
    /// The chain's x_0 of the same images.
    pub reconstruction: Vec<f32>,
}

/// Reconstruction-error measurement of one model on one batch of images.
pub struct ReconProbe<'a, D: Denoiser + ?Sized> {
    denoiser: &'a D,
    schedule: &'a Schedule,
    sampler: SamplerConfig,
    x0: Tensor<4>,
    eps: Tensor<4>,
    seed: u64,
}

impl<'a, D: Denoiser + ?Sized> ReconProbe<'a, D> {
    /// Prepares `x0` (`[B, C, H, W]`, values in [−1, 1]) with one ε drawn from `seed` and used
    /// at every t, so the curves differ only by the noise level.
    pub fn new(
        denoiser: &'a D,
        schedule: &'a Schedule,
        sampler: SamplerConfig,
        x0: Tensor<4>,
        seed: u64,
    ) -> Self {
        let shape = x0.shape();
        let noise = standard_normal(seed, NoiseStream::Epsilon, shape.num_elements());
        let eps = Tensor::from_data(TensorData::new(noise, shape), &x0.device());
        Self {
            denoiser,
            schedule,
            sampler,
            x0,
            eps,
            seed,
        }
    }

    /// x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε.
    pub fn noised(&self, t: usize) -> Tensor<4> {
        let alpha_bar = self.schedule.alpha_bar_at(t);
        self.x0.clone() * alpha_bar.sqrt() + self.eps.clone() * (1.0 - alpha_bar).sqrt()
    }

    /// Measures the errors from 1-based step `t`.
    pub fn measure(&self, t: usize) -> Result<ReconMeasurement, String> {
        self.measure_while(t, &mut || true)?
            .ok_or_else(|| "stopped".to_owned())
    }

    /// [`Self::measure`], asking `go_on` before each model call; `None` when it says stop.
    pub fn measure_while(
        &self,
        t: usize,
        go_on: &mut dyn FnMut() -> bool,
    ) -> Result<Option<ReconMeasurement>, String> {
        if !go_on() {
            return Ok(None);
        }
        let x_t = self.noised(t);
        let mut chain = Sampler::from_state(
            self.denoiser,
            self.schedule,
            self.sampler,
            x_t.clone(),
            t,
            self.seed,
        )?;
        // The chain's first step evaluates the model at (x_t, t): its x̂0 and ε̂ are the
        // one-shot predictions.
        let first = chain
            .next()
            .ok_or_else(|| format!("the chain from t = {t} has no step"))?;
        let (x0_hat, eps_hat) = (first.x0_hat, first.model_eps);
        let Some(reconstruction) = chain.finish_while(go_on) else {
            return Ok(None);
        };
        let steps = self.schedule.steps();
        let point = ReconPoint {
            t,
            t_frac: t as f64 / steps as f64,
            log_snr: self.schedule.log_snr()[t - 1],
            mse_chain: mse(&reconstruction, &self.x0),
            mse_x0: mse(&x0_hat, &self.x0),
            mse_eps: mse(&eps_hat, &self.eps),
        };
        Ok(Some(ReconMeasurement {
            point,
            x_t: first_images(&x_t),
            reconstruction: first_images(&reconstruction),
        }))
    }
}

fn mse(a: &Tensor<4>, b: &Tensor<4>) -> f64 {
    f64::from((a.clone() - b.clone()).square().mean().into_scalar::<f32>())
}

fn first_images(batch: &Tensor<4>) -> Vec<f32> {
    let [b, c, h, w] = batch.dims();
    let kept = b.min(KEPT_EXAMPLES);
    batch
        .clone()
        .slice([0..kept, 0..c, 0..h, 0..w])
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// The default t set: `count` steps from 1 to T, spaced evenly in √t so small t are denser.
pub fn default_t_values(steps: usize, count: usize) -> Vec<usize> {
    let count = count.clamp(1, steps);
    let mut values: Vec<usize> = (0..count)
        .map(|i| {
            let u = if count == 1 {
                1.0
            } else {
                i as f64 / (count - 1) as f64
            };
            let t = 1.0 + (steps as f64 - 1.0) * u * u;
            t.round() as usize
        })
        .collect();
    values.dedup();
    values
}

/// Parses a t list without knowing T yet: whole numbers from 1, sorted and without repeats
/// (what was fixed is said in the returned notes).
pub fn parse_t_list(text: &str) -> Result<(Vec<usize>, Vec<String>), String> {
    let mut values = Vec::new();
    for item in text.split([',', ' ']).filter(|s| !s.trim().is_empty()) {
        let t: usize = item
            .trim()
            .parse()
            .map_err(|_| format!("“{}” in the t list is not a whole number", item.trim()))?;
        if t == 0 {
            return Err("t = 0 in the t list: t is 1-based, the first step is 1".into());
        }
        values.push(t);
    }
    if values.is_empty() {
        return Err("the t list is empty".into());
    }
    Ok(normalise_t_values(values))
}

/// Which steps a reconstruction curve is measured at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TSelection {
    /// [`DEFAULT_T_COUNT`] steps spread over the model's own T by [`default_t_values`].
    Default,
    /// These 1-based steps, ascending and without repeats (see [`parse_t_list`]).
    Listed(Vec<usize>),
}

impl TSelection {
    /// The default list without a text, otherwise the parsed list (see [`parse_t_list`]),
    /// with notes on what was fixed in it.
    pub fn from_text(text: Option<&str>) -> Result<(Self, Vec<String>), String> {
        match text {
            None => Ok((Self::Default, Vec::new())),
            Some(text) => {
                let (values, notes) = parse_t_list(text)?;
                Ok((Self::Listed(values), notes))
            }
        }
    }

    /// The steps for a model of `steps` steps; a listed t beyond them is refused.
    pub fn for_steps(&self, steps: usize) -> Result<Vec<usize>, String> {
        match self {
            Self::Default => Ok(default_t_values(steps, DEFAULT_T_COUNT)),
            Self::Listed(values) => match values.iter().find(|&&t| t == 0 || t > steps) {
                Some(t) => Err(format!(
                    "t = {t} in the t list is outside 1..={steps} (t is 1-based)"
                )),
                None => Ok(values.clone()),
            },
        }
    }
}

/// Sorts and deduplicates, saying so when it changed anything.
fn normalise_t_values(mut values: Vec<usize>) -> (Vec<usize>, Vec<String>) {
    let mut notes = Vec::new();
    if values.windows(2).any(|w| w[0] > w[1]) {
        values.sort_unstable();
        notes.push("the t list was not sorted; it was sorted".to_string());
    }
    let before = values.len();
    values.dedup();
    if values.len() < before {
        notes.push(format!(
            "{} repeated t value(s) were dropped",
            before - values.len()
        ));
    }
    (values, notes)
}

/// The first t at which `values` (ordered by t) reaches `threshold`, linearly interpolated
/// between measured points, as a fractional step. `None` when the curve never reaches it.
pub fn threshold_crossing(points: &[(f64, f64)], threshold: f64) -> Option<f64> {
    let first = points.first()?;
    if first.1 >= threshold {
        return Some(first.0);
    }
    points.windows(2).find_map(|pair| {
        let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
        (v0 < threshold && v1 >= threshold).then(|| t0 + (t1 - t0) * (threshold - v0) / (v1 - v0))
    })
}

/// Writes points as CSV: `t,t_frac,log_snr,mse_chain,mse_x0,mse_eps`.
pub fn recon_csv(points: &[ReconPoint]) -> String {
    let mut out = String::from("t,t_frac,log_snr,mse_chain,mse_x0,mse_eps\n");
    for p in points {
        out.push_str(&format!(
            "{},{:.6},{:.6},{:.8},{:.8},{:.8}\n",
            p.t, p.t_frac, p.log_snr, p.mse_chain, p.mse_x0, p.mse_eps
        ));
    }
    out
}

/// Builds a `[B, 1, side, side]` tensor from flat images.
pub fn image_batch(pixels: Vec<f32>, side: usize, device: &Device) -> Tensor<4> {
    let batch = pixels.len() / (side * side);
    Tensor::from_data(TensorData::new(pixels, [batch, 1, side, side]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_t_values_are_dense_at_small_t_and_reach_t_max() {
        let values = default_t_values(1000, 25);
        assert_eq!(values.first(), Some(&1));
        assert_eq!(values.last(), Some(&1000));
        assert!(values.windows(2).all(|w| w[0] < w[1]));
        let below_ten_percent = values.iter().filter(|&&t| t <= 100).count();
        assert!(below_ten_percent >= 7, "{values:?}");
    }

    #[test]
    fn t_lists_are_checked_and_fixed_with_notes() {
        let parse_for_t_1000 = |text: &str| {
            let (selection, notes) = TSelection::from_text(Some(text))?;
            Ok::<_, String>((selection.for_steps(1000)?, notes))
        };
        let (values, notes) = parse_for_t_1000("50, 10,10 900").expect("valid");
        assert_eq!(values, [10, 50, 900]);
        assert_eq!(notes.len(), 2);
        let refused = |text: &str| parse_for_t_1000(text).expect_err(text);
        assert!(refused("0,5").contains("1-based"));
        assert!(refused("5,1001").contains("1001"));
        assert!(refused("5,x").contains("“x”"));
        assert!(parse_for_t_1000(" ").is_err());
    }

    #[test]
    fn t_selections_resolve_against_each_models_t() {
        let (listed, _) = parse_t_list("700, 5").expect("no T needed");
        assert_eq!(listed, [5, 700]);
        let listed = TSelection::Listed(listed);
        assert_eq!(listed.for_steps(1000), Ok(vec![5, 700]));
        let refused = listed.for_steps(500).expect_err("700 > T");
        assert!(
            refused.contains("t = 700") && refused.contains("1..=500"),
            "{refused}"
        );
        assert_eq!(
            TSelection::Default.for_steps(4000).expect("any T").last(),
            Some(&4000)
        );
        assert_eq!(
            TSelection::Default.for_steps(100).expect("any T").last(),
            Some(&100)
        );
        assert!(parse_t_list("3, 0").expect_err("t = 0").contains("1-based"));
    }

    #[test]
    fn threshold_crossing_interpolates() {
        let curve = [(1.0, 0.0), (10.0, 0.1), (20.0, 0.3)];
        assert_eq!(threshold_crossing(&curve, 0.2), Some(15.0));
        assert_eq!(threshold_crossing(&curve, 0.0), Some(1.0));
        assert_eq!(threshold_crossing(&curve, 0.5), None);
    }

    #[test]
    fn psnr_of_known_errors() {
        assert!((psnr(0.04) - 20.0).abs() < 1e-9);
        assert!((psnr(4.0)).abs() < 1e-9);
    }
}
