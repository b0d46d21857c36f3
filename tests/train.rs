//! Training runs on a tiny IDX dataset: resume equals an uninterrupted run, stop saves a
//! checkpoint, a diverging run stops with a message, bad data is named.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use burn::tensor::{Device, Tensor, TensorData};
use noisescope::diffusion::tensor_to_vec;
use noisescope::model::{UNetConfig, load_unet};
use noisescope::schedule::{ScheduleKind, ScheduleSpec};
use noisescope::train::{
    DiffusionTraining, Outcome, TrainError, TrainingTarget, checkpoint_dir, train_unet,
};

/// burn draws initial weights from one process-wide generator, lazily; trainings that run side
/// by side in one process would interleave their draws, so these tests take turns.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes a 16-image IDX train split of simple patterns.
fn options(data: &Path, out: PathBuf, steps: u64) -> DiffusionTraining {
    DiffusionTraining {
        data_dir: data.to_path_buf(),
        schedule: ScheduleSpec::new(ScheduleKind::Cosine),
        architecture: UNetConfig::new()
            .with_base_channels(8)
            .with_channel_multipliers(vec![1, 2])
            .with_norm_groups(4)
            .with_attention_resolutions(vec![14])
            .with_dropout(0.0),
        target: TrainingTarget::Noise,
        init_from: None,
        steps,
        batch: 4,
        learning_rate: 1e-3,
        warmup: 2,
        ema_decay: 0.9,
        class_dropout: 0.1,
        lr_decay: noisescope::train::LrDecay::None,
        min_snr_gamma: None,
        seed: 5,
        out,
        checkpoint_every: 0,
        report_every: 1,
        log_every: 0,
        grid_every: 0,
        resume: false,
        device: Device::flex(),
        device_label: "test".into(),
        command: "test".into(),
    }
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_one_does() {
    for dropout in [0.0, 0.3] {
        resumed_run_matches(dropout);
    }
}

fn resumed_run_matches(dropout: f64) {
    let _turn = one_at_a_time();
    let temp = common::temp_dir("resume");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let stop = AtomicBool::new(false);
    let with_dropout = |mut run: DiffusionTraining| {
        run.architecture = run.architecture.with_dropout(dropout);
        run
    };
    let straight = with_dropout(options(dir, dir.join("straight.nsw"), 4));
    let outcome = train_unet(&straight, &stop, &mut |_| {}).expect("train");
    assert!(matches!(outcome, Outcome::Finished { .. }));

    let split = with_dropout(options(dir, dir.join("split.nsw"), 2));
    train_unet(&split, &stop, &mut |_| {}).expect("first sitting");
    let mut reports = Vec::new();
    let resumed = DiffusionTraining {
        steps: 4,
        resume: true,
        ..split
    };
    train_unet(&resumed, &stop, &mut |p| reports.push(p.step)).expect("second sitting");
    assert_eq!(
        reports,
        vec![3, 4],
        "the second sitting continues at step 3"
    );
    // Equal up to the order of parallel float sums, which varies when tests run side by side.
    let worst = common::largest_difference(
        &common::unet_outputs(&dir.join("straight.nsw")),
        &common::unet_outputs(&dir.join("split.nsw")),
    );
    assert!(
        worst < 1e-4,
        "dropout {dropout}: resumed and uninterrupted runs differ by {worst}"
    );
    let loaded = load_unet(&dir.join("split.nsw"), None, &Device::flex()).expect("load");
    assert_eq!(loaded.metadata.training.steps, 4);
    assert_eq!(loaded.schedule.kind, ScheduleKind::Cosine);
}

#[test]
fn stopping_saves_a_checkpoint_and_other_settings_cannot_resume_it() {
    let _turn = one_at_a_time();
    let temp = common::temp_dir("stop");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let out = dir.join("stopped.nsw");
    let outcome = train_unet(
        &options(dir, out.clone(), 3),
        &AtomicBool::new(true),
        &mut |_| {},
    )
    .expect("stops cleanly");
    assert_eq!(
        outcome,
        Outcome::Stopped {
            step: 0,
            checkpoint: checkpoint_dir(&out)
        }
    );
    assert!(checkpoint_dir(&out).join("state.json").is_file());
    assert!(!out.exists());
    let other = DiffusionTraining {
        seed: 6,
        resume: true,
        ..options(dir, out, 3)
    };
    let error = train_unet(&other, &AtomicBool::new(false), &mut |_| {}).expect_err("refused");
    let message = error.to_string();
    assert!(
        message.contains("other settings") && message.contains("seed: checkpoint 5, now 6"),
        "{message}"
    );
    assert!(!message.contains("batch"), "only what differs: {message}");
}

#[test]
fn a_diverging_run_stops_with_the_step_and_keeps_the_checkpoint() {
    let _turn = one_at_a_time();
    let temp = common::temp_dir("nan");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let out = dir.join("diverged.nsw");
    let run = DiffusionTraining {
        learning_rate: 1e35,
        warmup: 0,
        checkpoint_every: 1,
        ..options(dir, out.clone(), 50)
    };
    let error = train_unet(&run, &AtomicBool::new(false), &mut |_| {}).expect_err("diverges");
    let TrainError::NonFinite { step, .. } = &error else {
        panic!("unexpected error {error}")
    };
    assert!(*step > 1 && *step <= 50);
    let message = error.to_string();
    assert!(
        message.contains("--lr") && message.contains("kept"),
        "{message}"
    );
    assert!(!out.exists(), "no weights are written from a diverged run");
    let state =
        std::fs::read_to_string(checkpoint_dir(&out).join("state.json")).expect("checkpoint");
    assert!(
        state.contains(&format!("\"step\": {}", step - 1)),
        "{state}"
    );
}

#[test]
fn missing_or_malformed_data_is_named() {
    let _turn = one_at_a_time();
    let temp = common::temp_dir("bad-data");
    let dir = temp.path();
    let run = options(dir, dir.join("x.nsw"), 1);
    let error = train_unet(&run, &AtomicBool::new(false), &mut |_| {}).expect_err("no data");
    assert!(
        error.to_string().contains("train-images-idx3-ubyte"),
        "{error}"
    );
    common::tiny_dataset(dir);
    std::fs::remove_file(dir.join("train-labels-idx1-ubyte")).expect("remove");
    let error = train_unet(&run, &AtomicBool::new(false), &mut |_| {}).expect_err("no labels");
    assert!(
        error.to_string().contains("train-labels-idx1-ubyte"),
        "{error}"
    );
    std::fs::write(dir.join("train-images-idx3-ubyte"), b"not an idx file").expect("write");
    std::fs::write(dir.join("train-labels-idx1-ubyte"), b"nor this").expect("write");
    let error = train_unet(&run, &AtomicBool::new(false), &mut |_| {}).expect_err("bad data");
    let message = error.to_string();
    assert!(
        message.contains("train-images-idx3-ubyte") && message.contains("magic"),
        "{message}"
    );
}

#[test]
fn an_epsilon_model_refuses_a_zero_terminal_snr_schedule() {
    let temp = common::temp_dir("zero-snr");
    let dir = temp.path();
    let mut run = options(dir, dir.join("x.nsw"), 1);
    run.schedule.zero_terminal_snr = true;
    let error = train_unet(&run, &AtomicBool::new(false), &mut |_| {}).expect_err("refused");
    let message = error.to_string();
    assert!(
        message.contains("zero terminal SNR") && message.contains("--zero-terminal-snr"),
        "{message}"
    );
}

#[test]
fn a_dae_starts_from_a_diffusion_model_and_writes_its_own_kind() {
    let _turn = one_at_a_time();
    let temp = common::temp_dir("dae");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let stop = AtomicBool::new(false);
    let ddgm = options(dir, dir.join("ddgm.nsw"), 2);
    train_unet(&ddgm, &stop, &mut |_| {}).expect("diffusion model");

    let dae = DiffusionTraining {
        target: TrainingTarget::CleanImage { t_max: 250 },
        init_from: Some(dir.join("ddgm.nsw")),
        out: dir.join("dae.nsw"),
        ..options(dir, dir.join("unused.nsw"), 2)
    };
    train_unet(&dae, &stop, &mut |_| {}).expect("autoencoder");
    let loaded = noisescope::model::load_dae(&dir.join("dae.nsw"), None, &Device::flex())
        .expect("a DAE file");
    assert_eq!(loaded.t_max, 250);
    assert!(
        load_unet(&dir.join("dae.nsw"), None, &Device::flex()).is_err(),
        "a DAE is not a diffusion model"
    );

    let other = DiffusionTraining {
        architecture: UNetConfig::new()
            .with_base_channels(8)
            .with_channel_multipliers(vec![1, 2, 2])
            .with_norm_groups(4),
        out: dir.join("other.nsw"),
        ..dae.clone()
    };
    let error = train_unet(&other, &stop, &mut |_| {}).expect_err("another architecture");
    assert!(error.to_string().contains("architecture"), "{error}");
    let beyond = DiffusionTraining {
        target: TrainingTarget::CleanImage { t_max: 5000 },
        out: dir.join("beyond.nsw"),
        ..dae
    };
    let error = train_unet(&beyond, &stop, &mut |_| {}).expect_err("t_max beyond T");
    assert!(error.to_string().contains("--t-max"), "{error}");
}

#[test]
fn a_class_conditioned_log_snr_network_trains_resumes_and_loads_and_its_autoencoder_drops_the_class()
 {
    use noisescope::model::NoiseInput;
    let _turn = one_at_a_time();
    let temp = common::temp_dir("conditioned");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let conditioned = |out: PathBuf, steps| {
        let mut run = options(dir, out, steps);
        run.architecture = run
            .architecture
            .with_classes(10)
            .with_noise_input(NoiseInput::LogSnr);
        run
    };
    let stop = AtomicBool::new(false);
    let straight = conditioned(dir.join("straight.nsw"), 4);
    train_unet(&straight, &stop, &mut |_| {}).expect("train");
    let split = conditioned(dir.join("split.nsw"), 2);
    train_unet(&split, &stop, &mut |_| {}).expect("first sitting");
    let resumed = DiffusionTraining {
        steps: 4,
        resume: true,
        ..split
    };
    train_unet(&resumed, &stop, &mut |_| {}).expect("second sitting");
    let device = Device::flex();
    let load = |name: &str| load_unet(&dir.join(name), None, &device).expect("load");
    let (a, b) = (load("straight.nsw"), load("split.nsw"));
    assert_eq!(a.config.classes, 10);
    assert_eq!(a.config.noise_input, NoiseInput::LogSnr);
    let x = Tensor::<4>::from_data(TensorData::new(vec![0.25f32; 784], [1, 1, 28, 28]), &device);
    let out = |m: &noisescope::model::LoadedUNet| {
        tensor_to_vec(
            m.model
                .evaluate_conditioned(x.clone(), &[300.0], &[Some(4)])
                .reshape([1, 784]),
        )
    };
    let worst = common::largest_difference(&out(&a), &out(&b));
    assert!(
        worst < 1e-4,
        "resumed and uninterrupted runs differ by {worst}"
    );

    let mut dae = conditioned(dir.join("dae.nsw"), 1);
    dae.target = TrainingTarget::CleanImage { t_max: 250 };
    let error = train_unet(&dae, &stop, &mut |_| {}).expect_err("refused");
    assert!(error.to_string().contains("--class-dropout 1"), "{error}");
    // Asked without a class, a λ-conditioned autoencoder trains and denoises at its λ_t.
    dae.class_dropout = 1.0;
    train_unet(&dae, &stop, &mut |_| {}).expect("the autoencoder trains");
    let loaded =
        noisescope::model::load_dae(&dir.join("dae.nsw"), None, &Device::flex()).expect("loads");
    let x = Tensor::<4>::zeros([2, 1, 28, 28], &Device::flex());
    let clean = noisescope::diffusion::CleanImagePredictor::predict_clean(&loaded, x, 20);
    assert!(
        tensor_to_vec(clean.reshape([2, 784]))
            .iter()
            .all(|v| v.is_finite())
    );
}

#[test]
fn the_weights_carry_the_runs_log_and_sample_grids_across_sittings() {
    let _turn = one_at_a_time();
    let temp = common::temp_dir("history");
    let dir = temp.path();
    common::tiny_dataset(dir);
    let stop = AtomicBool::new(false);
    let recorded = |out: &str, steps| DiffusionTraining {
        log_every: 1,
        grid_every: 2,
        ..options(dir, dir.join(out), steps)
    };
    train_unet(&recorded("straight.nsw", 3), &stop, &mut |_| {}).expect("train");
    train_unet(&recorded("split.nsw", 2), &stop, &mut |_| {}).expect("first sitting");
    let resumed = DiffusionTraining {
        resume: true,
        ..recorded("split.nsw", 3)
    };
    train_unet(&resumed, &stop, &mut |_| {}).expect("second sitting");
    let history = |name: &str| {
        let loaded = load_unet(&dir.join(name), None, &Device::flex()).expect("load");
        loaded.metadata.training.history
    };
    let (straight, split) = (history("straight.nsw"), history("split.nsw"));
    let logged = |h: &noisescope::model::TrainingHistory| -> Vec<u64> {
        h.log.iter().map(|e| e.step).collect()
    };
    assert_eq!(logged(&straight), vec![1, 2, 3]);
    assert_eq!(
        logged(&split),
        vec![1, 2, 3],
        "the first sitting's log is kept"
    );
    let warm_up = straight.log[0].learning_rate;
    assert!(warm_up > 0.0 && warm_up < straight.log[2].learning_rate);
    assert!(
        straight
            .log
            .iter()
            .all(|e| e.loss.is_finite() && e.wall_time_s > 0.0)
    );
    let gridded: Vec<(u64, usize)> = split.grids.iter().map(|g| (g.step, g.images)).collect();
    assert_eq!(
        gridded,
        vec![(2, 16), (3, 16)],
        "every 2 steps and at the end"
    );
    for (a, b) in straight.grids.iter().zip(&split.grids) {
        let (a, b) = (a.pixels().expect("grid"), b.pixels().expect("grid"));
        let worst = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y)).max();
        assert!(
            worst <= Some(1),
            "grids of equal weights differ by {worst:?}"
        );
    }
    let first = split.grids[0].pixels().expect("grid");
    let spread =
        first.iter().max().copied().unwrap_or(0) - first.iter().min().copied().unwrap_or(0);
    assert!(spread > 10, "a grid holds images, not a constant");
}
