//! The top-k images of an image set for many directions at once, streamed in batches on the
//! device.
//!
//! For a layer `φ` and directions `v_1 … v_D`, the score of image `x` for direction `d` is
//! `⟨φ(x), v_d⟩`. The image set is read in batches of `B` images: each batch gives a `[B, D]`
//! score matrix on the device, which is stacked under the running `[k, D]` best scores (and
//! their image indices) and cut back to `k` rows with `topk` along the image axis. Only the final
//! `[k, D]` values and indices, and a `[D]` running minimum, come back to the host, so memory is
//! `O((B + k)·D)` however large the set; the `[n_images, D]` score matrix is never formed.
//!
//! The running minimum serves to flag *degenerate* directions: when the k-th best score equals
//! the smallest score over the set, the top-k set is partly decided by ties (a dead ReLU unit,
//! constant 0 on the set, is the common case) and says nothing about the direction.

use blindspot_models::Classifier;
use burn::prelude::*;

use crate::direction::Directions;
use crate::error::{Result, UnitsError};

/// The top-k images of one set of directions.
#[derive(Debug, Clone, PartialEq)]
pub struct TopK {
    /// Images per direction.
    pub k: usize,
    /// Number of directions.
    pub directions: usize,
    /// `[directions, k]`, row-major: image indices into the set, best first.
    pub indices: Vec<usize>,
    /// `[directions, k]`: the scores `⟨φ(x), v⟩` of those images.
    pub values: Vec<f32>,
    /// `[directions]`: the smallest score over the whole set.
    pub minimum: Vec<f32>,
}

impl TopK {
    /// The top-k image indices of direction `d`, best first.
    pub fn row(&self, d: usize) -> &[usize] {
        &self.indices[d * self.k..(d + 1) * self.k]
    }

    /// The scores of direction `d`'s top-k images.
    pub fn row_values(&self, d: usize) -> &[f32] {
        &self.values[d * self.k..(d + 1) * self.k]
    }

    /// Whether direction `d`'s top-k set is partly decided by ties at its minimum (see the
    /// module docs).
    pub fn degenerate(&self, d: usize) -> bool {
        self.values[d * self.k + self.k - 1] <= self.minimum[d]
    }
}

/// A batch of images as a `[rows, input_dim]` tensor.
fn batch_tensor(images: &[f32], input_dim: usize, device: &Device) -> Tensor<2> {
    let rows = images.len() / input_dim;
    Tensor::from_data(TensorData::new(images.to_vec(), [rows, input_dim]), device)
}

/// Whether `input_dim` is the width of `model`'s inputs ([`Classifier::input_len`]).
fn check_input_dim<M: Classifier>(model: &M, input_dim: usize) -> Result<()> {
    if input_dim == model.input_len() {
        Ok(())
    } else {
        Err(UnitsError::Shape {
            what: format!(
                "values per image (the model's input shape is {:?})",
                model.input_shape()
            ),
            expected: model.input_len(),
            found: input_dim,
        })
    }
}

fn check_images(images: &[f32], input_dim: usize) -> Result<usize> {
    if input_dim == 0 || images.is_empty() || !images.len().is_multiple_of(input_dim) {
        return Err(UnitsError::Shape {
            what: format!("images of {input_dim} values each"),
            expected: input_dim.max(1) * (images.len() / input_dim.max(1)).max(1),
            found: images.len(),
        });
    }
    Ok(images.len() / input_dim)
}

/// Layer `layer` of `model` on a batch, checked to exist.
fn layer_of<M: Classifier>(model: &M, x: Tensor<2>, layer: usize) -> Result<Tensor<2>> {
    let acts = model.activations(x);
    let layers = acts.len();
    acts.into_iter()
        .nth(layer)
        .ok_or(UnitsError::NoSuchLayer { layer, layers })
}

/// The number of hidden layers of `model` and the width of `layer`, from one zero input;
/// `input_dim` must be the model's [`Classifier::input_len`].
pub fn layer_width<M: Classifier>(
    model: &M,
    layer: usize,
    input_dim: usize,
    device: &Device,
) -> Result<(usize, usize)> {
    check_input_dim(model, input_dim)?;
    let acts = model.activations(Tensor::zeros([1, input_dim], device));
    let layers = acts.len();
    acts.get(layer)
        .map(|a| (layers, a.dims()[1]))
        .ok_or(UnitsError::NoSuchLayer { layer, layers })
}

