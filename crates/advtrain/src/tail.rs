//! [`MlpTail`]: the part of an MLP above a layer, as a classifier of that layer's outputs —
//! what the per-layer adversarial examples attack and what they train.
//!
//! Level 0 is the input; level `k ≥ 1` is the output `h_k = φ_k(x)` of hidden layer `k`. The
//! tail at level `k` maps `h_k` `[batch, width_k]` to the logits through layers `k+1 …`. Its box is
//! the range of the layer's nonlinearity: `[0, 1]` for the sigmoid (the paper's MLPs). ReLU
//! layers have no upper bound, so per-layer examples are refused for them.

use blindspot_models::mlp::{Activation, Mlp};
use blindspot_models::{Bounds, Classifier, InputShape};
use burn::prelude::*;

use crate::error::{AdvTrainError, Result};

/// The layers of `mlp` above level `level`, as a classifier of that level's values.
#[derive(Debug, Clone, Copy)]
pub struct MlpTail<'a> {
    mlp: &'a Mlp,
    level: usize,
    bounds: Bounds,
}

impl<'a> MlpTail<'a> {
    /// The tail above `level` (0: the whole network on its input box, [`Classifier::bounds`]).
    pub fn new(mlp: &'a Mlp, level: usize) -> Result<Self> {
        let hidden = mlp.layers.len().saturating_sub(1);
        if level > hidden {
            return Err(AdvTrainError::InvalidConfig(format!(
                "level {level} does not exist: the network has {hidden} hidden layers"
            )));
        }
        let bounds = match (level, mlp.activation) {
            // The input: the network's own box.
            (0, _) => mlp.bounds(),
            // The sigmoid's range, whatever the input box.
            (_, Activation::Sigmoid) => Bounds { lo: 0.0, hi: 1.0 },
            (_, Activation::Relu) => {
                return Err(AdvTrainError::InvalidConfig(
                    "per-layer adversarial examples need a bounded layer (sigmoid); ReLU outputs have no upper bound".into(),
                ));
            }
        };
        Ok(Self { mlp, level, bounds })
    }

    /// The level this tail starts at.
    pub fn level(&self) -> usize {
        self.level
    }

    /// Width of the values the tail classifies (the network's input width at level 0).
    pub fn width(&self) -> usize {
        self.mlp.layers[self.level].weight.dims()[0]
    }

    /// The values `φ_level(x)` of a batch of inputs `[batch, input width]` (the input itself at
    /// level 0).
    pub fn values(&self, x: Tensor<2>) -> Tensor<2> {
        if self.level == 0 {
            x
        } else {
            self.mlp.activations(x).swap_remove(self.level - 1)
        }
    }
}

impl Classifier for MlpTail<'_> {
    fn logits(&self, h: Tensor<2>) -> Tensor<2> {
        let last = self.mlp.layers.len() - 1;
        let mut h = h;
        for (i, layer) in self.mlp.layers.iter().enumerate().skip(self.level) {
            h = layer.forward(h);
            if i < last {
                h = self.mlp.activation.apply(h);
            }
        }
        h
    }

    fn activations(&self, h: Tensor<2>) -> Vec<Tensor<2>> {
        let last = self.mlp.layers.len() - 1;
        let mut out = Vec::new();
        let mut h = h;
        for (i, layer) in self.mlp.layers.iter().enumerate().skip(self.level) {
            h = layer.forward(h);
            if i < last {
                h = self.mlp.activation.apply(h);
                out.push(h.clone());
            }
        }
        out
    }

    /// The values of layer `level`, one row `[1, 1, width]`.
    fn input_shape(&self) -> InputShape {
        [1, 1, self.width()]
    }

    fn num_classes(&self) -> usize {
        self.mlp.num_classes()
    }

    fn bounds(&self) -> Bounds {
        self.bounds
    }
}
