//! AlexNet in two layouts: the paper's (Krizhevsky et al. 2012, the layer shapes of Table 5)
//! and torchvision's `alexnet`, whose trained weights a user can bring
//! ([`load_torchvision`]). Neither is trained here.
//!
//! | | [`AlexNetLayout::Paper`] | [`AlexNetLayout::Torchvision`] |
//! |---|---|---|
//! | filters of conv1–5 | 96, 256, 384, 384, 256 | 64, 192, 384, 256, 256 |
//! | input | 227 × 227 | 224 × 224 |
//! | conv1 | 11 × 11, stride 4, no padding | 11 × 11, stride 4, padding 2 |
//! | before the classifier | flatten | adaptive average pool to 6 × 6, flatten |
//!
//! Both: conv2 5 × 5 padding 2, conv3–5 3 × 3 padding 1, ReLU after every conv, the
//! overlapping 3 × 3 / stride 2 max pool after conv1, conv2 and conv5, then FC `→ 4096 → 4096 →
//! 1000` with ReLUs between. Convolutions are ungrouped, as Table 5 lists them. torchvision's
//! dropout sits in the classifier; it is the identity at evaluation, the only use here, so the
//! module has none.
//!
//! # Shapes (paper layout)
//! `[batch, 3, 227, 227]` → conv1 `[batch, 96, 55, 55]` → pool `27` → conv2 `[batch, 256, 27,
//! 27]` → pool `13` → conv3–5 `[batch, 256, 13, 13]` → pool `6` → flatten `[batch, 9216]` → fc1
//! `4096` → fc2 `4096` → fc3 `[batch, 1000]`. torchvision's: the same sides from 224 + 2·2.
//!
//! # Checkpoints with torchvision's names
//! [`load_torchvision`] reads a safetensors file with torchvision's state-dict names
//! (`features.{0,3,6,8,10}.{weight,bias}`, `classifier.{1,4,6}.{weight,bias}`), takes the widths
//! from its tensors' shapes, and loads it through burn-store's PyTorch adapter. A `torch.save`
//! file (`.pth`) is refused with the one-line conversion: reading it would need burn-store's
//! `pytorch` feature, a pickle reader for one file format that one line of Python turns into
//! safetensors.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn_store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use serde::{Deserialize, Serialize};

use crate::adapter::{ImageClassifier, Normalization};
use crate::error::{ModelError, Result};
use crate::import::check_applied;

/// The side torchvision's adaptive average pool brings the last feature map to.
pub const TORCHVISION_POOLED_SIDE: usize = 6;
/// torchvision's state-dict index of conv1–conv5 (`features.N`).
pub const TORCHVISION_CONVS: [usize; 5] = [0, 3, 6, 8, 10];
/// torchvision's state-dict index of FC1–FC3 (`classifier.N`).
pub const TORCHVISION_FCS: [usize; 3] = [1, 4, 6];
/// The filters of Table 5 (the paper's layout).
pub const PAPER_FILTERS: [usize; 5] = [96, 256, 384, 384, 256];
/// The filters of torchvision's AlexNet.
pub const TORCHVISION_FILTERS: [usize; 5] = [64, 192, 384, 256, 256];
/// The convolutions (0-based) followed by the max pool.
pub const POOLED: [usize; 3] = [0, 1, 4];

/// Which AlexNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlexNetLayout {
    /// Krizhevsky et al. 2012 as the paper's Table 5 lists it: conv1 unpadded, 227 × 227 input.
    Paper,
    /// torchvision's `alexnet`: conv1 padded by 2, 224 × 224 input, adaptive average pooling to
    /// 6 × 6 before the classifier.
    Torchvision,
}

impl std::fmt::Display for AlexNetLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlexNetLayout::Paper => "paper",
            AlexNetLayout::Torchvision => "torchvision",
        })
    }
}

/// Configuration of [`AlexNet`]; the defaults are the paper's Table 5,
/// [`AlexNetConfig::torchvision`] torchvision's network.
#[derive(Config, Debug)]
pub struct AlexNetConfig {
    /// The layout (conv1's padding, the pooling before the classifier).
    #[config(default = "AlexNetLayout::Paper")]
    pub layout: AlexNetLayout,
    /// Filters of conv1–conv5.
    #[config(default = "[96, 256, 384, 384, 256]")]
    pub filters: [usize; 5],
    /// Widths of the two hidden fully connected layers.
    #[config(default = "[4096, 4096]")]
    pub hidden: [usize; 2],
    /// Number of classes.
    #[config(default = 1000)]
    pub classes: usize,
    /// Side of the square input image.
    #[config(default = 227)]
    pub input_side: usize,
}

