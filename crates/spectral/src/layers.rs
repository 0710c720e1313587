//! Layers as host weights, their frame bounds, and the network's Lipschitz constant.
//!
//! A network here is a chain of linear layers, each followed by a nonlinearity with a known
//! Lipschitz constant (ReLU and non-overlapping max pooling: 1; the logistic sigmoid: 1/4, the
//! maximum of its derivative). The product of the layers' upper frame bounds and these
//! constants bounds the Lipschitz constant (L2 → L2) of the logits.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::conv::{ConvShape, circular_grid, conv_bounds};
use crate::error::{Result, SpectralError};
use crate::fc::{FrameBounds, fc_bounds};

/// What linear map a layer applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LayerKind {
    /// Fully connected, `rows × cols` (PyTorch `[out, in]`).
    Fc {
        /// Output width.
        rows: usize,
        /// Input width.
        cols: usize,
    },
    /// Convolution `[F, C, k_h, k_w]` with a stride, on an `input × input` grid (circular model).
    Conv {
        /// Kernel shape `[F, C, k_h, k_w]`.
        shape: [usize; 4],
        /// Stride `Δ`.
        stride: usize,
        /// Input side the bound is computed on (rounded up to a multiple of the stride).
        input: usize,
    },
}

/// One linear layer as host weights, with the Lipschitz constant of what follows it.
#[derive(Debug, Clone)]
pub struct HostLayer {
    /// Name (`conv1`, `fc2`, ...).
    pub name: String,
    /// The map.
    pub kind: LayerKind,
    /// Row-major weights (conv `[F, C, k_h, k_w]`; FC `[rows, cols]` = `[out, in]`).
    pub weights: Vec<f32>,
    /// Lipschitz constant of the nonlinearity (and pooling) after the layer; 1 for the logits.
    pub after: f64,
}

/// A layer's frame bounds, as reported in Table 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerBound {
    /// Name.
    pub name: String,
    /// The map.
    pub kind: LayerKind,
    /// The paper's size string (`3×11×11×96`, `9216×4096`).
    pub size: String,
    /// Lower and upper frame bounds.
    pub bounds: FrameBounds,
    /// Lipschitz constant of the nonlinearity after the layer.
    pub after: f64,
}

impl HostLayer {
    /// Frame bounds; `progress(done, total)` reports frequencies of a convolution.
    pub fn bound(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<LayerBound> {
        let (bounds, size) = match &self.kind {
            LayerKind::Fc { rows, cols } => (
                fc_bounds(&self.weights, *rows, *cols)?,
                format!("{cols}×{rows}"),
            ),
            LayerKind::Conv {
                shape,
                stride,
                input,
            } => (
                conv_bounds(
                    &self.weights,
                    ConvShape::from_dims(shape)?,
                    *stride,
                    *input,
                    progress,
                )?,
                format!("{}×{}×{}×{}", shape[1], shape[2], shape[3], shape[0]),
            ),
        };
        Ok(LayerBound {
            name: self.name.clone(),
            kind: self.kind.clone(),
            size,
            bounds,
            after: self.after,
        })
    }
}

/// Upper bound on the Lipschitz constant of the whole chain: `Π_k upper_k · after_k`.
pub fn lipschitz_bound(layers: &[LayerBound]) -> f64 {
    layers.iter().map(|l| l.bounds.upper * l.after).product()
}

/// Reads a float tensor to the host as `f32`.
pub fn host_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| SpectralError::Shape(format!("reading a tensor: {e:?}")))
}

/// A Burn `Linear` (weight `[d_in, d_out]`) as a host FC layer in PyTorch's `[out, in]`
/// layout, so that sizes read `in×out` as in the paper.
pub fn linear_layer(name: &str, layer: &burn::nn::Linear, after: f64) -> Result<HostLayer> {
    let [d_in, d_out] = layer.weight.dims();
    Ok(HostLayer {
        name: name.into(),
        kind: LayerKind::Fc {
            rows: d_out,
            cols: d_in,
        },
        weights: host_values(layer.weight.val().transpose())?,
        after,
    })
}

/// A Burn `Conv2d` as a host conv layer on an `input`-wide grid.
pub fn conv_layer(
    name: &str,
    layer: &burn::nn::conv::Conv2d,
    input: usize,
    after: f64,
) -> Result<HostLayer> {
    let shape = layer.weight.dims();
    if layer.stride[0] != layer.stride[1] || layer.dilation != [1, 1] || layer.groups != 1 {
        return Err(SpectralError::Shape(format!(
            "{name}: only equal strides, no dilation and one group are supported"
        )));
    }
    Ok(HostLayer {
        name: name.into(),
        kind: LayerKind::Conv {
            shape,
            stride: layer.stride[0],
            input: circular_grid(input, layer.stride[0]),
        },
        weights: host_values(layer.weight.val())?,
        after,
    })
}
