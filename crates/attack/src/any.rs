//! Any attack of this crate with its settings, as one value: [`AnyAttack`]. It is what an attack's
//! `summary.json` records (so that a saved attack is reused only for the same attack and
//! settings), what the CLI builds from its flags, and what runs any attack on any
//! [`Classifier`] with one call. Adding an attack adds a variant here and its module.

use burn::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

use crate::attack::{AttackObserver, AttackResult};
use crate::cw::{CwAttack, CwConfig};
use crate::ddn::{DdnAttack, DdnConfig};
use crate::deepfool::{DeepFoolAttack, DeepFoolConfig};
use crate::eps::Norm;
use crate::error::Result;
use crate::fgsm::{FgsmAttack, FgsmConfig};
use crate::fmn::{FmnAttack, FmnConfig};
use crate::goal::Goal;
use crate::lbfgs::{AttackConfig, LbfgsAttack};
use crate::pgd::{PgdAttack, PgdConfig};
use blindspot_models::Classifier;

/// An attack and its settings. Serialized with its name in the field `attack`
/// (`{"attack": "pgd", "goal": "untargeted", "epsilon": 0.1, …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "snake_case")]
pub enum AnyAttack {
    /// The paper's box-constrained L-BFGS (minimum L2 distortion).
    Lbfgs(AttackConfig),
    /// One signed-gradient step of L∞ size ε.
    Fgsm(FgsmConfig),
    /// Projected gradient descent in an L∞ or L2 ball.
    Pgd(PgdConfig),
    /// DeepFool (minimum L2 or L∞ distortion).
    #[serde(rename = "deepfool")]
    DeepFool(DeepFoolConfig),
    /// Decoupling Direction and Norm (minimum L2 distortion).
    Ddn(DdnConfig),
    /// Fast Minimum-Norm (minimum L2 or L∞ distortion).
    Fmn(FmnConfig),
    /// Carlini & Wagner's L2 attack (minimum L2 distortion).
    Cw(CwConfig),
}

/// What an attack's examples say: the smallest perturbation it found in a norm, or whether
/// there is one inside a ball.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A minimum-norm attack: each success is an upper bound on the distance, in this norm, to
    /// the nearest point of the goal.
    MinimumNorm(Norm),
    /// An ε-bounded attack: success means a point of the goal within `epsilon` in `norm`.
    Bounded {
        /// The norm of the ball.
        norm: Norm,
        /// Its radius.
        epsilon: f32,
    },
}

/// The names the CLI accepts for `--attack`, in the order it lists them.
pub const NAMES: [&str; 7] = ["lbfgs", "fgsm", "pgd", "deepfool", "ddn", "fmn", "cw"];

