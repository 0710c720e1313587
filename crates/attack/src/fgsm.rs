//! The fast gradient sign method (Goodfellow et al. 2015): one step of size ε along the sign
//! of the cross-entropy's input gradient, clipped to the box.
//!
//! Untargeted: `x′ = clamp(x + ε·sign(∇ₓ CE(x, y)))`, away from the true class. Targeted:
//! `x′ = clamp(x − ε·sign(∇ₓ CE(x, t)))`, towards the target. The step lies in the L∞ ball of
//! radius ε, so no projection is needed beyond the box. The driver re-checks the goal on `x′`
//! with a plain forward pass; the distortion (the paper's RMS) is reported where it succeeds.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackObserver, AttackResult};
use crate::driver::{self, Batch, replace_rows};
use crate::eps;
use crate::error::Result;
use crate::goal::{Goal, Problem};
use crate::host;
use crate::loss::one_hot;
use blindspot_models::Classifier;

/// Settings of [`FgsmAttack`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FgsmConfig {
    /// What to reach.
    pub goal: Goal,
    /// Seed of the random targets.
    pub seed: u64,
    /// The step, the radius of the L∞ ball (in the model's input units).
    pub epsilon: f32,
    /// Problems per device batch at most.
    pub batch_size: usize,
    /// Batches attacked at the same time (see [`crate::AttackConfig::workers`]). Not part of the
    /// serialized settings.
    #[serde(skip, default = "one")]
    pub workers: usize,
}

fn one() -> usize {
    1
}

impl Default for FgsmConfig {
    fn default() -> Self {
        Self {
            goal: Goal::Untargeted,
            seed: 0,
            epsilon: 0.1,
            batch_size: 256,
            workers: 1,
        }
    }
}

impl FgsmConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        eps::check_epsilon(self.epsilon)?;
        eps::check_batching(self.batch_size, self.workers)
    }
}

/// The attack: a configuration; [`FgsmAttack::run`] does the work.
#[derive(Debug, Clone, Default)]
pub struct FgsmAttack {
    /// Its settings.
    pub config: FgsmConfig,
}

impl FgsmAttack {
    /// An attack with these settings.
    pub fn new(config: FgsmConfig) -> Self {
        Self { config }
    }

    /// Attacks the images `x` `[N, D]` with true labels `labels`, as
    /// [`crate::LbfgsAttack::run`] does (same inputs, same result; `c` is NaN).
    pub fn run<M: Classifier + Sync>(
        &self,
        model: &M,
        x: Tensor<2>,
        labels: &[usize],
        observer: &mut dyn AttackObserver,
    ) -> Result<AttackResult> {
        let config = &self.config;
        config.validate()?;
        let plan =
            driver::ChunkPlan::new(config.goal, config.seed, config.batch_size, config.workers);
        driver::run_per_chunk(
            model,
            x,
            labels,
            observer,
            plan,
            |x, chunk, targeted, out, report| {
                self.attack_chunk(model, x, chunk, targeted, out, report)
            },
        )
    }

    fn attack_chunk<M: Classifier>(
        &self,
        model: &M,
        x_all: &Tensor<2>,
        problems: &[Problem],
        targeted: bool,
        out: &mut AttackResult,
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let device = x_all.device();
        let bounds = model.bounds();
        let classes = model.num_classes();
        let n = problems.len();
        let batch = Batch::new(model, x_all, problems, targeted)?;
        let active = batch.to_attack();
        progress(n - active.len());
        let mut evaluations = vec![1usize; n];
        let mut attacked = vec![false; n];
        let mut best = batch.x0.clone();
        if !active.is_empty() {
            let idx = host::indices(&active, &device);
            let xa0 = batch.x0.clone().select(0, idx);
            let goal: Vec<usize> = active.iter().map(|&i| batch.goal_class[i]).collect();
            let goal = host::matrix(one_hot(&goal, classes), active.len(), classes, &device);
            // The descent loss is minus the cross-entropy when untargeted: stepping against
            // its gradient's sign is `x + ε·sign(∇CE)`.
            let g = eps::gradient(model, xa0.clone(), &goal, targeted)?;
            let xs = (xa0 - g.sign() * self.config.epsilon).clamp(bounds.lo, bounds.hi);
            best = replace_rows(best, &active, xs);
            for &i in &active {
                attacked[i] = true;
                evaluations[i] += 1;
            }
        }
        batch.finish(
            model,
            problems,
            best,
            &attacked,
            &vec![f32::NAN; n],
            &evaluations,
            out,
        )
    }
}
