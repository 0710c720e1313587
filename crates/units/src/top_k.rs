//! The top-k images of an image set for many directions at once, streamed in batches.
//!
//! For a layer `φ` and directions `v_1 … v_D`, the score of image `x` for direction `d` is
//! `⟨φ(x), v_d⟩`. The image set is read in batches of `B` images: each batch gives a `[B, D]`
//! score matrix on the device, which comes to the host and is merged into the running `k` best
//! images of every direction, so memory is `O((B + k)·D)` however large the set; the
//! `[n_images, D]` score matrix is never formed.
//!
//! **Ranking.** A unit `e_i` is ranked by its pre-activation `z_i(x)` where the model exposes
//! it ([`PreActivations`]): it orders the images like the activation `φ_i = f(z_i)` and does
//! not tie where float32 rounds a saturated sigmoid to exactly 1 (see [`crate::rank`]). Random
//! directions, and the units of other models, are ranked by `⟨φ(x), v⟩`. Images of equal
//! ranking score are ordered by their index in the set, lowest first, so the top-k set is the
//! first `k` images of the order (score descending, index ascending) on every backend. Both
//! kinds of tie at the k-th place are counted per direction: of the ranking score
//! ([`TopK::ties`]: how many images the lowest-index rule left out) and of the score
//! `⟨φ(x), v⟩` itself ([`TopK::activation_ties`]: how many ranking by the activation alone
//! would have had to choose between).
//!
//! **Degenerate directions.** When the smallest score `⟨φ(x), v⟩` of the top-k set equals the
//! smallest score over the set, the direction is constant on part of its own top-k set (a
//! dead ReLU unit, constant 0 on the set, is the common case) and its top-k set says nothing
//! about the direction.

use blindspot_models::Classifier;
use burn::prelude::*;

use crate::direction::{Directions, Projection};
use crate::error::{Result, UnitsError};
use crate::rank::{PreActivations, Ranking};

/// The top-k images of one set of directions.
#[derive(Debug, Clone, PartialEq)]
pub struct TopK {
    /// Images per direction.
    pub k: usize,
    /// Number of directions.
    pub directions: usize,
    /// What the images were ranked by.
    pub ranking: Ranking,
    /// `[directions, k]`, row-major: image indices into the set, best first (ranking score
    /// descending, then image index ascending).
    pub indices: Vec<usize>,
    /// `[directions, k]`: the scores `⟨φ(x), v⟩` of those images.
    pub values: Vec<f32>,
    /// `[directions, k]`: their ranking scores, the pre-activations under
    /// [`Ranking::PreActivation`], else the same as `values` (NaN ranks as −∞).
    pub keys: Vec<f32>,
    /// `[directions]`: the smallest score `⟨φ(x), v⟩` over the whole set.
    pub minimum: Vec<f32>,
    /// `[directions]`: images outside the top-k set whose ranking score equals the k-th one,
    /// left out by the lowest-index rule; 0 when the set is decided without a tie.
    pub ties: Vec<usize>,
    /// `[directions]`: images outside the top-k set whose score `⟨φ(x), v⟩` equals the
    /// smallest one inside, i.e. the tie at the k-th place of the activation itself (a sigmoid
    /// unit saturated at 1.0 on more than k images); equal to `ties` under
    /// [`Ranking::Activation`].
    pub activation_ties: Vec<usize>,
}

impl TopK {
    /// The top-k image indices of direction `d`, best first.
    pub fn row(&self, d: usize) -> &[usize] {
        &self.indices[d * self.k..(d + 1) * self.k]
    }

    /// The scores `⟨φ(x), v⟩` of direction `d`'s top-k images.
    pub fn row_values(&self, d: usize) -> &[f32] {
        &self.values[d * self.k..(d + 1) * self.k]
    }

    /// The ranking scores of direction `d`'s top-k images.
    pub fn row_keys(&self, d: usize) -> &[f32] {
        &self.keys[d * self.k..(d + 1) * self.k]
    }

    /// Whether direction `d` is constant on part of its top-k set at its minimum over the
    /// whole set (see the module docs).
    pub fn degenerate(&self, d: usize) -> bool {
        let low = self
            .row_values(d)
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        low <= self.minimum[d]
    }

    /// Whether direction `d`'s top-k set depended on the lowest-index rule.
    pub fn tied(&self, d: usize) -> bool {
        self.ties[d] > 0
    }

    /// Whether the score `⟨φ(x), v⟩` ties at direction `d`'s k-th place.
    pub fn activation_tied(&self, d: usize) -> bool {
        self.activation_ties[d] > 0
    }

