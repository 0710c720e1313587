//! What a unit's images are ranked by: its pre-activation where the model exposes it.
//!
//! The paper ranks the images of unit `i` by its activation `φ_i(x) = f(z_i(x))`. For a
//! sigmoid `f` in float32 that ranking is not a ranking at the top: `σ(z)` rounds to exactly
//! `1.0` for every `z` above about 17, so a unit that saturates on more than k images has its
//! "top-k images" picked by the tie-breaking of the sort. (On the paper's N100-100-10, 38 of the
//! 100 first-layer units tie at the top, up to 991 test images each.) The pre-activation
//! `z_i` orders the images like `f(z_i)` wherever `f` is strictly increasing (the sigmoid
//! everywhere, the ReLU on its positive part, max pooling after a ReLU too, since
//! `max_j relu(z_j) = relu(max_j z_j)`) and separates what `f` rounds together, so units are
//! ranked by it when the model exposes it ([`PreActivations`]); random directions `v` are
//! ranked by `⟨φ(x), v⟩` itself, which has no pre-activation. Whatever ties remain are broken
//! by the lowest image index and counted ([`crate::TopK::ties`]).

use blindspot_data::IMAGE_SIDE;
use blindspot_models::autoencoder::Autoencoder;
use blindspot_models::conv::ConvNet;
use blindspot_models::mlp::Mlp;
use blindspot_models::{AnyModel, Classifier, ImageClassifier};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// What the images of a set of directions were ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// The unit's pre-activation `z_i(x)`, of which the activation is a non-decreasing
    /// function (units of a model that implements
    /// [`PreActivations::hidden_with_pre_activations`]).
    PreActivation,
    /// The score `⟨φ(x), v⟩` itself (random directions, and units of models that do not expose
    /// their pre-activations).
    Activation,
}

impl Ranking {
    /// `pre-activation` or `activation`.
    pub fn name(self) -> &'static str {
        match self {
            Self::PreActivation => "pre-activation",
            Self::Activation => "activation",
        }
    }
}

/// A [`Classifier`] whose hidden units can be ranked by their pre-activations.
///
/// The default method exposes none, so that any classifier takes part with one line
/// (`impl PreActivations for MyModel {}`); its units are then ranked by their activations,
/// ties broken by the lowest image index and counted.
pub trait PreActivations: Classifier {
    /// Hidden layer `layer` of a batch as `(φ, z)`: `φ` exactly as
    /// [`Classifier::activations`] gives it and `z` the pre-activations it is made of,
    /// `φ = f(z)` elementwise for one non-decreasing `f` (a sigmoid or a ReLU), both
    /// `[batch, width]`. `None` where the model does not expose them or has no such layer.
    fn hidden_with_pre_activations(
        &self,
        x: Tensor<2>,
        layer: usize,
    ) -> Option<(Tensor<2>, Tensor<2>)> {
        let _ = (x, layer);
        None
    }
}

impl PreActivations for Mlp {
    /// `z_l = h_{l−1} W_l + b_l`, `φ_l = f(z_l)` with the model's activation, as
    /// [`Classifier::activations`] computes them.
    fn hidden_with_pre_activations(
        &self,
        x: Tensor<2>,
        layer: usize,
    ) -> Option<(Tensor<2>, Tensor<2>)> {
        if layer + 1 >= self.layers.len() {
            return None;
        }
        let mut h = x;
        for linear in &self.layers[..layer] {
            h = self.activation.apply(linear.forward(h));
        }
        let z = self.layers[layer].forward(h);
        Some((self.activation.apply(z.clone()), z))
    }
}

impl PreActivations for ConvNet {
    /// Layer 0: `z = maxpool(conv(x))` flattened, `φ = relu(z)`, which is
    /// `maxpool(relu(conv(x)))` exactly. Layer 1: `z = fc(φ_0)`, `φ = relu(z)`.
    fn hidden_with_pre_activations(
        &self,
        x: Tensor<2>,
        layer: usize,
    ) -> Option<(Tensor<2>, Tensor<2>)> {
        if layer > 1 {
            return None;
        }
        let [batch, _] = x.dims();
        let images = x.reshape([batch, 1, IMAGE_SIDE, IMAGE_SIDE]);
        let z0: Tensor<2> = self.pool.forward(self.conv.forward(images)).flatten(1, 3);
        let phi0 = relu(z0.clone());
        if layer == 0 {
            return Some((phi0, z0));
        }
        let z1 = self.fc.forward(phi0);
        Some((relu(z1.clone()), z1))
    }
}

impl PreActivations for Autoencoder {
    /// The code: `z = x W_enc + b_enc`, `φ = σ(z)`.
    fn hidden_with_pre_activations(
        &self,
        x: Tensor<2>,
        layer: usize,
    ) -> Option<(Tensor<2>, Tensor<2>)> {
        (layer == 0).then(|| {
            let z = self.encoder.forward(x);
            (burn::tensor::activation::sigmoid(z.clone()), z)
        })
    }
}

impl PreActivations for AnyModel {
    fn hidden_with_pre_activations(
        &self,
        x: Tensor<2>,
        layer: usize,
    ) -> Option<(Tensor<2>, Tensor<2>)> {
        match self {
            AnyModel::Mlp(m) => m.hidden_with_pre_activations(x, layer),
            AnyModel::Conv(m) => m.hidden_with_pre_activations(x, layer),
            AnyModel::Autoencoder(m) => m.hidden_with_pre_activations(x, layer),
        }
    }
}

/// A wrapped Burn module exposes only its activations: its units are ranked by them.
impl<M, F> PreActivations for ImageClassifier<M, F>
where
    M: Module,
    F: Fn(&M, Tensor<4>) -> Tensor<2>,
{
}
