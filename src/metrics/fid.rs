//! The project's FID-style distance: the Fréchet distance between Gaussians fitted to the
//! classifier's penultimate features of two image sets, and the classifier's confidence.

use burn::tensor::{Device, Tensor, TensorData};

use super::linalg::SymmetricMatrix;
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::model::Classifier;

/// Mean and covariance of a set of feature vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureStats {
    /// How many vectors.
    pub count: usize,
    /// Their mean.
    pub mean: Vec<f64>,
    /// Their covariance (divided by count − 1).
    pub covariance: SymmetricMatrix,
}

impl FeatureStats {
    /// Fits mean and covariance to `features`, each of the same length; needs at least two.
    pub fn fit(features: &[Vec<f64>]) -> Result<Self, String> {
        let count = features.len();
        if count < 2 {
            return Err(format!(
                "{count} images are too few for a covariance; give at least 2"
            ));
        }
        let d = features[0].len();
        let mut mean = vec![0.0; d];
        for f in features {
            for (m, x) in mean.iter_mut().zip(f) {
                *m += x / count as f64;
            }
        }
        let mut values = vec![0.0; d * d];
        for f in features {
            let centred: Vec<f64> = f.iter().zip(&mean).map(|(x, m)| x - m).collect();
            for i in 0..d {
                for j in i..d {
                    values[i * d + j] += centred[i] * centred[j];
                }
            }
        }
        for i in 0..d {
            for j in i..d {
                let v = values[i * d + j] / (count - 1) as f64;
                values[i * d + j] = v;
                values[j * d + i] = v;
            }
        }
        Ok(Self {
            count,
            mean,
            covariance: SymmetricMatrix { n: d, values },
        })
    }

    /// The statistics of `classifier`'s features of `images` (N × 784 values in [−1, 1]).
    pub fn of_images(
        classifier: &Classifier,
        images: &[f32],
        device: &Device,
    ) -> Result<Self, String> {
        Self::fit(&ClassifierView::of(classifier, images, device).features)
    }
}

/// ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½).
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> f64 {
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let root_a = a.covariance.sqrt_psd();
    let (cross, _) = root_a.sandwich(&b.covariance).eigen();
    let cross_trace: f64 = cross.iter().map(|l| l.max(0.0).sqrt()).sum();
    (mean_term + a.covariance.trace() + b.covariance.trace() - 2.0 * cross_trace).max(0.0)
}

/// What the classifier makes of a set of images.
#[derive(Clone, Debug)]
pub struct ClassifierView {
    /// Penultimate features, one vector per image.
    pub features: Vec<Vec<f64>>,
    /// The most likely class of each image.
    pub classes: Vec<usize>,
    /// Its probability.
    pub confidence: Vec<f64>,
}

impl ClassifierView {
    /// Runs `classifier` over `images` (N × 784 values in [−1, 1]) in batches.
    pub fn of(classifier: &Classifier, images: &[f32], device: &Device) -> Self {
        let mut view = Self {
            features: Vec::new(),
            classes: Vec::new(),
            confidence: Vec::new(),
        };
        for chunk in images.chunks(500 * IMAGE_PIXELS) {
            let n = chunk.len() / IMAGE_PIXELS;
            let shape = [n, 1, IMAGE_SIDE, IMAGE_SIDE];
            let x = Tensor::<4>::from_data(TensorData::new(chunk.to_vec(), shape), device);
            let features = classifier.features(x);
            let d = features.dims()[1];
            let probabilities = classifier.classify_features(features.clone());
            let classes = probabilities.dims()[1];
            let f = to_f64(features);
            let p = to_f64(probabilities);
            view.features.extend(f.chunks(d).map(<[f64]>::to_vec));
            for row in p.chunks(classes) {
                let (best, prob) = row.iter().enumerate().fold((0, f64::MIN), |acc, (i, &v)| {
                    if v > acc.1 { (i, v) } else { acc }
                });
                view.classes.push(best);
                view.confidence.push(prob);
            }
        }
        view
    }

    /// The share of images classified with probability ≥ `threshold`.
    pub fn confident_share(&self, threshold: f64) -> f64 {
        let n = self.confidence.len().max(1);
        self.confidence.iter().filter(|&&c| c >= threshold).count() as f64 / n as f64
    }
}

fn to_f64(tensor: Tensor<2>) -> Vec<f64> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// The FID reference: the classifier and the statistics of real test images.
pub struct FidReference<'a> {
    /// The classifier whose features are compared.
    pub classifier: &'a Classifier,
    /// Feature statistics of the reference images.
    pub stats: &'a FeatureStats,
}

impl FidReference<'_> {
    /// FID of `images` (flat, N × 784) to the reference.
    pub fn fid(&self, images: &[f32], device: &Device) -> Result<f64, String> {
        let stats = FeatureStats::of_images(self.classifier, images, device)?;
        Ok(frechet_distance(&stats, self.stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(mean: Vec<f64>, diagonal: &[f64]) -> FeatureStats {
        let n = diagonal.len();
        let mut values = vec![0.0; n * n];
        for (i, d) in diagonal.iter().enumerate() {
            values[i * n + i] = *d;
        }
        FeatureStats {
            count: 100,
            mean,
            covariance: SymmetricMatrix { n, values },
        }
    }

    #[test]
    fn frechet_distance_of_diagonal_gaussians_has_the_closed_form() {
        let a = stats(vec![0.0, 1.0, 2.0], &[1.0, 4.0, 9.0]);
        let b = stats(vec![1.0, 1.0, 0.0], &[4.0, 4.0, 1.0]);
        let expected = 1.0 + 0.0 + 4.0 + (1.0f64 - 2.0).powi(2) + 0.0 + (3.0f64 - 1.0).powi(2);
        assert!((frechet_distance(&a, &b) - expected).abs() < 1e-9);
        assert!(frechet_distance(&a, &a).abs() < 1e-9);
    }

    #[test]
    fn fitted_statistics_match_hand_computation() {
        let s = FeatureStats::fit(&[vec![1.0, 2.0], vec![3.0, 6.0], vec![5.0, 4.0]]).expect("fit");
        assert_eq!(s.mean, vec![3.0, 4.0]);
        assert!((s.covariance.at(0, 0) - 4.0).abs() < 1e-12);
        assert!((s.covariance.at(0, 1) - 2.0).abs() < 1e-12);
        assert!((s.covariance.at(1, 1) - 4.0).abs() < 1e-12);
        assert!(FeatureStats::fit(&[vec![1.0]]).is_err());
    }
}
