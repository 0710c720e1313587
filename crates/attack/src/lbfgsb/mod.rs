//! A batched, box-constrained L-BFGS on Burn tensors: every row of a `[B, D]` tensor is an
//! independent problem `min f_b(x_b)` subject to `lo ≤ x_b ≤ hi`.
//!
//! # Why it is written here
//! Burn 0.22's `burn::optim::LBFGS` minimizes one problem over a module's parameters: no box,
//! one line search and one curvature history for everything. Used on a batch of attacks it would
//! couple the rows the way advertorch couples them by flattening a batch into one scipy call.
//! The host solvers (argmin, the L-BFGS-B ports) solve one problem at a time on host vectors, so
//! every function evaluation would cross from the device to the host and back, which is what
//! makes the Python attacks slow. No crate solves many box-constrained problems at once on a Burn
//! device, so this module does.
//!
//! # The method
//! Projected L-BFGS with an active set, in the spirit of L-BFGS-B:
//! 1. **Active set.** A coordinate is held at its bound when it sits on it and the gradient
//!    pushes outward (`x = lo, ∂f > 0` or `x = hi, ∂f < 0`); all others are free.
//! 2. **Direction.** `d = −P H P ∇f`, with `P` the projection onto the free coordinates and `H`
//!    the row's L-BFGS inverse-Hessian estimate (two-loop recursion, `H₀ = γI` with
//!    `γ = s·y / y·y` of the newest accepted pair). `P H P` is positive semi-definite, so `d` is
//!    a descent direction; components that would leave the box at once are dropped, and a row
//!    whose direction is not a descent direction (rounding) falls back to `−P∇f` and forgets its
//!    history.
//! 3. **Projected line search.** `x(α) = clamp(x + α d)`, backtracking from `α = 1` (from
//!    `min(1, 1/‖d‖)` while the row has no curvature pair yet) by safeguarded quadratic
//!    interpolation until the Armijo condition along the projected path holds:
//!    `f(x(α)) ≤ f(x) + c₁ ∇f·(x(α) − x)`, or its approximate form for values equal up to
//!    `f32` rounding (see the code). The iterate therefore never leaves the box.
//! 4. **Update.** The pair `s = x⁺ − x`, `y = ∇f⁺ − ∇f` is kept when `s·y > ε y·y`.
//!
//! A row stops on its own when its projected gradient `‖x − clamp(x − ∇f)‖∞` is below
//! `pg_tolerance` ([`Termination::Converged`]), when an iteration decreased `f` by less than
//! `f_tolerance · max(|f|, |f⁺|, 1)` ([`Termination::FunctionTolerance`]), after
//! `max_iterations`, or when no step satisfied the line search. (With `f_tolerance = 0` only an
//! increase stops a row: steps accepted by the approximate condition below may leave `f`
//! unchanged in `f32`.) Finished rows leave the working
//! batch, so later iterations evaluate only the rows still running.
//!
//! # Host traffic
//! Per iteration the host reads one `[n, 3]` status tensor (projected-gradient norm, value,
//! decrease flag) and, per line-search trial, one `[n]` acceptance mask. All vectors stay on the
//! device.

mod history;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};
use crate::host;
use blindspot_models::Bounds;
use history::{History, dot};

/// Settings of the solver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LbfgsbConfig {
    /// Curvature pairs kept per row (`m`).
    pub memory: usize,
    /// Iterations per row at most.
    pub max_iterations: usize,
    /// Stop when the projected gradient's largest component is at most this.
    pub pg_tolerance: f32,
    /// Stop when an iteration's relative decrease is below this.
    pub f_tolerance: f32,
    /// Line-search trials per iteration at most.
    pub max_line_search: usize,
    /// Armijo constant `c₁` of the sufficient-decrease condition.
    pub armijo: f32,
}

