//! Shared helpers of the attack crate's integration tests.
#![allow(dead_code)]

use burn::prelude::*;

#[allow(unused_imports)]
pub use blindspot_testing::{Lcg, test_devices, values};

use blindspot_attack::{AttackObserver, AttackResult, LinearModel};
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

/// Images `[N, 784]` as a tensor on `device`.
pub fn upload(x: &[f32], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(x.to_vec(), [x.len() / 784, 784]), device)
}

pub fn argmax(z: &[f64]) -> usize {
    (0..z.len()).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap()
}

/// Whether the stored example of problem `i` reaches its goal, by the host's own logits.
pub fn reaches(oracle: &LinearModel, result: &AttackResult, i: usize) -> bool {
    let p = result.problems[i];
    let top = argmax(&oracle.logits(result.adversarial(i)));
    match p.target {
        None => top != p.label,
        Some(t) => top == t,
    }
}

/// `max_i |x′_i − x_i|` of problem `i`.
pub fn linf(result: &AttackResult, x: &[f32], i: usize) -> f64 {
    let image = result.problems[i].image;
    result
        .adversarial(i)
        .iter()
        .zip(&x[image * 784..(image + 1) * 784])
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
        .fold(0.0, f64::max)
}

/// The smallest L∞ perturbation in the unit box after which class `l` scores at least as high
/// as `k` (the box constraint makes each coordinate move by `t·sign(a_i)` clipped to [0, 1], and
/// the gain is monotone in `t`), found by bisection to 1e-12; infinite if none does.
pub fn linf_pair(oracle: &LinearModel, x: &[f32], l: usize, k: usize) -> f64 {
    let row = |c: usize| &oracle.weight[c * oracle.dim..(c + 1) * oracle.dim];
    let a: Vec<f64> = row(l)
        .iter()
        .zip(row(k))
        .map(|(&p, &q)| f64::from(p) - f64::from(q))
        .collect();
    let beta = f64::from(oracle.bias[l]) - f64::from(oracle.bias[k]);
    let gain = |t: f64| {
        beta + a
            .iter()
            .zip(x)
            .map(|(&ai, &xi)| ai * (f64::from(xi) + t * ai.signum()).clamp(0.0, 1.0))
            .sum::<f64>()
    };
    if gain(1.0) < 0.0 {
        return f64::INFINITY;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while hi - lo > 1e-12 {
        let mid = 0.5 * (lo + hi);
        if gain(mid) >= 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Untargeted: the nearest class overtaking `y`.
pub fn linf_untargeted(oracle: &LinearModel, x: &[f32], y: usize) -> f64 {
    (0..oracle.classes)
        .filter(|&l| l != y)
        .map(|l| linf_pair(oracle, x, l, y))
        .fold(f64::INFINITY, f64::min)
}

/// Targeted, a lower bound on the optimum: `t` must beat every other class, so it lies at
/// least as far as the farthest of the pairwise boundaries. (FMN lands within 1e-4 of it
/// on the linear test models, so the bound is tight there.)
pub fn linf_targeted_bound(oracle: &LinearModel, x: &[f32], t: usize) -> f64 {
    (0..oracle.classes)
        .filter(|&k| k != t)
        .map(|k| linf_pair(oracle, x, t, k))
        .fold(0.0, f64::max)
}

/// A 10-class "model" whose logits are its biases: no input gradient at all.
pub fn constant_model(device: &Device) -> Mlp {
    let mut bias = vec![0.0f32; 10];
    bias[0] = 1.0;
    Mlp {
        layers: vec![Linear {
            weight: Param::from_tensor(Tensor::zeros([784, 10], device)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(bias, [10]),
                device,
            ))),
        }],
        activation: Activation::Sigmoid,
        weight_decay: vec![0.0],
    }
}

/// Records every progress report.
pub struct Reports(pub Vec<(usize, usize)>);

impl AttackObserver for Reports {
    fn progress(&mut self, finished: usize, total: usize) {
        self.0.push((finished, total));
    }
}
