//! The app driven as a person drives it, through egui_kittest and AccessKit.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::App;
use noisescope::app::Tab;
use noisescope::schedule::ScheduleKind;

/// A file dropped on the window, as the windowing layer hands it to egui.
#[derive(Debug)]
struct DroppedPath(PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn drop_file(harness: &mut Harness<'static, App>, path: PathBuf) {
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(path)));
}

fn harness() -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .build_eframe(|cc| App::new(cc))
}

/// Steps frames until `done` holds, waiting for the worker thread; fails after a minute.
fn run_until(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&App) -> bool) {
    common::run_until(harness, what, Duration::from_secs(60), done);
}

fn open_forward_panel(harness: &mut Harness<'static, App>) {
    harness
        .get_by_role_and_label(Role::Button, "Forward")
        .click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings().tab, Tab::Forward);
    run_until(harness, "the forward frames", App::forward_ready);
}

#[test]
fn changing_a_schedule_kind_changes_the_plotted_schedule() {
    let mut harness = harness();
    let before = harness.state().slots()[0].schedule.betas().to_vec();
    harness.get_by_value("linear").click();
    harness.run();
    harness.get_by_label("sigmoid").click();
    harness.run();
    let slot = &harness.state().slots()[0];
    assert_eq!(slot.schedule.spec().kind, ScheduleKind::Sigmoid);
    assert_ne!(slot.schedule.betas(), before.as_slice());
    assert!(slot.error.is_none());
}

#[test]
fn editing_a_parameter_changes_the_schedule_and_bad_values_are_rejected() {
    let mut harness = harness();
    let steps = harness.get_all_by_value("1000").next();
    steps
        .expect("the T field of the first schedule")
        .set_value_accesskit(250.0);
    harness.run();
    assert_eq!(harness.state().slots()[0].schedule.steps(), 250);
    assert_eq!(harness.state().slots()[0].schedule.betas().len(), 250);

    let beta_end = harness.get_by_value("0.020000");
    beta_end.set_value_accesskit(1.5);
    harness.run();
    let slot = &harness.state().slots()[0];
    let error = slot.error.as_deref().expect("β_end = 1.5 is rejected");
    assert!(error.contains("β_end = 1.5"), "{error}");
    assert_eq!(
        slot.schedule.spec().beta_end,
        0.02,
        "the last valid schedule is kept"
    );
    assert_eq!(slot.schedule.steps(), 250);
    harness.get_by_label_contains("Rejected: β_end = 1.5");
}

#[test]
fn a_dropped_diffusers_config_becomes_a_schedule_and_a_bad_one_changes_nothing() {
    use noisescope::schedule::ScheduleKind;
    let fixture = |name: &str| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/diffusers/{name}"))
    };
    let mut harness = harness();
    drop_file(&mut harness, fixture("zero-snr-v-prediction.json"));
    harness.run();
    let slots = harness.state().slots();
    assert_eq!(slots.len(), 3, "added beside linear and cosine");
    let imported = &slots[2];
    assert_eq!(imported.schedule.spec().kind, ScheduleKind::ScaledLinear);
    assert!(imported.schedule.spec().zero_terminal_snr);
    assert_eq!(imported.schedule.spec().beta_start, 0.00085);
    let note = imported.note.clone().unwrap_or_default();
    assert!(
        note.contains("v_prediction") && note.contains("trailing"),
        "{note}"
    );
    harness.get_by_label_contains("from the diffusers config zero-snr-v-prediction.json");

    let temp = tempfile::tempdir().expect("temp dir");
    let bad = temp.path().join("scheduler_config.json");
    std::fs::write(&bad, r#"{"trained_betas": [0.1, 0.2]}"#).expect("write");
    harness.state_mut().import_schedule_config(&bad);
    harness.run();
    let error = harness
        .state()
        .schedule_import_error()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("trained_betas"), "{error}");
    assert_eq!(harness.state().slots().len(), 3, "nothing changed");
}

/// Presses `key` and lets the frame take it.
fn press(harness: &mut Harness<'static, App>, key: egui::Key) {
    harness.key_press(key);
    harness.run();
}

#[test]
fn number_keys_switch_panels_home_and_end_move_the_cursor_and_question_mark_lists_the_keys() {
    use noisescope::app::Tab;
    let mut harness = harness();
    harness.run();
    press(&mut harness, egui::Key::Num2);
    assert_eq!(harness.state().settings().tab, Tab::Forward);
    press(&mut harness, egui::Key::Num6);
    assert_eq!(harness.state().settings().tab, Tab::Playground);
    press(&mut harness, egui::Key::Num1);
    assert_eq!(harness.state().settings().tab, Tab::Schedules);
    press(&mut harness, egui::Key::End);
    assert_eq!(harness.state().settings().cursor_t, 1000);
    press(&mut harness, egui::Key::Home);
    assert_eq!(harness.state().settings().cursor_t, 1);
    assert!(!harness.state().keys_shown());
    press(&mut harness, egui::Key::Questionmark);
    assert!(harness.state().keys_shown());
    harness.get_by_label("Keyboard shortcuts");
    press(&mut harness, egui::Key::Escape);
    assert!(!harness.state().keys_shown());
    // Text alone grows by a tenth; the light theme for projectors is kept too.
    harness.get_by_label("Text +").click();
    harness.run();
    assert!((harness.state().settings().text_size - 1.1).abs() < 1e-6);
    harness.get_by_label("Light").click();
    harness.run();
    assert_eq!(
        harness.state().settings().theme,
        noisescope::app::Theme::Light
    );
    let style = harness.ctx.style_of(harness.ctx.theme());
    assert_eq!(style.visuals.panel_fill, egui::Color32::WHITE);
    // The zoom buttons step by a quarter and the zoom is kept with the settings.
    harness.get_by_label("Zoom +").click();
    harness.run();
    assert_eq!(harness.state().settings().zoom, 1.25);
}

