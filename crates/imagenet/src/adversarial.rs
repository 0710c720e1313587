//! Figure 5 on photos: attack each photo toward a class (the paper's "ostrich") or away from
//! its own, then make the example a file a viewer can open — 8 bits per channel — and check
//! that it still fools the network there.
//!
//! An attack's example lives in `f32`; a PNG keeps `round(255·x)/255`. Rounding moves every
//! pixel by up to half a level, so an example that the attack left just past the decision
//! boundary can fall back. Each example is therefore re-classified after rounding. Where
//! rounding broke it, the perturbation is lengthened (`x + s·(x′ − x)` for `s` = 1.1, 1.25,
//! 1.5, 2, 3, clipped and rounded again) and the first `s` that fools the network is kept;
//! [`Rounding`] says which happened, and an example no `s` rescues is reported as failed.
//! The photos themselves come from 8-bit files, so only the perturbation is rounded.

use blindspot_attack::{AnyAttack, AttackObserver, AttackResult, Goal};
use blindspot_models::Classifier;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use crate::error::{ImagenetError, Result};
use crate::quantize::quantize;

/// The factors by which a perturbation broken by rounding is lengthened, in order.
pub const RESCALES: [f32; 5] = [1.1, 1.25, 1.5, 2.0, 3.0];

/// What 8-bit rounding did to an example.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Rounding {
    /// The rounded example fools the network as the attack's did.
    Survived,
    /// Rounding broke it; lengthened by `factor`, the rounded example fools the network.
    Rescaled {
        /// The factor `s` of `x + s·(x′ − x)`.
        factor: f32,
    },
    /// The attack failed, or rounding broke the example and no factor rescued it.
    Failed,
    /// The photo was already classified as the goal asks; nothing was changed.
    AlreadyThere,
}

/// A class and the network's probability for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The class id.
    pub class: usize,
    /// Its softmax probability.
    pub probability: f32,
}

/// One photo's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoExample {
    /// The photo's name.
    pub name: String,
    /// The network's class for the photo.
    pub original: Prediction,
    /// Its class for the 8-bit adversarial image.
    pub adversarial: Prediction,
    /// The 8-bit adversarial image reaches the goal.
    pub success: bool,
    /// What rounding did.
    pub rounding: Rounding,
    /// RMS of the 8-bit perturbation, pixels in `[0, 1]` (the paper's distortion).
    pub rms: f32,
    /// Its largest change of one channel, in levels (0–255).
    pub max_levels: u8,
}

/// The outcome of [`attack_photos`].
#[derive(Debug, Clone)]
pub struct PhotoAttack {
    /// One entry per photo, in order.
    pub examples: Vec<PhotoExample>,
    /// The photos as attacked `[N, C·H·W]`.
    pub clean: Vec<f32>,
    /// The 8-bit adversarial images `[N, C·H·W]` (where the attack failed, the point it ended
    /// on, rounded: the photo itself for L-BFGS).
    pub adversarial: Vec<f32>,
    /// The attack's own result (before rounding).
    pub result: AttackResult,
}

impl PhotoAttack {
    /// How many examples rounding broke (rescued or not), of those the attack made.
    pub fn broken_by_rounding(&self) -> usize {
        self.examples
            .iter()
            .zip(&self.result.success)
            .filter(|&(e, &made)| {
                made && !e.original_at_goal() && !matches!(e.rounding, Rounding::Survived)
            })
            .count()
    }
}

impl PhotoExample {
    fn original_at_goal(&self) -> bool {
        self.rounding == Rounding::AlreadyThere
    }
}

