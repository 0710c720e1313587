//! Cross-model and cross-training-set generalization of adversarial examples (Szegedy et al.,
//! ICLR 2014, Tables 2–4), on Burn 0.22.
//!
//! - [`examples`]: [`ExampleSet`], the rows of a transfer table: a model's successful
//!   adversarial examples, the same amplified to a given RMS, Gaussian noise of a fixed
//!   standard deviation, or scaled image by image to the RMS of a model's adversarial
//!   perturbations after clipping.
//! - [`matrix`]: [`error_matrix`] classifies every set with every model;
//!   [`aggregate`] turns the matrices of several seeds into mean ± standard deviation.
//! - [`noise`]: seeded Gaussian noise, added then clipped to the box.
//!
//! Nothing here assumes MNIST: images have any number of values (`C·H·W`, from the data or the
//! attack files), labels are `u32` class indices, and the box is the models' `Bounds`.
//!
//! The tables themselves (`TransferTable`) are plain data of `blindspot-report`, which renders
//! them beside the paper's values.
//!
//! ```no_run
//! use blindspot_attack::files::load_tensors;
//! use blindspot_models::{Classifier, checkpoint};
//! use blindspot_transfer::{ExampleSet, error_matrix};
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let device = burn::tensor::Device::default();
//! let (a, _) = checkpoint::load("results/models/softmax1".as_ref(), &device)?;
//! let (b, _) = checkpoint::load("results/models/n100-100-10".as_ref(), &device)?;
//! let tensors = load_tensors("results/attacks/softmax1/train-random".as_ref())?;
//! // Noise and amplified perturbations are clipped to the attacked model's input box.
//! let adversarial = ExampleSet::from_attack("softmax1", &tensors, a.bounds())?;
//! let sets = [adversarial.clone(), adversarial.matched_gaussian(0)?];
//! let columns = [("softmax1".to_string(), &a), ("n100-100-10".to_string(), &b)];
//! let table = error_matrix(&sets, &columns, &device, "first 1000 train images");
//! println!("{}", table.to_csv());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod error;
pub mod examples;
pub mod matrix;
pub mod noise;

pub use error::{Result, TransferError};
pub use examples::{ExampleSet, amplification, matched_noise};
pub use matrix::{aggregate, error_matrix, error_on};
pub use noise::{Gaussian, gaussian_noise};
