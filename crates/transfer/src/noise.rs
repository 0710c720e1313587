//! Seeded Gaussian noise, the baseline the paper compares adversarial examples with: noise is
//! added to every pixel, then the image is clipped back to the box, so the RMS change of a
//! noisy image is a little below the noise's standard deviation near black and white pixels.

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

    /// `x` plus noise of standard deviation `stddev` on every coordinate, clipped to
    /// `[lo, hi]`.
    pub fn perturb(&mut self, x: &[f32], stddev: f32, lo: f32, hi: f32) -> Vec<f32> {
        let s = stddev.max(0.0);
        x.iter()
            .map(|&v| (v + s * self.sample()).clamp(lo, hi))
            .collect()
    }
}

/// `original` plus seeded Gaussian noise of standard deviation `stddev` (the RMS before
/// clipping), clipped to `[0, 1]`.
pub fn gaussian_noise(original: &[f32], stddev: f32, seed: u64) -> Vec<f32> {
    Gaussian::new(seed).perturb(original, stddev, 0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_the_requested_rms_and_stays_in_the_box() {
        let x = vec![0.5; 10_000];
        let y = gaussian_noise(&x, 0.05, 1);
        let rms = (y.iter().map(|v| (v - 0.5).powi(2)).sum::<f32>() / 1e4).sqrt();
        assert!((rms - 0.05).abs() < 0.003, "{rms}");
        assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(y, gaussian_noise(&x, 0.05, 1));
        assert_ne!(y, gaussian_noise(&x, 0.05, 2));
    }
}