impl Default for LbfgsbConfig {
    fn default() -> Self {
        Self {
            memory: 10,
            max_iterations: 100,
            pg_tolerance: 1e-5,
            f_tolerance: 1e-6,
            max_line_search: 20,
            armijo: 1e-4,
        }
    }
}

impl LbfgsbConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.memory == 0 {
            return Err(AttackError::config(
                "memory",
                self.memory,
                "must be at least 1",
            ));
        }
        if self.max_iterations == 0 {
            return Err(AttackError::config(
                "max_iterations",
                self.max_iterations,
                "must be at least 1",
            ));
        }
        if self.max_line_search == 0 {
            return Err(AttackError::config(
                "max_line_search",
                self.max_line_search,
                "must be at least 1",
            ));
        }
        if !(self.pg_tolerance >= 0.0 && self.pg_tolerance.is_finite()) {
            return Err(AttackError::config(
                "pg_tolerance",
                self.pg_tolerance,
                "must be finite and non-negative",
            ));
        }
        if !(self.f_tolerance >= 0.0 && self.f_tolerance.is_finite()) {
            return Err(AttackError::config(
                "f_tolerance",
                self.f_tolerance,
                "must be finite and non-negative",
            ));
        }
        if !(self.armijo > 0.0 && self.armijo < 1.0) {
            return Err(AttackError::config(
                "armijo",
                self.armijo,
                "must lie in (0, 1)",
            ));
        }
        Ok(())
    }
}

/// A batch of objectives, one per row.
///
/// `evaluate(x, rows)` gets the current points `x` `[n, D]` of the problems whose indices in the
/// original batch are `rows` `[n]`, strictly increasing (the solver drops finished rows but never
/// reorders them; with `n = B`, `rows` is `0..B`), and returns their values
/// `[n]` and gradients `[n, D]`. Row `i` of the output must depend on row `i` of `x` only.
pub trait BatchObjective {
    /// Values `[n]` and gradients `[n, D]` at `x` `[n, D]` for the problems `rows` `[n]`.
    fn evaluate(&mut self, x: Tensor<2>, rows: &Tensor<1, Int>) -> Result<(Tensor<1>, Tensor<2>)>;
}

impl<F> BatchObjective for F
where
    F: FnMut(Tensor<2>, &Tensor<1, Int>) -> Result<(Tensor<1>, Tensor<2>)>,
{
    fn evaluate(&mut self, x: Tensor<2>, rows: &Tensor<1, Int>) -> Result<(Tensor<1>, Tensor<2>)> {
        self(x, rows)
    }
}

/// Why a row stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    /// The projected gradient vanished (`≤ pg_tolerance`).
    Converged,
    /// An iteration decreased the value by less than `f_tolerance` (relative).
    FunctionTolerance,
    /// `max_iterations` reached.
    MaxIterations,
    /// No step along the direction satisfied the sufficient-decrease condition.
    LineSearchFailed,
    /// The value or gradient became NaN or infinite.
    NonFinite,
}

/// The result of [`minimize`], one entry per row of the batch.
#[derive(Debug, Clone)]
pub struct Solution {
    /// The final points `[B, D]`, inside the box.
    pub x: Tensor<2>,
    /// The objective at the final points.
    pub value: Vec<f32>,
    /// Iterations (accepted steps) per row.
    pub iterations: Vec<usize>,
    /// Objective evaluations per row (a batched call counts once for each row it contains).
    pub evaluations: Vec<usize>,
    /// Why each row stopped.
    pub termination: Vec<Termination>,
}

/// The rows still being solved, with their state. `rows[i]` is the original index of local row
/// `i`.
struct Working {
    rows: Vec<usize>,
    index: Tensor<1, Int>,
    x: Tensor<2>,
    f: Tensor<2>,
    g: Tensor<2>,
    gamma: Tensor<2>,
    has_pair: Tensor<2>,
    small_decrease: Tensor<2>,
    history: History,
}

