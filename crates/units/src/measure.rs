//! The whole measurement for one model and layer: top-k sets of the units and of random
//! directions, their coherence scores, the random-image baseline and the comparisons.

use blindspot_data::Dataset;
use blindspot_report::units::{ScoreStats, UnitsResult};
use burn::prelude::*;

use crate::direction::Directions;
use crate::error::{Result, UnitsError};
use crate::rank::PreActivations;
use crate::score::{label_share, labels_of, mean_pairwise_distance, random_draws};
use crate::stats::{summarize, two_sample};
use crate::top_k::{TopK, layer_width, top_k};

/// Which directions to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectionChoice {
    /// Units only.
    Natural,
    /// Random directions only.
    Random,
    /// Both (needed for the natural-versus-random test).
    Both,
}

impl DirectionChoice {
    fn natural(self) -> bool {
        self != Self::Random
    }
    fn random(self) -> bool {
        self != Self::Natural
    }
}

/// Settings of one measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitsConfig {
    /// Hidden layer (index into [`blindspot_models::Classifier::activations`], input side
    /// first).
    pub layer: usize,
    /// Images per top-k set.
    pub k: usize,
    /// Which directions.
    pub directions: DirectionChoice,
    /// Units measured: all (`None`) or at most this many, evenly spaced.
    pub max_units: Option<usize>,
    /// Random directions; `None`: as many as units measured.
    pub n_random: Option<usize>,
    /// Draws of k random images for the baseline.
    pub image_draws: usize,
    /// Seed of the random directions (`seed`) and of the draws (`seed + 1`).
    pub seed: u64,
    /// Images per forward pass.
    pub batch_size: usize,
}

impl Default for UnitsConfig {
    fn default() -> Self {
        Self {
            layer: 0,
            k: 10,
            directions: DirectionChoice::Both,
            max_units: None,
            n_random: None,
            image_draws: 1_000,
            seed: 0,
            batch_size: 500,
        }
    }
}

/// The image set the directions are maximized over; [`ImageSet::from`] a [`Dataset`] borrows
/// its images, labels and shape.
#[derive(Debug, Clone, Copy)]
pub struct ImageSet<'a> {
    /// `[n, input_dim]`, row-major.
    pub images: &'a [f32],
    /// `[n]` true labels, class indices, for the label share; `None` for an unlabelled set
    /// (a folder of photos), which is scored by the reference distance alone.
    pub labels: Option<&'a [u32]>,
    /// Values per image, `C·H·W` (the data's shape, which must be the model's input).
    pub input_dim: usize,
}

impl<'a> From<&'a Dataset> for ImageSet<'a> {
    /// The images and labels of `data`, `input_dim` its image shape's `C·H·W`.
    fn from(data: &'a Dataset) -> Self {
        Self {
            images: &data.images,
            labels: Some(&data.labels),
            input_dim: data.shape.len(),
        }
    }
}

/// The feature space of an independently trained model, `[n, dim]` for the same images.
#[derive(Debug, Clone, Copy)]
pub struct Reference<'a> {
    /// `[n, dim]`, row-major.
    pub features: &'a [f32],
    /// Feature width.
    pub dim: usize,
}

impl<'a> Reference<'a> {
    /// The features `[n, dim]` (row-major) of `n` images, as [`crate::layer_features`] returns
    /// them.
    ///
    /// # Errors
    /// [`UnitsError::InvalidParameter`] if `dim` is 0; [`UnitsError::Shape`] if `features` is
    /// not a whole number of rows (`expected`: the next whole number of values).
    pub fn new(features: &'a [f32], dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(UnitsError::InvalidParameter(
                "reference features need a width of at least 1".into(),
            ));
        }
        if !features.len().is_multiple_of(dim) {
            return Err(UnitsError::Shape {
                what: format!("reference features in rows of {dim}"),
                expected: dim * features.len().div_ceil(dim),
                found: features.len(),
            });
        }
        Ok(Self { features, dim })
    }
}

/// The scores of one group, one entry per direction (or draw); NaN for degenerate units.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupScores {
    /// `natural`, `random` or `images`.
    pub group: String,
    /// Share of the most common label; empty for an unlabelled image set.
    pub label_share: Vec<f64>,
    /// Mean pairwise distance in the reference space.
    pub reference_distance: Vec<f64>,
}

