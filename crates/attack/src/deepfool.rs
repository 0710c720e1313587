//! DeepFool (Moosavi-Dezfooli et al., CVPR 2016): the minimum-norm attack that steps to the
//! nearest boundary of the model linearized at the current point, under L2 or L∞.
//!
//! Per problem, from `x₀`, at most `steps` times: for each candidate pair (`k` to raise over
//! `j`), `f = z_k − z_j` and `w = ∇ₓ(z_k − z_j)` give the linearized distance `|f| / ‖w‖_*`
//! (`‖·‖_*` the dual norm: `‖w‖₂` for L2, `‖w‖₁` for L∞); the nearest pair's step
//! `(|f| / ‖w‖_* + 10⁻⁴)·u` (`u = w / ‖w‖₂`, or `sign(w)` for L∞; the 10⁻⁴ of the reference
//! implementation crosses the boundary rather than landing on it) is added to the total
//! perturbation `r`, and the point becomes `clamp(x₀ + (1 + overshoot)·r)`. Untargeted, the
//! pairs are (every class `k ≠ y`, the true class `y`), and a problem stops as soon as the
//! model no longer predicts `y`. Targeted, the only pair is (the target, the class now scoring
//! highest among the others): the boundary of the target's region nearest in the model's
//! current ranking; a problem stops when the target wins. A problem whose gradients all vanish
//! stops too. The driver re-checks the goal on the final point.
//!
//! All class gradients come from one backward pass per iteration on the batch repeated once per
//! class needed (`classes` copies untargeted, 2 targeted), so an iteration costs about that many
//! forward and backward passes of the batch.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attack::{AttackObserver, AttackResult};
use crate::driver::{self, Batch, Chunk, ChunkAttack, ChunkPlan, replace_rows};
use crate::eps::{self, Norm};
use crate::error::{AttackError, Result};
use crate::goal::{Goal, Problem};
use crate::host;
use crate::loss::one_hot;
use crate::rows;
use blindspot_models::Classifier;

/// Added to every step's linearized distance (in the norm's units), as in the reference
/// implementation, so that a step crosses the boundary instead of landing on it.
const CROSS: f64 = 1e-4;

/// Settings of [`DeepFoolAttack`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeepFoolConfig {
    /// What to reach.
    pub goal: Goal,
    /// Seed of the random targets.
    pub seed: u64,
    /// The norm whose distance is minimized.
    pub norm: Norm,
    /// Linearization steps per problem at most (at least 1).
    pub steps: usize,
    /// The total perturbation is scaled by `1 + overshoot` (finite, ≥ 0).
    pub overshoot: f32,
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

impl Default for DeepFoolConfig {
    /// L2, 50 steps, overshoot 0.02 (the paper's settings).
    fn default() -> Self {
        Self {
            goal: Goal::Untargeted,
            seed: 0,
            norm: Norm::L2,
            steps: 50,
            overshoot: 0.02,
            batch_size: 256,
            workers: 1,
        }
    }
}

impl DeepFoolConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(AttackError::config("steps", 0, "must be at least 1"));
        }
        if !(self.overshoot >= 0.0 && self.overshoot.is_finite()) {
            return Err(AttackError::config(
                "overshoot",
                self.overshoot,
                "must be finite and non-negative",
            ));
        }
        eps::check_batching(self.batch_size, self.workers)
    }
}

/// The attack: a configuration; [`DeepFoolAttack::run`] does the work.
#[derive(Debug, Clone, Default)]
pub struct DeepFoolAttack {
    /// Its settings.
    pub config: DeepFoolConfig,
}

/// The problems still being stepped, aligned with the rows of their tensors.
struct Working {
    /// Their rows in the batch.
    rows: Vec<usize>,
    /// Clean images.
    x0: Tensor<2>,
    /// Current points `clamp(x₀ + (1 + overshoot)·r)`.
    x: Tensor<2>,
    /// Total perturbations `r`.
    r: Tensor<2>,
}

impl Working {
    /// Keeps the rows at positions `keep` (in order).
    fn keep(self, keep: &[usize]) -> Self {
        if keep.len() == self.rows.len() {
            return self;
        }
        let idx = host::indices(keep, &self.x.device());
        Self {
            rows: keep.iter().map(|&j| self.rows[j]).collect(),
            x0: self.x0.select(0, idx.clone()),
            x: self.x.select(0, idx.clone()),
            r: self.r.select(0, idx),
        }
    }
}

