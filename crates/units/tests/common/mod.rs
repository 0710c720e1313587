//! Shared helpers of the units crate's integration tests.
#![allow(dead_code)]

use blindspot_models::Classifier;
use burn::prelude::*;

/// Every CPU backend the tests run on: Flex (Burn's default) and NdArray (deprecated in Burn
/// 0.22 but still shipped).
#[allow(deprecated)]
pub fn test_devices() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray())]
}

/// A "model" whose only hidden layer is the identity: `φ(x) = x`.
pub struct Identity;

impl Classifier for Identity {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        x
    }

    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        vec![x]
    }

    fn num_classes(&self) -> usize {
        2
    }
}

/// A seeded uniform generator in `[0, 1)` (a tiny LCG, so the tests need no extra crate).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(
            seed.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        )
    }

    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next();
        let u2 = self.next();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `n × d` distinct-valued features in `[0, 1)`, row-major.
    pub fn matrix(&mut self, n: usize, d: usize) -> Vec<f32> {
        (0..n * d).map(|_| self.next() as f32).collect()
    }
}

/// Indices of the `k` largest values of `score(i)` over `0..n`, best first (host oracle).
pub fn host_top_k(n: usize, k: usize, score: impl Fn(usize) -> f64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
    idx.truncate(k);
    idx
}
