//! What a training run does besides the paper's loss: nothing (weight decay alone), dropout,
//! or a pool of adversarial examples for some levels of the network.

use std::fmt;
use std::str::FromStr;

use blindspot_attack::{AttackConfig, Goal, LbfgsbConfig};
use serde::{Deserialize, Serialize};

use crate::error::{AdvTrainError, Result};

/// Which levels of the network get adversarial examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Levels {
    /// The input only (level 0).
    Input,
    /// Every hidden layer's output (levels 1 … L−1), each training only the layers above it.
    Hidden,
    /// The input and every hidden layer.
    All,
}

impl Levels {
    /// Every choice.
    pub const ALL: [Levels; 3] = [Levels::Input, Levels::Hidden, Levels::All];

    /// The levels for a network with `hidden` hidden layers (0 is the input).
    pub fn levels(self, hidden: usize) -> Vec<usize> {
        match self {
            Levels::Input => vec![0],
            Levels::Hidden => (1..=hidden).collect(),
            Levels::All => (0..=hidden).collect(),
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Levels::Input => "input",
            Levels::Hidden => "hidden",
            Levels::All => "all",
        }
    }
}

impl fmt::Display for Levels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Levels {
    type Err = AdvTrainError;

    fn from_str(s: &str) -> Result<Self> {
        Levels::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                AdvTrainError::InvalidConfig(format!(
                    "unknown levels `{s}` (expected input, hidden or all)"
                ))
            })
    }
}

/// The pool of adversarial examples and how it is refreshed and mixed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolConfig {
    /// Examples kept per level.
    pub size: usize,
    /// Clean minibatch steps before the first examples are generated (the untrained network's
    /// adversarial examples teach nothing).
    pub warmup_steps: usize,
    /// Minibatch steps between two refreshes.
    pub refresh_every: usize,
    /// Fresh examples generated per level at each refresh, from random training images; they
    /// replace a random subset of the pool once it is full.
    pub refresh: usize,
    /// Pool examples drawn per clean example, per level, into every minibatch.
    pub mix: f64,
    /// Weight of the pool examples' mean cross-entropy beside the clean examples' (which
    /// keeps weight 1, so that the clean data are fitted as in the baselines).
    pub weight: f64,
    /// Keep only examples whose RMS distortion (in the level's units) is at most this; `None`
    /// keeps every successful example. Large "minimal" perturbations can change what the image
    /// shows, and training on them with the original label teaches the wrong thing.
    pub max_distortion: Option<f64>,
    /// The attack that makes them: box-constrained L-BFGS with a short search over c.
    pub attack: AttackConfig,
}

impl Default for PoolConfig {
    /// 10,000 examples per level; after 2,000 clean steps, 500 fresh examples per level every
    /// 400 steps; half a pool example per clean example, weighted 0.5; untargeted L-BFGS
    /// towards the nearest rival class with 4 values of c and at most 30 iterations each,
    /// memory 3, stopping a run at a relative gain below 1e-4 (the benchmark's fast preset:
    /// same distortion as memory 10 to 1e-6, about twice as fast).
    fn default() -> Self {
        Self {
            size: 10_000,
            warmup_steps: 2_000,
            refresh_every: 400,
            refresh: 500,
            mix: 0.5,
            weight: 0.5,
            max_distortion: None,
            attack: AttackConfig {
                goal: Goal::Untargeted,
                candidates: 1,
                search_steps: 4,
                refine_steps: 4,
                solver: LbfgsbConfig {
                    max_iterations: 30,
                    memory: 3,
                    f_tolerance: 1e-4,
                    ..AttackConfig::default().solver
                },
                ..AttackConfig::default()
            },
        }
    }
}

impl PoolConfig {
    /// Checks sizes and ratios.
    pub fn validate(&self) -> Result<()> {
        if self.size == 0 || self.refresh_every == 0 || self.refresh == 0 {
            return Err(AdvTrainError::InvalidConfig(format!(
                "pool size, refresh interval and refresh count must be positive ({self:?})"
            )));
        }
        if !(self.mix.is_finite()
            && self.mix > 0.0
            && self.weight.is_finite()
            && self.weight >= 0.0)
        {
            return Err(AdvTrainError::InvalidConfig(format!(
                "the mix ratio must be positive and the weight non-negative, got {} and {}",
                self.mix, self.weight
            )));
        }
        self.attack.validate()?;
        Ok(())
    }
}

/// The regularization a run adds to the paper's loss (cross-entropy + `λ Σw²/k`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)] // a configuration value, built once per run
pub enum Method {
    /// Weight decay alone (the paper's 1.6%).
    Decay,
    /// Dropout on the input and on every hidden layer's output during training (the paper's
    /// "around 1.3%" with "carefully applied dropout").
    Dropout {
        /// Drop probability of input pixels.
        input: f64,
        /// Drop probability of hidden units.
        hidden: f64,
    },
    /// A pool of adversarial examples of the current network, per level, mixed into every
    /// minibatch (the paper's "below 1.2%").
    Adversarial {
        /// Which levels get examples.
        levels: Levels,
        /// The pool.
        pool: PoolConfig,
    },
    /// Cheap examples of the current network for every minibatch, made by gradient ascent on
    /// its cross-entropy in an L∞ ball around the inputs: Goodfellow et al.'s (ICLR 2015) fast
    /// gradient sign method (one step of `ε`, no random start) or Madry et al.'s (ICLR 2018)
    /// projected gradient descent (`steps` steps of `2.5·ε/steps` from a random point of the
    /// ball). The loss is `α·J(x) + (1 − α)·J(x′)` plus the weight decay.
    Ascent(AscentConfig),
}

