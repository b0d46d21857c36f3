//! The Analysis panel driven through egui_kittest: measure, reuse the cache, overlay unseen
//! data, cancel, and missing weights.

mod common;

use std::path::Path;
use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::App;
use noisescope::app::{ModelsShown, ProbeChoice, SamplerChoice, Tab};

fn harness(dir: &Path) -> Harness<'static, App> {
    let dir = dir.to_owned();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(move |cc| App::new(cc).with_models_dir(dir.clone()));
    harness
        .get_by_role_and_label(Role::Button, "Analysis")
        .click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings().tab, Tab::Analysis);
    let settings = &mut harness.state_mut().settings_mut().analysis;
    settings.models = ModelsShown::Both;
    settings.data = ProbeChoice::FashionMnist;
    settings.n = 4;
    settings.sampler = SamplerChoice::Ddim;
    settings.steps = 10;
    harness
}

fn run_until(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    common::run_until(harness, what, Duration::from_secs(120), done);
}

/// The error the panel shows, or "".
fn shown_error(harness: &Harness<'static, App>) -> String {
    harness
        .state()
        .analysis_error()
        .unwrap_or_default()
        .to_owned()
}

/// Clicks Measure once the layout shows the settings as changed.
fn measure(harness: &mut Harness<'static, App>) {
    harness.run_steps(2);
    harness
        .get_by_role_and_label(Role::Button, "Measure")
        .click();
    harness.run_steps(2);
}

#[test]
fn measuring_streams_points_and_finished_curves_come_from_the_cache() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    harness.state_mut().settings_mut().analysis.t_list = "50, 1, 10".into();
    measure(&mut harness);
    run_until(&mut harness, "both curves", |app| !app.analysing());
    assert_eq!(harness.state().analysis_points(), vec![3, 3]);
    assert!(harness.state().analysis_error().is_none());

    measure(&mut harness);
    assert!(!harness.state().analysing(), "cached curves need no job");
    assert_eq!(harness.state().analysis_points(), vec![3, 3]);

    {
        let settings = &mut harness.state_mut().settings_mut().analysis;
        settings.data = ProbeChoice::Mnist;
        settings.overlay_in_distribution = true;
    }
    measure(&mut harness);
    assert_eq!(
        harness.state().analysis_points(),
        vec![3, 3, 0, 0],
        "Fashion-MNIST from the cache, MNIST to measure"
    );
    run_until(&mut harness, "the MNIST curves", |app| !app.analysing());
    assert_eq!(harness.state().analysis_points(), vec![3, 3, 3, 3]);
}

#[test]
fn the_default_t_list_spans_each_models_own_t() {
    use noisescope::diffusion::{DEFAULT_T_COUNT, default_t_values};
    use noisescope::schedule::{ScheduleKind, ScheduleSpec};
    let models = common::tiny_models_dir();
    let mut short = ScheduleSpec::new(ScheduleKind::Cosine);
    short.steps = 200;
    common::tiny_network(&models.path().join("unet-cosine.nsw"), short, None);
    let mut harness = harness(models.path());
    harness.state_mut().settings_mut().analysis.t_list.clear();
    measure(&mut harness);
    run_until(&mut harness, "both default curves", |app| !app.analysing());
    assert!(harness.state().analysis_error().is_none());
    assert_eq!(
        harness.state().analysis_steps(),
        [
            default_t_values(1000, DEFAULT_T_COUNT),
            default_t_values(200, DEFAULT_T_COUNT)
        ]
    );

    harness.state_mut().settings_mut().analysis.t_list = "3, 500".into();
    measure(&mut harness);
    run_until(&mut harness, "the listed curves", |app| !app.analysing());
    let error = shown_error(&harness);
    assert!(
        error.contains("t = 500") && error.contains("1..=200"),
        "{error}"
    );
    assert_eq!(harness.state().analysis_steps(), [vec![3, 500], vec![]]);
}

#[test]
fn cancel_stops_the_analysis_job() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    {
        let settings = &mut harness.state_mut().settings_mut().analysis;
        settings.sampler = SamplerChoice::Ddpm;
        settings.n = 8;
    }
    measure(&mut harness);
    run_until(&mut harness, "the first point", |app| {
        app.analysis_points().iter().any(|&n| n > 0)
    });
    harness
        .get_by_role_and_label(Role::Button, "Cancel")
        .click();
    harness.run_steps(2);
    assert!(!harness.state().analysing());
    let measured = harness.state().analysis_points();
    // The job stops at its next check; whatever it still sent is dropped.
    run_until(&mut harness, "the job to stop computing", App::jobs_idle);
    assert_eq!(harness.state().analysis_points(), measured);
    assert!(measured.iter().sum::<usize>() < 50, "{measured:?}");
}

#[test]
fn bad_requests_are_reported_in_the_panel() {
    let empty = common::temp_dir("ui-analysis-empty");
    let mut harness = harness(empty.path());
    harness.state_mut().settings_mut().analysis.t_list = "3, 0".into();
    measure(&mut harness);
    let error = shown_error(&harness);
    assert!(
        error.contains("t = 0") && error.contains("1-based"),
        "{error}"
    );

    harness.state_mut().settings_mut().analysis.t_list = "5".into();
    measure(&mut harness);
    run_until(&mut harness, "the error", |app| !app.analysing());
    let error = shown_error(&harness);
    assert!(
        error.contains("unet-linear.nsw") && error.contains("noisescope train"),
        "{error}"
    );
}