impl AnyAttack {
    /// The attack's name (`lbfgs`, `fgsm`, `pgd`, `deepfool`, `ddn`, `fmn`, `cw`), as in
    /// [`NAMES`].
    pub fn name(&self) -> &'static str {
        match self {
            AnyAttack::Lbfgs(_) => "lbfgs",
            AnyAttack::Fgsm(_) => "fgsm",
            AnyAttack::Pgd(_) => "pgd",
            AnyAttack::DeepFool(_) => "deepfool",
            AnyAttack::Ddn(_) => "ddn",
            AnyAttack::Fmn(_) => "fmn",
            AnyAttack::Cw(_) => "cw",
        }
    }

    /// The attack `name` (one of [`NAMES`]) with its default settings and `goal`; `None` for
    /// another name.
    pub fn default_of(name: &str, goal: Goal) -> Option<AnyAttack> {
        Some(match name {
            "lbfgs" => AnyAttack::lbfgs(goal),
            "fgsm" => AnyAttack::Fgsm(FgsmConfig {
                goal,
                ..FgsmConfig::default()
            }),
            "pgd" => AnyAttack::Pgd(PgdConfig {
                goal,
                ..PgdConfig::default()
            }),
            "deepfool" => AnyAttack::DeepFool(DeepFoolConfig {
                goal,
                ..DeepFoolConfig::default()
            }),
            "ddn" => AnyAttack::Ddn(DdnConfig {
                goal,
                ..DdnConfig::default()
            }),
            "fmn" => AnyAttack::Fmn(FmnConfig {
                goal,
                ..FmnConfig::default()
            }),
            "cw" => AnyAttack::Cw(CwConfig {
                goal,
                ..CwConfig::default()
            }),
            _ => return None,
        })
    }

    /// The paper's L-BFGS attack with its default settings and `goal`.
    pub fn lbfgs(goal: Goal) -> AnyAttack {
        AnyAttack::Lbfgs(AttackConfig {
            goal,
            ..AttackConfig::default()
        })
    }

    /// A short human-readable label: `L-BFGS`, `FGSM ε=0.1`, `PGD L2 ε=1.5`, `DeepFool L∞`,
    /// `DDN`, `FMN L2`, `C&W L2`.
    pub fn label(&self) -> String {
        let norm = Norm::symbol;
        match self {
            AnyAttack::Lbfgs(_) => "L-BFGS".into(),
            AnyAttack::Fgsm(c) => format!("FGSM ε={}", c.epsilon),
            AnyAttack::Pgd(c) => format!("PGD {} ε={}", norm(c.norm), c.epsilon),
            AnyAttack::DeepFool(c) => format!("DeepFool {}", norm(c.norm)),
            AnyAttack::Ddn(_) => "DDN".into(),
            AnyAttack::Fmn(c) => format!("FMN {}", norm(c.norm)),
            AnyAttack::Cw(_) => "C&W L2".into(),
        }
    }

    /// A name for the attack's folder, unique per attack, norm and ε: `lbfgs`, `fgsm-0.1`,
    /// `pgd-linf-0.1`, `deepfool-l2`, `ddn`, `fmn-linf`, `cw`.
    pub fn slug(&self) -> String {
        match self {
            AnyAttack::Lbfgs(_) | AnyAttack::Ddn(_) | AnyAttack::Cw(_) => self.name().into(),
            AnyAttack::Fgsm(c) => format!("fgsm-{}", c.epsilon),
            AnyAttack::Pgd(c) => format!("pgd-{}-{}", c.norm, c.epsilon),
            AnyAttack::DeepFool(c) => format!("deepfool-{}", c.norm),
            AnyAttack::Fmn(c) => format!("fmn-{}", c.norm),
        }
    }

    /// What the attack's examples say (see [`Kind`]).
    pub fn kind(&self) -> Kind {
        match self {
            AnyAttack::Lbfgs(_) | AnyAttack::Ddn(_) | AnyAttack::Cw(_) => {
                Kind::MinimumNorm(Norm::L2)
            }
            AnyAttack::DeepFool(c) => Kind::MinimumNorm(c.norm),
            AnyAttack::Fmn(c) => Kind::MinimumNorm(c.norm),
            AnyAttack::Fgsm(c) => Kind::Bounded {
                norm: Norm::Linf,
                epsilon: c.epsilon,
            },
            AnyAttack::Pgd(c) => Kind::Bounded {
                norm: c.norm,
                epsilon: c.epsilon,
            },
        }
    }

    /// What the attack tries to reach.
    pub fn goal(&self) -> Goal {
        match self {
            AnyAttack::Lbfgs(c) => c.goal,
            AnyAttack::Fgsm(c) => c.goal,
            AnyAttack::Pgd(c) => c.goal,
            AnyAttack::DeepFool(c) => c.goal,
            AnyAttack::Ddn(c) => c.goal,
            AnyAttack::Fmn(c) => c.goal,
            AnyAttack::Cw(c) => c.goal,
        }
    }

    /// The same attack and settings with another goal and seed (of its random targets and
    /// starts).
    pub fn with_goal(&self, goal: Goal, seed: u64) -> AnyAttack {
        let mut attack = self.clone();
        match &mut attack {
            AnyAttack::Lbfgs(c) => (c.goal, c.seed) = (goal, seed),
            AnyAttack::Fgsm(c) => (c.goal, c.seed) = (goal, seed),
            AnyAttack::Pgd(c) => (c.goal, c.seed) = (goal, seed),
            AnyAttack::DeepFool(c) => (c.goal, c.seed) = (goal, seed),
            AnyAttack::Ddn(c) => (c.goal, c.seed) = (goal, seed),
            AnyAttack::Fmn(c) => (c.goal, c.seed) = (goal, seed),
            AnyAttack::Cw(c) => (c.goal, c.seed) = (goal, seed),
        }
        attack
    }

    /// The same attack run by `workers` batches at a time (which does not change its result).
    pub fn with_workers(&self, workers: usize) -> AnyAttack {
        let mut method = self.clone();
        *method.batching_mut().1 = workers;
        method
    }

    /// The batch size and the worker count of the settings.
    fn batching_mut(&mut self) -> (&mut usize, &mut usize) {
        match self {
            AnyAttack::Lbfgs(c) => (&mut c.batch_size, &mut c.workers),
            AnyAttack::Fgsm(c) => (&mut c.batch_size, &mut c.workers),
            AnyAttack::Pgd(c) => (&mut c.batch_size, &mut c.workers),
            AnyAttack::DeepFool(c) => (&mut c.batch_size, &mut c.workers),
            AnyAttack::Ddn(c) => (&mut c.batch_size, &mut c.workers),
            AnyAttack::Fmn(c) => (&mut c.batch_size, &mut c.workers),
            AnyAttack::Cw(c) => (&mut c.batch_size, &mut c.workers),
        }
    }

    /// Whether `other` is the same attack with the same settings up to batching (batch size and
    /// workers change how the problems are cut, not what is computed for each): a saved attack
    /// is reused for it.
    pub fn same_attack(&self, other: &AnyAttack) -> bool {
        let uncut = |m: &AnyAttack| {
            let mut m = m.clone();
            let (batch, workers) = m.batching_mut();
            (*batch, *workers) = (1, 1);
            m
        };
        uncut(self) == uncut(other)
    }

    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        match self {
            AnyAttack::Lbfgs(c) => c.validate(),
            AnyAttack::Fgsm(c) => c.validate(),
            AnyAttack::Pgd(c) => c.validate(),
            AnyAttack::DeepFool(c) => c.validate(),
            AnyAttack::Ddn(c) => c.validate(),
            AnyAttack::Fmn(c) => c.validate(),
            AnyAttack::Cw(c) => c.validate(),
        }
    }

    /// Attacks the images `x` `[N, C·H·W]` (in the model's box) with true labels `labels`.
    pub fn run<M: Classifier + Sync>(
        &self,
        model: &M,
        x: Tensor<2>,
        labels: &[usize],
        observer: &mut dyn AttackObserver,
    ) -> Result<AttackResult> {
        match self {
            AnyAttack::Lbfgs(c) => LbfgsAttack::new(c.clone()).run(model, x, labels, observer),
            AnyAttack::Fgsm(c) => FgsmAttack::new(c.clone()).run(model, x, labels, observer),
            AnyAttack::Pgd(c) => PgdAttack::new(c.clone()).run(model, x, labels, observer),
            AnyAttack::DeepFool(c) => {
                DeepFoolAttack::new(c.clone()).run(model, x, labels, observer)
            }
            AnyAttack::Ddn(c) => DdnAttack::new(c.clone()).run(model, x, labels, observer),
            AnyAttack::Fmn(c) => FmnAttack::new(c.clone()).run(model, x, labels, observer),
            AnyAttack::Cw(c) => CwAttack::new(c.clone()).run(model, x, labels, observer),
        }
    }
}

