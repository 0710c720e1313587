//! AlexNet's layers for Table 5: from the initialisation (`blindspot_models::alexnet`) or from a
//! checkpoint with torchvision's tensor names.
//!
//! Conv bounds are computed, as in the paper, on the grid of each layer's input: conv1 on 227
//! (rounded up to 228 for stride 4; torchvision: 224 + 2·2 padding = 228), conv2 on 27, conv3–5
//! on 13. FC1 is 9216×4096 (256·6·6 inputs), FC2 4096×4096, FC3 4096×1000.
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
//! the paper's 96/256/384/384/256 filters (227 input) and torchvision's 64/192/384/256/256 (224
//! input, conv1 padding 2); anything else is refused with [`SpectralError::UnknownAlexNet`].

use std::path::Path;

use blindspot_models::alexnet::AlexNet;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SpectralError};
use crate::layers::{HostLayer, LayerKind, conv_layer, linear_layer};

/// Input side of conv1–conv5 in the paper's AlexNet.
pub const PAPER_INPUTS: [usize; 5] = [227, 27, 13, 13, 13];
/// Input side of conv1–conv5 in torchvision's AlexNet (conv1 sees 224 + 2·2 padding).
pub const TORCHVISION_INPUTS: [usize; 5] = [228, 27, 13, 13, 13];
/// Strides of conv1–conv5.
pub const STRIDES: [usize; 5] = [4, 1, 1, 1, 1];

/// Which AlexNet a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlexNetVariant {
    /// Krizhevsky et al. 2012 / the paper's Table 5: 96/256/384/384/256 filters.
    Paper,
    /// torchvision: 64/192/384/256/256 filters.
    Torchvision,
}

/// The eight linear layers of a Burn [`AlexNet`] (conv1–5, FC1–3).
pub fn alexnet_layers(net: &AlexNet) -> Result<Vec<HostLayer>> {
    let mut out = Vec::new();
    for (i, conv) in net.convs.iter().enumerate() {
        out.push(conv_layer(
            &format!("Conv. {}", i + 1),
            conv,
            PAPER_INPUTS[i],
            1.0,
        )?);
    }
    for (i, fc) in net.fcs.iter().enumerate() {
        out.push(linear_layer(&format!("FC. {}", i + 1), fc, 1.0)?);
    }
    Ok(out)
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
    let (variant, inputs) = match filters.as_slice() {
        [96, 256, 384, 384, 256] => (AlexNetVariant::Paper, PAPER_INPUTS),
        [64, 192, 384, 256, 256] => (AlexNetVariant::Torchvision, TORCHVISION_INPUTS),
        _ => return Err(SpectralError::UnknownAlexNet { filters }),
    };
    let mut layers = Vec::new();
    for (i, (shape, w)) in convs.into_iter().enumerate() {
        layers.push(HostLayer {
            name: format!("Conv. {}", i + 1),
            kind: LayerKind::Conv {
                shape,
                stride: STRIDES[i],
                input: crate::conv::circular_grid(inputs[i], STRIDES[i]),
            },
            weights: w,
            after: 1.0,
        });
    }
    for (i, idx) in [1, 4, 6].into_iter().enumerate() {
        let (shape, w) = tensor(&st, &format!("classifier.{idx}.weight"), path)?;
        let [rows, cols] = shape[..] else {
            return Err(SpectralError::Format {
                path: path.to_path_buf(),
                reason: format!("classifier.{idx}.weight has shape {shape:?}, expected 2-D"),
            });
        };
        layers.push(HostLayer {
            name: format!("FC. {}", i + 1),
            kind: LayerKind::Fc { rows, cols },
            weights: w,
            after: 1.0,
        });
    }
    Ok((variant, layers))
}
