//! The ε-bounded attacks (FGSM, PGD under L∞ and L2) against closed forms on linear models:
//! for logits `z = Wx + b` the cross-entropy's input gradient is `Wᵀ(softmax(z) − onehot)`,
//! computed here on the host in f64, and on a 2-class model the loss only depends on
//! `a·x` with `a = w_other − w_y`, so the best point of the ball and the box is known.

mod common;

use blindspot_attack::{
    AttackError, AttackResult, FgsmAttack, FgsmConfig, Goal, LinearModel, Norm, PgdAttack,
    PgdConfig, Quiet,
};
use blindspot_models::mlp::{Activation, Mlp};
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use common::{Lcg, Reports, argmax, images, linear_model, test_devices};

fn upload(x: &[f32], dim: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(x.to_vec(), [x.len() / dim, dim]), device)
}

/// A linear model from host weights `w` `[dim, classes]` (Burn's layout) and biases.
fn linear(w: Vec<f32>, b: Vec<f32>, dim: usize, device: &Device) -> Mlp {
    let classes = b.len();
    Mlp {
        layers: vec![Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [dim, classes]),
                device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [classes]),
                device,
            ))),
        }],
        activation: Activation::Sigmoid,
        weight_decay: vec![0.0],
    }
}

const DIM2: usize = 64;

/// A 2-class linear model on 64 inputs whose weight difference `w_1 − w_0` has every
/// coordinate at least 0.05 away from 0 (so that its sign is never in doubt), and `n` images
/// in `[lo, hi]` labelled by the model itself (none misclassified).
fn two_class(
    device: &Device,
    seed: u64,
    n: usize,
    lo: f32,
    hi: f32,
) -> (Mlp, LinearModel, Vec<f32>, Vec<usize>) {
    let mut rng = Lcg::new(seed);
    let mut w = vec![0.0f32; DIM2 * 2];
    for i in 0..DIM2 {
        let base = 0.2 * (rng.next() - 0.5);
        let gap = (0.05 + 0.1 * rng.next()) * if rng.next() < 0.5 { -1.0 } else { 1.0 };
        w[i * 2] = base;
        w[i * 2 + 1] = base + gap;
    }
    let x: Vec<f32> = (0..n * DIM2).map(|_| lo + (hi - lo) * rng.next()).collect();
    // Centre the decision boundary on the images: half of them on each side.
    let mean_gap: f64 = (0..n * DIM2)
        .map(|j| f64::from(w[(j % DIM2) * 2 + 1] - w[(j % DIM2) * 2]) * f64::from(x[j]))
        .sum::<f64>()
        / n as f64;
    let model = linear(w, vec![0.0, -mean_gap as f32], DIM2, device);
    let oracle = LinearModel::from_mlp(&model).unwrap();
    let labels = (0..n)
        .map(|i| argmax(&oracle.logits(&x[i * DIM2..(i + 1) * DIM2])))
        .collect();
    (model, oracle, x, labels)
}

/// `Wᵀ(softmax(z) − onehot(class))` at `x`, in f64.
fn cross_entropy_gradient(oracle: &LinearModel, x: &[f32], class: usize) -> Vec<f64> {
    let z = oracle.logits(x);
    let top = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - top).exp()).collect();
    let sum: f64 = e.iter().sum();
    let mut g = vec![0.0; oracle.dim];
    for (k, ek) in e.iter().enumerate() {
        let coef = ek / sum - if k == class { 1.0 } else { 0.0 };
        for (i, gi) in g.iter_mut().enumerate() {
            *gi += coef * f64::from(oracle.weight[k * oracle.dim + i]);
        }
    }
    g
}

/// `z_other − z_y` of a 2-class model at `x`.
fn lead_of_other(oracle: &LinearModel, x: &[f32], y: usize) -> f64 {
    let z = oracle.logits(x);
    z[1 - y] - z[y]
}

