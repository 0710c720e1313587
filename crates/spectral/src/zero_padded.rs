//! A zero-padded convolution, as layers apply it, and why the circular bound covers it.
//!
//! # The operator
//! A layer with stride `Δ` and zero padding `(top, left, bottom, right)` on an `H × W` input
//! computes, for every filter `f` and output position `m` on the `O_h × O_w` output grid,
//!
//! `y_f[m] = Σ_c Σ_j x̃_c[Δ·m + j] · w_{f,c}[j]`, where `x̃` is `x` zero-padded to
//! `P_h × P_w = (H + top + bottom) × (W + left + right)` and `O = ⌊(P − k)/Δ⌋ + 1` per axis.
//!
//! # Why the circular bound holds for it
//! Take a square grid of side `G ≥ max(P_h, P_w)` with `Δ | G`
//! ([`ConvGeometry::grid`]: `max(P_h, P_w)` rounded up to a multiple of `Δ`). Then
//!
//! `zero-padded conv = R ∘ C_G ∘ E`, where
//! - `E` places `x` at offset `(top, left)` of the `G × G` grid and fills the rest with zeros:
//!   an isometry (`‖E x‖ = ‖x‖`);
//! - `C_G` is the circular strided convolution on the `G × G` grid (the operator of
//!   [`crate::conv`]);
//! - `R` keeps the output positions `m < O` of `C_G`'s `(G/Δ) × (G/Δ)` output grid: a coordinate
//!   projection (`‖R‖ ≤ 1`). For those positions the taps `Δ·m + j ≤ Δ(O − 1) + k − 1 ≤ P − 1 < G`
//!   never wrap around, so `C_G` reads exactly the zero-padded input there.
//!
//! Hence `‖conv‖ ≤ ‖R‖·‖C_G‖·‖E‖ ≤ ‖C_G‖ = sup_ω ‖A(ω)‖/Δ` on the `G` grid: the Fourier
//! formula's `upper` on that grid is a true Lipschitz bound of the zero-padded layer. The grid
//! of the *unpadded* input (`G = H`) is not enough: for the 3 × 3 checkerboard kernel
//! `(−1)^{i+j}` with padding 1 on a 5 × 5 input the zero-padded operator has norm
//! `(1 + √3)² ≈ 7.46` while the circular operator on the 5 grid has norm
//! `(1 + 2cos(π/5))² ≈ 6.85` (on the padded 7 grid: `(1 + 2cos(π/7))² ≈ 7.85`); the tests check
//! this case.
//!
//! The `lower` frame bound of `C_G` is *not* a lower bound of the zero-padded operator (`R`
//! drops outputs); it is reported as the paper's circular frame bound.
//!
//! [`explicit_zero_padded_operator`] builds the operator's matrix from basis images, the ground
//! truth the tests compare the bound with.

use serde::{Deserialize, Serialize};

use crate::conv::{ConvShape, circular_grid};
use crate::error::{Result, SpectralError};

/// Where a convolution runs: input size, zero padding and stride (equal on both axes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvGeometry {
    /// Input height and width, before padding.
    pub input: [usize; 2],
    /// Zero padding `[top, left, bottom, right]` (Burn's `PaddingConfig2d::Explicit` order).
    pub padding: [usize; 4],
    /// Stride `Δ` on both axes.
    pub stride: usize,
}

impl ConvGeometry {
    /// An unpadded (`valid`) convolution on a square `side × side` input.
    pub fn valid(side: usize, stride: usize) -> Self {
        Self {
            input: [side, side],
            padding: [0; 4],
            stride,
        }
    }

    /// A convolution on a square `side × side` input with the same zero padding on all sides.
    pub fn padded(side: usize, pad: usize, stride: usize) -> Self {
        Self {
            input: [side, side],
            padding: [pad; 4],
            stride,
        }
    }

    /// Height and width of the zero-padded input `P_h × P_w`.
    pub fn padded_size(&self) -> [usize; 2] {
        let [t, l, b, r] = self.padding;
        [self.input[0] + t + b, self.input[1] + l + r]
    }

