//! AlexNet's layers for Table 5: from the initialisation (`blindspot_models::alexnet`) or from a
//! checkpoint with torchvision's tensor names.
//!
//! The chain follows the forward pass: `conv1 (stride 4) → ReLU → pool → conv2 (pad 2) → ReLU →
//! pool → conv3–5 (pad 1, each + ReLU) → pool → flatten → FC1 → ReLU → FC2 → ReLU → FC3`, with
//! the overlapping 3 × 3 / stride 2 max pool. Each pool lies in up to `⌈3/2⌉² = 4` windows per
//! coordinate, so its L2 Lipschitz constant is `√4 = 2` ([`crate::pool`]), not 1: the `after`
//! constants of conv1, conv2 and conv5 are `1 (ReLU) · 2`. Dropout is the identity at evaluation.
//!
//! Conv bounds are computed on the circular grid of each layer's *padded* input
//! ([`crate::zero_padded`]): conv1 on 227 (rounded up to 228 for stride 4; torchvision: 224 +
//! 2·2 padding = 228), conv2 on 27 + 2·2 = 31, conv3–5 on 13 + 2 = 15. FC1 is 9216×4096
//! (256·6·6 inputs), FC2 4096×4096, FC3 4096×1000.
//!
//! # Checkpoints
//! `--weights FILE` reads a **safetensors** file with torchvision's names
//! (`features.{0,3,6,8,10}.weight`, `classifier.{1,4,6}.weight`, F32/F64/F16/BF16). A PyTorch
//! `torch.save` file must be converted first, e.g.:
//!
//! ```text
//! import torch, torchvision
//! from safetensors.torch import save_file
//! m = torchvision.models.alexnet(weights="DEFAULT")   # or torch.load("alexnet.pth")
//! save_file({k: v.contiguous() for k, v in m.state_dict().items()}, "alexnet.safetensors")
//! ```
//!
//! (burn-store's PyTorch reader would need a direct dependency on it; safetensors keeps the
//! dependency set to crates already built.) Two variants are recognised from the conv shapes:
//! the paper's 96/256/384/384/256 filters (227 input, conv1 unpadded) and torchvision's
//! 64/192/384/256/256 (224 input, conv1 padding 2); anything else is refused with
//! [`SpectralError::UnknownAlexNet`]. torchvision's `AdaptiveAvgPool2d((6, 6))` before the
//! classifier is the identity on the 6 × 6 map both variants produce.

use std::path::Path;

use blindspot_models::alexnet::AlexNet;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::builder::ChainBuilder;
use crate::chain::LayerChain;
use crate::error::{Result, SpectralError};
use crate::layers::HostLayer;
use crate::pool::MaxPoolSpec;

/// Input side of the paper's AlexNet.
pub const PAPER_INPUT_SIDE: usize = 227;
/// Input side of torchvision's AlexNet.
pub const TORCHVISION_INPUT_SIDE: usize = 224;
/// Strides of conv1–conv5.
pub const STRIDES: [usize; 5] = [4, 1, 1, 1, 1];
/// Zero padding (all sides) of conv1–conv5 in the paper's AlexNet (as `blindspot_models` builds it).
pub const PAPER_PADDING: [usize; 5] = [0, 2, 1, 1, 1];
/// Zero padding (all sides) of conv1–conv5 in torchvision's AlexNet.
pub const TORCHVISION_PADDING: [usize; 5] = [2, 2, 1, 1, 1];
/// The convolutions (0-based) followed by the max pool.
pub const POOLED: [usize; 3] = [0, 1, 4];
/// AlexNet's overlapping max pool.
pub const POOL: MaxPoolSpec = MaxPoolSpec::new([3, 3], [2, 2]);

/// Which AlexNet a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlexNetVariant {
    /// Krizhevsky et al. 2012 / the paper's Table 5: 96/256/384/384/256 filters.
    Paper,
    /// torchvision: 64/192/384/256/256 filters.
    Torchvision,
}

