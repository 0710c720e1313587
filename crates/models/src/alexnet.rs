//! AlexNet (Krizhevsky et al., 2012) with the layer shapes of the paper's Table 5, for the
//! spectral analysis of section 4.3. Not trained here.
//!
//! Convolutions are ungrouped, as Table 5 lists them (`3×11×11×96`, `96×5×5×256`,
//! `256×3×3×384`, `384×3×3×384`, `384×3×3×256`), then FC `9216→4096→4096→1000`.
//!
//! # Shapes
//! `[batch, 3, 227, 227]` → conv1 (stride 4) `[batch, 96, 55, 55]` → pool `27` → conv2 (pad 2)
//! `[batch, 256, 27, 27]` → pool `13` → conv3–5 (pad 1) `[batch, 256, 13, 13]` → pool `6` →
//! flatten `[batch, 9216]` → fc1 `4096` → fc2 `4096` → fc3 `[batch, 1000]`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::error::{ModelError, Result};

/// Configuration of [`AlexNet`]; the defaults are the paper's Table 5.
#[derive(Config, Debug)]
pub struct AlexNetConfig {
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

impl AlexNetConfig {
    /// Side of the last pooled feature map (6 for a 227 input).
    pub fn final_side(&self) -> usize {
        let pool = |s: usize| (s.saturating_sub(3)) / 2 + 1;
        let conv1 = (self.input_side.saturating_sub(11)) / 4 + 1;
        pool(pool(pool(conv1)))
    }

    /// Returns the initialized network.
    pub fn init(&self, device: &Device) -> Result<AlexNet> {
        if self.filters.contains(&0)
            || self.hidden.contains(&0)
            || self.classes == 0
            || self.input_side < 67
        {
            return Err(ModelError::InvalidConfig(format!(
                "invalid AlexNet configuration {self:?}"
            )));
        }
        let f = self.filters;
        let conv = |c_in, c_out, k, stride, pad| {
            Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device)
        };
        let flat = f[4] * self.final_side() * self.final_side();
        Ok(AlexNet {
            convs: vec![
                conv(3, f[0], 11, 4, 0),
                conv(f[0], f[1], 5, 1, 2),
                conv(f[1], f[2], 3, 1, 1),
                conv(f[2], f[3], 3, 1, 1),
                conv(f[3], f[4], 3, 1, 1),
            ],
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            fcs: vec![
                LinearConfig::new(flat, self.hidden[0]).init(device),
                LinearConfig::new(self.hidden[0], self.hidden[1]).init(device),
                LinearConfig::new(self.hidden[1], self.classes).init(device),
            ],
        })
    }
}

/// AlexNet with the paper's Table 5 layer shapes.
#[derive(Module, Debug)]
pub struct AlexNet {
    /// conv1–conv5.
    pub convs: Vec<Conv2d>,
    /// 3×3 max pooling with stride 2 (after conv1, conv2 and conv5).
    pub pool: MaxPool2d,
    /// fc1–fc3.
    pub fcs: Vec<Linear>,
}

impl AlexNet {
    /// Logits of a batch of images, `[batch, 3, side, side] -> [batch, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut h = images;
        for (i, conv) in self.convs.iter().enumerate() {
            h = relu(conv.forward(h));
            if matches!(i, 0 | 1 | 4) {
                h = self.pool.forward(h);
            }
        }
        let mut h: Tensor<2> = h.flatten(1, 3);
        for (i, fc) in self.fcs.iter().enumerate() {
            h = fc.forward(h);
            if i + 1 < self.fcs.len() {
                h = relu(h);
            }
        }
        h
    }
}
