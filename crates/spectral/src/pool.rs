//! The L2 Lipschitz constant of max pooling.
//!
//! # Derivation
//! A max pool computes, per channel, `y_m = max_{i ∈ W_m} x_i` over windows `W_m` (padding
//! cells hold a constant, `−∞` in Burn, that does not depend on `x`). The maximum is
//! 1-Lipschitz in the sup norm, `|max_i a_i − max_i b_i| ≤ max_i |a_i − b_i|`, so with
//! `d = x − x'`
//!
//! `|y_m − y'_m|² ≤ max_{i ∈ W_m} d_i² ≤ Σ_{i ∈ W_m} d_i²`, and summing over the windows,
//!
//! `‖y − y'‖² ≤ Σ_i c_i d_i² ≤ (max_i c_i) ‖d‖²`,
//!
//! where `c_i` is the number of windows that contain coordinate `i`. A 2-D window is a product
//! of a row window and a column window, so `c_i = c_row(i₁)·c_col(i₂)`, and along one axis with
//! kernel `k`, stride `s` and dilation `d` a window starting at `t·s` holds the offsets
//! `t·s + d·j`, `j < k`: coordinate `i` lies in the window `t` iff `i − t·s = d·j` for some `j`,
//! one `t` per `j` at most, and only `j` with `d·j ≡ i (mod s)` can occur. Hence
//!
//! `c_axis = max_r #{ j < k : d·j ≡ r (mod s) }`, which is `⌈k/s⌉` without dilation,
//!
//! and the Lipschitz constant is at most `√(c_h · c_w)`: for the overlapping 3 × 3 / stride 2
//! pooling of AlexNet `√(2·2) = 2`, for non-overlapping pooling (`s ≥ k`) `1`.
//!
//! # The constant is attained
//! Let `x = 0` and `x' = t·e_i` (`t > 0`) at a coordinate `i` inside `c_h·c_w` windows away
//! from the border. Every window containing `i` outputs `t` instead of `0`, every other window
//! is unchanged, so `‖y − y'‖ = √(c_h c_w)·t = √(c_h c_w)·‖x − x'‖`. A factor of 1 after an
//! overlapping pool is therefore not a Lipschitz bound (tested against Burn's `max_pool2d`).

use serde::{Deserialize, Serialize};

use crate::error::{Result, SpectralError};

/// A 2-D max pooling, in the terms of Burn's `MaxPool2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxPoolSpec {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Strides along height and width.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    /// Dilation along height and width.
    pub dilation: [usize; 2],
    /// Ceiling instead of floor for the output size.
    pub ceil_mode: bool,
}

impl MaxPoolSpec {
    /// An unpadded, undilated pool with the given kernel and stride.
    pub const fn new(kernel: [usize; 2], stride: [usize; 2]) -> Self {
        Self {
            kernel,
            stride,
            padding: [0; 4],
            dilation: [1, 1],
            ceil_mode: false,
        }
    }

    fn check(&self) -> Result<()> {
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(SpectralError::Shape(format!(
                "a max pool needs a positive kernel, stride and dilation, got {self:?}"
            )));
        }
        Ok(())
    }

    /// The most windows any input coordinate belongs to, `c_h · c_w` (see the module docs).
    pub fn windows_per_coordinate(&self) -> Result<usize> {
        self.check()?;
        Ok((0..2)
            .map(|a| windows_per_coordinate(self.kernel[a], self.stride[a], self.dilation[a]))
            .product())
    }

    /// Upper bound on the L2 Lipschitz constant, `√(c_h · c_w)`; attained by an impulse.
    pub fn lipschitz(&self) -> Result<f64> {
        Ok((self.windows_per_coordinate()? as f64).sqrt())
    }

    /// Output height and width on an `input` (height, width) feature map, as Burn computes them.
    pub fn output(&self, input: [usize; 2]) -> Result<[usize; 2]> {
        self.check()?;
        let [t, l, b, r] = self.padding;
        let mut out = [0; 2];
        for (a, (start, end)) in [(t, b), (l, r)].into_iter().enumerate() {
            let (n, s) = (input[a], self.stride[a]);
            let extent = self.dilation[a] * (self.kernel[a] - 1) + 1;
            let padded = n + start + end;
            let reach = if self.ceil_mode {
                padded + s - 1
            } else {
                padded
            };
            if n == 0 || reach < extent {
                return Err(SpectralError::Shape(format!(
                    "max pool {self:?} does not fit a {input:?} input"
                )));
            }
            let mut size = (reach - extent) / s + 1;
            // Ceil mode drops a last window that would start in the trailing padding.
            if self.ceil_mode && size > 1 && (size - 1) * s >= n + start {
                size -= 1;
            }
            out[a] = size;
        }
        Ok(out)
    }
}

/// Along one axis: the most windows (kernel `k`, stride `s`, dilation `d`) that contain one
/// coordinate, `max_r #{ j < k : d·j ≡ r (mod s) }` (`⌈k/s⌉` for `d = 1`).
pub fn windows_per_coordinate(k: usize, s: usize, d: usize) -> usize {
    if s == 0 {
        return k;
    }
    let mut count = vec![0usize; s];
    for j in 0..k {
        count[(d * j) % s] += 1;
    }
    count.into_iter().max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_per_coordinate_is_ceil_k_over_s_without_dilation() {
        for k in 1..8 {
            for s in 1..8 {
                assert_eq!(
                    windows_per_coordinate(k, s, 1),
                    k.div_ceil(s),
                    "k {k} s {s}"
                );
            }
        }
        // Dilation 2, kernel 2, stride 2: offsets 0 and 2 both hit even coordinates, so the
        // windows overlap although k = s.
        assert_eq!(windows_per_coordinate(2, 2, 2), 2);
        assert_eq!(windows_per_coordinate(3, 2, 3), 2);
    }

    #[test]
    fn alexnet_pool_factor_is_two_and_non_overlapping_is_one() {
        let alexnet = MaxPoolSpec::new([3, 3], [2, 2]);
        assert_eq!(alexnet.windows_per_coordinate().unwrap(), 4);
        assert_eq!(alexnet.lipschitz().unwrap(), 2.0);
        assert_eq!(alexnet.output([55, 55]).unwrap(), [27, 27]);
        assert_eq!(alexnet.output([13, 13]).unwrap(), [6, 6]);
        assert_eq!(MaxPoolSpec::new([2, 2], [2, 2]).lipschitz().unwrap(), 1.0);
        assert_eq!(
            MaxPoolSpec::new([3, 2], [1, 2]).lipschitz().unwrap(),
            3f64.sqrt()
        );
        assert!(MaxPoolSpec::new([0, 2], [2, 2]).lipschitz().is_err());
        assert!(MaxPoolSpec::new([3, 3], [2, 2]).output([2, 2]).is_err());
    }

    #[test]
    fn ceil_mode_output_matches_the_backend_rule() {
        // 3×3 / 2 on 6: floor (6 − 3)/2 + 1 = 2, ceil 3 (the last window starts at 4 < 6).
        let mut p = MaxPoolSpec::new([3, 3], [2, 2]);
        assert_eq!(p.output([6, 6]).unwrap(), [2, 2]);
        p.ceil_mode = true;
        assert_eq!(p.output([6, 6]).unwrap(), [3, 3]);
    }
}
