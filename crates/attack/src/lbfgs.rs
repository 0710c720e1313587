//! The box-constrained L-BFGS attack of section 4.1, batched.
//!
//! For every problem (an image `x` with true label `y` and a goal), minimize
//!
//! ```text
//! c · ‖r‖₂² + loss_f(x + r, l)    subject to  x + r ∈ [lo, hi]^m
//! ```
//!
//! with `[lo, hi]` the model's box ([`Classifier::bounds`]; the paper's `[0, 1]` for MNIST)
//! and `m` its input's `C·H·W` values.
//!
//! **Norm.** The squared Euclidean norm: it is smooth (gradient `2r`), which L-BFGS needs, and
//! its square root is what the paper reports (its distortion is the RMS of `r`, see
//! [`crate::distortion`]).
//!
//! **Which c.** The paper asks for "the minimum c > 0 for which the minimizer r satisfies
//! f(x + r) = l", but with `c` on the distortion term a *smaller* `c` always makes reaching `l`
//! easier and the perturbation larger, so the minimum is not the interesting end. We keep the
//! **largest** `c` that still reaches the goal: that is the `c` whose minimizer is the smallest
//! successful perturbation. Per problem, the search over `c` brackets exponentially (×/÷
//! `c_factor` from `initial_c` until the goal flips), then bisects geometrically between the
//! largest success and the smallest failure. The smallest successful perturbation seen at any
//! `c` is kept.
//!
//! **Losses.** Targeted goals use the paper's cross-entropy of the target by default
//! ([`TargetedLoss`]). The untargeted goal is the minimum over rival classes `l` of the
//! problems "`l` overtakes `y`", each with the squared hinge `max(z_y − z_l + κ, 0)²`. Which
//! rivals: the `candidates` classes nearest in DeepFool's first-order estimate
//! `(z_y − z_l) / ‖∇z_y − ∇z_l‖` at `x`, ranked among the `rival_shortlist` classes of largest
//! logit (one input gradient each, plus one for `y`), so that the cost and the memory of the
//! choice do not grow with the class count (a 1,000-class ImageNet model ranks 10 rivals, not
//! 999; a 10-class MNIST model ranks all 9). A margin on the currently
//! strongest other class instead follows the logits, not the distance, and on softmax1 lands on
//! a farther boundary for one image in six (2% above the exact optimum on average).
//!
//! **Refinement.** The solution at the chosen `c` sits a little past the decision boundary
//! (cross-entropy keeps pulling, the margin asks for `κ`). A bisection along the segment from
//! `x` to the best adversarial image finds the point on it closest to `x` that still reaches
//! the goal with a logit margin of `success_margin` (`refine_steps` forward passes, no
//! gradients). On a linear model whose optimum is interior this lands on the exact optimum
//! moved `success_margin / ‖w_l − w_y‖` past the boundary; the margin keeps the example
//! adversarial when another implementation of the model evaluates it.
//!
//! **Never trust the solver.** Success is re-checked on the final clipped images with a plain
//! forward pass; the model is used in evaluation mode ([`Classifier::logits`]). Images the
//! model already misclassifies are flagged; an untargeted goal is reached there at distortion
//! 0, a target is still attacked unless the model already predicts it.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackObserver, AttackResult};
use crate::driver::{self, Batch, replace_rows};
use crate::error::{AttackError, Result};
use crate::goal::{Goal, Problem};
use crate::host;
use crate::lbfgsb::{LbfgsbConfig, minimize};
use crate::loss::{TargetedLoss, one_hot, per_row};
use crate::rows;
use blindspot_models::Classifier;