/// Attacks the photos `x` `[N, C·H·W]` (8-bit levels in `[0, 1]`, e.g. from
/// [`crate::Preprocess::pixels`]) named `names`: away from the class the network gives each
/// (untargeted) or toward one class ([`Goal::Target`]); the examples are rounded to 8 bits and
/// re-checked (see the module documentation).
///
/// # Errors
/// [`ImagenetError::Invalid`] for a goal other than untargeted or one target, or a name count
/// that is not the number of photos; the attack's and the model's errors.
pub fn attack_photos<M: Classifier + Sync>(
    model: &M,
    x: Tensor<2>,
    names: &[String],
    attack: &AnyAttack,
    observer: &mut dyn AttackObserver,
) -> Result<PhotoAttack> {
    let [n, dim] = x.dims();
    if names.len() != n {
        return Err(ImagenetError::Invalid(format!(
            "{} names for {n} photos",
            names.len()
        )));
    }
    let goal = attack.goal();
    let target = match goal {
        Goal::Untargeted => None,
        Goal::Target(t) if t < model.num_classes() => Some(t),
        other => {
            return Err(ImagenetError::Invalid(format!(
                "photos are attacked untargeted or toward one class of {}, not `{other}`",
                model.num_classes()
            )));
        }
    };
    let device = x.device();
    let clean = x.clone().into_data().try_to_vec::<f32>().map_err(invalid)?;
    let original = predict(model, x.clone())?;
    let labels: Vec<usize> = original.iter().map(|p| p.class).collect();
    let result = attack.run(model, x, &labels, observer)?;
    let reaches = |class: usize, i: usize| match target {
        Some(t) => class == t,
        None => class != labels[i],
    };
    let settled = to_8_bits(model, &clean, &result, reaches, &device)?;
    let (adversarial, rounding, final_predictions) =
        (settled.images, settled.rounding, settled.predictions);
    let examples = (0..n)
        .map(|i| {
            let row = i * dim..(i + 1) * dim;
            let (sum, max) = clean[row.clone()]
                .iter()
                .zip(&adversarial[row])
                .fold((0f64, 0f32), |(s, m), (&c, &a)| {
                    (s + f64::from(a - c).powi(2), m.max((a - c).abs()))
                });
            PhotoExample {
                name: names[i].clone(),
                original: original[i],
                adversarial: final_predictions[i],
                success: matches!(
                    rounding[i],
                    Rounding::Survived | Rounding::Rescaled { .. } | Rounding::AlreadyThere
                ),
                rounding: rounding[i],
                rms: (sum / dim as f64).sqrt() as f32,
                max_levels: (max * 255.0).round() as u8,
            }
        })
        .collect();
    Ok(PhotoAttack {
        examples,
        clean,
        adversarial,
        result,
    })
}

/// The examples as 8-bit images, what rounding did to each, and the network's class for them.
struct Settled {
    images: Vec<f32>,
    rounding: Vec<Rounding>,
    predictions: Vec<Prediction>,
}

/// Rounds every example of `result` to 8 bits and re-classifies it; where rounding broke an
/// example the attack made, lengthens its perturbation from `clean` by each of [`RESCALES`] in
/// turn, keeping the first whose 8-bit image `reaches(class, i)`. Images are classified on
/// `device`, the model's.
fn to_8_bits<M: Classifier>(
    model: &M,
    clean: &[f32],
    result: &AttackResult,
    reaches: impl Fn(usize, usize) -> bool,
    device: &Device,
) -> Result<Settled> {
    let (n, dim) = (result.success.len(), result.dim);
    let mut images = quantize(&result.x_adv);
    let mut rounding: Vec<Rounding> = (0..n)
        .map(|i| {
            if result.at_goal[i] {
                Rounding::AlreadyThere
            } else if result.success[i] {
                Rounding::Survived
            } else {
                Rounding::Failed
            }
        })
        .collect();
    let mut predictions = predict(model, rows(&images, n, dim, device))?;
    let mut broken: Vec<usize> = (0..n)
        .filter(|&i| rounding[i] == Rounding::Survived && !reaches(predictions[i].class, i))
        .collect();
    for &i in &broken {
        rounding[i] = Rounding::Failed;
    }
    for factor in RESCALES {
        if broken.is_empty() {
            break;
        }
        let mut trial = Vec::with_capacity(broken.len() * dim);
        for &i in &broken {
            let row = i * dim..(i + 1) * dim;
            let lengthened: Vec<f32> = clean[row.clone()]
                .iter()
                .zip(&result.x_adv[row])
                .map(|(&c, &a)| (c + factor * (a - c)).clamp(0.0, 1.0))
                .collect();
            trial.extend(quantize(&lengthened));
        }
        let tried = predict(model, rows(&trial, broken.len(), dim, device))?;
        let mut still = Vec::new();
        for (j, &i) in broken.iter().enumerate() {
            if reaches(tried[j].class, i) {
                images[i * dim..(i + 1) * dim].copy_from_slice(&trial[j * dim..(j + 1) * dim]);
                predictions[i] = tried[j];
                rounding[i] = Rounding::Rescaled { factor };
            } else {
                still.push(i);
            }
        }
        broken = still;
    }
    Ok(Settled {
        images,
        rounding,
        predictions,
    })
}

