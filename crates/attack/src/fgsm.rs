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
use crate::driver::{self, Chunk, ChunkAttack, ChunkPlan};
use crate::eps;
use crate::error::Result;
use crate::goal::Goal;
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
        driver::run(self, model, x, labels, observer)
    }
}

impl ChunkAttack for FgsmAttack {
    fn plan(&self) -> Result<ChunkPlan> {
        let c = &self.config;
        c.validate()?;
        Ok(ChunkPlan::new(c.goal, c.seed, c.batch_size, c.workers))
    }

    fn attack_chunk<M: Classifier>(&self, model: &M, chunk: &mut Chunk<'_>) -> Result<()> {
        let active = chunk.active.clone();
        let bounds = model.bounds();
        let targeted = chunk.batch.targeted;
        let xa0 = chunk.clean(&active);
        let goal = chunk.goals(&active, model.num_classes());
        // The descent loss is minus the cross-entropy when untargeted: stepping against
        // its gradient's sign is `x + ε·sign(∇CE)`.
        let g = eps::gradient(model, xa0.clone(), &goal, targeted)?;
        let xs = (xa0 - g.sign() * self.config.epsilon).clamp(bounds.lo, bounds.hi);
        chunk.record(&active, xs, 1);
        Ok(())
    }
}
