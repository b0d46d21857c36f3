//! Work that takes longer than a frame, on a named worker thread that owns the compute device.
//!
//! The UI sends a [`Job`]; the worker streams [`Event`]s back and asks for a repaint. A job is
//! cancelled (or superseded) by raising the latest generation: the worker drops stale work at
//! its next check.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use eframe::egui;

use super::daed_job::{DaedEvent, DaedMemory, DaedRequest, run_daed_job};
use super::recon_job::{ReconEvent, ReconRequest, run_recon_job};
use super::sample_job::{ModelCache, SampleEvent, SampleRequest, run_sample_job};
use crate::data::{IMAGE_SIDE, LoadedImage, load_user_image};
use crate::diffusion::{ForwardMode, forward_all_steps, tensor_to_vec};
use crate::gpu::{ComputeDevice, gpu_values};
use crate::render::ImageStack;
use crate::schedule::Schedule;

/// A request to the worker.
pub enum Job {
    /// x_1..x_T of one image under each schedule.
    Forward {
        /// Identifies the request; stale generations are dropped.
        generation: u64,
        /// The image, in [−1, 1].
        x0: ImageStack,
        /// The schedules, in slot order.
        schedules: Vec<Schedule>,
        /// Closed form or chain.
        mode: ForwardMode,
        /// Seed of the noise.
        seed: u64,
    },
    /// Read and convert an image file.
    LoadImage(PathBuf),
    /// Sample with one or more models, streaming every step.
    Sample(SampleRequest),
    /// Measure reconstruction-error curves, streaming every point.
    Recon(ReconRequest),
    /// DAED samples or the FID sweep.
    Daed(DaedRequest),
}

/// What the worker reports.
pub enum Event {
    /// Schedules done so far of a forward job.
    Progress {
        /// The job.
        generation: u64,
        /// Schedules finished.
        done: usize,
        /// Schedules in the job.
        total: usize,
    },
    /// A forward job finished.
    Forward {
        /// The job.
        generation: u64,
        /// One stack per schedule, or why it failed.
        result: Result<Vec<ImageStack>, String>,
        /// Wall time of the computation.
        seconds: f64,
    },
    /// An image file was read, or refused.
    ImageLoaded(Result<LoadedImage, String>),
    /// News of the sampling job `generation`.
    Sample {
        /// The job.
        generation: u64,
        /// What happened.
        event: SampleEvent,
    },
    /// News of the reconstruction-error job `generation`.
    Recon {
        /// The job.
        generation: u64,
        /// What happened.
        event: ReconEvent,
    },
    /// News of the DAED job `generation`.
    Daed {
        /// The job.
        generation: u64,
        /// What happened.
        event: DaedEvent,
    },
}

/// The UI's handle on the worker thread.
pub struct Worker {
    jobs: Sender<Job>,
    sample_jobs: Sender<Job>,
    analysis_jobs: Sender<Job>,
    daed_jobs: Sender<Job>,
    events: Receiver<Event>,
    generations: Arc<Generations>,
}

/// The shortest time between two repaints for a job's events: an event repaints at once unless
/// one did less than this ago, and then it waits for the interval's end, so events closer
/// together share one frame. On a software renderer a frame costs tens of milliseconds of CPU
/// (Xvfb and lavapipe here: ~150 ms of rasterising), which a job computing on the same CPU would otherwise lose
/// at every progress report.
const EVENT_REPAINT_INTERVAL: Duration = Duration::from_secs(1);

/// Lowers the calling thread's scheduling priority (nice +10 on Linux, where it is per thread),
/// so that background computation yields to the UI thread: on a 2-core machine two busy compute
/// threads otherwise stretch UI frames past 16 ms.
pub fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // Failure only means the thread keeps its priority.
        let _ = rustix::process::nice(5);
    }
}

/// Makes rayon's threads (the CPU kernels and burn's CPU backend compute on them) yield to the
/// UI like the worker threads; must run before anything uses rayon.
pub fn lower_compute_priority() {
    let built = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("noisescope-compute-{i}"))
        .start_handler(|_| lower_this_threads_priority())
        .build_global();
    if let Err(error) = built {
        eprintln!("note: compute threads keep normal priority ({error})");
    }
}