    /// Output height and width for a `kh × kw` kernel; an error when the stride is zero, the
    /// input is empty or the kernel does not fit in the padded input.
    pub fn output(&self, kernel: [usize; 2]) -> Result<[usize; 2]> {
        let padded = self.padded_size();
        if self.stride == 0 || self.input.contains(&0) || kernel.contains(&0) {
            return Err(SpectralError::Shape(format!(
                "a convolution needs a positive stride, input and kernel, got {self:?} with kernel {kernel:?}"
            )));
        }
        if kernel[0] > padded[0] || kernel[1] > padded[1] {
            return Err(SpectralError::Shape(format!(
                "kernel {kernel:?} does not fit in the padded input {padded:?} ({self:?})"
            )));
        }
        Ok([
            (padded[0] - kernel[0]) / self.stride + 1,
            (padded[1] - kernel[1]) / self.stride + 1,
        ])
    }

    /// Side of the square circular grid the bound is computed on: the larger padded side,
    /// rounded up to a multiple of the stride (see the module docs).
    pub fn grid(&self) -> usize {
        let [ph, pw] = self.padded_size();
        circular_grid(ph.max(pw), self.stride)
    }
}

/// Explicit operator of the zero-padded strided convolution with kernel `w`
/// (`[F, C, k_h, k_w]` row-major): the row-major matrix `[(F·O_h·O_w) × (C·H·W)]` whose column
/// `i` is the layer (without bias) applied to the `i`-th basis image. The ground truth for
/// [`ConvGeometry::grid`]'s bound (small layers only).
pub fn explicit_zero_padded_operator(
    w: &[f32],
    s: ConvShape,
    geometry: ConvGeometry,
) -> Result<Vec<f64>> {
    if w.len() != s.filters * s.channels * s.kh * s.kw {
        return Err(SpectralError::Shape(format!(
            "kernel {s:?} needs {} values, got {}",
            s.filters * s.channels * s.kh * s.kw,
            w.len()
        )));
    }
    let [oh, ow] = geometry.output([s.kh, s.kw])?;
    let [h, wd] = geometry.input;
    let [top, left, _, _] = geometry.padding;
    let stride = geometry.stride;
    let rows = s.filters * oh * ow;
    let cols = s.channels * h * wd;
    let mut a = vec![0.0f64; rows * cols];
    for f in 0..s.filters {
        for m1 in 0..oh {
            for m2 in 0..ow {
                let r = (f * oh + m1) * ow + m2;
                for c in 0..s.channels {
                    for j1 in 0..s.kh {
                        for j2 in 0..s.kw {
                            // Padded coordinates; the padding holds zeros and has no column.
                            let (p1, p2) = (stride * m1 + j1, stride * m2 + j2);
                            if p1 < top || p2 < left || p1 - top >= h || p2 - left >= wd {
                                continue;
                            }
                            let col = (c * h + p1 - top) * wd + p2 - left;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_grid_follow_the_padding() {
        // AlexNet conv2: 27 + 2·2 = 31, stride 1; conv1 (paper): 227 → 228 for stride 4.
        let conv2 = ConvGeometry::padded(27, 2, 1);
        assert_eq!(conv2.output([5, 5]).unwrap(), [27, 27]);
        assert_eq!(conv2.grid(), 31);
        let conv1 = ConvGeometry::valid(227, 4);
        assert_eq!(conv1.output([11, 11]).unwrap(), [55, 55]);
        assert_eq!(conv1.grid(), 228);
        // Asymmetric padding and a rectangular input: the larger padded side decides.
        let g = ConvGeometry {
            input: [5, 9],
            padding: [1, 0, 2, 1],
            stride: 2,
        };
        assert_eq!(g.padded_size(), [8, 10]);
        assert_eq!(g.output([3, 3]).unwrap(), [3, 4]);
        assert_eq!(g.grid(), 10);
        assert!(ConvGeometry::valid(2, 1).output([3, 3]).is_err());
        assert!(ConvGeometry::valid(4, 0).output([3, 3]).is_err());
    }

    #[test]
    fn explicit_operator_of_a_one_tap_kernel_is_a_selection() {
        // A 3×3 kernel with only the centre tap and padding 1 is the identity.
        let s = ConvShape {
            filters: 1,
            channels: 1,
            kh: 3,
            kw: 3,
        };
        let mut w = vec![0.0f32; 9];
        w[4] = 1.0;
        let a = explicit_zero_padded_operator(&w, s, ConvGeometry::padded(4, 1, 1)).unwrap();
        for r in 0..16 {
            for c in 0..16 {
                assert_eq!(a[r * 16 + c], if r == c { 1.0 } else { 0.0 });
            }
        }
    }
}
