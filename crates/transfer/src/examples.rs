//! [`ExampleSet`]: images with their true labels and the originals they were made from — the
//! rows of the transfer tables.
//!
//! A set is built from an attack's results (its successful adversarial examples), from clean
//! images plus Gaussian noise, from another set's distortions (noise of the same RMS, image by
//! image), or by amplifying another set's perturbations to a given RMS. Every set knows its
//! input box ([`Bounds`], the models' `Classifier::bounds`), to which noise and amplified
//! perturbations are clipped, and the width of its images, taken from the data.

use std::collections::HashMap;

use blindspot_attack::AttackResult;
use blindspot_attack::distortion::rms;
use blindspot_data::Dataset;
use blindspot_models::Bounds;
use blindspot_models::checkpoint::NamedTensor;
use blindspot_report::transfer::Perturbation;

use crate::error::{Result, TransferError};
use crate::noise::Gaussian;

/// Perturbed images, their originals and their true labels, `[n, dim]` row-major, in a box.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleSet {
    /// How the images were made.
    pub perturbation: Perturbation,
    /// The clean images, `n × dim`.
    pub original: Vec<f32>,
    /// The perturbed images, `n × dim`, in the box.
    pub perturbed: Vec<f32>,
    /// The true label (class index) of every image.
    pub labels: Vec<u32>,
    /// Values per image (`C·H·W`).
    pub dim: usize,
    /// The input box the images live in; noise and amplified perturbations are clipped to it.
    pub bounds: Bounds,
}

/// The largest label an `f32` tensor stores exactly (2²⁴).
const MAX_EXACT_LABEL: f32 = 16_777_216.0;

fn check(what: &str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(TransferError::Shape {
            what: what.into(),
            expected,
            found,
        })
    }
}

/// Which of `p` attack rows hold the clean image (no perturbation was needed): `at_goal`, or
/// for files that predate it, `misclassified` with distortion 0.
fn clean_rows(tensors: &HashMap<String, NamedTensor>, p: usize) -> Result<Vec<bool>> {
    if let Some(at_goal) = tensors.get("at_goal") {
        check("`at_goal`", p, at_goal.values.len())?;
        return Ok(at_goal.values.iter().map(|&v| v > 0.5).collect());
    }
    match (tensors.get("misclassified"), tensors.get("distortion")) {
        (Some(m), Some(d)) => {
            check("`misclassified`", p, m.values.len())?;
            check("`distortion`", p, d.values.len())?;
            Ok((0..p)
                .map(|i| m.values[i] > 0.5 && d.values[i] == 0.0)
                .collect())
        }
        _ => Ok(vec![false; p]),
    }
}

fn tensor<'a>(
    tensors: &'a HashMap<String, NamedTensor>,
    name: &'static str,
) -> Result<&'a NamedTensor> {
    tensors.get(name).ok_or(TransferError::MissingTensor(name))
}

/// `bounds` if it is a box: finite, with `lo < hi`.
fn check_bounds(bounds: Bounds) -> Result<Bounds> {
    if bounds.lo.is_finite() && bounds.hi.is_finite() && bounds.lo < bounds.hi {
        Ok(bounds)
    } else {
        Err(TransferError::InvalidParameter(format!(
            "input box [{}, {}]",
            bounds.lo, bounds.hi
        )))
    }
}

impl ExampleSet {
    /// A set from its parts, with the shapes and the box (finite, `lo < hi`) checked.
    pub fn new(
        perturbation: Perturbation,
        original: Vec<f32>,
        perturbed: Vec<f32>,
        labels: Vec<u32>,
        dim: usize,
        bounds: Bounds,
    ) -> Result<Self> {
        if dim == 0 {
            return Err(TransferError::InvalidParameter(
                "images need at least one pixel".into(),
            ));
        }
        check("original images", labels.len() * dim, original.len())?;
        check("perturbed images", labels.len() * dim, perturbed.len())?;
        Ok(Self {
            perturbation,
            original,
            perturbed,
            labels,
            dim,
            bounds: check_bounds(bounds)?,
        })
    }

    /// The adversarial examples of an attack run in this process: the rows of `result` whose
    /// goal a perturbation reached ([`AttackResult::perturbed`]), with their clean images
    /// taken from `images` (the attacked images, `[N, dim]` row-major) and their true labels.
    /// `bounds` is the attacked model's box.
    pub fn from_result(
        model: &str,
        images: &[f32],
        result: &AttackResult,
        bounds: Bounds,
    ) -> Result<Self> {
        let dim = result.dim;
        let mut original = Vec::new();
        let mut perturbed = Vec::new();
        let mut labels = Vec::new();
        for i in result.perturbed() {
            let p = result.problems[i];
            let clean = images
                .get(p.image * dim..(p.image + 1) * dim)
                .ok_or_else(|| TransferError::Shape {
                    what: "attacked images".into(),
                    expected: (p.image + 1) * dim,
                    found: images.len(),
                })?;
            original.extend_from_slice(clean);
            perturbed.extend_from_slice(result.adversarial(i));
            labels.push(u32::try_from(p.label).map_err(|_| {
                TransferError::InvalidParameter(format!("label {} of example {i}", p.label))
            })?);
        }
        Self::new(
            Perturbation::Adversarial {
                model: model.into(),
            },
            original,
            perturbed,
            labels,
            dim,
            bounds,
        )
    }