impl Worker {
    /// Starts the worker threads with the device they compute on: one for forward noising and
    /// files, one for sampling, one for the Analysis panel and one for DAED, so that long runs
    /// do not hold each other up.
    pub fn spawn(compute: &ComputeDevice, ctx: &egui::Context) -> std::io::Result<Self> {
        let (event_tx, events) = channel();
        let generations = Arc::new(Generations::default());
        let spawn = |name: &str| {
            let (jobs, job_rx) = channel::<Job>();
            let device = compute.device.clone();
            let shared_with_ui = compute.shared_with_ui;
            let (event_tx, ctx, generations) =
                (event_tx.clone(), ctx.clone(), Arc::clone(&generations));
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || {
                    lower_this_threads_priority();
                    let mut models = ModelCache::new();
                    let mut daed = DaedMemory::default();
                    let mut last_repaint: Option<Instant> = None;
                    for job in job_rx {
                        let mut send = |event| {
                            let _ = event_tx.send(event);
                            match last_repaint.map(|at| at.elapsed()) {
                                Some(since) if since < EVENT_REPAINT_INTERVAL => {
                                    ctx.request_repaint_after(EVENT_REPAINT_INTERVAL - since);
                                }
                                _ => {
                                    ctx.request_repaint();
                                    last_repaint = Some(Instant::now());
                                }
                            }
                        };
                        let target = Target {
                            device: &device,
                            shared_with_ui,
                        };
                        let memory = Memory {
                            models: &mut models,
                            daed: &mut daed,
                        };
                        run_job(job, &target, memory, &generations, &mut send);
                    }
                })?;
            Ok::<_, std::io::Error>(jobs)
        };
        Ok(Self {
            jobs: spawn("noisescope-worker")?,
            sample_jobs: spawn("noisescope-sampler")?,
            analysis_jobs: spawn("noisescope-analysis")?,
            daed_jobs: spawn("noisescope-daed")?,
            events,
            generations,
        })
    }

    /// A new generation number, which also cancels every older job.
    pub fn next_generation(&self) -> u64 {
        self.generations.forward.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Cancels whatever forward job is running.
    pub fn cancel(&self) {
        self.generations.forward.fetch_add(1, Ordering::SeqCst);
    }

    /// A new sampling generation, which also cancels the running sampling job.
    pub fn next_sample_generation(&self) -> u64 {
        self.generations.sample.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Cancels the running sampling job.
    pub fn cancel_sample(&self) {
        self.generations.sample.fetch_add(1, Ordering::SeqCst);
    }

    /// A new analysis generation, which also cancels the running analysis job.
    pub fn next_analysis_generation(&self) -> u64 {
        self.generations.analysis.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Cancels the running analysis job.
    pub fn cancel_analysis(&self) {
        self.generations.analysis.fetch_add(1, Ordering::SeqCst);
    }

    /// A new DAED generation, which also cancels the running DAED job.
    pub fn next_daed_generation(&self) -> u64 {
        self.generations.daed.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Cancels the running DAED job.
    pub fn cancel_daed(&self) {
        self.generations.daed.fetch_add(1, Ordering::SeqCst);
    }

    /// Queues a job; false if the worker is gone.
    pub fn send(&self, job: Job) -> bool {
        match job {
            Job::Sample(_) => self.sample_jobs.send(job).is_ok(),
            Job::Recon(_) => self.analysis_jobs.send(job).is_ok(),
            Job::Daed(_) => self.daed_jobs.send(job).is_ok(),
            _ => self.jobs.send(job).is_ok(),
        }
    }

    /// Events that have arrived since the last call.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }
}

impl Drop for Worker {
    /// Closing the window cancels the running job; the thread ends when the channel closes.
    fn drop(&mut self) {
        self.cancel();
        self.cancel_sample();
        self.cancel_analysis();
        self.cancel_daed();
    }
}

/// The latest generation of each kind of job; older ones stop at their next check.
#[derive(Default)]
struct Generations {
    forward: AtomicU64,
    sample: AtomicU64,
    analysis: AtomicU64,
    daed: AtomicU64,
}

/// What a worker thread keeps between jobs.
struct Memory<'a> {
    models: &'a mut ModelCache,
    daed: &'a mut DaedMemory,
}

/// Where the worker computes, and whether the UI draws from the same GPU.
struct Target<'a> {
    device: &'a Device,
    shared_with_ui: bool,
}

/// x_1..x_T as a stack: read back for the CPU side (histogram, exports), and drawn from the
/// tensor's own buffer when the UI shares burn's GPU.
fn forward_stack(
    x0: &[f32],
    schedule: &Schedule,
    mode: ForwardMode,
    seed: u64,
    target: &Target<'_>,
) -> Option<ImageStack> {
    let frames = forward_all_steps(x0, schedule, mode, seed, target.device);
    let gpu = if target.shared_with_ui {
        gpu_values(frames.clone())
            .inspect_err(|reason| eprintln!("drawing x_t from a read-back: {reason}"))
            .ok()
    } else {
        None
    };
    let stack = ImageStack::new(tensor_to_vec(frames), IMAGE_SIDE, IMAGE_SIDE)?;
    Some(match gpu {
        Some(gpu) => stack.with_gpu_values(gpu),
        None => stack,
    })
}

/// Runs `work`, and says whether it got through without panicking: a panic inside burn is a
/// failure of the compute device, which the job reports instead of taking the thread down.
fn survives(work: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(work)).is_ok()
}