/// Side of a square map after a `kernel`/`stride`/`padding` window, `None` if it does not fit.
fn window_out(side: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    (side + 2 * padding)
        .checked_sub(kernel)
        .map(|rest| rest / stride + 1)
}

impl AlexNetConfig {
    /// torchvision's AlexNet: 64/192/384/256/256 filters, 224 × 224 input.
    pub fn torchvision() -> Self {
        Self::new()
            .with_layout(AlexNetLayout::Torchvision)
            .with_filters(TORCHVISION_FILTERS)
            .with_input_side(224)
    }

    /// Zero padding (all sides) of conv1–conv5.
    pub fn padding(&self) -> [usize; 5] {
        match self.layout {
            AlexNetLayout::Paper => [0, 2, 1, 1, 1],
            AlexNetLayout::Torchvision => [2, 2, 1, 1, 1],
        }
    }

    /// Side of the last max-pooled feature map (6 for both layouts at their input side), `None`
    /// if the input is too small for the three pools.
    pub fn final_side(&self) -> Option<usize> {
        let conv1 = window_out(self.input_side, 11, 4, self.padding()[0])?;
        let pool = |s: usize| window_out(s, 3, 2, 0);
        pool(pool(pool(conv1)?)?)
    }

    /// Side of the map the classifier flattens: the last pooled map, or torchvision's 6 × 6.
    pub fn classifier_side(&self) -> Option<usize> {
        match self.layout {
            AlexNetLayout::Paper => self.final_side(),
            AlexNetLayout::Torchvision => self.final_side().map(|_| TORCHVISION_POOLED_SIDE),
        }
    }

    /// Inputs of FC1: filters of conv5 × the classifier side².
    pub fn flat_features(&self) -> Option<usize> {
        self.classifier_side().map(|s| self.filters[4] * s * s)
    }

    /// Returns the initialized network.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] for a zero width or an input too small for the pools.
    pub fn init(&self, device: &Device) -> Result<AlexNet> {
        let flat = match self.flat_features() {
            Some(flat)
                if !self.filters.contains(&0) && !self.hidden.contains(&0) && self.classes > 0 =>
            {
                flat
            }
            _ => {
                return Err(ModelError::InvalidConfig(format!(
                    "invalid AlexNet configuration {self:?} (no width may be 0; the input must \
                     survive conv1 and three 3 × 3 / 2 pools)"
                )));
            }
        };
        let f = self.filters;
        let pad = self.padding();
        let conv = |i: usize, c_in, c_out, k, stride| {
            Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad[i], pad[i], pad[i], pad[i]))
                .init(device)
        };
        Ok(AlexNet {
            convs: vec![
                conv(0, 3, f[0], 11, 4),
                conv(1, f[0], f[1], 5, 1),
                conv(2, f[1], f[2], 3, 1),
                conv(3, f[2], f[3], 3, 1),
                conv(4, f[3], f[4], 3, 1),
            ],
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            average: (self.layout == AlexNetLayout::Torchvision).then(|| {
                AdaptiveAvgPool2dConfig::new([TORCHVISION_POOLED_SIDE, TORCHVISION_POOLED_SIDE])
                    .init()
            }),
            fcs: vec![
                LinearConfig::new(flat, self.hidden[0]).init(device),
                LinearConfig::new(self.hidden[0], self.hidden[1]).init(device),
                LinearConfig::new(self.hidden[1], self.classes).init(device),
            ],
        })
    }
}

/// AlexNet in either layout (see the module documentation).
#[derive(Module, Debug)]
pub struct AlexNet {
    /// conv1–conv5.
    pub convs: Vec<Conv2d>,
    /// 3×3 max pooling with stride 2 (after conv1, conv2 and conv5).
    pub pool: MaxPool2d,
    /// torchvision's adaptive average pooling to 6 × 6 before the classifier; `None` in the
    /// paper's layout.
    pub average: Option<AdaptiveAvgPool2d>,
    /// fc1–fc3.
    pub fcs: Vec<Linear>,
}

