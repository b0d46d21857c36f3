//! DAED jobs on their own thread: samples of the three methods at one switching point (the
//! chain is kept, so moving s only costs two model calls), and the FID sweep over s.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::tensor::{Device, Tensor};

use super::sample_job::{ModelCache, cached_unet};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::diffusion::{DaedModels, RecordedChain, SampleSize, SamplerConfig, tensor_to_vec};
use crate::metrics::{FeatureStats, FidReference, SweepPoint, daed_sweep};
use crate::model::{Classifier, LoadedDae, LoadedUNet, load_classifier, load_dae, shipped};
use crate::schedule::Schedule;

/// The models and chain of a DAED request.
#[derive(Clone, Debug, PartialEq)]
pub struct DaedSetup {
    /// The diffusion model's weights.
    pub ddgm: PathBuf,
    /// The autoencoder's weights.
    pub dae: PathBuf,
    /// The diffusion model's sampler.
    pub config: SamplerConfig,
    /// Images per chain.
    pub batch: usize,
    /// Seed of x_T.
    pub seed: u64,
}

/// A request to the DAED thread.
#[derive(Clone, Debug)]
pub enum DaedRequest {
    /// The three methods' images at switching point `s`.
    Samples {
        /// Identifies the request.
        generation: u64,
        /// Models and chain.
        setup: DaedSetup,
        /// The switching point.
        s: usize,
    },
    /// FID against s.
    Sweep {
        /// Identifies the request.
        generation: u64,
        /// Models and chain (`batch` images per chain).
        setup: DaedSetup,
        /// Images per method.
        images: usize,
        /// The switching points.
        switches: Vec<usize>,
    },
}

impl DaedRequest {
    /// The request's generation.
    pub fn generation(&self) -> u64 {
        match self {
            Self::Samples { generation, .. } | Self::Sweep { generation, .. } => *generation,
        }
    }
}

/// The images of one switching point, flat.
#[derive(Clone, Debug)]
pub struct DaedSamples {
    /// The requested switching point.
    pub s: usize,
    /// The step of the state handed over.
    pub t_state: usize,
    /// The share of the sampler's steps saved.
    pub frac_saved: f64,
    /// The autoencoder's training range.
    pub t_max: usize,
    /// The diffusion model's schedule.
    pub schedule: Schedule,
    /// The full chain's x_0.
    pub full: Vec<f32>,
    /// The diffusion model's one-shot x̂0 at s.
    pub ddgm_x0: Vec<f32>,
    /// DAED's x̂0.
    pub daed: Vec<f32>,
}

/// What the DAED thread reports.
pub enum DaedEvent {
    /// Work done so far (chain steps, or sweep images).
    Progress {
        /// Done.
        done: usize,
        /// Of.
        total: usize,
    },
    /// A step before the counted work begins, in words.
    Phase(&'static str),
    /// Samples at a switching point.
    Samples(Box<DaedSamples>),
    /// A finished sweep.
    Sweep(Vec<SweepPoint>),
    /// The request failed.
    Failed(String),
}

/// What the DAED thread keeps between requests.
#[derive(Default)]
pub struct DaedMemory {
    daes: HashMap<PathBuf, LoadedDae>,
    chain: Option<(DaedSetup, RecordedChain)>,
    classifier: Option<(Classifier, FeatureStats)>,
}

impl DaedMemory {
    /// Forgets everything (after a failure on the device).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Runs one request, reporting through `send`; stops when `latest` moves past it.
pub fn run_daed_job(
    request: &DaedRequest,
    device: &Device,
    models: &mut ModelCache,
    memory: &mut DaedMemory,
    latest: &AtomicU64,
    send: &mut dyn FnMut(DaedEvent),
) {
    let result = match request {
        DaedRequest::Samples { setup, s, .. } => {
            samples(request, setup, *s, device, models, memory, latest, send)
                .map(|samples| DaedEvent::Samples(Box::new(samples)))
        }
        DaedRequest::Sweep {
            setup,
            images,
            switches,
            ..
        } => sweep(
            request, setup, *images, switches, device, models, memory, latest, send,
        )
        .map(DaedEvent::Sweep),
    };
    if latest.load(Ordering::SeqCst) != request.generation() {
        return;
    }
    send(result.unwrap_or_else(DaedEvent::Failed));
}

/// The models of `setup` (loaded once and kept) and the diffusion model's schedule.
fn load<'m>(
    setup: &DaedSetup,
    device: &Device,
    models: &'m mut ModelCache,
    daes: &'m mut HashMap<PathBuf, LoadedDae>,
) -> Result<(&'m LoadedUNet, &'m LoadedDae, Schedule), String> {
    let ddgm = cached_unet(models, &setup.ddgm, device)?;
    let dae = match daes.entry(setup.dae.clone()) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => entry.insert(
            load_dae(&setup.dae, Some(&ddgm.schedule), device).map_err(|e| {
                format!(
                    "{e}. Restore the file from the Noisescope assets or train one with \
                     `noisescope train-dae` (see the README)."
                )
            })?,
        ),
    };
    let schedule = Schedule::new(ddgm.schedule.clone()).map_err(|e| e.to_string())?;
    Ok((ddgm, dae, schedule))
}