fn invalid(e: impl std::fmt::Debug) -> ImagenetError {
    ImagenetError::Invalid(format!("reading a tensor: {e:?}"))
}

fn rows(values: &[f32], n: usize, dim: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(values.to_vec(), [n, dim]), device)
}

/// The class and its probability for every row of `x`, batched by 64 photos.
fn predict<M: Classifier>(model: &M, x: Tensor<2>) -> Result<Vec<Prediction>> {
    let [n, _] = x.dims();
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + 64).min(n);
        let p = softmax(model.logits(x.clone().narrow(0, start, end - start)), 1);
        let classes = model.num_classes();
        let values = p.into_data().try_to_vec::<f32>().map_err(invalid)?;
        for row in values.chunks(classes) {
            let (class, &probability) = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .ok_or_else(|| ImagenetError::Invalid("a model without classes".into()))?;
            out.push(Prediction { class, probability });
        }
        start = end;
    }
    Ok(out)
}

/// Figure 5 on photos: one row per photo — the photo, the difference ×10 around mid-grey, the
/// 8-bit adversarial image — each under the network's class and probability (`classes`: the
/// model's class count, for the names).
///
/// # Errors
/// [`ImagenetError::Invalid`] unless every image is `[3, side, side]`;
/// [`ImagenetError::Figure`] if the grid cannot be drawn.
pub fn figure5(
    outcome: &PhotoAttack,
    side: usize,
    classes: usize,
    title: &str,
) -> Result<blindspot_report::figures::Raster> {
    use blindspot_plot::Captioned;
    use blindspot_report::figures::Raster;
    let dim = 3 * side * side;
    let n = outcome.examples.len();
    if outcome.clean.len() != n * dim || outcome.adversarial.len() != n * dim {
        return Err(ImagenetError::Invalid(format!(
            "figure 5 needs {n} images of 3 × {side} × {side}"
        )));
    }
    let raster = |pixels: &[f32]| -> Result<Raster> {
        Ok(crate::Photo::from_pixels("", side as u32, side as u32, pixels)?.to_raster())
    };
    let percent = |p: &Prediction| {
        format!(
            "{} ({:.1}%)",
            crate::classes::class_label(p.class, classes),
            100.0 * p.probability
        )
    };
    let mut rows = Vec::with_capacity(n);
    for (i, e) in outcome.examples.iter().enumerate() {
        let clean = &outcome.clean[i * dim..(i + 1) * dim];
        let adversarial = &outcome.adversarial[i * dim..(i + 1) * dim];
        let difference: Vec<f32> = clean
            .iter()
            .zip(adversarial)
            .map(|(&c, &a)| (0.5 + 10.0 * (a - c)).clamp(0.0, 1.0))
            .collect();
        let verdict = match e.rounding {
            Rounding::Survived => "fools it".to_owned(),
            Rounding::Rescaled { factor } => format!("fools it (×{factor} after rounding)"),
            Rounding::AlreadyThere => "already there".to_owned(),
            Rounding::Failed => "attack failed".to_owned(),
        };
        rows.push(vec![
            Captioned {
                image: raster(clean)?,
                caption: vec![e.name.clone(), percent(&e.original)],
            },
            Captioned {
                image: raster(&difference)?,
                caption: vec![
                    "difference ×10".into(),
                    format!("RMS {:.4}, max {} levels", e.rms, e.max_levels),
                ],
            },
            Captioned {
                image: raster(adversarial)?,
                caption: vec![percent(&e.adversarial), verdict],
            },
        ]);
    }
    blindspot_plot::captioned_grid(&rows, Some(title))
        .map_err(|e| ImagenetError::Figure(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blindspot_attack::Problem;
    use blindspot_models::InputShape;

    /// Two classes on two pixels: class 1 once the first pixel passes `boundary`.
    struct Threshold {
        boundary: f32,
    }

    impl Classifier for Threshold {
        fn logits(&self, x: Tensor<2>) -> Tensor<2> {
            let first = x.clone().narrow(1, 0, 1).sub_scalar(self.boundary);
            Tensor::cat(vec![first.zeros_like(), first], 1)
        }
        fn input_shape(&self) -> InputShape {
            [1, 1, 2]
        }
        fn activations(&self, _: Tensor<2>) -> Vec<Tensor<2>> {
            Vec::new()
        }
        fn num_classes(&self) -> usize {
            2
        }
    }

    #[test]
    fn rounding_is_checked_and_broken_examples_are_lengthened_just_enough() {
        let level = |l: f32| l / 255.0;
        let model = Threshold {
            boundary: level(127.4),
        };
        // Clean first pixels, the attack's examples, and whether the attack succeeded.
        let rows: [(f32, f32, bool, bool); 5] = [
            // 140 stays past the boundary once rounded.
            (100.0, 140.0, true, false),
            // 127.45 rounds to 127, behind it; ×1.1 from 100 gives 130.2 → 130.
            (100.0, 127.45, true, false),
            // From 127, ×1.1 gives 127.495 → 127 (no), ×1.25 127.5625 → 128.
            (127.0, 127.45, true, false),
            // The attack failed: left as it is.
            (100.0, 110.0, false, false),
            // Already class 1.
            (200.0, 200.0, true, true),
        ];
        let n = rows.len();
        let clean: Vec<f32> = rows.iter().flat_map(|r| [level(r.0), 0.5]).collect();
        let result = AttackResult {
            problems: (0..n)
                .map(|image| Problem {
                    image,
                    label: 0,
                    target: Some(1),
                })
                .collect(),
            input_shape: [1, 1, 2],
            dim: 2,
            x_adv: rows.iter().flat_map(|r| [level(r.1), 0.5]).collect(),
            success: rows.iter().map(|r| r.2).collect(),
            misclassified: vec![false; n],
            at_goal: rows.iter().map(|r| r.3).collect(),
            distortion: vec![f32::NAN; n],
            l2: vec![f32::NAN; n],
            c: vec![f32::NAN; n],
            evaluations: vec![1; n],
            seconds: 0.0,
        };
        let device = Device::flex();
        let settled = to_8_bits(&model, &clean, &result, |class, _| class == 1, &device).unwrap();
        assert_eq!(
            settled.rounding,
            [
                Rounding::Survived,
                Rounding::Rescaled { factor: 1.1 },
                Rounding::Rescaled { factor: 1.25 },
                Rounding::Failed,
                Rounding::AlreadyThere,
            ]
        );
        let first: Vec<f32> = settled
            .images
            .chunks(2)
            .map(|r| (r[0] * 255.0).round())
            .collect();
        assert_eq!(first, [140.0, 130.0, 128.0, 110.0, 200.0]);
        let classes: Vec<usize> = settled.predictions.iter().map(|p| p.class).collect();
        assert_eq!(classes, [1, 1, 1, 0, 1]);
        // The untouched pixel stays on its level (0.5 rounds to 128/255).
        assert!(settled.images.chunks(2).all(|r| r[1] == 128.0 / 255.0));
    }
}
