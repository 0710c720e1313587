//! The minimum-norm attacks (DeepFool under L2 and L∞, DDN) against the exact optimum of
//! linear models: [`LinearModel`]'s box-constrained L2 optimum (untargeted and targeted), and
//! for L∞ the closed form computed here: on a linear model the smallest box-constrained L∞
//! perturbation making class `l` beat `y` is `clamp(x + t·sign(a))`, `a = w_l − w_y`, at the
//! smallest `t` where `a·x′ + β` reaches 0 (each coordinate moves by `t` as far as the box
//! lets it, which is the most any perturbation of L∞ norm `t` can gain), found by bisection.

mod common;

use blindspot_attack::{
    AttackError, DdnAttack, DdnConfig, DeepFoolAttack, DeepFoolConfig, Goal, LinearModel, Norm,
    Quiet,
};
use blindspot_models::Bounds;
use burn::prelude::*;
use common::{
    Reports, constant_model, images, linear_model, linf, linf_untargeted, reaches, test_devices,
    upload,
};

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn deepfool_l2_reaches_the_exact_optimum_of_a_linear_model() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 1);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(12, 2);
        let result = DeepFoolAttack::default()
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
        assert_eq!(result.success_rate(), 1.0, "{name}");
        let mut ratios = Vec::new();
        for (i, &y) in labels.iter().enumerate() {
            let xi = &x[i * 784..(i + 1) * 784];
            let best = oracle.untargeted(xi, y, Bounds::UNIT).unwrap().unwrap();
            let ours = f64::from(result.l2[i]);
            let ratio = ours / best.l2;
            ratios.push(ratio);
            // The overshoot scales the whole perturbation by 1.02; 1% more for the steps.
            assert!(
                ratio <= 1.02 * 1.01,
                "{name}: image {i}: {ours} vs {}",
                best.l2
            );
            // Nothing in the box beats the exact minimum.
            assert!(
                ratio >= 1.0 - 1e-4,
                "{name}: image {i}: {ours} vs {}",
                best.l2
            );
            assert!(reaches(&oracle, &result, i), "{name}: image {i}");
            assert!(result.c[i].is_nan());
            assert!(
                result
                    .adversarial(i)
                    .iter()
                    .all(|v| (0.0..=1.0).contains(v))
            );
        }
        eprintln!(
            "deepfool L2 {name}: ratio to optimum mean {:.5} range {:.5}..{:.5}",
            mean(&ratios),
            ratios.iter().cloned().fold(f64::INFINITY, f64::min),
            ratios.iter().cloned().fold(0.0, f64::max)
        );
    }
}

#[test]
fn deepfool_linf_reaches_the_exact_optimum_of_a_linear_model() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 1);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(12, 2);
        let result = DeepFoolAttack::new(DeepFoolConfig {
            norm: Norm::Linf,
            ..DeepFoolConfig::default()
        })
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
        assert_eq!(result.success_rate(), 1.0, "{name}");
        let mut ratios = Vec::new();
        for (i, &y) in labels.iter().enumerate() {
            let xi = &x[i * 784..(i + 1) * 784];
            let best = linf_untargeted(&oracle, xi, y);
            let ours = linf(&result, &x, i);
            let ratio = ours / best;
            ratios.push(ratio);
            assert!(ratio <= 1.02 * 1.01, "{name}: image {i}: {ours} vs {best}");
            assert!(ratio >= 1.0 - 1e-4, "{name}: image {i}: {ours} vs {best}");
            assert!(reaches(&oracle, &result, i), "{name}: image {i}");
        }
        eprintln!(
            "deepfool Linf {name}: ratio to optimum mean {:.5} range {:.5}..{:.5}",
            mean(&ratios),
            ratios.iter().cloned().fold(f64::INFINITY, f64::min),
            ratios.iter().cloned().fold(0.0, f64::max)
        );
    }
}

