//! What every attack returns and how it reports progress: [`AttackResult`], one entry per
//! problem whatever the attack, and [`AttackObserver`]. The attacks themselves live in
//! [`crate::lbfgs`] (the paper's box-constrained L-BFGS), [`crate::fgsm`] and [`crate::pgd`]
//! (ε-bounded); what they share (batching, workers, the final check) in `driver`.

use blindspot_models::{InputShape, input_len};

use crate::goal::Problem;

pub use crate::lbfgs::{AttackConfig, LbfgsAttack};

/// One worker per thread of rayon's global pool, which runs the workers (one per core unless
/// `RAYON_NUM_THREADS` says otherwise): the sensible [`AttackConfig::workers`] on a CPU
/// backend. More workers than pool threads would never run at once.
pub fn cpu_workers() -> usize {
    rayon::current_num_threads()
}

/// Receives progress while an attack runs.
pub trait AttackObserver {
    /// `finished` of `total` problems are done.
    fn progress(&mut self, finished: usize, total: usize) {
        let _ = (finished, total);
    }
}

/// An observer that ignores everything.
pub struct Quiet;

impl AttackObserver for Quiet {}

/// The outcome of an attack, one entry per problem (per image, or per image and wrong class for
/// [`Goal::All`](crate::Goal::All)).
#[derive(Debug, Clone)]
pub struct AttackResult {
    /// The problems, in order.
    pub problems: Vec<Problem>,
    /// The shape of one input, `[C, H, W]` (the model's).
    pub input_shape: InputShape,
    /// Number of input coordinates, `C·H·W`.
    pub dim: usize,
    /// Adversarial images `[problems, dim]`, row-major, inside the box. Equal to `x` where the
    /// clean image was already at the goal; where the attack failed, `x` for the L-BFGS attack,
    /// the FGSM point, or PGD's end point of lowest loss over its restarts.
    pub x_adv: Vec<f32>,
    /// The goal was reached on the final clipped image (re-checked).
    pub success: Vec<bool>,
    /// The model already misclassified the clean image (untargeted: not attacked, distortion 0;
    /// targeted: attacked unless the prediction is the target).
    pub misclassified: Vec<bool>,
    /// The clean image already reached the goal (untargeted: misclassified; targeted: the
    /// target predicted): nothing was attacked, the distortion is 0 and it stays out of every
    /// mean distortion (the paper's "minimum distortion" is over examples that needed one).
    pub at_goal: Vec<bool>,
    /// The paper's RMS distortion; NaN where the attack failed.
    pub distortion: Vec<f32>,
    /// The plain L2 norm of the perturbation; NaN where the attack failed.
    pub l2: Vec<f32>,
    /// The largest `c` that reached the goal; NaN where none did, and for attacks without `c`.
    pub c: Vec<f32>,
    /// Model evaluations per problem (solver evaluations with gradient, plus forward-only checks).
    pub evaluations: Vec<usize>,
    /// Wall-clock seconds of the whole attack.
    pub seconds: f64,
}

impl AttackResult {
    pub(crate) fn empty(input_shape: InputShape) -> Self {
        Self {
            problems: Vec::new(),
            input_shape,
            dim: input_len(input_shape),
            x_adv: Vec::new(),
            success: Vec::new(),
            misclassified: Vec::new(),
            at_goal: Vec::new(),
            distortion: Vec::new(),
            l2: Vec::new(),
            c: Vec::new(),
            evaluations: Vec::new(),
            seconds: 0.0,
        }
    }

    /// Appends, for every group of `per_image` consecutive entries of `parts` (one image, one
    /// rival each), the successful entry with the smallest distortion (the first if none
    /// succeeded). Evaluations add up over the group, plus the `ranking` gradients that chose
    /// the rivals.
    pub(crate) fn push_best_of(&mut self, parts: &AttackResult, per_image: usize, ranking: usize) {
        let dim = parts.dim;
        for group in (0..parts.problems.len())
            .collect::<Vec<_>>()
            .chunks(per_image)
        {
            let best = group
                .iter()
                .copied()
                .filter(|&i| parts.success[i])
                .min_by(|&a, &b| parts.distortion[a].total_cmp(&parts.distortion[b]))
                .unwrap_or(group[0]);
            self.problems.push(parts.problems[best]);
            self.x_adv
                .extend_from_slice(&parts.x_adv[best * dim..(best + 1) * dim]);
            self.success.push(parts.success[best]);
            self.misclassified.push(parts.misclassified[best]);
            self.at_goal.push(parts.at_goal[best]);
            self.distortion.push(parts.distortion[best]);
            self.l2.push(parts.l2[best]);
            self.c.push(parts.c[best]);
            self.evaluations
                .push(group.iter().map(|&i| parts.evaluations[i]).sum::<usize>() + ranking);
        }
    }

    /// Appends every entry of `other` (its problems follow this result's).
    pub(crate) fn append(&mut self, other: AttackResult) {
        self.problems.extend(other.problems);
        self.x_adv.extend(other.x_adv);
        self.success.extend(other.success);
        self.misclassified.extend(other.misclassified);
        self.at_goal.extend(other.at_goal);
        self.distortion.extend(other.distortion);
        self.l2.extend(other.l2);
        self.c.extend(other.c);
        self.evaluations.extend(other.evaluations);
    }

    /// The adversarial image of problem `i`.
    pub fn adversarial(&self, i: usize) -> &[f32] {
        &self.x_adv[i * self.dim..(i + 1) * self.dim]
    }

    /// Share of problems whose goal was reached.
    pub fn success_rate(&self) -> f64 {
        if self.success.is_empty() {
            return 0.0;
        }
        self.success.iter().filter(|&&s| s).count() as f64 / self.success.len() as f64
    }

    /// Problems whose goal a perturbation reached: successful and not [`at_goal`] already.
    ///
    /// [`at_goal`]: AttackResult::at_goal
    pub fn perturbed(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.success.len()).filter(|&i| self.success[i] && !self.at_goal[i])
    }

    /// Distortions of the problems whose goal a perturbation reached ([`Self::perturbed`]):
    /// images already at the goal (distortion 0) are left out.
    pub fn successful_distortions(&self) -> Vec<f32> {
        self.perturbed().map(|i| self.distortion[i]).collect()
    }
}

impl std::fmt::Display for AttackResult {
    /// One line: `success 96% (48 of 50, 2 already at the goal), mean RMS distortion 0.0470,
    /// 1.2 s`; the mean is over the examples a perturbation made ([`Self::perturbed`]), NaN
    /// without any.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reached = self.success.iter().filter(|&&s| s).count();
        let at_goal = self.at_goal.iter().filter(|&&a| a).count();
        let distortions = self.successful_distortions();
        let mean =
            distortions.iter().map(|&d| f64::from(d)).sum::<f64>() / distortions.len() as f64;
        write!(
            f,
            "success {:.0}% ({reached} of {}",
            100.0 * self.success_rate(),
            self.success.len()
        )?;
        if at_goal > 0 {
            write!(f, ", {at_goal} already at the goal")?;
        }
        write!(f, "), mean RMS distortion {mean:.4}, {:.1} s", self.seconds)
    }
}
