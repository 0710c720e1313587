//! One module per subcommand, each an `Args` struct with `run`.

pub mod adversarial;
pub mod attack;
pub mod bench;
pub mod eval;
pub mod imagenet;
pub mod imagenet_units;
pub mod models;
pub mod reproduce;
pub mod robustness;
pub mod spectral;
pub mod train;
pub mod transfer;
pub mod units;
