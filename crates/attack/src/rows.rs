//! Row-wise sums and maxima of `[n, D]` tensors that are right on every backend, for rows as
//! wide as a photo.
//!
//! Written here, not taken from Burn, because Burn 0.22's `sum_dim`/`max_dim` on wgpu (the
//! reduction kernels of cubek-reduce 0.3.1) return wrong values once a row holds 65,536 values
//! or more. Measured on Mesa's lavapipe against f64 sums on the host: `[2, 150528]` (one
//! 3 × 224 × 224 photo a row) came out 26% off, `[4, 150528]` to `[64, 150528]` gave rows of
//! zeros, `[4, 65536]` was 0.1% off and a single `[1, 268203]` row (3 × 299 × 299) 76% off;
//! every width up to 49,152 was right to 1e-6 at every row count tried (1–128), and so was
//! every shape when the row was reduced in column blocks of at most 32,768 and the blocks'
//! results reduced again. That is what these functions do; rows of at most [`BLOCK`] values
//! (every MNIST-sized row) take Burn's one reduction as before. Whether a real GPU's driver
//! shows the same is unknown (none was available); the block reduction is right either way.
//! `crates/cli/tests/wgpu_smoke.rs` checks both functions on wgpu against host sums.
//!
//! The L-BFGS solver's dot products and every attack's pixel-wide norm go through here. An
//! objective for [`crate::minimize`] over wide rows should use [`sum`] for its own sums too.

use burn::prelude::*;

/// The widest row reduced in one kernel.
pub const BLOCK: usize = 32_768;

/// `[n, D] → [n, 1]`: the sum of every row.
pub fn sum(x: Tensor<2>) -> Tensor<2> {
    by_blocks(x, |block| block.sum_dim(1))
}

/// `[n, D] → [n, 1]`: the largest value of every row.
pub fn max(x: Tensor<2>) -> Tensor<2> {
    by_blocks(x, |block| block.max_dim(1))
}

/// `reduce` over column blocks of at most [`BLOCK`] values, then over the blocks' results.
fn by_blocks(x: Tensor<2>, reduce: impl Fn(Tensor<2>) -> Tensor<2>) -> Tensor<2> {
    if x.dims()[1] <= BLOCK {
        return reduce(x);
    }
    let blocks = x.split(BLOCK, 1).into_iter().map(&reduce).collect();
    reduce(Tensor::cat(blocks, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact in f32: small integers, so every order of summation gives the same value.
    fn ramp(n: usize, d: usize) -> (Vec<f32>, Tensor<2>) {
        let v: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 13) as f32).collect();
        let t = Tensor::from_data(TensorData::new(v.clone(), [n, d]), &Device::flex());
        (v, t)
    }

    #[test]
    fn block_sums_and_maxima_equal_the_rows_own() {
        for (n, d) in [
            (3, 10),
            (2, BLOCK),
            (2, BLOCK + 1),
            (3, 3 * BLOCK + 17),
            (1, 150_528),
        ] {
            let (v, t) = ramp(n, d);
            let s: Vec<f32> = sum(t.clone()).into_data().iter::<f32>().collect();
            let m: Vec<f32> = max(t.clone()).into_data().iter::<f32>().collect();
            assert_eq!(sum(t).dims(), [n, 1]);
            for r in 0..n {
                let row = &v[r * d..(r + 1) * d];
                assert_eq!(
                    s[r],
                    row.iter().sum::<f32>(),
                    "sum of row {r} of [{n}, {d}]"
                );
                assert_eq!(m[r], row.iter().copied().fold(f32::MIN, f32::max));
            }
        }
    }

    #[test]
    fn gradients_flow_through_the_blocks() {
        let device = Device::flex().autodiff();
        let d = 2 * BLOCK + 5;
        let x = Tensor::<2>::ones([2, d], &device).require_grad();
        let grads = sum(x.clone().square()).sum().backward();
        let g: Vec<f32> = x.grad(&grads).unwrap().into_data().iter::<f32>().collect();
        assert!(g.iter().all(|&v| v == 2.0), "d/dx Σx² = 2x = 2 everywhere");
    }
}
