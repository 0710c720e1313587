//! Layers as host weights and their frame bounds.
//!
//! A network here is a chain of linear layers, each followed by maps with a known Lipschitz
//! constant up to the next linear layer (its `after`): ReLU 1, the logistic sigmoid 1/4 (the
//! maximum of its derivative), max pooling `√(c_h·c_w)` ([`crate::pool`]; 1 when the windows do
//! not overlap), their products when several follow each other. By the chain rule for Lipschitz
//! constants, the product of the layers' upper frame bounds and these constants bounds the
//! Lipschitz constant (L2 → L2) of the logits ([`bound_product`]).

use serde::{Deserialize, Serialize};

use crate::conv::{ConvShape, conv_bounds};
use crate::error::{Result, SpectralError};
use crate::fc::{FrameBounds, fc_bounds};
use crate::scale::scale_bounds;
use crate::zero_padded::ConvGeometry;

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
    /// Zero-padded strided convolution `[F, C, k_h, k_w]`; the bound is computed on the circular
    /// grid [`ConvGeometry::grid`] (see [`crate::zero_padded`]).
    Conv {
        /// Kernel shape `[F, C, k_h, k_w]` (dense: groups and dilation already expanded).
        shape: [usize; 4],
        /// Input size, padding and stride.
        geometry: ConvGeometry,
    },
    /// Per-channel scale `x_c ↦ a_c x_c` (a normalization `(x − μ)/σ` has `a_c = 1/σ_c`); the
    /// weights are the `channels` factors.
    Scale {
        /// Number of factors.
        channels: usize,
    },
}

impl LayerKind {
    /// The circular grid side and the stride of a convolution's bound; `None` for other layers.
    pub fn conv_grid(&self) -> Option<(usize, usize)> {
        match self {
            LayerKind::Conv { geometry, .. } => Some((geometry.grid(), geometry.stride)),
            _ => None,
        }
    }

    /// Number of weights the layer holds.
    pub fn weight_count(&self) -> usize {
        match self {
            LayerKind::Fc { rows, cols } => rows * cols,
            LayerKind::Conv { shape, .. } => shape.iter().product(),
            LayerKind::Scale { channels } => *channels,
        }
    }
}

/// One linear layer as host weights, with the Lipschitz constant of what follows it.
#[derive(Debug, Clone)]
pub struct HostLayer {
    /// Name (`conv1`, `fc2`, ...).
    pub name: String,
    /// The map.
    pub kind: LayerKind,
    /// Row-major weights (conv `[F, C, k_h, k_w]`; FC `[rows, cols]` = `[out, in]`; scale: the
    /// factors).
    pub weights: Vec<f32>,
    /// Lipschitz constant of the nonlinearities (and pooling) after the layer up to the next
    /// linear layer; 1 for the logits.
    pub after: f64,
}

/// A layer's frame bounds, as reported in Table 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerBound {
    /// Name.
    pub name: String,
    /// The map.
    pub kind: LayerKind,
    /// The paper's size string (`3×11×11×96`, `9216×4096`; a scale: `diag(3)`).
    pub size: String,
    /// Lower and upper frame bounds.
    pub bounds: FrameBounds,
    /// Lipschitz constant of what follows the layer.
    pub after: f64,
}

impl HostLayer {
    /// Frame bounds; `progress(done, total)` reports frequencies of a convolution.
    pub fn bound(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<LayerBound> {
        if !(self.after.is_finite() && self.after >= 0.0) {
            return Err(SpectralError::Value(format!(
                "{}: the Lipschitz constant after the layer must be finite and ≥ 0, got {}",
                self.name, self.after
            )));
        }
        if self.weights.len() != self.kind.weight_count() {
            return Err(SpectralError::Shape(format!(
                "{}: {:?} needs {} weights, got {}",
                self.name,
                self.kind,
                self.kind.weight_count(),
                self.weights.len()
            )));
        }
        let (bounds, size) = match &self.kind {
            LayerKind::Fc { rows, cols } => (
                fc_bounds(&self.weights, *rows, *cols)?,
                format!("{cols}×{rows}"),
            ),
            LayerKind::Conv { shape, geometry } => {
                geometry.output([shape[2], shape[3]])?;
                (
                    conv_bounds(
                        &self.weights,
                        ConvShape::from_dims(shape)?,
                        geometry.stride,
                        geometry.grid(),
                        progress,
                    )?,
                    format!("{}×{}×{}×{}", shape[1], shape[2], shape[3], shape[0]),
                )
            }
            LayerKind::Scale { channels } => {
                (scale_bounds(&self.weights)?, format!("diag({channels})"))
            }
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
pub fn bound_product(layers: &[LayerBound]) -> f64 {
    layers.iter().map(|l| l.bounds.upper * l.after).product()
}
