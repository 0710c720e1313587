//! The trait every classifier the analyses take implements (the paper's MNIST models, and any
//! Burn module through [`crate::adapter::ImageClassifier`]), its input shape and the input box.

use burn::prelude::*;

/// The box the inputs live in: every coordinate in `[lo, hi]` (the paper's `[0, 1]^m`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bounds {
    /// Lower bound of every coordinate.
    pub lo: f32,
    /// Upper bound of every coordinate.
    pub hi: f32,
}

impl Bounds {
    /// Pixel intensities scaled to `[0, 1]`, as in the paper.
    pub const UNIT: Bounds = Bounds { lo: 0.0, hi: 1.0 };

    /// Clamps every coordinate of `x` into the box.
    pub fn clamp<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        x.clamp(self.lo, self.hi)
    }
}

/// Whether a forward pass behaves as in training (dropout active) or as in evaluation.
///
/// Burn 0.22 applies dropout whenever the input lives on an autodiff device; an attack needs
/// input gradients and so runs on one. Our models therefore never decide from the device: the
/// mode is explicit, and every [`Classifier`] method is evaluation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Training behaviour: dropout masks are drawn.
    Train,
    /// Evaluation behaviour: deterministic, no dropout.
    Eval,
}

/// The shape of one input, channels first: `[channels, height, width]` (`[1, 28, 28]` for
/// MNIST, `[3, 224, 224]` for ImageNet). A flat feature vector of width `n` is `[1, 1, n]`.
pub type InputShape = [usize; 3];

/// Number of coordinates of one input of this shape (`C·H·W`).
pub fn input_len(shape: InputShape) -> usize {
    shape.iter().product()
}

/// The shape a flat input of `width` features is drawn with: a square grey image when `width`
/// is a perfect square (784 → `[1, 28, 28]`), else one row `[1, 1, width]`.
pub fn flat_input_shape(width: usize) -> InputShape {
    let side = (width as f64).sqrt().round() as usize;
    if side * side == width {
        [1, side, side]
    } else {
        [1, 1, width]
    }
}

/// A trained classifier seen as a map from images in [`bounds`](Classifier::bounds) to logits,
/// always in evaluation mode.
///
/// Inputs travel flattened, one row per image (`C·H·W` coordinates in channel-major order, as
/// `Tensor::flatten(1, 3)` of a `[batch, C, H, W]` tensor gives them), so that the attack and
/// the other analyses work on any shape; [`input_shape`](Classifier::input_shape) says how to
/// fold a row back into an image.
pub trait Classifier {
    /// Logits of a batch.
    ///
    /// # Shapes
    /// - `x`: `[batch, C·H·W]` with `[C, H, W] = self.input_shape()`, values in `self.bounds()`
    /// - output: `[batch, num_classes]` (logits, not probabilities)
    fn logits(&self, x: Tensor<2>) -> Tensor<2>;

    /// The shape of one input, `[channels, height, width]`.
    fn input_shape(&self) -> InputShape;

    /// Number of coordinates of one input (`C·H·W`).
    fn input_len(&self) -> usize {
        input_len(self.input_shape())
    }

    /// The hidden activations `φ_k(x)` of every hidden layer, input side first, each flattened
    /// to `[batch, width_k]` (for unit analysis and per-layer adversarial training).
    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>>;

    /// Number of classes.
    fn num_classes(&self) -> usize;

    /// The input box.
    fn bounds(&self) -> Bounds {
        Bounds::UNIT
    }

    /// Predicted labels, `[batch]`.
    fn predict(&self, x: Tensor<2>) -> Tensor<1, Int> {
        self.logits(x).argmax(1).squeeze_dim(1)
    }
}

/// A classifier that can be trained with [`crate::train`].
pub trait Trainable: Classifier + Module + Clone {
    /// Logits in the given mode, `[batch, C·H·W] -> [batch, classes]`.
    fn logits_mode(&self, x: Tensor<2>, mode: Mode) -> Tensor<2>;

    /// The paper's weight decay over the layers being trained, a `[1]` tensor (see
    /// [`crate::decay`]).
    fn weight_decay(&self) -> Tensor<1>;
}
