//! The WGSL image shader against its Rust reference, rendered offscreen on a wgpu adapter
//! (Mesa's lavapipe in CI).

mod common;

use eframe::egui_wgpu::wgpu;
use noisescope::render::{Colormap, ImageParams, ImagePipeline, ValueRange, to_rgba8};

struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
}

fn gpu_or_fail() -> Option<Gpu> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter = common::pollster_block_on(
        instance.request_adapter(&wgpu::RequestAdapterOptions::default()),
    );
    let adapter = match adapter {
        Ok(adapter) => adapter,
        Err(error) if common::gpu_required() => {
            panic!("{}=1 but no wgpu adapter: {error}", common::REQUIRE_GPU_ENV)
        }
        Err(error) => {
            eprintln!("no wgpu adapter ({error}); not comparing the shader");
            return None;
        }
    };
    let (device, queue) =
        common::pollster_block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
            .expect("a device on the adapter that was found");
    Some(Gpu { device, queue })
}

/// Draws image `row` of `values` into a `width`×`height` Rgba8Unorm texture and reads it back.
fn render(
    gpu: &Gpu,
    values: &[f32],
    width: u32,
    height: u32,
    row: u32,
    range: ValueRange,
    map: Colormap,
) -> Vec<u8> {
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let pipeline = ImagePipeline::new(&gpu.device, format);
    let value_buffer = ImagePipeline::upload_values(&gpu.device, values);
    let params_buffer = ImagePipeline::params_buffer(&gpu.device);
    let params = ImageParams::new(width, height, 0, row, range, map, format);
    gpu.queue
        .write_buffer(&params_buffer, 0, bytemuck::bytes_of(&params));
    let bind_group = pipeline.bind(
        &gpu.device,
        &params_buffer,
        value_buffer.as_entire_buffer_binding(),
    );
    let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("shader test target"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let padded_row = (width * 4).div_ceil(256) * 256;
    let readback = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("shader test readback"),
        size: u64::from(padded_row * height),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("shader test pass"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                    store: wgpu::StoreOp::Store,
                },
            })],
            ..Default::default()
        });
        pipeline.draw(&mut pass, &bind_group);
    }
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &readback,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded_row),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
    );
    gpu.queue.submit([encoder.finish()]);
    let slice = readback.slice(..);
    slice.map_async(wgpu::MapMode::Read, |result| result.expect("readback maps"));
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("the GPU finishes");
    let mapped = slice
        .get_mapped_range()
        .expect("the mapped range is readable");
    mapped
        .chunks(padded_row as usize)
        .flat_map(|row| row[..(width * 4) as usize].to_vec())
        .collect()
}

fn worst_difference(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

#[test]
fn shader_matches_the_rust_reference() {
    let Some(gpu) = gpu_or_fail() else { return };
    let (width, height) = (28u32, 20u32);
    let size = (width * height) as usize;
    // Three images in one stack; values sweep past both ends of the range.
    let values: Vec<f32> = (0..3 * size)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    let cases = [
        (0, ValueRange::default(), Colormap::Gray),
        (
            1,
            ValueRange {
                low: -2.0,
                high: 2.0,
            },
            Colormap::Diverging,
        ),
        (
            2,
            ValueRange {
                low: -0.5,
                high: 1.5,
            },
            Colormap::Gray,
        ),
    ];
    for (row, range, map) in cases {
        let drawn = render(&gpu, &values, width, height, row, range, map);
        let reference = to_rgba8(
            &values[row as usize * size..(row as usize + 1) * size],
            range,
            map,
        );
        let worst = worst_difference(&drawn, &reference);
        assert!(
            worst <= 1,
            "row {row} {map:?}: worst channel difference {worst}"
        );
    }
}
