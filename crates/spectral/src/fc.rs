//! Frame bounds of a fully connected layer `y = W x`.
//!
//! For `W` with `m` rows and `n` columns the frame bounds are its largest and smallest singular
//! values (the smallest of the `min(m, n)` ones). They are the square roots of the extreme
//! eigenvalues of the smaller Gram matrix, `W Wᵀ` (`m ≤ n`) or `Wᵀ W`, computed in `f64` with
//! nalgebra's symmetric eigenvalue solver (Householder tridiagonalisation + implicit QR). The
//! Gram product squares the condition number, so a lower bound below about `1e-7·σ_max` is at
//! the level of rounding (f64 eps ≈ 2.2e-16 on `σ²`); every layer in Table 5 is far above that.
//! Cost: one `m·n·min(m,n)` product and one `O(min(m,n)³)` eigenvalue solve (AlexNet FC1,
//! 9216×4096: the 4096×4096 Gram matrix).

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SpectralError};

/// Lower and upper frame bounds of a linear operator (smallest and largest singular value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameBounds {
    /// Smallest singular value.
    pub lower: f64,
    /// Largest singular value (the operator norm, an upper Lipschitz constant).
    pub upper: f64,
}

/// Singular values (descending) of the row-major `rows × cols` matrix `w`.
pub fn singular_values(w: &[f32], rows: usize, cols: usize) -> Result<Vec<f64>> {
    if rows == 0 || cols == 0 || w.len() != rows * cols {
        return Err(SpectralError::Shape(format!(
            "a {rows}×{cols} matrix needs {} values, got {}",
            rows * cols,
            w.len()
        )));
    }
    if w.iter().any(|v| !v.is_finite()) {
        return Err(SpectralError::Shape(
            "weights hold a non-finite value".into(),
        ));
    }
    let m = DMatrix::<f64>::from_row_iterator(rows, cols, w.iter().map(|&v| f64::from(v)));
    let gram = if rows <= cols {
        &m * m.transpose()
    } else {
        m.transpose() * &m
    };
    // Eigenvalues only (no eigenvectors); iterates until convergence.
    let eig = gram.symmetric_eigenvalues();
    let mut s: Vec<f64> = eig.iter().map(|&e| e.max(0.0).sqrt()).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    Ok(s)
}

/// Frame bounds of the row-major `rows × cols` matrix `w` (any layout: singular values do not
/// change under transposition, so Burn's `[d_in, d_out]` and PyTorch's `[out, in]` agree).
pub fn fc_bounds(w: &[f32], rows: usize, cols: usize) -> Result<FrameBounds> {
    let s = singular_values(w, rows, cols)?;
    Ok(FrameBounds {
        lower: *s.last().expect("non-empty"),
        upper: s[0],
    })
}
