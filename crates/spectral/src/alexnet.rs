//! AlexNet's layers for Table 5, from a Burn [`AlexNet`] in either layout: its initialisation,
//! or a checkpoint with torchvision's names loaded by [`blindspot_models::alexnet::load_torchvision`].
//!
//! The chain follows the forward pass: `conv1 (stride 4) → ReLU → pool → conv2 (pad 2) → ReLU →
//! pool → conv3–5 (pad 1, each + ReLU) → pool → flatten → FC1 → ReLU → FC2 → ReLU → FC3`, with
//! the overlapping 3 × 3 / stride 2 max pool. Each pool lies in up to `⌈3/2⌉² = 4` windows per
//! coordinate, so its L2 Lipschitz constant is `√4 = 2` ([`crate::pool`]), not 1: the `after`
//! constants of conv1, conv2 and conv5 are `1 (ReLU) · 2`. Dropout is the identity at evaluation.
//!
//! Conv bounds are computed on the circular grid of each layer's *padded* input
//! ([`crate::zero_padded`]), with the padding the module has: conv1 on 227 in the paper's
//! layout (rounded up to 228 for stride 4), on 224 + 2·2 = 228 in torchvision's; conv2 on 27 +
//! 2·2 = 31, conv3–5 on 13 + 2 = 15. FC1 is 9216×4096 (256·6·6 inputs), FC2 4096×4096, FC3
//! 4096×1000. torchvision's adaptive average pool to 6 × 6 is the identity on the 6 × 6 map
//! both layouts produce at their input side; on another map it is refused.

use blindspot_models::alexnet::{AlexNet, POOLED, TORCHVISION_POOLED_SIDE};

use crate::builder::ChainBuilder;
use crate::chain::LayerChain;
use crate::error::{Result, SpectralError};
use crate::layers::HostLayer;

/// Input side of the paper's AlexNet.
pub const PAPER_INPUT_SIDE: usize = 227;
/// Input side of torchvision's AlexNet.
pub const TORCHVISION_INPUT_SIDE: usize = 224;

/// The eight linear layers of a Burn [`AlexNet`] (conv1–5, FC1–3) on an
/// `input_side × input_side` image, with the pools' and ReLUs' constants.
///
/// # Errors
/// [`SpectralError::Shape`] if the layers do not chain on that input, or if torchvision's
/// average pool would act on a map other than 6 × 6 (it would not be the identity).
pub fn alexnet_chain(net: &AlexNet, input_side: usize) -> Result<Vec<HostLayer>> {
    let mut b = ChainBuilder::image(3, input_side, input_side);
    for (i, conv) in net.convs.iter().enumerate() {
        b = b.conv2d(&format!("Conv. {}", i + 1), conv)?.relu();
        if POOLED.contains(&i) {
            b = b.max_pool2d(&net.pool)?;
        }
    }
    let map = b.shape();
    if net.average.is_some() && map[1..] != [TORCHVISION_POOLED_SIDE; 2] {
        return Err(SpectralError::Shape(format!(
            "the adaptive average pool to 6 × 6 acts on a map of {map:?} (input side \
             {input_side}): only on a 6 × 6 map is it the identity, whose bound is 1"
        )));
    }
    for (i, fc) in net.fcs.iter().enumerate() {
        b = b.linear(&format!("FC. {}", i + 1), fc)?;
        if i + 1 < net.fcs.len() {
            b = b.relu();
        }
    }
    b.finish()
}

impl LayerChain for AlexNet {
    /// [`alexnet_chain`] on its layout's input side: 224 × 224 with torchvision's average pool
    /// ([`TORCHVISION_INPUT_SIDE`]), else the paper's 227 × 227 ([`PAPER_INPUT_SIDE`]); a
    /// network built for another input side fails the check of FC1's width (use
    /// [`alexnet_chain`]).
    fn layer_chain(&self) -> Result<Vec<HostLayer>> {
        let side = if self.average.is_some() {
            TORCHVISION_INPUT_SIDE
        } else {
            PAPER_INPUT_SIDE
        };
        alexnet_chain(self, side)
    }
}
