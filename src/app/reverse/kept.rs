//! The runs the Reverse panel keeps between sessions, so that a lecture does not start with
//! minutes of sampling: a finished run is written, as the events that built it, into a folder
//! of the app's data; a job asking for the same run (the same weights files, sampler, images,
//! seed and condition) replays it instead of sampling.
//!
//! File layout (little endian): `NOISESCOPE-RUN\n` · u32 version · u32 key length · key (JSON)
//! · records (a tag byte, then its fields) · tag 0 · f64 seconds the sampling took · u32 CRC-32
//! of everything before it. The newest runs are kept within [`STORE_LIMIT_BYTES`] and
//! [`STORE_LIMIT_RUNS`]; a run larger than [`RUN_LIMIT_BYTES`] is not kept.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::job::{SampleEvent, SampleJob};
use crate::diffusion::{ByteReader, RecordedStep, SamplerConfig, write_count};
use crate::model::fingerprint;
use crate::schedule::{Schedule, ScheduleSpec};

const MAGIC: &[u8] = b"NOISESCOPE-RUN\n";
const VERSION: u32 = 1;
const EXTENSION: &str = "run";
/// The largest run kept (a DDPM-1000 run of 16 images from both models is ~75 MB).
pub const RUN_LIMIT_BYTES: u64 = 128 << 20;
/// The most disk the kept runs take together.
pub const STORE_LIMIT_BYTES: u64 = 384 << 20;
/// The most runs kept.
pub const STORE_LIMIT_RUNS: usize = 8;
/// Unfinished files older than this are from a run that never ended (the app was closed).
const STALE_PARTIAL: Duration = Duration::from_secs(24 * 3600);

const TAG_END: u8 = 0;
const TAG_STARTED: u8 = 1;
const TAG_STEPS: u8 = 2;
const TAG_FINISHED: u8 = 3;

/// The folder of kept runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunStore {
    dir: PathBuf,
}

/// A run read back: the events that built it and the seconds its sampling took.
pub struct KeptRun {
    /// Started, Steps and Finished of each model, in the order they came.
    pub events: Vec<SampleEvent>,
    /// Wall time of the sampling that made it.
    pub seconds: f64,
}

/// Everything a run's result depends on, written as the file's key.
#[derive(Serialize)]
struct RunKey<'a> {
    app_version: &'static str,
    models: Vec<WeightsStamp>,
    config: &'a SamplerConfig,
    batch: usize,
    seed: u64,
    class: Option<usize>,
    guidance: f64,
    sampling: &'a Option<ScheduleSpec>,
}

/// A weights file as it is now: path, size and CRC-32 (a retrained model is a new key).
#[derive(Serialize)]
struct WeightsStamp {
    path: PathBuf,
    bytes: u64,
    crc32: u32,
}

