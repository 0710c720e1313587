//! Burn's data pipeline and blindspot's data sets (feature `burn-dataset`).
//!
//! - A [`Dataset`] is a [`burn_dataset::Dataset`] of [`ImageItem`]s, so Burn's
//!   `DataLoaderBuilder` (and through it burn-train's `Learner`) reads it.
//! - [`Dataset::from_burn`] goes the other way: any Burn dataset whose items are labelled images
//!   ([`LabeledImage`], implemented for [`ImageItem`] and `(Vec<f32>, u32)`) becomes a validated
//!   [`Dataset`], the type every analysis takes.
//!
//! ```
//! use blindspot_data::burn::ImageItem;
//! use blindspot_data::{Dataset, ImageShape};
//! let shape = ImageShape::new(1, 2, 2);
//! let data = Dataset::new(vec![0.0, 0.1, 0.2, 0.3, 1.0, 0.9, 0.8, 0.7], vec![3, 5], shape)?;
//! let item: ImageItem = burn_dataset::Dataset::get(&data, 1).expect("in-memory items never fail");
//! assert_eq!(item, ImageItem { pixels: vec![1.0, 0.9, 0.8, 0.7], label: 5 });
//! assert_eq!(Dataset::from_burn(&data, shape)?, data);
//! # Ok::<(), blindspot_data::DataError>(())
//! ```

use burn_dataset::DatasetError;

use crate::error::{DataError, Result};
use crate::splits::{Dataset, ImageShape};

/// One example as Burn's data pipeline passes it: an image's pixels and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// `C·H·W` pixel values, `[C, H, W]` row-major.
    pub pixels: Vec<f32>,
    /// The class index.
    pub label: u32,
}

/// An item of a Burn dataset that is one labelled image, so that [`Dataset::from_burn`] can read
/// it.
pub trait LabeledImage {
    /// The pixels, `[C, H, W]` row-major.
    fn pixels(&self) -> &[f32];

    /// The class index.
    fn label(&self) -> u32;
}

impl LabeledImage for ImageItem {
    fn pixels(&self) -> &[f32] {
        &self.pixels
    }

    fn label(&self) -> u32 {
        self.label
    }
}

/// `(pixels, label)`.
impl LabeledImage for (Vec<f32>, u32) {
    fn pixels(&self) -> &[f32] {
        &self.0
    }

    fn label(&self) -> u32 {
        self.1
    }
}

impl burn_dataset::Dataset<ImageItem> for Dataset {
    /// Example `index`, copied. Never an error: the set is in memory and was validated when it
    /// was built.
    ///
    /// # Panics
    /// If `index >= len()`, as the trait's contract (and slice indexing) says.
    fn get(&self, index: usize) -> std::result::Result<ImageItem, DatasetError> {
        Ok(ImageItem {
            pixels: self.image(index).to_vec(),
            label: self.labels[index],
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

impl Dataset {
    /// Copies a Burn dataset of labelled images of `shape` into memory, in index order, so that
    /// the analyses can take it.
    ///
    /// # Errors
    /// [`DataError::EmptyShape`] if `shape` has no pixels, [`DataError::Item`] if the source
    /// fails to give an item, [`DataError::ItemPixelCount`] for the first item whose pixel
    /// count is not `shape.len()`, [`DataError::NonFinitePixel`] for the first NaN or infinite
    /// pixel; each names the item's index.
    pub fn from_burn<T, E, D>(source: &D, shape: ImageShape) -> Result<Self>
    where
        D: burn_dataset::Dataset<T, E> + ?Sized,
        T: LabeledImage,
        E: std::error::Error + Send + Sync + 'static,
    {
        if shape.is_empty() {
            return Err(DataError::EmptyShape(shape));
        }
        let n = source.len();
        let mut images = Vec::with_capacity(n.checked_mul(shape.len()).unwrap_or(0));
        let mut labels = Vec::with_capacity(n);
        for index in 0..n {
            let item = source.get(index).map_err(|e| DataError::Item {
                index,
                source: Box::new(e),
            })?;
            let pixels = item.pixels();
            if pixels.len() != shape.len() {
                return Err(DataError::ItemPixelCount {
                    index,
                    found: pixels.len(),
                    shape,
                });
            }
            images.extend_from_slice(pixels);
            labels.push(item.label());
        }
        Dataset::new(images, labels, shape)
    }
}

#[cfg(test)]
mod tests {
    use burn_dataset::{Dataset as _, InMemDataset};

    use super::*;

    fn two_images() -> Dataset {
        let shape = ImageShape::new(1, 1, 3);
        Dataset::new(vec![0.0, 0.5, 1.0, 0.25, 0.75, 0.125], vec![7, 2], shape).unwrap()
    }

    #[test]
    fn a_dataset_is_a_burn_dataset_of_its_examples() {
        let data = two_images();
        assert_eq!(burn_dataset::Dataset::len(&data), 2);
        let items: Vec<ImageItem> = data.iter().map(|item| item.unwrap()).collect();
        assert_eq!(
            items,
            vec![
                ImageItem {
                    pixels: vec![0.0, 0.5, 1.0],
                    label: 7
                },
                ImageItem {
                    pixels: vec![0.25, 0.75, 0.125],
                    label: 2
                },
            ]
        );
    }

    #[test]
    fn from_burn_reads_items_and_pairs_back_into_the_same_set() {
        let data = two_images();
        assert_eq!(Dataset::from_burn(&data, data.shape).unwrap(), data);
        let pairs = InMemDataset::new(vec![(vec![0.0, 0.5, 1.0], 7), (vec![0.25, 0.75, 0.125], 2)]);
        assert_eq!(Dataset::from_burn(&pairs, data.shape).unwrap(), data);
    }

    #[test]
    fn from_burn_names_the_item_with_the_wrong_pixel_count() {
        let pairs = InMemDataset::new(vec![
            (vec![0.0; 3], 0),
            (vec![0.0; 3], 1),
            (vec![0.0; 4], 2),
        ]);
        let err = Dataset::from_burn(&pairs, ImageShape::new(1, 1, 3)).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::ItemPixelCount {
                    index: 2,
                    found: 4,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "item 2: 4 pixel values, an image of shape 1×1×3 has 3"
        );
    }

    #[test]
    fn from_burn_refuses_non_finite_pixels_and_empty_shapes() {
        let pairs = InMemDataset::new(vec![(vec![0.0, f32::NAN], 0)]);
        let err = Dataset::from_burn(&pairs, ImageShape::new(1, 1, 2)).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::NonFinitePixel {
                    image: 0,
                    pixel: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = Dataset::from_burn(&pairs, ImageShape::new(1, 0, 2)).unwrap_err();
        assert!(matches!(err, DataError::EmptyShape(_)), "{err}");
    }

    /// A source whose third item cannot be read.
    struct Failing;

    impl burn_dataset::Dataset<ImageItem> for Failing {
        fn get(&self, index: usize) -> std::result::Result<ImageItem, DatasetError> {
            if index == 2 {
                Err(DatasetError::new(std::io::Error::other("disk gone")))
            } else {
                Ok(ImageItem {
                    pixels: vec![0.0],
                    label: 0,
                })
            }
        }

        fn len(&self) -> usize {
            4
        }
    }

    #[test]
    fn from_burn_passes_on_the_source_error_with_the_index() {
        let err = Dataset::from_burn(&Failing, ImageShape::new(1, 1, 1)).unwrap_err();
        assert!(matches!(err, DataError::Item { index: 2, .. }), "{err}");
        assert_eq!(err.to_string(), "item 2 of the source dataset: disk gone");
    }
}
