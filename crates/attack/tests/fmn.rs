//! The Fast Minimum-Norm attack under L2 and L∞ against the exact optimum of linear models:
//! [`LinearModel`]'s box-constrained L2 optimum (untargeted and targeted), and for L∞ the
//! closed form computed here: on a linear model the smallest box-constrained L∞ perturbation
//! making class `l` beat `k` is `clamp(x + t·sign(a))`, `a = w_l − w_k`, at the smallest `t`
//! where `a·x′ + β` reaches 0 (each coordinate moves by `t` as far as the box lets it, which is
//! the most any perturbation of L∞ norm `t` can gain), found by bisection.

mod common;

use blindspot_attack::{
    AttackError, AttackResult, FmnAttack, FmnConfig, Goal, LinearModel, Norm, Quiet,
};
use blindspot_models::Bounds;
use burn::prelude::*;
use common::{
    argmax, constant_model, images, linear_model, linf, linf_pair, linf_targeted_bound,
    linf_untargeted, reaches, test_devices, upload,
};

fn summary(v: &[f64]) -> String {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(0.0, f64::max);
    format!("mean {mean:.5} range {lo:.5}..{hi:.5}")
}

/// The ratio of each problem's norm to the exact optimum (`best`), checked against `bound`
/// and `1 − 1e-4`, and returned.
fn ratios(
    name: &str,
    oracle: &LinearModel,
    result: &AttackResult,
    x: &[f32],
    norm: Norm,
    bound: f64,
    best: impl Fn(usize, &[f32]) -> f64,
) -> Vec<f64> {
    assert_eq!(result.success_rate(), 1.0, "{name} {norm:?}");
    let mut out = Vec::new();
    for i in 0..result.problems.len() {
        let image = result.problems[i].image;
        let xi = &x[image * 784..(image + 1) * 784];
        let ours = match norm {
            Norm::L2 => f64::from(result.l2[i]),
            Norm::Linf => linf(result, x, i),
        };
        let ratio = ours / best(i, xi);
        out.push(ratio);
        assert!(ratio <= bound, "{name}: problem {i}: {ratio}");
        // Nothing in the box beats the exact minimum.
        assert!(ratio >= 1.0 - 1e-4, "{name}: problem {i}: {ratio}");
        assert!(reaches(oracle, result, i), "{name}: problem {i}");
        assert!(result.c[i].is_nan());
        assert!(
            result
                .adversarial(i)
                .iter()
                .all(|v| (0.0..=1.0).contains(v))
        );
    }
    out
}

#[test]
fn fmn_comes_within_one_percent_of_the_exact_untargeted_optimum() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 1);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(12, 2);
        for norm in [Norm::L2, Norm::Linf] {
            let result = FmnAttack::new(FmnConfig {
                norm,
                ..FmnConfig::default()
            })
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
            // L∞: FMN's margin follows the highest-scoring other class, which need not be the
            // class nearest in L∞: on image 0 it reaches class 4 (optimum 0.1731) while class 9
            // lies at 0.1685, a ratio of 1.0271. So the global bound there is 3%, and 1% is
            // asserted against the optimum for the class actually reached (below).
            let bound = if norm == Norm::L2 { 1.01 } else { 1.03 };
            let r = ratios(
                name,
                &oracle,
                &result,
                &x,
                norm,
                bound,
                |i, xi| match norm {
                    Norm::L2 => {
                        oracle
                            .untargeted(xi, labels[i], Bounds::UNIT)
                            .unwrap()
                            .unwrap()
                            .l2
                    }
                    Norm::Linf => linf_untargeted(&oracle, xi, labels[i]),
                },
            );
            assert_eq!(result.evaluations, vec![102; 12], "{name}");
            eprintln!("fmn {norm:?} {name}: ratio to optimum {}", summary(&r));
            if norm == Norm::Linf {
                let mut own = Vec::new();
                for (i, &y) in labels.iter().enumerate() {
                    let xi = &x[i * 784..(i + 1) * 784];
                    let reached = argmax(&oracle.logits(result.adversarial(i)));
                    let ratio = linf(&result, &x, i) / linf_pair(&oracle, xi, reached, y);
                    assert!(ratio <= 1.01, "{name}: image {i} → {reached}: {ratio}");
                    assert!(
                        ratio >= 1.0 - 1e-4,
                        "{name}: image {i} → {reached}: {ratio}"
                    );
                    own.push(ratio);
                }
                eprintln!(
                    "fmn Linf {name}: ratio to the reached class's optimum {}",
                    summary(&own)
                );
            }
        }
    }
}

#[test]
fn targeted_fmn_comes_within_one_percent_of_the_exact_optimum() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 3);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(10, 4);
        for norm in [Norm::L2, Norm::Linf] {
            let result = FmnAttack::new(FmnConfig {
                goal: Goal::Random,
                seed: 5,
                norm,
                ..FmnConfig::default()
            })
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
            let targets: Vec<usize> = result.problems.iter().map(|p| p.target.unwrap()).collect();
            let r = ratios(name, &oracle, &result, &x, norm, 1.01, |i, xi| match norm {
                Norm::L2 => {
                    oracle
                        .targeted(xi, targets[i], Bounds::UNIT, 1e-9, 10_000)
                        .unwrap()
                        .unwrap()
                        .l2
                }
                Norm::Linf => linf_targeted_bound(&oracle, xi, targets[i]),
            });
            eprintln!(
                "targeted fmn {norm:?} {name}: ratio to optimum {}",
                summary(&r)
            );
        }
    }
}

