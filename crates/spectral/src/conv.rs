//! Frame bounds of a strided 2-D convolution (section 4.3 of the paper).
//!
//! # The operator
//! A layer with `F` filters over `C` input channels, kernel `k_h × k_w` and stride `Δ` acts on
//! `C` images on an `n × n` grid as (cross-correlation, as in Burn and PyTorch)
//!
//! `y_f[m] = Σ_c Σ_j x_c[Δ·m + j] · w_{f,c}[j]`, indices modulo `n` (**circular padding**),
//!
//! for `m` on the `N × N` output grid, `N = n / Δ`.
//!
//! # The Fourier formula
//! Let `ŵ_{f,c}` be the 2-D DFT of the kernel zero-extended to the `n × n` grid. For each output
//! frequency `ω` of the `N × N` grid, let `A(ω)` be the `F × (C·Δ²)` matrix with rows
//! `A(ω)_f = (ŵ_{f,c}(ω + l·N) ; c = 1…C, l ∈ {0…Δ−1}²)` — the paper's
//! `ŵ(ω + lπ/Δ)` in radians, i.e. the `Δ²` frequencies of the input grid that alias onto `ω`
//! after subsampling. Splitting `x` into its `Δ²` polyphase components shows that the operator is
//! unitarily block-diagonalised by the DFTs of the input and output grids, with blocks `A(ω)/Δ`
//! (the `Δ² × Δ²` matrix `e^{-2πi l·r/Δ}` mapping polyphase to aliases is `Δ` times a unitary).
//! Hence the singular values of the operator are exactly the union over `ω` of the singular
//! values of `A(ω)`, divided by `Δ`:
//!
//! `upper = sup_ω ‖A(ω)‖₂ / Δ`, `lower = inf_ω σ_min(A(ω)) / Δ`,
//!
//! where `σ_min` is the smallest of the `min(F, C·Δ²)` singular values. The paper writes
//! `‖W‖ = sup_ω ‖A(ω)‖` with the normalisation of its Fourier transform left implicit; the `1/Δ`
//! here is what makes the numbers equal the explicit operator's singular values (checked in
//! `tests/ground_truth.rs` against the SVD of the operator matrix built from basis images).
//!
//! # Grid size and padding
//! The circular model needs `Δ | n`. When it does not (AlexNet conv1: 227, stride 4) the grid is
//! enlarged to `n' = Δ·⌈n/Δ⌉` (228). A zero-padded or "valid" convolution on the original input
//! is a *compression* of the circular one on a large enough grid: zero-extending the input is an
//! isometry and keeping only the valid output positions is a coordinate projection, so its
//! singular values are at most the circular ones. Therefore the `upper` computed on the padded
//! grid (`n + 2p`, rounded up to a multiple of `Δ`) is a true Lipschitz bound for the zero-padded
//! layer (tested with power iteration on Burn's conv2d), while `lower` is the circular
//! operator's frame bound, not a bound for the zero-padded one.
//!
//! # Why rustfft
//! The grid sides that occur (28, 228, 27, 13) are not powers of two, and Burn's FFT handles only
//! powers of two. rustfft plans mixed-radix / Bluestein FFTs for any length on the host in `f64`;
//! the whole computation (`F·C` FFTs of `n × n`, then one Hermitian eigenvalue problem of size
//! `min(F, C·Δ²)` per frequency) is host linear algebra anyway, so a device DFT would gain little.
//! The Gram matrix `A Aᴴ` or `Aᴴ A` (the smaller) is formed with four real matrix products and
//! its eigenvalues are computed in `f64`; frequencies are spread over the available cores.

use std::sync::atomic::{AtomicUsize, Ordering};

use nalgebra::{Complex, DMatrix};
use rustfft::FftPlanner;

use crate::error::{Result, SpectralError};
use crate::fc::FrameBounds;

/// Shape of a convolution kernel tensor, PyTorch/Burn layout `[F, C, k_h, k_w]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Output channels (filters) `F`.
    pub filters: usize,
    /// Input channels `C`.
    pub channels: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
}

