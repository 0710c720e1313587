//! Decoupling Direction and Norm (Rony et al., CVPR 2019): a minimum-L2-norm attack that
//! steps the direction of the perturbation by the loss's gradient and sets its norm by a
//! separate rule, clipped to the box.
//!
//! Per problem, with `δ = 0` and `ε = init_norm`, `steps` times (step `i` of `S`):
//! 1. at `x′ = x + δ`, the goal counts as reached when it leads by `1e-3` logits (on the
//!    boundary itself another implementation's rounding can flip the class); if it is reached
//!    and `‖δ‖₂` is below the best so far, `x′` is kept;
//! 2. `δ ← δ − αᵢ·g/‖g‖₂`, `g` the input gradient of the cross-entropy of the target
//!    (targeted) or of minus the cross-entropy of the true class (untargeted), with the cosine
//!    schedule `αᵢ = α_min + (α − α_min)(1 + cos(πi/S))/2`, `α_min = 0.01` (the reference
//!    implementation's; a zero gradient leaves `δ` as it is);
//! 3. `ε ← ε(1 − γ)` if `x′` reached the goal, else `ε(1 + γ)`, capped at the norm of the
//!    farthest point of the box;
//! 4. `δ ← ε·δ/‖δ‖₂`, then `δ ← clamp(x + δ) − x`.
//!
//! Quantization of the reference implementation is not done. Each problem keeps its smallest
//! successful `x′`, or else its last one; the driver re-checks the goal on it.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackObserver, AttackResult};
use crate::driver::{self, Chunk, ChunkAttack, ChunkPlan};
use crate::eps::{self, Norm};
use crate::error::{AttackError, Result};
use crate::goal::Goal;
use crate::loss::{MIN_LEAD, lead};
use blindspot_models::Classifier;

/// The last step size of the cosine schedule (the reference implementation's).
const FINAL_STEP_SIZE: f32 = 0.01;

/// Settings of [`DdnAttack`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DdnConfig {
    /// What to reach.
    pub goal: Goal,
    /// Seed of the random targets.
    pub seed: u64,
    /// Iterations per problem (at least 1).
    pub steps: usize,
    /// The first step size `α` of the cosine schedule, in L2 (finite, > 0).
    pub step_size: f32,
    /// The factor `γ` by which the norm shrinks or grows each step (in (0, 1)).
    pub gamma: f32,
    /// The first norm `ε` (finite, > 0).
    pub init_norm: f32,
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

impl Default for DdnConfig {
    /// The paper's settings: 100 steps, `α = 1`, `γ = 0.05`, `ε = 1`.
    fn default() -> Self {
        Self {
            goal: Goal::Untargeted,
            seed: 0,
            steps: 100,
            step_size: 1.0,
            gamma: 0.05,
            init_norm: 1.0,
            batch_size: 256,
            workers: 1,
        }
    }
}

impl DdnConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(AttackError::config("steps", 0, "must be at least 1"));
        }
        if !(self.step_size > 0.0 && self.step_size.is_finite()) {
            return Err(AttackError::config(
                "step_size",
                self.step_size,
                "must be finite and > 0",
            ));
        }
        if !(self.gamma > 0.0 && self.gamma < 1.0) {
            return Err(AttackError::config(
                "gamma",
                self.gamma,
                "must lie in (0, 1)",
            ));
        }
        if !(self.init_norm > 0.0 && self.init_norm.is_finite()) {
            return Err(AttackError::config(
                "init_norm",
                self.init_norm,
                "must be finite and > 0",
            ));
        }
        eps::check_batching(self.batch_size, self.workers)
    }

    /// The step size of step `i` (cosine annealing from `step_size` to 0.01).
    fn alpha(&self, i: usize) -> f32 {
        let phase = std::f64::consts::PI * i as f64 / self.steps as f64;
        let span = f64::from(self.step_size - FINAL_STEP_SIZE);
        (f64::from(FINAL_STEP_SIZE) + span * (1.0 + phase.cos()) / 2.0) as f32
    }
}

