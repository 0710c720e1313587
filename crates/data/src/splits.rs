//! The data sets as plain vectors, and the paper's splits.
//!
//! - `train`: the 60,000 training images; `test`: the 10,000 test images.
//! - `p1`, `p2`: the paper's disjoint halves of the training set (section 2, Table 3). We take
//!   `p1` = training examples `0..30000` and `p2` = `30000..60000`, in file order. The split is
//!   deterministic and needs no seed; both halves hold every digit in nearly equal shares
//!   (MNIST's training file is not sorted by label).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{DataError, Result};
use crate::files::MnistFile;
use crate::idx::{IMAGE_PIXELS, parse_images, parse_labels};

/// Images and labels of one set, plain host memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `len() * 784` pixels in `[0, 1]`, row-major, one image after the other.
    pub images: Vec<f32>,
    /// One label 0–9 per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Builds a data set, checking that there is one label per 784 pixels.
    pub fn new(images: Vec<f32>, labels: Vec<u8>) -> Result<Self> {
        if images.len() != labels.len() * IMAGE_PIXELS {
            return Err(DataError::CountMismatch {
                images: images.len() / IMAGE_PIXELS,
                labels: labels.len(),
            });
        }
        Ok(Self { images, labels })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of example `i` (784 values). Panics if `i` is out of range, like slice indexing.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]
    }

    /// The examples at `range`, copied.
    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        Self {
            images: self.images[range.start * IMAGE_PIXELS..range.end * IMAGE_PIXELS].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }

    /// The examples at the given indices, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut images = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Self {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// The first `n` examples (for smoke runs); `n` larger than the set is an error.
    pub fn head(&self, n: usize, split: Split) -> Result<Self> {
        if n > self.len() {
            return Err(DataError::SubsetTooLarge {
                split: split.name(),
                requested: n,
                available: self.len(),
            });
        }
        Ok(self.slice(0..n))
    }
}

/// A named split of MNIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The 60,000 training examples.
    Train,
    /// The 10,000 test examples.
    Test,
    /// Training examples `0..30000` (the paper's P1).
    P1,
    /// Training examples `30000..60000` (the paper's P2).
    P2,
}

impl Split {
    /// Every split.
    pub const ALL: [Split; 4] = [Split::Train, Split::Test, Split::P1, Split::P2];

    /// Lower-case name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::P1 => "p1",
            Split::P2 => "p2",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        Split::ALL
            .into_iter()
            .find(|split| split.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| DataError::UnknownSplit(s.to_owned()))
    }
}

/// MNIST in memory: the training and the test set.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    /// The 60,000 training examples (fewer in fixtures).
    pub train: Dataset,
    /// The 10,000 test examples (fewer in fixtures).
    pub test: Dataset,
}

/// Size of each of the paper's halves P1 and P2.
pub const HALF: usize = 30_000;