#[test]
fn adding_schedules_stops_at_four() {
    let mut harness = harness();
    for _ in 0..3 {
        harness.get_by_label("+ Add schedule").click();
        harness.run();
    }
    assert_eq!(harness.state().slots().len(), 4);
}

#[test]
fn moving_t_changes_the_displayed_frame() {
    let mut harness = harness();
    open_forward_panel(&mut harness);
    let t = harness.state().settings().cursor_t;
    let before = harness
        .state()
        .displayed_frame(0)
        .expect("a frame")
        .to_vec();
    harness.key_press(egui::Key::ArrowRight);
    harness.run_steps(2);
    assert_eq!(harness.state().settings().cursor_t, t + 1);
    let after = harness
        .state()
        .displayed_frame(0)
        .expect("a frame")
        .to_vec();
    assert_ne!(before, after, "x_t at t+1 differs from x_t");

    harness
        .get_by_role_and_label(Role::Slider, "t")
        .set_value_accesskit(900.0);
    harness.run_steps(2);
    assert_eq!(harness.state().settings().cursor_t, 900);
    let late = harness
        .state()
        .displayed_frame(0)
        .expect("a frame")
        .to_vec();
    assert_ne!(late, after);
}

#[test]
fn a_corrupt_image_shows_an_error_and_keeps_the_previous_image() {
    let mut harness = harness();
    open_forward_panel(&mut harness);
    let previous = harness.state().source().name.clone();
    let dir = common::temp_dir("image");
    let path = dir.path().join("noisescope-corrupt.png");
    std::fs::write(&path, b"\x89PNG\r\n\x1a\nthis is not really a png").expect("temp file");
    drop_file(&mut harness, path);
    run_until(&mut harness, "the error", |app| app.image_error().is_some());
    let error = harness.state().image_error().expect("an error").to_owned();
    assert!(error.contains("not a readable image"), "{error}");
    assert_eq!(harness.state().source().name, previous);
    harness.get_by_label_contains("still showing");
}

#[test]
fn a_dropped_image_is_converted_and_noised() {
    let mut harness = harness();
    open_forward_panel(&mut harness);
    let dir = common::temp_dir("image");
    let path = dir.path().join("noisescope-drop.png");
    image::RgbaImage::from_pixel(64, 48, image::Rgba([250, 250, 250, 255]))
        .save(&path)
        .expect("temp image");
    drop_file(&mut harness, path);
    run_until(&mut harness, "the dropped image", |app| {
        app.source().name.starts_with("noisescope-drop")
    });
    assert!(
        harness
            .state()
            .source()
            .notes
            .iter()
            .any(|n| n.contains("cropped"))
    );
    run_until(&mut harness, "its frames", App::forward_ready);
    harness.get_by_label_contains("resized from 48×48 to 28×28");
}

#[test]
fn arrow_keys_step_t_after_a_button_was_clicked() {
    let mut harness = harness();
    open_forward_panel(&mut harness);
    harness.get_by_label("New seed").click();
    harness.run_steps(2);
    run_until(&mut harness, "frames of the new seed", App::forward_ready);
    let t = harness.state().settings().cursor_t;
    harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowRight);
    harness.run_steps(2);
    assert_eq!(harness.state().settings().cursor_t, t + 10);
    harness.key_press(egui::Key::ArrowLeft);
    harness.run_steps(2);
    assert_eq!(harness.state().settings().cursor_t, t + 9);
}

#[test]
fn the_status_line_names_the_assets_folder_in_use() {
    let mut harness = harness();
    harness.run_steps(2);
    let dir = harness
        .state()
        .assets_dir()
        .expect("the assets are found")
        .to_owned();
    assert!(dir.join("fashion-mnist").is_dir(), "{}", dir.display());
    // Shown relative to the working folder (the package, under cargo test).
    let working = std::env::current_dir().expect("cwd");
    let shown = dir.strip_prefix(&working).unwrap_or(&dir);
    assert!(shown.is_relative(), "{}", shown.display());
    harness.get_by_label_contains(&format!("assets: {}", shown.display()));
}

#[test]
fn c_hides_the_controls_so_the_figures_fill_the_screen_and_shows_them_again() {
    let mut harness = harness();
    open_forward_panel(&mut harness);
    assert!(harness.query_by_label("Open image…").is_some());
    press(&mut harness, egui::Key::C);
    assert!(
        harness.query_by_label("Open image…").is_none(),
        "controls hidden"
    );
    // The t slider and the frames stay.
    harness.get_by_label("x_t of schedule 1");
    press(&mut harness, egui::Key::C);
    assert!(harness.query_by_label("Open image…").is_some());
}