impl AlexNet {
    /// Logits of a batch of (normalized) images, `[batch, 3, side, side] -> [batch, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut h = images;
        for i in 0..self.convs.len() {
            h = self.conv_block(i, h);
        }
        let mut h: Tensor<2> = h.flatten(1, 3);
        for i in 0..self.fcs.len() {
            h = self.dense_block(i, h);
        }
        h
    }

    /// The hidden representations, input side first: the ReLU outputs of conv1–conv5 (after the
    /// max pool where there is one; conv5's after torchvision's average pool too), flattened to
    /// `[batch, C·H·W]`, then those of FC1 and FC2 `[batch, width]`.
    pub fn hidden(&self, images: Tensor<4>) -> Vec<Tensor<2>> {
        let mut layers = Vec::with_capacity(self.convs.len() + self.fcs.len() - 1);
        let mut h = images;
        for i in 0..self.convs.len() {
            h = self.conv_block(i, h);
            layers.push(h.clone().flatten(1, 3));
        }
        let mut h = layers.last().cloned().expect("AlexNet has convolutions");
        for i in 0..self.fcs.len() - 1 {
            h = self.dense_block(i, h);
            layers.push(h.clone());
        }
        layers
    }

    /// Conv `i` and its ReLU, then the pools that follow it.
    fn conv_block(&self, i: usize, h: Tensor<4>) -> Tensor<4> {
        let mut h = relu(self.convs[i].forward(h));
        if POOLED.contains(&i) {
            h = self.pool.forward(h);
        }
        if i + 1 == self.convs.len()
            && let Some(average) = &self.average
        {
            h = average.forward(h);
        }
        h
    }

    /// Dense layer `i`, with its ReLU unless it is the last.
    fn dense_block(&self, i: usize, h: Tensor<2>) -> Tensor<2> {
        let h = self.fcs[i].forward(h);
        if i + 1 < self.fcs.len() { relu(h) } else { h }
    }

    /// The network as a classifier of pixels in `[0, 1]`, images `[3, side, side]`, with
    /// ImageNet's normalization inside (torchvision's weights expect it), so that the attack
    /// and its distortion live in pixel space. Its activations are [`AlexNet::hidden`]'s.
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] if the network does not take `side × side` images.
    pub fn classifier(&self, side: usize) -> Result<AlexNetClassifier> {
        let forward: AlexNetForward = AlexNet::forward;
        Ok(ImageClassifier::new(self, [3, side, side], forward)?
            .with_normalization(Normalization::imagenet())?
            .with_hidden(AlexNet::hidden))
    }
}

/// The forward pass [`AlexNet::classifier`] wraps.
pub type AlexNetForward = fn(&AlexNet, Tensor<4>) -> Tensor<2>;
/// AlexNet as a [`crate::Classifier`] (see [`AlexNet::classifier`]).
pub type AlexNetClassifier = ImageClassifier<AlexNet, AlexNetForward>;

/// The name and shape of every tensor of a safetensors file, read from its header alone (a
/// trained AlexNet is 244 MB; the header a few kB).
fn tensor_shapes(path: &Path) -> Result<HashMap<String, Vec<usize>>> {
    let io = |e| ModelError::io("reading", path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut start = [0u8; 8];
    file.read_exact(&mut start).map_err(io)?;
    if start.starts_with(b"PK\x03\x04") || start[0] == 0x80 {
        return Err(ModelError::Format {
            path: path.to_owned(),
            message: "this is a PyTorch torch.save file, not safetensors; convert it with \
                      `python -c \"import torch; from safetensors.torch import save_file; \
                      sd = torch.load('alexnet.pth', map_location='cpu'); \
                      save_file({k: v.contiguous() for k, v in sd.items()}, \
                      'alexnet.safetensors')\"`"
                .into(),
        });
    }
    let format = |message: String| ModelError::Format {
        path: path.to_owned(),
        message,
    };
    let len = u64::from_le_bytes(start);
    let size = file.metadata().map_err(io)?.len();
    if len > 100_000_000 || len + 8 > size {
        return Err(format(format!(
            "not a safetensors file (header of {len} bytes in a file of {size})"
        )));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).map_err(io)?;
    let json: HashMap<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| format(format!("not a safetensors file: {e}")))?;
    json.into_iter()
        .filter(|(name, _)| name != "__metadata__")
        .map(|(name, info)| {
            let shape = info["shape"]
                .as_array()
                .and_then(|dims| {
                    dims.iter()
                        .map(|d| d.as_u64().map(|d| d as usize))
                        .collect()
                })
                .ok_or_else(|| format(format!("tensor `{name}` has no shape")))?;
            Ok((name, shape))
        })
        .collect()
}

