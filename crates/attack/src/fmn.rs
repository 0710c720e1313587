//! Fast Minimum-Norm attack (Pintor et al., NeurIPS 2021): a minimum-norm attack under L2 or
//! L∞ that steps the perturbation by the normalized gradient of the logit margin and projects it
//! onto a ball whose radius `ε` follows the boundary.
//!
//! Per problem, with `δ = 0`, `steps` times (step `i` of `S`, `c = (1 + cos(πi/S))/2`,
//! `αᵢ = α_final + (α_init − α_final)·c`, `γᵢ = γ_final + (γ_init − γ_final)·c`):
//! 1. at `x′ = x + δ`, the margin `m = z_goal − max_{k≠goal} z_k` (the goal is the target, or
//!    the true class untargeted) and its input gradient `∇m`; `x′` is adversarial when the
//!    goal leads by `1e-3` logits: the target over every other class (targeted), another class
//!    over the true one (untargeted) — on the boundary itself another implementation's
//!    rounding can flip the class; it is kept if `‖δ‖` is below the best so far;
//! 2. `ε ← min(ε, ‖δ‖)·(1 − γᵢ)` if `x′` is adversarial; else `ε ← ε(1 + γᵢ)` once an
//!    adversarial point has been seen, and before that
//!    `ε ← max(ε, ‖δ‖ + |m| / ‖∇m‖_*)(1 + γᵢ)` (from `ε = 0`)
//!    (the distance to the boundary of the model linearized at `x′`; `‖·‖_*` the dual norm:
//!    `‖·‖₂` for L2, `‖·‖₁` for L∞); `ε` is capped at the norm of the farthest point of the
//!    box. The factor `1 + γᵢ` and the `max` are not in the paper: without the factor, on a
//!    model that is linear (or nearly) the point lands on the boundary instead of crossing it;
//!    without the `max`, where the box clips the step the linearized distance from the clipped
//!    point can fall short again and again (no point ever became adversarial for 12% of the
//!    images of a briefly trained softmax1, all within 0.3 of the boundary);
//! 3. `δ ← δ − αᵢ·g/‖g‖₂` for both norms (the paper's algorithm; a sign step for L∞ moved
//!    every pixel by up to `α` and ended 13% farther than Foolbox 3's FMN on an MLP), `g` the
//!    gradient of the loss descended (`−m` targeted, `m` untargeted; a zero gradient leaves
//!    `δ` as it is);
//! 4. `δ` is projected onto the `ε`-ball (L2: radial scaling; L∞: clipping), then
//!    `δ ← clamp(x + δ) − x`.
//!
//! Each problem keeps its smallest successful `x′`, or else its last one; the driver re-checks
//! the goal on it.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackObserver, AttackResult};
use crate::driver::{self, Chunk, ChunkAttack, ChunkPlan};
use crate::eps::{self, Norm};
use crate::error::{AttackError, Result};
use crate::goal::Goal;
use crate::loss::{MIN_LEAD, lead};
use crate::rows;
use blindspot_models::Classifier;

/// Settings of [`FmnAttack`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FmnConfig {
    /// What to reach.
    pub goal: Goal,
    /// Seed of the random targets.
    pub seed: u64,
    /// The norm whose distance is minimized.
    pub norm: Norm,
    /// Iterations per problem (at least 1).
    pub steps: usize,
    /// The first step size `α` of the cosine schedule (finite, > 0).
    pub alpha_init: f32,
    /// The last step size (finite, in `(0, alpha_init]`).
    pub alpha_final: f32,
    /// The first factor `γ` by which `ε` shrinks or grows (in `(0, 1)`).
    pub gamma_init: f32,
    /// The last factor `γ` (in `[0, gamma_init]`).
    pub gamma_final: f32,
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

impl Default for FmnConfig {
    /// L2, 100 steps, `α` from 1 to 0.01, `γ` from 0.05 to 0.001 (the paper's settings).
    fn default() -> Self {
        Self {
            goal: Goal::Untargeted,
            seed: 0,
            norm: Norm::L2,
            steps: 100,
            alpha_init: 1.0,
            alpha_final: 0.01,
            gamma_init: 0.05,
            gamma_final: 0.001,
            batch_size: 256,
            workers: 1,
        }
    }
}

impl FmnConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(AttackError::config("steps", 0, "must be at least 1"));
        }
        if !(self.alpha_init > 0.0 && self.alpha_init.is_finite()) {
            return Err(AttackError::config(
                "alpha_init",
                self.alpha_init,
                "must be finite and > 0",
            ));
        }
        if !(self.alpha_final > 0.0 && self.alpha_final <= self.alpha_init) {
            return Err(AttackError::config(
                "alpha_final",
                self.alpha_final,
                "must lie in (0, alpha_init]",
            ));
        }
        if !(self.gamma_init > 0.0 && self.gamma_init < 1.0) {
            return Err(AttackError::config(
                "gamma_init",
                self.gamma_init,
                "must lie in (0, 1)",
            ));
        }
        if !(self.gamma_final >= 0.0 && self.gamma_final <= self.gamma_init) {
            return Err(AttackError::config(
                "gamma_final",
                self.gamma_final,
                "must lie in [0, gamma_init]",
            ));
        }
        eps::check_batching(self.batch_size, self.workers)
    }

    /// The step size `α` and factor `γ` of step `i` (cosine annealing).
    fn schedule(&self, i: usize) -> (f32, f32) {
        let phase = std::f64::consts::PI * i as f64 / self.steps as f64;
        let c = (1.0 + phase.cos()) / 2.0;
        let anneal = |first: f32, last: f32| {
            (f64::from(last) + (f64::from(first) - f64::from(last)) * c) as f32
        };
        (
            anneal(self.alpha_init, self.alpha_final),
            anneal(self.gamma_init, self.gamma_final),
        )
    }
}

