//! Seeded Gaussian noise, drawn on the CPU so every device sees the same numbers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Independent noise streams drawn from one seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum NoiseStream {
    /// ε of the closed form x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε.
    Epsilon = 0,
    /// The fresh noise z_t of each step of the forward Markov chain.
    Chain = 1,
    /// x_T, where a reverse sampler starts.
    SampleStart = 2,
    /// The fresh noise z of each reverse step.
    SampleSteps = 3,
}

/// A seeded stream of N(0, 1) samples drawn a chunk at a time.
#[derive(Clone, Debug)]
pub struct NoiseSource {
    rng: ChaCha8Rng,
}

impl NoiseSource {
    /// The stream `stream` of `seed`.
    pub fn new(seed: u64, stream: NoiseStream) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream as u64);
        Self { rng }
    }

    /// The next `len` samples.
    pub fn next_chunk(&mut self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| {
                let sample: f64 = StandardNormal.sample(&mut self.rng);
                sample as f32
            })
            .collect()
    }
}

/// `len` independent N(0, 1) samples, the same for the same seed and stream on every machine.
pub fn standard_normal(seed: u64, stream: NoiseStream, len: usize) -> Vec<f32> {
    NoiseSource::new(seed, stream).next_chunk(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_noise_other_stream_other_noise() {
        let a = standard_normal(7, NoiseStream::Epsilon, 1000);
        assert_eq!(a, standard_normal(7, NoiseStream::Epsilon, 1000));
        assert_ne!(a, standard_normal(7, NoiseStream::Chain, 1000));
        assert_ne!(a, standard_normal(8, NoiseStream::Epsilon, 1000));
    }

    #[test]
    fn moments_are_standard() {
        let samples = standard_normal(1, NoiseStream::Epsilon, 100_000);
        let n = samples.len() as f64;
        let mean = samples.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = samples
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.015, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }
}
