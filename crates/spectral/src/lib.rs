//! Frame bounds of fully connected and strided convolutional layers (Szegedy et al. 2014,
//! section 4.3, Table 5), Lipschitz bounds of whole layer chains, and per-example certified L2
//! radii built from them.
//!
//! - [`fc`]: singular values of a dense layer (Gram matrix eigenvalues, f64, nalgebra).
//! - [`conv`]: the paper's Fourier formula for a circular strided convolution (rustfft +
//!   per-frequency Hermitian eigenvalues), with the explicit operator as ground truth.
//! - [`zero_padded`]: a zero-padded convolution as layers run it, bounded by the circular one
//!   on its padded grid.
//! - [`pool`]: the L2 Lipschitz constant of (overlapping) max pooling.
//! - [`scale`]: a per-channel scale, the linear part of an input normalization.
//! - [`layers`]: layers as host weights, their bounds and the product over a chain.
//! - [`burn_modules`]: Burn's `Linear`, `Conv2d`, `MaxPool2d`, `BatchNorm` as host layers.
//! - [`builder`]: [`ChainBuilder`], listing a network's layers while following its shapes.
//! - [`chain`]: [`LayerChain`], the trait through which any network lists its layers, and
//!   [`lipschitz_bound`].
//! - [`mnist`], [`alexnet`]: the project's models as chains (AlexNet in the paper's layout or
//!   torchvision's, initialised or loaded from torchvision's weights).
//! - [`mod@certify`]: radius `margin / (√2·L)` below which no perturbation changes the class,
//!   and an attack's examples held against it.
#![warn(missing_docs)]

pub mod alexnet;
pub mod builder;
pub mod burn_modules;
pub mod certify;
pub mod chain;
pub mod conv;
pub mod error;
pub mod fc;
pub mod layers;
pub mod mnist;
pub mod pool;
pub mod scale;
pub mod zero_padded;

pub use builder::ChainBuilder;
pub use burn_modules::{conv_layer, host_values, linear_layer};
pub use certify::{
    Certificate, CertifiedBatch, RadiusCheck, certify, certify_batch, certify_logits, certify_with,
};
pub use chain::{LayerChain, chain_bounds, lipschitz_bound};
pub use conv::{ConvShape, conv_bounds, conv_singular_values, explicit_operator};
pub use error::{Result, SpectralError};
pub use fc::{FrameBounds, fc_bounds, singular_values};
pub use layers::{HostLayer, LayerBound, LayerKind, bound_product};
pub use pool::MaxPoolSpec;
pub use zero_padded::{ConvGeometry, explicit_zero_padded_operator};

/// Version of the bound computation; results cached by an earlier version (before padded grids
/// and pooling constants) must be recomputed.
pub const BOUNDS_VERSION: u32 = 2;
