//! The classification term `loss_f(x + r, l)` of the attack objective, one value per row.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// How far a masked logit is pushed down so that it never wins a maximum.
const MASKED: f32 = 1e9;

/// The logit lead a point must have before a minimum-norm attack (C&W, FMN, DDN) keeps it:
/// on the decision boundary itself, another implementation's summation order (PyTorch's, a
/// GPU's) can put the argmax on either side. `1e-3` logits is the margin
/// [`crate::AttackConfig::success_margin`] uses; it costs about `1e-3 / ‖∇(Z_t − Z_k)‖` in L2.
pub(crate) const MIN_LEAD: f32 = 1e-3;

/// How far each row is past its decision boundary towards the goal, `[n, 1]`: targeted
/// `z_t − max_{k≠t} z_k`, untargeted `max_{k≠y} z_k − z_y`, with `goal` the one-hot of `t` or
/// `y`. Positive exactly where the goal is reached.
pub(crate) fn lead(logits: Tensor<2>, goal: Tensor<2>, targeted: bool) -> Tensor<2> {
    let own = (logits.clone() * goal.clone()).sum_dim(1);
    let other = (logits - goal * MASKED).max_dim(1);
    if targeted { own - other } else { other - own }
}

/// The loss a targeted attack minimizes to reach its class `t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetedLoss {
    /// The paper's `loss_f`: cross-entropy of the target, `logsumexp(z) − z_t`.
    CrossEntropy,
    /// `max(max_{j≠t} z_j − z_t + κ, 0)`: zero once `t` wins by `κ` logits.
    Margin {
        /// Required lead of the target logit.
        kappa: f32,
    },
}

impl TargetedLoss {
    /// Checks the margin.
    pub fn validate(&self) -> Result<()> {
        match *self {
            TargetedLoss::Margin { kappa } if !(kappa >= 0.0 && kappa.is_finite()) => Err(
                AttackError::config("kappa", kappa, "must be finite and non-negative"),
            ),
            _ => Ok(()),
        }
    }
}

/// The per-row loss of a batch of logits `[n, k]`, `[n, 1]`.
///
/// Targeted: `goal` is the one-hot `[n, k]` of the target class and `rival` is `None`.
/// Untargeted: `goal` is the one-hot of the true class `y` and `rival` the one-hot of the class
/// `l` that should overtake it; the loss is the squared hinge `max(z_y − z_l + κ, 0)²`, smooth
/// enough for L-BFGS and zero once `l` leads by `κ`.
pub fn per_row(
    logits: Tensor<2>,
    goal: Tensor<2>,
    rival: Option<Tensor<2>>,
    loss: TargetedLoss,
    kappa: f32,
) -> Tensor<2> {
    let picked = (logits.clone() * goal.clone()).sum_dim(1);
    if let Some(rival) = rival {
        let other = (logits * rival).sum_dim(1);
        return (picked - other).add_scalar(kappa).clamp_min(0.0).square();
    }
    match loss {
        TargetedLoss::CrossEntropy => (log_softmax(logits, 1) * goal).sum_dim(1).neg(),
        TargetedLoss::Margin { kappa } => ((logits - goal * MASKED).max_dim(1) - picked)
            .add_scalar(kappa)
            .clamp_min(0.0),
    }
}

/// One-hot rows `[n, k]` of `classes`, on the host.
pub(crate) fn one_hot(classes: &[usize], k: usize) -> Vec<f32> {
    let mut out = vec![0.0; classes.len() * k];
    for (i, &c) in classes.iter().enumerate() {
        out[i * k + c] = 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn losses_on_hand_computed_logits() {
        let d = device();
        let z = Tensor::<2>::from_data([[1.0, 3.0, 2.0]], &d);
        let goal = Tensor::<2>::from_data([[1.0, 0.0, 0.0]], &d);
        // logsumexp(1, 3, 2) − 1
        let lse = (1f32.exp() + 3f32.exp() + 2f32.exp()).ln();
        let ce = values(per_row(
            z.clone(),
            goal.clone(),
            None,
            TargetedLoss::CrossEntropy,
            0.0,
        ));
        assert!((ce[0] - (lse - 1.0)).abs() < 1e-5);
        // best other is 3: 3 − 1 + 0.5
        let margin = TargetedLoss::Margin { kappa: 0.5 };
        let m = values(per_row(z.clone(), goal.clone(), None, margin, 0.0));
        assert!((m[0] - 2.5).abs() < 1e-6);
        // untargeted, true class 1 (logit 3) against rival 2 (logit 2): (3 − 2 + 0.1)²
        let goal_true = Tensor::<2>::from_data([[0.0, 1.0, 0.0]], &d);
        let rival = Tensor::<2>::from_data([[0.0, 0.0, 1.0]], &d);
        let u = values(per_row(
            z,
            goal_true,
            Some(rival),
            TargetedLoss::CrossEntropy,
            0.1,
        ));
        assert!((u[0] - 1.21).abs() < 1e-5);
    }

    #[test]
    fn one_hot_marks_one_class_per_row() {
        assert_eq!(one_hot(&[2, 0], 3), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    }
}
