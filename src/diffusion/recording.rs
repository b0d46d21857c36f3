//! Compact storage of every recorded reverse step: each of x_t, x̂0 and ε̂ of a batch is kept as
//! bytes with its own value range (¼ of f32), so 1000 steps of 64 images fit in ~150 MB.

/// A batch of values quantised to 8 bits over its own range.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedBatch {
    low: f32,
    high: f32,
    bytes: Vec<u8>,
}

impl QuantizedBatch {
    /// Quantises `values` (non-finite values become the range's low end).
    pub fn new(values: &[f32]) -> Self {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (low, high) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        let (low, high) = if low <= high { (low, high) } else { (0.0, 0.0) };
        let scale = if high > low {
            255.0 / (high - low)
        } else {
            0.0
        };
        let bytes = values
            .iter()
            .map(|v| {
                if v.is_finite() {
                    ((v - low) * scale).round().clamp(0.0, 255.0) as u8
                } else {
                    0
                }
            })
            .collect();
        Self { low, high, bytes }
    }

    /// The values back, within half a quantisation step of the originals.
    pub fn values(&self) -> Vec<f32> {
        let step = (self.high - self.low) / 255.0;
        self.bytes
            .iter()
            .map(|&b| self.low + f32::from(b) * step)
            .collect()
    }

    /// Largest error of [`Self::values`]: half a quantisation step.
    pub fn tolerance(&self) -> f32 {
        (self.high - self.low) / 510.0
    }

    /// Stored bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// One recorded step of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedStep {
    /// The 1-based step.
    pub t: usize,
    /// x_t.
    pub x_t: QuantizedBatch,
    /// x̂0.
    pub x0_hat: QuantizedBatch,
    /// ε̂.
    pub eps_hat: QuantizedBatch,
    /// x̂0 of the plain conditional prediction (guidance w = 0), when the step was guided.
    pub x0_unguided: Option<QuantizedBatch>,
}

/// Bytes needed to record `steps` steps of `batch` images of `pixels` pixels for `models` models.
pub fn recording_bytes(models: usize, steps: usize, batch: usize, pixels: usize) -> u64 {
    3 * (models * steps * batch * pixels) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_values_come_back_within_half_a_step() {
        let values: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.37).sin() * 3.0).collect();
        let q = QuantizedBatch::new(&values);
        assert_eq!(q.len(), 1000);
        for (a, b) in q.values().iter().zip(&values) {
            assert!((a - b).abs() <= q.tolerance() * 1.001, "{a} vs {b}");
        }
        let constant = QuantizedBatch::new(&[2.0; 5]);
        assert_eq!(constant.values(), vec![2.0; 5]);
    }

    #[test]
    fn sixty_four_images_over_a_thousand_steps_fit_in_a_few_hundred_megabytes() {
        assert_eq!(recording_bytes(1, 1000, 64, 784), 150_528_000);
    }
}