fn perturbation(result: &AttackResult, x: &[f32], i: usize) -> Vec<f64> {
    let dim = result.dim;
    let image = result.problems[i].image;
    result
        .adversarial(i)
        .iter()
        .zip(&x[image * dim..(image + 1) * dim])
        .map(|(&a, &b)| f64::from(a) - f64::from(b))
        .collect()
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

#[test]
fn fgsm_steps_epsilon_times_the_sign_of_the_hand_computed_gradient() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 11);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        // Uniform images keep the softmax away from saturation: where `p_y` rounds to 1 in
        // f32, `p_y − 1` (and with it the gradient's sign) is rounding noise.
        let mut rng = Lcg::new(3);
        let x = rng.vec(8 * 784, 0.0, 1.0);
        let labels: Vec<usize> = (0..8)
            .map(|i| argmax(&oracle.logits(&x[i * 784..(i + 1) * 784])))
            .collect();
        for goal in [Goal::Untargeted, Goal::Random] {
            let epsilon = 0.07;
            let result = FgsmAttack::new(FgsmConfig {
                goal,
                epsilon,
                seed: 4,
                ..FgsmConfig::default()
            })
            .run(&model, upload(&x, 784, &device), &labels, &mut Quiet)
            .unwrap();
            assert_eq!(result.problems.len(), labels.len());
            let mut ambiguous = 0;
            for (i, p) in result.problems.iter().enumerate() {
                let xi = &x[p.image * 784..(p.image + 1) * 784];
                assert!(result.c[i].is_nan());
                if result.at_goal[i] {
                    assert_eq!(result.adversarial(i), xi, "{name} {goal}: {i}");
                    continue;
                }
                assert_eq!(result.evaluations[i], 3, "{name} {goal}: {i}");
                // Untargeted: up the true class's loss; targeted: down the target's.
                let (class, way) = match p.target {
                    None => (p.label, 1.0f32),
                    Some(t) => (t, -1.0),
                };
                let g = cross_entropy_gradient(&oracle, xi, class);
                for (j, (&gj, &adv)) in g.iter().zip(result.adversarial(i)).enumerate() {
                    // A sign f32 rounding of the softmax (~1e-7 per class) could flip.
                    let scale: f64 = (0..oracle.classes)
                        .map(|k| f64::from(oracle.weight[k * 784 + j]).abs())
                        .sum();
                    if gj.abs() < 1e-5 * scale {
                        ambiguous += 1;
                        continue;
                    }
                    let sign = if gj > 0.0 { 1.0 } else { -1.0 };
                    let want = (xi[j] + way * sign * epsilon).clamp(0.0, 1.0);
                    assert!(
                        (adv - want).abs() <= 1e-6,
                        "{name} {goal}: problem {i} pixel {j}: {adv} vs {want}"
                    );
                }
                // The reported success is the host's verdict on the stored image.
                let z = oracle.logits(result.adversarial(i));
                let reached = match p.target {
                    None => argmax(&z) != p.label,
                    Some(t) => argmax(&z) == t,
                };
                assert_eq!(result.success[i], reached, "{name} {goal}: {i}");
                if reached {
                    let d = perturbation(&result, &x, i);
                    let rms = (norm2(&d) / 28.0) as f32;
                    assert!((result.distortion[i] - rms).abs() <= 1e-6 * rms.max(1.0));
                } else {
                    assert!(result.distortion[i].is_nan());
                }
            }
            assert!(ambiguous <= 8, "{name} {goal}: {ambiguous} ambiguous signs");
        }
    }
}

#[test]
fn pgd_linf_reaches_the_box_and_ball_optimum_of_a_two_class_model() {
    for (name, device) in test_devices() {
        let (model, oracle, x, labels) = two_class(&device, 21, 40, 0.0, 1.0);
        let epsilon = 0.05;
        let result = PgdAttack::new(PgdConfig {
            epsilon,
            steps: 20,
            step_size: 0.0125,
            seed: 9,
            ..PgdConfig::default()
        })
        .run(&model, upload(&x, DIM2, &device), &labels, &mut Quiet)
        .unwrap();
        let (mut wins, mut losses) = (0, 0);
        for (i, &y) in labels.iter().enumerate() {
            assert!(!result.at_goal[i]);
            let xi = &x[i * DIM2..(i + 1) * DIM2];
            // The optimum: x + ε·sign(w_other − w_y), clipped to the box.
            let optimum: Vec<f32> = (0..DIM2)
                .map(|j| {
                    let a = oracle.weight[(1 - y) * DIM2 + j] - oracle.weight[y * DIM2 + j];
                    (xi[j] + epsilon * a.signum()).clamp(0.0, 1.0)
                })
                .collect();
            for (j, (&got, &want)) in result.adversarial(i).iter().zip(&optimum).enumerate() {
                assert!(
                    (got - want).abs() <= 1e-6,
                    "{name}: image {i} pixel {j}: {got} vs {want}"
                );
            }
            let lead = lead_of_other(&oracle, &optimum, y);
            if lead.abs() > 1e-4 {
                assert_eq!(result.success[i], lead > 0.0, "{name}: image {i}: {lead}");
            }
            if result.success[i] {
                wins += 1
            } else {
                losses += 1
            }
        }
        assert!(
            wins > 0 && losses > 0,
            "{name}: {wins} wins, {losses} losses"
        );
    }
}