/// What [`measure`] returns.
#[derive(Debug, Clone)]
pub struct UnitsMeasurement {
    /// Hidden layers of the model.
    pub layers: usize,
    /// Width of the layer.
    pub width: usize,
    /// Units measured and their top-k sets.
    pub natural: Option<(Directions, TopK)>,
    /// Random directions and their top-k sets.
    pub random: Option<(Directions, TopK)>,
    /// The baseline draws of k random images.
    pub draws: Vec<Vec<usize>>,
    /// Per-direction scores of every group present.
    pub scores: Vec<GroupScores>,
    /// Units constant on part of their top-k set at their minimum (see [`TopK::degenerate`];
    /// left out of the statistics).
    pub degenerate_units: Vec<usize>,
    /// Units whose ranking score ties at the k-th place ([`TopK::ties`]): their top-k set
    /// depends on the lowest-index rule.
    pub tied_units: Vec<usize>,
    /// Units whose activation ties at the k-th place ([`TopK::activation_ties`]), e.g. a
    /// sigmoid saturated at 1.0 on more than k images; decided by the pre-activation when the
    /// units are ranked by it.
    pub activation_tied_units: Vec<usize>,
    /// The most images of the set tied at one unit's k-th activation (0 without such ties).
    pub largest_activation_tie: usize,
    /// Random directions whose score ties at the k-th place.
    pub tied_random: usize,
    /// Label share and reference distance over the groups, with the tests.
    pub stats: Vec<ScoreStats>,
}

/// How a measurement is named in its report: what [`UnitsMeasurement::to_result`] needs beside
/// the measurement itself.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitsRun {
    /// The model under study.
    pub model: String,
    /// The layer measured.
    pub layer: usize,
    /// Images per top-k set.
    pub k: usize,
    /// The image set, in words (`first 10000 test images`).
    pub image_set: String,
    /// Seed of the directions and draws.
    pub seed: u64,
    /// The reference space, in words.
    pub reference: String,
    /// The figures of units and of random directions, if drawn.
    pub figures: (Option<String>, Option<String>),
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl UnitsMeasurement {
    /// The report's record of this measurement, named by `run`.
    pub fn to_result(&self, run: UnitsRun) -> UnitsResult {
        let (figure_natural, figure_random) = run.figures;
        UnitsResult {
            model: run.model,
            layer: run.layer,
            layers: self.layers,
            width: self.width,
            k: run.k,
            image_set: run.image_set,
            natural_directions: self.natural.as_ref().map_or(0, |(d, _)| d.len()),
            degenerate_units: self.degenerate_units.len(),
            unit_ranking: self
                .natural
                .as_ref()
                .map_or("", |(_, top)| top.ranking.name())
                .to_owned(),
            tied_units: self.tied_units.len(),
            activation_tied_units: self.activation_tied_units.len(),
            largest_activation_tie: self.largest_activation_tie,
            random_directions: self.random.as_ref().map_or(0, |(d, _)| d.len()),
            tied_random_directions: self.tied_random,
            image_draws: self.draws.len(),
            seed: run.seed,
            reference: run.reference,
            scores: self.stats.clone(),
            figure_natural,
            figure_random,
            seconds: run.seconds,
        }
    }
}

fn scores_of(
    group: &str,
    sets: impl Iterator<Item = Option<Vec<usize>>>,
    set: &ImageSet<'_>,
    reference: &Reference<'_>,
) -> Result<GroupScores> {
    let mut out = GroupScores {
        group: group.into(),
        label_share: Vec::new(),
        reference_distance: Vec::new(),
    };
    for s in sets {
        match s {
            Some(s) => {
                if let Some(labels) = set.labels {
                    out.label_share.push(label_share(&labels_of(labels, &s)?)?);
                }
                out.reference_distance.push(mean_pairwise_distance(
                    reference.features,
                    reference.dim,
                    &s,
                )?);
            }
            None => {
                if set.labels.is_some() {
                    out.label_share.push(f64::NAN);
                }
                out.reference_distance.push(f64::NAN);
            }
        }
    }
    Ok(out)
}

/// Statistics of both scores over the groups present: summaries, `natural` vs `random`, and
/// each direction kind vs `images`. A score no group has (the label share of an unlabelled
/// set) is left out.
pub fn compare(groups: &[GroupScores]) -> Vec<ScoreStats> {
    let pick = |g: &GroupScores, score: &str| -> Vec<f64> {
        if score == "label_share" {
            g.label_share.clone()
        } else {
            g.reference_distance.clone()
        }
    };
    ["label_share", "reference_distance"]
        .into_iter()
        .filter(|&score| groups.iter().any(|g| !pick(g, score).is_empty()))
        .map(|score| {
            let find = |name: &str| groups.iter().find(|g| g.group == name);
            let mut tests = Vec::new();
            for (a, b) in [
                ("natural", "random"),
                ("natural", "images"),
                ("random", "images"),
            ] {
                if let (Some(ga), Some(gb)) = (find(a), find(b)) {
                    tests.push(two_sample(a, &pick(ga, score), b, &pick(gb, score)));
                }
            }
            ScoreStats {
                score: score.into(),
                higher_is_coherent: score == "label_share",
                groups: groups
                    .iter()
                    .map(|g| summarize(&g.group, &pick(g, score)))
                    .collect(),
                tests,
            }
        })
        .collect()
}