#[allow(clippy::too_many_arguments)]
fn samples(
    request: &DaedRequest,
    setup: &DaedSetup,
    s: usize,
    device: &Device,
    models: &mut ModelCache,
    memory: &mut DaedMemory,
    latest: &AtomicU64,
    send: &mut dyn FnMut(DaedEvent),
) -> Result<DaedSamples, String> {
    let (ddgm, dae, schedule) = load(setup, device, models, &mut memory.daes)?;
    if s >= schedule.steps() {
        return Err(format!("s = {s} must lie below T = {}", schedule.steps()));
    }
    let daed = DaedModels {
        ddgm: &ddgm.model,
        dae: Some(dae),
        schedule: &schedule,
        config: setup.config,
    };
    let reusable = memory
        .chain
        .as_ref()
        .is_some_and(|(kept, chain)| kept == setup && chain.serves(s));
    if !reusable {
        memory.chain = None;
        let shape = [setup.batch, 1, IMAGE_SIDE, IMAGE_SIDE];
        let total = setup.config.plan(&schedule, schedule.steps())?.len();
        let mut done = 0;
        let generation = request.generation();
        let mut go_on = || {
            done += 1;
            if done % 10 == 0 {
                send(DaedEvent::Progress { done, total });
            }
            latest.load(Ordering::SeqCst) == generation
        };
        let keep = dae.t_max.max(s);
        let chain = daed.record(shape, setup.seed, device, keep, &mut go_on)?;
        memory.chain = Some((setup.clone(), chain));
    }
    let (_, chain) = memory.chain.as_ref().ok_or("no chain")?;
    let handover = daed.handover(chain, s)?;
    let flat = |x: &Tensor<4>| tensor_to_vec(x.clone().reshape([setup.batch, IMAGE_PIXELS]));
    Ok(DaedSamples {
        s,
        t_state: handover.t_state,
        frac_saved: handover.frac_saved,
        t_max: dae.t_max,
        full: flat(&chain.full),
        ddgm_x0: flat(&handover.ddgm_x0),
        daed: flat(&handover.daed_x0),
        schedule,
    })
}

#[allow(clippy::too_many_arguments)]
fn sweep(
    request: &DaedRequest,
    setup: &DaedSetup,
    images: usize,
    switches: &[usize],
    device: &Device,
    models: &mut ModelCache,
    memory: &mut DaedMemory,
    latest: &AtomicU64,
    send: &mut dyn FnMut(DaedEvent),
) -> Result<Vec<SweepPoint>, String> {
    let (ddgm, dae, schedule) = load(setup, device, models, &mut memory.daes)?;
    if memory.classifier.is_none() {
        send(DaedEvent::Phase(REFERENCE_PHASE));
        memory.classifier = Some(fid_reference(device)?);
    }
    let (classifier, stats) = memory.classifier.as_ref().ok_or("no classifier")?;
    let daed = DaedModels {
        ddgm: &ddgm.model,
        dae: Some(dae),
        schedule: &schedule,
        config: setup.config,
    };
    let reference = FidReference { classifier, stats };
    let size = SampleSize {
        images,
        batch: setup.batch,
        seed: setup.seed,
    };
    let generation = request.generation();
    daed_sweep(
        &daed,
        &reference,
        size,
        switches,
        device,
        &mut |done, total| {
            send(DaedEvent::Progress { done, total });
            latest.load(Ordering::SeqCst) == generation
        },
    )
}

/// What the sweep says while it measures the test images (once per session).
pub const REFERENCE_PHASE: &str = "measuring the test images' classifier features (once)";

/// The shipped classifier and the feature statistics of the shipped test images.
fn fid_reference(device: &Device) -> Result<(Classifier, FeatureStats), String> {
    let path = shipped::path(shipped::CLASSIFIER).map_err(|e| e.to_string())?;
    let classifier = load_classifier(&path, device).map_err(|e| e.to_string())?;
    let test = crate::data::ProbeData::FashionMnist.load(usize::MAX)?;
    let stats = FeatureStats::of_images(&classifier, &test.pixels, device)?;
    Ok((classifier, stats))
}
