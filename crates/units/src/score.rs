//! Coherence scores of a set of images that do not look at the network under study.
//!
//! - [`label_share`]: `max_c |{i : y_i = c}| / k`, the share of the most common true label
//!   (1 for a set of one class, about `1/10`…`3/10` for k random MNIST images).
//! - [`mean_pairwise_distance`]: `2/(k(k−1)) Σ_{i<j} |ψ(x_i) − ψ(x_j)|₂` in the feature space
//!   `ψ` of an independently trained model (0 for identical features; lower is more coherent).
//! - [`random_draws`]: the baseline, sets of k distinct images drawn uniformly at random.

use std::collections::HashMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

use crate::error::{Result, UnitsError};

/// The share of the most common label among `labels` (class indices, any number of classes).
pub fn label_share(labels: &[u32]) -> Result<f64> {
    if labels.is_empty() {
        return Err(UnitsError::InvalidParameter(
            "the label share of an empty set is undefined".into(),
        ));
    }
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &l in labels {
        *counts.entry(l).or_default() += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    Ok(top as f64 / labels.len() as f64)
}

/// The labels of the images `set` (indices into `labels`).
pub fn labels_of(labels: &[u32], set: &[usize]) -> Result<Vec<u32>> {
    set.iter()
        .map(|&i| {
            labels.get(i).copied().ok_or(UnitsError::Shape {
                what: format!("label of image {i}"),
                expected: i + 1,
                found: labels.len(),
            })
        })
        .collect()
}

/// The mean Euclidean distance over the pairs of `set` of their rows in `features`
/// (`[n_images, dim]`, row-major).
pub fn mean_pairwise_distance(features: &[f32], dim: usize, set: &[usize]) -> Result<f64> {
    if set.len() < 2 {
        return Err(UnitsError::InvalidParameter(format!(
            "a pairwise distance needs at least 2 images, got {}",
            set.len()
        )));
    }
    if dim == 0 || !features.len().is_multiple_of(dim) {
        return Err(UnitsError::Shape {
            what: format!("features of {dim} values each"),
            expected: dim.max(1) * (features.len() / dim.max(1)),
            found: features.len(),
        });
    }
    let n = features.len() / dim;
    if let Some(&bad) = set.iter().find(|&&i| i >= n) {
        return Err(UnitsError::Shape {
            what: format!("features of image {bad}"),
            expected: (bad + 1) * dim,
            found: features.len(),
        });
    }
    let row = |i: usize| &features[i * dim..(i + 1) * dim];
    let mut sum = 0.0;
    let mut pairs = 0usize;
    for (a, &i) in set.iter().enumerate() {
        for &j in &set[a + 1..] {
            let d2: f64 = row(i)
                .iter()
                .zip(row(j))
                .map(|(&p, &q)| {
                    let d = f64::from(p) - f64::from(q);
                    d * d
                })
                .sum();
            sum += d2.sqrt();
            pairs += 1;
        }
    }
    Ok(sum / pairs as f64)
}

/// `draws` sets of `k` distinct image indices in `0..n_images`, drawn from `seed`.
pub fn random_draws(n_images: usize, k: usize, draws: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    if k == 0 || k > n_images {
        return Err(UnitsError::InvalidParameter(format!(
            "k must be in 1..={n_images}, got {k}"
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    Ok((0..draws)
        .map(|_| sample(&mut rng, n_images, k).into_vec())
        .collect())
}
