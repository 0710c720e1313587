//! Shared helpers of the attack crate's integration tests.
#![allow(dead_code)]

use burn::prelude::*;

/// Every CPU backend the tests run on: Flex (Burn's default) and NdArray (deprecated in Burn
/// 0.22 but still shipped).
#[allow(deprecated)]
pub fn test_devices() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray())]
}

/// Reads a float tensor to the host.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
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

    pub fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| lo + (hi - lo) * self.next()).collect()
    }
}

use blindspot_models::mlp::{Activation, Mlp};
use burn::module::Param;
use burn::nn::Linear;

/// A hand-made linear 10-class model on 784 pixels: class `c` sums pixel block `c` (78 pixels),
/// plus seeded perturbations of the weights and biases.
pub fn linear_model(device: &Device, seed: u64) -> Mlp {
    let mut rng = Lcg::new(seed);
    let (d, k) = (784, 10);
    let mut w = vec![0.0f32; d * k];
    for i in 0..d {
        for c in 0..k {
            let on = if i / 78 == c { 0.3 } else { 0.0 };
            w[i * k + c] = on + 0.2 * (rng.next() - 0.5);
        }
    }
    let b = rng.vec(k, -0.5, 0.5);
    Mlp {
        layers: vec![Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d, k]), device)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [k]),
                device,
            ))),
        }],
        activation: Activation::Sigmoid,
        weight_decay: vec![0.0],
    }
}

/// `n` images whose label block is bright (0.6–0.9) over background noise (0–0.3), with labels.
pub fn images(n: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = Lcg::new(seed);
    let mut x = Vec::with_capacity(n * 784);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = (i * 3 + seed as usize) % 10;
        for p in 0..784 {
            x.push(if p / 78 == c {
                0.6 + 0.3 * rng.next()
            } else {
                0.3 * rng.next()
            });
        }
        labels.push(c);
    }
    (x, labels)
}
