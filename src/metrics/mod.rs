//! Sample-quality measures computed by the project itself.

mod fid;
mod linalg;
mod sweep;

pub use fid::{ClassifierView, FeatureStats, frechet_distance};
pub use linalg::SymmetricMatrix;
pub use sweep::{FidReference, SweepPoint, daed_sweep, sweep_csv, sweep_switches};