#[test]
fn targeted_deepfool_and_ddn_reach_their_targets() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 3);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(10, 4);
        let deepfool = DeepFoolAttack::new(DeepFoolConfig {
            goal: Goal::Random,
            seed: 5,
            ..DeepFoolConfig::default()
        })
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
        let ddn = DdnAttack::new(DdnConfig {
            goal: Goal::Random,
            seed: 5,
            ..DdnConfig::default()
        })
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
        for (attack, result) in [("deepfool", &deepfool), ("ddn", &ddn)] {
            assert_eq!(result.success_rate(), 1.0, "{name} {attack}");
            let mut ratios = Vec::new();
            for (i, p) in result.problems.iter().enumerate() {
                let xi = &x[i * 784..(i + 1) * 784];
                let t = p.target.unwrap();
                let best = oracle
                    .targeted(xi, t, Bounds::UNIT, 1e-9, 10_000)
                    .unwrap()
                    .unwrap();
                let ratio = f64::from(result.l2[i]) / best.l2;
                ratios.push(ratio);
                assert!(reaches(&oracle, result, i), "{name} {attack}: {i} → {t}");
                assert!(ratio >= 1.0 - 1e-4, "{name} {attack}: {i} → {t}: {ratio}");
                // Measured: at most 1.0080 (DeepFool, whose overshoot allows 1.02) and 1.0024
                // (DDN); the bounds are those of the untargeted tests.
                let bound = if attack == "deepfool" {
                    1.02 * 1.01
                } else {
                    1.01
                };
                assert!(ratio <= bound, "{name} {attack}: {i} → {t}: {ratio}");
            }
            eprintln!(
                "targeted {attack} {name}: ratio to optimum mean {:.5} range {:.5}..{:.5}",
                mean(&ratios),
                ratios.iter().cloned().fold(f64::INFINITY, f64::min),
                ratios.iter().cloned().fold(0.0, f64::max)
            );
        }
    }
}

#[test]
fn ddn_comes_within_one_percent_of_the_exact_optimum_of_a_linear_model() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 1);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(12, 2);
        let result = DdnAttack::default()
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
        assert_eq!(result.success_rate(), 1.0, "{name}");
        let mut ratios = Vec::new();
        for (i, &y) in labels.iter().enumerate() {
            let xi = &x[i * 784..(i + 1) * 784];
            let best = oracle.untargeted(xi, y, Bounds::UNIT).unwrap().unwrap();
            let ratio = f64::from(result.l2[i]) / best.l2;
            ratios.push(ratio);
            // The norm rule alone only brings `‖δ‖` within a factor `1 + γ` (5%) of the
            // boundary; the annealed steps do much better: measured at most 1.0022 here (mean
            // 1.0009), so 1% is asserted.
            assert!(ratio <= 1.01, "{name}: image {i}: {ratio}");
            assert!(ratio >= 1.0 - 1e-4, "{name}: image {i}: {ratio}");
            assert!(reaches(&oracle, &result, i), "{name}: image {i}");
            assert_eq!(result.evaluations[i], 102, "{name}: image {i}");
        }
        eprintln!(
            "ddn {name}: ratio to optimum mean {:.5} range {:.5}..{:.5}",
            mean(&ratios),
            ratios.iter().cloned().fold(f64::INFINITY, f64::min),
            ratios.iter().cloned().fold(0.0, f64::max)
        );
    }
}

#[test]
fn a_model_without_input_gradient_leaves_the_images_unchanged_and_unsuccessful() {
    for (name, device) in test_devices() {
        let model = constant_model(&device);
        let (x, _) = images(3, 1);
        let labels = vec![0; 3];
        for norm in [Norm::L2, Norm::Linf] {
            let result = DeepFoolAttack::new(DeepFoolConfig {
                norm,
                ..DeepFoolConfig::default()
            })
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
            assert_eq!(result.success, vec![false; 3], "{name} {norm:?}");
            assert_eq!(result.x_adv, x, "{name} {norm:?}");
            assert!(result.distortion.iter().all(|d| d.is_nan()));
            // The clean check, one check and one gradient pass, the final check.
            assert_eq!(result.evaluations, vec![4; 3], "{name} {norm:?}");
        }
        let result = DdnAttack::new(DdnConfig {
            goal: Goal::Target(3),
            steps: 5,
            ..DdnConfig::default()
        })
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
        assert_eq!(result.success, vec![false; 3], "{name}");
        assert_eq!(result.x_adv, x, "{name}");
    }
}

