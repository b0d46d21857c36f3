//! Sample-quality measures computed by the project itself.

mod fid;
mod linalg;
mod spectrum;

pub use fid::{ClassifierView, FeatureStats, FidReference, frechet_distance};
pub use linalg::SymmetricMatrix;
pub use spectrum::RadialSpectrum;