#[test]
fn pgd_l2_stays_in_the_ball_and_finds_the_closed_form_direction() {
    for (name, device) in test_devices() {
        // Images away from the box's faces: the ball alone binds, and the optimum of a
        // 2-class model is x + ε·a/‖a‖ with a = w_other − w_y.
        let (model, oracle, x, labels) = two_class(&device, 5, 12, 0.3, 0.7);
        let epsilon = 0.3;
        let result = PgdAttack::new(PgdConfig {
            norm: Norm::L2,
            epsilon,
            steps: 40,
            step_size: epsilon / 2.0,
            seed: 2,
            ..PgdConfig::default()
        })
        .run(&model, upload(&x, DIM2, &device), &labels, &mut Quiet)
        .unwrap();
        for (i, &y) in labels.iter().enumerate() {
            let r = perturbation(&result, &x, i);
            assert!(
                norm2(&r) <= f64::from(epsilon) * (1.0 + 1e-5),
                "{name}: {i}"
            );
            let a: Vec<f64> = (0..DIM2)
                .map(|j| {
                    f64::from(oracle.weight[(1 - y) * DIM2 + j])
                        - f64::from(oracle.weight[y * DIM2 + j])
                })
                .collect();
            let len = norm2(&a);
            let miss: Vec<f64> = r
                .iter()
                .zip(&a)
                .map(|(ri, ai)| ri - f64::from(epsilon) * ai / len)
                .collect();
            assert!(
                norm2(&miss) <= 1e-3 * f64::from(epsilon),
                "{name}: image {i}: {} from the optimum",
                norm2(&miss)
            );
            let optimum: Vec<f32> = x[i * DIM2..(i + 1) * DIM2]
                .iter()
                .zip(&a)
                .map(|(&v, ai)| (f64::from(v) + f64::from(epsilon) * ai / len) as f32)
                .collect();
            let lead = lead_of_other(&oracle, &optimum, y);
            if lead.abs() > 1e-4 {
                assert_eq!(result.success[i], lead > 0.0, "{name}: image {i}: {lead}");
            }
        }
        // On the 10-class model with images on the box's faces, the ball still holds.
        let model = linear_model(&device, 2);
        let (x, labels) = images(6, 1);
        let result = PgdAttack::new(PgdConfig {
            norm: Norm::L2,
            epsilon: 1.5,
            steps: 10,
            step_size: 0.5,
            restarts: 2,
            ..PgdConfig::default()
        })
        .run(&model, upload(&x, 784, &device), &labels, &mut Quiet)
        .unwrap();
        for i in 0..labels.len() {
            let r = perturbation(&result, &x, i);
            assert!(norm2(&r) <= 1.5 * (1.0 + 1e-5) + 1e-5, "{name}: {i}");
            assert!(
                result
                    .adversarial(i)
                    .iter()
                    .all(|v| (0.0..=1.0).contains(v))
            );
        }
    }
}

#[test]
fn targeted_attacks_reach_every_target_when_epsilon_is_large() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 7);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(3, 5);
        for norm in [Norm::Linf, Norm::L2] {
            let epsilon = if norm == Norm::Linf { 1.0 } else { 28.0 };
            let result = PgdAttack::new(PgdConfig {
                goal: Goal::All,
                norm,
                epsilon,
                steps: 60,
                step_size: epsilon / 20.0,
                ..PgdConfig::default()
            })
            .run(&model, upload(&x, 784, &device), &labels, &mut Quiet)
            .unwrap();
            assert_eq!(result.problems.len(), 27);
            assert_eq!(result.success_rate(), 1.0, "{name} {norm:?}");
            for (i, p) in result.problems.iter().enumerate() {
                assert_eq!(
                    argmax(&oracle.logits(result.adversarial(i))),
                    p.target.unwrap()
                );
            }
        }
        let fgsm = FgsmAttack::new(FgsmConfig {
            goal: Goal::All,
            epsilon: 1.0,
            ..FgsmConfig::default()
        })
        .run(&model, upload(&x, 784, &device), &labels, &mut Quiet)
        .unwrap();
        assert_eq!(fgsm.success_rate(), 1.0, "{name}: FGSM");
    }
}