impl ConvShape {
    /// Reads the shape from a tensor shape `[F, C, k_h, k_w]`.
    pub fn from_dims(dims: &[usize]) -> Result<Self> {
        match dims {
            &[filters, channels, kh, kw] if filters * channels * kh * kw > 0 => Ok(Self {
                filters,
                channels,
                kh,
                kw,
            }),
            _ => Err(SpectralError::Shape(format!(
                "a conv kernel needs a non-empty [F, C, kh, kw] shape, got {dims:?}"
            ))),
        }
    }

    fn len(&self) -> usize {
        self.filters * self.channels * self.kh * self.kw
    }
}

/// The grid side used for stride `stride` on an `n`-wide input: `n` rounded up to a multiple of
/// the stride (see the module docs).
pub fn circular_grid(n: usize, stride: usize) -> usize {
    n.div_ceil(stride.max(1)) * stride.max(1)
}

/// Per-frequency spectra `ŵ_{f,c}` on an `n × n` grid, layout `[f][c][u][v]`.
fn spectra(w: &[f32], s: ConvShape, n: usize) -> Vec<Complex<f64>> {
    let mut planner = FftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n);
    let mut scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
    let plane = n * n;
    let mut out = vec![Complex::new(0.0, 0.0); s.filters * s.channels * plane];
    let mut col = vec![Complex::new(0.0, 0.0); n];
    for (fc, buf) in out.chunks_mut(plane).enumerate() {
        let kernel = &w[fc * s.kh * s.kw..(fc + 1) * s.kh * s.kw];
        // Kernel taps wrap around the grid (circular semantics if k > n).
        for i in 0..s.kh {
            for j in 0..s.kw {
                buf[(i % n) * n + j % n].re += f64::from(kernel[i * s.kw + j]);
            }
        }
        for row in buf.chunks_mut(n) {
            fft.process_with_scratch(row, &mut scratch);
        }
        for v in 0..n {
            for u in 0..n {
                col[u] = buf[u * n + v];
            }
            fft.process_with_scratch(&mut col, &mut scratch);
            for u in 0..n {
                buf[u * n + v] = col[u];
            }
        }
    }
    out
}

/// Eigenvalues of the smaller Gram matrix of the complex `rows × cols` matrix `(re, im)`
/// (column-major nalgebra matrices): the squared singular values.
fn squared_singular_values(re: &DMatrix<f64>, im: &DMatrix<f64>) -> Vec<f64> {
    let (gr, gi) = if re.nrows() <= re.ncols() {
        // A Aᴴ = (Re Reᵀ + Im Imᵀ) + i (Im Reᵀ − Re Imᵀ)
        (
            re * re.transpose() + im * im.transpose(),
            im * re.transpose() - re * im.transpose(),
        )
    } else {
        // Aᴴ A = (Reᵀ Re + Imᵀ Im) + i (Reᵀ Im − Imᵀ Re)
        (
            re.transpose() * re + im.transpose() * im,
            re.transpose() * im - im.transpose() * re,
        )
    };
    let g = DMatrix::from_fn(gr.nrows(), gr.ncols(), |i, j| {
        Complex::new(gr[(i, j)], gi[(i, j)])
    });
    g.symmetric_eigenvalues()
        .iter()
        .map(|&e| e.max(0.0))
        .collect()
}

