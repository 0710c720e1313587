//! What every attack shares: checking the inputs, cutting the problems into batches, the
//! worker pool that solves them, the clean images' status, and the final re-check on the host
//! that assembles an [`AttackResult`]. An attack only says how one batch is attacked.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};

use burn::prelude::*;

use crate::attack::{AttackObserver, AttackResult};
use crate::distortion;
use crate::error::{AttackError, Result};
use crate::goal::{Goal, Problem};
use crate::host;
use crate::loss::one_hot;
use blindspot_models::{Bounds, Classifier, InputShape, input_len};

/// The checked inputs of an attack.
pub(crate) struct Inputs {
    /// The images `[N, C·H·W]` on the plain (non-autodiff) device.
    pub x: Tensor<2>,
    /// The problems of the goal, in order.
    pub problems: Vec<Problem>,
    /// The model's input shape.
    pub shape: InputShape,
}

/// Checks the images `x` and `labels` against `model` (shapes, pixels in the box) and expands
/// `goal` into problems.
pub(crate) fn prepare<M: Classifier>(
    model: &M,
    x: Tensor<2>,
    labels: &[usize],
    goal: Goal,
    seed: u64,
) -> Result<Inputs> {
    let [n, dim] = x.dims();
    let shape = model.input_shape();
    if dim != input_len(shape) {
        return Err(AttackError::Shape {
            what: "images (one row of C·H·W pixels per image, [C, H, W] the model's input shape)",
            expected: vec![n, input_len(shape)],
            found: vec![n, dim],
        });
    }
    if labels.len() != n {
        return Err(AttackError::Shape {
            what: "labels",
            expected: vec![n],
            found: vec![labels.len()],
        });
    }
    let x = x.inner();
    check_pixels(&x, model.bounds())?;
    let problems = goal.problems(labels, model.num_classes(), seed)?;
    Ok(Inputs { x, problems, shape })
}

/// Problems per chunk: at most `batch_size`, and fewer when that would leave one of `workers`
/// without a chunk.
pub(crate) fn chunk_size(batch_size: usize, total: usize, workers: usize) -> usize {
    batch_size.min(total.div_ceil(workers)).max(1)
}

/// What [`run`] needs of an attack's settings.
pub(crate) struct ChunkPlan {
    /// The goal (its problems come from [`prepare`]).
    pub goal: Goal,
    /// The seed of the random targets.
    pub seed: u64,
    /// Problems per chunk, at most.
    pub batch_size: usize,
    /// Chunks attacked at once.
    pub workers: usize,
}

impl ChunkPlan {
    /// The plan of an attack's settings.
    pub fn new(goal: Goal, seed: u64, batch_size: usize, workers: usize) -> Self {
        Self {
            goal,
            seed,
            batch_size,
            workers,
        }
    }
}

/// An attack the driver runs chunk by chunk: its checked settings say how the problems are
/// cut, and it attacks one [`Chunk`] at a time. Everything else — the inputs' checks, the
/// workers, the clean images' status, the final re-check — is [`run`]'s.
pub(crate) trait ChunkAttack: Sync {
    /// The settings, checked, as the driver needs them.
    fn plan(&self) -> Result<ChunkPlan>;

    /// Attacks the rows of `chunk` still to attack ([`Chunk::active`], never empty here),
    /// leaving each row's point, evaluations and `c` in the chunk.
    fn attack_chunk<M: Classifier>(&self, model: &M, chunk: &mut Chunk<'_>) -> Result<()>;
}

/// The whole run of a chunk attack: checks the inputs, expands the goal into problems, cuts
/// them into chunks for the workers, has the attack work on each and re-checks its points,
/// and joins the chunks' results in problem order, timed.
pub(crate) fn run<A, M>(
    attack: &A,
    model: &M,
    x: Tensor<2>,
    labels: &[usize],
    observer: &mut dyn AttackObserver,
) -> Result<AttackResult>
where
    A: ChunkAttack,
    M: Classifier + Sync,
{
    let start = std::time::Instant::now();
    let plan = attack.plan()?;
    let Inputs { x, problems, shape } = prepare(model, x, labels, plan.goal, plan.seed)?;
    let targeted = plan.goal != Goal::Untargeted;
    let size = chunk_size(plan.batch_size, problems.len(), plan.workers);
    let mut result = run_chunks(
        &problems,
        size,
        plan.workers,
        shape,
        observer,
        |problems, report| {
            let mut chunk = Chunk::start(model, &x, problems, targeted, report)?;
            if !chunk.active.is_empty() {
                attack.attack_chunk(model, &mut chunk)?;
            }
            let mut out = AttackResult::empty(shape);
            chunk.finish(model, &mut out)?;
            Ok(out)
        },
    )?;
    result.seconds = start.elapsed().as_secs_f64();
    Ok(result)
}

/// One chunk of problems under attack: its [`Batch`], the rows still to attack, and what the
/// attack has made of every row so far. Rows are the chunk's problems, in order.
pub(crate) struct Chunk<'a> {
    /// The problems.
    pub problems: &'a [Problem],
    /// Their clean images, goals and clean status.
    pub batch: Batch,
    /// The rows to attack: not at the goal and, untargeted, not misclassified.
    pub active: Vec<usize>,
    /// Every row's point `[n, D]`: the clean image until the attack puts another there.
    pub best: Tensor<2>,
    /// The row holds a point the attack made (its distortion is reported where it succeeds).
    pub attacked: Vec<bool>,
    /// Model evaluations per row (the clean classification counts one).
    pub evaluations: Vec<usize>,
    /// Every row's `c`, NaN for attacks without one.
    pub c: Vec<f32>,
    progress: &'a mut dyn FnMut(usize),
}

