//! Experiments that combine the processes and the metrics into a result a lecture shows.

mod daed_sweep;

pub use daed_sweep::{SweepPoint, daed_sweep, sweep_csv, sweep_switches};
