//! Shared helpers of the units crate's integration tests.
#![allow(dead_code)]

use blindspot_models::Classifier;
use blindspot_units::PreActivations;
use burn::prelude::*;

#[allow(unused_imports)]
pub use blindspot_testing::{Lcg, test_devices, values};

/// A "model" on inputs of the given width whose only hidden layer is the identity: `φ(x) = x`.
pub struct Identity(pub usize);

impl Classifier for Identity {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        x
    }

    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        vec![x]
    }

    fn input_shape(&self) -> [usize; 3] {
        [1, 1, self.0]
    }

    fn num_classes(&self) -> usize {
        2
    }
}

/// No pre-activations: units are ranked by `φ(x) = x` itself.
impl PreActivations for Identity {}

/// Indices of the `k` largest values of `score(i)` over `0..n`, best first, equal scores by
/// lowest index (host oracle: a stable sort).
pub fn host_top_k(n: usize, k: usize, score: impl Fn(usize) -> f64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
    idx.truncate(k);
    idx
}