/// Settings of [`LbfgsAttack`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackConfig {
    /// What to reach.
    pub goal: Goal,
    /// Seed of the random targets.
    pub seed: u64,
    /// The loss of targeted goals.
    pub loss: TargetedLoss,
    /// Margin (in logits) of the untargeted loss.
    pub kappa: f32,
    /// Untargeted: rival classes tried per image (the nearest by the first-order estimate).
    pub candidates: usize,
    /// Untargeted: the classes with the largest logits (after the true one) whose first-order
    /// distance is estimated, one input gradient each, before the `candidates` nearest are
    /// attacked. It bounds the cost of choosing rivals by this number instead of the class
    /// count; at 9 or more every rival of a 10-class model is ranked, as the paper's MNIST
    /// attack does.
    #[serde(default = "default_rival_shortlist")]
    pub rival_shortlist: usize,
    /// First `c` of every problem.
    pub initial_c: f64,
    /// Bracketing factor of the search over `c`.
    pub c_factor: f64,
    /// Smallest `c` tried; below it the problem is given up.
    pub min_c: f64,
    /// Largest `c` tried.
    pub max_c: f64,
    /// Solver runs per problem at most (bracketing and bisection together).
    pub search_steps: usize,
    /// The bisection stops when `c_fail / c_success ≤ 1 + c_tolerance`.
    pub c_tolerance: f64,
    /// Bisection steps of the final refinement along `x → x′` (0 = off).
    pub refine_steps: usize,
    /// Logit margin a point needs to count as reaching the goal, in the search over `c` and in
    /// the refinement: the goal's logit at least this much above every other (targeted), or
    /// some rival this much above the true class (untargeted). Without it the solution at a
    /// large `c` and the bisection both stop within rounding of the boundary, and another
    /// implementation of the same model (float32 in another order) can read the example as
    /// clean. `1e-3` logits costs about `1e-3 / ‖∇(z_l − z_y)‖` in L2. The final check of
    /// success is the plain argmax.
    pub success_margin: f32,
    /// Start each solver run from the previous run's solution instead of `x`.
    pub warm_start: bool,
    /// Problems per device batch at most. The default, 256, keeps a batch's `[n, C·H·W]`
    /// working tensors of MNIST images within a CPU core's L2 cache: on flex with two workers
    /// it attacked 1,000 images of N100-100-10 about 1.2× faster than 1,024 (128 was as fast,
    /// 64 slower). Larger images want smaller batches on a CPU; on a GPU use thousands.
    pub batch_size: usize,
    /// Batches solved at the same time (at least 1), each by a job on rayon's global thread
    /// pool, so at most as many at once as that pool has threads (one per core unless
    /// `RAYON_NUM_THREADS` says otherwise). Rows never interact, so this changes the speed, not
    /// the result. On a CPU backend whose element-wise kernels run on one thread (flex,
    /// ndarray), one worker per core fills the machine; on a GPU one worker with large batches
    /// is the better use. Not part of the serialized settings (it is how an attack runs, not
    /// what it computes).
    #[serde(skip, default = "default_workers")]
    pub workers: usize,
    /// The inner solver.
    pub solver: LbfgsbConfig,
}

impl Default for AttackConfig {
    fn default() -> Self {
        Self {
            goal: Goal::Untargeted,
            seed: 0,
            loss: TargetedLoss::CrossEntropy,
            kappa: 0.01,
            candidates: 3,
            rival_shortlist: default_rival_shortlist(),
            initial_c: 1.0,
            c_factor: 10.0,
            min_c: 1e-6,
            max_c: 1e4,
            search_steps: 10,
            c_tolerance: 0.01,
            refine_steps: 12,
            success_margin: default_success_margin(),
            warm_start: true,
            batch_size: 256,
            workers: default_workers(),
            solver: LbfgsbConfig::default(),
        }
    }
}

fn default_rival_shortlist() -> usize {
    10
}

fn default_success_margin() -> f32 {
    1e-3
}

fn default_workers() -> usize {
    1
}

