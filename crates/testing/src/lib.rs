//! Helpers shared by the integration tests of the blindspot crates (a dev-dependency only):
//! the CPU devices every backend-generic test runs on, reading a tensor to the host, and a
//! seeded generator small enough that the tests need no random-number crate.

use burn::prelude::*;

/// Every CPU backend the tests run on: Flex (Burn's default) and NdArray (deprecated in Burn
/// 0.22 but still shipped).
#[allow(deprecated)]
pub fn test_devices() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray())]
}

/// Reads a float tensor to the host.
///
/// # Panics
/// If the tensor cannot be read as `f32` (a test failure).
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("a float tensor reads as f32")
}

/// A seeded uniform generator (a 64-bit LCG).
pub struct Lcg(u64);

impl Lcg {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(
            seed.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        )
    }

    fn step(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0
    }

    /// A uniform draw in `[0, 1)` with 24 bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> f32 {
        (self.step() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A uniform draw in `[0, 1)` with 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.step() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `n` uniform draws in `[lo, hi)`.
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| lo + (hi - lo) * self.next()).collect()
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `n × d` distinct-valued features in `[0, 1)`, row-major.
    pub fn matrix(&mut self, n: usize, d: usize) -> Vec<f32> {
        (0..n * d).map(|_| self.next_f64() as f32).collect()
    }
}