    /// The successful adversarial examples of an attack's results
    /// (`blindspot_attack::files::load_tensors`): tensors `x`, `x_adv` `[P, dim]` or
    /// `[P, C, H, W]` (flattened to `dim = C·H·W`), `label` and `success` `[P]`. `bounds` is
    /// the attacked model's box. Labels are class indices stored as `f32`, exact up to 2²⁴; a
    /// negative, fractional or non-finite one is an error.
    ///
    /// Clean images are left out: rows whose image already reached the goal without a
    /// perturbation (`at_goal`, or in files without it, a misclassified image at distortion 0),
    /// which would otherwise count as "adversarial" examples the source model gets wrong.
    pub fn from_attack(
        model: &str,
        tensors: &HashMap<String, NamedTensor>,
        bounds: Bounds,
    ) -> Result<Self> {
        let (x, adv) = (tensor(tensors, "x")?, tensor(tensors, "x_adv")?);
        let (label, success) = (tensor(tensors, "label")?, tensor(tensors, "success")?);
        let (p, dim) = match x.shape.split_first() {
            Some((&p, image)) if !image.is_empty() => (p, image.iter().product::<usize>()),
            _ => {
                return Err(TransferError::Shape {
                    what: "rank of `x` (one image per row, at least 2)".into(),
                    expected: 2,
                    found: x.shape.len(),
                });
            }
        };
        check("`x_adv`", p * dim, adv.values.len())?;
        check("`x`", p * dim, x.values.len())?;
        check("`label`", p, label.values.len())?;
        check("`success`", p, success.values.len())?;
        let clean = clean_rows(tensors, p)?;
        let keep: Vec<usize> = (0..p)
            .filter(|&i| success.values[i] > 0.5 && !clean[i])
            .collect();
        let rows = |v: &[f32]| -> Vec<f32> {
            keep.iter()
                .flat_map(|&i| v[i * dim..(i + 1) * dim].iter().copied())
                .collect()
        };
        let labels = keep
            .iter()
            .map(|&i| {
                let l = label.values[i];
                if l.is_finite() && l >= 0.0 && l.fract() == 0.0 && l <= MAX_EXACT_LABEL {
                    Ok(l as u32)
                } else {
                    Err(TransferError::InvalidParameter(format!(
                        "label {l} of example {i}"
                    )))
                }
            })
            .collect::<Result<Vec<u32>>>()?;
        Self::new(
            Perturbation::Adversarial {
                model: model.into(),
            },
            rows(&x.values),
            rows(&adv.values),
            labels,
            dim,
            bounds,
        )
    }

    /// Clean `images` plus Gaussian noise of standard deviation `stddev`, clipped to `bounds`
    /// (the box of the models the set is for); images of any shape.
    pub fn gaussian(images: &Dataset, stddev: f64, seed: u64, bounds: Bounds) -> Result<Self> {
        if !(stddev.is_finite() && stddev >= 0.0) {
            return Err(TransferError::InvalidParameter(format!(
                "noise standard deviation {stddev}"
            )));
        }
        let bounds = check_bounds(bounds)?;
        let mut noise = Gaussian::new(seed);
        let perturbed = noise.perturb(&images.images, stddev as f32, bounds);
        Self::new(
            Perturbation::Gaussian { stddev },
            images.images.clone(),
            perturbed,
            images.labels.clone(),
            images.shape.len(),
            bounds,
        )
    }

    /// This set's originals plus Gaussian noise scaled, image by image, so that the RMS
    /// distortion after clipping to the set's box equals this set's distortion of that image:
    /// the noise baseline matched to a model's adversarial examples (see [`matched_noise`]).
    pub fn matched_gaussian(&self, seed: u64) -> Result<Self> {
        let model = match &self.perturbation {
            Perturbation::Adversarial { model } | Perturbation::Amplified { model, .. } => {
                model.clone()
            }
            other => {
                return Err(TransferError::InvalidParameter(format!(
                    "noise can only be matched to adversarial examples, not to {}",
                    other.label()
                )));
            }
        };
        let mut noise = Gaussian::new(seed);
        let perturbed = self
            .distortions()
            .into_iter()
            .enumerate()
            .flat_map(|(i, d)| matched_noise(self.original_image(i), d, self.bounds, &mut noise))
            .collect();
        Self::new(
            Perturbation::MatchedGaussian { model },
            self.original.clone(),
            perturbed,
            self.labels.clone(),
            self.dim,
            self.bounds,
        )
    }

