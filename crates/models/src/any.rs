//! [`AnyModel`]: the closed set of trainable MNIST models, so that pipelines can hold any of
//! them without `dyn`.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::autoencoder::{Autoencoder, AutoencoderConfig};
use crate::classifier::{Classifier, InputShape, Mode, Trainable};
use crate::conv::{ConvNet, ConvNetConfig};
use crate::error::Result;
use crate::mlp::{Mlp, MlpConfig};

/// The architecture and hyper-parameters of a model: enough to rebuild it before loading weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Architecture {
    /// Softmax and fully connected networks.
    Mlp(MlpConfig),
    /// The conv net.
    Conv(ConvNetConfig),
    /// The sparse autoencoder with a classifier.
    Autoencoder(AutoencoderConfig),
}

impl Architecture {
    /// The model kind: `mlp`, `conv` or `autoencoder`.
    pub fn kind(&self) -> &'static str {
        match self {
            Architecture::Mlp(_) => "mlp",
            Architecture::Conv(_) => "conv",
            Architecture::Autoencoder(_) => "autoencoder",
        }
    }

    /// Returns the initialized model.
    pub fn init(&self, device: &Device) -> Result<AnyModel> {
        Ok(match self {
            Architecture::Mlp(c) => AnyModel::Mlp(c.init(device)?),
            Architecture::Conv(c) => AnyModel::Conv(c.init(device)?),
            Architecture::Autoencoder(c) => AnyModel::Autoencoder(c.init(device)?),
        })
    }
}

/// Any of the paper's MNIST models.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum AnyModel {
    /// Softmax or MLP.
    Mlp(Mlp),
    /// Conv net.
    Conv(ConvNet),
    /// Autoencoder + classifier.
    Autoencoder(Autoencoder),
}

macro_rules! dispatch {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            AnyModel::Mlp($m) => $e,
            AnyModel::Conv($m) => $e,
            AnyModel::Autoencoder($m) => $e,
        }
    };
}

impl Classifier for AnyModel {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        dispatch!(self, m => m.logits(x))
    }

    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        dispatch!(self, m => m.activations(x))
    }

    fn input_shape(&self) -> InputShape {
        dispatch!(self, m => m.input_shape())
    }

    fn num_classes(&self) -> usize {
        dispatch!(self, m => m.num_classes())
    }
}

impl Trainable for AnyModel {
    fn logits_mode(&self, x: Tensor<2>, mode: Mode) -> Tensor<2> {
        dispatch!(self, m => m.logits_mode(x, mode))
    }

    fn weight_decay(&self) -> Tensor<1> {
        dispatch!(self, m => m.weight_decay())
    }
}
