//! Ground truth for the frame bounds: the Fourier formula against the explicit operator's SVD,
//! and power iteration on Burn's real conv2d (adjoint through autodiff) and on dense layers.

use blindspot_spectral::{
    ConvShape, conv_bounds, conv_singular_values, explicit_operator, fc_bounds,
};
use blindspot_testing::{Lcg, test_devices, values};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use nalgebra::DMatrix;

/// Small layers: (filters, channels, kernel, stride, grid side).
const CASES: [(usize, usize, usize, usize, usize); 5] = [
    (3, 2, 3, 1, 6),
    (2, 3, 3, 2, 8),
    (4, 1, 3, 2, 10),
    (2, 2, 5, 4, 12),
    (5, 1, 3, 4, 8),
];

fn kernel(case: (usize, usize, usize, usize, usize), seed: u64) -> (ConvShape, Vec<f32>) {
    let (f, c, k, _, _) = case;
    let s = ConvShape {
        filters: f,
        channels: c,
        kh: k,
        kw: k,
    };
    (s, Lcg::new(seed).vec(f * c * k * k, -1.0, 1.0))
}

#[test]
fn fourier_singular_values_equal_the_explicit_operator_svd() {
    for (i, case) in CASES.into_iter().enumerate() {
        let (s, w) = kernel(case, i as u64);
        let (_, _, _, stride, n) = case;
        let a = explicit_operator(&w, s, stride, n).unwrap();
        let rows = s.filters * (n / stride) * (n / stride);
        let cols = s.channels * n * n;
        let m = DMatrix::from_row_slice(rows, cols, &a);
        let mut truth: Vec<f64> = m.singular_values().iter().copied().collect();
        truth.sort_by(|a, b| b.total_cmp(a));
        let fourier = conv_singular_values(&w, s, stride, n).unwrap();
        assert_eq!(fourier.len(), truth.len(), "case {case:?}: count");
        let top = truth[0];
        for (x, y) in fourier.iter().zip(&truth) {
            assert!((x - y).abs() <= 1e-4 * top, "case {case:?}: {x} vs {y}");
        }
        let b = conv_bounds(&w, s, stride, n, &|_, _| {}).unwrap();
        assert!((b.upper - top).abs() <= 1e-4 * top, "case {case:?}: upper");
        let low = *truth.last().unwrap();
        assert!(
            (b.lower - low).abs() <= 1e-4 * top,
            "case {case:?}: lower {} vs {low}",
            b.lower
        );
    }
}

/// Wrap-pads `x` `[b, c, n, n]` by `p` on the bottom/right (circular padding for a valid conv).
fn wrap(x: Tensor<4>, p: usize) -> Tensor<4> {
    if p == 0 {
        return x;
    }
    let [b, c, n, _] = x.dims();
    let x = Tensor::cat(vec![x.clone(), x.slice([0..b, 0..c, 0..p, 0..n])], 2);
    Tensor::cat(vec![x.clone(), x.slice([0..b, 0..c, 0..n + p, 0..p])], 3)
}

/// Power iteration for the norm of `x ↦ conv(x)`, the adjoint from autodiff of `<conv(x), y>`.
fn power_norm(w: &Tensor<4>, stride: usize, n: usize, circular: bool, device: &Device) -> f64 {
    let [_, c, k, _] = w.dims();
    let conv = |x: Tensor<4>| {
        if circular {
            conv2d(
                wrap(x, k - 1),
                w.clone(),
                None,
                ConvOptions::new([stride; 2], [0; 2], [1; 2], 1),
            )
        } else {
            conv2d(
                x,
                w.clone(),
                None,
                ConvOptions::new([stride; 2], [k / 2; 2], [1; 2], 1),
            )
        }
    };
    let mut x = Tensor::<4>::from_data(
        TensorData::new(Lcg::new(7).vec(c * n * n, -1.0, 1.0), [1, c, n, n]),
        device,
    );
    let mut est = 0.0;
    for _ in 0..300 {
        let norm = values(x.clone().powf_scalar(2.0).sum())[0].sqrt();
        x = x / norm;
        let xa = x.clone().autodiff().require_grad();
        let y = conv(xa.clone());
        let y_const = y.clone().detach();
        est = f64::from(values(y_const.clone().powf_scalar(2.0).sum())[0].sqrt());
        let grads = (y * y_const).sum().backward();
        x = xa.grad(&grads).unwrap();
    }
    est
}

#[test]
fn power_iteration_on_burn_conv2d_matches_circular_bound_and_stays_below_it_zero_padded() {
    for (name, device) in test_devices() {
        for (i, case) in CASES.into_iter().enumerate() {
            let (s, w) = kernel(case, 100 + i as u64);
            let (_, _, k, stride, n) = case;
            let bound = conv_bounds(&w, s, stride, n, &|_, _| {}).unwrap().upper;
            let wt =
                Tensor::<4>::from_data(TensorData::new(w, [s.filters, s.channels, k, k]), &device);
            let circ = power_norm(&wt, stride, n, true, &device);
            assert!(
                circ <= bound * (1.0 + 1e-4) && circ >= bound * 0.99,
                "{name} {case:?}: circular power {circ} vs Fourier {bound}"
            );
            let zero = power_norm(&wt, stride, n, false, &device);
            let padded = conv_bounds(
                &kernel(case, 100 + i as u64).1,
                s,
                stride,
                n + 2 * (k / 2),
                &|_, _| {},
            )
            .unwrap()
            .upper;
            assert!(
                zero <= padded * (1.0 + 1e-4),
                "{name} {case:?}: zero-padded power {zero} above the bound {padded}"
            );
        }
    }
}

#[test]
fn fc_bounds_equal_power_iteration_and_svd() {
    for (name, device) in test_devices() {
        for (rows, cols, seed) in [(7, 13, 1), (20, 9, 2), (16, 16, 3)] {
            let w = Lcg::new(seed).vec(rows * cols, -1.0, 1.0);
            let b = fc_bounds(&w, rows, cols).unwrap();
            let m = DMatrix::from_row_slice(
                rows,
                cols,
                &w.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
            );
            let sv = m.singular_values();
            let (lo, hi) = (sv.min(), sv.max());
            assert!((b.upper - hi).abs() <= 1e-6 * hi && (b.lower - lo).abs() <= 1e-6 * hi);
            // Power iteration on the device: x ← Wᵀ W x.
            let wt = Tensor::<2>::from_data(TensorData::new(w, [rows, cols]), &device);
            let mut x = Tensor::<2>::from_data(
                TensorData::new(Lcg::new(9).vec(cols, -1.0, 1.0), [cols, 1]),
                &device,
            );
            let mut est = 0.0;
            for _ in 0..500 {
                let norm = values(x.clone().powf_scalar(2.0).sum())[0].sqrt();
                x = x / norm;
                let y = wt.clone().matmul(x.clone());
                est = f64::from(values(y.clone().powf_scalar(2.0).sum())[0].sqrt());
                x = wt.clone().transpose().matmul(y);
            }
            assert!(
                (est - b.upper).abs() <= 1e-3 * b.upper,
                "{name} {rows}×{cols}: power {est} vs {}",
                b.upper
            );
        }
    }
}
