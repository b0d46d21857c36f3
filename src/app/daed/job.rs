//! The DAED panel's jobs: samples of the three methods at one switching point (the
//! chain is kept, so moving s only costs two model calls), and the FID sweep over s.

use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::{Device, Tensor};

use crate::app::job::{Job, JobContext};
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::diffusion::{DaedModels, RecordedChain, SampleSize, SamplerConfig, tensor_to_vec};
use crate::experiment::{SweepPoint, daed_sweep};
use crate::metrics::{FeatureStats, FidReference};
use crate::model::{
    Classifier, Condition, DaeUnderSchedule, LoadedDae, LoadedUNet, load_classifier, shipped,
};
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
    /// The class and guidance of the diffusion model and the schedule to sample under (the
    /// autoencoder is asked at the trained steps of the same log-SNR).
    pub condition: Condition,
}

/// A DAED job.
#[derive(Clone, Debug)]
pub enum DaedJob {
    /// The three methods' images at switching point `s`.
    Samples {
        /// Models and chain.
        setup: DaedSetup,
        /// The switching point.
        s: usize,
    },
    /// FID against s.
    Sweep {
        /// Models and chain (`batch` images per chain).
        setup: DaedSetup,
        /// Images per method.
        images: usize,
        /// The switching points.
        switches: Vec<usize>,
    },
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
    /// The autoencoder's training range, in steps of the schedule sampled under.
    pub t_max: usize,
    /// The schedule sampled under.
    pub schedule: Schedule,
    /// Why the samples may differ from what was asked (a clamped λ range).
    pub note: Option<String>,
    /// The full chain's x_0.
    pub full: Vec<f32>,
    /// The diffusion model's one-shot x̂0 at s.
    pub ddgm_x0: Vec<f32>,
    /// DAED's x̂0.
    pub daed: Vec<f32>,
}

/// What a DAED job reports besides progress (chain steps, or sweep images) and its end.
pub enum DaedEvent {
    /// A step before the counted work begins, in words.
    Phase(&'static str),
    /// Samples at a switching point.
    Samples(Box<DaedSamples>),
    /// A finished sweep.
    Sweep(Vec<SweepPoint>),
}

/// What the DAED lane keeps between jobs: the last chain (so that moving s costs two model
/// calls) and the FID reference (measured once).
#[derive(Default)]
pub struct DaedMemory {
    chain: Option<(DaedSetup, RecordedChain)>,
    classifier: Option<(Classifier, FeatureStats)>,
}

impl Job for DaedJob {
    type Event = DaedEvent;
    type Memory = DaedMemory;

    fn run(
        self,
        context: &mut JobContext<'_, DaedEvent>,
        memory: &mut DaedMemory,
    ) -> Result<(), String> {
        let event = match &self {
            Self::Samples { setup, s } => {
                DaedEvent::Samples(Box::new(samples(setup, *s, context, memory)?))
            }
            Self::Sweep {
                setup,
                images,
                switches,
            } => DaedEvent::Sweep(sweep(setup, *images, switches, context, memory)?),
        };
        context.emit(event);
        Ok(())
    }
}

/// The models of `setup` (loaded once for every lane).
fn load(
    setup: &DaedSetup,
    context: &JobContext<'_, DaedEvent>,
) -> Result<(Arc<LoadedUNet>, Arc<LoadedDae>), String> {
    let ddgm = context.models.unet(&setup.ddgm, context.device)?;
    let dae = context
        .models
        .dae(&setup.dae, &ddgm.schedule, context.device)?;
    Ok((ddgm, dae))
}

fn samples(
    setup: &DaedSetup,
    s: usize,
    context: &mut JobContext<'_, DaedEvent>,
    memory: &mut DaedMemory,
) -> Result<DaedSamples, String> {
    let (ddgm, dae) = load(setup, context)?;
    let conditioned = setup.condition.apply(&ddgm)?;
    let schedule = &conditioned.schedule;
    if s >= schedule.steps() {
        return Err(format!("s = {s} must lie below T = {}", schedule.steps()));
    }
    let dae = DaeUnderSchedule::new(&dae, &conditioned.trained, schedule);
    let daed = DaedModels {
        ddgm: &conditioned.denoiser,
        dae: Some(&dae),
        schedule,
        config: setup.config,
    };
    let reusable = memory
        .chain
        .as_ref()
        .is_some_and(|(kept, chain)| kept == setup && chain.serves(s));
    if !reusable {
        memory.chain = None;
        let shape = [setup.batch, 1, IMAGE_SIDE, IMAGE_SIDE];
        let total = setup.config.plan(schedule, schedule.steps())?.len();
        let mut done = 0;
        let device = context.device;
        let mut go_on = || {
            done += 1;
            if done % 10 == 0 {
                context.progress(done, total);
            }
            !context.cancelled()
        };
        let keep = dae.t_max().max(s);
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
        t_max: dae.t_max(),
        full: flat(&chain.full),
        ddgm_x0: flat(&handover.ddgm_x0),
        daed: flat(&handover.daed_x0),
        schedule: schedule.clone(),
        note: conditioned.note.clone(),
    })
}

fn sweep(
    setup: &DaedSetup,
    images: usize,
    switches: &[usize],
    context: &mut JobContext<'_, DaedEvent>,
    memory: &mut DaedMemory,
) -> Result<Vec<SweepPoint>, String> {
    let (ddgm, dae) = load(setup, context)?;
    if memory.classifier.is_none() {
        context.emit(DaedEvent::Phase(REFERENCE_PHASE));
        memory.classifier = Some(fid_reference(context.device)?);
    }
    let (classifier, stats) = memory.classifier.as_ref().ok_or("no classifier")?;
    let conditioned = setup.condition.apply(&ddgm)?;
    let dae = DaeUnderSchedule::new(&dae, &conditioned.trained, &conditioned.schedule);
    let daed = DaedModels {
        ddgm: &conditioned.denoiser,
        dae: Some(&dae),
        schedule: &conditioned.schedule,
        config: setup.config,
    };
    let reference = FidReference { classifier, stats };
    let size = SampleSize {
        images,
        batch: setup.batch,
        seed: setup.seed,
    };
    let device = context.device;
    daed_sweep(
        &daed,
        &reference,
        size,
        switches,
        device,
        &mut |done, total| {
            context.progress(done, total);
            !context.cancelled()
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
