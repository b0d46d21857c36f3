//! The Reverse panel driven through egui_kittest: sample, scrub, cancel, and missing weights.

mod common;

use std::path::Path;
use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::App;
use noisescope::app::{ModelsShown, SamplerChoice, Tab};

use common::click;

fn harness(dir: &Path) -> Harness<'static, App> {
    let dir = dir.to_owned();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(move |cc| App::new(cc).with_models_dir(dir.clone()));
    harness
        .get_by_role_and_label(Role::Button, "Reverse")
        .click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings().tab, Tab::Reverse);
    harness
}

fn run_until(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    common::run_until(harness, what, Duration::from_secs(120), done);
}

#[test]
fn sampling_records_every_step_and_the_scrubber_changes_the_frame() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    {
        let settings = &mut harness.state_mut().settings_mut().reverse;
        settings.batch = 2;
        settings.sampler = SamplerChoice::Ddpm;
        settings.models = ModelsShown::Both;
    }
    // The controls change with the sampler: lay them out before clicking.
    click(&mut harness, "Sample");
    run_until(&mut harness, "both models to finish", |app| !app.sampling());
    assert_eq!(harness.state().recorded_steps(), vec![1000, 1000]);
    assert!(harness.state().reverse_error().is_none());

    *harness.state_mut().settings_mut().cursor_t = 900;
    harness.run_steps(2);
    assert_eq!(harness.state().reverse_shown_t(0), Some(900));
    let before = harness.state().reverse_shown_x_t(0).expect("a frame");
    harness.key_press(egui::Key::ArrowLeft);
    harness.run_steps(2);
    assert_eq!(harness.state().reverse_shown_t(0), Some(899));
    harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowLeft);
    harness.run_steps(2);
    assert_eq!(harness.state().reverse_shown_t(1), Some(889));
    let after = harness.state().reverse_shown_x_t(0).expect("a frame");
    assert_ne!(before, after, "moving t must change the x_t shown");
    // Both models started from the same x_T.
    *harness.state_mut().settings_mut().cursor_t = 1000;
    harness.run_steps(2);
    assert_eq!(
        harness.state().reverse_shown_x_t(0),
        harness.state().reverse_shown_x_t(1)
    );
}

#[test]
fn cancel_stops_the_sampling_job() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    {
        let settings = &mut harness.state_mut().settings_mut().reverse;
        settings.batch = 8;
        settings.sampler = SamplerChoice::Ddpm;
    }
    click(&mut harness, "Sample");
    run_until(&mut harness, "the first steps", |app| {
        app.recorded_steps().iter().any(|&n| n > 0)
    });
    harness
        .get_by_role_and_label(Role::Button, "Cancel")
        .click();
    harness.run_steps(2);
    assert!(!harness.state().sampling());
    let recorded = harness.state().recorded_steps();
    // The job stops at its next check; whatever it still sent is dropped.
    run_until(&mut harness, "the job to stop computing", App::jobs_idle);
    assert_eq!(
        harness.state().recorded_steps(),
        recorded,
        "no steps arrive after Cancel"
    );
    assert!(recorded.iter().all(|&n| n < 1000), "{recorded:?}");
}

#[test]
fn missing_weights_are_reported_in_the_panel() {
    let empty = common::temp_dir("ui-reverse-empty");
    let mut harness = harness(empty.path());
    click(&mut harness, "Sample");
    run_until(&mut harness, "the error", |app| {
        app.reverse_error().is_some()
    });
    let error = harness
        .state()
        .reverse_error()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("unet-linear.nsw") && error.contains("noisescope train"),
        "{error}"
    );
    assert!(!harness.state().sampling());
}

#[test]
fn oversized_recordings_are_refused_with_the_estimate() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    {
        // DDPM records all 1000 steps: 256 images of them do not fit.
        let settings = &mut harness.state_mut().settings_mut().reverse;
        settings.batch = 256;
        settings.sampler = SamplerChoice::Ddpm;
    }
    click(&mut harness, "Sample");
    run_until(&mut harness, "the refusal", |app| {
        app.reverse_error().is_some()
    });
    let error = harness
        .state()
        .reverse_error()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("MB") && error.contains("fewer"), "{error}");
    assert!(!harness.state().sampling());
}

