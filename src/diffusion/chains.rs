//! Sampling many images in chains of a batch each: which images and which seed each chain
//! takes, the same for `sample`, `evaluate`, DAED and the sweep.

/// How many images to sample, in chains of how many, from which seed.
#[derive(Clone, Copy, Debug)]
pub struct SampleSize {
    /// Images in all.
    pub images: usize,
    /// Images per chain.
    pub batch: usize,
    /// Seed of the first chain; chain k uses seed + k.
    pub seed: u64,
}

/// One chain of a [`SampleSize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Index of its first image among all.
    pub first: usize,
    /// Its images (the batch, or what is left for the last chain).
    pub images: usize,
    /// Its seed.
    pub seed: u64,
}

impl SampleSize {
    /// The chains in order; none when `batch` is 0.
    pub fn chains(self) -> impl Iterator<Item = Chain> {
        let images = if self.batch == 0 { 0 } else { self.images };
        (0..images)
            .step_by(self.batch.max(1))
            .enumerate()
            .map(move |(index, first)| Chain {
                first,
                images: self.batch.min(images - first),
                seed: self.seed.wrapping_add(index as u64),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_cover_every_image_once_with_consecutive_seeds() {
        let size = SampleSize {
            images: 10,
            batch: 4,
            seed: u64::MAX,
        };
        let chains: Vec<Chain> = size.chains().collect();
        let expect = |first, images, seed| Chain {
            first,
            images,
            seed,
        };
        assert_eq!(
            chains,
            [expect(0, 4, u64::MAX), expect(4, 4, 0), expect(8, 2, 1)]
        );
        assert_eq!(SampleSize { batch: 0, ..size }.chains().count(), 0);
        assert_eq!(SampleSize { images: 0, ..size }.chains().count(), 0);
    }
}
