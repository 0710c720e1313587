//! The paper's distortion: `sqrt(Σ(x′ᵢ − xᵢ)² / n)` with `n` the number of pixels (784 for
//! MNIST), i.e. the RMS change per pixel in `[0, 1]` units. No other distance is called
//! "distortion" in blindspot; the plain L2 norm `‖x′ − x‖₂ = sqrt(n) · distortion` is reported
//! beside it.

/// The paper's RMS distortion between two images of the same length.
pub fn rms(x: &[f32], x_adv: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (squared_l2(x, x_adv) / x.len() as f64).sqrt() as f32
}

/// The plain Euclidean norm `‖x′ − x‖₂`.
pub fn l2(x: &[f32], x_adv: &[f32]) -> f32 {
    squared_l2(x, x_adv).sqrt() as f32
}

fn squared_l2(x: &[f32], x_adv: &[f32]) -> f64 {
    x.iter()
        .zip(x_adv)
        .map(|(&a, &b)| {
            let d = f64::from(b) - f64::from(a);
            d * d
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_is_l2_over_sqrt_n() {
        let x = vec![0.0; 784];
        let mut y = x.clone();
        y[0] = 0.3;
        y[1] = 0.4;
        assert!((l2(&x, &y) - 0.5).abs() < 1e-7);
        assert!((rms(&x, &y) - 0.5 / 28.0).abs() < 1e-7);
        assert_eq!(rms(&x, &x), 0.0);
    }
}
