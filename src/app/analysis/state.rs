//! The Analysis panel's state: reconstruction-error curves, the job measuring them, and the
//! cache of finished curves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, ProbeData};
use crate::diffusion::{
    DEFAULT_T_COUNT, ReconMeasurement, ReconPoint, SamplerConfig, TSelection, psnr,
    threshold_crossing,
};
use crate::render::ImageStack;
use crate::schedule::{Schedule, ScheduleSpec};

use super::job::{CurveRequest, ReconEvent};
use crate::app::condition::resolve;
use crate::app::job::Update;
use crate::app::reverse::model_files;
use crate::app::settings::{AnalysisSettings, ConditionSettings, ProbeChoice};

/// The most images per curve the panel accepts.
pub const MAX_IMAGES: usize = 1000;

/// One curve: a model measured on a set of images.
#[derive(Clone, Debug)]
pub struct Curve {
    /// "linear" or "cosine".
    pub model: String,
    /// The images.
    pub data: ProbeData,
    /// What the curve was measured with; the cache key.
    pub key: String,
    /// The schedule the images were noised and reconstructed under, once loaded.
    pub schedule: Option<Schedule>,
    /// The λ range the model was trained on, when it is conditioned on λ.
    pub trained_log_snr: Option<(f64, f64)>,
    /// Images used.
    pub images: usize,
    /// Conversions and skipped files.
    pub notes: Vec<String>,
    /// Points measured so far, t ascending.
    pub points: Vec<ReconPoint>,
    /// Per point: rows x0, x_t, reconstruction for each kept image.
    pub examples: Vec<ImageStack>,
    /// Points the curve will have.
    pub expected: usize,
    /// Why measuring stopped.
    pub error: Option<String>,
    x0: Vec<f32>,
}

impl Curve {
    /// The legend name: model and data.
    pub fn name(&self) -> String {
        format!("{} · {}", self.model, self.data)
    }

    /// Whether every point is measured.
    pub fn complete(&self) -> bool {
        self.error.is_none() && self.expected > 0 && self.points.len() == self.expected
    }

    /// Where the chain's MSE first reaches `threshold`: (t, % of T, λ), interpolated.
    pub fn transition(&self, threshold: f64) -> Option<(f64, f64, f64)> {
        let schedule = self.schedule.as_ref()?;
        let curve: Vec<(f64, f64)> = self
            .points
            .iter()
            .map(|p| (p.t as f64, p.mse_chain))
            .collect();
        let t = threshold_crossing(&curve, threshold)?;
        let steps = schedule.steps();
        let index = (t.round() as usize).clamp(1, steps) - 1;
        Some((t, 100.0 * t / steps as f64, schedule.log_snr()[index]))
    }

    fn add(&mut self, measurement: ReconMeasurement) {
        let mut rows = Vec::new();
        let kept = measurement.x_t.len() / IMAGE_PIXELS;
        for i in 0..kept {
            let image = |values: &[f32]| values[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS].to_vec();
            if self.x0.len() >= (i + 1) * IMAGE_PIXELS {
                rows.extend(image(&self.x0));
            } else {
                rows.extend(vec![0.0; IMAGE_PIXELS]);
            }
            rows.extend(image(&measurement.x_t));
            rows.extend(image(&measurement.reconstruction));
        }
        if let Some(stack) = ImageStack::new(rows, IMAGE_SIDE, IMAGE_SIDE) {
            self.examples.push(stack);
        }
        self.points.push(measurement.point);
    }
}

/// The panel's results.
#[derive(Default)]
pub struct AnalysisState {
    /// The curves shown.
    pub curves: Vec<Curve>,
    /// Finished curves by key, so going back to earlier settings is instant.
    pub cache: HashMap<String, Curve>,
    /// Why the last request was refused or failed.
    pub error: Option<String>,
    /// What was fixed in the request (t list sorted, …).
    pub notes: Vec<String>,
    /// Wall time of the last finished job.
    pub seconds: Option<f64>,
    /// The point under the pointer: (curve, point).
    pub hovered: Option<(usize, usize)>,
}

