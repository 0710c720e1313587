//! Carlini & Wagner's L2 attack (Carlini & Wagner, "Towards Evaluating the Robustness of Neural
//! Networks", IEEE S&P 2017, section V): Adam on a change of variables that keeps the image in
//! the box, minimizing the squared L2 distance plus `c` times a hinge on the logits, with a
//! binary search over `c` per problem.
//!
//! Per problem (clean image `x`, logits `Z`, goal class `t`: the target, or the true class `y`
//! untargeted), with `[lo, hi]` the model's box ([`Classifier::bounds`]):
//! 1. **Change of variables.** `x′ = lo + (hi − lo)(tanh(w) + 1)/2`, so every `w` gives an
//!    image in the box. The start `w₀ = atanh(u)`, `u = 2(x − lo)/(hi − lo) − 1` clamped to
//!    `±(1 − 1e-6)` so that `atanh` stays finite on pixels at the edge of the box (those start
//!    `(hi − lo)·5e-7` inside it).
//! 2. **Objective.** `‖x′ − x‖₂² + c·f(x′)` with the paper's `f₆`:
//!    `f = max(max_{k≠t} Z_k − Z_t, −κ)` targeted, `f = max(Z_y − max_{k≠y} Z_k, −κ)`
//!    untargeted (the logit `lead` of the goal, clipped at `κ`). The distance is to the clean
//!    `x` itself, not to its tanh reconstruction.
//! 3. **Adam** on `w` (`β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`, bias-corrected, learning rate
//!    `step_size`), every row of a batch at once with its own `c`, `steps` iterations per value
//!    of `c`; every round restarts from `w₀` with fresh moments, as the reference does.
//! 4. **Keeping.** At every iteration, a point that reaches the goal with a logit lead of at
//!    least `κ` (as the reference and Foolbox check it: the goal class wins by `κ`) and is
//!    closer to `x` than the best so far is kept, with its `c`.
//! 5. **Search over c.** Per problem, from `c = initial_c`, `lower = 0`, `upper = 1e10`: if the
//!    round found a point reaching the goal, `upper = min(upper, c)`, `c = (lower + upper)/2`;
//!    else `lower = max(lower, c)` and `c = (lower + upper)/2` if `upper < 1e10`, else `10c`.
//!    `search_steps` rounds.
//! 6. **Early abort** (`abort_early`). Every `max(steps/10, 1)` iterations, a row whose
//!    objective is not below `0.9999` times its value at the previous check stops moving for
//!    the rest of the round; the round ends when every row has stopped. The reference aborts
//!    the whole batch on the batch's summed loss; freezing per row leaves each problem's
//!    result independent of the others in its batch (and so of `batch_size` and `workers`).
//!    A row's evaluations count only the iterations it ran.
//!
//! **Where it differs from the reference.** `κ` below `1e-3` logits acts as `1e-3`, in `f` and
//! in the keeping test. With `κ = 0` the optimum of the hinge lies exactly on the decision
//! boundary, where Adam ends up oscillating; a point within rounding of the boundary may be read
//! as clean when the driver re-checks it with another batch size, or by another implementation
//! of the model (the re-check is a plain argmax). `1e-3` logits is the margin
//! [`crate::AttackConfig::success_margin`] uses, and costs about `1e-3 / ‖∇(Z_t − Z_k)‖` in L2.
//! On the linear test models it was not needed (with `κ = 0` kept as is the mean ratio to the
//! exact optimum was 1.00143 instead of 1.00148, and every point passed the re-check): Adam's
//! steps overshoot the boundary by more than rounding. It is a guard, at a cost of 0.005% there.
//! The paper's 10,000 iterations per round (Foolbox 3's default too) are cut to 1,000 by
//! default (100 land 1.7% above the exact optimum of the linear test models, 1,000 0.15%);
//! the other defaults are Foolbox 3's `L2CarliniWagnerAttack` ones (9 search steps,
//! learning rate 0.01, `initial_c = 1e-3`, `κ = 0`, early abort on). The paper's
//! random restarts and its tanh of the *logits* for other models are not done.
//!
//! Each problem keeps its smallest successful `x′`, or else the clean image (`c` NaN); the
//! driver re-checks the goal on it.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackObserver, AttackResult};
use crate::driver::{self, Chunk, ChunkAttack, ChunkPlan};
use crate::eps;
use crate::error::{AttackError, Result};
use crate::goal::Goal;
use crate::host;
use crate::loss::{MIN_LEAD, lead};
use crate::rows;
use blindspot_models::Classifier;

/// `tanh(w₀)` stays within `±(1 − EDGE)`, so that `atanh` is finite.
const EDGE: f32 = 1e-6;
/// The initial upper bound of the search over `c` ("none found yet").
const UPPER: f64 = 1e10;
/// Adam's first-moment decay.
const BETA1: f64 = 0.9;
/// Adam's second-moment decay.
const BETA2: f64 = 0.999;
/// Adam's denominator guard.
const ADAM_EPSILON: f32 = 1e-8;
/// Early abort: the objective must fall below this factor of its previous check's value.
const ABORT_FACTOR: f32 = 0.9999;