impl<'a> Chunk<'a> {
    /// Classifies the clean images once and reports the rows that need no attack as done.
    fn start<M: Classifier>(
        model: &M,
        x_all: &Tensor<2>,
        problems: &'a [Problem],
        targeted: bool,
        progress: &'a mut dyn FnMut(usize),
    ) -> Result<Self> {
        let n = problems.len();
        let batch = Batch::new(model, x_all, problems, targeted)?;
        let active = batch.to_attack();
        progress(n - active.len());
        Ok(Self {
            problems,
            best: batch.x0.clone(),
            batch,
            active,
            attacked: vec![false; n],
            evaluations: vec![1; n],
            c: vec![f32::NAN; n],
            progress,
        })
    }

    /// How many of the chunk's problems are finished, for the progress bar.
    pub fn progress(&mut self, finished: usize) {
        (self.progress)(finished);
    }

    /// The clean images of `rows`, `[rows, D]`.
    pub fn clean(&self, rows: &[usize]) -> Tensor<2> {
        let device = self.batch.x0.device();
        self.batch
            .x0
            .clone()
            .select(0, host::indices(rows, &device))
    }

    /// The goals of `rows` one-hot, `[rows, classes]`.
    pub fn goals(&self, rows: &[usize], classes: usize) -> Tensor<2> {
        let picked: Vec<usize> = rows.iter().map(|&i| self.batch.goal_class[i]).collect();
        let device = self.batch.x0.device();
        host::matrix(one_hot(&picked, classes), rows.len(), classes, &device)
    }

    /// Rows `rows` end at `points` (`[rows, D]`) after `evaluations` more evaluations each.
    pub fn record(&mut self, rows: &[usize], points: Tensor<2>, evaluations: usize) {
        self.best = replace_rows(self.best.clone(), rows, points);
        for &i in rows {
            self.attacked[i] = true;
            self.evaluations[i] += evaluations;
        }
    }

    /// Re-checks every row's point and appends the chunk's entries to `out`.
    fn finish<M: Classifier>(self, model: &M, out: &mut AttackResult) -> Result<()> {
        self.batch.finish(
            model,
            self.problems,
            self.best,
            &self.attacked,
            &self.c,
            &self.evaluations,
            out,
        )
    }
}

/// Runs `work` on every chunk of `problems` (see [`in_parallel`]) and joins the outcomes in
/// problem order.
pub(crate) fn run_chunks<W>(
    problems: &[Problem],
    chunk_size: usize,
    workers: usize,
    shape: InputShape,
    observer: &mut dyn AttackObserver,
    work: W,
) -> Result<AttackResult>
where
    W: Fn(&[Problem], &mut dyn FnMut(usize)) -> Result<AttackResult> + Sync,
{
    let chunks: Vec<&[Problem]> = problems.chunks(chunk_size).collect();
    let parts = in_parallel(workers, &chunks, problems.len(), observer, work)?;
    let mut result = AttackResult::empty(shape);
    for part in parts {
        result.append(part);
    }
    Ok(result)
}

