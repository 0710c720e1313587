//! The curvature pairs `(s, y)` of every row of a batch, and the two-loop recursion.
//!
//! Pair `i` is stored as `[n, D]` tensors for the whole batch with a per-row `ρ_i = 1/(s_i·y_i)`
//! `[n, 1]`. A row for which a pair was rejected (curvature `s·y` not positive) or whose history
//! was reset simply has `ρ_i = 0` there: in the recursion such a pair changes nothing for that
//! row, so every row sees exactly its own history and rows never interact.

use std::collections::VecDeque;

use burn::prelude::*;

/// The last `memory` curvature pairs of every row.
pub(crate) struct History {
    memory: usize,
    s: VecDeque<Tensor<2>>,
    y: VecDeque<Tensor<2>>,
    rho: VecDeque<Tensor<2>>,
}

/// Row-wise dot product, `[n, D] × [n, D] → [n, 1]`.
pub(crate) fn dot(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    crate::rows::sum(a * b)
}

impl History {
    pub(crate) fn new(memory: usize) -> Self {
        Self {
            memory,
            s: VecDeque::new(),
            y: VecDeque::new(),
            rho: VecDeque::new(),
        }
    }

    /// Adds a pair; `rho` is `1/(s·y)` where the pair is accepted and 0 where it is not.
    pub(crate) fn push(&mut self, s: Tensor<2>, y: Tensor<2>, rho: Tensor<2>) {
        if self.s.len() == self.memory {
            self.s.pop_front();
            self.y.pop_front();
            self.rho.pop_front();
        }
        self.s.push_back(s);
        self.y.push_back(y);
        self.rho.push_back(rho);
    }

    /// Keeps only the rows `keep` (local indices), in that order.
    pub(crate) fn select(&mut self, keep: &Tensor<1, Int>) {
        for t in self
            .s
            .iter_mut()
            .chain(self.y.iter_mut())
            .chain(self.rho.iter_mut())
        {
            *t = t.clone().select(0, keep.clone());
        }
    }

    /// Forgets every pair of the rows where `mask` (`[n, 1]`, 1 = forget) is set.
    pub(crate) fn forget(&mut self, mask: &Tensor<2>) {
        let keep = mask.clone().neg().add_scalar(1.0);
        for rho in &mut self.rho {
            *rho = rho.clone() * keep.clone();
        }
    }

    /// `H q` by the two-loop recursion, with `H₀ = γ I` per row (`gamma` `[n, 1]`).
    pub(crate) fn apply(&self, q: Tensor<2>, gamma: Tensor<2>) -> Tensor<2> {
        let mut q = q;
        let mut alphas = Vec::with_capacity(self.s.len());
        for i in (0..self.s.len()).rev() {
            let a = self.rho[i].clone() * dot(self.s[i].clone(), q.clone());
            q = q - self.y[i].clone() * a.clone();
            alphas.push(a);
        }
        alphas.reverse();
        let mut r = q * gamma;
        for (i, a) in alphas.into_iter().enumerate() {
            let b = self.rho[i].clone() * dot(self.y[i].clone(), r.clone());
            r = r + self.s[i].clone() * (a - b);
        }
        r
    }
}