    /// Every example moved along its perturbation to RMS distortion `target` before clipping:
    /// `x + α(x′ − x)` with `α = target / rms(x′ − x)`, then clipped to the set's box. An
    /// example with no perturbation (an image the model already misclassified) stays as it is.
    ///
    /// The paper writes `x + 0.1·(x′−x)/‖x′−x‖₂`, an RMS of `0.1/√dim` (`≈ 0.0036` for MNIST's
    /// 784 pixels), while its text says the standard deviation grows from about 0.06 to 0.1;
    /// this is the text's meaning.
    pub fn amplified(&self, target: f64) -> Result<Self> {
        if !(target.is_finite() && target > 0.0) {
            return Err(TransferError::InvalidParameter(format!(
                "amplification target RMS {target}"
            )));
        }
        let Perturbation::Adversarial { model } = &self.perturbation else {
            return Err(TransferError::InvalidParameter(format!(
                "only adversarial examples are amplified, not {}",
                self.perturbation.label()
            )));
        };
        let Bounds { lo, hi } = self.bounds;
        let perturbed = (0..self.len())
            .flat_map(|i| {
                let (x, adv) = (self.original_image(i), self.image(i));
                let scale = amplification(x, adv, target);
                x.iter()
                    .zip(adv)
                    .map(move |(&o, &a)| (o + scale * (a - o)).clamp(lo, hi))
            })
            .collect();
        Self::new(
            Perturbation::Amplified {
                model: model.clone(),
                rms: target,
            },
            self.original.clone(),
            perturbed,
            self.labels.clone(),
            self.dim,
            self.bounds,
        )
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Perturbed image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.perturbed[i * self.dim..(i + 1) * self.dim]
    }

    /// Original image `i`.
    pub fn original_image(&self, i: usize) -> &[f32] {
        &self.original[i * self.dim..(i + 1) * self.dim]
    }

    /// RMS distortion of every example (after clipping).
    pub fn distortions(&self) -> Vec<f32> {
        (0..self.len())
            .map(|i| rms(self.original_image(i), self.image(i)))
            .collect()
    }

    /// Mean RMS distortion (NaN for an empty set).
    pub fn mean_distortion(&self) -> f64 {
        if self.is_empty() {
            return f64::NAN;
        }
        self.distortions()
            .iter()
            .map(|&d| f64::from(d))
            .sum::<f64>()
            / self.len() as f64
    }
}

/// The factor `α = target / rms(x′ − x)` of [`ExampleSet::amplified`] (1 when `x′ = x`).
pub fn amplification(x: &[f32], adv: &[f32], target: f64) -> f32 {
    let d = rms(x, adv);
    if d > 0.0 {
        (target / f64::from(d)) as f32
    } else {
        1.0
    }
}

/// `x` plus Gaussian noise `s·z` (one standard normal `z` per pixel), clipped to `bounds`, with
/// the scale `s` found by bisection so that the RMS change after clipping is `target`; `x` may
/// have any number of values.
///
/// Clipping removes part of plain noise of standard deviation `target` on MNIST's many black
/// pixels (stddev 0.1 leaves an RMS of about 0.074), so noise of the adversarial example's
/// standard deviation would be a weaker perturbation than the adversarial one; this matches
/// what the model sees. The change of each pixel grows with `s`, so the RMS does too; if
/// `target` exceeds what clipping allows, the largest scale tried (1000 box widths) is used.
///
/// # Panics
/// If `bounds.lo > bounds.hi` or either is NaN (as [`f32::clamp`]); an [`ExampleSet`]'s box
/// is always valid.
pub fn matched_noise(x: &[f32], target: f32, bounds: Bounds, noise: &mut Gaussian) -> Vec<f32> {
    let z: Vec<f32> = x.iter().map(|_| noise.sample()).collect();
    let Bounds { lo: min, hi: max } = bounds;
    let apply = |s: f32| -> Vec<f32> {
        x.iter()
            .zip(&z)
            .map(|(&o, &n)| (o + s * n).clamp(min, max))
            .collect()
    };
    if !(target.is_finite() && target > 0.0) {
        return x.to_vec();
    }
    let (mut lo, mut hi) = (0.0f32, target);
    let largest = 1e3 * (max - min);
    while rms(x, &apply(hi)) < target && hi < largest {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if rms(x, &apply(mid)) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    apply(hi)
}
