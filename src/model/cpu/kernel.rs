//! The two SIMD loops that every convolution and matrix product of the CPU U-Net runs in.
//!
//! Both keep a block of MR rows × NV vectors of C in registers (a vector holds L floats, L being
//! the machine's f32 lanes: 16 with AVX-512, 8 with AVX2) and stream over k, so C is read and
//! written once per block, not once per k:
//! - [`rows_product`]: C = Σ_taps A_tap · B_tap, reading MR rows of A along k. With a tap per
//!   offset of a 3×3 window over a zero-padded image this is a convolution without im2col
//!   ("implicit GEMM"); with one tap it is a plain matrix product.
//! - [`columns_product`]: C += Aᵀ · B, reading, for each k, MR consecutive values of A. This is the
//!   weight gradient of a convolution or linear layer, summed over pixels.
//!
//! B's row k is always a run of NV·L contiguous floats (`n_pad`, a multiple of L, floats per row),
//! so every load and store of B and C is a whole vector; A is read one scalar at a time and
//! broadcast. The code is generic over `pulp`'s `Simd` and dispatched at run time, so one binary
//! uses AVX-512 where the processor has it, AVX2+FMA where not, and plain scalar code elsewhere.

use pulp::{Arch, Simd, WithSimd};

/// The widest f32 vector any dispatched instruction set uses; row lengths of B and C are padded
/// to a multiple of it.
pub const MAX_LANES: usize = 16;

/// `n` rounded up to a whole number of the widest vectors.
pub fn padded(n: usize) -> usize {
    n.div_ceil(MAX_LANES) * MAX_LANES
}

/// Floats per vector of `S`.
#[inline(always)]
fn lanes<S: Simd>() -> usize {
    core::mem::size_of::<S::f32s>() / core::mem::size_of::<f32>()
}

/// Which pixel of A output row m starts at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowMap {
    /// Row m reads pixel m.
    Identity,
    /// A stride-2 convolution: output row m = (y, x), `width` outputs per line, reads pixel
    /// (2y)·`line` + 2x of an input with `line` pixels per line.
    Stride2 {
        /// Output pixels per line.
        width: usize,
        /// Input pixels per line.
        line: usize,
    },
}

impl RowMap {
    #[inline(always)]
    fn pixel(self, m: usize) -> usize {
        match self {
            Self::Identity => m,
            Self::Stride2 { width, line } => 2 * (m / width) * line + 2 * (m % width),
        }
    }
}

/// C\[m\]\[..n_pad\] = Σ_tap Σ_k A\[(map(m) + taps\[tap\])·a_stride + k\] · B\[(tap·k_len + k)·n_pad ..\]
/// for m in 0..`m`.
#[derive(Clone, Copy, Debug)]
pub struct RowsProduct<'a> {
    /// A, `a_stride` floats per pixel.
    pub a: &'a [f32],
    /// Floats per pixel of A.
    pub a_stride: usize,
    /// How many floats of each pixel take part (k runs over 0..k_len).
    pub k_len: usize,
    /// Where row m's pixel is.
    pub map: RowMap,
    /// Pixel offsets of the taps.
    pub taps: &'a [usize],
    /// B: `taps.len() · k_len` rows of `n_pad` floats.
    pub b: &'a [f32],
    /// Floats per row of B and C (a multiple of [`MAX_LANES`]).
    pub n_pad: usize,
    /// Rows of C.
    pub m: usize,
}

/// Computes a [`RowsProduct`] into `c` (`m · n_pad` floats, overwritten).
pub fn rows_product(arch: Arch, product: &RowsProduct<'_>, c: &mut [f32]) {
    assert!(
        product.n_pad.is_multiple_of(MAX_LANES),
        "n_pad is not padded"
    );
    assert!(c.len() >= product.m * product.n_pad, "C is too short");
    assert!(
        product.b.len() >= product.taps.len() * product.k_len * product.n_pad,
        "B is too short"
    );
    arch.dispatch(RowsOp { product, c });
}

struct RowsOp<'a, 'b> {
    product: &'b RowsProduct<'a>,
    c: &'b mut [f32],
}