impl AttackConfig {
    /// Whether `self` and `other` ask for the same attack: they differ at most in
    /// `batch_size` and `workers`, which cut the work differently but leave every problem's
    /// result as it is (rows never interact). A saved attack stays valid across them.
    pub fn same_attack(&self, other: &AttackConfig) -> bool {
        let uncut = |c: &AttackConfig| AttackConfig {
            batch_size: 1,
            workers: 1,
            ..c.clone()
        };
        uncut(self) == uncut(other)
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        self.solver.validate()?;
        self.loss.validate()?;
        if !(self.success_margin >= 0.0 && self.success_margin.is_finite()) {
            return Err(AttackError::config(
                "success_margin",
                self.success_margin,
                "must be finite and non-negative",
            ));
        }
        if !(self.kappa >= 0.0 && self.kappa.is_finite()) {
            return Err(AttackError::config(
                "kappa",
                self.kappa,
                "must be finite and non-negative",
            ));
        }
        if !(self.min_c > 0.0
            && self.min_c <= self.initial_c
            && self.initial_c <= self.max_c
            && self.max_c.is_finite())
        {
            return Err(AttackError::config(
                "initial_c",
                format!(
                    "{} (min {}, max {})",
                    self.initial_c, self.min_c, self.max_c
                ),
                "need 0 < min_c ≤ initial_c ≤ max_c < ∞",
            ));
        }
        if !(self.c_factor > 1.0 && self.c_factor.is_finite()) {
            return Err(AttackError::config(
                "c_factor",
                self.c_factor,
                "must be finite and > 1",
            ));
        }
        if !(self.c_tolerance > 0.0 && self.c_tolerance.is_finite()) {
            return Err(AttackError::config(
                "c_tolerance",
                self.c_tolerance,
                "must be finite and > 0",
            ));
        }
        if self.search_steps == 0 {
            return Err(AttackError::config("search_steps", 0, "must be at least 1"));
        }
        if self.candidates == 0 {
            return Err(AttackError::config("candidates", 0, "must be at least 1"));
        }
        if self.rival_shortlist < self.candidates {
            return Err(AttackError::config(
                "rival_shortlist",
                format!("{} (candidates {})", self.rival_shortlist, self.candidates),
                "must be at least `candidates`",
            ));
        }
        if self.batch_size == 0 {
            return Err(AttackError::config("batch_size", 0, "must be at least 1"));
        }
        if self.workers == 0 {
            return Err(AttackError::config("workers", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// The attack: a configuration; [`LbfgsAttack::run`] does the work.
#[derive(Debug, Clone, Default)]
pub struct LbfgsAttack {
    /// Its settings.
    pub config: AttackConfig,
}

/// The attack objective of one batch of problems: `c ‖x − x₀‖² + loss(x)` per row.
struct Objective<'a, M> {
    model: &'a M,
    x0: Tensor<2>,
    c: Tensor<2>,
    goal: Tensor<2>,
    rival: Option<Tensor<2>>,
    loss: TargetedLoss,
    kappa: f32,
}

impl<M: Classifier> crate::lbfgsb::BatchObjective for Objective<'_, M> {
    fn evaluate(&mut self, x: Tensor<2>, rows: &Tensor<1, Int>) -> Result<(Tensor<1>, Tensor<2>)> {
        let n = x.dims()[0];
        // The solver never reorders its rows, so a full batch is every row as it is: no copies.
        let pick = |t: &Tensor<2>| {
            if n == t.dims()[0] {
                t.clone()
            } else {
                t.clone().select(0, rows.clone())
            }
        };
        let x0 = pick(&self.x0);
        let c = pick(&self.c);
        let goal = pick(&self.goal);
        let rival = self.rival.as_ref().map(pick);
        let xa = x.autodiff().require_grad();
        let dist = rows::sum((xa.clone() - x0).square());
        let logits = self.model.logits(xa.clone());
        let value = dist * c + per_row(logits, goal, rival, self.loss, self.kappa);
        let grads = value.clone().sum().backward();
        let g = xa.grad(&grads).ok_or(AttackError::NoGradient)?;
        Ok((value.inner().reshape([n]), g))
    }
}

/// Whether each row of `x` reaches its goal with a logit margin of at least `margin`, `[n, 1]`:
/// targeted, `z_goal − max_{j≠goal} z_j ≥ margin`; untargeted (`goal` = the true class),
/// `max_{j≠y} z_j − z_y ≥ margin`. `goal_mask` is the one-hot `[n, k]` of `goal`.
fn reached_with_margin<M: Classifier>(
    model: &M,
    x: Tensor<2>,
    goal: &Tensor<2, Int>,
    goal_mask: &Tensor<2>,
    targeted: bool,
    margin: f32,
) -> Tensor<2, Bool> {
    let z = model.logits(x);
    let at_goal = z.clone().gather(1, goal.clone());
    let others = z
        .mask_fill(goal_mask.clone().greater_elem(0.5), f32::NEG_INFINITY)
        .max_dim(1);
    let lead = if targeted {
        at_goal - others
    } else {
        others - at_goal
    };
    lead.greater_equal_elem(margin)
}

/// For each problem, the `count` classes `l ≠ y` with the smallest first-order distance
/// estimate `(z_y − z_l) / ‖∇z_y − ∇z_l‖` at the clean image (DeepFool's criterion), nearest
/// first, flattened problem-major. Only the `shortlist` classes of largest logit after `y` are
/// ranked: one input gradient for `y` and one per shortlisted class, each the gradient of the
/// row's own class (rows are independent), so the work and the memory are
/// `O((1 + shortlist) · n · dim)` in time and `O(n · dim)` in space whatever the class count.
fn nearest_rivals<M: Classifier>(
    model: &M,
    x_all: &Tensor<2>,
    problems: &[Problem],
    count: usize,
    shortlist: usize,
) -> Result<Vec<usize>> {
    let device = x_all.device();
    let images: Vec<usize> = problems.iter().map(|p| p.image).collect();
    let x0 = x_all.clone().select(0, host::indices(&images, &device));
    let [n, dim] = x0.dims();
    let logits = host::read(model.logits(x0.clone()))?;
    let classes = logits.len() / n.max(1);
    let shortlist = shortlist.min(classes - 1);
    // The shortlist of every row, in class order (so that ties in the estimate keep the order
    // of a full ranking).
    let short: Vec<Vec<usize>> = problems
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let z = &logits[i * classes..(i + 1) * classes];
            let mut others: Vec<usize> = (0..classes).filter(|&l| l != p.label).collect();
            if shortlist < others.len() {
                others.select_nth_unstable_by(shortlist - 1, |&a, &b| z[b].total_cmp(&z[a]));
                others.truncate(shortlist);
            }
            others.sort_unstable();
            others
        })
        .collect();
    // ∇z_c of every row for its own class c (the sum over rows separates them).
    let gradient_of = |class: &dyn Fn(usize) -> usize| -> Result<Vec<f32>> {
        let picked: Vec<usize> = (0..n).map(class).collect();
        let xa = x0.clone().autodiff().require_grad();
        let z = model.logits(xa.clone());
        let chosen = z.gather(1, host::indices(&picked, &device).reshape([n, 1]));
        let grads = chosen.sum().backward();
        host::read(xa.grad(&grads).ok_or(AttackError::NoGradient)?)
    };
    let gy = gradient_of(&|i| problems[i].label)?;
    let mut estimates: Vec<Vec<(f64, usize)>> = vec![Vec::with_capacity(shortlist); n];
    for j in 0..shortlist {
        // The j-th shortlisted class of every row.
        let column: Vec<usize> = short.iter().map(|row| row[j]).collect();
        let gl = gradient_of(&|i| column[i])?;
        for (i, (p, &l)) in problems.iter().zip(&column).enumerate() {
            let row = i * dim..(i + 1) * dim;
            let norm = gy[row.clone()]
                .iter()
                .zip(&gl[row])
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum::<f64>()
                .sqrt();
            let z = &logits[i * classes..(i + 1) * classes];
            let gap = f64::from(z[p.label]) - f64::from(z[l]);
            estimates[i].push((gap / norm.max(1e-12), l));
        }
    }
    let mut out = Vec::with_capacity(n * count);
    for mut ranked in estimates {
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
        out.extend(ranked.iter().take(count).map(|&(_, l)| l));
    }
    Ok(out)
}

/// The search state of one problem.
#[derive(Debug, Clone, Copy)]
struct Search {
    c: f64,
    success_c: Option<f64>,
    failure_c: Option<f64>,
    best_d2: f32,
}

impl Search {
    /// Records the outcome at the current `c`; returns whether the search goes on.
    fn update(&mut self, ok: bool, config: &AttackConfig) -> bool {
        if ok {
            self.success_c = Some(self.success_c.map_or(self.c, |s| s.max(self.c)));
        } else {
            self.failure_c = Some(self.failure_c.map_or(self.c, |f| f.min(self.c)));
        }
        let next = match (self.success_c, self.failure_c) {
            (Some(s), Some(f)) => {
                if f / s <= 1.0 + config.c_tolerance {
                    return false;
                }
                (s * f).sqrt()
            }
            (Some(s), None) => s * config.c_factor,
            (None, Some(f)) => f / config.c_factor,
            (None, None) => unreachable!("one of the two was just set"),
        };
        if !(config.min_c..=config.max_c).contains(&next) {
            return false;
        }
        self.c = next;
        true
    }
}

impl LbfgsAttack {
    /// An attack with these settings.
    pub fn new(config: AttackConfig) -> Self {
        Self { config }
    }

