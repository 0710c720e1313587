//! Shared helpers of the attack crate's integration tests.
#![allow(dead_code)]

use burn::prelude::*;

#[allow(unused_imports)]
pub use blindspot_testing::{Lcg, test_devices, values};

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
