//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong reading, preparing or writing photos.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImagenetError {
    /// A file or folder could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not a JPEG or PNG this crate decodes, or a broken one.
    #[error("{path}: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A folder without a single JPEG or PNG.
    #[error("{0}: no .jpg, .jpeg or .png file")]
    NoPhotos(PathBuf),
    /// A class that is neither a name of the list nor an id in range.
    #[error("unknown class `{given}`: give an id 0–{last} or a name of the list{hint}")]
    UnknownClass {
        /// What was given.
        given: String,
        /// The largest id.
        last: usize,
        /// Names that contain what was given, if any (`; did you mean …`).
        hint: String,
    },
    /// Values of the wrong shape or out of range.
    #[error("{0}")]
    Invalid(String),
    /// The attack failed.
    #[error(transparent)]
    Attack(#[from] blindspot_attack::AttackError),
    /// Loading or running the model failed.
    #[error(transparent)]
    Model(#[from] blindspot_models::ModelError),
    /// A figure could not be drawn or written.
    #[error("figure: {0}")]
    Figure(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, ImagenetError>;
