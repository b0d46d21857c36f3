//! Helpers shared by the integration tests.

#![allow(dead_code)]

use burn::tensor::Device;

/// Environment variable with which CI demands a wgpu adapter: tests fail without one.
pub const REQUIRE_GPU_ENV: &str = "NOISESCOPE_REQUIRE_GPU";

/// Whether a missing adapter must fail the test.
pub fn gpu_required() -> bool {
    std::env::var(REQUIRE_GPU_ENV).is_ok_and(|v| v == "1")
}

/// burn's default wgpu device, or `None` (with a note) when there is none and none is required.
///
/// # Panics
/// When no adapter is found and `NOISESCOPE_REQUIRE_GPU=1`.
pub fn wgpu_device_or_fail() -> Option<Device> {
    // burn registers its wgpu device once per process; tests running side by side share it.
    static DEVICE: std::sync::Mutex<Option<Device>> = std::sync::Mutex::new(None);
    let mut device = DEVICE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if device.is_none() && gpu_adapter_or_fail() {
        *device = Some(
            Device::wgpu_options()
                .init()
                .expect("burn must initialise wgpu on the adapter that was found"),
        );
    }
    device.clone()
}

/// Whether a wgpu adapter exists; panics when none does and one is required.
pub fn gpu_adapter_or_fail() -> bool {
    match pollster_adapter() {
        Some(info) => {
            eprintln!("wgpu adapter: {} ({:?})", info.name, info.backend);
            true
        }
        None if gpu_required() => panic!("{REQUIRE_GPU_ENV}=1 but no wgpu adapter was found"),
        None => {
            eprintln!("no wgpu adapter found; set {REQUIRE_GPU_ENV}=1 to make this a failure");
            false
        }
    }
}

fn pollster_adapter() -> Option<eframe::egui_wgpu::wgpu::AdapterInfo> {
    use eframe::egui_wgpu::wgpu;
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster_block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()));
    adapter.ok().map(|a| a.get_info())
}

/// Runs a future to completion on this thread.
pub fn pollster_block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
        std::thread::yield_now();
    }
}

/// Steps an app's frames until `done` holds, waiting for its worker thread; fails after `limit`.
pub fn run_until<S: eframe::App>(
    harness: &mut egui_kittest::Harness<'static, S>,
    what: &str,
    limit: std::time::Duration,
    done: impl Fn(&S) -> bool,
) {
    let started = std::time::Instant::now();
    while !done(harness.state()) {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    harness.run_steps(2);
}

/// A small untrained network for `spec` written to `path`: a U-Net, or a DAE for
/// t ≤ `dae_t_max`.
pub fn tiny_network(
    path: &std::path::Path,
    spec: noisescope::schedule::ScheduleSpec,
    dae_t_max: Option<usize>,
) {
    tiny_network_of(path, spec, dae_t_max, (0, false));
}

/// [`tiny_network`] conditioned on `classes` classes (0: unconditional) and, with `log_snr`,
/// on the log-SNR instead of the step.
pub fn tiny_network_of(
    path: &std::path::Path,
    spec: noisescope::schedule::ScheduleSpec,
    dae_t_max: Option<usize>,
    (classes, log_snr): (usize, bool),
) {
    use noisescope::model::{
        ModelKind, NoiseInput, TrainingRecord, UNetConfig, WeightsMetadata, save_module,
    };
    let config = UNetConfig::new()
        .with_base_channels(8)
        .with_channel_multipliers(vec![1, 2])
        .with_attention_resolutions(vec![])
        .with_norm_groups(4)
        .with_classes(classes)
        .with_noise_input(if log_snr {
            NoiseInput::LogSnr
        } else {
            NoiseInput::Step
        });
    let metadata = WeightsMetadata {
        kind: if dae_t_max.is_some() {
            ModelKind::Dae
        } else {
            ModelKind::Unet
        },
        architecture: serde_json::to_value(&config).expect("json"),
        schedule: Some(spec),
        dae_t_max,
        training: TrainingRecord::default(),
        written_by: "test".into(),
    };
    save_module(&config.init(&Device::flex()), &metadata, path).expect("save");
}

/// A temporary folder named after `name` (the test), removed when dropped.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("noisescope-{name}-"))
        .tempdir()
        .expect("temp dir")
}

/// A temporary folder (removed when dropped) with small untrained U-Nets and DAEs (t ≤ 250) for
/// both schedules (T = 1000), named as the shipped files are, for UI tests that need models but not
/// trained ones.
pub fn tiny_models_dir() -> tempfile::TempDir {
    use noisescope::schedule::{ScheduleKind, ScheduleSpec};
    let dir = temp_dir("models");
    for (kind, file, dae_t_max) in [
        (ScheduleKind::Linear, "unet-linear.nsw", None),
        (ScheduleKind::Cosine, "unet-cosine.nsw", None),
        (ScheduleKind::Linear, "dae-linear.nsw", Some(250)),
        (ScheduleKind::Cosine, "dae-cosine.nsw", Some(250)),
    ] {
        tiny_network(&dir.path().join(file), ScheduleSpec::new(kind), dae_t_max);
    }
    dir
}

/// A training split of 16 patterned 28×28 images with labels, in IDX files in `dir`.
pub fn tiny_dataset(dir: &std::path::Path) {
    let count = 16u32;
    let mut images = vec![0, 0, 8, 3];
    for v in [count, 28, 28] {
        images.extend_from_slice(&v.to_be_bytes());
    }
    for i in 0..count as usize {
        images.extend((0..784).map(|p| ((p * (i + 1)) % 256) as u8));
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&count.to_be_bytes());
    labels.extend((0..count as u8).map(|i| i % 10));
    std::fs::write(dir.join("train-images-idx3-ubyte"), images).expect("write");
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).expect("write");
}

/// Lays out the frame, clicks the button labelled `label`, and lets the click take effect.
pub fn click<S: eframe::App>(harness: &mut egui_kittest::Harness<'static, S>, label: &str) {
    use egui_kittest::kittest::Queryable;
    harness.run_steps(2);
    harness
        .get_by_role_and_label(eframe::egui::accesskit::Role::Button, label)
        .click();
    harness.run_steps(2);
}

/// The largest absolute difference between `a` and `b`, element by element.
pub fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// The U-Net in `path` evaluated on two flat grey images at t = 7 and t = 700, to compare two
/// weights files.
pub fn unet_outputs(path: &std::path::Path) -> Vec<f32> {
    use burn::tensor::{Tensor, TensorData};
    let device = Device::flex();
    let model = noisescope::model::load_unet(path, None, &device)
        .expect("load")
        .model;
    let x = Tensor::<4>::from_data(
        TensorData::new(vec![0.25f32; 2 * 784], [2, 1, 28, 28]),
        &device,
    );
    noisescope::diffusion::tensor_to_vec(model.module.forward(x, &[7, 700]).reshape([2, 784]))
}
