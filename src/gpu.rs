//! One wgpu device for egui and burn, and the choice of where the mathematics runs.
//!
//! eframe creates the device, asking for the adapter's own limits and features (cubecl sizes
//! its kernels from the adapter, not from what the device was granted); burn then registers the
//! same handles. On a software adapter (Mesa's lavapipe, llvmpipe) the mathematics runs on the
//! CPU instead (the U-Nets on the project's own kernels, the rest on burn's CPU backend `flex`),
//! which is far faster there, and the adapter only draws the UI.

use std::any::Any;
use std::sync::{Arc, Mutex};

use burn::backend::wgpu::{AutoCompiler, CubeBackend, Wgpu};
use burn::cubecl::wgpu::WgpuServer;
use burn::tensor::wgpu::WgpuSetup;
use burn::tensor::{Device, Tensor};
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
    /// Whether the UI is drawn by a hardware GPU (not a software rasteriser).
    pub draw_on_hardware: bool,
}

impl ComputeDevice {
    /// The CPU (the project's kernels for the U-Nets, burn's CPU backend for the rest), for
    /// when there is no usable adapter.
    pub fn cpu(reason: &str) -> Self {
        Self {
            device: Device::flex(),
            compute: format!("CPU ({}) — {reason}", crate::model::cpu_compute_label()),
            draw: "none".to_owned(),
            shared_with_ui: false,
            draw_on_hardware: false,
        }
    }

    /// Whether images are drawn by the WGSL paint callback rather than as egui textures: on a
    /// hardware GPU, and whenever burn computes on the UI's device (frames are then drawn
    /// straight from the tensors' buffers). A software rasteriser with CPU compute draws
    /// textures: there is no transfer to save, and Mesa's lavapipe keeps about 10 KB of memory
    /// per callback draw, which grew the app by gigabytes while a job repainted the screen.
    pub fn images_through_shader(&self) -> bool {
        self.draw_on_hardware || self.shared_with_ui
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
        required_features: features_for_burn(adapter),
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        ..Default::default()
    });
    egui_wgpu::WgpuConfiguration {
        wgpu_setup: egui_wgpu::WgpuSetup::CreateNew(setup),
        ..Default::default()
    }
}

/// The features cubecl assumes from the adapter, minus those a shared device must not enable.
fn features_for_burn(adapter: &wgpu::Adapter) -> wgpu::Features {
    adapter.features()
        - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS
        - wgpu::Features::all_experimental_mask()
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

/// Where the user wants tensors computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ComputePreference {
    /// The UI's GPU if it is a real one, burn's CPU backend otherwise.
    #[default]
    Auto,
    /// The UI's wgpu device, even a software one.
    Gpu,
    /// burn's CPU backend.
    Cpu,
}

impl ComputePreference {
    /// The preference `NOISESCOPE_COMPUTE` names (`gpu`, `cpu`); `Auto` otherwise, with a note on
    /// stderr for a value it does not know.
    pub fn from_env() -> Self {
        match std::env::var(COMPUTE_ENV).ok().as_deref() {
            None => Self::Auto,
            Some("gpu") => Self::Gpu,
            Some("cpu") => Self::Cpu,
            Some(other) => {
                eprintln!(
                    "{COMPUTE_ENV}={other} is neither gpu nor cpu; choosing the device automatically"
                );
                Self::Auto
            }
        }
    }
}

/// Picks the compute device once the UI's wgpu device exists, registering that device with burn
/// when it is a real GPU (or when the preference asks for it).
pub fn compute_device(
    render_state: Option<&egui_wgpu::RenderState>,
    preference: ComputePreference,
) -> ComputeDevice {
    let Some(state) = render_state else {
        return ComputeDevice::cpu("the UI is not drawn with wgpu");
    };
    let info = state.adapter.get_info();
    let draw = describe_adapter(&info);
    let draw_on_hardware = is_hardware(&info);
    let want_gpu = match preference {
        ComputePreference::Auto => draw_on_hardware,
        ComputePreference::Gpu => true,
        ComputePreference::Cpu => false,
    };
    let reason = if preference == ComputePreference::Cpu {
        format!("{COMPUTE_ENV}=cpu")
    } else {
        "the only adapter is a software renderer, and the CPU is much faster".to_owned()
    };
    if !want_gpu {
        return ComputeDevice {
            draw,
            draw_on_hardware,
            ..ComputeDevice::cpu(&reason)
        };
    }
    // cubecl plans its kernels from the adapter's features; a device created without them fails.
    let missing = features_for_burn(&state.adapter) - state.device.features();
    if !missing.is_empty() {
        return ComputeDevice {
            draw,
            draw_on_hardware,
            ..ComputeDevice::cpu(&format!(
                "the UI's device lacks adapter features burn relies on ({missing:?})"
            ))
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
            draw_on_hardware,
        },
        Err(error) => ComputeDevice {
            draw,
            draw_on_hardware,
            ..ComputeDevice::cpu(&format!("burn could not use the UI's device: {error}"))
        },
    }
}

/// A tensor's values where they already are: the wgpu buffer burn computed them in.
///
/// Drawing from it needs no copy to or from the CPU. The tensor and cubecl's claim on its
/// memory are held here, so the memory is not reused while the UI may still draw it.
pub struct GpuValues {
    /// The buffer (usage STORAGE | COPY_SRC | COPY_DST, on the device the UI draws with).
    pub buffer: wgpu::Buffer,
    /// Where the tensor's first value sits in `buffer`, in bytes.
    pub byte_offset: u64,
    _keep_alive: Mutex<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for GpuValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuValues")
            .field("byte_offset", &self.byte_offset)
            .finish_non_exhaustive()
    }
}

/// The GPU buffer behind a float tensor on burn's wgpu backend, after its pending work has been
/// submitted; an error (with the reason) for tensors on other backends.
pub fn gpu_values(tensor: Tensor<2>) -> Result<GpuValues, String> {
    let fusion = tensor
        .try_into_primitive::<Wgpu>()
        .map_err(|e| format!("the tensor is not on burn's wgpu backend: {e:?}"))?;
    let client = fusion.client.clone();
    let cube = client.resolve_tensor_float::<CubeBackend>(fusion);
    let resource = cube
        .client
        .get_resource::<WgpuServer<AutoCompiler>>(cube.handle.clone())
        .map_err(|e| format!("cubecl did not hand out the tensor's buffer: {e:?}"))?;
    let buffer = resource.resource().buffer.clone();
    let byte_offset = resource.resource().offset;
    Ok(GpuValues {
        buffer,
        byte_offset,
        _keep_alive: Mutex::new(Box::new((cube, resource))),
    })
}

#[cfg(test)]
mod tests {
    use super::ComputeDevice;

    #[test]
    fn images_go_through_the_shader_on_hardware_or_with_shared_tensors_only() {
        let software = ComputeDevice::cpu("test");
        assert!(!software.images_through_shader());
        let hardware = ComputeDevice {
            draw_on_hardware: true,
            ..ComputeDevice::cpu("test")
        };
        assert!(hardware.images_through_shader());
        let shared = ComputeDevice {
            shared_with_ui: true,
            ..ComputeDevice::cpu("test")
        };
        assert!(shared.images_through_shader());
    }
}
