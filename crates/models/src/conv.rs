//! The paper's MNIST "Conv" network (section 2): one convolution, max pooling, a fully connected
//! layer, dropout and a softmax classifier.
//!
//! The paper gives no sizes; ours: 32 filters 5×5 (valid) + ReLU → max pool 2×2 → 256 ReLU units
//! → dropout 0.5 (training only) → 10 logits.
//!
//! # Shapes
//! `[batch, 784]` → `[batch, 1, 28, 28]` → conv `[batch, 32, 24, 24]` → pool `[batch, 32, 12, 12]`
//! → flatten `[batch, 4608]` → fc `[batch, 256]` → classifier `[batch, 10]`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::classifier::{Classifier, InputShape, Mode, Trainable};
use crate::decay::paper_decay;
use crate::error::{ModelError, Result};
use blindspot_data::IMAGE_SIDE;

/// Configuration of a [`ConvNet`].
#[derive(Config, Debug)]
pub struct ConvNetConfig {
    /// Number of convolution filters.
    #[config(default = 32)]
    pub filters: usize,
    /// Side of the square convolution kernel.
    #[config(default = 5)]
    pub kernel: usize,
    /// Side of the square max-pooling window (and its stride).
    #[config(default = 2)]
    pub pool: usize,
    /// Width of the fully connected hidden layer.
    #[config(default = 256)]
    pub hidden: usize,
    /// Dropout probability before the classifier (training only).
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Number of classes.
    #[config(default = 10)]
    pub classes: usize,
    /// The paper's λ for the convolution, the hidden layer and the classifier.
    #[config(default = "vec![1e-5, 1e-5, 1e-6]")]
    pub weight_decay: Vec<f64>,
}

impl ConvNetConfig {
    /// Side of the feature maps after the convolution and the pooling.
    pub fn pooled_side(&self) -> usize {
        (IMAGE_SIDE + 1 - self.kernel) / self.pool
    }

    /// Checks sizes, probabilities and decay coefficients.
    pub fn validate(&self) -> Result<()> {
        let ok = self.filters > 0
            && (1..=IMAGE_SIDE).contains(&self.kernel)
            && self.pool > 0
            && self.pooled_side() > 0
            && self.hidden > 0
            && self.classes >= 2
            && (0.0..1.0).contains(&self.dropout)
            && self.weight_decay.len() == 3
            && self.weight_decay.iter().all(|l| l.is_finite() && *l >= 0.0);
        if ok {
            Ok(())
        } else {
            Err(ModelError::InvalidConfig(format!(
                "invalid conv net configuration {self:?}"
            )))
        }
    }

    /// Returns the initialized model.
    pub fn init(&self, device: &Device) -> Result<ConvNet> {
        self.validate()?;
        let flat = self.filters * self.pooled_side() * self.pooled_side();
        Ok(ConvNet {
            conv: Conv2dConfig::new([1, self.filters], [self.kernel, self.kernel]).init(device),
            pool: MaxPool2dConfig::new([self.pool, self.pool]).init(),
            fc: LinearConfig::new(flat, self.hidden).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(self.hidden, self.classes).init(device),
            weight_decay: self.weight_decay.clone(),
        })
    }
}

/// The conv net. Checkpoint names: `conv.weight` `[filters, 1, k, k]`, `conv.bias`,
/// `fc.weight` `[hidden, flat]`, `fc.bias`, `classifier.weight` `[classes, hidden]`,
/// `classifier.bias` (PyTorch layout).
#[derive(Module, Debug)]
pub struct ConvNet {
    /// The convolution, `[batch, 1, 28, 28] -> [batch, filters, 28-k+1, 28-k+1]`.
    pub conv: Conv2d,
    /// Max pooling.
    pub pool: MaxPool2d,
    /// The fully connected hidden layer.
    pub fc: Linear,
    /// Dropout before the classifier, applied in [`Mode::Train`] only.
    pub dropout: Dropout,
    /// The classifier layer (logits).
    pub classifier: Linear,
    /// λ of the convolution, the hidden layer and the classifier.
    #[module(skip)]
    pub weight_decay: Vec<f64>,
}

impl ConvNet {
    /// Pooled feature maps (flattened) and the hidden layer.
    fn features(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [batch, _] = x.dims();
        let images = x.reshape([batch, 1, IMAGE_SIDE, IMAGE_SIDE]);
        let pooled = self.pool.forward(relu(self.conv.forward(images)));
        let flat: Tensor<2> = pooled.flatten(1, 3);
        let hidden = relu(self.fc.forward(flat.clone()));
        (flat, hidden)
    }
}

impl Classifier for ConvNet {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.logits_mode(x, Mode::Eval)
    }

    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        let (pooled, hidden) = self.features(x);
        vec![pooled, hidden]
    }

    fn input_shape(&self) -> InputShape {
        [1, IMAGE_SIDE, IMAGE_SIDE]
    }

    fn num_classes(&self) -> usize {
        self.classifier.weight.dims()[1]
    }
}

impl Trainable for ConvNet {
    fn logits_mode(&self, x: Tensor<2>, mode: Mode) -> Tensor<2> {
        let (_, hidden) = self.features(x);
        let hidden = match mode {
            Mode::Train => self.dropout.forward(hidden),
            Mode::Eval => hidden,
        };
        self.classifier.forward(hidden)
    }

    fn weight_decay(&self) -> Tensor<1> {
        let filters = self.conv.weight.dims()[0];
        paper_decay(self.conv.weight.val(), self.weight_decay[0], filters)
            + paper_decay(
                self.fc.weight.val(),
                self.weight_decay[1],
                self.fc.weight.dims()[1],
            )
            + paper_decay(
                self.classifier.weight.val(),
                self.weight_decay[2],
                self.classifier.weight.dims()[1],
            )
    }
}
