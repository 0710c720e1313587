//! The MNIST models (`blindspot_models::AnyModel`) as layer chains ([`LayerChain`]).
//!
//! Forward passes (checked against crates/models; none normalises its input, so the logits are
//! a function of the `[0, 1]` pixels directly):
//! - `Mlp`: `Linear → act → … → Linear` (act ReLU: 1, sigmoid: 1/4; a softmax model is a single
//!   `Linear`).
//! - `ConvNet`: `conv (valid, stride 1, 28×28) → ReLU → max pool (k×k, stride k) → flatten → fc →
//!   ReLU → [dropout: identity at evaluation] → classifier`. The pool's constant comes from its
//!   kernel and stride ([`crate::pool`]: 1 for these non-overlapping windows).
//! - `Autoencoder`: `encoder → sigmoid (1/4) → classifier`.

use blindspot_models::mlp::Activation;
use blindspot_models::{AnyModel, Classifier};

use crate::builder::ChainBuilder;
use crate::chain::LayerChain;
use crate::error::{Result, SpectralError};
use crate::layers::HostLayer;

/// Lipschitz constant of an activation.
pub fn activation_lipschitz(a: Activation) -> f64 {
    match a {
        Activation::Relu => 1.0,
        Activation::Sigmoid => 0.25,
    }
}

impl LayerChain for AnyModel {
    /// The linear layers of the model, input side first, each with the Lipschitz constant of
    /// what follows it up to the next linear layer.
    fn layer_chain(&self) -> Result<Vec<HostLayer>> {
        match self {
            AnyModel::Mlp(m) => {
                let first = m
                    .layers
                    .first()
                    .ok_or_else(|| SpectralError::Shape("an MLP without layers".into()))?;
                let mut b = ChainBuilder::flat(first.weight.dims()[0]);
                for (i, l) in m.layers.iter().enumerate() {
                    b = b.linear(&format!("fc{}", i + 1), l)?;
                    if i + 1 < m.layers.len() {
                        b = b.lipschitz(activation_lipschitz(m.activation))?;
                    }
                }
                b.finish()
            }
            AnyModel::Conv(m) => {
                let [c, h, w] = m.input_shape();
                ChainBuilder::image(c, h, w)
                    .conv2d("conv", &m.conv)?
                    .relu()
                    .max_pool2d(&m.pool)?
                    .linear("fc", &m.fc)?
                    .relu()
                    .linear("classifier", &m.classifier)?
                    .finish()
            }
            AnyModel::Autoencoder(m) => ChainBuilder::flat(m.encoder.weight.dims()[0])
                .linear("encoder", &m.encoder)?
                .sigmoid()
                .linear("classifier", &m.classifier)?
                .finish(),
        }
    }
}