impl Working {
    /// Keeps the local rows `keep`, in that order.
    fn select(&mut self, keep: &[usize]) {
        if keep.len() == self.rows.len() && keep.iter().enumerate().all(|(i, &k)| i == k) {
            return;
        }
        let device = self.x.device();
        let idx = host::indices(keep, &device);
        self.rows = keep.iter().map(|&i| self.rows[i]).collect();
        self.index = host::indices(&self.rows, &device);
        for t in [
            &mut self.x,
            &mut self.f,
            &mut self.g,
            &mut self.gamma,
            &mut self.has_pair,
            &mut self.small_decrease,
        ] {
            *t = t.clone().select(0, idx.clone());
        }
        self.history.select(&idx);
    }
}

/// The rows (local indices) that one line-search trial accepted, with their new points, values,
/// gradients and steps `x⁺ − x`.
struct Accepted {
    rows: Vec<usize>,
    x: Tensor<2>,
    f: Tensor<2>,
    g: Tensor<2>,
    step: Tensor<2>,
}

/// The bookkeeping of every original row.
struct Ledger {
    value: Vec<f32>,
    iterations: Vec<usize>,
    evaluations: Vec<usize>,
    termination: Vec<Option<Termination>>,
    finished: Vec<(Vec<usize>, Tensor<2>)>,
}

impl Ledger {
    fn count_evaluation(&mut self, rows: &[usize]) {
        for &r in rows {
            self.evaluations[r] += 1;
        }
    }

    /// Records that the local rows `done` of `w` stopped for the given reasons, with their
    /// current points; `w` is left as it is.
    fn record(&mut self, w: &Working, done: &[(usize, Termination)]) {
        if done.is_empty() {
            return;
        }
        let local: Vec<usize> = done.iter().map(|&(i, _)| i).collect();
        let global: Vec<usize> = local.iter().map(|&i| w.rows[i]).collect();
        for (&(_, why), &g) in done.iter().zip(&global) {
            self.termination[g] = Some(why);
        }
        let x = w.x.clone().select(0, host::indices(&local, &w.x.device()));
        self.finished.push((global, x));
    }

    /// [`record`](Self::record)s the rows `done` and removes them from `w`.
    fn retire(&mut self, w: &mut Working, done: &[(usize, Termination)]) {
        if done.is_empty() {
            return;
        }
        self.record(w, done);
        let keep: Vec<usize> = (0..w.rows.len())
            .filter(|i| !done.iter().any(|&(j, _)| j == *i))
            .collect();
        w.select(&keep);
    }
}

/// The coordinates of `x` that sit on their lower and upper bound, `[n, D]` each.
fn on_bounds(x: &Tensor<2>, bounds: Bounds) -> (Tensor<2, Bool>, Tensor<2, Bool>) {
    (
        x.clone().lower_equal_elem(bounds.lo),
        x.clone().greater_equal_elem(bounds.hi),
    )
}

/// Coordinates on a bound (`at_lo`, `at_hi` from [`on_bounds`]) that a move along `-v` points out
/// of the box (`x = lo, v > 0` or `x = hi, v < 0`), `[n, D]`. With `v = ∇f` these are the
/// coordinates held at their bound; with `v = −d` for a search direction `d`, the components
/// that would leave the box at once.
fn held(at_lo: &Tensor<2, Bool>, at_hi: &Tensor<2, Bool>, v: &Tensor<2>) -> Tensor<2, Bool> {
    at_lo
        .clone()
        .bool_and(v.clone().greater_elem(0.0))
        .bool_or(at_hi.clone().bool_and(v.clone().lower_elem(0.0)))
}