/// Runs the measurement of `config` for `model` on `set`, scoring in `reference`'s space.
///
/// Units are ranked by their pre-activations when `model` exposes them (see
/// [`crate::rank`]), ties broken by the lowest image index and counted.
pub fn measure<M: PreActivations>(
    model: &M,
    set: &ImageSet<'_>,
    reference: &Reference<'_>,
    config: &UnitsConfig,
    device: &Device,
) -> Result<UnitsMeasurement> {
    if set.input_dim == 0
        || set.images.is_empty()
        || !set.images.len().is_multiple_of(set.input_dim)
    {
        return Err(UnitsError::Shape {
            what: format!("images of {} values each", set.input_dim),
            expected: set.input_dim.max(1) * (set.images.len() / set.input_dim.max(1)).max(1),
            found: set.images.len(),
        });
    }
    let n = set.images.len() / set.input_dim;
    if let Some(labels) = set.labels
        && labels.len() != n
    {
        return Err(UnitsError::Shape {
            what: "labels of the image set".into(),
            expected: n,
            found: labels.len(),
        });
    }
    if reference.features.len() != n * reference.dim {
        return Err(UnitsError::Shape {
            what: "reference features of the image set".into(),
            expected: n * reference.dim,
            found: reference.features.len(),
        });
    }
    if config.k < 2 {
        return Err(UnitsError::InvalidParameter(format!(
            "k must be at least 2 for a pairwise distance, got {}",
            config.k
        )));
    }
    let (layers, width) = layer_width(model, config.layer, set.input_dim, device)?;
    let natural = Directions::units(width, config.max_units)?;
    let n_random = config.n_random.unwrap_or(natural.len());
    let mut kinds = Vec::new();
    if config.directions.natural() {
        kinds.push(natural);
    }
    if config.directions.random() {
        kinds.push(Directions::random(width, n_random, config.seed)?);
    }
    let refs: Vec<&Directions> = kinds.iter().collect();
    let tops = top_k(
        model,
        config.layer,
        set.images,
        set.input_dim,
        &refs,
        config.k,
        config.batch_size,
        device,
    )?;
    let mut natural = None;
    let mut random = None;
    let mut scores = Vec::new();
    let mut degenerate_units = Vec::new();
    let mut tied_units = Vec::new();
    let mut activation_tied_units = Vec::new();
    let mut largest_activation_tie = 0;
    let mut tied_random = 0;
    for (dirs, top) in kinds.into_iter().zip(tops) {
        let group = dirs.kind();
        let rows = (0..top.directions).map(|d| {
            // A unit constant on part of its top-k set: those images are not picked by it.
            (!(group == "natural" && top.degenerate(d))).then(|| top.row(d).to_vec())
        });
        scores.push(scores_of(group, rows, set, reference)?);
        if let Directions::Natural { units, .. } = &dirs {
            let which = |keep: &dyn Fn(usize) -> bool| -> Vec<usize> {
                (0..top.directions)
                    .filter(|&d| keep(d))
                    .map(|d| units[d])
                    .collect()
            };
            degenerate_units = which(&|d| top.degenerate(d));
            tied_units = which(&|d| top.tied(d));
            activation_tied_units = which(&|d| top.activation_tied(d));
            largest_activation_tie = (0..top.directions)
                .map(|d| top.activation_tie_size(d))
                .max()
                .unwrap_or(0);
            natural = Some((dirs, top));
        } else {
            tied_random = (0..top.directions).filter(|&d| top.tied(d)).count();
            random = Some((dirs, top));
        }
    }
    let draws = random_draws(n, config.k, config.image_draws, config.seed.wrapping_add(1))?;
    if !draws.is_empty() {
        scores.push(scores_of(
            "images",
            draws.iter().map(|d| Some(d.clone())),
            set,
            reference,
        )?);
    }
    let stats = compare(&scores);
    Ok(UnitsMeasurement {
        layers,
        width,
        natural,
        random,
        draws,
        scores,
        degenerate_units,
        tied_units,
        activation_tied_units,
        largest_activation_tie,
        tied_random,
        stats,
    })
}
