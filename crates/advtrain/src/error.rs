//! Errors of adversarial training.

use thiserror::Error;

/// What can go wrong when configuring or running adversarial training.
#[derive(Debug, Error)]
pub enum AdvTrainError {
    /// A setting is out of its domain.
    #[error("invalid adversarial-training configuration: {0}")]
    InvalidConfig(String),
    /// A tensor or a list had the wrong size.
    #[error("{what}: expected {expected} values, found {found}")]
    Shape {
        /// What was checked.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// Training failed.
    #[error(transparent)]
    Model(#[from] blindspot_models::ModelError),
    /// Generating adversarial examples failed.
    #[error(transparent)]
    Attack(#[from] blindspot_attack::AttackError),
}

/// Result of the adversarial-training crate.
pub type Result<T> = std::result::Result<T, AdvTrainError>;
