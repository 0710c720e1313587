//! The batched box-constrained L-BFGS on problems with known optima, and the independence of its
//! rows.

mod common;

use blindspot_attack::{AttackError, LbfgsbConfig, Result, Termination, minimize};
use blindspot_models::Bounds;
use burn::prelude::*;
use common::{Lcg, test_devices, values};

/// `f_b(x) = Σ_i w_bi (x_i − p_bi)²`: the box-constrained optimum is `clamp(p_b)`.
struct Quadratic {
    w: Tensor<2>,
    p: Tensor<2>,
}

impl Quadratic {
    fn evaluate(&self, x: Tensor<2>, rows: &Tensor<1, Int>) -> Result<(Tensor<1>, Tensor<2>)> {
        let w = self.w.clone().select(0, rows.clone());
        let p = self.p.clone().select(0, rows.clone());
        let diff = x - p;
        let n = diff.dims()[0];
        let f = (w.clone() * diff.clone().square()).sum_dim(1).reshape([n]);
        Ok((f, w * diff * 2.0))
    }
}

/// The 2-D Rosenbrock function `(1 − x)² + 100 (y − x²)²` in every row, shifted per row.
fn rosenbrock(
    x: Tensor<2>,
    shift: &Tensor<2>,
    rows: &Tensor<1, Int>,
) -> Result<(Tensor<1>, Tensor<2>)> {
    let n = x.dims()[0];
    let s = shift.clone().select(0, rows.clone());
    let z = x - s;
    let a = z.clone().slice([0..n, 0..1]);
    let b = z.slice([0..n, 1..2]);
    let t = b.clone() - a.clone().square();
    let f = (a.clone().neg().add_scalar(1.0).square() + t.clone().square() * 100.0).reshape([n]);
    let ga = (a.clone().neg().add_scalar(1.0)) * -2.0 - t.clone() * a * 400.0;
    let gb = t * 200.0;
    Ok((f, Tensor::cat(vec![ga, gb], 1)))
}

/// Settings that run every row to a projected gradient of 1e-6 (no stop on small decreases).
fn to_convergence(max_iterations: usize) -> LbfgsbConfig {
    LbfgsbConfig {
        max_iterations,
        pg_tolerance: 1e-6,
        f_tolerance: 0.0,
        ..LbfgsbConfig::default()
    }
}

fn quadratic(device: &Device, n: usize, d: usize, seed: u64) -> (Quadratic, Vec<f32>) {
    let mut rng = Lcg::new(seed);
    let w = rng.vec(n * d, 0.1, 10.0);
    let p = rng.vec(n * d, -0.5, 1.5);
    let expected = p.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    (
        Quadratic {
            w: Tensor::from_data(TensorData::new(w, [n, d]), device),
            p: Tensor::from_data(TensorData::new(p, [n, d]), device),
        },
        expected,
    )
}

