//! One wgpu device for egui and burn, and the choice of where the mathematics runs.
//!
//! eframe creates the device, asking for the adapter's own limits and features (cubecl sizes
//! its kernels from the adapter, not from what the device was granted); burn then registers the
//! same handles. On a software adapter (Mesa's lavapipe, llvmpipe) burn computes on its CPU
//! backend `flex` instead, which is far faster there, and the adapter only draws the UI.

use std::sync::Arc;

use burn::tensor::Device;
use burn::tensor::wgpu::WgpuSetup;
use eframe::egui_wgpu::{self, wgpu};

/// Environment variable that forces the compute device: `gpu` (the shared wgpu device) or `cpu`.
pub const COMPUTE_ENV: &str = "NOISESCOPE_COMPUTE";

/// Where tensors are computed, and in what words the status line says so.
#[derive(Clone, Debug)]
pub struct ComputeDevice {
    /// The burn device.
    pub device: Device,
    /// What computes, e.g. "NVIDIA H100 (Vulkan, GPU, shared with the UI)".
    pub compute: String,
    /// What draws the UI.
    pub draw: String,
    /// Whether tensors live on the GPU that draws the UI.
    pub shared_with_ui: bool,
}

impl ComputeDevice {
    /// burn's CPU backend, for when there is no usable adapter.
    pub fn cpu(reason: &str) -> Self {
        Self {
            device: Device::flex(),
            compute: format!("CPU (burn flex) — {reason}"),
            draw: "none".to_owned(),
            shared_with_ui: false,
        }
    }

    /// The status line: which device computes and which draws.
    pub fn status_line(&self) -> String {
        format!("compute: {}   ·   draw: {}", self.compute, self.draw)
    }
}

/// eframe's wgpu settings: a device with the adapter's own limits and features.
pub fn wgpu_configuration() -> egui_wgpu::WgpuConfiguration {
    let mut setup = egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    setup.device_descriptor = Arc::new(|adapter: &wgpu::Adapter| wgpu::DeviceDescriptor {
        label: Some("noisescope device"),
        required_features: adapter.features()
            - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS
            - wgpu::Features::all_experimental_mask(),
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        ..Default::default()
    });
    egui_wgpu::WgpuConfiguration {
        wgpu_setup: egui_wgpu::WgpuSetup::CreateNew(setup),
        ..Default::default()
    }
}

/// A one-line description of an adapter: name, backend, and what kind of device it is.
pub fn describe_adapter(info: &wgpu::AdapterInfo) -> String {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        wgpu::DeviceType::VirtualGpu => "virtual GPU",
        wgpu::DeviceType::Cpu => "software (CPU) device",
        wgpu::DeviceType::Other => "unknown device type",
    };
    format!("{} ({:?}, {kind})", info.name, info.backend)
}

/// Whether an adapter is a real GPU rather than a software rasteriser.
pub fn is_hardware(info: &wgpu::AdapterInfo) -> bool {
    matches!(
        info.device_type,
        wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu
    )
}

/// Picks the compute device once the UI's wgpu device exists, registering it with burn when
/// it is a real GPU (or when `NOISESCOPE_COMPUTE=gpu` asks for it).
pub fn compute_device(render_state: Option<&egui_wgpu::RenderState>) -> ComputeDevice {
    let Some(state) = render_state else {
        return ComputeDevice::cpu("the UI is not drawn with wgpu");
    };
    let info = state.adapter.get_info();
    let draw = describe_adapter(&info);
    let forced = std::env::var(COMPUTE_ENV).ok();
    let want_gpu = match forced.as_deref() {
        Some("gpu") => true,
        Some("cpu") => false,
        Some(other) => {
            eprintln!(
                "{COMPUTE_ENV}={other} is neither gpu nor cpu; choosing the device automatically"
            );
            is_hardware(&info)
        }
        None => is_hardware(&info),
    };
    let reason = if forced.as_deref() == Some("cpu") {
        format!("{COMPUTE_ENV}=cpu")
    } else {
        "the only adapter is a software renderer, on which burn's CPU backend is much faster"
            .to_owned()
    };
    if !want_gpu {
        return ComputeDevice {
            draw,
            ..ComputeDevice::cpu(&reason)
        };
    }
    let setup = WgpuSetup {
        instance: state.instance.clone(),
        adapter: state.adapter.clone(),
        device: state.device.clone(),
        queue: state.queue.clone(),
        backend: info.backend,
    };
    match Device::wgpu_options().setup(setup).init() {
        Ok(device) => ComputeDevice {
            device,
            compute: format!("{draw}, shared with the UI"),
            draw,
            shared_with_ui: true,
        },
        Err(error) => ComputeDevice {
            draw,
            ..ComputeDevice::cpu(&format!("burn could not use the UI's device: {error}"))
        },
    }
}
