//! [`ImageClassifier`]: any Burn module with a `[B, C, H, W] → [B, K]` forward as a
//! [`Classifier`], so that the attack, transfer, certificates and unit analysis run on it.
//!
//! ```
//! use blindspot_models::{Classifier, ImageClassifier, Normalization};
//! use burn::nn::{Linear, LinearConfig};
//! use burn::prelude::*;
//!
//! #[derive(Module, Debug)]
//! struct Net {
//!     fc: Linear,
//! }
//!
//! impl Net {
//!     fn forward(&self, x: Tensor<4>) -> Tensor<2> {
//!         self.fc.forward(x.flatten(1, 3))
//!     }
//! }
//!
//! let device = Device::flex();
//! let net = Net { fc: LinearConfig::new(3 * 8 * 8, 5).init(&device) };
//! let model = ImageClassifier::new(&net, [3, 8, 8], Net::forward)?
//!     .with_normalization(Normalization::new(vec![0.5; 3], vec![0.25; 3])?)?;
//! assert_eq!(model.num_classes(), 5);
//! let logits = model.logits(Tensor::zeros([2, 3 * 8 * 8], &device));
//! assert_eq!(logits.dims(), [2, 5]);
//! # Ok::<(), blindspot_models::ModelError>(())
//! ```
//!
//! **Evaluation mode.** The adapter keeps a validation snapshot of the module
//! ([`Module::valid`]): its parameters on the plain device and every training flag off. Burn's
//! Dropout and BatchNorm act as in training whenever their input lives on an autodiff device
//! *and* their flag is on; an attack feeds autodiff inputs, so without the snapshot a user's
//! Dropout would draw masks and a BatchNorm would couple the rows of a batch.
//!
//! **Pixel space.** Inputs are pixels inside [`Classifier::bounds`] (default `[0, 1]`); an
//! optional per-channel [`Normalization`] `(x − mean_c) / std_c` is applied inside, so
//! distortions are measured in pixels as the paper reports them.

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::prelude::*;

use crate::classifier::{Bounds, Classifier, InputShape};
use crate::error::{ModelError, Result};

/// Per-channel normalization `(x − mean_c) / std_c`, as torchvision's `Normalize`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalization {
    /// ImageNet's statistics, as torchvision's pretrained models expect them.
    pub fn imagenet() -> Self {
        Self {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// One mean and one standard deviation per channel; every value finite, every deviation
    /// positive.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(ModelError::InvalidConfig(format!(
                "normalization needs one mean and one std per channel, got {} and {}",
                mean.len(),
                std.len()
            )));
        }
        if !mean.iter().all(|m| m.is_finite()) || !std.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(ModelError::InvalidConfig(format!(
                "normalization needs finite means and positive finite deviations, got mean \
                 {mean:?}, std {std:?}"
            )));
        }
        Ok(Self { mean, std })
    }

    /// The per-channel means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The per-channel standard deviations.
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// `(x − mean_c) / std_c` on `[batch, C, H, W]`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let device = x.device();
        let c = self.channels();
        let column = |v: &[f32]| {
            Tensor::<1>::from_data(TensorData::new(v.to_vec(), [c]), &device).reshape([1, c, 1, 1])
        };
        (x - column(&self.mean)) / column(&self.std)
    }
}

/// The hidden activations of a module, from its (normalized) input batch.
pub type HiddenFn<M> = Box<dyn Fn(&M, Tensor<4>) -> Vec<Tensor<2>> + Send + Sync>;

/// A Burn image model seen as a [`Classifier`]: the module (as a validation snapshot), its
/// forward, the input shape, and optionally a normalization, a box and hidden activations.
pub struct ImageClassifier<M, F> {
    module: M,
    forward: F,
    shape: InputShape,
    classes: usize,
    normalization: Option<Normalization>,
    bounds: Bounds,
    hidden: Option<HiddenFn<M>>,
}

impl<M, F> std::fmt::Debug for ImageClassifier<M, F>
where
    M: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageClassifier")
            .field("module", &self.module)
            .field("shape", &self.shape)
            .field("classes", &self.classes)
            .field("normalization", &self.normalization)
            .field("bounds", &self.bounds)
            .field("hidden", &self.hidden.is_some())
            .finish()
    }
}

