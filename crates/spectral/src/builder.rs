//! Listing a network's layers in forward order while following the shape of its features.
//!
//! [`ChainBuilder`] starts from the input shape and takes the network's modules in the order
//! its forward pass applies them. It computes each convolution's input size and real padding,
//! each pooling's output size and Lipschitz constant, and checks that every layer accepts the
//! features it receives (channels, the flattened width of a dense layer), so that the listed
//! chain is the network that runs. Nonlinearities multiply the `after` constant of the last
//! linear layer; one that comes before any linear layer is kept on a leading identity layer.
//!
//! ```
//! # use blindspot_spectral::{ChainBuilder, MaxPoolSpec};
//! // normalise → conv 3×3 (padding 1) → ReLU → max pool 3×3 / 2 → dense → logits.
//! let layers = ChainBuilder::image(1, 8, 8)
//!     .normalize("norm", &[0.5])?
//!     .conv("conv", [2, 1, 3, 3], vec![0.1; 18], 1, [1, 1, 1, 1])?
//!     .relu()
//!     .max_pool(MaxPoolSpec::new([3, 3], [2, 2]))?
//!     .dense("fc", 10, 2 * 3 * 3, vec![0.01; 180])?
//!     .finish()?;
//! assert_eq!(layers.len(), 3);
//! assert_eq!(layers[1].after, 2.0); // ReLU (1) · overlapping pool (2)
//! # Ok::<(), blindspot_spectral::SpectralError>(())
//! ```

use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, Linear};

use crate::burn_modules::{batch_norm_factors, conv_layer, linear_layer, max_pool_spec};
use crate::error::{Result, SpectralError};
use crate::layers::{HostLayer, LayerKind};
use crate::pool::MaxPoolSpec;
use crate::scale::normalization_factors;
use crate::zero_padded::ConvGeometry;

/// The features between two layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Features {
    /// `[channels, height, width]`.
    Image([usize; 3]),
    /// A flat vector.
    Flat(usize),
}

impl Features {
    fn len(self) -> usize {
        match self {
            Features::Image(s) => s.iter().product(),
            Features::Flat(n) => n,
        }
    }
}

/// Builds a network's layer chain in forward order (see the module docs).
#[derive(Debug, Clone)]
pub struct ChainBuilder {
    features: Features,
    layers: Vec<HostLayer>,
    /// Lipschitz constant of the maps before the first linear layer.
    lead: f64,
}

impl ChainBuilder {
    /// A chain whose input is an image `[channels, height, width]`.
    pub fn image(channels: usize, height: usize, width: usize) -> Self {
        Self {
            features: Features::Image([channels, height, width]),
            layers: Vec::new(),
            lead: 1.0,
        }
    }

    /// A chain whose input is a flat vector of `width` features.
    pub fn flat(width: usize) -> Self {
        Self {
            features: Features::Flat(width),
            layers: Vec::new(),
            lead: 1.0,
        }
    }

    /// The shape of the features at this point: `[channels, height, width]` or `[width]`.
    pub fn shape(&self) -> Vec<usize> {
        match self.features {
            Features::Image(s) => s.to_vec(),
            Features::Flat(n) => vec![n],
        }
    }

    fn image_shape(&self, what: &str) -> Result<[usize; 3]> {
        match self.features {
            Features::Image(s) => Ok(s),
            Features::Flat(n) => Err(SpectralError::Shape(format!(
                "{what} needs image features, the chain has a flat vector of {n} here"
            ))),
        }
    }

    fn push(mut self, layer: HostLayer, features: Features) -> Self {
        if self.layers.is_empty() && self.lead != 1.0 {
            self.layers.push(HostLayer {
                name: "input".into(),
                kind: LayerKind::Scale { channels: 1 },
                weights: vec![1.0],
                after: self.lead,
            });
        }
        self.layers.push(layer);
        self.features = features;
        self
    }