/// The attack: a configuration; [`DdnAttack::run`] does the work.
#[derive(Debug, Clone, Default)]
pub struct DdnAttack {
    /// Its settings.
    pub config: DdnConfig,
}

impl DdnAttack {
    /// An attack with these settings.
    pub fn new(config: DdnConfig) -> Self {
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

impl ChunkAttack for DdnAttack {
    fn plan(&self) -> Result<ChunkPlan> {
        let c = &self.config;
        c.validate()?;
        Ok(ChunkPlan::new(c.goal, c.seed, c.batch_size, c.workers))
    }

    fn attack_chunk<M: Classifier>(&self, model: &M, chunk: &mut Chunk<'_>) -> Result<()> {
        let config = &self.config;
        let active = chunk.active.clone();
        let bounds = model.bounds();
        let targeted = chunk.batch.targeted;
        let m = active.len();
        let dim = chunk.batch.x0.dims()[1];
        let x0 = chunk.clean(&active);
        let goal = chunk.goals(&active, model.num_classes());
        let worst = eps::farthest_in_box(&x0, bounds, Norm::L2);
        let mut delta = x0.zeros_like();
        let mut norm = worst.zeros_like().add_scalar(config.init_norm);
        let mut kept = x0.clone();
        let mut kept_norm = worst.zeros_like().add_scalar(f32::INFINITY);
        for i in 0..config.steps {
            let xs = x0.clone() + delta.clone();
            let xa = xs.clone().autodiff().require_grad();
            let z = model.logits(xa.clone());
            let loss = eps::descent_loss(z.clone(), goal.clone(), targeted);
            let grads = loss.sum().backward();
            let g = xa.grad(&grads).ok_or(AttackError::NoGradient)?;
            // Reached: past the boundary by a margin no rounding undoes, for the norm's
            // schedule as for the points kept.
            let reached = lead(z.inner(), goal.clone(), targeted).greater_elem(MIN_LEAD);
            let length = eps::row_norm(delta.clone(), Norm::L2);
            let better = reached
                .clone()
                .bool_and(length.clone().lower(kept_norm.clone()));
            kept_norm = kept_norm.mask_where(better.clone(), length);
            kept = kept.mask_where(better.expand([m, dim]), xs);
            delta = delta - eps::direction(g, Norm::L2) * config.alpha(i);
            // ε(1 − γ) where reached, ε(1 + γ) elsewhere.
            let sign = reached.float().mul_scalar(2.0).sub_scalar(1.0);
            norm =
                (norm * (sign.mul_scalar(-config.gamma).add_scalar(1.0))).min_pair(worst.clone());
            let length = eps::row_norm(delta.clone(), Norm::L2).clamp_min(f32::MIN_POSITIVE);
            delta = delta * (norm.clone() / length);
            delta = (x0.clone() + delta).clamp(bounds.lo, bounds.hi) - x0.clone();
        }
        // Problems that never reached the goal keep their last point.
        let found = kept_norm.is_finite();
        let last = x0 + delta;
        let chosen = last.mask_where(found.expand([m, dim]), kept);
        chunk.record(&active, chosen, config.steps);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_size_anneals_from_alpha_towards_the_final_one() {
        let config = DdnConfig {
            steps: 4,
            step_size: 2.0,
            ..DdnConfig::default()
        };
        // α_min + (α − α_min)(1 + cos(πi/4))/2 with α = 2, α_min = 0.01.
        let half = std::f64::consts::FRAC_1_SQRT_2;
        let want = [
            2.0,
            0.01 + 1.99 * (1.0 + half) / 2.0,
            1.005,
            0.01 + 1.99 * (1.0 - half) / 2.0,
        ];
        for (i, w) in want.iter().enumerate() {
            assert!((f64::from(config.alpha(i)) - w).abs() < 1e-6, "{i}");
        }
    }
}
