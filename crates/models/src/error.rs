//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A model name that is not one of the paper's.
    #[error("unknown model `{name}`; the paper's models are: {known}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The known names, comma separated.
        known: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Input tensors of the wrong shape.
    #[error("{what}: expected shape {expected:?}, got {found:?}")]
    ShapeMismatch {
        /// Which input.
        what: String,
        /// Expected shape (`0` = any).
        expected: Vec<usize>,
        /// Shape found.
        found: Vec<usize>,
    },
    /// A checkpoint lacks a tensor the model needs.
    #[error("{path}: missing tensor `{name}`")]
    MissingTensor {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name.
        name: String,
    },
    /// A checkpoint holds a tensor the model does not have.
    #[error("{path}: unexpected tensor `{name}` (not part of a `{model}` model)")]
    UnexpectedTensor {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// The model kind.
        model: String,
    },
    /// A tensor's shape or dtype differs from the model's.
    #[error(
        "{path}: tensor `{name}` has shape {found:?} (dtype {dtype}), expected {expected:?} (F32)"
    )]
    TensorMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// Expected shape.
        expected: Vec<usize>,
        /// Shape found.
        found: Vec<usize>,
        /// Dtype found.
        dtype: String,
    },
    /// A checkpoint or metadata file could not be parsed.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Two files written as a pair do not belong together (a write between them was
    /// interrupted, or one was replaced): the pair must be written again.
    #[error("{path}: {reason}")]
    Incomplete {
        /// The file whose partner does not match.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Training diverged (a non-finite loss).
    #[error("training diverged at epoch {epoch}: loss is {loss}")]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// The loss value.
        loss: f64,
    },
    /// Burn's `Learner` stopped on an error (data loading, metrics, checkpoints).
    #[cfg(feature = "learner")]
    #[error("Burn's Learner stopped: {0}")]
    Learner(#[source] std::sync::Arc<burn_train::TrainingError>),
    /// An error of the data crate.
    #[error(transparent)]
    Data(#[from] blindspot_data::DataError),
}

impl ModelError {
    /// Whether reading or writing a file failed for another reason than its absence (a
    /// permission, a device error): such a file must not be taken for a missing one and
    /// silently redone.
    pub fn is_read_failure(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound)
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
