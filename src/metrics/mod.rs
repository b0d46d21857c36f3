//! Sample-quality measures computed by the project itself.

mod fid;
mod linalg;

pub use fid::{ClassifierView, FeatureStats, FidReference, frechet_distance};
pub use linalg::SymmetricMatrix;