    /// Attacks the images `x` `[N, D]` (any device; gradients are taken on its autodiff
    /// counterpart) with true labels `labels`.
    ///
    /// The model is only read; pass it on a plain (non-autodiff) device, e.g. after
    /// `Module::valid()`, so that no parameter gradients are computed. The problems are cut into
    /// batches of at most [`AttackConfig::batch_size`] (fewer when that leaves a worker idle),
    /// which [`AttackConfig::workers`] threads take in turn; the results come back in problem
    /// order whatever the number of workers.
    pub fn run<M: Classifier + Sync>(
        &self,
        model: &M,
        x: Tensor<2>,
        labels: &[usize],
        observer: &mut dyn AttackObserver,
    ) -> Result<AttackResult> {
        let start = std::time::Instant::now();
        let config = &self.config;
        config.validate()?;
        let driver::Inputs { x, problems, shape } =
            driver::prepare(model, x, labels, config.goal, config.seed)?;
        let classes = model.num_classes();
        let total = problems.len();
        let (per_image, shortlist) = if config.goal == Goal::Untargeted {
            let rivals = classes.saturating_sub(1).max(1);
            (
                config.candidates.min(rivals),
                config.rival_shortlist.min(rivals),
            )
        } else {
            (1, 0)
        };
        let chunk_size = driver::chunk_size(config.batch_size / per_image, total, config.workers);
        let mut result = driver::run_chunks(
            &problems,
            chunk_size,
            config.workers,
            shape,
            observer,
            |chunk, report| {
                if config.goal == Goal::Untargeted {
                    let rivals = nearest_rivals(model, &x, chunk, per_image, shortlist)?;
                    let expanded: Vec<Problem> = chunk
                        .iter()
                        .flat_map(|p| std::iter::repeat_n(*p, per_image))
                        .collect();
                    let mut parts = AttackResult::empty(shape);
                    let mut per_problem = |finished: usize| report(finished / per_image);
                    self.attack_chunk(
                        model,
                        &x,
                        &expanded,
                        Some(&rivals),
                        &mut parts,
                        &mut per_problem,
                    )?;
                    let mut out = AttackResult::empty(shape);
                    out.push_best_of(&parts, per_image, 1 + shortlist);
                    Ok(out)
                } else {
                    let mut out = AttackResult::empty(shape);
                    self.attack_chunk(model, &x, chunk, None, &mut out, report)?;
                    Ok(out)
                }
            },
        )?;
        result.seconds = start.elapsed().as_secs_f64();
        Ok(result)
    }

