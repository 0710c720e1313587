//! Projected gradient descent (Madry et al. 2018) in an ε-ball under L∞ or L2, clipped to the
//! box.
//!
//! Per problem, from a random point of the ball (seeded, or from `x` itself), `steps` times:
//! step `α` along the steepest-descent direction of the loss for the norm (`sign(g)` under
//! L∞, `g / ‖g‖₂` under L2), then project onto the ball around `x` and into the box (see
//! `eps::project`). The loss is the cross-entropy of the target (targeted) or minus the
//! cross-entropy of the true class (untargeted). With `restarts > 1` the problems not yet
//! successful start again from another random point; each keeps its first successful end
//! point, or else the one of lowest loss. The driver re-checks the goal on the kept image.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackObserver, AttackResult};
use crate::driver::{self, Chunk, ChunkAttack, ChunkPlan};
use crate::eps::{self, Norm};
use crate::error::{AttackError, Result};
use crate::goal::{Goal, Problem};
use crate::host;
use blindspot_models::Classifier;

/// Settings of [`PgdAttack`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgdConfig {
    /// What to reach.
    pub goal: Goal,
    /// Seed of the random targets and the random starts.
    pub seed: u64,
    /// The norm of the ball.
    pub norm: Norm,
    /// The radius of the ball (in the model's input units).
    pub epsilon: f32,
    /// Gradient steps per start (at least 1).
    pub steps: usize,
    /// The length `α` of a step in the ball's norm (finite, > 0).
    pub step_size: f32,
    /// Starts per problem (at least 1); later ones only for problems not yet successful.
    pub restarts: usize,
    /// Start from a uniform random point of the ball instead of `x`.
    pub random_start: bool,
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

impl Default for PgdConfig {
    /// L∞ with ε = 0.1, 40 steps of 0.01 and one random start.
    fn default() -> Self {
        Self {
            goal: Goal::Untargeted,
            seed: 0,
            norm: Norm::Linf,
            epsilon: 0.1,
            steps: 40,
            step_size: 0.01,
            restarts: 1,
            random_start: true,
            batch_size: 256,
            workers: 1,
        }
    }
}

impl PgdConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        eps::check_epsilon(self.epsilon)?;
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
        if self.restarts == 0 {
            return Err(AttackError::config("restarts", 0, "must be at least 1"));
        }
        eps::check_batching(self.batch_size, self.workers)
    }
}

/// The attack: a configuration; [`PgdAttack::run`] does the work.
#[derive(Debug, Clone, Default)]
pub struct PgdAttack {
    /// Its settings.
    pub config: PgdConfig,
}

impl PgdAttack {
    /// An attack with these settings.
    pub fn new(config: PgdConfig) -> Self {
        Self { config }
    }

    /// Attacks the images `x` `[N, D]` with true labels `labels`, as
    /// [`crate::LbfgsAttack::run`] does (same inputs, same result; `c` is NaN). Every problem
    /// draws its random starts from its own seeded generator, so the result does not depend on
    /// the batching.
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

impl ChunkAttack for PgdAttack {
    fn plan(&self) -> Result<ChunkPlan> {
        let c = &self.config;
        c.validate()?;
        Ok(ChunkPlan::new(c.goal, c.seed, c.batch_size, c.workers))
    }

    fn attack_chunk<M: Classifier>(&self, model: &M, chunk: &mut Chunk<'_>) -> Result<()> {
        let config = &self.config;
        let device = chunk.batch.x0.device();
        let bounds = model.bounds();
        let targeted = chunk.batch.targeted;
        let n = chunk.problems.len();
        let dim = chunk.batch.x0.dims()[1];
        let active = chunk.active.clone();
        let mut finished = n - active.len();
        let mut won = vec![false; n];
        let mut best_loss = vec![f32::INFINITY; n];
        for restart in 0..config.restarts {
            let rows: Vec<usize> = active.iter().copied().filter(|&i| !won[i]).collect();
            if rows.is_empty() {
                break;
            }
            let m = rows.len();
            let idx = host::indices(&rows, &device);
            let xa0 = chunk.clean(&rows);
            let goal = chunk.goals(&rows, model.num_classes());
            let mut x = if config.random_start {
                let picked: Vec<Problem> = rows.iter().map(|&i| chunk.problems[i]).collect();
                let offsets = eps::random_offsets(
                    &picked,
                    config.seed,
                    restart,
                    dim,
                    config.epsilon,
                    config.norm,
                );
                let x = xa0.clone() + host::matrix(offsets, m, dim, &device);
                eps::project(x, &xa0, config.epsilon, config.norm, bounds)
            } else {
                xa0.clone()
            };
            for _ in 0..config.steps {
                let g = eps::gradient(model, x.clone(), &goal, targeted)?;
                let moved = x - eps::direction(g, config.norm) * config.step_size;
                x = eps::project(moved, &xa0, config.epsilon, config.norm, bounds);
            }
            let z = model.logits(x.clone());
            let same = z
                .clone()
                .argmax(1)
                .equal(chunk.batch.goal.clone().select(0, idx));
            let ok = if targeted { same } else { same.bool_not() };
            let loss = eps::descent_loss(z, goal, targeted);
            let status = host::read(Tensor::cat(vec![ok.float(), loss], 1))?;
            let mut taken = Vec::new();
            for (j, &i) in rows.iter().enumerate() {
                let (ok, loss) = (status[2 * j] > 0.5, status[2 * j + 1]);
                chunk.attacked[i] = true;
                chunk.evaluations[i] += config.steps + 1;
                if ok {
                    won[i] = true;
                    finished += 1;
                    taken.push(j);
                } else if restart == 0 || loss < best_loss[i] {
                    best_loss[i] = loss;
                    taken.push(j);
                }
            }
            if !taken.is_empty() {
                let kept: Vec<usize> = taken.iter().map(|&j| rows[j]).collect();
                let values = x.select(0, host::indices(&taken, &device));
                chunk.record(&kept, values, 0);
            }
            chunk.progress(finished);
        }
        Ok(())
    }
}
