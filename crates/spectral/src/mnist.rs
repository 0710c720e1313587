//! The MNIST models (`blindspot_models::AnyModel`) as chains of host layers.
//!
//! Forward passes (checked against crates/models; none normalises its input, so the logits are
//! a function of the `[0, 1]` pixels directly):
//! - `Mlp`: `Linear → act → … → Linear` (act ReLU: 1, sigmoid: 1/4; a softmax model is a single
//!   `Linear`).
//! - `ConvNet`: `conv (valid, stride 1, 28×28) → ReLU → max pool (k×k, stride k) → flatten → fc →
//!   ReLU → [dropout: identity at evaluation] → classifier`. The valid convolution is a
//!   compression of the circular one on the 28 grid (its output positions never wrap), so the
//!   circular bound is a true upper bound; non-overlapping max pooling is 1-Lipschitz in L2.
//! - `Autoencoder`: `encoder → sigmoid (1/4) → classifier`.

use blindspot_data::IMAGE_SIDE;
use blindspot_models::AnyModel;
use blindspot_models::mlp::Activation;

use crate::error::Result;
use crate::layers::{HostLayer, conv_layer, linear_layer};

/// Lipschitz constant of an activation.
pub fn activation_lipschitz(a: Activation) -> f64 {
    match a {
        Activation::Relu => 1.0,
        Activation::Sigmoid => 0.25,
    }
}

/// The linear layers of a model, input side first, each with the Lipschitz constant of what
/// follows it up to the next linear layer.
pub fn model_layers(model: &AnyModel) -> Result<Vec<HostLayer>> {
    Ok(match model {
        AnyModel::Mlp(m) => {
            let last = m.layers.len().saturating_sub(1);
            m.layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let after = if i < last {
                        activation_lipschitz(m.activation)
                    } else {
                        1.0
                    };
                    linear_layer(&format!("fc{}", i + 1), l, after)
                })
                .collect::<Result<_>>()?
        }
        AnyModel::Conv(m) => {
            let [kh, kw] = m.pool.kernel_size;
            let [sh, sw] = m.pool.stride;
            // Each input of a max pool feeds at most ⌈k/s⌉² windows: L2 constant ⌈k/s⌉.
            let pool = (kh.div_ceil(sh) * kw.div_ceil(sw)) as f64;
            vec![
                conv_layer("conv", &m.conv, IMAGE_SIDE, pool.sqrt())?,
                linear_layer("fc", &m.fc, 1.0)?,
                linear_layer("classifier", &m.classifier, 1.0)?,
            ]
        }
        AnyModel::Autoencoder(m) => vec![
            linear_layer("encoder", &m.encoder, 0.25)?,
            linear_layer("classifier", &m.classifier, 1.0)?,
        ],
    })
}