    fn attack_chunk<M: Classifier>(
        &self,
        model: &M,
        x_all: &Tensor<2>,
        problems: &[Problem],
        rivals: Option<&[usize]>,
        out: &mut AttackResult,
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let config = &self.config;
        let device = x_all.device();
        let bounds = model.bounds();
        let classes = model.num_classes();
        let n = problems.len();
        let dim = out.dim;
        let targeted = config.goal != Goal::Untargeted;
        let batch = Batch::new(model, x_all, problems, targeted)?;
        let x0 = batch.x0.clone();
        let goal_int = batch.goal.clone();
        let onehot = host::matrix(one_hot(&batch.goal_class, classes), n, classes, &device);
        let rival = rivals.map(|r| host::matrix(one_hot(r, classes), n, classes, &device));
        let mut evaluations = vec![1usize; n];
        let mut search = vec![
            Search {
                c: config.initial_c,
                success_c: None,
                failure_c: None,
                best_d2: f32::INFINITY,
            };
            n
        ];
        let mut active = batch.to_attack();
        let mut finished = n - active.len();
        progress(finished);
        let mut best = x0.clone();
        let mut start = x0.clone();

        for _ in 0..config.search_steps {
            if active.is_empty() {
                break;
            }
            let a = active.len();
            let idx = host::indices(&active, &device);
            let xa0 = x0.clone().select(0, idx.clone());
            let c: Vec<f32> = active.iter().map(|&i| search[i].c as f32).collect();
            let mut objective = Objective {
                model,
                x0: xa0.clone(),
                c: host::matrix(c, a, 1, &device),
                goal: onehot.clone().select(0, idx.clone()),
                rival: rival.as_ref().map(|r| r.clone().select(0, idx.clone())),
                loss: config.loss,
                kappa: config.kappa,
            };
            let from = if config.warm_start {
                start.clone().select(0, idx.clone())
            } else {
                xa0.clone()
            };
            let solution = minimize(&mut objective, from, bounds, &config.solver)?;
            let xs = solution.x.clamp(bounds.lo, bounds.hi);
            let ok = reached_with_margin(
                model,
                xs.clone(),
                &goal_int.clone().select(0, idx.clone()),
                &onehot.clone().select(0, idx.clone()),
                targeted,
                config.success_margin,
            );
            let d2 = rows::sum((xs.clone() - xa0).square());
            let status = host::read(Tensor::cat(vec![ok.float(), d2], 1))?;
            let mut improved = Vec::new();
            let mut still = Vec::new();
            for (j, &i) in active.iter().enumerate() {
                let (ok, d2) = (status[2 * j] > 0.5, status[2 * j + 1]);
                evaluations[i] += solution.evaluations[j] + 1;
                if ok && d2 < search[i].best_d2 {
                    search[i].best_d2 = d2;
                    improved.push(j);
                }
                if search[i].update(ok, config) {
                    still.push(i);
                } else {
                    finished += 1;
                }
            }
            if !improved.is_empty() {
                let rows: Vec<usize> = improved.iter().map(|&j| active[j]).collect();
                let values = xs.clone().select(0, host::indices(&improved, &device));
                best = replace_rows(best, &rows, values);
            }
            start = replace_rows(start, &active, xs);
            active = still;
            progress(finished);
        }

        // Refinement: the closest point to x on the segment x → best that still succeeds.
        let solved: Vec<usize> = (0..n).filter(|&i| search[i].best_d2.is_finite()).collect();
        if config.refine_steps > 0 && !solved.is_empty() {
            let m = solved.len();
            let idx = host::indices(&solved, &device);
            let xr0 = x0.clone().select(0, idx.clone());
            let xb = best.clone().select(0, idx.clone());
            let r = xb.clone() - xr0.clone();
            let goal_r = goal_int.clone().select(0, idx.clone());
            let mask_r = onehot.clone().select(0, idx);
            let mut lo = Tensor::<2>::zeros([m, 1], &device);
            let mut hi = Tensor::<2>::ones([m, 1], &device);
            for _ in 0..config.refine_steps {
                let t = (lo.clone() + hi.clone()) * 0.5;
                let xt = (xr0.clone() + r.clone() * t.clone()).clamp(bounds.lo, bounds.hi);
                let ok = reached_with_margin(
                    model,
                    xt,
                    &goal_r,
                    &mask_r,
                    targeted,
                    config.success_margin,
                );
                hi = hi.mask_where(ok.clone(), t.clone());
                lo = lo.mask_where(ok.bool_not(), t);
            }
            let shrunk = hi.clone().lower_elem(1.0).expand([m, dim]);
            let refined = (xr0 + r * hi).clamp(bounds.lo, bounds.hi);
            best = replace_rows(best, &solved, xb.mask_where(shrunk, refined));
            for &i in &solved {
                evaluations[i] += config.refine_steps;
            }
        }

        // Verification on the final clipped images.
        let attacked: Vec<bool> = search.iter().map(|s| s.best_d2.is_finite()).collect();
        let c: Vec<f32> = search
            .iter()
            .map(|s| s.success_c.map_or(f32::NAN, |c| c as f32))
            .collect();
        batch.finish(model, problems, best, &attacked, &c, &evaluations, out)
    }
}
