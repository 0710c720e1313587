//! Fully connected networks: the softmax models (no hidden layer) and the sigmoid or ReLU MLPs.
//!
//! `O = σ(… σ(x W_1 + b_1) …) W_L + b_L`: hidden layers use the configured activation, the last
//! layer gives logits (the softmax lives in the loss).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::classifier::{Classifier, InputShape, Mode, Trainable, flat_input_shape};
use crate::decay::paper_decay;
use crate::error::{ModelError, Result};

/// Nonlinearity of the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// The logistic sigmoid, as in the paper's MLPs.
    Sigmoid,
    /// The rectifier.
    Relu,
}

impl Activation {
    /// Applies the nonlinearity.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Sigmoid => sigmoid(x),
            Activation::Relu => relu(x),
        }
    }
}

/// Configuration of an [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Input width (784 for MNIST).
    pub input: usize,
    /// Widths of the hidden layers, input side first; empty for a softmax (linear) model.
    pub hidden: Vec<usize>,
    /// Number of classes.
    pub classes: usize,
    /// Nonlinearity of the hidden layers.
    pub activation: Activation,
    /// The paper's λ for each layer (`hidden.len() + 1` values), applied as `λ Σw²/k`.
    pub weight_decay: Vec<f64>,
}

impl MlpConfig {
    /// Checks widths and decay coefficients.
    pub fn validate(&self) -> Result<()> {
        if self.input == 0 || self.classes < 2 || self.hidden.contains(&0) {
            return Err(ModelError::InvalidConfig(format!(
                "MLP widths must be positive and classes >= 2 (input {}, hidden {:?}, classes {})",
                self.input, self.hidden, self.classes
            )));
        }
        if self.weight_decay.len() != self.hidden.len() + 1 {
            return Err(ModelError::InvalidConfig(format!(
                "an MLP with {} layers needs {} weight-decay values, got {}",
                self.hidden.len() + 1,
                self.hidden.len() + 1,
                self.weight_decay.len()
            )));
        }
        if self.weight_decay.iter().any(|l| !l.is_finite() || *l < 0.0) {
            return Err(ModelError::InvalidConfig(format!(
                "weight decay must be finite and >= 0, got {:?}",
                self.weight_decay
            )));
        }
        Ok(())
    }

    /// Layer widths from input to output, e.g. `[784, 100, 100, 10]`.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.input)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.classes))
            .collect()
    }

    /// Returns the initialized model (PyTorch-style uniform initialization).
    pub fn init(&self, device: &Device) -> Result<Mlp> {
        self.validate()?;
        let widths = self.widths();
        Ok(Mlp {
            layers: widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
            activation: self.activation,
            weight_decay: self.weight_decay.clone(),
        })
    }
}

/// A fully connected classifier. `layers.{i}` maps `[batch, widths[i]]` to `[batch, widths[i+1]]`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The linear layers, input side first.
    pub layers: Vec<Linear>,
    /// Nonlinearity of the hidden layers.
    #[module(skip)]
    pub activation: Activation,
    /// λ per layer.
    #[module(skip)]
    pub weight_decay: Vec<f64>,
}

impl Mlp {
    /// Logits and, if `keep`, every hidden activation.
    fn run(&self, x: Tensor<2>, keep: bool) -> (Tensor<2>, Vec<Tensor<2>>) {
        let last = self.layers.len() - 1;
        let mut hidden = Vec::new();
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = self.activation.apply(h);
                if keep {
                    hidden.push(h.clone());
                }
            }
        }
        (h, hidden)
    }
}

impl Classifier for Mlp {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.run(x, false).0
    }

    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        self.run(x, true).1
    }

    /// A square grey image when the input width is a perfect square (784 → `[1, 28, 28]`).
    fn input_shape(&self) -> InputShape {
        flat_input_shape(self.layers[0].weight.dims()[0])
    }

    fn num_classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.weight.dims()[1])
    }
}

impl Trainable for Mlp {
    fn logits_mode(&self, x: Tensor<2>, _mode: Mode) -> Tensor<2> {
        self.logits(x)
    }

    fn weight_decay(&self) -> Tensor<1> {
        self.layers
            .iter()
            .zip(&self.weight_decay)
            .map(|(layer, &lambda)| {
                let units = layer.weight.dims()[1];
                paper_decay(layer.weight.val(), lambda, units)
            })
            .reduce(|a, b| a + b)
            .expect("an MLP has at least one layer")
    }
}