/// The examples and the mix of [`Method::Ascent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AscentConfig {
    /// Radius of the L∞ ball (pixels in `[0, 1]`).
    pub epsilon: f64,
    /// Gradient-sign steps per minibatch (1: FGSM, a single step of `ε` from `x`).
    pub steps: usize,
    /// Weight `α` of the clean examples' cross-entropy; `1 − α` goes to the examples'.
    pub alpha: f64,
}

impl AscentConfig {
    /// Goodfellow et al.'s mixed objective, `α = 0.5`, with FGSM at ε = 0.1 (their MNIST
    /// ε was 0.25 for a maxout network of 240 units per layer; 0.1 is the ball this small
    /// sigmoid network is evaluated in).
    pub fn fgsm() -> Self {
        Self {
            epsilon: 0.1,
            steps: 1,
            alpha: 0.5,
        }
    }

    /// Madry et al.'s training on examples only (`α = 0`), with PGD at ε = 0.1 and 3 steps
    /// (they use 40 at ε = 0.3 for a large conv net: each step costs one more forward and
    /// backward pass per minibatch, so 3 steps make a run about 4 times a clean one).
    pub fn pgd() -> Self {
        Self {
            epsilon: 0.1,
            steps: 3,
            alpha: 0.0,
        }
    }

    /// The length of one step: `ε` for FGSM, `2.5·ε/steps` for PGD.
    pub fn step_size(&self) -> f64 {
        if self.steps == 1 {
            self.epsilon
        } else {
            2.5 * self.epsilon / self.steps as f64
        }
    }

    /// `fgsm` or `pgd` for the presets, else `fgsm-<ε>-<α>` / `pgd<steps>-<ε>-<α>`.
    fn slug(&self) -> String {
        if *self == Self::fgsm() {
            "fgsm".into()
        } else if *self == Self::pgd() {
            "pgd".into()
        } else if self.steps == 1 {
            format!("fgsm-{}-{}", self.epsilon, self.alpha)
        } else {
            format!("pgd{}-{}-{}", self.steps, self.epsilon, self.alpha)
        }
    }

    fn validate(&self) -> Result<()> {
        if !(self.epsilon.is_finite() && self.epsilon > 0.0)
            || self.steps == 0
            || !(0.0..=1.0).contains(&self.alpha)
        {
            return Err(AdvTrainError::InvalidConfig(format!(
                "gradient-ascent training needs ε > 0, at least one step and α in [0, 1], got {self:?}"
            )));
        }
        Ok(())
    }
}

impl Method {
    /// The same method with its pool attack run by `workers` threads (see
    /// [`AttackConfig::workers`]); methods without a pool are returned as they are. The
    /// workers are not part of the method's settings or its fingerprint.
    pub fn with_attack_workers(&self, workers: usize) -> Method {
        let mut method = self.clone();
        if let Method::Adversarial { pool, .. } = &mut method {
            pool.attack.workers = workers;
        }
        method
    }

    /// Dropout of 10% of the pixels and 20% of the hidden units. Hinton et al. (2012) drop
    /// 20% and 50% in their MNIST MLPs of 800+ units; on this 100-100-10 network with our
    /// 40-epoch recipe that underfits (3.10% test error, 2.56% training error); 10%/20% gave
    /// 2.07% (`blindspot train --model n100-100-10 --dropout --dropout-input … --dropout-hidden …`).
    pub fn dropout() -> Self {
        Method::Dropout {
            input: 0.1,
            hidden: 0.2,
        }
    }

    /// Adversarial training of `levels` with the default pool.
    pub fn adversarial(levels: Levels) -> Self {
        Method::Adversarial {
            levels,
            pool: PoolConfig::default(),
        }
    }

    /// A short name for run ids: `decay`, `dropout` (`dropout-<input>-<hidden>` for other
    /// rates than [`Method::dropout`]'s), `adv-input`, `adv-hidden`, `adv-all`, `fgsm`, `pgd`
    /// (see [`AscentConfig`] for other settings).
    pub fn slug(&self) -> String {
        match self {
            Method::Decay => "decay".into(),
            Method::Dropout { .. } if Method::dropout() == *self => "dropout".into(),
            Method::Dropout { input, hidden } => format!("dropout-{input}-{hidden}"),
            Method::Adversarial { levels, .. } => format!("adv-{levels}"),
            Method::Ascent(ascent) => ascent.slug(),
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        match self {
            Method::Decay => Ok(()),
            Method::Dropout { input, hidden } => {
                if [input, hidden].iter().all(|p| (0.0..1.0).contains(*p)) {
                    Ok(())
                } else {
                    Err(AdvTrainError::InvalidConfig(format!(
                        "dropout probabilities must be in [0, 1), got {input} and {hidden}"
                    )))
                }
            }
            Method::Adversarial { pool, .. } => pool.validate(),
            Method::Ascent(ascent) => ascent.validate(),
        }
    }
}
