//! What an attack tries to reach for each image.

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// The goal of an attack, parsed from `untargeted`, `random`, `all` or `target:K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Any label but the true one (a margin loss on the true class).
    Untargeted,
    /// One wrong label per image drawn uniformly from a seeded generator.
    Random,
    /// Every wrong label: `D(x, l)` for each `l ≠ y`; the minimum over `l` is the minimum
    /// distortion.
    All,
    /// The fixed class `K` for every image.
    Target(usize),
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Goal::Untargeted => write!(f, "untargeted"),
            Goal::Random => write!(f, "random"),
            Goal::All => write!(f, "all"),
            Goal::Target(k) => write!(f, "target:{k}"),
        }
    }
}

impl FromStr for Goal {
    type Err = AttackError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "untargeted" => Ok(Goal::Untargeted),
            "random" => Ok(Goal::Random),
            "all" => Ok(Goal::All),
            _ => s
                .strip_prefix("target:")
                .and_then(|k| k.parse().ok())
                .map(Goal::Target)
                .ok_or_else(|| AttackError::Goal(s.to_string())),
        }
    }
}

/// One attack problem: image `image` of the batch with its true `label`, and the class to reach
/// (`None` for untargeted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    /// Row of the image in the input batch.
    pub image: usize,
    /// True label.
    pub label: usize,
    /// The class to reach, or `None` for any wrong class.
    pub target: Option<usize>,
}

impl Goal {
    /// Expands a goal into problems: one per image, or `classes − 1` per image for
    /// [`Goal::All`] (image-major). `Random` draws from `seed`; a target equal to an image's
    /// label is kept (that image needs no perturbation when the model is right... it is flagged
    /// by the driver as reached at distortion 0 only if the model already predicts it).
    pub fn problems(&self, labels: &[usize], classes: usize, seed: u64) -> Result<Vec<Problem>> {
        if classes < 2 {
            return Err(AttackError::config(
                "classes",
                classes,
                "need at least 2 classes",
            ));
        }
        for (row, &label) in labels.iter().enumerate() {
            if label >= classes {
                return Err(AttackError::Label {
                    row,
                    label,
                    classes,
                });
            }
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(labels.len());
        for (image, &label) in labels.iter().enumerate() {
            match *self {
                Goal::Untargeted => out.push(Problem {
                    image,
                    label,
                    target: None,
                }),
                Goal::Random => {
                    let shift = rng.random_range(1..classes);
                    out.push(Problem {
                        image,
                        label,
                        target: Some((label + shift) % classes),
                    });
                }
                Goal::All => out.extend((0..classes).filter(|&t| t != label).map(|t| Problem {
                    image,
                    label,
                    target: Some(t),
                })),
                Goal::Target(t) => {
                    if t >= classes {
                        return Err(AttackError::TargetOutOfRange { target: t, classes });
                    }
                    out.push(Problem {
                        image,
                        label,
                        target: Some(t),
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_goal() {
        for g in [Goal::Untargeted, Goal::Random, Goal::All, Goal::Target(7)] {
            assert_eq!(g.to_string().parse::<Goal>().unwrap(), g);
        }
        assert!(matches!(
            "target:x".parse::<Goal>(),
            Err(AttackError::Goal(_))
        ));
        assert!(matches!("best".parse::<Goal>(), Err(AttackError::Goal(_))));
    }

    #[test]
    fn random_targets_are_wrong_and_reproducible() {
        let labels: Vec<usize> = (0..500).map(|i| i % 10).collect();
        let a = Goal::Random.problems(&labels, 10, 3).unwrap();
        let b = Goal::Random.problems(&labels, 10, 3).unwrap();
        assert_eq!(a, b);
        assert!(
            a.iter()
                .all(|p| p.target.is_some_and(|t| t != p.label && t < 10))
        );
        let c = Goal::Random.problems(&labels, 10, 4).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn all_expands_to_every_wrong_class() {
        let p = Goal::All.problems(&[3, 0], 10, 0).unwrap();
        assert_eq!(p.len(), 18);
        assert!(p[..9].iter().all(|p| p.image == 0 && p.target != Some(3)));
    }

    #[test]
    fn bad_targets_and_labels_are_typed_errors() {
        assert!(matches!(
            Goal::Target(10).problems(&[1], 10, 0),
            Err(AttackError::TargetOutOfRange { .. })
        ));
        assert!(matches!(
            Goal::Untargeted.problems(&[12], 10, 0),
            Err(AttackError::Label { .. })
        ));
    }
}