#[test]
fn the_switching_point_survives_the_analysis_slider_and_auto_uses_the_daed_model() {
    use noisescope::app::ShippedPair;
    use noisescope::schedule::{Schedule, ScheduleKind, ScheduleSpec, daed_switch};
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    {
        let settings = harness.state_mut().settings_mut();
        settings.daed.model = ShippedPair::Cosine;
        // s = 0 (the full chain) is a DAED choice outside the Analysis slider's 1..=T.
        *settings.switch_t = 0;
    }
    harness.run_steps(3);
    assert_eq!(
        harness.state().settings().switch_t,
        0,
        "drawing the slider must not move the switching point"
    );
    harness.get_by_role_and_label(Role::Button, "auto").click();
    harness.run_steps(2);
    let settings = harness.state().settings();
    let cosine = Schedule::new(ScheduleSpec::new(ScheduleKind::Cosine)).expect("valid");
    let expected = daed_switch(&cosine, settings.beta1).expect("switch");
    let linear = Schedule::new(ScheduleSpec::new(ScheduleKind::Linear)).expect("valid");
    let under_linear = daed_switch(&linear, settings.beta1).expect("switch");
    assert_ne!(expected.t, under_linear.t, "the test must tell them apart");
    assert_eq!(settings.switch_t, expected.t);
}

#[test]
fn dragging_in_the_log_snr_plot_moves_the_switching_point() {
    let models = common::tiny_models_dir();
    let mut harness = harness(models.path());
    *harness.state_mut().settings_mut().switch_t = 100;
    harness.run_steps(2);
    // The plot lies under its title, across the panel; t runs from 1 on the left to T = 1000.
    let title = harness
        .get_by_label("log-SNR λ_t of the compared schedules (dotted: 10 % and 20 % of the steps)")
        .rect();
    let width = harness.ctx.content_rect().width();
    let at = |fraction: f32| egui::pos2(width * fraction, title.bottom() + 60.0);
    harness.hover_at(at(0.55));
    harness.run_steps(1);
    harness.drag_at(at(0.55));
    harness.run_steps(1);
    harness.hover_at(at(0.6));
    harness.run_steps(1);
    harness.drop_at(at(0.6));
    harness.run_steps(2);
    let s = harness.state().settings().switch_t;
    assert!(
        (450..=750).contains(&s),
        "s = {s} after a drag to 60 % of the width"
    );
}

#[test]
fn export_csv_writes_every_measured_point_into_the_export_folder_under_a_fresh_name() {
    let models = common::tiny_models_dir();
    let out = common::temp_dir("ui-analysis-export");
    let path = out.path().join("analysis-reconstruction.csv");
    let mut harness = harness(models.path());
    harness.state_mut().settings_mut().analysis.t_list = "5, 20".into();
    harness.state_mut().settings_mut().export.folder = out.path().to_string_lossy().into_owned();
    let button = "CSV: the measured points";
    // Nothing measured yet: the button does nothing.
    common::click(&mut harness, button);
    assert!(!path.exists());
    measure(&mut harness);
    run_until(&mut harness, "both curves", |app| !app.analysing());
    harness.get_by_role_and_label(Role::Button, button).click();
    harness.run_steps(2);
    let csv = std::fs::read_to_string(&path).expect("the export");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].contains("t,") && lines[0].contains("mse_chain"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 1 + 4, "two curves of two points: {csv}");
    harness.get_by_label_contains("wrote 4 rows");
    // Again: a second file, the first one kept.
    harness.get_by_role_and_label(Role::Button, button).click();
    harness.run_steps(2);
    let again = out.path().join("analysis-reconstruction-2.csv");
    assert_eq!(std::fs::read_to_string(again).expect("a second file"), csv);
}

#[test]
fn a_log_snr_model_is_measured_under_a_compared_schedule_and_a_step_model_refuses_it() {
    use noisescope::app::SamplingChoice;
    use noisescope::schedule::{ScheduleKind, ScheduleSpec};
    let models = common::temp_dir("logsnr-models");
    for (kind, file, log_snr) in [
        (ScheduleKind::Linear, "unet-linear.nsw", true),
        (ScheduleKind::Cosine, "unet-cosine.nsw", false),
    ] {
        let path = models.path().join(file);
        common::tiny_network_of(&path, ScheduleSpec::new(kind), None, (0, log_snr));
    }
    let mut harness = harness(models.path());
    {
        let settings = &mut harness.state_mut().settings_mut().analysis;
        settings.t_list = "1, 500".into();
        // Slot 2 of the Schedules panel: cosine.
        settings.condition.sampling = SamplingChoice::Compared(1);
    }
    measure(&mut harness);
    run_until(&mut harness, "both curves", |app| !app.analysing());
    assert_eq!(harness.state().analysis_points(), vec![2, 0]);
    let curves = harness.state().analysis_curve_schedules();
    let (schedule, notes) = (&curves[0].schedule, &curves[0].notes);
    assert_eq!(
        schedule.as_ref().map(|s| s.kind),
        Some(ScheduleKind::Cosine),
        "the linear model was noised and reconstructed under cosine"
    );
    assert!(
        notes.iter().any(|n| n.contains("nearest trained λ")),
        "{notes:?}"
    );
    let error = shown_error(&harness);
    assert!(error.contains("conditioned on the log-SNR"), "{error}");
}
