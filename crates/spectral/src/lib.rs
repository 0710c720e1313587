//! Frame bounds of fully connected and strided convolutional layers (Szegedy et al. 2014,
//! section 4.3, Table 5), and per-example certified L2 radii built from them.
//!
//! - [`fc`]: singular values of a dense layer (Gram matrix eigenvalues, f64, nalgebra).
//! - [`conv`]: the paper's Fourier formula for a strided convolution (rustfft + per-frequency
//!   Hermitian eigenvalues), with the explicit operator as ground truth.
//! - [`layers`]: layers as host weights, their bounds and the network's Lipschitz product.
//! - [`mnist`]: the MNIST models as layer chains.
//! - [`alexnet`]: AlexNet from its initialisation or a torchvision-named safetensors checkpoint.
//! - [`certify`]: radius `margin / (√2·L)` below which no perturbation changes the class.
#![warn(missing_docs)]

pub mod alexnet;
pub mod certify;
pub mod conv;
pub mod error;
pub mod fc;
pub mod layers;
pub mod mnist;

pub use certify::{Certificate, certify, certify_logits};
pub use conv::{ConvShape, conv_bounds, conv_singular_values, explicit_operator};
pub use error::{Result, SpectralError};
pub use fc::{FrameBounds, fc_bounds, singular_values};
pub use layers::{HostLayer, LayerBound, LayerKind, lipschitz_bound};
pub use mnist::model_layers;
