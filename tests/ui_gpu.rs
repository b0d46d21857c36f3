//! The Forward panel drawn through wgpu (Mesa's lavapipe in CI): with CPU compute the images are
//! drawn by the image shader on a hardware adapter and as egui textures on a software one; with
//! compute on the UI's device the image shader draws them from the tensors' buffers. Either way
//! the pixels match the Rust reference.

mod common;

use std::time::Duration;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::App;
use noisescope::data::IMAGE_SIDE;
use noisescope::gpu::ComputePreference;
use noisescope::render::{Colormap, ValueRange, to_rgba8};

#[test]
fn frames_computed_on_the_cpu_are_shader_drawn_on_hardware_textures_on_software_and_match() {
    if !common::gpu_adapter_or_fail() {
        return;
    }
    let harness = screen_matches_reference(ComputePreference::Cpu);
    let hardware = harness.state().compute_device().draw_on_hardware;
    assert_eq!(harness.state().draws_through_shader(), hardware);
    assert!(!harness.state().draws_from_tensor_buffers());
}

#[test]
fn frames_computed_on_the_shared_gpu_are_drawn_from_the_tensor_buffers() {
    if !common::gpu_adapter_or_fail() {
        return;
    }
    let harness = screen_matches_reference(ComputePreference::Gpu);
    assert!(harness.state().draws_through_shader());
    assert!(harness.state().draws_from_tensor_buffers());
}

/// Opens the Forward panel and compares the first schedule's x_t on screen, cell by cell, with
/// the Rust reference of the image shader.
fn screen_matches_reference(preference: ComputePreference) -> Harness<'static, App> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 950.0))
        .wgpu_setup(noisescope::gpu::wgpu_configuration().wgpu_setup)
        .build_eframe(move |cc| App::with_compute(cc, preference));
    harness
        .get_by_role_and_label(Role::Button, "Forward")
        .click();
    common::run_until(
        &mut harness,
        "the forward frames",
        Duration::from_secs(120),
        App::forward_ready,
    );
    let frame = harness
        .state()
        .displayed_frame(0)
        .expect("a frame")
        .to_vec();
    let rect = harness.get_by_label("x_t of schedule 1").rect();
    let screenshot = harness.render().expect("the wgpu renderer draws");
    let scale = screenshot.width() as f32 / harness.ctx.content_rect().width();
    let reference = to_rgba8(&frame, ValueRange::default(), Colormap::Gray);
    let cell = rect.width() / IMAGE_SIDE as f32;
    let mut worst = 0u8;
    for y in 0..IMAGE_SIDE {
        for x in 0..IMAGE_SIDE {
            let px = ((rect.min.x + (x as f32 + 0.5) * cell) * scale) as u32;
            let py = ((rect.min.y + (y as f32 + 0.5) * cell) * scale) as u32;
            let drawn = screenshot.get_pixel(px, py).0;
            let expected = &reference[(y * IMAGE_SIDE + x) * 4..][..3];
            for channel in 0..3 {
                worst = worst.max(drawn[channel].abs_diff(expected[channel]));
            }
        }
    }
    assert!(
        worst <= 2,
        "worst channel difference between screen and reference: {worst}"
    );
    harness
}
