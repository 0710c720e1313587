//! Seeded Gaussian noise, the baseline the paper compares adversarial examples with: noise is
//! added to every pixel, then the image is clipped back to the box, so the RMS change of a
//! noisy image is a little below the noise's standard deviation near black and white pixels.

use blindspot_models::Bounds;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A seeded stream of standard normal samples (Box–Muller on `StdRng`).
#[derive(Debug, Clone)]
pub struct Gaussian {
    rng: StdRng,
}

impl Gaussian {
    /// The stream of seed `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// One standard normal sample.
    pub fn sample(&mut self) -> f32 {
        let u: f32 = self.rng.random::<f32>().max(f32::MIN_POSITIVE);
        let v: f32 = self.rng.random();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    /// `x` plus noise of standard deviation `stddev` on every coordinate, clipped to `bounds`.
    ///
    /// # Panics
    /// If `bounds.lo > bounds.hi` or either is NaN (as [`f32::clamp`]).
    pub fn perturb(&mut self, x: &[f32], stddev: f32, bounds: Bounds) -> Vec<f32> {
        let s = stddev.max(0.0);
        x.iter()
            .map(|&v| (v + s * self.sample()).clamp(bounds.lo, bounds.hi))
            .collect()
    }
}

/// `original` plus seeded Gaussian noise of standard deviation `stddev` (the RMS before
/// clipping), clipped to `bounds` (the model's box, [`Bounds::UNIT`] for MNIST).
///
/// # Panics
/// If `bounds.lo > bounds.hi` or either is NaN (as [`f32::clamp`]).
pub fn gaussian_noise(original: &[f32], stddev: f32, seed: u64, bounds: Bounds) -> Vec<f32> {
    Gaussian::new(seed).perturb(original, stddev, bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_the_requested_rms_and_stays_in_the_box() {
        let x = vec![0.5; 10_000];
        let y = gaussian_noise(&x, 0.05, 1, Bounds::UNIT);
        let rms = (y.iter().map(|v| (v - 0.5).powi(2)).sum::<f32>() / 1e4).sqrt();
        assert!((rms - 0.05).abs() < 0.003, "{rms}");
        assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(y, gaussian_noise(&x, 0.05, 1, Bounds::UNIT));
        assert_ne!(y, gaussian_noise(&x, 0.05, 2, Bounds::UNIT));
    }

    #[test]
    fn noise_is_clipped_to_the_given_box() {
        let bounds = Bounds { lo: -2.0, hi: 0.5 };
        let x = vec![0.4; 10_000];
        let y = gaussian_noise(&x, 1.0, 3, bounds);
        assert!(y.iter().all(|v| (-2.0..=0.5).contains(v)));
        // Noise of stddev 1 around 0.4 often crosses 0.5, where it is clipped, and goes below 0.
        assert!(y.contains(&0.5));
        assert!(y.iter().any(|&v| v < 0.0));
    }
}
