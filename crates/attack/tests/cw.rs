//! Carlini & Wagner's L2 attack against the exact box-constrained L2 optimum of linear models
//! ([`LinearModel`]), untargeted and targeted, and its handling of bad settings and of a model
//! without input gradient.

mod common;

use blindspot_attack::{AttackError, AttackResult, CwAttack, CwConfig, Goal, LinearModel, Quiet};
use blindspot_models::Bounds;
use burn::prelude::*;
use common::{constant_model, images, linear_model, reaches, test_devices, upload};

fn summary(v: &[f64]) -> (f64, String) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(0.0, f64::max);
    (mean, format!("mean {mean:.5} range {lo:.5}..{hi:.5}"))
}

/// The ratio of each problem's L2 to the exact optimum (`best`), after checking success, the
/// goal by the host's own logits, the box, `c`, and that nothing beats the optimum.
fn ratios(
    name: &str,
    oracle: &LinearModel,
    result: &AttackResult,
    x: &[f32],
    best: impl Fn(usize, &[f32]) -> f64,
) -> Vec<f64> {
    assert_eq!(result.success_rate(), 1.0, "{name}");
    let mut out = Vec::new();
    for i in 0..result.problems.len() {
        let image = result.problems[i].image;
        let xi = &x[image * 784..(image + 1) * 784];
        let ratio = f64::from(result.l2[i]) / best(i, xi);
        out.push(ratio);
        // Within 1% for every problem (measured at most 1.0065), and nothing in the box beats
        // the exact minimum.
        assert!(ratio <= 1.01, "{name}: problem {i}: {ratio}");
        assert!(ratio >= 1.0 - 1e-4, "{name}: problem {i}: {ratio}");
        assert!(reaches(oracle, result, i), "{name}: problem {i}");
        assert!(
            result.c[i] > 0.0 && result.c[i].is_finite(),
            "{name}: problem {i}: c = {}",
            result.c[i]
        );
        assert!(
            result
                .adversarial(i)
                .iter()
                .all(|v| (0.0..=1.0).contains(v)),
            "{name}: problem {i}"
        );
    }
    out
}

/// The default settings (1,000 Adam steps per round). At 100 steps and
/// learning rate 0.01 C&W lands 1.7% above the optimum on average here (1.9% targeted), with
/// or without the early abort, and 15 search steps instead of 9 barely help (1.2%): the step
/// budget, not the boundary, limits it. A step in `w` moves a pixel by at most
/// `0.01 · (hi − lo)/2 · (1 − tanh²(w)) ≤ 0.005`, and the optimum moves the 156 pixels of the
/// two classes' blocks by about 0.2 each, so some 50 steps go into reaching the boundary and
/// too few are left to settle on it. With 300 steps, or a learning rate of 0.05, the mean was
/// 1.002; with 1,000 (the paper and Foolbox use 10,000) 1.0015.
fn settings(goal: Goal) -> CwConfig {
    CwConfig {
        goal,
        ..CwConfig::default()
    }
}

#[test]
fn cw_comes_within_one_percent_of_the_exact_untargeted_optimum() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 1);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(12, 2);
        let result = CwAttack::new(settings(Goal::Untargeted))
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
        let r = ratios(name, &oracle, &result, &x, |i, xi| {
            oracle
                .untargeted(xi, labels[i], Bounds::UNIT)
                .unwrap()
                .unwrap()
                .l2
        });
        let (mean, text) = summary(&r);
        eprintln!("cw {name}: ratio to optimum {text}");
        assert!(mean <= 1.01, "{name}: {text}");
        // The clean check, at most 9 rounds of 1,000 steps, the final check; the early abort
        // cuts every row's rounds short.
        assert!(
            result.evaluations.iter().all(|&e| (3..9_002).contains(&e)),
            "{name}: {:?}",
            result.evaluations
        );
    }
}

#[test]
fn targeted_cw_comes_within_one_percent_of_the_exact_optimum() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 3);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(10, 4);
        let result = CwAttack::new(CwConfig {
            seed: 5,
            ..settings(Goal::Random)
        })
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
        let targets: Vec<usize> = result.problems.iter().map(|p| p.target.unwrap()).collect();
        let r = ratios(name, &oracle, &result, &x, |i, xi| {
            oracle
                .targeted(xi, targets[i], Bounds::UNIT, 1e-9, 10_000)
                .unwrap()
                .unwrap()
                .l2
        });
        let (mean, text) = summary(&r);
        eprintln!("targeted cw {name}: ratio to optimum {text}");
        assert!(mean <= 1.01, "{name}: {text}");
    }
}