#[test]
fn one_damaged_model_is_reported_and_the_other_still_samples() {
    let models = common::tiny_models_dir();
    let cosine = models.path().join("unet-cosine.nsw");
    let bytes = std::fs::read(&cosine).expect("weights");
    std::fs::write(&cosine, &bytes[..bytes.len() / 2]).expect("truncate");
    let mut harness = harness(models.path());
    {
        let settings = &mut harness.state_mut().settings_mut().reverse;
        settings.batch = 2;
        settings.models = ModelsShown::Both;
    }
    click(&mut harness, "Sample");
    run_until(&mut harness, "the job to end", |app| !app.sampling());
    let app = harness.state();
    let steps = app.settings().reverse.steps;
    assert_eq!(
        app.recorded_steps(),
        vec![steps, 0],
        "{:?}",
        app.reverse_error()
    );
    let error = app.reverse_error().unwrap_or_default();
    assert!(error.contains("unet-cosine.nsw"), "{error}");
}

/// Sets T of every compared schedule through the Schedules panel's fields.
fn set_schedules_steps(harness: &mut Harness<'static, App>, steps: f64) {
    harness
        .get_by_role_and_label(Role::Button, "Schedules")
        .click();
    harness.run_steps(2);
    let fields = harness.get_all_by_value("1000").count();
    assert!(fields >= 2, "the T fields of the two schedules");
    for _ in 0..fields {
        harness
            .get_all_by_value("1000")
            .next()
            .expect("a T field")
            .set_value_accesskit(steps);
        harness.run_steps(2);
    }
    assert!(
        harness
            .state()
            .slots()
            .iter()
            .all(|s| s.schedule.steps() == steps as usize)
    );
    harness
        .get_by_role_and_label(Role::Button, "Reverse")
        .click();
    harness.run_steps(2);
}

#[test]
fn the_reverse_panel_scrubs_the_models_own_t_not_the_compared_schedules() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    set_schedules_steps(&mut harness, 200.0);
    {
        let settings = &mut harness.state_mut().settings_mut().reverse;
        settings.batch = 1;
        settings.sampler = SamplerChoice::Ddpm;
        settings.models = ModelsShown::Linear;
    }
    click(&mut harness, "Sample");
    run_until(&mut harness, "the model to finish", |app| !app.sampling());
    assert_eq!(
        harness.state().recorded_steps(),
        vec![1000],
        "{:?}",
        harness.state().reverse_error()
    );
    *harness.state_mut().settings_mut().cursor_t = 900;
    harness.run_steps(2);
    assert_eq!(harness.state().settings().cursor_t, 900);
    assert_eq!(harness.state().reverse_shown_t(0), Some(900));
}

#[test]
fn the_recording_estimate_uses_the_models_own_t() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    set_schedules_steps(&mut harness, 10_000.0);
    {
        let settings = &mut harness.state_mut().settings_mut().reverse;
        settings.batch = 32;
        settings.sampler = SamplerChoice::Ddpm;
        settings.models = ModelsShown::Both;
    }
    click(&mut harness, "Sample");
    run_until(&mut harness, "the first steps", |app| {
        app.recorded_steps().iter().any(|&n| n > 0) || app.reverse_error().is_some()
    });
    assert_eq!(harness.state().reverse_error(), None);
    harness
        .get_by_role_and_label(Role::Button, "Cancel")
        .click();
    harness.run_steps(2);
}

#[test]
fn play_walks_t_down_and_pause_stops_it() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    {
        let settings = &mut harness.state_mut().settings_mut().reverse;
        settings.batch = 1;
        settings.sampler = SamplerChoice::Ddpm;
        settings.models = ModelsShown::Linear;
    }
    click(&mut harness, "Sample");
    run_until(&mut harness, "the model to finish", |app| !app.sampling());
    *harness.state_mut().settings_mut().cursor_t = 1000;
    harness.run_steps(2);
    harness.get_by_role_and_label(Role::Button, "Play").click();
    harness.run_steps(30);
    let played = harness.state().settings().cursor_t;
    assert!(played < 1000, "t = {played} after 30 frames of playing");
    assert_eq!(harness.state().reverse_shown_t(0), Some(played));
    harness.get_by_role_and_label(Role::Button, "Pause").click();
    harness.run_steps(2);
    let paused = harness.state().settings().cursor_t;
    harness.run_steps(30);
    assert_eq!(harness.state().settings().cursor_t, paused, "paused");
}