/// Settings of [`CwAttack`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CwConfig {
    /// What to reach.
    pub goal: Goal,
    /// Seed of the random targets.
    pub seed: u64,
    /// Rounds of the binary search over `c` (at least 1).
    pub search_steps: usize,
    /// Adam iterations per round (at least 1). The paper and Foolbox use 10,000, the default
    /// 1,000. On the linear test models 100 (with `step_size` 0.01) land 1.7% above the exact
    /// optimum on average, 1,000 0.15% above it: a step moves a pixel by at most
    /// `step_size · (hi − lo)/2`, so far boundaries take many steps to reach; early abort stops
    /// the rows that have converged.
    pub steps: usize,
    /// Adam's learning rate, in the tanh space `w` (finite, > 0).
    pub step_size: f32,
    /// The first `c` of every problem (finite, > 0).
    pub initial_c: f32,
    /// The logit lead `κ` the goal must have (finite, ≥ 0; below `1e-3` it acts as `1e-3`).
    pub confidence: f32,
    /// Stop a row's round once its objective stalls (see the module documentation).
    pub abort_early: bool,
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

impl Default for CwConfig {
    /// Foolbox 3's settings (9 search steps, learning rate 0.01, `c = 1e-3`, `κ = 0`, early
    /// abort) with 1,000 iterations per round instead of 10,000.
    fn default() -> Self {
        Self {
            goal: Goal::Untargeted,
            seed: 0,
            search_steps: 9,
            steps: 1_000,
            step_size: 0.01,
            initial_c: 1e-3,
            confidence: 0.0,
            abort_early: true,
            batch_size: 256,
            workers: 1,
        }
    }
}

impl CwConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.search_steps == 0 {
            return Err(AttackError::config("search_steps", 0, "must be at least 1"));
        }
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
        if !(self.initial_c > 0.0 && self.initial_c.is_finite()) {
            return Err(AttackError::config(
                "initial_c",
                self.initial_c,
                "must be finite and > 0",
            ));
        }
        if !(self.confidence >= 0.0 && self.confidence.is_finite()) {
            return Err(AttackError::config(
                "confidence",
                self.confidence,
                "must be finite and non-negative",
            ));
        }
        eps::check_batching(self.batch_size, self.workers)
    }

    /// Iterations between two checks of the early abort.
    fn abort_period(&self) -> usize {
        (self.steps / 10).max(1)
    }
}

/// The binary search over `c` of one problem.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Search {
    c: f64,
    lower: f64,
    upper: f64,
}

impl Search {
    fn new(c: f64) -> Self {
        Self {
            c,
            lower: 0.0,
            upper: UPPER,
        }
    }

    /// The next `c` after a round that did (`found`) or did not reach the goal.
    fn update(&mut self, found: bool) {
        if found {
            self.upper = self.upper.min(self.c);
            self.c = (self.lower + self.upper) / 2.0;
        } else {
            self.lower = self.lower.max(self.c);
            self.c = if self.upper < UPPER {
                (self.lower + self.upper) / 2.0
            } else {
                self.c * 10.0
            };
        }
    }
}

/// The attack: a configuration; [`CwAttack::run`] does the work.
#[derive(Debug, Clone, Default)]
pub struct CwAttack {
    /// Its settings.
    pub config: CwConfig,
}

impl CwAttack {
    /// An attack with these settings.
    pub fn new(config: CwConfig) -> Self {
        Self { config }
    }

    /// Attacks the images `x` `[N, D]` with true labels `labels`, as
    /// [`crate::LbfgsAttack::run`] does (same inputs, same result; `c` is the `c` of the kept
    /// example, NaN where none reached the goal).
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

impl ChunkAttack for CwAttack {
    fn plan(&self) -> Result<ChunkPlan> {
        let c = &self.config;
        c.validate()?;
        Ok(ChunkPlan::new(c.goal, c.seed, c.batch_size, c.workers))
    }

