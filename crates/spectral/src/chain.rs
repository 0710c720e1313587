//! Networks that list their layers, and the Lipschitz bound of any such chain.
//!
//! A network implements [`LayerChain`] by listing its linear layers in forward order, each with
//! the Lipschitz constant of what follows it (most easily with [`crate::ChainBuilder`]). The
//! project's models implement it ([`blindspot_models::AnyModel`] in [`crate::mnist`],
//! [`blindspot_models::alexnet::AlexNet`] in [`crate::alexnet`]), and an [`ImageClassifier`]
//! lists its module's chain behind its normalization; so can any user network:
//!
//! ```
//! use blindspot_spectral::{ChainBuilder, HostLayer, LayerChain, lipschitz_bound};
//!
//! struct Tiny { w: Vec<f32> } // a 2×3 dense layer followed by a sigmoid, then a scale
//!
//! impl LayerChain for Tiny {
//!     fn layer_chain(&self) -> blindspot_spectral::Result<Vec<HostLayer>> {
//!         ChainBuilder::flat(3)
//!             .dense("fc", 2, 3, self.w.clone())?
//!             .sigmoid()
//!             .scale("out", vec![2.0, -4.0])?
//!             .finish()
//!     }
//! }
//!
//! let net = Tiny { w: vec![3.0, 0.0, 0.0, 0.0, 1.0, 0.0] }; // singular values 3 and 1
//! let l = lipschitz_bound(&net)?;
//! assert!((l - 3.0 * 0.25 * 4.0).abs() < 1e-12);
//! # Ok::<(), blindspot_spectral::SpectralError>(())
//! ```

use blindspot_models::{Classifier, ImageClassifier};
use burn::prelude::*;

use crate::builder::ChainBuilder;
use crate::error::Result;
use crate::layers::{HostLayer, LayerBound, bound_product};

/// A network that lists its layers, input side first, each with the Lipschitz constant of the
/// maps that follow it up to the next linear layer (see [`crate::layers`]).
pub trait LayerChain {
    /// The layers, input side first.
    fn layer_chain(&self) -> Result<Vec<HostLayer>>;
}

impl LayerChain for [HostLayer] {
    fn layer_chain(&self) -> Result<Vec<HostLayer>> {
        Ok(self.to_vec())
    }
}

impl LayerChain for Vec<HostLayer> {
    fn layer_chain(&self) -> Result<Vec<HostLayer>> {
        Ok(self.clone())
    }
}

/// A Burn module wrapped as a classifier lists the module's chain, preceded by its
/// normalization's scale `1/σ_c` when it has one: the bound is then on the logits as a function
/// of the pixels, the space the attack and the certificates work in (the module alone sees
/// normalized inputs, and its bound misses the factor `max_c 1/σ_c`). The module's chain must
/// start from the classifier's input shape.
impl<M, F> LayerChain for ImageClassifier<M, F>
where
    M: Module + LayerChain,
    F: Fn(&M, Tensor<4>) -> Tensor<2>,
{
    fn layer_chain(&self) -> Result<Vec<HostLayer>> {
        let mut layers = match self.normalization() {
            Some(normalization) => {
                let [c, h, w] = self.input_shape();
                ChainBuilder::image(c, h, w)
                    .normalize("normalization", normalization.std())?
                    .finish()?
            }
            None => Vec::new(),
        };
        layers.extend(self.module().layer_chain()?);
        Ok(layers)
    }
}

/// Frame bounds of every layer of a chain.
pub fn chain_bounds<N: LayerChain + ?Sized>(net: &N) -> Result<Vec<LayerBound>> {
    net.layer_chain()?
        .iter()
        .map(|l| l.bound(&|_, _| {}))
        .collect()
}

/// Upper bound on the Lipschitz constant (L2 → L2) of a chain's output:
/// `Π_k upper_k · after_k` ([`bound_product`] of [`chain_bounds`]).
pub fn lipschitz_bound<N: LayerChain + ?Sized>(net: &N) -> Result<f64> {
    Ok(bound_product(&chain_bounds(net)?))
}