/// A folder with small untrained class- and log-SNR-conditioned U-Nets named as the shipped ones.
fn conditioned_models_dir() -> tempfile::TempDir {
    use noisescope::schedule::{ScheduleKind, ScheduleSpec};
    let dir = common::temp_dir("conditioned");
    for (kind, file) in [
        (ScheduleKind::Linear, "unet-linear.nsw"),
        (ScheduleKind::Cosine, "unet-cosine.nsw"),
    ] {
        let path = dir.path().join(file);
        common::tiny_network_of(&path, ScheduleSpec::new(kind), None, (10, true));
    }
    dir
}

#[test]
fn a_class_with_guidance_shows_the_unguided_prediction_beside_the_guided_one() {
    use noisescope::app::SamplingChoice;
    let models = conditioned_models_dir();
    let mut harness = harness(models.path());
    {
        let settings = &mut harness.state_mut().settings_mut().reverse;
        settings.batch = 2;
        settings.steps = 5;
        settings.models = ModelsShown::Linear;
        settings.condition.class = Some(8);
        settings.condition.guidance = 3.0;
    }
    click(&mut harness, "Sample");
    run_until(&mut harness, "the guided run", |app| !app.sampling());
    assert_eq!(harness.state().recorded_steps(), vec![5]);
    let step = harness.state().reverse_shown_step(0).expect("a step");
    let unguided = step.x0_unguided.as_ref().expect("the unguided x̂0 is kept");
    assert_ne!(
        unguided.values(),
        step.x0_hat.values(),
        "guidance changes x̂0"
    );
    harness.run_steps(2);
    harness.get_by_label("x0 without guidance (w = 0)");

    // Any class: one evaluation, nothing to compare; under the cosine slot (λ beyond the linear
    // model's range) a note says so.
    {
        let condition = &mut harness.state_mut().settings_mut().reverse.condition;
        condition.class = None;
        condition.sampling = SamplingChoice::Compared(1);
    }
    click(&mut harness, "Sample");
    run_until(&mut harness, "the unguided run", |app| !app.sampling());
    let step = harness.state().reverse_shown_step(0).expect("a step");
    assert!(step.x0_unguided.is_none());
    let note = harness.state().reverse_note(0).expect("a note");
    assert!(note.contains("nearest trained λ"), "{note}");
}