/// Every attack's settings convert into [`AnyAttack`].
macro_rules! from_config {
    ($($config:ty => $variant:ident),* $(,)?) => {$(
        impl From<$config> for AnyAttack {
            fn from(config: $config) -> Self {
                AnyAttack::$variant(config)
            }
        }
    )*};
}

from_config!(
    AttackConfig => Lbfgs,
    FgsmConfig => Fgsm,
    PgdConfig => Pgd,
    DeepFoolConfig => DeepFool,
    DdnConfig => Ddn,
    FmnConfig => Fmn,
    CwConfig => Cw,
);

/// Reads a [`AnyAttack`], or the bare [`AttackConfig`] that summaries written before there were
/// other attacks hold (an L-BFGS attack).
pub(crate) fn any_or_lbfgs<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<AnyAttack, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    let tagged = value.get("attack").is_some();
    if tagged {
        serde_json::from_value(value).map_err(serde::de::Error::custom)
    } else {
        serde_json::from_value::<AttackConfig>(value)
            .map(AnyAttack::Lbfgs)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_its_defaults_and_round_trips_through_json() {
        for name in NAMES {
            let method = AnyAttack::default_of(name, Goal::Target(3)).unwrap();
            assert_eq!(method.name(), name);
            assert_eq!(method.goal(), Goal::Target(3));
            method.validate().unwrap();
            let json = serde_json::to_value(&method).unwrap();
            assert_eq!(json["attack"], name);
            let back: AnyAttack = serde_json::from_value(json).unwrap();
            assert_eq!(back, method);
        }
        assert_eq!(AnyAttack::default_of("cw2", Goal::Untargeted), None);
        let random = AnyAttack::default_of("fmn", Goal::Untargeted)
            .unwrap()
            .with_goal(Goal::Random, 9);
        assert!(matches!(random, AnyAttack::Fmn(c) if c.goal == Goal::Random && c.seed == 9));
    }

    #[test]
    fn a_summary_of_an_earlier_version_reads_as_lbfgs() {
        let config = AttackConfig {
            seed: 7,
            ..AttackConfig::default()
        };
        let json = serde_json::to_string(&config).unwrap();
        let method = any_or_lbfgs(&mut serde_json::Deserializer::from_str(&json)).unwrap();
        assert_eq!(method, AnyAttack::Lbfgs(config));
    }

    #[test]
    fn batching_does_not_make_another_attack_but_any_setting_does() {
        let base = AnyAttack::Pgd(PgdConfig::default());
        let mut rebatched = PgdConfig {
            batch_size: 7,
            ..PgdConfig::default()
        };
        rebatched.workers = 3;
        assert!(base.same_attack(&AnyAttack::Pgd(rebatched)));
        assert!(base.with_workers(4).same_attack(&base));
        let other = AnyAttack::Pgd(PgdConfig {
            epsilon: 0.2,
            ..PgdConfig::default()
        });
        assert!(!base.same_attack(&other));
        assert!(!base.same_attack(&AnyAttack::Fgsm(FgsmConfig::default())));
        assert_ne!(base.slug(), other.slug());
    }
}