/// The attack: a configuration; [`FmnAttack::run`] does the work.
#[derive(Debug, Clone, Default)]
pub struct FmnAttack {
    /// Its settings.
    pub config: FmnConfig,
}

/// The dual norm `‖g‖_*` of each row `[n, 1]`.
fn dual_norm(g: Tensor<2>, norm: Norm) -> Tensor<2> {
    match norm {
        Norm::L2 => rows::sum(g.square()).sqrt(),
        Norm::Linf => rows::sum(g.abs()),
    }
}

impl FmnAttack {
    /// An attack with these settings.
    pub fn new(config: FmnConfig) -> Self {
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

impl ChunkAttack for FmnAttack {
    fn plan(&self) -> Result<ChunkPlan> {
        let c = &self.config;
        c.validate()?;
        Ok(ChunkPlan::new(c.goal, c.seed, c.batch_size, c.workers))
    }

    fn attack_chunk<M: Classifier>(&self, model: &M, chunk: &mut Chunk<'_>) -> Result<()> {
        let config = &self.config;
        let norm = config.norm;
        let active = chunk.active.clone();
        let bounds = model.bounds();
        let targeted = chunk.batch.targeted;
        let m = active.len();
        let dim = chunk.batch.x0.dims()[1];
        let x0 = chunk.clean(&active);
        let goal = chunk.goals(&active, model.num_classes());
        let worst = eps::farthest_in_box(&x0, bounds, norm);
        let mut delta = x0.zeros_like();
        let mut epsilon = worst.zeros_like();
        let mut kept = x0.clone();
        let mut kept_norm = worst.zeros_like().add_scalar(f32::INFINITY);
        let mut found = worst.zeros_like().lower_elem(0.0);
        for i in 0..config.steps {
            let (alpha, gamma) = config.schedule(i);
            let xs = x0.clone() + delta.clone();
            let xa = xs.clone().autodiff().require_grad();
            let z = model.logits(xa.clone());
            let lead = lead(z.clone(), goal.clone(), targeted);
            // The loss descended raises the lead.
            let grads = lead.clone().neg().sum().backward();
            let g = xa.grad(&grads).ok_or(AttackError::NoGradient)?;
            let lead = lead.inner();
            // Adversarial: past the boundary by a margin no rounding undoes, for the
            // schedule of ε as for the points kept.
            let reached = lead.clone().greater_elem(MIN_LEAD);
            let length = eps::row_norm(delta.clone(), norm);
            let better = reached
                .clone()
                .bool_and(length.clone().lower(kept_norm.clone()));
            kept_norm = kept_norm.mask_where(better.clone(), length.clone());
            kept = kept.mask_where(better.expand([m, dim]), xs);
            // The distance to the linearized boundary (infinite where ∇m vanishes).
            let distance = lead.abs() / dual_norm(g.clone(), norm).clamp_min(f32::MIN_POSITIVE);
            // Before the first adversarial point ε never shrinks: where the box clips the
            // step, the linearized distance from the clipped point can fall short again
            // and again (it left 12% of a smoke-trained softmax1's images unbroken).
            let grow = epsilon.clone().mul_scalar(1.0 + gamma).mask_where(
                found.clone().bool_not(),
                (length.clone() + distance)
                    .max_pair(epsilon.clone())
                    .mul_scalar(1.0 + gamma),
            );
            let shrink = epsilon.clone().min_pair(length).mul_scalar(1.0 - gamma);
            epsilon = grow
                .mask_where(reached.clone(), shrink)
                .min_pair(worst.clone());
            found = found.bool_or(reached);
            // The step is the L2-normalized gradient for every norm, as in the paper's
            // algorithm (and Foolbox 3); the projection below makes it an L∞ step.
            delta = delta - eps::direction(g, Norm::L2) * alpha;
            delta = match norm {
                Norm::L2 => {
                    let length = eps::row_norm(delta.clone(), norm).clamp_min(f32::MIN_POSITIVE);
                    delta * (epsilon.clone() / length).clamp_max(1.0)
                }
                Norm::Linf => delta
                    .clone()
                    .max_pair(epsilon.clone().neg().expand([m, dim]))
                    .min_pair(epsilon.clone().expand([m, dim])),
            };
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
    fn the_schedules_anneal_from_their_first_to_their_last_values() {
        let config = FmnConfig {
            steps: 4,
            alpha_init: 2.0,
            alpha_final: 0.02,
            gamma_init: 0.1,
            gamma_final: 0.0,
            ..FmnConfig::default()
        };
        let half = std::f64::consts::FRAC_1_SQRT_2;
        let cosine = [1.0, (1.0 + half) / 2.0, 0.5, (1.0 - half) / 2.0];
        for (i, c) in cosine.iter().enumerate() {
            let (alpha, gamma) = config.schedule(i);
            assert!((f64::from(alpha) - (0.02 + 1.98 * c)).abs() < 1e-6, "{i}");
            assert!((f64::from(gamma) - 0.1 * c).abs() < 1e-7, "{i}");
        }
    }
}