/// The activations of `layer` for every image, `[n_images, width]` on the host (for a
/// reference model's feature space).
///
/// # Shapes
/// - `images`: `[n_images, input_dim]`, row-major, `input_dim` the model's
///   [`Classifier::input_len`]
/// - output: `([n_images, width], width)`
pub fn layer_features<M: Classifier>(
    model: &M,
    layer: usize,
    images: &[f32],
    input_dim: usize,
    batch_size: usize,
    device: &Device,
) -> Result<(Vec<f32>, usize)> {
    check_input_dim(model, input_dim)?;
    check_images(images, input_dim)?;
    let batch_size = batch_size.max(1);
    let mut out = Vec::new();
    let mut width = 0;
    for chunk in images.chunks(batch_size * input_dim) {
        let phi = layer_of(model, batch_tensor(chunk, input_dim, device), layer)?;
        width = phi.dims()[1];
        out.extend(host(phi));
    }
    Ok((out, width))
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// The top-k images for every direction of every set, in one pass over the images.
///
/// # Arguments
/// - `model`, `layer`: `φ` is `model.activations(x)[layer]`, `[batch, width]`.
/// - `images`: `[n_images, input_dim]`, row-major, `input_dim` the model's
///   [`Classifier::input_len`]; `k ≤ n_images`.
/// - `sets`: direction sets, all of the layer's width; one [`TopK`] per set comes back.
/// - `batch_size`: images per forward pass.
///
/// # Returns
/// One [`TopK`] per set, rows in the set's order, each row's images best first.
#[allow(clippy::too_many_arguments)]
pub fn top_k<M: Classifier>(
    model: &M,
    layer: usize,
    images: &[f32],
    input_dim: usize,
    sets: &[&Directions],
    k: usize,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<TopK>> {
    let n = check_images(images, input_dim)?;
    if k == 0 || k > n {
        return Err(UnitsError::InvalidParameter(format!(
            "k must be in 1..={n} (the image set), got {k}"
        )));
    }
    if sets.is_empty() || sets.iter().any(|s| s.is_empty()) {
        return Err(UnitsError::InvalidParameter(
            "at least one non-empty set of directions is needed".into(),
        ));
    }
    let (_, width) = layer_width(model, layer, input_dim, device)?;
    if let Some(bad) = sets.iter().find(|s| s.width() != width) {
        return Err(UnitsError::Shape {
            what: format!("directions of layer {layer}"),
            expected: width,
            found: bad.width(),
        });
    }
    let projections: Vec<_> = sets.iter().map(|s| s.to_device(device)).collect();
    let total: usize = sets.iter().map(|s| s.len()).sum();
    let batch_size = batch_size.max(1);

    // Running (best scores [k', D], their image indices [k', D], minimum [1, D]).
    let mut best: Option<(Tensor<2>, Tensor<2, Int>, Tensor<2>)> = None;
    for (b, chunk) in images.chunks(batch_size * input_dim).enumerate() {
        let rows = chunk.len() / input_dim;
        let start = (b * batch_size) as i64;
        let phi = layer_of(model, batch_tensor(chunk, input_dim, device), layer)?;
        let scores = Tensor::cat(
            projections.iter().map(|p| p.apply(phi.clone())).collect(),
            1,
        );
        let batch_min = scores.clone().min_dim(0);
        let ids = Tensor::<1, Int>::arange(start..start + rows as i64, device)
            .reshape([rows, 1])
            .expand([rows, total]);
        let (values, indices, minimum) = match best {
            None => (scores, ids, batch_min),
            Some((v, i, m)) => (
                Tensor::cat(vec![v, scores], 0),
                Tensor::cat(vec![i, ids], 0),
                m.min_pair(batch_min),
            ),
        };
        let keep = k.min(values.dims()[0]);
        let (top, position) = values.topk_with_indices(keep, 0);
        best = Some((top, indices.gather(0, position), minimum));
    }
    let (values, indices, minimum) =
        best.ok_or_else(|| UnitsError::InvalidParameter("the image set is empty".into()))?;
    let minimum = host(minimum);
    // [k, total] → per set, per direction rows.
    let values = host(values);
    let indices: Vec<i64> = indices.into_data().iter::<i64>().collect();
    let mut out = Vec::with_capacity(sets.len());
    let mut offset = 0;
    for set in sets {
        let d = set.len();
        let mut top = TopK {
            k,
            directions: d,
            indices: Vec::with_capacity(d * k),
            values: Vec::with_capacity(d * k),
            minimum: minimum[offset..offset + d].to_vec(),
        };
        for j in offset..offset + d {
            for r in 0..k {
                top.indices.push(indices[r * total + j] as usize);
                top.values.push(values[r * total + j]);
            }
        }
        offset += d;
        out.push(top);
    }
    Ok(out)
}
