//! Robust accuracy against ε: the share of images that no attack moved to another class within
//! distance ε, from any mix of attacks.
//!
//! Each attack contributes, per image and per ε, whether it *broke* the image there:
//! - a **minimum-norm** attack (L-BFGS, DeepFool, DDN, FMN) found, per image, an adversarial
//!   point at some distance `d` ([`adversarial_distances`]; 0 where the clean image is already
//!   misclassified, +∞ where the attack failed): it breaks the image at every `ε ≥ d`, so one
//!   run gives the whole curve;
//! - an **ε-bounded** attack (FGSM, PGD) is run once per ε: it breaks the images it made
//!   adversarial (or found misclassified) at that ε.
//!
//! The accuracy under attack at ε is the share of images not broken; "best of all" breaks an
//! image where any attack did (a per-image worst case, as AutoAttack reports it).

use crate::eps::Norm;
use crate::error::{AttackError, Result};

/// Per image, the distance in `norm` from the clean image `x` to the adversarial image
/// `x_adv` (both `[N, dim]` row-major) where the attack `success`ed: 0 where the clean image
/// was already at the goal (`at_goal`), +∞ where the attack failed.
///
/// # Errors
/// [`AttackError::Shape`] if the lengths disagree.
pub fn adversarial_distances(
    x: &[f32],
    x_adv: &[f32],
    success: &[bool],
    at_goal: &[bool],
    norm: Norm,
) -> Result<Vec<f32>> {
    let n = success.len();
    let dim = x.len().checked_div(n).unwrap_or(0);
    if x.len() != n * dim || x_adv.len() != x.len() || at_goal.len() != n {
        return Err(AttackError::Shape {
            what: "clean images, adversarial images, success and at-goal flags",
            expected: vec![n, dim],
            found: vec![x.len(), x_adv.len(), success.len(), at_goal.len()],
        });
    }
    let mut r = vec![0.0; dim];
    Ok((0..n)
        .map(|i| {
            if at_goal[i] {
                0.0
            } else if !success[i] {
                f32::INFINITY
            } else {
                let row = i * dim..(i + 1) * dim;
                for ((r, a), b) in r.iter_mut().zip(&x_adv[row.clone()]).zip(&x[row]) {
                    *r = a - b;
                }
                norm.of(&r)
            }
        })
        .collect())
}

/// Which images an attack broke at each ε: `broken[e][i]`, one row per ε.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken(pub Vec<Vec<bool>>);

impl Broken {
    /// A minimum-norm attack's per-image `distances` at each of `epsilons`: broken where the
    /// distance is at most ε.
    pub fn from_distances(distances: &[f32], epsilons: &[f32]) -> Self {
        Self(
            epsilons
                .iter()
                .map(|&e| distances.iter().map(|&d| d <= e).collect())
                .collect(),
        )
    }

    /// An ε-bounded attack's runs, one per ε in order: broken where it reached the goal.
    pub fn from_runs(success: Vec<Vec<bool>>) -> Self {
        Self(success)
    }

    /// Broken where any of `attacks` broke the image (they must share the ε list and images).
    ///
    /// # Errors
    /// [`AttackError::Shape`] if the attacks have other ε or image counts than the first.
    pub fn any(attacks: &[&Broken]) -> Result<Self> {
        let Some(first) = attacks.first() else {
            return Ok(Self(Vec::new()));
        };
        let shape = |b: &Broken| vec![b.0.len(), b.0.first().map_or(0, Vec::len)];
        let mut out = first.0.clone();
        for b in &attacks[1..] {
            if shape(b) != shape(first) || b.0.iter().any(|row| row.len() != shape(first)[1]) {
                return Err(AttackError::Shape {
                    what: "broken images of the attacks (ε × images)",
                    expected: shape(first),
                    found: shape(b),
                });
            }
            for (row, other) in out.iter_mut().zip(&b.0) {
                for (x, &y) in row.iter_mut().zip(other) {
                    *x |= y;
                }
            }
        }
        Ok(Self(out))
    }

    /// The accuracy under attack at each ε: the share of images not broken (NaN without
    /// images).
    pub fn accuracy(&self) -> Vec<f64> {
        self.0
            .iter()
            .map(|row| {
                if row.is_empty() {
                    return f64::NAN;
                }
                row.iter().filter(|&&b| !b).count() as f64 / row.len() as f64
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_zero_at_the_goal_infinite_on_failure_and_the_norm_elsewhere() {
        let x = [0.0, 0.0, 0.5, 0.5, 1.0, 1.0];
        let x_adv = [0.3, -0.4, 0.5, 0.5, 0.0, 1.0];
        let success = [true, true, false];
        let at_goal = [false, true, false];
        let l2 = adversarial_distances(&x, &x_adv, &success, &at_goal, Norm::L2).unwrap();
        assert_eq!(l2, vec![0.5, 0.0, f32::INFINITY]);
        let linf = adversarial_distances(&x, &x_adv, &success, &at_goal, Norm::Linf).unwrap();
        assert_eq!(linf[0], 0.4);
        assert!(adversarial_distances(&x, &x_adv[..4], &success, &at_goal, Norm::L2).is_err());
    }

    #[test]
    fn accuracy_counts_images_farther_than_epsilon_and_the_best_of_all_is_a_per_image_worst_case() {
        // Four images: distances of a minimum-norm attack.
        let d = [0.0, 0.5, 1.0, f32::INFINITY];
        let eps = [0.0, 0.5, 0.75, 2.0];
        let min_norm = Broken::from_distances(&d, &eps);
        // At ε = 0 only the misclassified image is broken; at 0.5 the second too (≤ ε).
        assert_eq!(min_norm.accuracy(), vec![0.75, 0.5, 0.5, 0.25]);
        // A PGD run per ε that breaks image 3 from ε = 0.75 on, and never image 2.
        let pgd = Broken::from_runs(vec![
            vec![true, false, false, false],
            vec![true, false, false, false],
            vec![true, true, false, true],
            vec![true, true, false, true],
        ]);
        assert_eq!(pgd.accuracy(), vec![0.75, 0.75, 0.25, 0.25]);
        let best = Broken::any(&[&min_norm, &pgd]).unwrap();
        // Per image: image 2 falls at 2.0 (min-norm), image 3 at 0.75 (PGD).
        assert_eq!(best.accuracy(), vec![0.75, 0.5, 0.25, 0.0]);
        let short = Broken::from_distances(&d[..3], &eps);
        assert!(Broken::any(&[&min_norm, &short]).is_err());
    }
}
