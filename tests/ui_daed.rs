//! The DAED panel driven through egui_kittest: sample, move the switching point, sweep, cancel.

mod common;

use std::path::Path;
use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::App;
use noisescope::app::{SamplerChoice, Tab};

fn harness(dir: &Path) -> Harness<'static, App> {
    let dir = dir.to_owned();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(move |cc| App::new(cc).with_models_dir(dir.clone()));
    harness.get_by_role_and_label(Role::Button, "DAED").click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings().tab, Tab::Daed);
    let settings = harness.state_mut().settings_mut();
    settings.daed.batch = 4;
    settings.daed.sampler = SamplerChoice::Ddim;
    settings.daed.steps = 20;
    *settings.switch_t = 100;
    harness.run_steps(2);
    harness
}

fn run_until(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    common::run_until(harness, what, Duration::from_secs(120), done);
}

use common::click;

#[test]
fn moving_the_switching_point_updates_the_samples() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    click(&mut harness, "Sample");
    assert!(harness.state().daed_running());
    run_until(&mut harness, "the samples", |app| {
        app.daed_shown_s().is_some()
    });
    assert_eq!(harness.state().daed_shown_s(), Some(100));
    assert!(harness.state().daed_error().is_none());
    let at_100 = harness
        .state()
        .daed_shown_images()
        .expect("images")
        .to_vec();

    // Typing "40" passes through s = 4: the samples follow only once s rests.
    *harness.state_mut().settings_mut().switch_t = 4;
    harness.run_steps(3);
    *harness.state_mut().settings_mut().switch_t = 40;
    harness.run_steps(3);
    assert!(
        !harness.state().daed_running(),
        "no job while s still moves"
    );
    run_until(&mut harness, "the samples at s = 40", |app| {
        assert_ne!(app.daed_shown_s(), Some(4), "s = 4 was passed through");
        app.daed_shown_s() == Some(40)
    });
    let at_40 = harness
        .state()
        .daed_shown_images()
        .expect("images")
        .to_vec();
    assert_ne!(at_100, at_40, "another switching point, other DAED images");

    *harness.state_mut().settings_mut().switch_t = 100;
    run_until(&mut harness, "the samples at s = 100 again", |app| {
        app.daed_shown_s() == Some(100)
    });
    assert_eq!(
        harness.state().daed_shown_images().expect("images"),
        at_100.as_slice(),
        "the same chain hands over the same x_s"
    );
}

#[test]
fn the_sweep_reports_progress_finishes_and_can_be_cancelled() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    {
        let settings = &mut harness.state_mut().settings_mut().daed;
        settings.sweep_images = 6;
        settings.sweep_points = 3;
    }
    click(&mut harness, "Run sweep");
    assert!(harness.state().daed_running());
    assert_eq!(harness.state().daed_progress().0, Some((0, 6)));
    run_until(&mut harness, "the test-set phase", |app| {
        app.daed_progress().1.is_some()
    });
    harness.run_steps(1);
    harness.get_by_label("measuring the test images' classifier features (once)");
    run_until(&mut harness, "counted progress", |app| {
        matches!(app.daed_progress(), (Some((done, 6)), None) if done > 0) || !app.daed_running()
    });
    run_until(&mut harness, "the sweep", |app| !app.daed_running());
    assert_eq!(harness.state().daed_progress(), (None, None));
    assert!(
        harness.state().daed_error().is_none(),
        "{:?}",
        harness.state().daed_error()
    );
    assert_eq!(harness.state().daed_sweep_points(), Some(vec![0, 125, 250]));
    // As a table in the export folder: a header and one row per point.
    let out = common::temp_dir("ui-daed-sweep-csv");
    harness.state_mut().settings_mut().export.folder = out.path().to_string_lossy().into_owned();
    click(&mut harness, "CSV: the sweep");
    let csv = std::fs::read_to_string(out.path().join("daed-sweep.csv")).expect("the CSV");
    assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
    assert!(csv.starts_with("t_switch,frac_saved,fid_daed"), "{csv}");

    harness.state_mut().settings_mut().daed.sweep_images = 400;
    click(&mut harness, "Run sweep");
    run_until(&mut harness, "sweep progress", |app| app.daed_running());
    click(&mut harness, "Cancel");
    assert!(!harness.state().daed_running());
    run_until(&mut harness, "the job to stop computing", App::jobs_idle);
    assert!(!harness.state().daed_running());
    assert_eq!(
        harness.state().daed_sweep_points(),
        Some(vec![0, 125, 250]),
        "the finished sweep stays on screen"
    );
}