impl AlexNetConfig {
    /// The configuration of a safetensors file with torchvision's names, from its shapes: the
    /// widths of every layer, torchvision's layout (224 × 224) unless the filters are Table
    /// 5's, which is the paper's (227 × 227).
    ///
    /// # Errors
    /// [`ModelError::Io`]/[`ModelError::Format`] for an unreadable file, a `torch.save` file or
    /// one that is not safetensors; [`ModelError::MissingTensor`] if a layer's weight is absent;
    /// [`ModelError::TensorMismatch`] if one has the wrong number of dimensions or widths that
    /// do not chain.
    pub fn of_torchvision_file(path: &Path) -> Result<Self> {
        let shapes = tensor_shapes(path)?;
        let shape = |name: String, rank: usize| -> Result<Vec<usize>> {
            let found = shapes.get(&name).ok_or_else(|| ModelError::MissingTensor {
                path: path.to_owned(),
                name: name.clone(),
            })?;
            if found.len() != rank {
                return Err(ModelError::TensorMismatch {
                    path: path.to_owned(),
                    name,
                    expected: vec![0; rank],
                    found: found.clone(),
                    dtype: "any".into(),
                });
            }
            Ok(found.clone())
        };
        let mut filters = [0; 5];
        for (f, idx) in filters.iter_mut().zip(TORCHVISION_CONVS) {
            *f = shape(format!("features.{idx}.weight"), 4)?[0];
        }
        let mut dense = [[0; 2]; 3];
        for (d, idx) in dense.iter_mut().zip(TORCHVISION_FCS) {
            let s = shape(format!("classifier.{idx}.weight"), 2)?;
            *d = [s[0], s[1]];
        }
        let config = if filters == PAPER_FILTERS {
            Self::new()
        } else {
            Self::torchvision().with_filters(filters)
        };
        let config = config
            .with_hidden([dense[0][0], dense[1][0]])
            .with_classes(dense[2][0]);
        // FC1 must take conv5's flattened map; FC2 and FC3 their predecessor's output.
        let inputs = [
            config.flat_features().unwrap_or(0),
            dense[0][0],
            dense[1][0],
        ];
        for ((d, idx), expected) in dense.iter().zip(TORCHVISION_FCS).zip(inputs) {
            if d[1] != expected {
                return Err(ModelError::TensorMismatch {
                    path: path.to_owned(),
                    name: format!("classifier.{idx}.weight"),
                    expected: vec![d[0], expected],
                    found: d.to_vec(),
                    dtype: "any".into(),
                });
            }
        }
        Ok(config)
    }
}

/// Loads a safetensors file with torchvision's AlexNet names (the layout and widths from its
/// shapes, [`AlexNetConfig::of_torchvision_file`]) on `device`.
///
/// # Errors
/// Those of [`AlexNetConfig::of_torchvision_file`]; [`ModelError::MissingTensor`] for a bias
/// the file lacks, [`ModelError::UnexpectedTensor`] for a tensor that is not AlexNet's,
/// [`ModelError::TensorMismatch`] for a shape that differs.
pub fn load_torchvision(path: &Path, device: &Device) -> Result<(AlexNetConfig, AlexNet)> {
    let config = AlexNetConfig::of_torchvision_file(path)?;
    let mut net = config.init(device)?;
    let mut store = SafetensorsStore::from_file(path)
        .allow_partial(true)
        .validate(false)
        .with_from_adapter(PyTorchToBurnAdapter);
    for (i, idx) in TORCHVISION_CONVS.into_iter().enumerate() {
        store = store.with_key_remapping(format!(r"^features\.{idx}\."), format!("convs.{i}."));
    }
    for (i, idx) in TORCHVISION_FCS.into_iter().enumerate() {
        store = store.with_key_remapping(format!(r"^classifier\.{idx}\."), format!("fcs.{i}."));
    }
    let applied = net.load_from(&mut store).map_err(|e| ModelError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    // Errors name the tensors as the file does.
    let torchvision_name = |name: &str| {
        let renamed = |(i, idx): (usize, usize), from: &str, to: &str| {
            name.strip_prefix(&format!("{from}.{i}."))
                .map(|rest| format!("{to}.{idx}.{rest}"))
        };
        TORCHVISION_CONVS
            .into_iter()
            .enumerate()
            .find_map(|pair| renamed(pair, "convs", "features"))
            .or_else(|| {
                TORCHVISION_FCS
                    .into_iter()
                    .enumerate()
                    .find_map(|pair| renamed(pair, "fcs", "classifier"))
            })
            .unwrap_or_else(|| name.to_owned())
    };
    check_applied(&applied, path, "AlexNet", torchvision_name)?;
    Ok((config, net))
}