#[test]
fn fmn_results_do_not_depend_on_workers_or_batch_size() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 8);
        let (x, labels) = images(7, 9);
        for norm in [Norm::L2, Norm::Linf] {
            let mut runs = Vec::new();
            for (workers, batch_size) in [(1, 256), (2, 256), (1, 3), (2, 2)] {
                runs.push(
                    FmnAttack::new(FmnConfig {
                        workers,
                        batch_size,
                        norm,
                        steps: 30,
                        goal: Goal::Random,
                        ..FmnConfig::default()
                    })
                    .run(&model, upload(&x, &device), &labels, &mut Quiet)
                    .unwrap(),
                );
            }
            let a = &runs[0];
            for b in &runs[1..] {
                assert_eq!(a.problems, b.problems, "{name}");
                assert_eq!(a.success, b.success, "{name}");
                assert_eq!(a.at_goal, b.at_goal, "{name}");
                assert_eq!(a.evaluations, b.evaluations, "{name}");
                // Other batch sizes may round the model's product differently.
                for (u, v) in a.x_adv.iter().zip(&b.x_adv) {
                    assert!((u - v).abs() <= 1e-5, "{name} {norm:?}: {u} vs {v}");
                }
            }
        }
    }
}

#[test]
fn invalid_fmn_settings_are_refused_by_field() {
    let device = Device::flex();
    let model = linear_model(&device, 1);
    let (x, labels) = images(2, 1);
    let base = FmnConfig::default;
    let cases: Vec<(FmnConfig, &str)> = vec![
        (FmnConfig { steps: 0, ..base() }, "steps"),
        (
            FmnConfig {
                alpha_init: 0.0,
                ..base()
            },
            "alpha_init",
        ),
        (
            FmnConfig {
                alpha_init: f32::NAN,
                ..base()
            },
            "alpha_init",
        ),
        (
            FmnConfig {
                alpha_init: f32::INFINITY,
                ..base()
            },
            "alpha_init",
        ),
        (
            FmnConfig {
                alpha_final: 0.0,
                ..base()
            },
            "alpha_final",
        ),
        (
            FmnConfig {
                alpha_final: 2.0,
                ..base()
            },
            "alpha_final",
        ),
        (
            FmnConfig {
                alpha_final: f32::NAN,
                ..base()
            },
            "alpha_final",
        ),
        (
            FmnConfig {
                gamma_init: 0.0,
                ..base()
            },
            "gamma_init",
        ),
        (
            FmnConfig {
                gamma_init: 1.0,
                ..base()
            },
            "gamma_init",
        ),
        (
            FmnConfig {
                gamma_init: f32::NAN,
                ..base()
            },
            "gamma_init",
        ),
        (
            FmnConfig {
                gamma_final: -0.1,
                ..base()
            },
            "gamma_final",
        ),
        (
            FmnConfig {
                gamma_final: 0.5,
                ..base()
            },
            "gamma_final",
        ),
        (
            FmnConfig {
                gamma_final: f32::NAN,
                ..base()
            },
            "gamma_final",
        ),
        (
            FmnConfig {
                batch_size: 0,
                ..base()
            },
            "batch_size",
        ),
        (
            FmnConfig {
                workers: 0,
                ..base()
            },
            "workers",
        ),
    ];
    for (config, want) in cases {
        let outcome =
            FmnAttack::new(config.clone()).run(&model, upload(&x, &device), &labels, &mut Quiet);
        match outcome {
            Err(AttackError::Config { field, .. }) => assert_eq!(field, want, "{config:?}"),
            other => panic!(
                "{config:?}: expected a config error, got {:?}",
                other.map(|r| r.success)
            ),
        }
    }
    assert!(matches!(
        FmnAttack::default().run(&model, upload(&x, &device), &labels[..1], &mut Quiet),
        Err(AttackError::Shape { what: "labels", .. })
    ));
}

#[test]
fn a_model_without_input_gradient_leaves_the_images_unchanged_and_unsuccessful() {
    for (name, device) in test_devices() {
        let model = constant_model(&device);
        let (x, _) = images(3, 1);
        let labels = vec![0; 3];
        for norm in [Norm::L2, Norm::Linf] {
            let result = FmnAttack::new(FmnConfig {
                norm,
                steps: 5,
                ..FmnConfig::default()
            })
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
            assert_eq!(result.success, vec![false; 3], "{name} {norm:?}");
            assert_eq!(result.x_adv, x, "{name} {norm:?}");
        }
    }
}

#[test]
fn fmn_breaks_images_next_to_the_boundary_where_the_box_clips_its_steps() {
    // Images of pixels at 0 or 1 (as MNIST's mostly are), moved 80% of the way to their exact
    // optimum: the boundary is close and most coordinates of a step leave the box.
    for (name, device) in test_devices() {
        let model = linear_model(&device, 1);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(12, 2);
        let binary: Vec<f32> = x
            .iter()
            .map(|&v| if v > 0.45 { 1.0 } else { 0.0 })
            .collect();
        let mut near = Vec::with_capacity(binary.len());
        for (i, &y) in labels.iter().enumerate() {
            let xi = &binary[i * 784..(i + 1) * 784];
            let best = oracle.untargeted(xi, y, Bounds::UNIT).unwrap().unwrap();
            near.extend(xi.iter().zip(&best.x_adv).map(|(a, b)| a + 0.8 * (b - a)));
        }
        let result = FmnAttack::default()
            .run(&model, upload(&near, &device), &labels, &mut Quiet)
            .unwrap();
        let r = ratios(name, &oracle, &result, &near, Norm::L2, 1.01, |i, xi| {
            oracle
                .untargeted(xi, labels[i], Bounds::UNIT)
                .unwrap()
                .unwrap()
                .l2
        });
        eprintln!(
            "fmn L2 next to the boundary {name}: ratio to optimum {}",
            summary(&r)
        );
    }
}