impl AnalysisState {
    /// Applies one update of the current job.
    pub fn apply(&mut self, update: Update<ReconEvent>) {
        let Some(event) = update.event_or_end(&mut self.seconds, &mut self.error) else {
            return;
        };
        match event {
            ReconEvent::Started {
                curve,
                schedule,
                t_values,
                x0,
                images,
                notes,
                trained_log_snr,
            } => {
                if let Some(c) = self.curves.get_mut(curve) {
                    c.schedule = Some(*schedule);
                    c.trained_log_snr = trained_log_snr;
                    c.expected = t_values.len();
                    c.x0 = x0;
                    c.images = images;
                    c.notes = notes;
                }
            }
            ReconEvent::Point { curve, measurement } => {
                if let Some(c) = self.curves.get_mut(curve) {
                    c.add(*measurement);
                    if c.complete() {
                        self.cache.insert(c.key.clone(), c.clone());
                    }
                }
            }
            ReconEvent::CurveFailed { curve, message } => {
                if let Some(c) = self.curves.get_mut(curve) {
                    self.error
                        .get_or_insert_with(|| format!("{}: {message}", c.name()));
                    c.error = Some(message);
                }
            }
        }
    }

    /// Measured and expected points over all curves.
    pub fn progress(&self) -> (usize, usize) {
        let done = self.curves.iter().map(|c| c.points.len()).sum();
        let total = self.curves.iter().map(|c| c.expected).sum();
        (done, total)
    }
}

/// A planned measurement: the curves (cached ones already filled) and the work left.
pub struct AnalysisPlan {
    /// Every curve, in display order.
    pub curves: Vec<Curve>,
    /// Curves still to measure.
    pub requests: Vec<CurveRequest>,
    /// The steps, resolved against each model's own T by the job.
    pub t_selection: TSelection,
    /// The chain.
    pub sampler: SamplerConfig,
    /// The schedule to noise and reconstruct under (`None`: each model's own).
    pub sampling: Option<ScheduleSpec>,
    /// What was fixed in the settings.
    pub notes: Vec<String>,
}

/// The chain back from x_t.
pub fn analysis_sampler(settings: &AnalysisSettings) -> SamplerConfig {
    settings.sampler.chain(settings.steps)
}

/// The image sets the settings ask for.
pub fn probe_sets(settings: &AnalysisSettings) -> Result<Vec<ProbeData>, String> {
    let chosen = match settings.data {
        ProbeChoice::FashionMnist => ProbeData::FashionMnist,
        ProbeChoice::Mnist => ProbeData::Mnist,
        ProbeChoice::Path => {
            let path = settings.path.trim();
            if path.is_empty() {
                return Err("type the path of a folder of images or of one image".into());
            }
            if !Path::new(path).exists() {
                return Err(format!("{path} does not exist"));
            }
            ProbeData::parse(path)
        }
    };
    let mut sets = Vec::new();
    if settings.overlay_in_distribution && !chosen.in_distribution() {
        sets.push(ProbeData::FashionMnist);
    }
    sets.push(chosen);
    Ok(sets)
}

/// Plans the curves for the settings: checks the t list, N and data, and takes finished
/// curves from the cache. Whether a listed t lies within a model's T is checked by the job,
/// which reads the model.
pub fn plan(
    settings: &AnalysisSettings,
    (models_dir, schedules): (Option<&Path>, &[Schedule]),
    cache: &HashMap<String, Curve>,
) -> Result<AnalysisPlan, String> {
    if settings.n == 0 || settings.n > MAX_IMAGES {
        return Err(format!(
            "the number of images must be between 1 and {MAX_IMAGES}"
        ));
    }
    let typed_list = Some(settings.t_list.trim()).filter(|text| !text.is_empty());
    let (t_selection, notes) = TSelection::from_text(typed_list)?;
    let sampler = analysis_sampler(settings);
    let no_class = ConditionSettings {
        class: None,
        ..settings.condition.clone()
    };
    let sampling = resolve(&no_class, schedules)?.sampling;
    let models = model_files(settings.models, models_dir)?;
    let mut curves = Vec::new();
    let mut requests = Vec::new();
    for data in probe_sets(settings)? {
        for (label, path) in &models {
            let key = curve_key(path, &data, &t_selection, settings, (&sampler, &sampling));
            if let Some(cached) = cache.get(&key) {
                curves.push(cached.clone());
                continue;
            }
            requests.push(CurveRequest {
                curve: curves.len(),
                model: path.clone(),
                data: data.clone(),
            });
            curves.push(Curve {
                model: label.clone(),
                data: data.clone(),
                key,
                schedule: None,
                trained_log_snr: None,
                images: 0,
                notes: Vec::new(),
                points: Vec::new(),
                examples: Vec::new(),
                expected: expected_points(&t_selection),
                error: None,
                x0: Vec::new(),
            });
        }
    }
    Ok(AnalysisPlan {
        curves,
        requests,
        t_selection,
        sampler,
        sampling,
        notes,
    })
}