#[test]
fn a_class_or_another_schedule_for_a_model_that_cannot_take_it_is_refused_in_the_column() {
    use noisescope::app::SamplingChoice;
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    for (class, sampling, expected) in [
        (Some(2), SamplingChoice::Trained, "not class-conditioned"),
        (
            None,
            SamplingChoice::Compared(1),
            "conditioned on the log-SNR",
        ),
        (
            None,
            SamplingChoice::Compared(3),
            "compares 2 schedules, not 4",
        ),
    ] {
        {
            let settings = &mut harness.state_mut().settings_mut().reverse;
            settings.batch = 1;
            settings.steps = 3;
            settings.models = ModelsShown::Linear;
            settings.condition.class = class;
            settings.condition.sampling = sampling;
        }
        click(&mut harness, "Sample");
        run_until(&mut harness, "the refusal", |app| !app.sampling());
        let error = harness.state().reverse_error().expect("refused");
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn opening_how_the_models_learned_shows_the_loss_log_and_the_grids_by_step() {
    use noisescope::model::{
        LogEntry, SampleGrid, TrainingHistory, UNetConfig, WeightsFile, save_module,
    };
    let models = common::tiny_models_dir();
    // Give the linear model a history, as `train` writes it.
    let path = models.path().join("unet-linear.nsw");
    let file = WeightsFile::read(&path).expect("read");
    let config: UNetConfig = file.architecture(&UNetConfig::new()).expect("config");
    let module = file
        .load_into(config.init(&burn::tensor::Device::flex()))
        .expect("load");
    let mut metadata = file.metadata.clone();
    let entry = |step, loss| LogEntry {
        step,
        loss,
        learning_rate: 1e-3,
        images_per_s: 100.0,
        wall_time_s: step as f64,
    };
    let image = vec![0.25_f32; 784 * 4];
    metadata.training.history = TrainingHistory {
        log: vec![entry(100, 0.5), entry(200, 0.2)],
        grids: vec![
            SampleGrid::encode(100, &image).expect("grid"),
            SampleGrid::encode(200, &image).expect("grid"),
        ],
    };
    save_module(&module, &metadata, &path).expect("save");

    let mut harness = harness(models.path());
    harness.state_mut().settings_mut().reverse.models = ModelsShown::Both;
    harness.run_steps(2);
    harness
        .get_by_label_contains("How the models learned")
        .click();
    run_until(&mut harness, "the histories", |app| {
        !app.reverse_histories().is_empty()
    });
    let histories = harness.state().reverse_histories();
    assert_eq!(histories[0].label, "linear");
    let logged: Vec<u64> = histories[0].log.iter().map(|e| e.step).collect();
    let grids: Vec<u64> = histories[0].grids.iter().map(|g| g.0).collect();
    assert_eq!((logged, grids), (vec![100, 200], vec![100, 200]));
    assert!(histories[0].problem.is_none());
    let problem = histories[1]
        .problem
        .clone()
        .expect("the cosine model has no log");
    assert!(problem.contains("no training log"), "{problem}");
    harness.run_steps(2);
    harness.get_by_label("linear model after 200 steps");
    harness.get_by_label("linear sample 3 after 200 steps");
}

#[test]
fn a_finished_run_is_kept_and_shown_again_at_the_next_start() {
    let models = common::tiny_models_dir();
    let runs = common::temp_dir("ui-reverse-kept");
    let start = || {
        let (models, runs) = (models.path().to_owned(), runs.path().to_owned());
        let mut harness = Harness::builder()
            .with_size(egui::vec2(1400.0, 950.0))
            .build_eframe(move |cc| {
                App::new(cc)
                    .with_models_dir(models.clone())
                    .with_runs_kept_in(runs.clone())
            });
        run_until(&mut harness, "the look for a kept run", App::jobs_idle);
        harness
    };
    let mut first = start();
    assert!(
        first.state().recorded_steps().is_empty(),
        "nothing kept yet"
    );
    click(&mut first, "Reverse");
    assert!(first.query_by_label_contains("last run").is_none());
    first.get_by_label_contains("Press Sample");
    click(&mut first, "Sample");
    run_until(&mut first, "both models to finish", |app| !app.sampling());
    let recorded = first.state().recorded_steps();
    assert!(recorded.iter().all(|&n| n > 0), "{recorded:?}");
    assert_eq!(first.state().reverse_run_kept_from(), None);
    *first.state_mut().settings_mut().cursor_t = 300;
    first.run_steps(2);
    let shown = first.state().reverse_shown_x_t(1).expect("a frame");
    let kept: Vec<_> = std::fs::read_dir(runs.path())
        .expect("the runs folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    drop(first);

    // The next start shows the same run without sampling it.
    let mut second = start();
    assert_eq!(second.state().recorded_steps(), recorded);
    let sampled_in = second.state().reverse_run_kept_from().expect("kept");
    assert!(sampled_in > 0.0);
    click(&mut second, "Reverse");
    *second.state_mut().settings_mut().cursor_t = 300;
    second.run_steps(2);
    assert_eq!(second.state().reverse_shown_x_t(1), Some(shown));
    second.get_by_label_contains("kept from an earlier session");

    // Other settings sample afresh, and are kept beside the first run.
    second.state_mut().settings_mut().reverse.seed += 1;
    click(&mut second, "Sample");
    run_until(&mut second, "the new run", |app| !app.sampling());
    assert_eq!(second.state().reverse_run_kept_from(), None);
    assert_eq!(std::fs::read_dir(runs.path()).expect("folder").count(), 2);
}