impl<M, F> ImageClassifier<M, F>
where
    M: Module,
    F: Fn(&M, Tensor<4>) -> Tensor<2>,
{
    /// Wraps a validation snapshot of `module` (the module itself is untouched) whose
    /// `forward(&module, x)` maps `[B, C, H, W]` with `[C, H, W] = input_shape` to logits
    /// `[B, K]`. `K` is read from one forward pass of a zero image; a forward that rejects that
    /// shape (Burn panics on mismatched shapes) or returns another batch size is an error.
    pub fn new(module: &M, input_shape: InputShape, forward: F) -> Result<Self> {
        if input_shape.contains(&0) {
            return Err(ModelError::InvalidConfig(format!(
                "input shape {input_shape:?} has an empty dimension"
            )));
        }
        let module = module.valid();
        let device = module.devices().first().cloned().unwrap_or_default();
        let [c, h, w] = input_shape;
        let probe = Tensor::<4>::zeros([1, c, h, w], &device);
        let dims =
            catch_unwind(AssertUnwindSafe(|| forward(&module, probe).dims())).map_err(|_| {
                ModelError::ShapeMismatch {
                    what: "the module's forward panicked on a zero image of the stated input shape"
                        .into(),
                    expected: vec![1, c, h, w],
                    found: vec![],
                }
            })?;
        if dims[0] != 1 || dims[1] < 2 {
            return Err(ModelError::ShapeMismatch {
                what: "logits of one image (one row, at least two classes)".into(),
                expected: vec![1, 0],
                found: dims.to_vec(),
            });
        }
        Ok(Self {
            module,
            forward,
            shape: input_shape,
            classes: dims[1],
            normalization: None,
            bounds: Bounds::UNIT,
            hidden: None,
        })
    }

    /// Applies `(x − mean_c) / std_c` inside, before the module: inputs, the box and every
    /// distortion stay in pixel space. The channel count must match the input shape.
    pub fn with_normalization(mut self, normalization: Normalization) -> Result<Self> {
        if normalization.channels() != self.shape[0] {
            return Err(ModelError::ShapeMismatch {
                what: "normalization channels".into(),
                expected: vec![self.shape[0]],
                found: vec![normalization.channels()],
            });
        }
        self.normalization = Some(normalization);
        Ok(self)
    }

    /// The input box (default `[0, 1]`): finite, `lo < hi`.
    pub fn with_bounds(mut self, bounds: Bounds) -> Result<Self> {
        if !(bounds.lo.is_finite() && bounds.hi.is_finite() && bounds.lo < bounds.hi) {
            return Err(ModelError::InvalidConfig(format!(
                "the input box needs finite lo < hi, got [{}, {}]",
                bounds.lo, bounds.hi
            )));
        }
        self.bounds = bounds;
        Ok(self)
    }

    /// The hidden activations, for unit analysis and per-layer studies: `hidden(&module, x)`
    /// with `x` the normalized batch `[B, C, H, W]`, each activation flattened to `[B, width]`,
    /// input side first. Without it [`Classifier::activations`] is empty.
    pub fn with_hidden(
        mut self,
        hidden: impl Fn(&M, Tensor<4>) -> Vec<Tensor<2>> + Send + Sync + 'static,
    ) -> Self {
        self.hidden = Some(Box::new(hidden));
        self
    }

    /// The wrapped module (the validation snapshot).
    pub fn module(&self) -> &M {
        &self.module
    }

    /// The normalization applied inside, if any.
    pub fn normalization(&self) -> Option<&Normalization> {
        self.normalization.as_ref()
    }

    /// Rows `[B, C·H·W]` folded to images and normalized.
    fn images(&self, x: Tensor<2>) -> Tensor<4> {
        let [batch, _] = x.dims();
        let [c, h, w] = self.shape;
        let images = x.reshape([batch, c, h, w]);
        match &self.normalization {
            Some(n) => n.apply(images),
            None => images,
        }
    }
}

impl<M, F> Classifier for ImageClassifier<M, F>
where
    M: Module,
    F: Fn(&M, Tensor<4>) -> Tensor<2>,
{
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        (self.forward)(&self.module, self.images(x))
    }

    fn input_shape(&self) -> InputShape {
        self.shape
    }

    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        match &self.hidden {
            Some(hidden) => hidden(&self.module, self.images(x)),
            None => Vec::new(),
        }
    }

    fn num_classes(&self) -> usize {
        self.classes
    }

    fn bounds(&self) -> Bounds {
        self.bounds
    }
}