fn run_job(
    job: Job,
    target: &Target<'_>,
    memory: Memory<'_>,
    generations: &Generations,
    send: &mut impl FnMut(Event),
) {
    let latest: &AtomicU64 = &generations.forward;
    let models = memory.models;
    match job {
        Job::Daed(request) => {
            let generation = request.generation();
            let mut forward = |event| send(Event::Daed { generation, event });
            let finished = survives(|| {
                run_daed_job(
                    &request,
                    target.device,
                    models,
                    memory.daed,
                    &generations.daed,
                    &mut forward,
                );
            });
            if !finished {
                models.clear();
                memory.daed.clear();
                send(Event::Daed {
                    generation,
                    event: DaedEvent::Failed("DAED failed on the compute device".to_owned()),
                });
            }
        }
        Job::Recon(request) => {
            let generation = request.generation;
            let mut forward = |event| send(Event::Recon { generation, event });
            let finished = survives(|| {
                run_recon_job(
                    &request,
                    target.device,
                    models,
                    &generations.analysis,
                    &mut forward,
                );
            });
            if !finished {
                models.clear();
                send(Event::Recon {
                    generation,
                    event: ReconEvent::Failed("measuring failed on the compute device".to_owned()),
                });
            }
        }
        Job::Sample(request) => {
            let generation = request.generation;
            let mut forward = |event| send(Event::Sample { generation, event });
            let finished = survives(|| {
                run_sample_job(
                    &request,
                    target.device,
                    models,
                    &generations.sample,
                    &mut forward,
                );
            });
            if !finished {
                models.clear();
                send(Event::Sample {
                    generation,
                    event: SampleEvent::Failed("sampling failed on the compute device".to_owned()),
                });
            }
        }
        Job::LoadImage(path) => {
            let result = load_user_image(&path).map_err(|e| e.to_string());
            send(Event::ImageLoaded(result));
        }
        Job::Forward {
            generation,
            x0,
            schedules,
            mode,
            seed,
        } => {
            let started = Instant::now();
            let total = schedules.len();
            let mut stacks = Vec::with_capacity(total);
            for (done, schedule) in schedules.iter().enumerate() {
                if latest.load(Ordering::SeqCst) != generation {
                    return;
                }
                let computed = catch_unwind(AssertUnwindSafe(|| {
                    forward_stack(x0.row(0), schedule, mode, seed, target)
                }));
                let Ok(stack) = computed else {
                    let message = format!(
                        "computing {} failed on the compute device",
                        schedule.spec().label()
                    );
                    send(Event::Forward {
                        generation,
                        result: Err(message),
                        seconds: 0.0,
                    });
                    return;
                };
                stacks.extend(stack);
                send(Event::Progress {
                    generation,
                    done: done + 1,
                    total,
                });
            }
            send(Event::Forward {
                generation,
                result: Ok(stacks),
                seconds: started.elapsed().as_secs_f64(),
            });
        }
    }
}