/// The key of the run `job` asks for; `None` when a weights file cannot be read (the job
/// then reports it as it loads the model).
pub fn run_key(job: &SampleJob) -> Option<String> {
    let models = job
        .models
        .iter()
        .map(|path| {
            let (bytes, crc32) = fingerprint(path).ok()?;
            Some(WeightsStamp {
                path: path.clone(),
                bytes,
                crc32,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let key = RunKey {
        app_version: env!("CARGO_PKG_VERSION"),
        models,
        config: &job.config,
        batch: job.batch,
        seed: job.seed,
        class: job.condition.class,
        guidance: job.condition.guidance,
        sampling: &job.condition.sampling,
    };
    serde_json::to_string(&key).ok()
}

impl RunStore {
    /// Runs kept in `dir` (created when the first run is written).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The file of the run with `key`.
    fn file(&self, key: &str) -> PathBuf {
        let name = format!("{:08x}{:08x}", crc32fast::hash(key.as_bytes()), key.len());
        self.dir.join(name).with_extension(EXTENSION)
    }

    /// The kept run with `key`, if there is one and it reads back whole; a damaged file is
    /// removed.
    pub fn find(&self, key: &str) -> Option<KeptRun> {
        let path = self.file(key);
        let bytes = fs::read(&path).ok()?;
        match decode(&bytes) {
            Some((stored_key, run)) if stored_key == key => {
                // Mark it as used, so it is the last to make room for new runs.
                let _ = File::options()
                    .append(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                Some(run)
            }
            Some(_) => None,
            None => {
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// A recorder for the run with `key`, unless it would be larger than [`RUN_LIMIT_BYTES`]
    /// (`expected_bytes`) or the folder cannot be written.
    pub fn recorder(&self, key: &str, expected_bytes: u64) -> Option<RunRecorder> {
        if expected_bytes > RUN_LIMIT_BYTES {
            return None;
        }
        fs::create_dir_all(&self.dir).ok()?;
        let dest = self.file(key);
        let temp = dest.with_extension(format!("partial-{}", std::process::id()));
        let file = File::create(&temp).ok()?;
        let mut recorder = RunRecorder {
            file: Some(BufWriter::new(file)),
            crc: crc32fast::Hasher::new(),
            temp,
            dest,
            store: self.clone(),
        };
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&VERSION.to_le_bytes());
        write_string(&mut header, key);
        recorder.write(&header);
        Some(recorder)
    }

    /// Removes the oldest runs beyond the limits (never `keep`), and unfinished files of runs
    /// that never ended.
    fn make_room(&self, keep: &Path) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut runs = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if extension == EXTENSION {
                runs.push((modified, meta.len(), path));
            } else if extension.starts_with("partial-")
                && modified.elapsed().is_ok_and(|age| age > STALE_PARTIAL)
            {
                let _ = fs::remove_file(&path);
            }
        }
        runs.sort_by_key(|run| std::cmp::Reverse(run.0));
        let mut total = 0;
        let mut count = 0;
        for (_, bytes, path) in runs {
            total += bytes;
            count += 1;
            let over = total > STORE_LIMIT_BYTES || count > STORE_LIMIT_RUNS;
            if over && path != keep {
                let _ = fs::remove_file(&path);
                total -= bytes;
                count -= 1;
            }
        }
    }
}

/// Writes a run as it is sampled; the file is complete only after [`Self::finish`], and an
/// unfinished one is removed when the recorder is dropped.
pub struct RunRecorder {
    file: Option<BufWriter<File>>,
    crc: crc32fast::Hasher,
    temp: PathBuf,
    dest: PathBuf,
    store: RunStore,
}

impl RunRecorder {
    /// Adds the event (a failed model is not a run worth keeping: nothing is written from then
    /// on).
    pub fn record(&mut self, event: &SampleEvent) {
        let mut bytes = Vec::new();
        match event {
            SampleEvent::Started {
                model,
                schedule,
                steps,
                note,
            } => {
                bytes.push(TAG_STARTED);
                write_count(&mut bytes, *model);
                write_count(&mut bytes, *steps);
                let spec = serde_json::to_string(schedule.spec()).unwrap_or_default();
                write_string(&mut bytes, &spec);
                bytes.push(u8::from(note.is_some()));
                write_string(&mut bytes, note.as_deref().unwrap_or(""));
            }
            SampleEvent::Steps { model, steps } => {
                bytes.push(TAG_STEPS);
                write_count(&mut bytes, *model);
                write_count(&mut bytes, steps.len());
                for step in steps {
                    step.write_to(&mut bytes);
                }
            }
            SampleEvent::Finished { model, x0 } => {
                bytes.push(TAG_FINISHED);
                write_count(&mut bytes, *model);
                write_count(&mut bytes, x0.len());
                for v in x0 {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
            SampleEvent::ModelFailed { .. } | SampleEvent::Kept { .. } | SampleEvent::NotKept => {
                self.file = None;
                return;
            }
        }
        self.write(&bytes);
    }

    fn write(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        if let Some(file) = &mut self.file
            && file.write_all(bytes).is_err()
        {
            self.file = None;
        }
    }

    /// Ends the file with the sampling's wall time and moves it into place; then the oldest
    /// runs beyond the store's limits are removed. Whether the run was kept.
    pub fn finish(mut self, seconds: f64) -> bool {
        let mut end = vec![TAG_END];
        end.extend_from_slice(&seconds.to_le_bytes());
        self.write(&end);
        let crc = self.crc.clone().finalize();
        let Some(mut file) = self.file.take() else {
            return false;
        };
        let written = file
            .write_all(&crc.to_le_bytes())
            .and_then(|()| file.flush())
            .is_ok();
        drop(file);
        if !written || fs::rename(&self.temp, &self.dest).is_err() {
            return false;
        }
        self.store.make_room(&self.dest);
        true
    }
}

impl Drop for RunRecorder {
    fn drop(&mut self) {
        self.file = None;
        let _ = fs::remove_file(&self.temp);
    }
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    write_count(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn read_string(input: &mut ByteReader<'_>) -> Option<String> {
    let len = input.count()?;
    String::from_utf8(input.bytes(len)?.to_vec()).ok()
}

/// The key and the run of a whole, undamaged file.
fn decode(bytes: &[u8]) -> Option<(String, KeptRun)> {
    let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_le_bytes() != crc {
        return None;
    }
    let mut input = ByteReader::new(body);
    if input.bytes(MAGIC.len())? != MAGIC || input.count()? != VERSION as usize {
        return None;
    }
    let key = read_string(&mut input)?;
    let mut events = Vec::new();
    loop {
        match input.u8()? {
            TAG_END => break,
            TAG_STARTED => events.push(read_started(&mut input)?),
            TAG_STEPS => {
                let model = input.count()?;
                let count = input.count()?;
                let steps = (0..count)
                    .map(|_| RecordedStep::read_from(&mut input))
                    .collect::<Option<Vec<_>>>()?;
                events.push(SampleEvent::Steps { model, steps });
            }
            TAG_FINISHED => {
                let model = input.count()?;
                let len = input.count()?;
                let x0 = input
                    .bytes(len.checked_mul(4)?)?
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                events.push(SampleEvent::Finished { model, x0 });
            }
            _ => return None,
        }
    }
    let seconds = f64::from_le_bytes(input.bytes(8)?.try_into().ok()?);
    input
        .is_empty()
        .then_some((key, KeptRun { events, seconds }))
}

fn read_started(input: &mut ByteReader<'_>) -> Option<SampleEvent> {
    let model = input.count()?;
    let steps = input.count()?;
    let spec: ScheduleSpec = serde_json::from_str(&read_string(input)?).ok()?;
    let schedule = Schedule::new(spec).ok()?;
    let has_note = input.u8()? == 1;
    let note = read_string(input)?;
    Some(SampleEvent::Started {
        model,
        schedule: Box::new(schedule),
        steps,
        note: has_note.then_some(note),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::QuantizedBatch;
    use crate::schedule::ScheduleKind;

    fn temp(name: &str) -> RunStore {
        let dir =
            std::env::temp_dir().join(format!("noisescope-kept-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        RunStore::new(dir)
    }

    fn step(t: usize) -> RecordedStep {
        let batch = QuantizedBatch::new(&[t as f32, -1.0, 0.25]);
        RecordedStep {
            t,
            x_t: batch.clone(),
            x0_hat: batch.clone(),
            eps_hat: batch,
            x0_unguided: None,
        }
    }

    fn events() -> Vec<SampleEvent> {
        let schedule = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("schedule");
        vec![
            SampleEvent::Started {
                model: 0,
                schedule: Box::new(schedule),
                steps: 2,
                note: Some("clamped".into()),
            },
            SampleEvent::Steps {
                model: 0,
                steps: vec![step(501), step(1)],
            },
            SampleEvent::Finished {
                model: 0,
                x0: vec![0.5, -0.75, 1.0],
            },
        ]
    }

    fn keep(store: &RunStore, key: &str) -> bool {
        let mut recorder = store.recorder(key, 1000).expect("a recorder");
        for event in &events() {
            recorder.record(event);
        }
        recorder.finish(12.5)
    }

    fn files(store: &RunStore) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&store.dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
            })
            .into_iter()
            .flatten()
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_kept_run_reads_back_event_for_event() {
        let store = temp("round-trip");
        assert!(keep(&store, "the key"));
        let run = store.find("the key").expect("kept");
        assert_eq!(run.seconds, 12.5);
        assert_eq!(run.events.len(), 3);
        let (
            SampleEvent::Started {
                schedule,
                steps,
                note,
                ..
            },
            SampleEvent::Steps {
                steps: recorded, ..
            },
            SampleEvent::Finished { x0, .. },
        ) = (&run.events[0], &run.events[1], &run.events[2])
        else {
            panic!("the events in their order");
        };
        assert_eq!(schedule.spec(), &ScheduleSpec::new(ScheduleKind::Cosine));
        assert_eq!((*steps, note.as_deref()), (2, Some("clamped")));
        assert_eq!(recorded, &vec![step(501), step(1)]);
        assert_eq!(x0, &vec![0.5, -0.75, 1.0]);
        assert!(store.find("another key").is_none());
        let _ = fs::remove_dir_all(&store.dir);
    }

    #[test]
    fn unfinished_failed_and_oversized_runs_are_not_kept() {
        let store = temp("unfinished");
        let mut recorder = store.recorder("cancelled", 1000).expect("a recorder");
        recorder.record(&events()[0]);
        drop(recorder);
        assert!(store.find("cancelled").is_none());
        assert_eq!(files(&store), Vec::<String>::new(), "no partial file left");
        let mut recorder = store.recorder("failed", 1000).expect("a recorder");
        recorder.record(&SampleEvent::ModelFailed {
            model: 1,
            message: "missing".into(),
        });
        assert!(!recorder.finish(1.0));
        assert_eq!(files(&store), Vec::<String>::new());
        assert!(store.recorder("large", RUN_LIMIT_BYTES + 1).is_none());
        let _ = fs::remove_dir_all(&store.dir);
    }

    #[test]
    fn a_damaged_file_is_not_replayed_and_is_removed() {
        let store = temp("damaged");
        assert!(keep(&store, "key"));
        let path = store.file("key");
        let mut bytes = fs::read(&path).expect("the file");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        fs::write(&path, &bytes).expect("write");
        assert!(store.find("key").is_none());
        assert!(!path.exists());
        assert!(keep(&store, "key"));
        fs::write(&path, &bytes[..bytes.len() - 9]).expect("truncate");
        assert!(store.find("key").is_none());
        let _ = fs::remove_dir_all(&store.dir);
    }

    #[test]
    fn the_newest_runs_stay_within_the_limit_on_their_number() {
        let store = temp("limit");
        for k in 0..STORE_LIMIT_RUNS + 3 {
            assert!(keep(&store, &format!("run {k}")));
            // Distinct modification times, oldest first.
            let old = SystemTime::now() - Duration::from_secs(1000 - k as u64);
            let file = File::options()
                .append(true)
                .open(store.file(&format!("run {k}")));
            file.and_then(|f| f.set_modified(old)).expect("set time");
        }
        assert_eq!(files(&store).len(), STORE_LIMIT_RUNS);
        assert!(store.find("run 0").is_none() && store.find("run 2").is_none());
        assert!(store.find("run 3").is_some());
        assert!(
            store
                .find(&format!("run {}", STORE_LIMIT_RUNS + 2))
                .is_some()
        );
        let _ = fs::remove_dir_all(&store.dir);
    }
}