impl WithSimd for RowsOp<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let p = self.product;
        let vectors = p.n_pad / lanes::<S>();
        let wide = lanes::<S>() >= 16;
        let mut v0 = 0;
        while v0 < vectors {
            let nv = (vectors - v0).min(4);
            match (wide, nv) {
                (true, 1) => rows_tiles::<S, 12, 1>(simd, p, v0, self.c),
                (true, 2) => rows_tiles::<S, 12, 2>(simd, p, v0, self.c),
                (true, 3) => rows_tiles::<S, 8, 3>(simd, p, v0, self.c),
                (true, _) => rows_tiles::<S, 6, 4>(simd, p, v0, self.c),
                (false, 1) => rows_tiles::<S, 12, 1>(simd, p, v0, self.c),
                (false, 2) => rows_tiles::<S, 6, 2>(simd, p, v0, self.c),
                (false, 3) => rows_tiles::<S, 4, 3>(simd, p, v0, self.c),
                (false, _) => rows_tiles::<S, 3, 4>(simd, p, v0, self.c),
            }
            v0 += nv;
        }
    }
}

/// All rows of C for the NV vectors starting at `v0`: whole MR blocks, then the rest in blocks
/// of 4, 2 and 1 rows.
#[inline(always)]
fn rows_tiles<S: Simd, const MR: usize, const NV: usize>(
    simd: S,
    p: &RowsProduct<'_>,
    v0: usize,
    c: &mut [f32],
) {
    let mut m0 = 0;
    while m0 + MR <= p.m {
        rows_tile::<S, MR, NV>(simd, p, m0, v0, c);
        m0 += MR;
    }
    while m0 + 4 <= p.m && MR > 4 {
        rows_tile::<S, 4, NV>(simd, p, m0, v0, c);
        m0 += 4;
    }
    while m0 + 2 <= p.m && MR > 2 {
        rows_tile::<S, 2, NV>(simd, p, m0, v0, c);
        m0 += 2;
    }
    while m0 < p.m {
        rows_tile::<S, 1, NV>(simd, p, m0, v0, c);
        m0 += 1;
    }
}

#[inline(always)]
fn rows_tile<S: Simd, const MR: usize, const NV: usize>(
    simd: S,
    p: &RowsProduct<'_>,
    m0: usize,
    v0: usize,
    c: &mut [f32],
) {
    let lanes = lanes::<S>();
    let width = NV * lanes;
    let zero = simd.splat_f32s(0.0);
    let mut acc = [[zero; NV]; MR];
    let pixel: [usize; MR] = core::array::from_fn(|i| p.map.pixel(m0 + i));
    let tap_rows = p.k_len * p.n_pad;
    for (tap, &offset) in p.taps.iter().enumerate() {
        let rows: [&[f32]; MR] = core::array::from_fn(|i| {
            let start = (pixel[i] + offset) * p.a_stride;
            &p.a[start..start + p.k_len]
        });
        let b = &p.b[tap * tap_rows + v0 * lanes..];
        for k in 0..p.k_len {
            let (b_row, _) = S::as_simd_f32s(&b[k * p.n_pad..k * p.n_pad + width]);
            let b_row: [S::f32s; NV] = core::array::from_fn(|v| b_row[v]);
            for i in 0..MR {
                let a = simd.splat_f32s(rows[i][k]);
                for v in 0..NV {
                    acc[i][v] = simd.mul_add_f32s(a, b_row[v], acc[i][v]);
                }
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        let start = (m0 + i) * p.n_pad + v0 * lanes;
        let (c_row, _) = S::as_mut_simd_f32s(&mut c[start..start + width]);
        c_row[..NV].copy_from_slice(acc_row);
    }
}

/// A run of k: for j in 0..len, A's values start at `a_start + j·a_step` and B's row at
/// `b_start + j·b_step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Offset of the first A values.
    pub a_start: usize,
    /// Step of A between consecutive k.
    pub a_step: usize,
    /// Offset of the first B row.
    pub b_start: usize,
    /// Step of B between consecutive k.
    pub b_step: usize,
    /// Number of k.
    pub len: usize,
}

/// C\[i\]\[..n_pad\] += Σ_segments Σ_j A\[a_start + j·a_step + i\] · B\[b_start + j·b_step ..\] for i in
/// 0..`m`.
#[derive(Clone, Copy, Debug)]
pub struct ColumnsProduct<'a> {
    /// A.
    pub a: &'a [f32],
    /// B.
    pub b: &'a [f32],
    /// The runs of k.
    pub segments: &'a [Segment],
    /// Floats per row of C (a multiple of [`MAX_LANES`]); each B row holds that many.
    pub n_pad: usize,
    /// Rows of C.
    pub m: usize,
}

