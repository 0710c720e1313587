//! Errors of the units experiment.

use thiserror::Error;

/// What can go wrong when drawing directions, ranking images or comparing scores.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum UnitsError {
    /// A buffer had the wrong number of values.
    #[error("{what}: expected {expected} values, found {found}")]
    Shape {
        /// What was checked.
        what: String,
        /// Expected length.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// The layer index is past the model's hidden layers.
    #[error(
        "layer {layer} does not exist: the model has {layers} hidden layers (0-based, input side first)"
    )]
    NoSuchLayer {
        /// The index asked for.
        layer: usize,
        /// Hidden layers the model exposes.
        layers: usize,
    },
    /// A unit index is past the layer's width.
    #[error("unit {unit} does not exist: the layer has {width} units")]
    NoSuchUnit {
        /// The index asked for.
        unit: usize,
        /// Width of the layer.
        width: usize,
    },
    /// A parameter is out of its domain (k = 0, k larger than the image set, ...).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

/// Result of the units crate.
pub type Result<T> = std::result::Result<T, UnitsError>;
