//! Per-example certified L2 radii from a Lipschitz bound of the logits.
//!
//! If `‖f(x) − f(x')‖₂ ≤ L‖x − x'‖₂`, then each difference `f_i − f_j = (e_i − e_j)ᵀ f` is
//! `√2·L`-Lipschitz. With the predicted class `y` and margin `m = f_y(x) − max_{j≠y} f_j(x)`, a
//! perturbation `r` can only make some `f_j ≥ f_y` if `√2·L‖r‖ ≥ m`: no perturbation with
//! `‖r‖₂ < m / (√2·L)` changes the class. So `radius ≤ true minimal distortion ≤ attack's
//! distortion` (the attack's distortion is measured on a correctly classified example; for a
//! misclassified one the radius is 0).
//!
//! [`certify`] takes a classifier that lists its layers ([`LayerChain`]) and computes `L`
//! itself; [`certify_with`] takes a bound computed beforehand, and [`certify_batch`] takes any
//! network's logits (a user network whose inputs are images, for instance).
//! [`CertifiedBatch::check`] holds an attack's results against the radii: every example the
//! attack found must lie outside its image's radius.

use std::fmt;

use blindspot_attack::AttackResult;
use blindspot_models::Classifier;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::burn_modules::host_values;
use crate::chain::{LayerChain, lipschitz_bound};
use crate::error::{Result, SpectralError};

/// The certificate of one example.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// Predicted class.
    pub predicted: usize,
    /// Top logit minus runner-up.
    pub margin: f64,
    /// Certified L2 radius `margin / (√2·L)`.
    pub radius: f64,
}

/// Certified radius of one logit vector under Lipschitz bound `lipschitz`.
pub fn certify_logits(logits: &[f32], lipschitz: f64) -> Result<Certificate> {
    if logits.len() < 2 || !(lipschitz.is_finite() && lipschitz > 0.0) {
        return Err(SpectralError::Shape(format!(
            "certificate needs ≥ 2 logits and a positive Lipschitz bound, got {} logits, L = {lipschitz}",
            logits.len()
        )));
    }
    let (mut top, mut second) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut predicted = 0;
    for (i, &z) in logits.iter().enumerate() {
        let z = f64::from(z);
        if z > top {
            second = top;
            top = z;
            predicted = i;
        } else if z > second {
            second = z;
        }
    }
    let margin = top - second;
    Ok(Certificate {
        predicted,
        margin,
        radius: margin / (std::f64::consts::SQRT_2 * lipschitz),
    })
}

/// Certificates of a batch of logits `[b, classes]` under Lipschitz bound `lipschitz`.
pub fn certify_batch(logits: Tensor<2>, lipschitz: f64) -> Result<Vec<Certificate>> {
    let [b, k] = logits.dims();
    if k < 2 {
        return Err(SpectralError::Shape(format!(
            "a certificate needs ≥ 2 logits per example, got {k}"
        )));
    }
    if b == 0 {
        return Ok(Vec::new());
    }
    host_values(logits)?
        .chunks(k)
        .map(|row| certify_logits(row, lipschitz))
        .collect()
}

/// Certificates of a batch `x` `[b, input]` for a classifier whose logits are
/// `lipschitz`-Lipschitz.
pub fn certify_with<M: Classifier + ?Sized>(
    model: &M,
    x: Tensor<2>,
    lipschitz: f64,
) -> Result<Vec<Certificate>> {
    certify_batch(model.logits(x), lipschitz)
}

/// The Lipschitz bound of a classifier's layer chain and the certificates of a batch under it.
#[derive(Debug, Clone, PartialEq)]
pub struct CertifiedBatch {
    /// The bound `L` ([`lipschitz_bound`] of the chain).
    pub lipschitz: f64,
    /// One certificate per example.
    pub certificates: Vec<Certificate>,
}

/// Certificates of a batch `x` `[b, input]` for a classifier that lists its layers: `L` is the
/// chain's [`lipschitz_bound`].
pub fn certify<M: Classifier + LayerChain + ?Sized>(
    model: &M,
    x: Tensor<2>,
) -> Result<CertifiedBatch> {
    let lipschitz = lipschitz_bound(model)?;
    Ok(CertifiedBatch {
        lipschitz,
        certificates: certify_with(model, x, lipschitz)?,
    })
}

/// An attack's examples measured against the certified radii of their images
/// ([`CertifiedBatch::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RadiusCheck {
    /// The Lipschitz bound the radii come from.
    pub lipschitz: f64,
    /// Examples compared: the problems whose goal a perturbation reached
    /// ([`AttackResult::perturbed`]).
    pub examples: usize,
    /// Mean L2 norm of their perturbations (NaN without examples).
    pub mean_l2: f64,
    /// Mean certified radius of their images (NaN without examples).
    pub mean_radius: f64,
    /// The smallest ratio `L2 / radius` (at least 1; infinite where every radius is 0, NaN
    /// without examples).
    pub min_ratio: f64,
}

impl fmt::Display for RadiusCheck {
    /// `L2 1.302 vs certified radius 0.114 (L = 37.4, smallest ratio 6.1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "L2 {:.3} vs certified radius {:.3} (L = {:.1}, smallest ratio {:.1})",
            self.mean_l2, self.mean_radius, self.lipschitz, self.min_ratio
        )
    }
}

impl CertifiedBatch {
    /// Holds an attack on the certified images against their radii: every problem whose goal a
    /// perturbation reached changed the model's class (untargeted: from the true label the
    /// model predicted; targeted: to a target it did not predict), so its L2 norm must be at
    /// least its image's radius. Problem `i` is certified by `certificates[problems[i].image]`.
    ///
    /// # Errors
    /// [`SpectralError::InsideRadius`] for the first example inside its image's radius (the
    /// bound or the attack is wrong); [`SpectralError::Shape`] if a problem's image has no
    /// certificate.
    pub fn check(&self, result: &AttackResult) -> Result<RadiusCheck> {
        let (mut l2_sum, mut radius_sum, mut min_ratio) = (0.0, 0.0, f64::INFINITY);
        let mut examples = 0;
        for problem in result.perturbed() {
            let image = result.problems[problem].image;
            let radius = self
                .certificates
                .get(image)
                .ok_or_else(|| {
                    SpectralError::Shape(format!(
                        "problem {problem} attacks image {image}, but only {} images are certified",
                        self.certificates.len()
                    ))
                })?
                .radius;
            let l2 = f64::from(result.l2[problem]);
            if l2 < radius {
                return Err(SpectralError::InsideRadius {
                    problem,
                    image,
                    l2,
                    radius,
                });
            }
            examples += 1;
            l2_sum += l2;
            radius_sum += radius;
            min_ratio = min_ratio.min(l2 / radius);
        }
        let mean = |sum: f64| sum / examples as f64;
        Ok(RadiusCheck {
            lipschitz: self.lipschitz,
            examples,
            mean_l2: mean(l2_sum),
            mean_radius: mean(radius_sum),
            min_ratio: if examples == 0 { f64::NAN } else { min_ratio },
        })
    }
}
