//! The one way the app runs work that takes longer than a frame: a [`Job`] runs on its
//! [`Lane`]'s worker thread and reports [`Update`]s; starting a new job or cancelling raises
//! the lane's generation, after which the job stops at its next check (at most one model call
//! away) and nothing more it says reaches the panel.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use eframe::egui;

use crate::gpu::ComputeDevice;
use crate::model::{LoadedDae, LoadedUNet, load_dae, load_unet};
use crate::schedule::ScheduleSpec;

/// What a job says: progress, its own events, and how it ended.
#[derive(Debug)]
pub enum Update<E> {
    /// Work done so far, in the job's own units.
    Progress {
        /// Done.
        done: usize,
        /// Of.
        total: usize,
    },
    /// An event of the job's kind.
    Event(E),
    /// The job failed; nothing more comes.
    Failed(String),
    /// The job finished.
    Done {
        /// Wall time.
        seconds: f64,
    },
}

impl<E> Update<E> {
    /// The job's own event, if this is one; the end of the job is written down instead: its
    /// wall time in `seconds` (Done) or its message in `error` (Failed).
    pub fn event_or_end(self, seconds: &mut Option<f64>, error: &mut Option<String>) -> Option<E> {
        match self {
            Self::Event(event) => Some(event),
            Self::Done { seconds: s } => {
                *seconds = Some(s);
                None
            }
            Self::Failed(message) => {
                *error = Some(message);
                None
            }
            Self::Progress { .. } => None,
        }
    }
}

/// Work for a lane's thread.
pub trait Job: Send + 'static {
    /// What the job streams back.
    type Event: Send + 'static;
    /// What the lane keeps between its jobs (cleared when a job panics).
    type Memory: Default + Send + 'static;

    /// Runs the job; an error is shown to the person. Check [`JobContext::cancelled`] before
    /// every model call.
    fn run(
        self,
        context: &mut JobContext<'_, Self::Event>,
        memory: &mut Self::Memory,
    ) -> Result<(), String>;
}

/// What a running job sees.
pub struct JobContext<'a, E> {
    /// The device to compute on.
    pub device: &'a Device,
    /// Whether the UI draws from the same GPU (then image stacks can stay on it).
    pub shared_with_ui: bool,
    /// The networks, loaded once for every lane.
    pub models: &'a SharedModels,
    generation: u64,
    latest: &'a AtomicU64,
    send: &'a mut dyn FnMut(u64, Update<E>),
}

impl<E> JobContext<'_, E> {
    /// Whether the job was cancelled or superseded: it should stop.
    pub fn cancelled(&self) -> bool {
        self.latest.load(Ordering::SeqCst) != self.generation
    }

    /// Sends an event to the panel.
    pub fn emit(&mut self, event: E) {
        (self.send)(self.generation, Update::Event(event));
    }

    /// Reports progress.
    pub fn progress(&mut self, done: usize, total: usize) {
        (self.send)(self.generation, Update::Progress { done, total });
    }
}

/// The U-Nets and autoencoders loaded so far, by file, shared by every lane so that a network
/// is read once.
#[derive(Clone, Default)]
pub struct SharedModels(Arc<Mutex<ModelStore>>);

#[derive(Default)]
struct ModelStore {
    unets: HashMap<PathBuf, Arc<LoadedUNet>>,
    daes: HashMap<PathBuf, Arc<LoadedDae>>,
}

/// What to do about a weights file that cannot be used.
const MISSING_WEIGHTS_ADVICE: &str = "Restore the file from the Noisescope assets or train one \
     with `noisescope train` (see the README).";

