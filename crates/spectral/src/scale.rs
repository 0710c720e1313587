//! Frame bounds of a per-channel scale, the linear part of an input normalization.
//!
//! A normalization `x_c ↦ (x_c − μ_c)/σ_c` (or a batch norm at evaluation,
//! `x_c ↦ γ_c (x_c − μ_c)/√(v_c + ε) + β_c`) differs from the diagonal linear map
//! `x_c ↦ a_c x_c` by a constant, which cancels in `f(x) − f(x')`. The diagonal map repeats
//! `a_c` over the `H·W` coordinates of channel `c`, so its singular values are the `|a_c|`:
//!
//! `upper = max_c |a_c|`, `lower = min_c |a_c|` (for `(x − μ)/σ`: `max 1/σ_c` and `min 1/σ_c`).

use crate::error::{Result, SpectralError};
use crate::fc::FrameBounds;

/// Frame bounds of the diagonal map `x_c ↦ factors[c]·x_c`.
pub fn scale_bounds(factors: &[f32]) -> Result<FrameBounds> {
    if factors.is_empty() {
        return Err(SpectralError::Shape("a scale layer needs a factor".into()));
    }
    if factors.iter().any(|a| !a.is_finite()) {
        return Err(SpectralError::Value("a scale factor is not finite".into()));
    }
    let abs = factors.iter().map(|&a| f64::from(a).abs());
    Ok(FrameBounds {
        lower: abs.clone().fold(f64::INFINITY, f64::min),
        upper: abs.fold(0.0, f64::max),
    })
}

/// The factors `1/σ_c` of a normalization `(x − μ)/σ`; every `σ_c` must be positive and finite.
pub fn normalization_factors(std: &[f32]) -> Result<Vec<f32>> {
    std.iter()
        .map(|&s| {
            if s.is_finite() && s > 0.0 {
                Ok(1.0 / s)
            } else {
                Err(SpectralError::Value(format!(
                    "a normalization needs positive, finite standard deviations, got {s}"
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_the_extreme_absolute_factors() {
        let f = normalization_factors(&[0.25, 0.5, 2.0]).unwrap();
        assert_eq!(f, vec![4.0, 2.0, 0.5]);
        let b = scale_bounds(&f).unwrap();
        assert_eq!((b.lower, b.upper), (0.5, 4.0));
        let b = scale_bounds(&[-3.0, 0.5]).unwrap();
        assert_eq!((b.lower, b.upper), (0.5, 3.0));
        assert!(normalization_factors(&[1.0, 0.0]).is_err());
        assert!(normalization_factors(&[f32::NAN]).is_err());
        assert!(scale_bounds(&[]).is_err());
    }
}