/// Runs `work` on every chunk with `workers` jobs on rayon's pool taking
/// chunks in turn, and returns the outcomes in chunk order. `work` reports how many of its
/// chunk's problems are finished; the observer hears the total on the calling thread. After
/// a failure no new chunk is started and the first error (in chunk order) is returned; a
/// panicking job becomes [`AttackError::Worker`].
pub(crate) fn in_parallel<W>(
    workers: usize,
    chunks: &[&[Problem]],
    total: usize,
    observer: &mut dyn AttackObserver,
    work: W,
) -> Result<Vec<AttackResult>>
where
    W: Fn(&[Problem], &mut dyn FnMut(usize)) -> Result<AttackResult> + Sync,
{
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(usize, usize)>();
    let workers = workers.min(chunks.len()).max(1);
    let done: Mutex<Vec<(usize, Result<AttackResult>)>> = Mutex::new(Vec::new());
    let pool = std::thread::scope(|scope| {
        // The workers are jobs on rayon's global pool, the pool over which the CPU
        // backends split their larger kernels (flex's matrix products among them). A worker
        // that reaches such a kernel while the other pool threads are busy with their own
        // batches runs the pieces itself; a worker on a thread of its own would hand them to
        // the pool and sleep until they are done. On flex with 2 cores this attacked 1,000
        // images of N100-100-10 (fast preset) ~10% faster with ~10% less CPU time.
        let pool = scope.spawn(|| {
            rayon::scope(|jobs| {
                for _ in 0..workers {
                    let sender = sender.clone();
                    let (next, stop, work, done) = (&next, &stop, &work, &done);
                    jobs.spawn(move |_| {
                        while !stop.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(chunk) = chunks.get(i) else { break };
                            let mut report = |finished: usize| {
                                // The receiver lives until every worker has ended.
                                let _ = sender.send((i, finished));
                            };
                            // A panic is caught here, not when the pool ends, so that
                            // the other workers stop after their current chunk.
                            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                                work(chunk, &mut report)
                            }))
                            .unwrap_or_else(|panic| {
                                Err(AttackError::Worker(panic_message(panic.as_ref())))
                            });
                            if outcome.is_ok() {
                                report(chunk.len());
                            } else {
                                stop.store(true, Ordering::Relaxed);
                            }
                            done.lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push((i, outcome));
                        }
                    });
                }
            });
            drop(sender);
        });
        let mut finished = vec![0usize; chunks.len()];
        for (i, count) in receiver {
            finished[i] = count;
            observer.progress(finished.iter().sum(), total);
        }
        pool.join()
    });
    let mut outcomes = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    if let Err(panic) = pool {
        let what = panic_message(panic.as_ref());
        outcomes.push((usize::MAX, Err(AttackError::Worker(what))));
    }
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

/// One batch of problems on the device, with the status of its clean images.
pub(crate) struct Batch {
    /// The clean images `[n, dim]`.
    pub x0: Tensor<2>,
    /// The class each problem aims at: its target, or its true label when untargeted.
    pub goal_class: Vec<usize>,
    /// `goal_class` on the device, `[n, 1]`.
    pub goal: Tensor<2, Int>,
    /// Whether the problems are targeted.
    pub targeted: bool,
    /// The model misclassifies the clean image.
    pub misclassified: Vec<bool>,
    /// The clean image already reaches the goal.
    pub at_goal: Vec<bool>,
}

impl Batch {
    /// Selects the images of `problems` from `x_all` and classifies them once. Non-finite
    /// logits would make an arbitrary argmax count as "misclassified": they are an error.
    pub fn new<M: Classifier>(
        model: &M,
        x_all: &Tensor<2>,
        problems: &[Problem],
        targeted: bool,
    ) -> Result<Self> {
        let device = x_all.device();
        let n = problems.len();
        let images: Vec<usize> = problems.iter().map(|p| p.image).collect();
        let goal_class: Vec<usize> = problems
            .iter()
            .map(|p| p.target.unwrap_or(p.label))
            .collect();
        let x0 = x_all.clone().select(0, host::indices(&images, &device));
        let goal: Tensor<2, Int> = host::indices(&goal_class, &device).reshape([n, 1]);
        let labels: Tensor<2, Int> = host::indices(
            &problems.iter().map(|p| p.label).collect::<Vec<_>>(),
            &device,
        )
        .reshape([n, 1]);
        let z0 = model.logits(x0.clone());
        let finite = z0.clone().is_finite().float().min_dim(1);
        let pred = z0.argmax(1);
        let wrong = pred.clone().equal(labels).bool_not();
        let goal_now = if targeted {
            pred.equal(goal.clone())
        } else {
            wrong.clone()
        };
        let flags = host::read(Tensor::cat(
            vec![wrong.float(), goal_now.float(), finite],
            1,
        ))?;
        if let Some(i) = (0..n).find(|&i| flags[3 * i + 2] < 0.5) {
            return Err(AttackError::Logits {
                row: problems[i].image,
            });
        }
        Ok(Self {
            x0,
            goal_class,
            goal,
            targeted,
            misclassified: (0..n).map(|i| flags[3 * i] > 0.5).collect(),
            at_goal: (0..n).map(|i| flags[3 * i + 1] > 0.5).collect(),
        })
    }