    fn attack_chunk<M: Classifier>(&self, model: &M, chunk: &mut Chunk<'_>) -> Result<()> {
        let config = &self.config;
        let active = chunk.active.clone();
        let device = chunk.batch.x0.device();
        let bounds = model.bounds();
        let targeted = chunk.batch.targeted;
        let m = active.len();
        let dim = chunk.batch.x0.dims()[1];
        let x0 = chunk.clean(&active);
        let goal = chunk.goals(&active, model.num_classes());
        let kappa = config.confidence.max(MIN_LEAD);
        let span = bounds.hi - bounds.lo;
        let w0 = x0
            .clone()
            .sub_scalar(bounds.lo)
            .mul_scalar(2.0 / span)
            .sub_scalar(1.0)
            .clamp(-(1.0 - EDGE), 1.0 - EDGE)
            .atanh();
        let ones = Tensor::<2>::ones([x0.dims()[0], 1], &x0.device());
        let mut kept = x0.clone();
        let mut kept_d2 = ones.clone().mul_scalar(f32::INFINITY);
        let mut kept_c = ones.clone().mul_scalar(f32::NAN);
        let mut search = vec![Search::new(f64::from(config.initial_c)); m];
        let period = config.abort_period();
        for _ in 0..config.search_steps {
            let cs: Vec<f32> = search.iter().map(|s| s.c as f32).collect();
            let c = host::matrix(cs, m, 1, &device);
            let mut w = w0.clone();
            let mut moment1 = w0.zeros_like();
            let mut moment2 = w0.zeros_like();
            let mut running = vec![true; m];
            let mut moving = ones.clone();
            let mut previous = vec![f32::INFINITY; m];
            let mut found = ones.clone().lower_elem(0.0);
            for step in 0..config.steps {
                let wa = w.clone().autodiff().require_grad();
                let xa = wa
                    .clone()
                    .tanh()
                    .add_scalar(1.0)
                    .mul_scalar(span / 2.0)
                    .add_scalar(bounds.lo);
                let d2 = rows::sum((xa.clone() - x0.clone()).square());
                let z = model.logits(xa.clone());
                let lead = lead(z, goal.clone(), targeted);
                let f = lead.clone().neg().clamp_min(-kappa);
                let objective = d2.clone() + f * c.clone();
                let grads = objective.clone().sum().backward();
                let g = wa.grad(&grads).ok_or(AttackError::NoGradient)?;
                for (j, &i) in active.iter().enumerate() {
                    if running[j] {
                        chunk.evaluations[i] += 1;
                    }
                }
                // Keep the closest point reaching the goal by κ.
                let d2 = d2.inner();
                let reached = lead.inner().greater_equal_elem(kappa);
                let better = reached.clone().bool_and(d2.clone().lower(kept_d2.clone()));
                found = found.bool_or(reached);
                kept_d2 = kept_d2.mask_where(better.clone(), d2);
                kept_c = kept_c.mask_where(better.clone(), c.clone());
                kept = kept.mask_where(better.expand([m, dim]), xa.inner());
                if config.abort_early && step % period == 0 {
                    let values = host::read(objective.inner())?;
                    for j in 0..m {
                        if running[j] {
                            // A NaN objective stops the row too.
                            if values[j] <= ABORT_FACTOR * previous[j] {
                                previous[j] = values[j];
                            } else {
                                running[j] = false;
                            }
                        }
                    }
                    if !running.contains(&true) {
                        break;
                    }
                    let flags = running.iter().map(|&r| f32::from(u8::from(r))).collect();
                    moving = host::matrix(flags, m, 1, &device);
                }
                // Adam, bias-corrected.
                let t = (step + 1) as i32;
                moment1 = moment1.mul_scalar(BETA1) + g.clone().mul_scalar(1.0 - BETA1);
                moment2 = moment2.mul_scalar(BETA2) + g.square().mul_scalar(1.0 - BETA2);
                let m_hat = moment1.clone().div_scalar(1.0 - BETA1.powi(t));
                let v_hat = moment2.clone().div_scalar(1.0 - BETA2.powi(t));
                let update = m_hat / v_hat.sqrt().add_scalar(ADAM_EPSILON);
                w = w - update.mul_scalar(config.step_size) * moving.clone();
            }
            let found = host::read(found.float())?;
            for (s, &f) in search.iter_mut().zip(&found) {
                s.update(f > 0.5);
            }
        }
        let kept_c = host::read(kept_c)?;
        for (j, &i) in active.iter().enumerate() {
            chunk.c[i] = kept_c[j];
        }
        // Problems that never reached the goal keep the clean image. Their evaluations were
        // counted step by step above.
        chunk.record(&active, kept, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_grows_c_tenfold_until_success_then_bisects() {
        let mut s = Search::new(1e-3);
        s.update(false);
        assert_eq!((s.lower, s.c), (1e-3, 1e-2));
        s.update(false);
        assert!((s.c - 0.1).abs() < 1e-12);
        s.update(true);
        assert!((s.upper - 0.1).abs() < 1e-12);
        assert!((s.c - (0.01 + 0.1) / 2.0).abs() < 1e-12);
        s.update(false);
        // lower = 0.055, upper = 0.1
        assert!((s.c - 0.0775).abs() < 1e-12);
        s.update(true);
        assert!((s.upper - 0.0775).abs() < 1e-12);
        assert!((s.c - (0.055 + 0.0775) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn the_abort_period_is_a_tenth_of_the_steps_and_at_least_one() {
        let with = |steps| CwConfig {
            steps,
            ..CwConfig::default()
        };
        assert_eq!(with(100).abort_period(), 10);
        assert_eq!(with(105).abort_period(), 10);
        assert_eq!(with(5).abort_period(), 1);
    }
}