#[test]
fn results_do_not_depend_on_workers_or_batch_size() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 8);
        let (x, labels) = images(7, 9);
        let mut runs = Vec::new();
        for (workers, batch_size) in [(1, 256), (2, 256), (1, 3), (2, 2)] {
            let mut reports = Reports(Vec::new());
            let d = DeepFoolAttack::new(DeepFoolConfig {
                workers,
                batch_size,
                ..DeepFoolConfig::default()
            })
            .run(&model, upload(&x, &device), &labels, &mut reports)
            .unwrap();
            assert_eq!(reports.0.last(), Some(&(7, 7)), "{name}");
            assert!(reports.0.windows(2).all(|w| w[0].0 <= w[1].0), "{name}");
            let n = DdnAttack::new(DdnConfig {
                workers,
                batch_size,
                steps: 30,
                goal: Goal::Random,
                ..DdnConfig::default()
            })
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
            runs.push((d, n));
        }
        let (d0, n0) = &runs[0];
        for (d, n) in &runs[1..] {
            for (a, b) in [(d0, d), (n0, n)] {
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
}

#[test]
fn invalid_settings_are_refused_by_field() {
    let device = Device::flex();
    let model = linear_model(&device, 1);
    let (x, labels) = images(2, 1);
    let deepfool: Vec<(DeepFoolConfig, &str)> = vec![
        (
            DeepFoolConfig {
                steps: 0,
                ..Default::default()
            },
            "steps",
        ),
        (
            DeepFoolConfig {
                overshoot: -0.1,
                ..Default::default()
            },
            "overshoot",
        ),
        (
            DeepFoolConfig {
                overshoot: f32::NAN,
                ..Default::default()
            },
            "overshoot",
        ),
        (
            DeepFoolConfig {
                overshoot: f32::INFINITY,
                ..Default::default()
            },
            "overshoot",
        ),
        (
            DeepFoolConfig {
                batch_size: 0,
                ..Default::default()
            },
            "batch_size",
        ),
        (
            DeepFoolConfig {
                workers: 0,
                ..Default::default()
            },
            "workers",
        ),
    ];
    for (config, want) in deepfool {
        let outcome = DeepFoolAttack::new(config.clone()).run(
            &model,
            upload(&x, &device),
            &labels,
            &mut Quiet,
        );
        match outcome {
            Err(AttackError::Config { field, .. }) => assert_eq!(field, want, "{config:?}"),
            other => panic!(
                "{config:?}: expected a config error, got {:?}",
                other.map(|r| r.success)
            ),
        }
    }
    let ddn: Vec<(DdnConfig, &str)> = vec![
        (
            DdnConfig {
                steps: 0,
                ..Default::default()
            },
            "steps",
        ),
        (
            DdnConfig {
                step_size: 0.0,
                ..Default::default()
            },
            "step_size",
        ),
        (
            DdnConfig {
                step_size: f32::NAN,
                ..Default::default()
            },
            "step_size",
        ),
        (
            DdnConfig {
                gamma: 0.0,
                ..Default::default()
            },
            "gamma",
        ),
        (
            DdnConfig {
                gamma: 1.0,
                ..Default::default()
            },
            "gamma",
        ),
        (
            DdnConfig {
                gamma: f32::NAN,
                ..Default::default()
            },
            "gamma",
        ),
        (
            DdnConfig {
                init_norm: 0.0,
                ..Default::default()
            },
            "init_norm",
        ),
        (
            DdnConfig {
                init_norm: f32::INFINITY,
                ..Default::default()
            },
            "init_norm",
        ),
        (
            DdnConfig {
                batch_size: 0,
                ..Default::default()
            },
            "batch_size",
        ),
        (
            DdnConfig {
                workers: 0,
                ..Default::default()
            },
            "workers",
        ),
    ];
    for (config, want) in ddn {
        let outcome =
            DdnAttack::new(config.clone()).run(&model, upload(&x, &device), &labels, &mut Quiet);
        match outcome {
            Err(AttackError::Config { field, .. }) => assert_eq!(field, want, "{config:?}"),
            other => panic!(
                "{config:?}: expected a config error, got {:?}",
                other.map(|r| r.success)
            ),
        }
    }
    // Inputs are checked as for the other attacks.
    assert!(matches!(
        DeepFoolAttack::default().run(&model, upload(&x, &device), &labels[..1], &mut Quiet),
        Err(AttackError::Shape { what: "labels", .. })
    ));
    assert!(matches!(
        DdnAttack::default().run(&model, upload(&x, &device), &labels[..1], &mut Quiet),
        Err(AttackError::Shape { what: "labels", .. })
    ));
}
