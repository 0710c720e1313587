//! What the ε-bounded attacks ([`crate::fgsm`], [`crate::pgd`]) share: the norm of the ball,
//! the cross-entropy they descend and its input gradient, the step direction, the projection
//! onto the ball and the box, the seeded random start, and checks of their settings.

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};
use crate::goal::Problem;
use crate::loss::{TargetedLoss, per_row};
use crate::rows;
use blindspot_models::{Bounds, Classifier};

/// The norm of an ε-ball around the clean image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// `max_i |r_i| ≤ ε`.
    Linf,
    /// `‖r‖₂ ≤ ε`.
    L2,
}

impl Norm {
    /// How tables and labels write it: `L2`, `L∞`.
    pub fn symbol(self) -> &'static str {
        match self {
            Norm::L2 => "L2",
            Norm::Linf => "L∞",
        }
    }

    /// The norm of a vector.
    pub fn of(self, r: &[f32]) -> f32 {
        match self {
            Norm::Linf => r.iter().fold(0.0f32, |m, v| m.max(v.abs())),
            Norm::L2 => r
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt() as f32,
        }
    }
}

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Norm::Linf => "linf",
            Norm::L2 => "l2",
        })
    }
}

impl std::str::FromStr for Norm {
    type Err = AttackError;

    /// `l2` or `linf`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "l2" => Ok(Norm::L2),
            "linf" => Ok(Norm::Linf),
            _ => Err(AttackError::config("norm", s, "must be l2 or linf")),
        }
    }
}

/// The loss an ε-bounded attack descends, per row `[n, 1]`: targeted, the cross-entropy of the
/// target (`goal` its one-hot `[n, k]`); untargeted, minus the cross-entropy of the true class
/// (`goal` its one-hot).
pub(crate) fn descent_loss(logits: Tensor<2>, goal: Tensor<2>, targeted: bool) -> Tensor<2> {
    let ce = per_row(logits, goal, None, TargetedLoss::CrossEntropy, 0.0);
    if targeted { ce } else { ce.neg() }
}

/// The input gradient of [`descent_loss`] at `x` `[n, dim]`, each row its own (the sum over
/// rows separates them), taken on the autodiff counterpart of `x`'s device.
pub(crate) fn gradient<M: Classifier>(
    model: &M,
    x: Tensor<2>,
    goal: &Tensor<2>,
    targeted: bool,
) -> Result<Tensor<2>> {
    let xa = x.autodiff().require_grad();
    let value = descent_loss(model.logits(xa.clone()), goal.clone(), targeted);
    let grads = value.sum().backward();
    xa.grad(&grads).ok_or(AttackError::NoGradient)
}

/// The norm `‖r‖` of each row, `[n, D] → [n, 1]`.
pub(crate) fn row_norm(r: Tensor<2>, norm: Norm) -> Tensor<2> {
    match norm {
        Norm::L2 => rows::sum(r.square()).sqrt(),
        Norm::Linf => rows::max(r.abs()),
    }
}

/// Per row, the norm of the farthest point of the box from `x0`: no perturbation that stays
/// in the box is longer.
pub(crate) fn farthest_in_box(x0: &Tensor<2>, bounds: Bounds, norm: Norm) -> Tensor<2> {
    let reach = x0
        .clone()
        .sub_scalar(bounds.lo)
        .max_pair(x0.clone().neg().add_scalar(bounds.hi));
    row_norm(reach, norm)
}

/// The steepest-descent direction of a unit step for the norm: `sign(g)` (L∞) or `g / ‖g‖₂`
/// per row (L2; zero where `g` is).
pub(crate) fn direction(g: Tensor<2>, norm: Norm) -> Tensor<2> {
    match norm {
        Norm::Linf => g.sign(),
        Norm::L2 => {
            let len = row_norm(g.clone(), Norm::L2).clamp_min(f32::MIN_POSITIVE);
            g / len
        }
    }
}

/// `x` moved into the ε-ball around `x0`, then into the box. L∞: the exact projection onto
/// their intersection (both are coordinate-wise). L2: radial scaling onto the ball, then
/// clipping; clipping only moves coordinates towards `x0`'s (inside the box), so the result
/// stays in the ball; it is the exact projection wherever the box does not bind.
pub(crate) fn project(
    x: Tensor<2>,
    x0: &Tensor<2>,
    epsilon: f32,
    norm: Norm,
    bounds: Bounds,
) -> Tensor<2> {
    let x = match norm {
        Norm::Linf => x
            .max_pair(x0.clone().sub_scalar(epsilon))
            .min_pair(x0.clone().add_scalar(epsilon)),
        Norm::L2 => {
            let r = x - x0.clone();
            let len = row_norm(r.clone(), Norm::L2);
            let scale = (len.clamp_min(f32::MIN_POSITIVE).recip() * epsilon).clamp_max(1.0);
            x0.clone() + r * scale
        }
    };
    x.clamp(bounds.lo, bounds.hi)
}

