//! The render pipeline of `shaders/image.wgsl`, independent of egui so tests can use it.

use eframe::egui_wgpu::wgpu;
use wgpu::util::DeviceExt;

use super::{Colormap, ValueRange};

/// The WGSL source of the image shader.
pub const IMAGE_SHADER: &str = include_str!("../../shaders/image.wgsl");

/// The shader's uniform block (`Params` in the WGSL).
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct ImageParams {
    size: [u32; 2],
    offset: u32,
    colormap: u32,
    range: [f32; 2],
    linear_output: u32,
    pad: u32,
}

impl ImageParams {
    /// Draw image `row` (of `width`×`height` values) of a stack whose first value is element
    /// `base` of the bound buffer, with a range and a map.
    pub fn new(
        width: u32,
        height: u32,
        base: u32,
        row: u32,
        range: ValueRange,
        map: Colormap,
        target: wgpu::TextureFormat,
    ) -> Self {
        Self {
            size: [width, height],
            offset: base + row * width * height,
            colormap: map.shader_index(),
            range: [range.low, range.high],
            linear_output: u32::from(target.is_srgb()),
            pad: 0,
        }
    }
}

/// The compiled pipeline and its bind group layout.
pub struct ImagePipeline {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
}

impl ImagePipeline {
    /// Builds the pipeline for a colour target of `format`.
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("noisescope image shader"),
            source: wgpu::ShaderSource::Wgsl(IMAGE_SHADER.into()),
        });
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("noisescope image bindings"),
            entries: &[
                entry(0, wgpu::BufferBindingType::Uniform),
                entry(1, wgpu::BufferBindingType::Storage { read_only: true }),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("noisescope image layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("noisescope image pipeline"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        Self { pipeline, layout }
    }

    /// A storage buffer holding `values`, ready to be bound.
    pub fn upload_values(device: &wgpu::Device, values: &[f32]) -> wgpu::Buffer {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("noisescope image values"),
            contents: bytemuck::cast_slice(values),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// A uniform buffer for one draw's parameters.
    pub fn params_buffer(device: &wgpu::Device) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("noisescope image params"),
            size: std::mem::size_of::<ImageParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Binds a parameters buffer and (a range of) a values buffer together.
    pub fn bind(
        &self,
        device: &wgpu::Device,
        params: &wgpu::Buffer,
        values: wgpu::BufferBinding<'_>,
    ) -> wgpu::BindGroup {
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("noisescope image bind group"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Buffer(values),
                },
            ],
        })
    }

    /// Draws one image into the pass's current viewport.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, bind_group: &wgpu::BindGroup) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}
