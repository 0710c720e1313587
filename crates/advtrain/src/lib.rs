//! Adversarial training with a pool of adversarial examples (Szegedy et al., ICLR 2014, end of
//! section 4.2), beside the baselines it is compared with, on Burn 0.22.
//!
//! - [`method`]: [`Method`] — weight decay alone, dropout, or adversarial examples for the
//!   input, the hidden layers or both ([`Levels`]), with the [`PoolConfig`].
//! - [`pool`]: [`Pool`], the fixed-capacity store a random subset of which is replaced by fresh
//!   examples.
//! - [`tail`]: [`MlpTail`], the layers above a level as a classifier of that level's values, so
//!   that the L-BFGS attack of `blindspot-attack` makes per-layer examples in the layer's box.
//! - [`train`]: [`train_mlp`], the training run; [`fit`]: [`fit_method`], a catalogue run
//!   trained with a method, with its checkpoint metadata.
//!
//! ```no_run
//! use blindspot_advtrain::{Levels, Method, train_mlp};
//! use blindspot_models::{Silent, TrainConfig, model_spec, AnyModel};
//! # fn demo(train: &blindspot_data::Dataset, test: &blindspot_data::Dataset) -> Result<(), Box<dyn std::error::Error>> {
//! let device = burn::tensor::Device::default().autodiff();
//! let AnyModel::Mlp(mlp) = model_spec("n100-100-10")?.architecture.init(&device)? else { unreachable!() };
//! let method = Method::adversarial(Levels::All);
//! let (model, report) = train_mlp(mlp, train, test, &method, &TrainConfig::new(), &mut Silent)?;
//! println!("test error {:.2}%", 100.0 * report.train.test_error);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod error;
pub mod fit;
pub mod method;
pub mod pool;
pub mod tail;
pub mod train;

pub use error::{AdvTrainError, Result};
pub use fit::{fit_method, method_fingerprint, method_run_id};
pub use method::{AscentConfig, Levels, Method, PoolConfig};
pub use pool::Pool;
pub use tail::MlpTail;
pub use train::{AdvTrainReport, LevelStats, train_mlp};