impl DeepFoolAttack {
    /// An attack with these settings.
    pub fn new(config: DeepFoolConfig) -> Self {
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

impl ChunkAttack for DeepFoolAttack {
    fn plan(&self) -> Result<ChunkPlan> {
        let c = &self.config;
        c.validate()?;
        Ok(ChunkPlan::new(c.goal, c.seed, c.batch_size, c.workers))
    }

    fn attack_chunk<M: Classifier>(&self, model: &M, chunk: &mut Chunk<'_>) -> Result<()> {
        let config = &self.config;
        let active = chunk.active.clone();
        let bounds = model.bounds();
        let classes = model.num_classes();
        let targeted = chunk.batch.targeted;
        let mut finished = chunk.problems.len() - active.len();
        let x0 = chunk.clean(&active);
        let mut work = Working {
            rows: active.clone(),
            x: x0.clone(),
            r: x0.zeros_like(),
            x0,
        };
        for step in 0..=config.steps {
            let m = work.rows.len();
            let z = host::read(model.logits(work.x.clone()))?;
            let mut going = Vec::new();
            for (j, &i) in work.rows.iter().enumerate() {
                chunk.attacked[i] = true;
                chunk.evaluations[i] += 1;
                let top = argmax(&z[j * classes..(j + 1) * classes]);
                let reached = if targeted {
                    top == chunk.batch.goal_class[i]
                } else {
                    top != chunk.problems[i].label
                };
                if !reached && step < config.steps {
                    going.push(j);
                }
            }
            if going.len() < m {
                chunk.best = retire(chunk.best.clone(), &work, &complement(&going, m));
                finished += m - going.len();
                chunk.progress(finished);
            }
            if going.is_empty() {
                break;
            }
            let z: Vec<f32> = going
                .iter()
                .flat_map(|&j| z[j * classes..(j + 1) * classes].iter().copied())
                .collect();
            work = work.keep(&going);
            let pairs = pairs(
                &work.rows,
                &chunk.batch,
                chunk.problems,
                &z,
                classes,
                targeted,
            );
            let stepped = self.step(model, &work, &pairs, &z, classes)?;
            for &i in &work.rows {
                chunk.evaluations[i] += 1;
            }
            // Problems whose gradients all vanish cannot move: they stop where they are.
            let moving: Vec<usize> = (0..work.rows.len()).filter(|&j| stepped.moved[j]).collect();
            work.r = stepped.r;
            work.x = (work.x0.clone() + work.r.clone() * (1.0 + config.overshoot))
                .clamp(bounds.lo, bounds.hi);
            if moving.len() < work.rows.len() {
                let count = work.rows.len();
                chunk.best = retire(chunk.best.clone(), &work, &complement(&moving, count));
                finished += count - moving.len();
                chunk.progress(finished);
                if moving.is_empty() {
                    break;
                }
                work = work.keep(&moving);
            }
        }
        Ok(())
    }
}

impl DeepFoolAttack {
    /// One DeepFool step of every working row: the new total perturbations, and which rows had
    /// a usable pair.
    fn step<M: Classifier>(
        &self,
        model: &M,
        work: &Working,
        pairs: &Pairs,
        z: &[f32],
        classes: usize,
    ) -> Result<Stepped> {
        let device = work.x.device();
        let m = work.rows.len();
        let dim = work.x.dims()[1];
        // The columns actually differentiated: untargeted, the classes (the label column is a
        // copy of one of them); targeted, both.
        let needed = if pairs.targeted { 2 } else { classes };
        let grads = logit_gradients(model, &work.x, &pairs.columns[..needed], classes)?;
        let grads = grads.reshape([needed, m, dim]);
        // `w` for every candidate `[c, m, dim]`: ∇(z_raise − z_lower).
        let w = if pairs.targeted {
            grads.clone().narrow(0, 0, 1) - grads.narrow(0, 1, 1)
        } else {
            let label_rows: Vec<usize> = pairs.columns[classes]
                .iter()
                .enumerate()
                .map(|(j, &y)| y * m + j)
                .collect();
            let g = grads.clone().reshape([needed * m, dim]);
            let gy = g
                .select(0, host::indices(&label_rows, &device))
                .unsqueeze_dim(0);
            grads - gy
        };
        let c = w.dims()[0];
        let flat = w.clone().reshape([c * m, dim]);
        let dual = match self.config.norm {
            Norm::L2 => rows::sum(flat.square()).sqrt(),
            Norm::Linf => rows::sum(flat.abs()),
        };
        let dual = host::read(dual)?;
        // The nearest usable candidate of each row, and its step length in the norm.
        let mut picks = Vec::with_capacity(m);
        let mut lengths = Vec::with_capacity(m);
        let mut moved = vec![false; m];
        for (j, moved) in moved.iter_mut().enumerate() {
            let logit = |k: usize| f64::from(z[j * classes + k]);
            let mut nearest: Option<(usize, f64)> = None;
            for col in 0..c {
                let (raise, lower) = if pairs.targeted {
                    (pairs.columns[0][j], pairs.columns[1][j])
                } else {
                    (pairs.columns[col][j], pairs.columns[classes][j])
                };
                if raise == lower {
                    continue;
                }
                let norm = f64::from(dual[col * m + j]);
                if !(norm > 0.0 && norm.is_finite()) {
                    continue;
                }
                let distance = (logit(raise) - logit(lower)).abs() / norm;
                if distance.is_finite() && nearest.is_none_or(|(_, d)| distance < d) {
                    nearest = Some((col, distance));
                }
            }
            match nearest {
                Some((col, distance)) => {
                    *moved = true;
                    picks.push(col * m + j);
                    // Per unit of `w`: L2 steps `(d + CROSS)·w/‖w‖₂`; L∞ `(d + CROSS)·sign(w)`.
                    lengths.push(match self.config.norm {
                        Norm::L2 => ((distance + CROSS) / f64::from(dual[col * m + j])) as f32,
                        Norm::Linf => (distance + CROSS) as f32,
                    });
                }
                None => {
                    picks.push(j);
                    lengths.push(0.0);
                }
            }
        }
        let w = w
            .reshape([c * m, dim])
            .select(0, host::indices(&picks, &device));
        let direction = match self.config.norm {
            Norm::L2 => w,
            Norm::Linf => w.sign(),
        };
        let lengths = host::matrix(lengths, m, 1, &device);
        Ok(Stepped {
            r: work.r.clone() + direction * lengths,
            moved,
        })
    }
}

/// The candidate pairs of the working rows (see [`Pairs`]), `z` their logits `[m, classes]`.
fn pairs(
    rows: &[usize],
    batch: &Batch,
    problems: &[Problem],
    z: &[f32],
    classes: usize,
    targeted: bool,
) -> Pairs {
    if targeted {
        let raise: Vec<usize> = rows.iter().map(|&i| batch.goal_class[i]).collect();
        let lower = raise
            .iter()
            .enumerate()
            .map(|(j, &t)| {
                let row = &z[j * classes..(j + 1) * classes];
                (0..classes)
                    .filter(|&k| k != t)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(t)
            })
            .collect();
        Pairs {
            columns: vec![raise, lower],
            targeted: true,
        }
    } else {
        let mut columns: Vec<Vec<usize>> = (0..classes).map(|k| vec![k; rows.len()]).collect();
        // The true class last, as the class every other one is raised over.
        columns.push(rows.iter().map(|&i| problems[i].label).collect());
        Pairs {
            columns,
            targeted: false,
        }
    }
}

/// Candidate pairs of the working rows: targeted, column 0 the target and column 1 the class
/// to beat; untargeted, columns `0..classes` the class `k` itself and column `classes` the true
/// class.
struct Pairs {
    columns: Vec<Vec<usize>>,
    targeted: bool,
}

struct Stepped {
    r: Tensor<2>,
    moved: Vec<bool>,
}

/// `best` with the rows of the working positions `positions` replaced by their current points.
fn retire(best: Tensor<2>, work: &Working, positions: &[usize]) -> Tensor<2> {
    let rows: Vec<usize> = positions.iter().map(|&j| work.rows[j]).collect();
    let idx = host::indices(positions, &work.x.device());
    replace_rows(best, &rows, work.x.clone().select(0, idx))
}

/// The input gradients of the logit `columns[c][j]` of row `j` at `x` `[m, dim]`, for every
/// column `c`: `[columns·m, dim]`, block `c` holding column `c`. One backward pass over `x`
/// repeated once per column; the rows separate because the summed logits of different
/// copies share no input.
fn logit_gradients<M: Classifier>(
    model: &M,
    x: &Tensor<2>,
    columns: &[Vec<usize>],
    classes: usize,
) -> Result<Tensor<2>> {
    let device = x.device();
    let m = x.dims()[0];
    let copies = columns.len();
    let picked: Vec<usize> = columns.iter().flatten().copied().collect();
    let mask = host::matrix(one_hot(&picked, classes), copies * m, classes, &device);
    let xa = x.clone().repeat_dim(0, copies).autodiff().require_grad();
    let value = (model.logits(xa.clone()) * mask).sum();
    let grads = value.backward();
    xa.grad(&grads).ok_or(AttackError::NoGradient)
}

/// The positions `0..len` not in `kept` (which is increasing).
fn complement(kept: &[usize], len: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(len - kept.len());
    let mut next = kept.iter().peekable();
    for j in 0..len {
        if next.peek() == Some(&&j) {
            next.next();
        } else {
            out.push(j);
        }
    }
    out
}

/// The index of the largest value (the first of ties).
fn argmax(row: &[f32]) -> usize {
    let mut top = 0;
    for (k, &v) in row.iter().enumerate() {
        if v > row[top] {
            top = k;
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complement_lists_the_positions_left_out() {
        assert_eq!(complement(&[0, 2, 3], 6), vec![1, 4, 5]);
        assert_eq!(complement(&[], 2), vec![0, 1]);
        assert_eq!(complement(&[0, 1], 2), Vec::<usize>::new());
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[0.5, 2.0, 2.0, -1.0]), 1);
    }
}
