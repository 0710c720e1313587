//! Errors of the transfer experiments.

use thiserror::Error;

/// What can go wrong when building example sets or error matrices.
#[derive(Debug, Error)]
pub enum TransferError {
    /// A tensor or a list had the wrong size.
    #[error("{what}: expected {expected} values, found {found}")]
    Shape {
        /// What was checked.
        what: String,
        /// Expected length.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// A tensor the attack files must hold is missing.
    #[error("attack results lack the tensor `{0}`")]
    MissingTensor(&'static str),
    /// A parameter is out of its domain (negative stddev, non-finite RMS, ...).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Matrices of different seeds do not describe the same rows and columns.
    #[error("cannot aggregate over seeds: {0}")]
    Mismatch(String),
    /// A data set could not be built.
    #[error(transparent)]
    Data(#[from] blindspot_data::DataError),
}

/// Result of the transfer crate.
pub type Result<T> = std::result::Result<T, TransferError>;
