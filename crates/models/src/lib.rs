//! Classifiers for blindspot on Burn 0.22: the [`Classifier`] trait the analyses take, an
//! adapter that makes one of any Burn image model, and the MNIST models of *Intriguing
//! properties of neural networks* (Szegedy et al., ICLR 2014), section 2 and Tables 1 and 3.
//!
//! - [`classifier`]: the [`Classifier`] trait every model implements (input shape, logits and
//!   hidden activations, always in evaluation mode), [`Trainable`] for training, and [`Bounds`].
//! - [`adapter`]: [`ImageClassifier`], any Burn module with a `[B, C, H, W] → [B, K]` forward
//!   as a [`Classifier`], with optional per-channel normalization inside.
//! - [`mlp`], [`autoencoder`], [`conv`]: the softmax models, the sigmoid MLPs, AE400-10 and the
//!   conv net; [`alexnet`]: the layer shapes of Table 5 (not trained here).
//! - [`decay`]: the paper's weight decay `λ Σw²/k`.
//! - [`spec`]: the catalogue of the paper's models with the paper's numbers and our recipes.
//! - [`train`]: minibatch training with the paper's loss; a data set as the analyses' inputs
//!   ([`to_inputs`]).
//! - [`checkpoint`]: safetensors + JSON checkpoints in PyTorch layout, loadable by burn-store.
//! - [`import`]: weights a plain Burn program saved with burn-store (or PyTorch) into a
//!   catalogue architecture.
//! - `learner` (feature `learner`, on by default): burn-train's training and validation steps
//!   for the catalogue models, so that Burn's `Learner` trains them; [`train`] stays the
//!   default loop (as fast, and it does more; see the module).
//!
//! Models have no backend type parameter: tensors carry their backend in their `Device`.
//!
//! ```no_run
//! use blindspot_models::{Classifier, Silent, model_spec, train_classifier, TrainConfig};
//! # fn demo(train: &blindspot_data::Dataset, test: &blindspot_data::Dataset) -> blindspot_models::Result<()> {
//! let device = burn::tensor::Device::default().autodiff();
//! let model = model_spec("n100-100-10")?.architecture.init(&device)?;
//! let (model, report) = train_classifier(model, train, test, &TrainConfig::new(), &mut Silent)?;
//! println!("test error {:.2}%", 100.0 * report.test_error);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod adapter;
pub mod alexnet;
pub mod any;
pub mod autoencoder;
pub mod checkpoint;
pub mod classifier;
pub mod conv;
pub mod decay;
pub mod error;
pub mod fit;
pub mod import;
#[cfg(feature = "learner")]
pub mod learner;
pub mod mlp;
pub mod spec;
pub mod train;

pub use adapter::{ImageClassifier, Normalization};
pub use any::{AnyModel, Architecture};
pub use classifier::{
    Bounds, Classifier, InputShape, Mode, Trainable, flat_input_shape, input_len,
};
pub use error::{ModelError, Result};
pub use fit::{RECIPE_VERSION, fit_run, run_data, run_sizes};
pub use spec::{ModelRun, ModelSpec, PaperErrors, Scale, model_spec, paper_models};
pub use train::{
    EpochReport, Optimizer, Silent, TrainConfig, TrainObserver, TrainReport, error_rate,
    error_rate_on, paper_loss, to_inputs, train_classifier, train_classifier_with,
};