    /// Any map with Lipschitz constant `c` that keeps the features' shape (an activation).
    pub fn lipschitz(mut self, c: f64) -> Result<Self> {
        if !(c.is_finite() && c >= 0.0) {
            return Err(SpectralError::Value(format!(
                "a Lipschitz constant must be finite and ≥ 0, got {c}"
            )));
        }
        match self.layers.last_mut() {
            Some(last) => last.after *= c,
            None => self.lead *= c,
        }
        Ok(self)
    }

    /// ReLU (Lipschitz constant 1); also dropout at evaluation, an identity.
    pub fn relu(self) -> Self {
        self
    }

    /// The logistic sigmoid (Lipschitz constant 1/4, the maximum of its derivative).
    pub fn sigmoid(mut self) -> Self {
        match self.layers.last_mut() {
            Some(last) => last.after *= 0.25,
            None => self.lead *= 0.25,
        }
        self
    }

    /// A zero-padded convolution with a dense kernel `[F, C, k_h, k_w]` (row-major), stride on
    /// both axes and padding `[top, left, bottom, right]`.
    pub fn conv(
        self,
        name: &str,
        shape: [usize; 4],
        weights: Vec<f32>,
        stride: usize,
        padding: [usize; 4],
    ) -> Result<Self> {
        let [c, h, w] = self.image_shape(name)?;
        let geometry = ConvGeometry {
            input: [h, w],
            padding,
            stride,
        };
        let layer = HostLayer {
            name: name.into(),
            kind: LayerKind::Conv { shape, geometry },
            weights,
            after: 1.0,
        };
        self.conv_layer(layer, c)
    }

    fn conv_layer(self, layer: HostLayer, channels: usize) -> Result<Self> {
        let LayerKind::Conv { shape, geometry } = &layer.kind else {
            return Err(SpectralError::Shape(format!(
                "{} is no convolution",
                layer.name
            )));
        };
        if shape[1] != channels || layer.weights.len() != layer.kind.weight_count() {
            return Err(SpectralError::Shape(format!(
                "{}: kernel {shape:?} with {} weights on {channels} input channels",
                layer.name,
                layer.weights.len()
            )));
        }
        let [oh, ow] = geometry.output([shape[2], shape[3]])?;
        let features = Features::Image([shape[0], oh, ow]);
        Ok(self.push(layer, features))
    }

    /// A Burn `Conv2d`, with the padding it applies on the current feature map.
    pub fn conv2d(self, name: &str, layer: &Conv2d) -> Result<Self> {
        let [c, h, w] = self.image_shape(name)?;
        let layer = conv_layer(name, layer, [h, w], 1.0)?;
        self.conv_layer(layer, c)
    }

    /// A dense layer with row-major weights `[rows, cols]` = `[out, in]`; image features are
    /// flattened (channel-major) first.
    pub fn dense(self, name: &str, rows: usize, cols: usize, weights: Vec<f32>) -> Result<Self> {
        let layer = HostLayer {
            name: name.into(),
            kind: LayerKind::Fc { rows, cols },
            weights,
            after: 1.0,
        };
        self.dense_layer(layer)
    }

    fn dense_layer(self, layer: HostLayer) -> Result<Self> {
        let LayerKind::Fc { rows, cols } = layer.kind else {
            return Err(SpectralError::Shape(format!(
                "{} is no dense layer",
                layer.name
            )));
        };
        if cols != self.features.len() || layer.weights.len() != rows * cols {
            return Err(SpectralError::Shape(format!(
                "{}: a {rows}×{cols} layer with {} weights after features {:?}",
                layer.name,
                layer.weights.len(),
                self.shape()
            )));
        }
        Ok(self.push(layer, Features::Flat(rows)))
    }

    /// A Burn `Linear`; image features are flattened first.
    pub fn linear(self, name: &str, layer: &Linear) -> Result<Self> {
        let layer = linear_layer(name, layer, 1.0)?;
        self.dense_layer(layer)
    }

