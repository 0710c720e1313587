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

/// What an attack says about each image, from which [`Evidence::broken`] tells whether it broke
/// the image at any ε.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// A minimum-norm attack: per image the distance of the adversarial example it found
    /// ([`adversarial_distances`]); broken at every ε at least that distance.
    Distances(Vec<f32>),
    /// An ε-bounded attack run at several ε: per image whether the clean image is already
    /// misclassified, and per run its ε and the images it made (or found) adversarial. At an ε
    /// between runs, the run of the largest ε not above it counts (its ball lies inside the
    /// ε-ball); below every run, only the misclassified images are broken.
    Runs {
        /// The clean image is already misclassified.
        clean: Vec<bool>,
        /// `(ε, success)` per run.
        runs: Vec<(f32, Vec<bool>)>,
    },
}

impl Evidence {
    /// Which images the attack broke at each of `epsilons`.
    pub fn broken(&self, epsilons: &[f32]) -> Broken {
        Broken(
            epsilons
                .iter()
                .map(|&e| match self {
                    Evidence::Distances(d) => d.iter().map(|&d| d <= e).collect(),
                    Evidence::Runs { clean, runs } => runs
                        .iter()
                        .filter(|(at, _)| *at <= e)
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .map_or_else(|| clean.clone(), |(_, success)| success.clone()),
                })
                .collect(),
        )
    }
}

/// Which images an attack broke at each ε: `broken[e][i]`, one row per ε.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken(pub Vec<Vec<bool>>);

impl Broken {
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
        assert!(matches!(
            adversarial_distances(&x, &x_adv[..4], &success, &at_goal, Norm::L2),
            Err(AttackError::Shape { .. })
        ));
    }

    #[test]
    fn accuracy_counts_images_farther_than_epsilon_and_the_best_of_all_is_a_per_image_worst_case() {
        // Four images: distances of a minimum-norm attack.
        let min_norm = Evidence::Distances(vec![0.0, 0.5, 1.0, f32::INFINITY]);
        let eps = [0.0, 0.5, 0.75, 2.0];
        // At ε = 0 only the misclassified image is broken; at 0.5 the second too (≤ ε).
        assert_eq!(min_norm.broken(&eps).accuracy(), vec![0.75, 0.5, 0.5, 0.25]);
        // PGD run at 0.5 and 0.75: image 3 falls at 0.75, image 2 never.
        let pgd = Evidence::Runs {
            clean: vec![true, false, false, false],
            runs: vec![
                (0.5, vec![true, false, false, false]),
                (0.75, vec![true, true, false, true]),
            ],
        };
        // Below the first run only the clean errors; between runs the lower run counts.
        assert_eq!(pgd.broken(&eps).accuracy(), vec![0.75, 0.75, 0.25, 0.25]);
        assert_eq!(pgd.broken(&[0.6, 0.1]).accuracy(), vec![0.75, 0.75]);
        let best = Broken::any(&[&min_norm.broken(&eps), &pgd.broken(&eps)]).unwrap();
        // Per image: image 2 falls at 2.0 (min-norm), image 3 at 0.75 (PGD).
        assert_eq!(best.accuracy(), vec![0.75, 0.5, 0.25, 0.0]);
        let short = Evidence::Distances(vec![0.0; 3]).broken(&eps);
        assert!(matches!(
            Broken::any(&[&min_norm.broken(&eps), &short]),
            Err(AttackError::Shape { expected, found, .. }) if expected == [4, 4] && found == [4, 3]
        ));
    }
}
