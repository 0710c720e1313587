//! Units versus random directions of a hidden layer (Szegedy et al., ICLR 2014, section 3,
//! Figures 1–2), measured.
//!
//! The paper looks at the images `x′ = argmax_{x ∈ image set} ⟨φ(x), v⟩` for a unit
//! `v = e_i` and for a random direction `v`, finds both rows "semantically related", and
//! concludes that the natural basis is no better than a random one. This crate computes those
//! top-k sets for any [`blindspot_models::Classifier`] and layer, and scores their coherence
//! without the network under study, so that the claim can be tested:
//!
//! - [`direction`]: the natural basis and seeded random unit vectors.
//! - [`top_k`](mod@top_k): the top-k images of every direction, streamed over the set in batches.
//! - [`rank`]: what units are ranked by, their pre-activations where the model exposes them
//!   ([`PreActivations`]), so that a saturated sigmoid does not leave the top-k set to
//!   tie-breaking.
//! - [`score`]: label share and mean pairwise distance in an independent model's feature space;
//!   the random-image baseline.
//! - [`stats`]: means with 95% intervals, Welch's t-test, Mann–Whitney U, Cohen's d.
//! - [`measure`](mod@measure): all of it for one model and layer.
//!
//! The result types (`GroupSummary`, `TwoSample`, `ScoreStats`, `UnitsResult`) are plain data
//! of `blindspot-report`, which renders them.
//!
//! ```no_run
//! use blindspot_models::checkpoint;
//! use blindspot_units::{ImageSet, Reference, UnitsConfig, layer_features, measure};
//! # fn demo(test: &blindspot_data::Dataset) -> Result<(), Box<dyn std::error::Error>> {
//! let device = burn::tensor::Device::default();
//! let (model, _) = checkpoint::load("results/models/conv".as_ref(), &device)?;
//! let (reference, _) = checkpoint::load("results/models/n100-100-10-p2".as_ref(), &device)?;
//! // The test images' values per image (`C·H·W`) must be both models' input width.
//! let set = ImageSet::from(test);
//! let (features, dim) = layer_features(&reference, 1, set.images, set.input_dim, 500, &device)?;
//! let config = UnitsConfig { layer: 1, k: 10, ..UnitsConfig::default() };
//! let m = measure(&model, &set, &Reference::new(&features, dim)?, &config, &device)?;
//! for score in &m.stats {
//!     println!("{score}"); // label share, then reference distance: groups and tests
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod direction;
pub mod error;
pub mod measure;
pub mod rank;
pub mod score;
pub mod stats;
pub mod top_k;

pub use direction::{Directions, Projection};
pub use error::{Result, UnitsError};
pub use measure::{
    DirectionChoice, GroupScores, ImageSet, Reference, UnitsConfig, UnitsMeasurement, UnitsRun,
    compare, measure,
};
pub use rank::{PreActivations, Ranking};
pub use score::{label_share, labels_of, mean_pairwise_distance, random_draws};
pub use stats::{mann_whitney, summarize, two_sample, welch};
pub use top_k::{TopK, layer_features, layer_width, top_k};