/// Calls `visit(ω index, singular values of A(ω)/Δ)` for every output frequency, in parallel
/// over the available cores; `progress(done, total)` is called as frequencies finish.
fn for_each_frequency(
    w: &[f32],
    s: ConvShape,
    stride: usize,
    n: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Vec<f64>>> {
    if w.len() != s.len() {
        return Err(SpectralError::Shape(format!(
            "kernel {s:?} needs {} values, got {}",
            s.len(),
            w.len()
        )));
    }
    if w.iter().any(|v| !v.is_finite()) {
        return Err(SpectralError::Shape(
            "kernel holds a non-finite value".into(),
        ));
    }
    if stride == 0 || n == 0 || !n.is_multiple_of(stride) {
        return Err(SpectralError::Shape(format!(
            "the circular model needs a positive stride dividing the grid side, got stride {stride} on {n}"
        )));
    }
    let spec = spectra(w, s, n);
    let big_n = n / stride;
    let total = big_n * big_n;
    let cols = s.channels * stride * stride;
    let plane = n * n;
    let scale = 1.0 / stride as f64;
    let done = AtomicUsize::new(0);
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(total);
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); total];
    let parts: Vec<Vec<(usize, Vec<f64>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= total {
                            break;
                        }
                        let (p, q) = (k / big_n, k % big_n);
                        let mut re = DMatrix::<f64>::zeros(s.filters, cols);
                        let mut im = DMatrix::<f64>::zeros(s.filters, cols);
                        for f in 0..s.filters {
                            for c in 0..s.channels {
                                let base = (f * s.channels + c) * plane;
                                for l1 in 0..stride {
                                    for l2 in 0..stride {
                                        let u = p + l1 * big_n;
                                        let v = q + l2 * big_n;
                                        let z = spec[base + u * n + v] * scale;
                                        let col = (c * stride + l1) * stride + l2;
                                        re[(f, col)] = z.re;
                                        im[(f, col)] = z.im;
                                    }
                                }
                            }
                        }
                        let sv: Vec<f64> = squared_singular_values(&re, &im)
                            .into_iter()
                            .map(f64::sqrt)
                            .collect();
                        mine.push((k, sv));
                        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                        progress(d, total);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("frequency worker panicked"))
            .collect()
    });
    for (k, sv) in parts.into_iter().flatten() {
        results[k] = sv;
    }
    Ok(results)
}

/// All singular values (descending) of the circular strided convolution with kernel `w`
/// (`[F, C, k_h, k_w]` row-major) on an `n × n` grid, `stride | n`. For tests and small layers.
pub fn conv_singular_values(w: &[f32], s: ConvShape, stride: usize, n: usize) -> Result<Vec<f64>> {
    let mut all: Vec<f64> = for_each_frequency(w, s, stride, n, &|_, _| {})?
        .into_iter()
        .flatten()
        .collect();
    all.sort_by(|a, b| b.total_cmp(a));
    Ok(all)
}

/// Frame bounds of the circular strided convolution with kernel `w` on an `n × n` input grid
/// (`n` is rounded up to a multiple of the stride, see the module docs); `progress(done, total)`
/// reports finished frequencies.
pub fn conv_bounds(
    w: &[f32],
    s: ConvShape,
    stride: usize,
    n: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<FrameBounds> {
    let grid = circular_grid(n, stride);
    let per = for_each_frequency(w, s, stride, grid, progress)?;
    let mut upper = 0.0f64;
    let mut lower = f64::INFINITY;
    for sv in &per {
        upper = sv.iter().copied().fold(upper, f64::max);
        lower = sv.iter().copied().fold(lower, f64::min);
    }
    Ok(FrameBounds { lower, upper })
}

/// Explicit operator of the circular strided convolution: the row-major matrix
/// `[(F·N²) × (C·n²)]` whose column `i` is the layer applied to the `i`-th basis image. The
/// ground truth for the Fourier formula (small layers only: `F·C·n⁴/Δ²` entries).
pub fn explicit_operator(w: &[f32], s: ConvShape, stride: usize, n: usize) -> Result<Vec<f64>> {
    if w.len() != s.len() || stride == 0 || !n.is_multiple_of(stride) {
        return Err(SpectralError::Shape(format!(
            "explicit operator: kernel {s:?} with {} values, stride {stride}, grid {n}",
            w.len()
        )));
    }
    let big_n = n / stride;
    let rows = s.filters * big_n * big_n;
    let cols = s.channels * n * n;
    let mut a = vec![0.0f64; rows * cols];
    for f in 0..s.filters {
        for m1 in 0..big_n {
            for m2 in 0..big_n {
                let r = (f * big_n + m1) * big_n + m2;
                for c in 0..s.channels {
                    for j1 in 0..s.kh {
                        for j2 in 0..s.kw {
                            let x1 = (stride * m1 + j1) % n;
                            let x2 = (stride * m2 + j2) % n;
                            let col = (c * n + x1) * n + x2;
                            let k = ((f * s.channels + c) * s.kh + j1) * s.kw + j2;
                            a[r * cols + col] += f64::from(w[k]);
                        }
                    }
                }
            }
        }
    }
    Ok(a)
}