/// Adds a [`ColumnsProduct`] to `c` (`m · n_pad` floats).
pub fn columns_product(arch: Arch, product: &ColumnsProduct<'_>, c: &mut [f32]) {
    assert!(
        product.n_pad.is_multiple_of(MAX_LANES),
        "n_pad is not padded"
    );
    assert!(c.len() >= product.m * product.n_pad, "C is too short");
    arch.dispatch(ColumnsOp { product, c });
}

struct ColumnsOp<'a, 'b> {
    product: &'b ColumnsProduct<'a>,
    c: &'b mut [f32],
}

impl WithSimd for ColumnsOp<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let p = self.product;
        let vectors = p.n_pad / lanes::<S>();
        let wide = lanes::<S>() >= 16;
        let mut v0 = 0;
        while v0 < vectors {
            let nv = (vectors - v0).min(4);
            match (wide, nv) {
                (true, 1) => columns_tiles::<S, 16, 1>(simd, p, v0, self.c),
                (true, 2) => columns_tiles::<S, 8, 2>(simd, p, v0, self.c),
                (true, 3) => columns_tiles::<S, 8, 3>(simd, p, v0, self.c),
                (true, _) => columns_tiles::<S, 6, 4>(simd, p, v0, self.c),
                (false, 1) => columns_tiles::<S, 12, 1>(simd, p, v0, self.c),
                (false, 2) => columns_tiles::<S, 6, 2>(simd, p, v0, self.c),
                (false, 3) => columns_tiles::<S, 4, 3>(simd, p, v0, self.c),
                (false, _) => columns_tiles::<S, 3, 4>(simd, p, v0, self.c),
            }
            v0 += nv;
        }
    }
}

#[inline(always)]
fn columns_tiles<S: Simd, const MR: usize, const NV: usize>(
    simd: S,
    p: &ColumnsProduct<'_>,
    v0: usize,
    c: &mut [f32],
) {
    let mut i0 = 0;
    while i0 + MR <= p.m {
        columns_tile::<S, MR, NV>(simd, p, i0, v0, c);
        i0 += MR;
    }
    while i0 + 8 <= p.m && MR > 8 {
        columns_tile::<S, 8, NV>(simd, p, i0, v0, c);
        i0 += 8;
    }
    while i0 + 4 <= p.m && MR > 4 {
        columns_tile::<S, 4, NV>(simd, p, i0, v0, c);
        i0 += 4;
    }
    while i0 + 2 <= p.m && MR > 2 {
        columns_tile::<S, 2, NV>(simd, p, i0, v0, c);
        i0 += 2;
    }
    while i0 < p.m {
        columns_tile::<S, 1, NV>(simd, p, i0, v0, c);
        i0 += 1;
    }
}

#[inline(always)]
fn columns_tile<S: Simd, const MR: usize, const NV: usize>(
    simd: S,
    p: &ColumnsProduct<'_>,
    i0: usize,
    v0: usize,
    c: &mut [f32],
) {
    let lanes = lanes::<S>();
    let width = NV * lanes;
    let mut acc: [[S::f32s; NV]; MR] = core::array::from_fn(|i| {
        let start = (i0 + i) * p.n_pad + v0 * lanes;
        let (c_row, _) = S::as_simd_f32s(&c[start..start + width]);
        core::array::from_fn(|v| c_row[v])
    });
    for segment in p.segments {
        for j in 0..segment.len {
            let a_start = segment.a_start + j * segment.a_step + i0;
            let a: &[f32; MR] = p.a[a_start..a_start + MR]
                .try_into()
                .unwrap_or_else(|_| unreachable!());
            let b_start = segment.b_start + j * segment.b_step + v0 * lanes;
            let (b_row, _) = S::as_simd_f32s(&p.b[b_start..b_start + width]);
            let b_row: [S::f32s; NV] = core::array::from_fn(|v| b_row[v]);
            for i in 0..MR {
                let a = simd.splat_f32s(a[i]);
                for v in 0..NV {
                    acc[i][v] = simd.mul_add_f32s(a, b_row[v], acc[i][v]);
                }
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        let start = (i0 + i) * p.n_pad + v0 * lanes;
        let (c_row, _) = S::as_mut_simd_f32s(&mut c[start..start + width]);
        c_row[..NV].copy_from_slice(acc_row);
    }
}
