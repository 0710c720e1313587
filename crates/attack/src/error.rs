//! The attack crate's typed errors.

use std::path::PathBuf;

/// Everything that can go wrong while configuring or running an attack.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// A configuration value is out of its valid range.
    #[error("invalid attack configuration: {field} = {value} ({reason})")]
    Config {
        /// The offending field.
        field: &'static str,
        /// Its value, printed.
        value: String,
        /// What the valid range is.
        reason: &'static str,
    },
    /// A goal string could not be parsed.
    #[error("invalid goal {0:?}: expected `untargeted`, `random`, `all` or `target:K`")]
    Goal(String),
    /// A target class does not exist.
    #[error("target class {target} is out of range for a {classes}-class model")]
    TargetOutOfRange {
        /// The requested class.
        target: usize,
        /// The model's number of classes.
        classes: usize,
    },
    /// Tensor shapes or lengths disagree.
    #[error("shape mismatch in {what}: expected {expected:?}, found {found:?}")]
    Shape {
        /// What was being checked.
        what: &'static str,
        /// The expected shape.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// An image with a non-finite pixel or a pixel outside the model's box.
    #[error("image {row} has a pixel that is not finite or lies outside the box [{lo}, {hi}]")]
    Pixels {
        /// The row of the image in the batch.
        row: usize,
        /// The box's lower bound.
        lo: f32,
        /// The box's upper bound.
        hi: f32,
    },
    /// The model's logits of a clean image are not finite.
    #[error("the model's logits of image {row} are not finite")]
    Logits {
        /// The row of the image in the batch.
        row: usize,
    },
    /// A label is out of range.
    #[error("label {label} at row {row} is out of range for a {classes}-class model")]
    Label {
        /// Row of the batch.
        row: usize,
        /// The label.
        label: usize,
        /// The model's number of classes.
        classes: usize,
    },
    /// The objective returned no gradient for the input.
    #[error(
        "the objective produced no gradient with respect to its input (is the device an autodiff device?)"
    )]
    NoGradient,
    /// Reading a tensor back from the device failed.
    #[error("reading a tensor from the device failed: {0}")]
    Data(String),
    /// A worker thread of a parallel attack panicked.
    #[error("an attack worker thread panicked: {0}")]
    Worker(String),
    /// The model is not of the kind an operation needs.
    #[error("unsupported model: {0}")]
    Model(String),
    /// Reading or writing a checkpoint-format file failed.
    #[error(transparent)]
    Checkpoint(#[from] blindspot_models::ModelError),
    /// Writing a file failed.
    #[error(transparent)]
    Write(#[from] blindspot_data::DataError),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Two files written as a pair do not belong together (a write between them was
    /// interrupted, or one was replaced): the attack must be run again.
    #[error("{path}: {reason}")]
    Incomplete {
        /// The file whose partner does not match.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// A file's content is not what it should be.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl AttackError {
    /// Whether reading a file failed for another reason than its absence (a permission, a
    /// device error): such a file must not be taken for a missing one and silently redone.
    pub fn is_read_failure(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound)
    }
}

/// Result with [`AttackError`].
pub type Result<T> = std::result::Result<T, AttackError>;

impl AttackError {
    pub(crate) fn config(field: &'static str, value: impl ToString, reason: &'static str) -> Self {
        Self::Config {
            field,
            value: value.to_string(),
            reason,
        }
    }
}