impl SharedModels {
    /// The U-Net in `path`, loaded on first use; the error says how to fix it.
    pub fn unet(&self, path: &Path, device: &Device) -> Result<Arc<LoadedUNet>, String> {
        if let Some(loaded) = self.store().unets.get(path) {
            return Ok(Arc::clone(loaded));
        }
        let loaded = load_unet(path, None, device)
            .map_err(|error| format!("{error}. {MISSING_WEIGHTS_ADVICE}"))?;
        let loaded = Arc::new(loaded);
        self.store()
            .unets
            .insert(path.to_path_buf(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// The autoencoder in `path` for a diffusion model of `schedule`, loaded on first use.
    pub fn dae(
        &self,
        path: &Path,
        schedule: &ScheduleSpec,
        device: &Device,
    ) -> Result<Arc<LoadedDae>, String> {
        if let Some(loaded) = self.store().daes.get(path)
            && loaded.net.schedule == *schedule
        {
            return Ok(Arc::clone(loaded));
        }
        let loaded = load_dae(path, Some(schedule), device).map_err(|e| {
            format!(
                "{e}. Restore the file from the Noisescope assets or train one with \
                 `noisescope train-dae` (see the README)."
            )
        })?;
        let loaded = Arc::new(loaded);
        self.store()
            .daes
            .insert(path.to_path_buf(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Forgets every network (after a failure of the compute device).
    pub fn clear(&self) {
        *self.store() = ModelStore::default();
    }

    fn store(&self) -> std::sync::MutexGuard<'_, ModelStore> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The shortest time between two repaints for a job's updates: an update repaints at once
/// unless one did less than this ago, and then it waits for the interval's end, so updates
/// closer together share one frame. On a software renderer a frame costs tens of milliseconds
/// of CPU (Xvfb and lavapipe here: ~150 ms of rasterising), which a job computing on the same
/// CPU would otherwise lose at every progress report.
const UPDATE_REPAINT_INTERVAL: Duration = Duration::from_secs(1);

/// Where a lane computes, and how it asks the UI to repaint.
#[derive(Clone)]
pub struct LaneTarget {
    /// The compute device.
    pub device: Device,
    /// Whether the UI draws from the same GPU.
    pub shared_with_ui: bool,
    /// The UI's context.
    pub ui: egui::Context,
    /// The networks every lane shares.
    pub models: SharedModels,
}

impl LaneTarget {
    /// The target for jobs on `compute`, repainting `ui`.
    pub fn new(compute: &ComputeDevice, ui: &egui::Context) -> Self {
        Self {
            device: compute.device.clone(),
            shared_with_ui: compute.shared_with_ui,
            ui: ui.clone(),
            models: SharedModels::default(),
        }
    }
}

/// Why a lane's thread could not be started, if one could not (shown in the status bar).
static SPAWN_FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Why a job lane could not start its thread; its jobs then never start.
pub fn spawn_failure() -> Option<String> {
    SPAWN_FAILURE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// One worker thread and the jobs of one kind: at most one runs, a new one supersedes it.
pub struct Lane<J: Job> {
    jobs: Sender<(u64, J)>,
    updates: Receiver<(u64, Update<J::Event>)>,
    latest: Arc<AtomicU64>,
    busy: Arc<AtomicBool>,
    running: bool,
    progress: Option<(usize, usize)>,
}

impl<J: Job> Lane<J> {
    /// Starts the lane's thread, named `name`; if the system refuses a thread, the lane starts
    /// no job and [`spawn_failure`] says why.
    pub fn spawn(name: &str, target: &LaneTarget) -> Self {
        let (jobs, job_rx) = channel::<(u64, J)>();
        let (update_tx, updates) = channel();
        let latest = Arc::new(AtomicU64::new(0));
        let busy = Arc::new(AtomicBool::new(false));
        let (thread_latest, thread_busy, target) =
            (Arc::clone(&latest), Arc::clone(&busy), target.clone());
        let spawned = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                lower_this_threads_priority();
                let mut memory = J::Memory::default();
                let mut last_repaint: Option<Instant> = None;
                for (generation, job) in job_rx {
                    if thread_latest.load(Ordering::SeqCst) != generation {
                        continue;
                    }
                    thread_busy.store(true, Ordering::SeqCst);
                    let mut send = |generation, update| {
                        let _ = update_tx.send((generation, update));
                        repaint(&target.ui, &mut last_repaint);
                    };
                    run_one(
                        job,
                        generation,
                        &thread_latest,
                        &target,
                        &mut memory,
                        &mut send,
                    );
                    thread_busy.store(false, Ordering::SeqCst);
                }
            });
        if let Err(error) = spawned {
            *SPAWN_FAILURE.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(format!("cannot start the worker thread {name}: {error}"));
        }
        Self {
            jobs,
            updates,
            latest,
            busy,
            running: false,
            progress: None,
        }
    }

    /// Starts `job`, superseding the running one; false if the thread is gone.
    pub fn start(&mut self, job: J) -> bool {
        let generation = self.latest.fetch_add(1, Ordering::SeqCst) + 1;
        self.running = self.jobs.send((generation, job)).is_ok();
        self.progress = None;
        self.running
    }

    /// [`Self::start`], showing progress 0 of `total` until the job reports its own.
    pub fn start_counting(&mut self, job: J, total: usize) -> bool {
        let started = self.start(job);
        if started {
            self.progress = Some((0, total));
        }
        started
    }

    /// Stops the running job: it ends at its next check, and nothing it still says arrives.
    pub fn cancel(&mut self) {
        self.latest.fetch_add(1, Ordering::SeqCst);
        self.running = false;
        self.progress = None;
    }

    /// The updates of the current job that arrived since the last call; the lane keeps track
    /// of progress and of whether the job still runs.
    pub fn poll(&mut self) -> Vec<Update<J::Event>> {
        let current = self.latest.load(Ordering::SeqCst);
        let mut fresh = Vec::new();
        for (generation, update) in self.updates.try_iter() {
            if generation != current {
                continue;
            }
            match &update {
                Update::Progress { done, total } => self.progress = Some((*done, *total)),
                Update::Failed(_) | Update::Done { .. } => {
                    self.running = false;
                    self.progress = None;
                }
                Update::Event(_) => {}
            }
            fresh.push(update);
        }
        fresh
    }

    /// Whether a job runs (from start until it ends or is cancelled).
    pub fn running(&self) -> bool {
        self.running
    }

    /// Raises `slowest` to the last frame's CPU time while a job runs (for the status line).
    pub fn note_frame(&self, frame_cpu: Option<f32>, slowest: &mut f32) {
        if let (true, Some(seconds)) = (self.running, frame_cpu) {
            *slowest = slowest.max(seconds);
        }
    }

    /// The running job's last progress report.
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.progress
    }

    /// Whether the thread is between jobs: a cancelled job has stopped computing.
    pub fn idle(&self) -> bool {
        !self.busy.load(Ordering::SeqCst)
    }
}

impl<J: Job> Drop for Lane<J> {
    /// Closing the window cancels the running job; the thread ends when the channel closes.
    fn drop(&mut self) {
        self.latest.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs one job and reports how it ended; a panic inside burn is a failure of the compute
/// device, reported instead of taking the thread down (the lane's memory and the networks are
/// dropped, as the device may have lost them).
fn run_one<J: Job>(
    job: J,
    generation: u64,
    latest: &AtomicU64,
    target: &LaneTarget,
    memory: &mut J::Memory,
    send: &mut dyn FnMut(u64, Update<J::Event>),
) {
    let started = Instant::now();
    let outcome = {
        let mut context = JobContext {
            device: &target.device,
            shared_with_ui: target.shared_with_ui,
            models: &target.models,
            generation,
            latest,
            send: &mut *send,
        };
        catch_unwind(AssertUnwindSafe(|| job.run(&mut context, memory)))
    };
    let end = match outcome {
        Ok(Ok(())) => Update::Done {
            seconds: started.elapsed().as_secs_f64(),
        },
        Ok(Err(message)) => Update::Failed(message),
        Err(_) => {
            *memory = J::Memory::default();
            target.models.clear();
            Update::Failed("the computation failed on the compute device".to_owned())
        }
    };
    if latest.load(Ordering::SeqCst) == generation {
        send(generation, end);
    }
}

/// Runs `job` on this thread on `device` to its end and returns what it emitted (for the
/// command line, which reproduces what a panel computes with the panel's own job).
pub fn run_here<J: Job>(job: J, device: &Device) -> Result<Vec<J::Event>, String> {
    let latest = AtomicU64::new(1);
    let models = SharedModels::default();
    let mut events = Vec::new();
    let mut failure = None;
    let mut send = |_generation: u64, update: Update<J::Event>| match update {
        Update::Event(event) => events.push(event),
        Update::Failed(message) => failure = Some(message),
        Update::Progress { .. } | Update::Done { .. } => {}
    };
    let mut context = JobContext {
        device,
        shared_with_ui: false,
        models: &models,
        generation: 1,
        latest: &latest,
        send: &mut send,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        job.run(&mut context, &mut J::Memory::default())
    }));
    match outcome {
        Ok(Ok(())) => failure.map_or(Ok(events), Err),
        Ok(Err(message)) => Err(message),
        Err(_) => Err("the computation failed on the compute device".to_owned()),
    }
}

/// Repaints at once unless the last repaint was less than [`UPDATE_REPAINT_INTERVAL`] ago,
/// and then at the interval's end.
fn repaint(ui: &egui::Context, last: &mut Option<Instant>) {
    match last.map(|at| at.elapsed()) {
        Some(since) if since < UPDATE_REPAINT_INTERVAL => {
            ui.request_repaint_after(UPDATE_REPAINT_INTERVAL - since);
        }
        _ => {
            ui.request_repaint();
            *last = Some(Instant::now());
        }
    }
}

/// Lowers the calling thread's scheduling priority (nice +5 on Linux, where it is per thread),
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{SyncSender, sync_channel};

    use super::*;

    /// Emits `0, 1, 2, …`, each only after the test lets it go, and stops when cancelled.
    struct Gated {
        gate: Receiver<()>,
        emitted: SyncSender<usize>,
    }

    impl Job for Gated {
        type Event = usize;
        type Memory = ();

        fn run(self, context: &mut JobContext<'_, usize>, (): &mut ()) -> Result<(), String> {
            for i in 0.. {
                if self.gate.recv().is_err() || context.cancelled() {
                    return Ok(());
                }
                context.emit(i);
                let _ = self.emitted.send(i);
            }
            Ok(())
        }
    }

    fn lane() -> Lane<Gated> {
        let target = LaneTarget {
            device: Device::flex(),
            shared_with_ui: false,
            ui: egui::Context::default(),
            models: SharedModels::default(),
        };
        Lane::spawn("test-lane", &target)
    }

    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::yield_now();
        }
    }

    /// Fails with a message, or panics, after counting its runs in the lane's memory.
    struct Failing {
        panics: bool,
    }

    impl Job for Failing {
        type Event = usize;
        type Memory = usize;

        fn run(self, context: &mut JobContext<'_, usize>, runs: &mut usize) -> Result<(), String> {
            *runs += 1;
            context.emit(*runs);
            assert!(!self.panics, "a failure inside the compute device");
            Err("the file is damaged".to_owned())
        }
    }

    /// The updates of the lane's current job, up to its end.
    fn until_the_end<J: Job>(lane: &mut Lane<J>) -> Vec<Update<J::Event>> {
        let started = Instant::now();
        let mut updates = Vec::new();
        while lane.running() {
            assert!(started.elapsed() < Duration::from_secs(10), "the job ends");
            updates.extend(lane.poll());
        }
        updates
    }

    #[test]
    fn failures_and_panics_end_the_job_with_a_message_and_panics_clear_the_memory() {
        let target = LaneTarget {
            device: Device::flex(),
            shared_with_ui: false,
            ui: egui::Context::default(),
            models: SharedModels::default(),
        };
        let mut lane = Lane::spawn("test-failing", &target);
        lane.start(Failing { panics: false });
        let updates = until_the_end(&mut lane);
        assert!(
            matches!(updates.as_slice(), [Update::Event(1), Update::Failed(m)] if m.contains("damaged")),
            "{updates:?}"
        );
        lane.start(Failing { panics: false });
        assert!(
            matches!(until_the_end(&mut lane).first(), Some(Update::Event(2))),
            "memory kept"
        );
        lane.start(Failing { panics: true });
        let updates = until_the_end(&mut lane);
        assert!(
            matches!(updates.as_slice(), [Update::Event(3), Update::Failed(m)] if m.contains("compute device")),
            "{updates:?}"
        );
        lane.start(Failing { panics: false });
        assert!(
            matches!(until_the_end(&mut lane).first(), Some(Update::Event(1))),
            "memory cleared"
        );
    }

    #[test]
    fn a_cancelled_job_stops_at_its_next_check_and_says_nothing_more() {
        let mut lane = lane();
        let (open, gate) = channel();
        let (emitted, seen) = sync_channel(8);
        assert!(lane.start(Gated { gate, emitted }));
        open.send(()).expect("gate");
        // The event is sent before the test hears of it.
        assert_eq!(seen.recv(), Ok(0));
        let first = lane.poll();
        assert!(matches!(first.as_slice(), [Update::Event(0)]), "{first:?}");
        assert!(lane.running());
        // Cancel while the job waits at its gate, then let it run into its check.
        lane.cancel();
        assert!(!lane.running());
        open.send(()).expect("gate");
        wait_until("the job to stop", || lane.idle());
        assert!(seen.try_recv().is_err(), "no event after the cancel");
        assert!(lane.poll().is_empty(), "not even the end of the job");
    }

    #[test]
    fn a_new_job_supersedes_the_running_one_and_its_end_is_reported() {
        let mut lane = lane();
        let (open_old, gate) = channel();
        let (emitted, _seen_old) = sync_channel(8);
        lane.start(Gated { gate, emitted });
        let (open_new, gate) = channel();
        let (emitted, seen_new) = sync_channel(8);
        lane.start(Gated { gate, emitted });
        open_old.send(()).expect("gate");
        open_new.send(()).expect("gate");
        assert_eq!(seen_new.recv(), Ok(0));
        drop(open_new);
        let updates = until_the_end(&mut lane);
        assert!(
            matches!(updates.as_slice(), [Update::Event(0), Update::Done { .. }]),
            "{updates:?}: only the new job's updates"
        );
    }
}