#[test]
fn box_constrained_quadratics_reach_the_clamped_optimum() {
    for (name, device) in test_devices() {
        let (n, d) = (16, 50);
        let (q, expected) = quadratic(&device, n, d, 1);
        let x0 = Tensor::<2>::full([n, d], 0.5, &device);
        let config = to_convergence(LbfgsbConfig::default().max_iterations);
        let sol = minimize(
            &mut |x, r: &Tensor<1, Int>| q.evaluate(x, r),
            x0,
            Bounds::UNIT,
            &config,
        )
        .unwrap();
        let x = values(sol.x);
        for (i, (a, b)) in x.iter().zip(&expected).enumerate() {
            assert!((a - b).abs() < 1e-4, "{name}: coordinate {i}: {a} vs {b}");
        }
        assert!(
            sol.termination.iter().all(|t| *t == Termination::Converged),
            "{name}: {:?}",
            sol.termination
        );
        assert!(sol.evaluations.iter().all(|&e| e >= 2));
        assert!(sol.value.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn rosenbrock_in_a_box_finds_the_optimum_on_the_bound() {
    let device = Device::flex();
    // Row 0: unconstrained optimum (1, 1) is inside [−2, 2]². Row 1: the box is [−2, 0.5] (after
    // the shift), so the optimum is (0.5, 0.25) with the first coordinate on its bound.
    let shift = Tensor::<2>::from_data([[0.0, 0.0], [1.5, 1.5]], &device);
    let bounds = Bounds { lo: -2.0, hi: 2.0 };
    let x0 = Tensor::<2>::from_data([[-1.2, 1.0], [0.3, 1.5]], &device);
    let config = to_convergence(500);
    let sol = minimize(
        &mut |x, r: &Tensor<1, Int>| rosenbrock(x, &shift, r),
        x0,
        bounds,
        &config,
    )
    .unwrap();
    let x = values(sol.x);
    assert!(
        (x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3,
        "{x:?} {:?}",
        sol.termination
    );
    // Row 1 in unshifted coordinates: z = x − 1.5 ∈ [−3.5, 0.5]; the optimum z = (0.5, 0.25).
    assert!((x[2] - 2.0).abs() < 1e-5, "{x:?}");
    assert!((x[3] - 1.75).abs() < 1e-3, "{x:?} {:?}", sol.termination);
}

#[test]
fn the_objective_sees_its_rows_in_their_original_order() {
    for (name, device) in test_devices() {
        // Rosenbrock rows from different starts backtrack at different line-search trials, so
        // their steps are accepted in different orders.
        let n = 12;
        let mut rng = Lcg::new(7);
        let shift = Tensor::<2>::zeros([n, 2], &device);
        let x0 =
            Tensor::<2>::from_data(TensorData::new(rng.vec(2 * n, -1.5, 1.5), [n, 2]), &device);
        let mut seen = Vec::new();
        let config = to_convergence(200);
        let sol = minimize(
            &mut |x, r: &Tensor<1, Int>| {
                seen.push(
                    r.clone()
                        .into_data()
                        .convert::<i64>()
                        .try_to_vec::<i64>()
                        .unwrap(),
                );
                rosenbrock(x, &shift, r)
            },
            x0,
            Bounds { lo: -2.0, hi: 2.0 },
            &config,
        )
        .unwrap();
        assert!(seen.len() > 20, "{name}: {} evaluations", seen.len());
        for rows in &seen {
            assert!(rows.windows(2).all(|w| w[0] < w[1]), "{name}: {rows:?}");
            if rows.len() == n {
                assert_eq!(rows, &(0..n as i64).collect::<Vec<_>>(), "{name}");
            }
        }
        let x = values(sol.x);
        for i in 0..n {
            let (a, b) = (x[2 * i], x[2 * i + 1]);
            assert!(
                (a - 1.0).abs() < 1e-2 && (b - 1.0).abs() < 2e-2,
                "{name}: row {i}: {a}, {b}"
            );
        }
    }
}

#[test]
fn rows_solved_together_equal_rows_solved_alone() {
    for (name, device) in test_devices() {
        let (n, d) = (8, 30);
        let (q, _) = quadratic(&device, n, d, 7);
        let mut rng = Lcg::new(9);
        let x0 = Tensor::<2>::from_data(TensorData::new(rng.vec(n * d, 0.0, 1.0), [n, d]), &device);
        // Few iterations and a tolerance that stops rows at different times.
        let config = LbfgsbConfig {
            max_iterations: 30,
            pg_tolerance: 1e-2,
            ..LbfgsbConfig::default()
        };
        let together = minimize(
            &mut |x, r: &Tensor<1, Int>| q.evaluate(x, r),
            x0.clone(),
            Bounds::UNIT,
            &config,
        )
        .unwrap();
        let xt = values(together.x.clone());
        for row in 0..n {
            let single = Quadratic {
                w: q.w.clone().slice([row..row + 1, 0..d]),
                p: q.p.clone().slice([row..row + 1, 0..d]),
            };
            let alone = minimize(
                &mut |x, r: &Tensor<1, Int>| single.evaluate(x, r),
                x0.clone().slice([row..row + 1, 0..d]),
                Bounds::UNIT,
                &config,
            )
            .unwrap();
            let xa = values(alone.x);
            for (a, b) in xa.iter().zip(&xt[row * d..(row + 1) * d]) {
                assert!((a - b).abs() <= 1e-6, "{name}: row {row}: {a} vs {b}");
            }
            assert_eq!(
                alone.iterations[0], together.iterations[row],
                "{name}: row {row}"
            );
            assert_eq!(
                alone.evaluations[0], together.evaluations[row],
                "{name}: row {row}"
            );
            assert_eq!(
                alone.termination[0], together.termination[row],
                "{name}: row {row}"
            );
        }
        // The rows did stop at different times, so the working set really shrank.
        let iters: std::collections::BTreeSet<_> = together.iterations.iter().collect();
        assert!(iters.len() > 1, "{name}: {:?}", together.iterations);
    }
}

#[test]
fn iterates_stay_in_the_box_and_bad_settings_are_typed_errors() {
    let device = Device::flex();
    let (q, _) = quadratic(&device, 4, 10, 3);
    let seen_outside = std::cell::Cell::new(false);
    let mut objective = |x: Tensor<2>, r: &Tensor<1, Int>| {
        let v = values(x.clone());
        if v.iter().any(|&e| !(0.0..=1.0).contains(&e)) {
            seen_outside.set(true);
        }
        q.evaluate(x, r)
    };
    // Start outside the box: the solver clamps first.
    let x0 = Tensor::<2>::full([4, 10], 3.0, &device);
    minimize(
        &mut objective,
        x0.clone(),
        Bounds::UNIT,
        &LbfgsbConfig::default(),
    )
    .unwrap();
    assert!(!seen_outside.get());
    for bad in [
        LbfgsbConfig {
            memory: 0,
            ..LbfgsbConfig::default()
        },
        LbfgsbConfig {
            armijo: 1.5,
            ..LbfgsbConfig::default()
        },
        LbfgsbConfig {
            pg_tolerance: f32::NAN,
            ..LbfgsbConfig::default()
        },
    ] {
        let err = minimize(&mut objective, x0.clone(), Bounds::UNIT, &bad).unwrap_err();
        assert!(matches!(err, AttackError::Config { .. }), "{err}");
    }
    let inverted = Bounds { lo: 1.0, hi: 0.0 };
    assert!(matches!(
        minimize(&mut objective, x0, inverted, &LbfgsbConfig::default()),
        Err(AttackError::Config { .. })
    ));
}
