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
use crate::idx::{IMAGE_SIDE, parse_images, parse_labels};

/// The shape of one image: `channels × height × width` values, stored channel first, then row
/// by row (`[C, H, W]` row-major). MNIST's is [`ImageShape::MNIST`], `1 × 28 × 28`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageShape {
    /// Colour channels (1 for grey levels, 3 for RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// MNIST's grey-level 28 × 28 images.
    pub const MNIST: ImageShape = ImageShape::new(1, IMAGE_SIDE, IMAGE_SIDE);

    /// The shape `channels × height × width`.
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    /// Values per image, `C·H·W` (784 for MNIST).
    pub const fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether an image of this shape has no values (some dimension is 0).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[channels, height, width]`.
    pub const fn dims(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }
}

impl From<[usize; 3]> for ImageShape {
    fn from([channels, height, width]: [usize; 3]) -> Self {
        Self::new(channels, height, width)
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}×{}", self.channels, self.height, self.width)
    }
}

/// Images, their labels and their shape, in plain host memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `len() · shape.len()` finite pixel values, one image after the other, each `[C, H, W]`
    /// row-major (MNIST: in `[0, 1]`).
    pub images: Vec<f32>,
    /// One class index per image (MNIST: 0–9).
    pub labels: Vec<u32>,
    /// The shape of every image.
    pub shape: ImageShape,
}

impl Dataset {
    /// Builds a data set of images of `shape`, checking that `images` holds one image per
    /// label and that every pixel is finite.
    ///
    /// # Errors
    /// [`DataError::EmptyShape`] if `shape` has no pixels, [`DataError::PixelCount`] if
    /// `images.len() != labels.len() · shape.len()`, [`DataError::NonFinitePixel`] for the
    /// first NaN or infinite pixel.
    pub fn new(images: Vec<f32>, labels: Vec<u32>, shape: ImageShape) -> Result<Self> {
        if shape.is_empty() {
            return Err(DataError::EmptyShape(shape));
        }
        if images.len() != labels.len() * shape.len() {
            return Err(DataError::PixelCount {
                pixels: images.len(),
                labels: labels.len(),
                shape,
            });
        }
        if let Some(at) = images.iter().position(|v| !v.is_finite()) {
            return Err(DataError::NonFinitePixel {
                image: at / shape.len(),
                pixel: at % shape.len(),
                value: images[at],
            });
        }
        Ok(Self {
            images,
            labels,
            shape,
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of example `i` (`shape.len()` values). Panics if `i` is out of range, like
    /// slice indexing.
    pub fn image(&self, i: usize) -> &[f32] {
        let d = self.shape.len();
        &self.images[i * d..(i + 1) * d]
    }

    /// The examples at `range`, copied.
    fn slice(&self, range: std::ops::Range<usize>) -> Self {
        let d = self.shape.len();
        Self {
            images: self.images[range.start * d..range.end * d].to_vec(),
            labels: self.labels[range].to_vec(),
            shape: self.shape,
        }
    }

    /// The examples at the given indices, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut images = Vec::with_capacity(indices.len() * self.shape.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Self {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
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
            let (bytes, images_file) = read(images)?;
            let images = parse_images(bytes, &images_file)?;
            let (bytes, labels_file) = read(labels)?;
            let labels = parse_labels(bytes, &labels_file)?;
            if images.count != labels.len() {
                return Err(DataError::CountMismatch {
                    images_file,
                    labels_file,
                    images: images.count,
                    labels: labels.len(),
                });
            }
            let labels = labels.into_iter().map(u32::from).collect();
            Dataset::new(images.pixels, labels, ImageShape::MNIST)
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
    use crate::idx::{IMAGE_PIXELS, encode_images, encode_labels};

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
                labels: 3,
                ..
            }
        ));
    }

    #[test]
    fn head_and_select() {
        let ds = Dataset::new(
            vec![0.5; 3 * IMAGE_PIXELS],
            vec![1, 2, 3],
            ImageShape::MNIST,
        )
        .unwrap();
        assert_eq!(ds.head(2, Split::Train).unwrap().labels, vec![1, 2]);
        assert!(matches!(
            ds.head(4, Split::Train),
            Err(DataError::SubsetTooLarge { .. })
        ));
        assert_eq!(ds.select(&[2, 0]).labels, vec![3, 1]);
        assert!(Dataset::new(vec![0.0; 5], vec![1], ImageShape::MNIST).is_err());
    }

    #[test]
    fn mnist_files_make_mnist_shaped_sets() {
        let dir = tempfile::tempdir().unwrap();
        fixture(dir.path(), 4, 2);
        let mnist = Mnist::load_dir(dir.path()).unwrap();
        for d in [&mnist.train, &mnist.test, &mnist.split(Split::P2)] {
            assert_eq!(d.shape, ImageShape::MNIST);
            assert_eq!(d.shape.dims(), [1, 28, 28]);
            assert_eq!(d.image(0).len(), IMAGE_PIXELS);
        }
        assert_eq!(mnist.train.labels, vec![0, 1, 2, 3]);
    }

    #[test]
    fn colour_images_and_wide_labels_round_trip_through_select_and_head() {
        let shape = ImageShape::new(3, 32, 32);
        assert_eq!(shape.len(), 3072);
        assert_eq!(ImageShape::from([3, 32, 32]), shape);
        // Image i holds the value i + p / 10⁴ at pixel p, so both its identity and its pixel
        // order can be checked.
        let image = |i: usize| -> Vec<f32> {
            (0..shape.len())
                .map(|p| i as f32 + p as f32 * 1e-4)
                .collect()
        };
        let labels = vec![999, 0, 256, 65_536];
        let ds = Dataset::new((0..4).flat_map(image).collect(), labels.clone(), shape).unwrap();
        assert_eq!(ds.len(), 4);
        let picked = ds.select(&[3, 0, 0]);
        assert_eq!(picked.shape, shape);
        assert_eq!(picked.labels, vec![65_536, 999, 999]);
        assert_eq!(picked.images.len(), 3 * 3072);
        assert_eq!(picked.image(0), image(3).as_slice());
        assert_eq!(picked.image(1), image(0).as_slice());
        let head = ds.head(2, Split::Test).unwrap();
        assert_eq!(head.shape, shape);
        assert_eq!(head.labels, vec![999, 0]);
        assert_eq!(head.images, [image(0), image(1)].concat());
        assert_eq!(
            head,
            Dataset::new(head.images.clone(), head.labels.clone(), shape).unwrap()
        );
    }

    #[test]
    fn new_refuses_a_pixel_count_that_does_not_fit_the_shape() {
        let shape = ImageShape::new(3, 32, 32);
        // Two labels but the pixels of one colour image, then of two MNIST images.
        match Dataset::new(vec![0.0; 3072], vec![1, 999], shape) {
            Err(DataError::PixelCount {
                pixels: 3072,
                labels: 2,
                shape: s,
            }) => assert_eq!(s, shape),
            other => panic!("expected PixelCount, got {other:?}"),
        }
        assert!(matches!(
            Dataset::new(vec![0.0; 2 * IMAGE_PIXELS], vec![1, 2], shape),
            Err(DataError::PixelCount {
                pixels: 1568,
                labels: 2,
                ..
            })
        ));
        assert!(matches!(
            Dataset::new(Vec::new(), Vec::new(), ImageShape::new(3, 0, 32)),
            Err(DataError::EmptyShape(s)) if s == ImageShape::new(3, 0, 32)
        ));
    }

    #[test]
    fn new_refuses_non_finite_pixels_and_says_where() {
        let shape = ImageShape::new(3, 32, 32);
        let mut images = vec![0.5; 2 * shape.len()];
        images[shape.len() + 7] = f32::NAN;
        match Dataset::new(images.clone(), vec![0, 999], shape) {
            Err(DataError::NonFinitePixel {
                image: 1,
                pixel: 7,
                value,
            }) => assert!(value.is_nan()),
            other => panic!("expected NonFinitePixel, got {other:?}"),
        }
        images[shape.len() + 7] = 0.5;
        images[3] = f32::INFINITY;
        assert!(matches!(
            Dataset::new(images, vec![0, 999], shape),
            Err(DataError::NonFinitePixel {
                image: 0,
                pixel: 3,
                value,
            }) if value == f32::INFINITY
        ));
    }

    #[test]
    fn split_names_parse() {
        for s in Split::ALL {
            assert_eq!(s.name().parse::<Split>().unwrap(), s);
        }
        assert!("p3".parse::<Split>().is_err());
    }
}
