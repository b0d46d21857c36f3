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
        self.dequantise(&self.bytes)
    }

    /// Item `index` of the batch when it holds items of `len` values each (an image of a
    /// batch), without the others; `None` past the end.
    pub fn item(&self, index: usize, len: usize) -> Option<Vec<f32>> {
        let start = index.checked_mul(len)?;
        let bytes = self.bytes.get(start..start.checked_add(len)?)?;
        Some(self.dequantise(bytes))
    }

    fn dequantise(&self, bytes: &[u8]) -> Vec<f32> {
        let step = (self.high - self.low) / 255.0;
        bytes
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

    /// Appends the batch to `out`: its range (two f32), its length (u32) and its bytes.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.low.to_le_bytes());
        out.extend_from_slice(&self.high.to_le_bytes());
        write_count(out, self.bytes.len());
        out.extend_from_slice(&self.bytes);
    }

    /// Reads a batch [`Self::write_to`] wrote; `None` when the bytes end early.
    pub fn read_from(input: &mut ByteReader<'_>) -> Option<Self> {
        let low = input.f32()?;
        let high = input.f32()?;
        let len = input.count()?;
        let bytes = input.bytes(len)?.to_vec();
        Some(Self { low, high, bytes })
    }
}

impl RecordedStep {
    /// Appends the step to `out`: t (u32), whether the unguided x̂0 follows (u8), then x_t,
    /// x̂0, ε̂ (and the unguided x̂0).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        write_count(out, self.t);
        out.push(u8::from(self.x0_unguided.is_some()));
        for batch in [&self.x_t, &self.x0_hat, &self.eps_hat] {
            batch.write_to(out);
        }
        if let Some(unguided) = &self.x0_unguided {
            unguided.write_to(out);
        }
    }

    /// Reads a step [`Self::write_to`] wrote; `None` when the bytes end early or are not a step.
    pub fn read_from(input: &mut ByteReader<'_>) -> Option<Self> {
        let t = input.count()?;
        let guided = match input.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        Some(Self {
            t,
            x_t: QuantizedBatch::read_from(input)?,
            x0_hat: QuantizedBatch::read_from(input)?,
            eps_hat: QuantizedBatch::read_from(input)?,
            x0_unguided: if guided {
                Some(QuantizedBatch::read_from(input)?)
            } else {
                None
            },
        })
    }
}

/// Appends a length or count as a little-endian u32 (saturating: lengths here are far smaller).
pub fn write_count(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

/// Reads little-endian values from bytes; every read is `None` once the bytes run out.
pub struct ByteReader<'a> {
    rest: &'a [u8],
}

impl<'a> ByteReader<'a> {
    /// A reader of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(head)
    }

    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    /// A length or count written by [`write_count`].
    pub fn count(&mut self) -> Option<usize> {
        let bytes = self.bytes(4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(bytes)).ok()
    }

    /// The next f32.
    pub fn f32(&mut self) -> Option<f32> {
        Some(f32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
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
        assert_eq!(q.item(3, 100), Some(q.values()[300..400].to_vec()));
        assert_eq!(q.item(9, 100).map(|v| v.len()), Some(100));
        assert_eq!(q.item(10, 100), None, "past the end");
    }

    #[test]
    fn recorded_steps_read_back_as_written_and_short_bytes_are_refused() {
        let batch = |k: f32| QuantizedBatch::new(&[k, -k, 0.5 * k, 3.0]);
        let steps = [
            RecordedStep {
                t: 981,
                x_t: batch(1.0),
                x0_hat: batch(2.0),
                eps_hat: batch(3.0),
                x0_unguided: None,
            },
            RecordedStep {
                t: 1,
                x_t: batch(4.0),
                x0_hat: batch(5.0),
                eps_hat: batch(6.0),
                x0_unguided: Some(batch(7.0)),
            },
        ];
        let mut bytes = Vec::new();
        for step in &steps {
            step.write_to(&mut bytes);
        }
        let mut reader = ByteReader::new(&bytes);
        for step in &steps {
            assert_eq!(RecordedStep::read_from(&mut reader).as_ref(), Some(step));
        }
        assert!(reader.is_empty());
        let cut = &bytes[..bytes.len() - 1];
        let mut reader = ByteReader::new(cut);
        assert!(RecordedStep::read_from(&mut reader).is_some());
        assert_eq!(RecordedStep::read_from(&mut reader), None);
    }

    #[test]
    fn sixty_four_images_over_a_thousand_steps_fit_in_a_few_hundred_megabytes() {
        assert_eq!(recording_bytes(1, 1000, 64, 784), 150_528_000);
    }
}
