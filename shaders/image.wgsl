// A float image (or one row of a [rows, width*height] stack) drawn with a value range and a
// colour map. The Rust reference is src/render/colormap.rs; tests/shader.rs compares the two.

struct Params {
    // Image width and height in values.
    size: vec2<u32>,
    // Index of the image's first value in `values`.
    offset: u32,
    // 0 = grayscale, 1 = diverging (blue, white, red).
    colormap: u32,
    // The values drawn as the two ends of the colour map.
    range: vec2<f32>,
    // 1 when the render target is an sRGB format, so colours must be written linear.
    linear_output: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
}

// One triangle that covers the viewport; uv runs 0..1 across it, y down.
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: VertexOut;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}

const BLUE: vec3<f32> = vec3<f32>(0.230, 0.299, 0.754);
const WHITE: vec3<f32> = vec3<f32>(1.0, 1.0, 1.0);
const RED: vec3<f32> = vec3<f32>(0.706, 0.016, 0.150);

fn normalized(value: f32) -> f32 {
    return clamp((value - params.range.x) / (params.range.y - params.range.x), 0.0, 1.0);
}

fn colormap(t: f32) -> vec3<f32> {
    if params.colormap == 1u {
        if t < 0.5 {
            return mix(BLUE, WHITE, t * 2.0);
        }
        return mix(WHITE, RED, t * 2.0 - 1.0);
    }
    return vec3<f32>(t, t, t);
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let last = params.size - vec2<u32>(1u, 1u);
    let pixel = min(vec2<u32>(in.uv * vec2<f32>(params.size)), last);
    let value = values[params.offset + pixel.y * params.size.x + pixel.x];
    var rgb = colormap(normalized(value));
    if params.linear_output == 1u {
        rgb = srgb_to_linear(rgb);
    }
    return vec4<f32>(rgb, 1.0);
}
