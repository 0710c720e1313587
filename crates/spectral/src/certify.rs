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