#[test]
fn results_do_not_depend_on_workers_or_batch_size() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 8);
        let (x, labels) = images(7, 9);
        let pgd = PgdConfig {
            epsilon: 0.06,
            steps: 8,
            step_size: 0.015,
            restarts: 2,
            seed: 3,
            ..PgdConfig::default()
        };
        let fgsm = FgsmConfig {
            epsilon: 0.06,
            ..FgsmConfig::default()
        };
        let mut runs = Vec::new();
        for (workers, batch_size) in [(1, 256), (2, 256), (1, 3), (2, 2)] {
            let mut reports = Reports(Vec::new());
            let p = PgdAttack::new(PgdConfig {
                workers,
                batch_size,
                ..pgd.clone()
            })
            .run(&model, upload(&x, 784, &device), &labels, &mut reports)
            .unwrap();
            assert_eq!(reports.0.last(), Some(&(7, 7)), "{name}");
            assert!(reports.0.windows(2).all(|w| w[0].0 <= w[1].0), "{name}");
            let f = FgsmAttack::new(FgsmConfig {
                workers,
                batch_size,
                ..fgsm.clone()
            })
            .run(&model, upload(&x, 784, &device), &labels, &mut Quiet)
            .unwrap();
            runs.push((p, f));
        }
        let (p0, f0) = &runs[0];
        for (p, f) in &runs[1..] {
            for (a, b) in [(p0, p), (f0, f)] {
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
    let pgd = |config: PgdConfig| {
        PgdAttack::new(config).run(&model, upload(&x, 784, &device), &labels, &mut Quiet)
    };
    let cases: Vec<(PgdConfig, &str)> = vec![
        (
            PgdConfig {
                epsilon: -0.1,
                ..Default::default()
            },
            "epsilon",
        ),
        (
            PgdConfig {
                epsilon: f32::NAN,
                ..Default::default()
            },
            "epsilon",
        ),
        (
            PgdConfig {
                epsilon: f32::INFINITY,
                ..Default::default()
            },
            "epsilon",
        ),
        (
            PgdConfig {
                steps: 0,
                ..Default::default()
            },
            "steps",
        ),
        (
            PgdConfig {
                step_size: 0.0,
                ..Default::default()
            },
            "step_size",
        ),
        (
            PgdConfig {
                step_size: f32::NAN,
                ..Default::default()
            },
            "step_size",
        ),
        (
            PgdConfig {
                restarts: 0,
                ..Default::default()
            },
            "restarts",
        ),
        (
            PgdConfig {
                batch_size: 0,
                ..Default::default()
            },
            "batch_size",
        ),
        (
            PgdConfig {
                workers: 0,
                ..Default::default()
            },
            "workers",
        ),
    ];
    for (config, want) in cases {
        match pgd(config.clone()) {
            Err(AttackError::Config { field, .. }) => assert_eq!(field, want, "{config:?}"),
            other => panic!(
                "{config:?}: expected a config error, got {:?}",
                other.map(|r| r.success)
            ),
        }
    }
    for (config, want) in [
        (
            FgsmConfig {
                epsilon: -1.0,
                ..Default::default()
            },
            "epsilon",
        ),
        (
            FgsmConfig {
                batch_size: 0,
                ..Default::default()
            },
            "batch_size",
        ),
        (
            FgsmConfig {
                workers: 0,
                ..Default::default()
            },
            "workers",
        ),
    ] {
        let outcome = FgsmAttack::new(config.clone()).run(
            &model,
            upload(&x, 784, &device),
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
    // ε = 0 is valid and leaves every image as it is.
    let result = FgsmAttack::new(FgsmConfig {
        epsilon: 0.0,
        ..Default::default()
    })
    .run(&model, upload(&x, 784, &device), &labels, &mut Quiet)
    .unwrap();
    assert_eq!(result.x_adv, x);
    // Inputs are checked as for the L-BFGS attack.
    assert!(matches!(
        PgdAttack::default().run(&model, upload(&x, 784, &device), &labels[..1], &mut Quiet),
        Err(AttackError::Shape { what: "labels", .. })
    ));
}