#[test]
fn cw_results_do_not_depend_on_workers_or_batch_size() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 8);
        let (x, labels) = images(7, 9);
        let mut runs = Vec::new();
        for (workers, batch_size) in [(1, 256), (2, 256), (1, 3), (2, 2)] {
            runs.push(
                CwAttack::new(CwConfig {
                    workers,
                    batch_size,
                    search_steps: 6,
                    goal: Goal::Random,
                    ..CwConfig::default()
                })
                .run(&model, upload(&x, &device), &labels, &mut Quiet)
                .unwrap(),
            );
        }
        let a = &runs[0];
        assert!(a.success.iter().any(|&s| s), "{name}");
        for b in &runs[1..] {
            assert_eq!(a.problems, b.problems, "{name}");
            assert_eq!(a.success, b.success, "{name}");
            assert_eq!(a.at_goal, b.at_goal, "{name}");
            assert_eq!(a.evaluations, b.evaluations, "{name}");
            // Other batch sizes may round the model's product differently.
            for (u, v) in a.x_adv.iter().zip(&b.x_adv) {
                assert!((u - v).abs() <= 1e-5, "{name}: {u} vs {v}");
            }
        }
    }
}

#[test]
fn invalid_cw_settings_are_refused_by_field() {
    let device = Device::flex();
    let model = linear_model(&device, 1);
    let (x, labels) = images(2, 1);
    let base = CwConfig::default;
    let cases: Vec<(CwConfig, &str)> = vec![
        (
            CwConfig {
                search_steps: 0,
                ..base()
            },
            "search_steps",
        ),
        (CwConfig { steps: 0, ..base() }, "steps"),
        (
            CwConfig {
                step_size: 0.0,
                ..base()
            },
            "step_size",
        ),
        (
            CwConfig {
                step_size: f32::NAN,
                ..base()
            },
            "step_size",
        ),
        (
            CwConfig {
                initial_c: -1.0,
                ..base()
            },
            "initial_c",
        ),
        (
            CwConfig {
                initial_c: f32::INFINITY,
                ..base()
            },
            "initial_c",
        ),
        (
            CwConfig {
                confidence: -0.5,
                ..base()
            },
            "confidence",
        ),
        (
            CwConfig {
                confidence: f32::NAN,
                ..base()
            },
            "confidence",
        ),
        (
            CwConfig {
                batch_size: 0,
                ..base()
            },
            "batch_size",
        ),
        (
            CwConfig {
                workers: 0,
                ..base()
            },
            "workers",
        ),
    ];
    for (config, want) in cases {
        assert!(
            matches!(config.validate(), Err(AttackError::Config { field, .. }) if field == want),
            "{config:?}"
        );
        let outcome =
            CwAttack::new(config.clone()).run(&model, upload(&x, &device), &labels, &mut Quiet);
        match outcome {
            Err(AttackError::Config { field, .. }) => assert_eq!(field, want, "{config:?}"),
            other => panic!(
                "{config:?}: expected a config error, got {:?}",
                other.map(|r| r.success)
            ),
        }
    }
    CwConfig::default().validate().unwrap();
    assert!(matches!(
        CwAttack::default().run(&model, upload(&x, &device), &labels[..1], &mut Quiet),
        Err(AttackError::Shape { what: "labels", .. })
    ));
}

#[test]
fn a_model_without_input_gradient_leaves_the_images_unchanged_and_unsuccessful() {
    for (name, device) in test_devices() {
        let model = constant_model(&device);
        let (x, _) = images(3, 1);
        let labels = vec![0; 3];
        for goal in [Goal::Untargeted, Goal::Target(3)] {
            let result = CwAttack::new(CwConfig {
                goal,
                search_steps: 3,
                steps: 20,
                ..CwConfig::default()
            })
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
            assert_eq!(result.success, vec![false; 3], "{name} {goal:?}");
            assert_eq!(result.x_adv, x, "{name} {goal:?}");
            assert!(result.c.iter().all(|c| c.is_nan()), "{name} {goal:?}");
            assert!(result.l2.iter().all(|d| d.is_nan()), "{name} {goal:?}");
        }
    }
}
