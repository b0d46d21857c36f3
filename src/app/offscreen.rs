//! A panel drawn away from the window, at a resolution of its own: the panel's UI runs in a
//! second egui context that has the window's fonts, style and memory (plots keep their zoom,
//! sections stay open or closed, lists keep their scroll), laid out at the window's size in
//! points, and egui's wgpu renderer draws it into a texture of `pixels_per_point` pixels per
//! point, which is read back as an image.

use std::sync::mpsc::channel;
use std::time::Duration;

use eframe::egui;
use eframe::egui_wgpu::{self, RendererOptions, ScreenDescriptor, wgpu};
use image::RgbImage;

use crate::render::ImageRenderer;

/// How long reading the picture back may take.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(60);

/// The id under which the offscreen context marks its memory, so that textures cached by the
/// window's context are not taken for its own.
fn offscreen_mark() -> egui::Id {
    egui::Id::unique("noisescope offscreen")
}

/// Whether `ctx` draws a panel offscreen (its memory is the window's, its textures are not).
pub fn is_offscreen(ctx: &egui::Context) -> bool {
    ctx.data(|d| d.get_temp::<bool>(offscreen_mark()))
        .unwrap_or(false)
}

/// The device that draws the window, reused to draw panels offscreen.
#[derive(Clone)]
pub struct Offscreen {
    device: wgpu::Device,
    queue: wgpu::Queue,
    format: wgpu::TextureFormat,
}

impl Offscreen {
    /// Draws with the window's device and colour format.
    pub fn new(render_state: &egui_wgpu::RenderState) -> Self {
        Self {
            device: render_state.device.clone(),
            queue: render_state.queue.clone(),
            format: render_state.target_format,
        }
    }

