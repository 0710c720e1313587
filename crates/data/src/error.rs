//! The one error type of this crate.

use std::path::PathBuf;

use crate::splits::ImageShape;

/// Everything that can go wrong while reading, fetching or verifying MNIST, or building a data
/// set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`"reading"`, `"writing"`, …).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The idx header does not start with the expected magic number.
    #[error("{what}: wrong idx magic number {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// Which file or buffer.
        what: String,
        /// The magic number this kind of file must have.
        expected: u32,
        /// The magic number found.
        found: u32,
    },
    /// The idx header announces dimensions this reader does not accept.
    #[error("{what}: unexpected idx dimensions {found:?} ({reason})")]
    BadDimensions {
        /// Which file or buffer.
        what: String,
        /// The dimensions in the header.
        found: Vec<u32>,
        /// Why they are rejected.
        reason: &'static str,
    },
    /// The payload is shorter or longer than the header says.
    #[error("{what}: payload has {found} bytes, the header announces {expected}")]
    WrongLength {
        /// Which file or buffer.
        what: String,
        /// Bytes the header announces (after the header).
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// A gzip stream could not be decompressed.
    #[error("{what}: invalid gzip data: {source}")]
    Gzip {
        /// Which file or buffer.
        what: String,
        /// The decompression error.
        #[source]
        source: std::io::Error,
    },
    /// A file's SHA-256 differs from the published one.
    #[error("{file}: SHA-256 mismatch (expected {expected}, got {found})")]
    ChecksumMismatch {
        /// The canonical MNIST file name.
        file: &'static str,
        /// The published digest.
        expected: &'static str,
        /// The digest of the bytes at hand.
        found: String,
    },
    /// Image and label files disagree on the number of examples.
    #[error("{images_file} holds {images} images but {labels_file} holds {labels} labels")]
    CountMismatch {
        /// The image file.
        images_file: String,
        /// The label file.
        labels_file: String,
        /// Images in the image file.
        images: usize,
        /// Labels in the label file.
        labels: usize,
    },
    /// A data set's pixel values do not make one image of its shape per label.
    #[error("{pixels} pixel values do not make {labels} images of shape {shape}")]
    PixelCount {
        /// Pixel values given.
        pixels: usize,
        /// Labels given (one per image).
        labels: usize,
        /// The shape every image must have.
        shape: ImageShape,
    },
    /// An image shape with a zero dimension.
    #[error("image shape {0} has no pixels")]
    EmptyShape(ImageShape),
    /// A pixel is NaN or infinite.
    #[error("pixel {pixel} of image {image} is {value}")]
    NonFinitePixel {
        /// Index of the image in the set.
        image: usize,
        /// Index of the pixel within the image.
        pixel: usize,
        /// The value found.
        value: f32,
    },
    /// An item of a Burn dataset does not hold one image of the expected shape.
    #[error("item {index}: {found} pixel values, an image of shape {shape} has {}", shape.len())]
    ItemPixelCount {
        /// Index of the item in the source dataset.
        index: usize,
        /// Pixel values the item holds.
        found: usize,
        /// The shape every image must have.
        shape: ImageShape,
    },
    /// A Burn dataset failed to give an item (feature `burn-dataset`).
    #[error("item {index} of the source dataset: {source}")]
    Item {
        /// Index of the item in the source dataset.
        index: usize,
        /// The dataset's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A requested subset is larger than the split it is drawn from.
    #[error("asked for {requested} examples of {split}, which has {available}")]
    SubsetTooLarge {
        /// Split name.
        split: &'static str,
        /// Requested size.
        requested: usize,
        /// Available size.
        available: usize,
    },
    /// An unknown split name was given.
    #[error("unknown split `{0}` (expected one of: train, test, p1, p2)")]
    UnknownSplit(String),
    /// No user cache directory exists and none was given.
    #[error("no cache directory: set BLINDSPOT_DATA_DIR or pass --data-dir")]
    NoCacheDir,
    /// Every source was tried and at least one file is still missing.
    #[error(
        "could not obtain MNIST. Tried:\n{}\nTo supply the files yourself, put the four idx files \
         (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, \
         t10k-labels-idx1-ubyte; raw or .gz) in a directory and pass it with --data-dir or \
         BLINDSPOT_DATA_DIR.",
        attempts.iter().map(|a| format!("  - {a}")).collect::<Vec<_>>().join("\n")
    )]
    AllSourcesFailed {
        /// One line per source and file tried, with its failure.
        attempts: Vec<String>,
    },
}

impl DataError {
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
pub type Result<T, E = DataError> = std::result::Result<T, E>;