impl Mnist {
    /// Reads the four files from `dir` (canonical names, raw or `.gz`) without verifying digests:
    /// use [`crate::ensure_mnist`] first for the real data, or call this on fixtures.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let read = |file: MnistFile| -> Result<(Vec<u8>, String)> {
            for name in file.candidate_names() {
                let path = dir.join(&name);
                if path.is_file() {
                    let bytes =
                        std::fs::read(&path).map_err(|e| DataError::io("reading", &path, e))?;
                    return Ok((bytes, path.display().to_string()));
                }
            }
            let path = dir.join(file.name());
            Err(DataError::io(
                "reading",
                path,
                std::io::ErrorKind::NotFound.into(),
            ))
        };
        let set = |images: MnistFile, labels: MnistFile| -> Result<Dataset> {
            let (bytes, what) = read(images)?;
            let images = parse_images(bytes, &what)?;
            let (bytes, what) = read(labels)?;
            let labels = parse_labels(bytes, &what)?;
            if images.count != labels.len() {
                return Err(DataError::CountMismatch {
                    images: images.count,
                    labels: labels.len(),
                });
            }
            Dataset::new(images.pixels, labels)
        };
        Ok(Self {
            train: set(MnistFile::TrainImages, MnistFile::TrainLabels)?,
            test: set(MnistFile::TestImages, MnistFile::TestLabels)?,
        })
    }

    /// The examples of a split. P1 and P2 are the first and second halves of the training set;
    /// with fewer than 60,000 training examples (fixtures), each takes half of what there is.
    pub fn split(&self, split: Split) -> Dataset {
        let half = self.half();
        match split {
            Split::Train => self.train.clone(),
            Split::Test => self.test.clone(),
            Split::P1 => self.train.slice(0..half),
            Split::P2 => self.train.slice(half..2 * half),
        }
    }

    /// The number of examples of [`Mnist::split`], without copying them.
    pub fn split_len(&self, split: Split) -> usize {
        match split {
            Split::Train => self.train.len(),
            Split::Test => self.test.len(),
            Split::P1 | Split::P2 => self.half(),
        }
    }

    /// Size of each half P1, P2.
    fn half(&self) -> usize {
        (self.train.len() / 2).min(HALF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::{encode_images, encode_labels};

    fn fixture(dir: &Path, n_train: usize, n_test: usize) {
        let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
        // Pixel value of image i is i (mod 256) everywhere, so images are identifiable.
        let pixels = |n: usize| {
            (0..n)
                .flat_map(|i| vec![(i % 256) as u8; IMAGE_PIXELS])
                .collect::<Vec<_>>()
        };
        let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
        write(
            "train-images-idx3-ubyte",
            encode_images(n_train, &pixels(n_train)),
        );
        write("train-labels-idx1-ubyte", encode_labels(&labels(n_train)));
        write(
            "t10k-images-idx3-ubyte",
            encode_images(n_test, &pixels(n_test)),
        );
        write("t10k-labels-idx1-ubyte", encode_labels(&labels(n_test)));
    }

    #[test]
    fn halves_are_disjoint_and_cover_the_training_set() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path(), 40, 10);
        let mnist = Mnist::load_dir(dir.path()).unwrap();
        let (p1, p2) = (mnist.split(Split::P1), mnist.split(Split::P2));
        assert_eq!(p1.len() + p2.len(), mnist.train.len());
        // Identify images by their constant pixel value.
        let ids = |d: &Dataset| {
            (0..d.len())
                .map(|i| (d.image(i)[0] * 255.0).round() as u32)
                .collect::<Vec<_>>()
        };
        let (a, b) = (ids(&p1), ids(&p2));
        assert!(a.iter().all(|x| !b.contains(x)));
        let mut all: Vec<_> = a.into_iter().chain(b).collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        assert_eq!(mnist.split(Split::Test).len(), 10);
    }

    #[test]
    fn count_mismatch_between_files_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path(), 4, 2);
        std::fs::write(
            dir.path().join("t10k-labels-idx1-ubyte"),
            encode_labels(&[1, 2, 3]),
        )
        .unwrap();
        assert!(matches!(
            Mnist::load_dir(dir.path()).unwrap_err(),
            DataError::CountMismatch {
                images: 2,
                labels: 3
            }
        ));
    }

    #[test]
    fn head_and_select() {
        let ds = Dataset::new(vec![0.5; 3 * IMAGE_PIXELS], vec![1, 2, 3]).unwrap();
        assert_eq!(ds.head(2, Split::Train).unwrap().labels, vec![1, 2]);
        assert!(matches!(
            ds.head(4, Split::Train),
            Err(DataError::SubsetTooLarge { .. })
        ));
        assert_eq!(ds.select(&[2, 0]).labels, vec![3, 1]);
        assert!(Dataset::new(vec![0.0; 5], vec![1]).is_err());
    }

    #[test]
    fn split_names_parse() {
        for s in Split::ALL {
            assert_eq!(s.name().parse::<Split>().unwrap(), s);
        }
        assert!("p3".parse::<Split>().is_err());
    }
}