    /// `contents` laid out in `size` points as the window's context `window` would, to be
    /// drawn at `pixels_per_point` (on the UI thread: `contents` is the panel's own UI; the
    /// drawing itself can go to another thread).
    pub fn lay_out(
        &self,
        window: &egui::Context,
        (size, pixels_per_point): (egui::Vec2, f32),
        mut contents: impl FnMut(&mut egui::Ui),
    ) -> Result<LaidOut, String> {
        let pixels = (size * pixels_per_point).round();
        let largest = self.device.limits().max_texture_dimension_2d;
        if pixels.x < 1.0 || pixels.y < 1.0 || pixels.max_elem() > largest as f32 {
            return Err(format!(
                "a picture of {} × {} pixels cannot be drawn here (at most {largest} on a side): \
                 choose a smaller scale",
                pixels.x, pixels.y
            ));
        }
        let ctx = twin_of(window);
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
            max_texture_side: Some(largest as usize),
            time: Some(window.input(|i| i.time)),
            viewports: std::iter::once((
                egui::ViewportId::ROOT,
                egui::ViewportInfo {
                    native_pixels_per_point: Some(pixels_per_point),
                    ..Default::default()
                },
            ))
            .collect(),
            ..Default::default()
        };
        // Two passes: the second lays out what the first measured (columns, legends).
        let mut textures = egui::TexturesDelta::default();
        let mut shapes = Vec::new();
        for _ in 0..2 {
            let mut full = ctx.run_ui(input.clone(), |ui| {
                let frame = egui::Frame::central_panel(ui.style());
                egui::CentralPanel::default()
                    .frame(frame)
                    .show(ui, &mut contents);
            });
            textures.append(std::mem::take(&mut full.textures_delta));
            shapes = full.shapes;
        }
        let screen = ScreenDescriptor {
            size_in_pixels: [pixels.x as u32, pixels.y as u32],
            pixels_per_point,
        };
        let background = ctx.style_of(ctx.theme()).visuals.panel_fill;
        Ok(LaidOut {
            offscreen: self.clone(),
            ctx,
            shapes,
            textures,
            screen,
            background,
        })
    }

    fn render(
        &self,
        jobs: &[egui::ClippedPrimitive],
        mut textures: egui::TexturesDelta,
        screen: &ScreenDescriptor,
        background: egui::Color32,
    ) -> Result<RgbImage, String> {
        let (device, queue) = (&self.device, &self.queue);
        let mut renderer =
            egui_wgpu::Renderer::new(device, self.format, RendererOptions::default());
        ImageRenderer::install_into(&mut renderer, device, self.format);
        for (id, images) in textures.set.drain() {
            for image in &images {
                renderer.update_texture(device, queue, id, image);
            }
        }
        // The renderer and its textures go when this returns.
        textures.clear();
        let [width, height] = screen.size_in_pixels;
        let target = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("noisescope offscreen panel"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: self.format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = target.create_view(&wgpu::TextureViewDescriptor::default());
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("noisescope offscreen panel"),
        });
        let prepared = renderer.update_buffers(device, queue, &mut encoder, jobs, screen);
        {
            let [r, g, b, _] = background.to_normalized_gamma_f32();
            let mut pass = encoder
                .begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("noisescope offscreen panel"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &view,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(wgpu::Color {
                                r: f64::from(r),
                                g: f64::from(g),
                                b: f64::from(b),
                                a: 1.0,
                            }),
                            store: wgpu::StoreOp::Store,
                        },
                        depth_slice: None,
                    })],
                    ..Default::default()
                })
                .forget_lifetime();
            renderer.render(&mut pass, jobs, screen);
        }
        queue.submit(
            prepared
                .into_iter()
                .chain(std::iter::once(encoder.finish())),
        );
        self.read_back(&target)
    }

    /// The pixels of `texture`, as RGB.
    fn read_back(&self, texture: &wgpu::Texture) -> Result<RgbImage, String> {
        let (width, height) = (texture.width(), texture.height());
        let row = 4 * width;
        let padded =
            row.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("noisescope offscreen read-back"),
            size: u64::from(padded) * u64::from(height),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded),
                    rows_per_image: None,
                },
            },
            texture.size(),
        );
        let submitted = self.queue.submit(std::iter::once(encoder.finish()));
        let (send, receive) = channel();
        buffer
            .slice(..)
            .map_async(wgpu::MapMode::Read, move |result| drop(send.send(result)));
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submitted),
                timeout: Some(READ_BACK_TIMEOUT),
            })
            .map_err(|e| format!("the picture could not be read back: {e}"))?;
        receive
            .recv()
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("the picture could not be read back: {e}"))?;
        let mapped = buffer
            .slice(..)
            .get_mapped_range()
            .map_err(|e| format!("the picture could not be read back: {e}"))?;
        let blue_first = matches!(
            self.format,
            wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
        );
        let mut picture = RgbImage::new(width, height);
        for (y, line) in mapped.chunks_exact(padded as usize).enumerate() {
            for (x, texel) in line[..row as usize].chunks_exact(4).enumerate() {
                let rgb = if blue_first {
                    [texel[2], texel[1], texel[0]]
                } else {
                    [texel[0], texel[1], texel[2]]
                };
                picture.put_pixel(x as u32, y as u32, image::Rgb(rgb));
            }
        }
        Ok(picture)
    }
}

/// A panel laid out offscreen, ready to be drawn into pixels on any thread.
pub struct LaidOut {
    offscreen: Offscreen,
    ctx: egui::Context,
    shapes: Vec<egui::epaint::ClippedShape>,
    textures: egui::TexturesDelta,
    screen: ScreenDescriptor,
    background: egui::Color32,
}

impl LaidOut {
    /// The picture: tessellated, rendered with egui's wgpu renderer and read back.
    pub fn draw(self) -> Result<RgbImage, String> {
        let jobs = self
            .ctx
            .tessellate(self.shapes, self.screen.pixels_per_point);
        self.offscreen
            .render(&jobs, self.textures, &self.screen, self.background)
    }
}

/// A context with the window's fonts, style, options and memory, marked as offscreen.
fn twin_of(window: &egui::Context) -> egui::Context {
    let ctx = egui::Context::default();
    ctx.memory_mut(|m| *m = window.memory(Clone::clone));
    // After the memory, where fonts to add wait for the next pass.
    crate::app::fonts::install_fallback_font(&ctx);
    // The window's zoom is already in the size in points; the pixels come from the scale.
    ctx.options_mut(|o| o.zoom_factor = 1.0);
    ctx.data_mut(|d| d.insert_temp(offscreen_mark(), true));
    ctx
}