    /// A max pooling: changes the feature map's size and multiplies the Lipschitz constant by
    /// [`MaxPoolSpec::lipschitz`].
    pub fn max_pool(mut self, spec: MaxPoolSpec) -> Result<Self> {
        let [c, h, w] = self.image_shape("a max pool")?;
        let [oh, ow] = spec.output([h, w])?;
        self = self.lipschitz(spec.lipschitz()?)?;
        self.features = Features::Image([c, oh, ow]);
        Ok(self)
    }

    /// A Burn `MaxPool2d`, with the padding it applies on the current feature map.
    pub fn max_pool2d(self, layer: &MaxPool2d) -> Result<Self> {
        let [_, h, w] = self.image_shape("a max pool")?;
        self.max_pool(max_pool_spec(layer, [h, w]))
    }

    /// A per-channel scale `x_c ↦ a_c x_c` (one factor per channel of an image, or per
    /// coordinate of a flat vector).
    pub fn scale(self, name: &str, factors: Vec<f32>) -> Result<Self> {
        let channels = match self.features {
            Features::Image([c, _, _]) => c,
            Features::Flat(n) => n,
        };
        if factors.len() != channels {
            return Err(SpectralError::Shape(format!(
                "{name}: {} factors for {channels} channels",
                factors.len()
            )));
        }
        let features = self.features;
        let layer = HostLayer {
            name: name.into(),
            kind: LayerKind::Scale { channels },
            weights: factors,
            after: 1.0,
        };
        Ok(self.push(layer, features))
    }

    /// An input normalization `(x_c − μ_c)/σ_c` (the means do not change differences).
    pub fn normalize(self, name: &str, std: &[f32]) -> Result<Self> {
        let factors = normalization_factors(std)?;
        self.scale(name, factors)
    }

    /// A Burn `BatchNorm` at evaluation (running statistics): the scale `γ_c/√(v_c + ε)`.
    pub fn batch_norm(self, name: &str, layer: &BatchNorm) -> Result<Self> {
        let factors = batch_norm_factors(layer)?;
        self.scale(name, factors)
    }

    /// The layers, input side first. A chain without a linear layer is one identity layer
    /// carrying the constant of its maps.
    pub fn finish(self) -> Result<Vec<HostLayer>> {
        if self.layers.is_empty() {
            return Ok(vec![HostLayer {
                name: "input".into(),
                kind: LayerKind::Scale { channels: 1 },
                weights: vec![1.0],
                after: self.lead,
            }]);
        }
        Ok(self.layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_followed_and_mismatches_refused() {
        let b = ChainBuilder::image(3, 13, 13)
            .conv("c", [4, 3, 3, 3], vec![0.0; 108], 2, [1, 1, 1, 1])
            .unwrap();
        assert_eq!(b.shape(), vec![4, 7, 7]);
        // 4·7·7 = 196 inputs expected by a dense layer.
        assert!(b.clone().dense("fc", 2, 195, vec![0.0; 390]).is_err());
        let b = b.dense("fc", 2, 196, vec![0.0; 392]).unwrap();
        assert_eq!(b.shape(), vec![2]);
        assert!(
            b.clone()
                .max_pool(MaxPoolSpec::new([2, 2], [2, 2]))
                .is_err()
        );
        assert!(b.clone().scale("s", vec![1.0; 3]).is_err());
        assert!(
            ChainBuilder::image(2, 8, 8)
                .conv("c", [1, 3, 3, 3], vec![0.0; 27], 1, [0; 4])
                .is_err()
        );
        assert!(ChainBuilder::flat(4).lipschitz(f64::NAN).is_err());
    }

    #[test]
    fn leading_maps_sit_on_an_identity_layer() {
        let layers = ChainBuilder::image(1, 9, 9)
            .max_pool(MaxPoolSpec::new([3, 3], [2, 2]))
            .unwrap()
            .dense("fc", 2, 16, vec![0.0; 32])
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[0].kind, LayerKind::Scale { channels: 1 });
        assert_eq!(layers[0].after, 2.0);
        let alone = ChainBuilder::flat(3).sigmoid().finish().unwrap();
        assert_eq!(alone[0].after, 0.25);
    }
}