    /// The rows an attack works on: not at the goal, and (untargeted) not misclassified.
    pub fn to_attack(&self) -> Vec<usize> {
        (0..self.at_goal.len())
            .filter(|&i| !self.at_goal[i] && (self.targeted || !self.misclassified[i]))
            .collect()
    }

    /// Re-checks the goal on the final images `best` (clipped to the box) with a plain forward
    /// pass and appends one entry per problem to `out`. `attacked[i]`: row `i` holds a
    /// perturbation the attack produced (its distortion is reported where it succeeds);
    /// `c[i]`: the attack's `c` (NaN if none); `evaluations[i]`: model evaluations so far, the
    /// final check is added.
    #[allow(clippy::too_many_arguments)]
    pub fn finish<M: Classifier>(
        &self,
        model: &M,
        problems: &[Problem],
        best: Tensor<2>,
        attacked: &[bool],
        c: &[f32],
        evaluations: &[usize],
        out: &mut AttackResult,
    ) -> Result<()> {
        let bounds = model.bounds();
        let dim = out.dim;
        let best = best.clamp(bounds.lo, bounds.hi);
        let ok = host::read(reached(model, best.clone(), &self.goal, self.targeted).float())?;
        let x_adv = host::read(best)?;
        let x_clean = host::read(self.x0.clone())?;
        for i in 0..problems.len() {
            let row = i * dim..(i + 1) * dim;
            let success = ok[i] > 0.5;
            let (d, l2) = if self.at_goal[i] {
                (0.0, 0.0)
            } else if success && attacked[i] {
                (
                    distortion::rms(&x_clean[row.clone()], &x_adv[row.clone()]),
                    distortion::l2(&x_clean[row.clone()], &x_adv[row.clone()]),
                )
            } else {
                (f32::NAN, f32::NAN)
            };
            out.problems.push(problems[i]);
            out.x_adv.extend_from_slice(&x_adv[row]);
            out.success.push(success);
            out.misclassified.push(self.misclassified[i]);
            out.at_goal.push(self.at_goal[i]);
            out.distortion.push(d);
            out.l2.push(l2);
            out.c.push(c[i]);
            out.evaluations.push(evaluations[i] + 1);
        }
        Ok(())
    }
}

/// Whether each row of `x` reaches its goal, `[n, 1]`.
pub(crate) fn reached<M: Classifier>(
    model: &M,
    x: Tensor<2>,
    goal: &Tensor<2, Int>,
    targeted: bool,
) -> Tensor<2, Bool> {
    let same = model.logits(x).argmax(1).equal(goal.clone());
    if targeted { same } else { same.bool_not() }
}

/// Refuses images with a non-finite pixel or one outside the box (one read of `[n]` flags).
fn check_pixels(x: &Tensor<2>, bounds: Bounds) -> Result<()> {
    let bad = x.clone().is_finite().bool_not().float()
        + x.clone().lower_elem(bounds.lo).float()
        + x.clone().greater_elem(bounds.hi).float();
    let flags = host::read(crate::rows::sum(bad))?;
    match flags.iter().position(|&f| f > 0.0) {
        Some(row) => Err(AttackError::Pixels {
            row,
            lo: bounds.lo,
            hi: bounds.hi,
        }),
        None => Ok(()),
    }
}

/// `full` with its rows `rows` replaced by `values` (in that order).
pub(crate) fn replace_rows(full: Tensor<2>, rows: &[usize], values: Tensor<2>) -> Tensor<2> {
    let n = full.dims()[0];
    let device = full.device();
    let mut position = vec![usize::MAX; n];
    for (j, &r) in rows.iter().enumerate() {
        position[r] = j;
    }
    let others: Vec<usize> = (0..n).filter(|&r| position[r] == usize::MAX).collect();
    for (j, &r) in others.iter().enumerate() {
        position[r] = rows.len() + j;
    }
    let stacked = if others.is_empty() {
        values
    } else {
        Tensor::cat(
            vec![values, full.select(0, host::indices(&others, &device))],
            0,
        )
    };
    stacked.select(0, host::indices(&position, &device))
}

/// The message of a caught panic (`panic!` with a literal or a formatted string).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into())
}