#[test]
fn a_class_with_guidance_changes_the_samples_and_an_unconditional_model_refuses_it() {
    use noisescope::schedule::{ScheduleKind, ScheduleSpec};
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    harness.state_mut().settings_mut().daed.condition.class = Some(4);
    click(&mut harness, "Sample");
    run_until(&mut harness, "the refusal", |app| !app.daed_running());
    let error = harness.state().daed_error().unwrap_or_default().to_owned();
    assert!(error.contains("not class-conditioned"), "{error}");

    let path = models.path().join("unet-linear.nsw");
    common::tiny_network_of(
        &path,
        ScheduleSpec::new(ScheduleKind::Linear),
        None,
        (10, false),
    );
    let mut harness = self::harness(models.path());
    let mut images = Vec::new();
    for (class, guidance) in [(None, 0.0), (Some(4), 3.0)] {
        {
            let condition = &mut harness.state_mut().settings_mut().daed.condition;
            condition.class = class;
            condition.guidance = guidance;
        }
        click(&mut harness, "Sample");
        run_until(&mut harness, "the samples", |app| {
            !app.daed_running() && app.daed_shown_s().is_some()
        });
        assert!(harness.state().daed_error().is_none());
        images.push(
            harness
                .state()
                .daed_shown_images()
                .expect("images")
                .to_vec(),
        );
    }
    assert_ne!(
        images[0], images[1],
        "guidance towards a class changes the images"
    );
}

#[test]
fn the_autoencoder_of_its_own_is_chosen_in_the_panel_and_a_missing_one_is_named() {
    use noisescope::app::DaeChoice;
    use noisescope::schedule::{ScheduleKind, ScheduleSpec};
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    harness.state_mut().settings_mut().daed.dae = DaeChoice::Separate;
    click(&mut harness, "Sample");
    run_until(&mut harness, "the refusal", |app| !app.daed_running());
    let error = harness.state().daed_error().unwrap_or_default().to_owned();
    assert!(error.contains("dae-linear-separate.nsw"), "{error}");

    // Another network than the fine-tuned one: other DAED images from the same chain.
    let path = models.path().join("dae-linear-separate.nsw");
    common::tiny_network_of(
        &path,
        ScheduleSpec::new(ScheduleKind::Linear),
        Some(250),
        (0, false),
    );
    let mut images = Vec::new();
    for choice in [DaeChoice::FineTuned, DaeChoice::Separate] {
        harness.state_mut().settings_mut().daed.dae = choice;
        click(&mut harness, "Sample");
        run_until(&mut harness, "the samples", |app| {
            !app.daed_running() && app.daed_shown_s().is_some()
        });
        assert!(harness.state().daed_error().is_none());
        images.push(
            harness
                .state()
                .daed_shown_images()
                .expect("images")
                .to_vec(),
        );
    }
    assert_ne!(images[0], images[1]);
}

#[test]
fn a_log_snr_model_samples_under_a_compared_schedule_with_the_autoencoder_at_the_same_noise() {
    use noisescope::app::SamplingChoice;
    use noisescope::schedule::{ScheduleKind, ScheduleSpec};
    let models = common::tiny_models_dir();
    let path = models.path().join("unet-linear.nsw");
    common::tiny_network_of(
        &path,
        ScheduleSpec::new(ScheduleKind::Linear),
        None,
        (0, true),
    );
    let mut harness = harness(models.path());
    harness.state_mut().settings_mut().daed.condition.sampling = SamplingChoice::Compared(1);
    click(&mut harness, "Sample");
    run_until(&mut harness, "the samples", |app| {
        !app.daed_running() && app.daed_shown_s().is_some()
    });
    assert!(harness.state().daed_error().is_none());
    let (schedule, t_max, note) = harness.state().daed_shown_schedule().expect("samples");
    assert_eq!(schedule.kind, ScheduleKind::Cosine);
    // The linear schedule's step 250 has the λ of a much later cosine step.
    assert!(t_max > 400 && t_max < 600, "t_max {t_max} in cosine steps");
    assert!(note.is_some_and(|n| n.contains("nearest trained λ")));

    // A step-conditioned model cannot.
    harness.state_mut().settings_mut().daed.model = noisescope::app::ShippedPair::Cosine;
    click(&mut harness, "Sample");
    run_until(&mut harness, "the refusal", |app| !app.daed_running());
    let error = harness.state().daed_error().unwrap_or_default().to_owned();
    assert!(error.contains("conditioned on the log-SNR"), "{error}");
}
