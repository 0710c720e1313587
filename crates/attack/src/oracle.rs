//! The exact minimum perturbation of a linear classifier, to certify attacks.
//!
//! For logits `z = W x + b`, class `l` beats the true class `y` on the halfspace
//! `a·x′ + β ≥ 0` with `a = w_l − w_y` and `β = b_l − b_y`. The smallest box-constrained L2
//! perturbation reaching it is the projection of `x` onto that halfspace intersected with the
//! box, and by the KKT conditions it has the form `x′(t) = clamp(x + t a, lo, hi)` with the
//! smallest `t ≥ 0` at which `g(t) = a·x′(t) + β` reaches 0. `g` is piecewise linear and
//! non-decreasing (its slope is `Σ aᵢ²` over the coordinates not clamped), so `t` is found
//! exactly by sweeping the sorted breakpoints where coordinates enter or leave the box.
//! The untargeted optimum is the minimum over `l ≠ y`.
//!
//! A *targeted* goal (`l` must beat every other class) is the projection onto an intersection
//! of `k − 1` halfspaces and the box. Its dual is solved by Hildreth's coordinate ascent:
//! each coordinate step is the same exact one-dimensional sweep.
//!
//! All arithmetic is in `f64`.

use blindspot_models::Bounds;
use blindspot_models::mlp::Mlp;

use crate::error::{AttackError, Result};
use crate::host;

/// A linear classifier `z = W x + b` on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// `W`, `[classes, dim]` row-major (PyTorch's `nn.Linear` layout).
    pub weight: Vec<f32>,
    /// `b`, `[classes]`.
    pub bias: Vec<f32>,
    /// Number of classes `k`.
    pub classes: usize,
    /// Input dimension.
    pub dim: usize,
}

/// An exact optimum.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimum {
    /// The closest image reaching the goal.
    pub x_adv: Vec<f32>,
    /// The class that wins there (for untargeted goals, the class whose halfspace was nearest).
    pub class: usize,
    /// `‖x′ − x‖₂`.
    pub l2: f64,
}