/// Points a curve will have, until the job has read the model's T.
fn expected_points(t_selection: &TSelection) -> usize {
    match t_selection {
        TSelection::Default => DEFAULT_T_COUNT,
        TSelection::Listed(values) => values.len(),
    }
}

fn curve_key(
    model: &PathBuf,
    data: &ProbeData,
    t_selection: &TSelection,
    settings: &AnalysisSettings,
    (sampler, sampling): (&SamplerConfig, &Option<ScheduleSpec>),
) -> String {
    serde_json::json!({
        "model": model,
        "modified": std::fs::metadata(model).and_then(|m| m.modified()).ok(),
        "data": data,
        "t": t_selection,
        "n": settings.n,
        "seed": settings.seed,
        "sampler": sampler,
        "sampling": sampling,
    })
    .to_string()
}

/// Every curve as CSV: `model,data,t,t_frac,log_snr,mse_chain,mse_x0,mse_eps,psnr_chain`.
pub fn curves_csv(curves: &[Curve]) -> String {
    let mut out = String::from("model,data,t,t_frac,log_snr,mse_chain,mse_x0,mse_eps,psnr_chain\n");
    for curve in curves {
        let data = curve.data.to_string().replace(',', " ");
        for p in &curve.points {
            out.push_str(&format!(
                "{},{data},{},{:.6},{:.6},{:.8},{:.8},{:.8},{:.4}\n",
                curve.model,
                p.t,
                p.t_frac,
                p.log_snr,
                p.mse_chain,
                p.mse_x0,
                p.mse_eps,
                psnr(p.mse_chain)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AnalysisSettings {
        AnalysisSettings::default()
    }

    #[test]
    fn the_panel_starts_with_the_sampler_that_recon_defaults_to() {
        let config = analysis_sampler(&settings());
        assert_eq!(config, crate::diffusion::DefaultSampler::ANALYSIS.config());
    }

    #[test]
    fn plans_check_the_settings_and_reuse_finished_curves() {
        let mut s = settings();
        s.models = crate::app::settings::ModelsShown::Linear;
        s.data = ProbeChoice::Mnist;
        s.t_list = "20, 5".into();
        let plan = plan(&s, (None, &[]), &HashMap::new()).expect("valid");
        assert_eq!(plan.t_selection, TSelection::Listed(vec![5, 20]));
        assert_eq!(plan.notes.len(), 1);
        assert_eq!(plan.curves.len(), 2, "MNIST and the Fashion-MNIST overlay");
        assert_eq!(plan.requests.len(), 2);

        let mut cache = HashMap::new();
        let mut done = plan.curves[0].clone();
        done.expected = 0;
        cache.insert(done.key.clone(), done);
        let again = super::plan(&s, (None, &[]), &cache).expect("valid");
        assert_eq!(
            again.requests.len(),
            1,
            "the cached curve is not measured again"
        );

        s.t_list = "0".into();
        assert!(super::plan(&s, (None, &[]), &cache).is_err());
        s.t_list.clear();
        s.n = 0;
        assert!(super::plan(&s, (None, &[]), &cache).is_err());
        s.n = 8;
        s.data = ProbeChoice::Path;
        s.path = "/no/such/folder".into();
        let message = super::plan(&s, (None, &[]), &cache).err().expect("refused");
        assert!(message.contains("does not exist"), "{message}");
    }
}
