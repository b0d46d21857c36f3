//! Each panel as drawn through wgpu (Mesa's lavapipe in CI), compared with the images in
//! tests/snapshots/: a change of layout shows as a failed comparison with a diff image beside
//! the snapshot. After an intended change: `UPDATE_SNAPSHOTS=1 cargo test --test ui_snapshots`,
//! look at the new images, and commit them.

mod common;

use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use noisescope::App;
use noisescope::gpu::ComputePreference;

fn harness() -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 820.0))
        .wgpu_setup(noisescope::gpu::wgpu_configuration().wgpu_setup)
        .build_eframe(|cc| App::with_compute(cc, ComputePreference::Cpu))
}

/// The panel under `tab` after it settled, against its snapshot. A few hundred pixels may
/// differ (text antialiasing); a moved widget changes thousands.
fn panel_matches_its_snapshot(tab: &str, name: &str) {
    if !common::gpu_adapter_or_fail() {
        return;
    }
    let mut harness = harness();
    harness.get_by_role_and_label(Role::Button, tab).click();
    harness.run_steps(2);
    if tab == "Forward" {
        common::run_until(
            &mut harness,
            "the forward frames",
            Duration::from_secs(120),
            App::forward_ready,
        );
    }
    harness.run_steps(4);
    let options = SnapshotOptions::new().max_failed_pixels(400);
    harness.snapshot_options(name, &options);
}

#[test]
fn the_schedules_panel_looks_as_before() {
    panel_matches_its_snapshot("Schedules", "schedules");
}

#[test]
fn the_forward_panel_looks_as_before() {
    panel_matches_its_snapshot("Forward", "forward");
}

#[test]
fn the_reverse_panel_looks_as_before() {
    panel_matches_its_snapshot("Reverse", "reverse");
}

#[test]
fn the_analysis_panel_looks_as_before() {
    panel_matches_its_snapshot("Analysis", "analysis");
}

#[test]
fn the_daed_panel_looks_as_before() {
    panel_matches_its_snapshot("DAED", "daed");
}

#[test]
fn the_playground_panel_looks_as_before() {
    panel_matches_its_snapshot("Playground", "playground");
}