impl LinearModel {
    /// Checks the shapes.
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, classes: usize, dim: usize) -> Result<Self> {
        if weight.len() != classes * dim || bias.len() != classes {
            return Err(AttackError::Shape {
                what: "linear model",
                expected: vec![classes, dim],
                found: vec![weight.len(), bias.len()],
            });
        }
        Ok(Self {
            weight,
            bias,
            classes,
            dim,
        })
    }

    /// The single layer of a softmax model (an [`Mlp`] without hidden layers).
    pub fn from_mlp(model: &Mlp) -> Result<Self> {
        let [layer] = model.layers.as_slice() else {
            return Err(AttackError::Model(format!(
                "the exact oracle needs a linear model; this one has {} hidden layers",
                model.layers.len().saturating_sub(1)
            )));
        };
        // Burn stores `[in, out]`; transpose to `[out, in]`.
        let w = layer.weight.val();
        let [dim, classes] = w.dims();
        let weight = host::read(w.transpose())?;
        let bias = match &layer.bias {
            Some(b) => host::read(b.val())?,
            None => vec![0.0; classes],
        };
        Self::new(weight, bias, classes, dim)
    }

    fn row(&self, k: usize) -> &[f32] {
        &self.weight[k * self.dim..(k + 1) * self.dim]
    }

    /// Logits of one image.
    pub fn logits(&self, x: &[f32]) -> Vec<f64> {
        (0..self.classes)
            .map(|k| {
                f64::from(self.bias[k])
                    + self
                        .row(k)
                        .iter()
                        .zip(x)
                        .map(|(&w, &v)| f64::from(w) * f64::from(v))
                        .sum::<f64>()
            })
            .collect()
    }

    /// Normal `a = w_l − w_y` and offset `β = b_l − b_y` of "class l beats class y".
    fn halfspace(&self, l: usize, y: usize) -> (Vec<f64>, f64) {
        let a = self
            .row(l)
            .iter()
            .zip(self.row(y))
            .map(|(&p, &q)| f64::from(p) - f64::from(q))
            .collect();
        (a, f64::from(self.bias[l]) - f64::from(self.bias[y]))
    }

    fn check(&self, x: &[f32], classes: &[usize]) -> Result<()> {
        if x.len() != self.dim {
            return Err(AttackError::Shape {
                what: "oracle input",
                expected: vec![self.dim],
                found: vec![x.len()],
            });
        }
        for &c in classes {
            if c >= self.classes {
                return Err(AttackError::TargetOutOfRange {
                    target: c,
                    classes: self.classes,
                });
            }
        }
        Ok(())
    }

    /// The closest image in the box on which class `l` scores at least as high as class `y`;
    /// `None` if no image in the box does.
    pub fn beat(&self, x: &[f32], y: usize, l: usize, bounds: Bounds) -> Result<Option<Optimum>> {
        self.check(x, &[y, l])?;
        let (a, beta) = self.halfspace(l, y);
        let v: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        Ok(smallest_root(&v, &a, beta, bounds).map(|t| {
            let x_adv = clamped(&v, &a, t, bounds);
            optimum(x, x_adv, l)
        }))
    }

    /// The smallest perturbation that makes the model not predict `y` (ties count as
    /// reached): the minimum over `l ≠ y` of [`beat`](Self::beat). `None` if no class can be
    /// made to win.
    pub fn untargeted(&self, x: &[f32], y: usize, bounds: Bounds) -> Result<Option<Optimum>> {
        let mut best: Option<Optimum> = None;
        for l in (0..self.classes).filter(|&l| l != y) {
            if let Some(o) = self.beat(x, y, l, bounds)?
                && best.as_ref().is_none_or(|b| o.l2 < b.l2)
            {
                best = Some(o);
            }
        }
        Ok(best)
    }

    /// The smallest perturbation after which class `target` scores at least as high as every
    /// other class (Hildreth's dual coordinate ascent, to `tolerance` in the constraints).
    /// `None` if it does not converge within `max_sweeps` (e.g. infeasible).
    pub fn targeted(
        &self,
        x: &[f32],
        target: usize,
        bounds: Bounds,
        tolerance: f64,
        max_sweeps: usize,
    ) -> Result<Option<Optimum>> {
        self.check(x, &[target])?;
        let v: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let others: Vec<usize> = (0..self.classes).filter(|&j| j != target).collect();
        let planes: Vec<(Vec<f64>, f64)> =
            others.iter().map(|&j| self.halfspace(target, j)).collect();
        let mut mu = vec![0.0f64; planes.len()];
        // u = x + Σ μ_j a_j, the unclamped point.
        let mut u = v.clone();
        for _ in 0..max_sweeps {
            let mut moved = 0.0f64;
            for (j, (a, beta)) in planes.iter().enumerate() {
                // Remove constraint j, then set μ_j to the smallest t ≥ 0 with g_j(t) ≥ 0.
                let base: Vec<f64> = u.iter().zip(a).map(|(&ui, &ai)| ui - mu[j] * ai).collect();
                let t = smallest_root(&base, a, *beta, bounds).unwrap_or(mu[j]);
                moved = moved.max((t - mu[j]).abs());
                for (ui, (&bi, &ai)) in u.iter_mut().zip(base.iter().zip(a)) {
                    *ui = bi + t * ai;
                }
                mu[j] = t;
            }
            let x_adv: Vec<f64> = u
                .iter()
                .map(|&ui| ui.clamp(f64::from(bounds.lo), f64::from(bounds.hi)))
                .collect();
            let violation = planes
                .iter()
                .map(|(a, beta)| -(dot(a, &x_adv) + beta))
                .fold(0.0f64, f64::max);
            if violation <= tolerance && moved <= tolerance {
                return Ok(Some(optimum(x, x_adv, target)));
            }
        }
        Ok(None)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

fn clamped(v: &[f64], a: &[f64], t: f64, bounds: Bounds) -> Vec<f64> {
    v.iter()
        .zip(a)
        .map(|(&vi, &ai)| (vi + t * ai).clamp(f64::from(bounds.lo), f64::from(bounds.hi)))
        .collect()
}

fn optimum(x: &[f32], x_adv: Vec<f64>, class: usize) -> Optimum {
    let l2 = x
        .iter()
        .zip(&x_adv)
        .map(|(&p, &q)| (q - f64::from(p)).powi(2))
        .sum::<f64>()
        .sqrt();
    Optimum {
        x_adv: x_adv.into_iter().map(|v| v as f32).collect(),
        class,
        l2,
    }
}

/// The smallest `t ≥ 0` with `g(t) = a·clamp(v + t a) + β ≥ 0`, or `None` if `g` stays
/// negative. `v` may lie outside the box.
fn smallest_root(v: &[f64], a: &[f64], beta: f64, bounds: Bounds) -> Option<f64> {
    let (lo, hi) = (f64::from(bounds.lo), f64::from(bounds.hi));
    let g0 = dot(a, &clamped(v, a, 0.0, bounds)) + beta;
    if g0 >= 0.0 {
        return Some(0.0);
    }
    // Coordinate i moves (contributes a_i² to the slope) while v_i + t a_i is inside [lo, hi].
    let mut events: Vec<(f64, f64)> = Vec::new();
    let mut slope = 0.0;
    for (&vi, &ai) in v.iter().zip(a) {
        if ai == 0.0 {
            continue;
        }
        let (t_lo, t_hi) = ((lo - vi) / ai, (hi - vi) / ai);
        let (enter, leave) = if ai > 0.0 { (t_lo, t_hi) } else { (t_hi, t_lo) };
        let w = ai * ai;
        if leave <= 0.0 {
            continue;
        }
        if enter <= 0.0 {
            slope += w;
        } else {
            events.push((enter, w));
        }
        if leave.is_finite() {
            events.push((leave, -w));
        }
    }
    events.sort_by(|p, q| p.0.total_cmp(&q.0));
    let (mut t, mut g) = (0.0f64, g0);
    for (at, dw) in events {
        let g_at = g + slope * (at - t);
        if slope > 0.0 && g_at >= 0.0 {
            return Some(t + (-g) / slope);
        }
        t = at;
        g = g_at;
        slope += dw;
    }
    (slope > 0.0).then(|| t + (-g) / slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> LinearModel {
        // Two classes in 3 dimensions: z_1 − z_0 = x_0 + 2 x_1 − x_2 − 1.
        LinearModel::new(vec![0.0, 0.0, 0.0, 1.0, 2.0, -1.0], vec![0.0, -1.0], 2, 3).unwrap()
    }

    #[test]
    fn interior_projection_is_the_euclidean_one() {
        let m = model();
        let x = [0.1, 0.1, 0.5];
        // g(0) = 0.1 + 0.2 − 0.5 − 1 = −1.2; ‖a‖² = 6; t = 0.2 keeps every coordinate inside.
        let o = m.beat(&x, 0, 1, Bounds::UNIT).unwrap().unwrap();
        let expected = [0.3, 0.5, 0.3];
        for (p, q) in o.x_adv.iter().zip(expected) {
            assert!((p - q).abs() < 1e-6, "{:?}", o.x_adv);
        }
        assert!((o.l2 - 1.2 / 6f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn saturating_coordinates_are_swept_exactly() {
        // z_1 − z_0 = x_0 + 2 x_1 − x_2 − 1.5. From x = (0, 0.99, 0.95): g(0) = −0.47; x_1
        // saturates at t = 0.005 (g = −0.44), then the slope drops from 6 to 2 and the root is
        // t = 0.225: x′ = (0.225, 1, 0.725).
        let m =
            LinearModel::new(vec![0.0, 0.0, 0.0, 1.0, 2.0, -1.0], vec![0.0, -1.5], 2, 3).unwrap();
        let o = m
            .beat(&[0.0, 0.99, 0.95], 0, 1, Bounds::UNIT)
            .unwrap()
            .unwrap();
        for (p, q) in o.x_adv.iter().zip([0.225, 1.0, 0.725]) {
            assert!((p - q).abs() < 1e-6, "{:?}", o.x_adv);
        }
        let z = m.logits(&o.x_adv);
        assert!((z[1] - z[0]).abs() < 1e-6, "on the boundary: {z:?}");
    }

    #[test]
    fn unreachable_class_gives_none() {
        // z_1 − z_0 = x_0 − 5 < 0 on the whole unit box.
        let m = LinearModel::new(vec![0.0, 0.0, 1.0, 0.0], vec![0.0, -5.0], 2, 2).unwrap();
        assert!(m.beat(&[0.5, 0.5], 0, 1, Bounds::UNIT).unwrap().is_none());
    }

    #[test]
    fn targeted_satisfies_every_constraint_and_matches_single_plane_when_only_one_binds() {
        // Three classes; class 2 must beat both 0 and 1.
        let m = LinearModel::new(
            vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            vec![0.0, 0.0, 0.0],
            3,
            2,
        )
        .unwrap();
        let x = [0.6, 0.2];
        let o = m
            .targeted(&x, 2, Bounds::UNIT, 1e-10, 1000)
            .unwrap()
            .unwrap();
        let z = m.logits(&o.x_adv);
        assert!(z[2] >= z[0] - 1e-9 && z[2] >= z[1] - 1e-9, "{z:?}");
        // The optimum is the origin (both coordinates must reach 0).
        assert!(o.x_adv.iter().all(|v| v.abs() < 1e-6), "{:?}", o.x_adv);
    }
}