/// Evaluates the objective and checks the shapes it returns.
fn evaluate<O: BatchObjective>(
    objective: &mut O,
    x: Tensor<2>,
    rows: &Tensor<1, Int>,
) -> Result<(Tensor<2>, Tensor<2>)> {
    let [n, d] = x.dims();
    let (f, g) = objective.evaluate(x, rows)?;
    if f.dims() != [n] {
        return Err(AttackError::Shape {
            what: "objective values",
            expected: vec![n],
            found: f.dims().to_vec(),
        });
    }
    if g.dims() != [n, d] {
        return Err(AttackError::Shape {
            what: "objective gradients",
            expected: vec![n, d],
            found: g.dims().to_vec(),
        });
    }
    Ok((f.reshape([n, 1]), g))
}

/// Minimizes every row's objective from `x0` `[B, D]` (clamped into `bounds` first).
///
/// Rows never interact: solving them together gives what solving each alone gives.
pub fn minimize<O: BatchObjective>(
    objective: &mut O,
    x0: Tensor<2>,
    bounds: Bounds,
    config: &LbfgsbConfig,
) -> Result<Solution> {
    config.validate()?;
    if bounds.lo.is_nan() || bounds.hi.is_nan() || bounds.lo > bounds.hi {
        return Err(AttackError::config(
            "bounds",
            format!("[{}, {}]", bounds.lo, bounds.hi),
            "need lo ≤ hi",
        ));
    }
    let [b, dim] = x0.dims();
    let device = x0.device();
    let x = x0.clamp(bounds.lo, bounds.hi);
    let mut ledger = Ledger {
        value: vec![f32::NAN; b],
        iterations: vec![0; b],
        evaluations: vec![0; b],
        termination: vec![None; b],
        finished: Vec::new(),
    };
    if b == 0 {
        return Ok(Solution {
            x,
            value: Vec::new(),
            iterations: Vec::new(),
            evaluations: Vec::new(),
            termination: Vec::new(),
        });
    }
    let rows: Vec<usize> = (0..b).collect();
    let index = host::indices(&rows, &device);
    let (f, g) = evaluate(objective, x.clone(), &index)?;
    ledger.count_evaluation(&rows);
    let mut w = Working {
        rows,
        index,
        x,
        f,
        g,
        gamma: Tensor::ones([b, 1], &device),
        has_pair: Tensor::zeros([b, 1], &device),
        small_decrease: Tensor::zeros([b, 1], &device),
        history: History::new(config.memory),
    };

    while !w.rows.is_empty() {
        // Status: projected gradient, value, last decrease.
        let n = w.rows.len();
        let pg = crate::rows::max(
            (w.x.clone() - (w.x.clone() - w.g.clone()).clamp(bounds.lo, bounds.hi)).abs(),
        );
        let status = host::read(Tensor::cat(
            vec![pg, w.f.clone(), w.small_decrease.clone()],
            1,
        ))?;
        let mut done = Vec::new();
        for i in 0..n {
            let (pg, f, small) = (status[3 * i], status[3 * i + 1], status[3 * i + 2]);
            let row = w.rows[i];
            ledger.value[row] = f;
            let why = if !f.is_finite() || !pg.is_finite() {
                Some(Termination::NonFinite)
            } else if pg <= config.pg_tolerance {
                Some(Termination::Converged)
            } else if small > 0.5 {
                Some(Termination::FunctionTolerance)
            } else if ledger.iterations[row] >= config.max_iterations {
                Some(Termination::MaxIterations)
            } else {
                None
            };
            if let Some(why) = why {
                done.push((i, why));
            }
        }
        ledger.retire(&mut w, &done);
        if w.rows.is_empty() {
            break;
        }
        let n = w.rows.len();

        // Direction d = −P H P ∇f, restricted to moves that stay in the box.
        let (at_lo, at_hi) = on_bounds(&w.x, bounds);
        let fixed = held(&at_lo, &at_hi, &w.g);
        let q = w.g.clone().mask_fill(fixed.clone(), 0.0);
        let minus_d = w.history.apply(q.clone(), w.gamma.clone());
        let leaving = held(&at_lo, &at_hi, &minus_d);
        let d = minus_d.mask_fill(fixed.bool_or(leaving), 0.0).neg();
        let dg = dot(d.clone(), w.g.clone());
        let bad = dg
            .clone()
            .is_finite()
            .bool_not()
            .bool_or(dg.greater_equal_elem(0.0));
        let bad_f = bad.clone().float();
        w.history.forget(&bad_f);
        w.has_pair = w.has_pair.clone() * bad_f.neg().add_scalar(1.0);
        let d = d.mask_where(bad.expand([n, dim]), q.neg());
        let d_norm = dot(d.clone(), d.clone()).sqrt().clamp_min(1e-30);
        let first = d_norm.recip().clamp_max(1.0);
        let alpha = w.has_pair.clone() + first * w.has_pair.clone().neg().add_scalar(1.0);

        // Projected backtracking line search, on the rows still searching.
        let mut searching: Vec<usize> = (0..n).collect();
        let (mut xs, mut ds, mut fs, mut gs, mut alpha_s, mut rows_s) = (
            w.x.clone(),
            d,
            w.f.clone(),
            w.g.clone(),
            alpha,
            w.index.clone(),
        );
        let mut accepted: Vec<Accepted> = Vec::new();
        for _ in 0..config.max_line_search {
            let k = searching.len();
            let xt = (xs.clone() + ds.clone() * alpha_s.clone()).clamp(bounds.lo, bounds.hi);
            let (ft, gt) = evaluate(objective, xt.clone(), &rows_s)?;
            let global: Vec<usize> = searching.iter().map(|&i| w.rows[i]).collect();
            ledger.count_evaluation(&global);
            let step = xt.clone() - xs.clone();
            let decrease = dot(gs.clone(), step.clone());
            let armijo = ft
                .clone()
                .lower_equal(fs.clone() + decrease.clone() * config.armijo);
            // Near the optimum f32 values stop resolving decreases long before the gradient
            // vanishes; accept a step whose value is equal up to rounding when the slope at the
            // new point has not turned strongly uphill (Hager and Zhang's approximate Wolfe
            // condition, δ = 0.1).
            let rounding = fs.clone().abs() * (4.0 * f32::EPSILON);
            let approximate = ft
                .clone()
                .lower_equal(fs.clone() + rounding)
                .bool_and(dot(gt.clone(), step.clone()).lower_equal(decrease.clone() * -0.8));
            let ok = ft
                .clone()
                .is_finite()
                .bool_and(decrease.clone().lower_elem(0.0))
                .bool_and(armijo.bool_or(approximate));
            let ok_host = host::read(ok.float())?;
            let (acc, rest): (Vec<usize>, Vec<usize>) = (0..k).partition(|&j| ok_host[j] > 0.5);
            if acc.len() == k {
                accepted.push(Accepted {
                    rows: searching.clone(),
                    x: xt,
                    f: ft.clone(),
                    g: gt,
                    step,
                });
            } else if !acc.is_empty() {
                let idx = host::indices(&acc, &device);
                accepted.push(Accepted {
                    rows: acc.iter().map(|&j| searching[j]).collect(),
                    x: xt.select(0, idx.clone()),
                    f: ft.clone().select(0, idx.clone()),
                    g: gt.select(0, idx.clone()),
                    step: step.select(0, idx),
                });
            }
            if rest.is_empty() {
                searching.clear();
                break;
            }
            // Safeguarded quadratic interpolation of φ(α) = f(x(α)) with φ'(0) ≈ decrease / α.
            let quad =
                decrease.clone().neg() * alpha_s.clone() / ((ft - fs.clone() - decrease) * 2.0);
            let quad = quad
                .clone()
                .mask_where(quad.is_finite().bool_not(), alpha_s.clone() * 0.5);
            let next = quad
                .max_pair(alpha_s.clone() * 0.1)
                .min_pair(alpha_s.clone() * 0.5);
            let idx = host::indices(&rest, &device);
            searching = rest.iter().map(|&j| searching[j]).collect();
            xs = xs.select(0, idx.clone());
            ds = ds.select(0, idx.clone());
            fs = fs.select(0, idx.clone());
            gs = gs.select(0, idx.clone());
            alpha_s = next.select(0, idx.clone());
            rows_s = rows_s.select(0, idx);
        }
        let failed: Vec<(usize, Termination)> = searching
            .iter()
            .map(|&i| (i, Termination::LineSearchFailed))
            .collect();

        // Failed rows keep their last point; the accepted rows become the new working set, in
        // their original order (so that the common case, every row accepted, copies nothing).
        ledger.record(&w, &failed);
        let order: Vec<usize> = accepted.iter().flat_map(|a| a.rows.clone()).collect();
        if order.is_empty() {
            w.select(&order);
            continue;
        }
        let mut sorted: Vec<usize> = (0..order.len()).collect();
        sorted.sort_by_key(|&j| order[j]);
        let in_order = sorted.iter().enumerate().all(|(i, &j)| i == j);
        let ascending = |t: Tensor<2>| {
            if in_order {
                t
            } else {
                t.select(0, host::indices(&sorted, &device))
            }
        };
        let stack = |parts: Vec<Tensor<2>>| {
            if parts.len() == 1 {
                ascending(parts.into_iter().next().expect("one part"))
            } else {
                ascending(Tensor::cat(parts, 0))
            }
        };
        let x_new = stack(accepted.iter().map(|a| a.x.clone()).collect());
        let f_new = stack(accepted.iter().map(|a| a.f.clone()).collect());
        let g_new = stack(accepted.iter().map(|a| a.g.clone()).collect());
        let s = stack(accepted.into_iter().map(|a| a.step).collect());
        let order: Vec<usize> = sorted.iter().map(|&j| order[j]).collect();
        w.select(&order);

        // Curvature pair (`s` is the accepted step `x⁺ − x`) and the relative-decrease test.
        let y = g_new.clone() - w.g.clone();
        let sy = dot(s.clone(), y.clone());
        let yy = dot(y.clone(), y.clone());
        let valid = sy
            .clone()
            .greater(yy.clone() * f32::EPSILON)
            .bool_and(sy.clone().greater_elem(0.0));
        let valid_f = valid.clone().float();
        let sy_safe = sy.clone().mask_fill(valid.clone().bool_not(), 1.0);
        let yy_safe = yy.mask_fill(valid.clone().bool_not(), 1.0);
        let rho = sy_safe.clone().recip() * valid_f.clone();
        w.gamma = w.gamma.clone().mask_where(valid, sy_safe / yy_safe);
        w.has_pair = w.has_pair.clone().max_pair(valid_f);
        w.history.push(s, y, rho);
        let scale =
            w.f.clone()
                .abs()
                .max_pair(f_new.clone().abs())
                .clamp_min(1.0);
        w.small_decrease = (w.f.clone() - f_new.clone())
            .lower(scale * config.f_tolerance)
            .float();
        for &r in &w.rows {
            ledger.iterations[r] += 1;
        }
        w.x = x_new;
        w.f = f_new;
        w.g = g_new;
    }

    // Put the finished rows back in their original order.
    let mut position = vec![0usize; b];
    let mut next = 0;
    let mut parts = Vec::with_capacity(ledger.finished.len());
    for (rows, x) in ledger.finished {
        for r in rows {
            position[r] = next;
            next += 1;
        }
        parts.push(x);
    }
    let x = Tensor::cat(parts, 0).select(0, host::indices(&position, &device));
    Ok(Solution {
        x,
        value: ledger.value,
        iterations: ledger.iterations,
        evaluations: ledger.evaluations,
        termination: ledger
            .termination
            .into_iter()
            .map(|t| t.unwrap_or(Termination::MaxIterations))
            .collect(),
    })
}