    /// The images of the whole set tied at direction `d`'s k-th score `⟨φ(x), v⟩`, inside
    /// and outside the top-k set; 0 without a tie.
    pub fn activation_tie_size(&self, d: usize) -> usize {
        if !self.activation_tied(d) {
            return 0;
        }
        let row = self.row_values(d);
        let low = row.iter().copied().fold(f32::INFINITY, f32::min);
        self.activation_ties[d] + row.iter().filter(|&&v| v == low).count()
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

/// Layer `layer` of a batch and, where the model exposes them, its pre-activations.
fn hidden<M: PreActivations>(
    model: &M,
    x: Tensor<2>,
    layer: usize,
) -> Result<(Tensor<2>, Option<Tensor<2>>)> {
    match model.hidden_with_pre_activations(x.clone(), layer) {
        Some((phi, z)) if z.dims() == phi.dims() => Ok((phi, Some(z))),
        Some((phi, z)) => Err(UnitsError::Shape {
            what: format!(
                "pre-activations of layer {layer} (activations {:?})",
                phi.dims()
            ),
            expected: phi.dims().iter().product(),
            found: z.dims().iter().product(),
        }),
        None => Ok((layer_of(model, x, layer)?, None)),
    }
}

/// NaN ranks below everything.
fn rank_value(x: f32) -> f32 {
    if x.is_nan() { f32::NEG_INFINITY } else { x }
}

/// Raises the running maximum `max` (seen `count` times) by `x`.
fn track_max(max: &mut f32, count: &mut usize, x: f32) {
    if x > *max {
        *max = x;
        *count = 1;
    } else if x == *max {
        *count += 1;
    }
}

/// The running k best images of one direction, fed in increasing image index.
struct Best {
    k: usize,
    /// `(ranking score, score, image)`, ranking score descending, then image ascending.
    entries: Vec<(f32, f32, usize)>,
    /// Smallest score over every image seen.
    minimum: f32,
    /// Largest ranking score of the images left out, and how many share it.
    out_key: (f32, usize),
    /// Largest score of the images left out, and how many share it.
    out_value: (f32, usize),
}

impl Best {
    fn new(k: usize) -> Self {
        Self {
            k,
            entries: Vec::with_capacity(k + 1),
            minimum: f32::INFINITY,
            out_key: (f32::NEG_INFINITY, 0),
            out_value: (f32::NEG_INFINITY, 0),
        }
    }

    /// Image `index`, later than every image pushed before: it enters only with a strictly
    /// larger ranking score than the current k-th, so equal scores keep the lower index.
    fn push(&mut self, key: f32, value: f32, index: usize) {
        self.minimum = self.minimum.min(value);
        let key = rank_value(key);
        if self.entries.len() == self.k {
            if key <= self.entries[self.k - 1].0 {
                self.leave_out(key, value);
                return;
            }
            if let Some((k, v, _)) = self.entries.pop() {
                self.leave_out(k, v);
            }
        }
        let at = self.entries.partition_point(|e| e.0 >= key);
        self.entries.insert(at, (key, value, index));
    }

    fn leave_out(&mut self, key: f32, value: f32) {
        track_max(&mut self.out_key.0, &mut self.out_key.1, key);
        track_max(
            &mut self.out_value.0,
            &mut self.out_value.1,
            rank_value(value),
        );
    }

    /// `(ties, activation ties)`: see [`TopK`].
    fn ties(&self) -> (usize, usize) {
        let (out_key, out_keys) = self.out_key;
        let ties = match self.entries.last() {
            Some(&(kth, _, _)) if out_keys > 0 && out_key == kth => out_keys,
            _ => 0,
        };
        let low = self
            .entries
            .iter()
            .map(|e| rank_value(e.1))
            .fold(f32::INFINITY, f32::min);
        let (out_value, out_values) = self.out_value;
        let activation_ties = if out_values > 0 && out_value >= low {
            out_values
        } else {
            0
        };
        (ties, activation_ties)
    }
}

/// The top-k images for every direction of every set, in one pass over the images.
///
/// Units (natural directions) are ranked by their pre-activations when `model` exposes them
/// ([`PreActivations`]), everything else by `⟨φ(x), v⟩`; equal ranking scores go to the lower
/// image index (see the module docs).
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
///
/// # Errors
/// [`UnitsError::InvalidParameter`] for `k` outside `1..=n_images` or no directions;
/// [`UnitsError::Shape`] for images that are not whole rows of the model's input width, or
/// directions of another width than the layer; [`UnitsError::NoSuchLayer`].
#[allow(clippy::too_many_arguments)]
pub fn top_k<M: PreActivations>(
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

    let mut best: Vec<Best> = (0..total).map(|_| Best::new(k)).collect();
    let mut by_pre_activation = false;
    for (b, chunk) in images.chunks(batch_size * input_dim).enumerate() {
        let rows = chunk.len() / input_dim;
        let start = b * batch_size;
        let (phi, pre) = hidden(model, batch_tensor(chunk, input_dim, device), layer)?;
        by_pre_activation = pre.is_some();
        let scores = Tensor::cat(
            projections.iter().map(|p| p.apply(phi.clone())).collect(),
            1,
        );
        let keys = pre.map(|z| {
            let keys = projections
                .iter()
                .map(|p| match p {
                    Projection::Select(units) => z.clone().select(1, units.clone()),
                    Projection::Matmul(_) => p.apply(phi.clone()),
                })
                .collect();
            host(Tensor::cat(keys, 1))
        });
        let scores = host(scores);
        let keys = keys.as_deref().unwrap_or(&scores);
        for r in 0..rows {
            let (s, q) = (
                &scores[r * total..(r + 1) * total],
                &keys[r * total..(r + 1) * total],
            );
            for (j, top) in best.iter_mut().enumerate() {
                top.push(q[j], s[j], start + r);
            }
        }
    }
    let mut out = Vec::with_capacity(sets.len());
    let mut rest = best.as_slice();
    for set in sets {
        let (mine, others) = rest.split_at(set.len());
        rest = others;
        let ranking = match set {
            Directions::Natural { .. } if by_pre_activation => Ranking::PreActivation,
            _ => Ranking::Activation,
        };
        let mut top = TopK {
            k,
            directions: set.len(),
            ranking,
            indices: Vec::with_capacity(set.len() * k),
            values: Vec::with_capacity(set.len() * k),
            keys: Vec::with_capacity(set.len() * k),
            minimum: Vec::with_capacity(set.len()),
            ties: Vec::with_capacity(set.len()),
            activation_ties: Vec::with_capacity(set.len()),
        };
        for b in mine {
            for &(key, value, index) in &b.entries {
                top.keys.push(key);
                top.values.push(value);
                top.indices.push(index);
            }
            let (ties, activation_ties) = b.ties();
            top.minimum.push(b.minimum);
            top.ties.push(ties);
            top.activation_ties.push(activation_ties);
        }
        out.push(top);
    }
    Ok(out)
}