/// The eight linear layers of a Burn [`AlexNet`] (conv1–5, FC1–3) on an
/// `input_side × input_side` image, with the pools' and ReLUs' constants.
pub fn alexnet_chain(net: &AlexNet, input_side: usize) -> Result<Vec<HostLayer>> {
    let mut b = ChainBuilder::image(3, input_side, input_side);
    for (i, conv) in net.convs.iter().enumerate() {
        b = b.conv2d(&format!("Conv. {}", i + 1), conv)?.relu();
        if POOLED.contains(&i) {
            b = b.max_pool2d(&net.pool)?;
        }
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
    /// [`alexnet_chain`] on the paper's 227 × 227 input ([`PAPER_INPUT_SIDE`]); a network built
    /// for another input side fails the check of FC1's width (use [`alexnet_chain`]).
    fn layer_chain(&self) -> Result<Vec<HostLayer>> {
        alexnet_chain(self, PAPER_INPUT_SIDE)
    }
}

/// An IEEE 754 half-precision value (sign, 5 exponent bits, 10 fraction bits) as `f32`.
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f32.powi(exp - 15),
    }
}

fn tensor(st: &SafeTensors<'_>, name: &str, path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bad = |reason: String| SpectralError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let t = st
        .tensor(name)
        .map_err(|e| bad(format!("tensor {name}: {e}")))?;
    let bytes = t.data();
    let values: Vec<f32> = match t.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
            .collect(),
        other => return Err(bad(format!("tensor {name}: unsupported dtype {other:?}"))),
    };
    Ok((t.shape().to_vec(), values))
}

/// Reads an AlexNet checkpoint in safetensors format with torchvision's names, recognising the
/// variant from the conv shapes.
pub fn read_torchvision_safetensors(path: &Path) -> Result<(AlexNetVariant, Vec<HostLayer>)> {
    let bytes = std::fs::read(path).map_err(|source| SpectralError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // torch.save writes a zip archive (or, before PyTorch 1.6, a pickle stream).
    if bytes.starts_with(b"PK\x03\x04") || bytes.first() == Some(&0x80) {
        return Err(SpectralError::Format {
            path: path.to_path_buf(),
            reason: "this is a PyTorch torch.save checkpoint, not safetensors; convert it with \
                     `python -c \"import torch; from safetensors.torch import save_file; \
                     sd = torch.load('alexnet.pth', map_location='cpu'); \
                     save_file({k: v.contiguous() for k, v in sd.items()}, 'alexnet.safetensors')\"`"
                .into(),
        });
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| SpectralError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut convs = Vec::new();
    for idx in [0, 3, 6, 8, 10] {
        let (shape, w) = tensor(&st, &format!("features.{idx}.weight"), path)?;
        if shape.len() != 4 {
            return Err(SpectralError::Format {
                path: path.to_path_buf(),
                reason: format!("features.{idx}.weight has shape {shape:?}, expected 4-D"),
            });
        }
        convs.push(([shape[0], shape[1], shape[2], shape[3]], w));
    }
    let filters: Vec<usize> = convs.iter().map(|(s, _)| s[0]).collect();
    let (variant, side, padding) = match filters.as_slice() {
        [96, 256, 384, 384, 256] => (AlexNetVariant::Paper, PAPER_INPUT_SIDE, PAPER_PADDING),
        [64, 192, 384, 256, 256] => (
            AlexNetVariant::Torchvision,
            TORCHVISION_INPUT_SIDE,
            TORCHVISION_PADDING,
        ),
        _ => return Err(SpectralError::UnknownAlexNet { filters }),
    };
    let bad = |e: SpectralError| SpectralError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut b = ChainBuilder::image(3, side, side);
    for (i, (shape, w)) in convs.into_iter().enumerate() {
        b = b
            .conv(
                &format!("Conv. {}", i + 1),
                shape,
                w,
                STRIDES[i],
                [padding[i]; 4],
            )
            .map_err(bad)?
            .relu();
        if POOLED.contains(&i) {
            b = b.max_pool(POOL).map_err(bad)?;
        }
    }
    for (i, idx) in [1, 4, 6].into_iter().enumerate() {
        let (shape, w) = tensor(&st, &format!("classifier.{idx}.weight"), path)?;
        let [rows, cols] = shape[..] else {
            return Err(SpectralError::Format {
                path: path.to_path_buf(),
                reason: format!("classifier.{idx}.weight has shape {shape:?}, expected 2-D"),
            });
        };
        b = b
            .dense(&format!("FC. {}", i + 1), rows, cols, w)
            .map_err(bad)?;
        if i < 2 {
            b = b.relu();
        }
    }
    Ok((variant, b.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values_decode() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