/// Random offsets `[problems, dim]` row-major, uniform in the ε-ball of `norm` (L∞: every
/// coordinate uniform in `[−ε, ε]`; L2: a uniform direction at radius `ε·u^{1/dim}`). Each
/// problem draws from its own generator, seeded by `seed`, its image, its target and
/// `restart`, so that the offsets do not depend on how the problems are batched.
pub(crate) fn random_offsets(
    problems: &[Problem],
    seed: u64,
    restart: usize,
    dim: usize,
    epsilon: f32,
    norm: Norm,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(problems.len() * dim);
    for p in problems {
        let target = p.target.map_or(u64::MAX, |t| t as u64);
        let key = [p.image as u64, target, restart as u64]
            .iter()
            .fold(splitmix(seed), |h, &v| splitmix(h ^ v));
        let mut rng = StdRng::seed_from_u64(key);
        match norm {
            Norm::Linf => out.extend((0..dim).map(|_| (2.0 * rng.random::<f32>() - 1.0) * epsilon)),
            Norm::L2 => {
                let g: Vec<f64> = (0..dim).map(|_| gaussian(&mut rng)).collect();
                let len = g
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
                    .sqrt()
                    .max(f64::MIN_POSITIVE);
                let u: f64 = rng.random();
                let radius = f64::from(epsilon) * u.powf(1.0 / dim.max(1) as f64);
                out.extend(g.iter().map(|v| (v / len * radius) as f32));
            }
        }
    }
    out
}

/// A standard normal draw (Box–Muller).
fn gaussian(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// SplitMix64's finalizer: a well-mixed 64-bit hash.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Checks `ε`: finite and non-negative.
pub(crate) fn check_epsilon(epsilon: f32) -> Result<()> {
    if epsilon >= 0.0 && epsilon.is_finite() {
        Ok(())
    } else {
        Err(AttackError::config(
            "epsilon",
            epsilon,
            "must be finite and non-negative",
        ))
    }
}

/// Checks the batching: at least one problem per batch and one worker.
pub(crate) fn check_batching(batch_size: usize, workers: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(AttackError::config("batch_size", 0, "must be at least 1"));
    }
    if workers == 0 {
        return Err(AttackError::config("workers", 0, "must be at least 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems() -> Vec<Problem> {
        (0..3)
            .map(|image| Problem {
                image,
                label: 0,
                target: None,
            })
            .collect()
    }

    #[test]
    fn random_offsets_lie_in_the_ball_and_depend_on_the_seed() {
        let dim = 50;
        for norm in [Norm::Linf, Norm::L2] {
            let a = random_offsets(&problems(), 7, 0, dim, 0.3, norm);
            assert_eq!(a, random_offsets(&problems(), 7, 0, dim, 0.3, norm));
            assert_ne!(a, random_offsets(&problems(), 8, 0, dim, 0.3, norm));
            assert_ne!(a, random_offsets(&problems(), 7, 1, dim, 0.3, norm));
            // A problem's offsets do not depend on the others in its batch.
            assert_eq!(
                a[dim..2 * dim],
                random_offsets(&problems()[1..2], 7, 0, dim, 0.3, norm)[..]
            );
            for row in a.chunks(dim) {
                match norm {
                    Norm::Linf => assert!(row.iter().all(|v| v.abs() <= 0.3)),
                    Norm::L2 => {
                        let len = row.iter().map(|v| v * v).sum::<f32>().sqrt();
                        assert!(len <= 0.3 * (1.0 + 1e-6), "{len}");
                    }
                }
            }
        }
    }

    #[test]
    fn epsilon_must_be_finite_and_non_negative() {
        assert!(check_epsilon(0.0).is_ok());
        for bad in [-0.1, f32::NAN, f32::INFINITY] {
            assert!(matches!(
                check_epsilon(bad),
                Err(AttackError::Config {
                    field: "epsilon",
                    ..
                })
            ));
        }
    }
}
