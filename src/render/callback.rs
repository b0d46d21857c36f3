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

static NEXT_STACK_ID: AtomicU64 = AtomicU64::new(1);

/// Equally sized float images, row after row, shared cheaply between threads and frames.
#[derive(Clone, Debug)]
pub struct ImageStack {
    id: u64,
    values: Arc<[f32]>,
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
            width,
            height,
        })
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
    stacks: HashMap<u64, wgpu::Buffer>,
    draws: HashMap<egui::Id, Draw>,
}

struct Draw {
    params: wgpu::Buffer,
    stack: u64,
    bind_group: wgpu::BindGroup,
}

impl ImageRenderer {
    /// Creates the renderer and stores it where the paint callbacks find it.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let renderer = Self {
            pipeline: ImagePipeline::new(&render_state.device, render_state.target_format),
            target: render_state.target_format,
            stacks: HashMap::new(),
            draws: HashMap::new(),
        };
        render_state
            .renderer
            .write()
            .callback_resources
            .insert(renderer);
    }

    fn prepare(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, image: &ImageCallback) {
        let stack = &image.stack;
        let values = self
            .stacks
            .entry(stack.id)
            .or_insert_with(|| ImagePipeline::upload_values(device, &stack.values));
        let draw = match self.draws.remove(&image.key) {
            Some(draw) if draw.stack == stack.id => draw,
            _ => {
                let params = ImagePipeline::params_buffer(device);
                let bind_group = self.pipeline.bind(device, &params, values);
                Draw {
                    params,
                    stack: stack.id,
                    bind_group,
                }
            }
        };
        let params = ImageParams::new(
            stack.width as u32,
            stack.height as u32,
            image.row.min(stack.rows() - 1) as u32,
            image.range,
            image.colormap,
            self.target,
        );
        queue.write_buffer(&draw.params, 0, bytemuck::bytes_of(&params));
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
