//! Photos for ImageNet classifiers, the input side of the paper's AlexNet experiments
//! (Figure 5, Figures 3–4): read a JPEG or PNG of any size (RGB, grey, with or without alpha),
//! bring it to the network's input as torchvision's standard evaluation transform does
//! (`Resize(256)`, `CenterCrop(224)`, `ToTensor`), write 8-bit PNGs back, and name classes.
//!
//! - [`photo`]: [`Photo`] (8-bit RGB), decoding ([`Photo::read`], [`read_folder`]) and
//!   [`Photo::encode_png`];
//! - [`resize`]: [`Preprocess`], the resize of the shorter side with PIL's antialiased
//!   bilinear filter and the centre crop, giving channel-major pixels in `[0, 1]`;
//! - [`classes`]: the 1,000 class names (torchvision's order) and targets by name or id;
//! - [`quantize`]: pixels rounded to 8 bits, as a PNG stores them;
//! - [`adversarial`]: Figure 5 on photos — [`attack_photos`] attacks them toward a class or
//!   away from their own and keeps only examples that still fool the network once rounded to
//!   8 bits; [`figure5`] draws them with their classes.
//! - [`units`]: Figures 3–4 on photos — a folder of photos as an image set ([`PhotoSet`],
//!   labelled by class sub-folders), a reference space without a network
//!   ([`PhotoSet::thumbnails`]), AlexNet's layers by name ([`alexnet_layer`]) and the grids of
//!   top-k photos ([`units_figure`]), for `blindspot_units::measure`.
//!
//! The normalization (ImageNet's mean and standard deviation) is not done here: it lives
//! inside the model wrapper (`blindspot_models::ImageClassifier`), so that attacks and their
//! distortions stay in pixel space.
#![warn(missing_docs)]

pub mod adversarial;
pub mod classes;
pub mod error;
pub mod photo;
pub mod quantize;
pub mod resize;
pub mod units;

pub use adversarial::{PhotoAttack, PhotoExample, Prediction, Rounding, attack_photos, figure5};
pub use classes::{CLASS_COUNT, class_label, class_name, parse_class};
pub use error::{ImagenetError, Result};
pub use photo::{Photo, photo_paths, read_folder};
pub use quantize::{quantize, to_levels};
pub use resize::Preprocess;
pub use units::{ALEXNET_LAYERS, PhotoSet, alexnet_layer, units_figure};
