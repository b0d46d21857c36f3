//! Drawing image stacks inside egui through a wgpu paint callback.
//!
//! A stack (every x_t of one schedule, say) is uploaded to one storage buffer once; scrubbing t
//! only changes the row offset in a small uniform, so no pixels cross to the GPU per frame.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use eframe::egui;
use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor, wgpu};

use super::{Colormap, ImageParams, ImagePipeline, ValueRange};
use crate::gpu::GpuValues;

static NEXT_STACK_ID: AtomicU64 = AtomicU64::new(1);

/// Equally sized float images, row after row, shared cheaply between threads and frames.
#[derive(Clone, Debug)]
pub struct ImageStack {
    id: u64,
    values: Arc<[f32]>,
    gpu: Option<Arc<GpuValues>>,
    width: usize,
    height: usize,
}

impl ImageStack {
    /// Wraps `values` (a whole number of `width`×`height` images); `None` if the sizes disagree.
    pub fn new(values: Vec<f32>, width: usize, height: usize) -> Option<Self> {
        let size = width * height;
        if size == 0 || values.is_empty() || !values.len().is_multiple_of(size) {
            return None;
        }
        Some(Self {
            id: NEXT_STACK_ID.fetch_add(1, Ordering::Relaxed),
            values: values.into(),
            gpu: None,
            width,
            height,
        })
    }

    /// The same stack, drawn from where burn computed it on the UI's GPU instead of from an
    /// upload of the host copy. `gpu` must hold the same values as the host copy.
    #[must_use]
    pub fn with_gpu_values(mut self, gpu: GpuValues) -> Self {
        self.gpu = Some(Arc::new(gpu));
        self
    }

    /// Whether the stack is drawn straight from the tensor's GPU buffer.
    pub fn draws_from_tensor_buffer(&self) -> bool {
        self.gpu.is_some()
    }

    /// Identifies these values: a new stack gets a new id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of images.
    pub fn rows(&self) -> usize {
        self.values.len() / (self.width * self.height)
    }

    /// Width of each image.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height of each image.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The values of image `row` (clamped to the last).
    pub fn row(&self, row: usize) -> &[f32] {
        let size = self.width * self.height;
        let row = row.min(self.rows() - 1);
        &self.values[row * size..(row + 1) * size]
    }
}

/// GPU state of the image drawing, kept in egui-wgpu's callback resources.
pub struct ImageRenderer {
    pipeline: ImagePipeline,
    target: wgpu::TextureFormat,
    stacks: HashMap<u64, BoundValues>,
    draws: HashMap<egui::Id, Draw>,
}

/// A stack's values on the GPU, as the shader binds them.
struct BoundValues {
    buffer: wgpu::Buffer,
    /// Start of the bound range, aligned as storage bindings require.
    bind_offset: u64,
    /// Bytes bound from `bind_offset`.
    bind_size: u64,
    /// Element index of the stack's first value within the bound range.
    base: u32,
}

impl BoundValues {
    /// The host copy, uploaded to a buffer of its own.
    fn upload(device: &wgpu::Device, values: &[f32]) -> Self {
        Self {
            buffer: ImagePipeline::upload_values(device, values),
            bind_offset: 0,
            bind_size: std::mem::size_of_val(values) as u64,
            base: 0,
        }
    }

    /// The tensor's own buffer, bound from the aligned offset at or before its first value.
    fn borrow(device: &wgpu::Device, gpu: &GpuValues, values: usize) -> Self {
        let alignment = u64::from(device.limits().min_storage_buffer_offset_alignment);
        let bind_offset = gpu.byte_offset - gpu.byte_offset % alignment;
        let lead = gpu.byte_offset - bind_offset;
        Self {
            buffer: gpu.buffer.clone(),
            bind_offset,
            bind_size: lead + 4 * values as u64,
            base: (lead / 4) as u32,
        }
    }

    fn binding(&self) -> wgpu::BufferBinding<'_> {
        wgpu::BufferBinding {
            buffer: &self.buffer,
            offset: self.bind_offset,
            size: std::num::NonZeroU64::new(self.bind_size),
        }
    }
}

struct Draw {
    params: wgpu::Buffer,
    /// What `params` holds, so unchanged frames write nothing.
    written: Option<ImageParams>,
    stack: u64,
    bind_group: wgpu::BindGroup,
}

impl ImageRenderer {
    /// Creates the renderer and stores it where the paint callbacks find it.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let mut renderer = render_state.renderer.write();
        Self::install_into(
            &mut renderer,
            &render_state.device,
            render_state.target_format,
        );
    }

    /// Creates the renderer for egui's `renderer`, which draws to `format` on `device`.
    pub fn install_into(
        renderer: &mut egui_wgpu::Renderer,
        device: &wgpu::Device,
        format: wgpu::TextureFormat,
    ) {
        renderer.callback_resources.insert(Self {
            pipeline: ImagePipeline::new(device, format),
            target: format,
            stacks: HashMap::new(),
            draws: HashMap::new(),
        });
    }

    fn prepare(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, image: &ImageCallback) {
        let stack = &image.stack;
        let values = self
            .stacks
            .entry(stack.id)
            .or_insert_with(|| match &stack.gpu {
                Some(gpu) => BoundValues::borrow(device, gpu, stack.values.len()),
                None => BoundValues::upload(device, &stack.values),
            });
        let base = values.base;
        let mut draw = match self.draws.remove(&image.key) {
            Some(draw) if draw.stack == stack.id => draw,
            _ => {
                let params = ImagePipeline::params_buffer(device);
                let bind_group = self.pipeline.bind(device, &params, values.binding());
                Draw {
                    params,
                    written: None,
                    stack: stack.id,
                    bind_group,
                }
            }
        };
        let params = ImageParams::new(
            stack.width as u32,
            stack.height as u32,
            base,
            image.row.min(stack.rows() - 1) as u32,
            image.range,
            image.colormap,
            self.target,
        );
        if draw.written != Some(params) {
            queue.write_buffer(&draw.params, 0, bytemuck::bytes_of(&params));
            draw.written = Some(params);
        }
        self.draws.insert(image.key, draw);
        let draws = &self.draws;
        self.stacks
            .retain(|id, _| draws.values().any(|draw| draw.stack == *id));
    }
}

/// One image of a stack drawn into a rectangle of the UI.
pub struct ImageCallback {
    /// Identifies the place on screen, so its GPU state is reused from frame to frame.
    pub key: egui::Id,
    /// The images.
    pub stack: ImageStack,
    /// Which image of the stack.
    pub row: usize,
    /// The values at the ends of the colour map.
    pub range: ValueRange,
    /// The colour map.
    pub colormap: Colormap,
}

impl ImageCallback {
    /// Adds the image to the painter's shapes, filling `rect`.
    pub fn paint(self, painter: &egui::Painter, rect: egui::Rect) {
        painter.add(egui_wgpu::Callback::new_paint_callback(rect, self));
    }
}

impl CallbackTrait for ImageCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(renderer) = resources.get_mut::<ImageRenderer>() {
            renderer.prepare(device, queue, self);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        let Some(renderer) = resources.get::<ImageRenderer>() else {
            return;
        };
        if let Some(draw) = renderer.draws.get(&self.key) {
            renderer.pipeline.draw(pass, &draw.bind_group);
        }
    }
}
