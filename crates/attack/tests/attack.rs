//! The attack on models whose optimum is known exactly (linear), its bookkeeping, and its
//! files.

mod common;

use blindspot_attack::files::{self, AttackSummary};
use blindspot_attack::{
    AnyAttack, AttackConfig, AttackError, AttackResult, Goal, LbfgsAttack, LinearModel, Problem,
    Quiet, TargetedLoss,
};
use blindspot_models::{Bounds, Classifier};
use burn::prelude::*;
use common::{Reports, images, linear_model, test_devices, upload, values};

fn config(goal: Goal) -> AttackConfig {
    AttackConfig {
        goal,
        ..AttackConfig::default()
    }
}

#[test]
fn untargeted_attack_reaches_the_exact_optimum_of_a_linear_model() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 1);
        let oracle = LinearModel::from_mlp(&model).unwrap();
        let (x, labels) = images(12, 2);
        let result = LbfgsAttack::new(config(Goal::Untargeted))
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
        assert_eq!(result.success_rate(), 1.0, "{name}");
        for (i, &y) in labels.iter().enumerate() {
            let xi = &x[i * 784..(i + 1) * 784];
            let best = oracle.untargeted(xi, y, Bounds::UNIT).unwrap().unwrap();
            let exact = (best.l2 / 28.0) as f32;
            let ours = result.distortion[i];
            assert!(
                ours <= exact * 1.01 + 1e-6,
                "{name}: image {i}: {ours} vs exact {exact}"
            );
            // Nothing in the box beats the optimum (ties count as reached for the oracle).
            assert!(
                ours >= exact * 0.999,
                "{name}: image {i}: {ours} below exact {exact}"
            );
            assert!(
                result
                    .adversarial(i)
                    .iter()
                    .all(|v| (0.0..=1.0).contains(v))
            );
            // The model really predicts another class on the stored image.
            let z = oracle.logits(result.adversarial(i));
            let top = (0..10).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap();
            assert_ne!(top, y, "{name}: image {i}");
        }
    }
}

#[test]
fn targeted_attack_is_within_two_percent_of_the_targeted_optimum() {
    let device = Device::flex();
    let model = linear_model(&device, 3);
    let oracle = LinearModel::from_mlp(&model).unwrap();
    let (x, labels) = images(10, 4);
    for loss in [
        TargetedLoss::CrossEntropy,
        TargetedLoss::Margin { kappa: 0.01 },
    ] {
        let cfg = AttackConfig {
            loss,
            seed: 5,
            ..config(Goal::Random)
        };
        let result = LbfgsAttack::new(cfg)
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
        assert_eq!(result.success_rate(), 1.0, "{loss:?}");
        for (i, p) in result.problems.iter().enumerate() {
            let xi = &x[i * 784..(i + 1) * 784];
            let t = p.target.unwrap();
            let best = oracle
                .targeted(xi, t, Bounds::UNIT, 1e-9, 10_000)
                .unwrap()
                .unwrap();
            let exact = (best.l2 / 28.0) as f32;
            assert!(
                result.distortion[i] <= exact * 1.02 + 1e-6,
                "{loss:?}: image {i} → {t}: {} vs exact {exact}",
                result.distortion[i]
            );
            assert!(result.distortion[i] >= exact * 0.999);
        }
    }
}

#[test]
fn attacking_a_batch_equals_attacking_each_image_alone() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 6);
        let (x, labels) = images(5, 7);
        let attack = LbfgsAttack::new(config(Goal::Untargeted));
        let together = attack
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
        for i in 0..labels.len() {
            let alone = attack
                .run(
                    &model,
                    upload(&x[i * 784..(i + 1) * 784], &device),
                    &labels[i..i + 1],
                    &mut Quiet,
                )
                .unwrap();
            assert_eq!(alone.success[0], together.success[i], "{name}: image {i}");
            // The solver's rows agree to 1e-6 when solved alone (tests/solver.rs); here the
            // model's matrix product may round differently for a batch of 1 and of 5, and the
            // refinement's bisection can flip on such a rounding at the boundary.
            assert!(
                (alone.distortion[0] - together.distortion[i]).abs()
                    <= 1e-3 * together.distortion[i],
                "{name}: image {i}: {} vs {}",
                alone.distortion[0],
                together.distortion[i]
            );
        }
    }
}

#[test]
fn workers_share_the_batches_without_changing_the_results_or_their_order() {
    for (name, device) in test_devices() {
        let model = linear_model(&device, 8);
        let (x, labels) = images(7, 9);
        for goal in [Goal::Untargeted, Goal::Random] {
            let one = LbfgsAttack::new(config(goal))
                .run(&model, upload(&x, &device), &labels, &mut Quiet)
                .unwrap();
            let mut reports = Reports(Vec::new());
            // Batches of 2 images (6 problems with 3 rivals each): 4 batches for 3 workers.
            let per_image = if goal == Goal::Untargeted { 3 } else { 1 };
            let three = LbfgsAttack::new(AttackConfig {
                workers: 3,
                batch_size: 2 * per_image,
                ..config(goal)
            })
            .run(&model, upload(&x, &device), &labels, &mut reports)
            .unwrap();
            assert_eq!(one.problems, three.problems, "{name} {goal}");
            assert_eq!(one.success, three.success, "{name} {goal}");
            for i in 0..labels.len() {
                // As in `attacking_a_batch_equals_attacking_each_image_alone`: other batch
                // sizes may round the model's product differently.
                assert!(
                    (one.distortion[i] - three.distortion[i]).abs() <= 1e-3 * one.distortion[i],
                    "{name} {goal}: image {i}: {} vs {}",
                    one.distortion[i],
                    three.distortion[i]
                );
            }
            let total = one.problems.len();
            assert_eq!(reports.0.last(), Some(&(total, total)), "{name} {goal}");
            assert!(
                reports.0.windows(2).all(|w| w[0].0 <= w[1].0),
                "{name} {goal}: progress went back: {:?}",
                reports.0
            );
        }
    }
}

/// A linear model whose logits panic on any batch holding an image whose first pixel is 0.5, a
/// value the test images never have.
struct Poisoned(blindspot_models::mlp::Mlp);

impl Classifier for Poisoned {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        let first = x.clone().slice([0..x.dims()[0], 0..1]);
        let marked: bool = first.equal_elem(0.5).any().into_scalar();
        assert!(!marked, "poisoned batch");
        self.0.logits(x)
    }
    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        self.0.activations(x)
    }
    fn input_shape(&self) -> [usize; 3] {
        self.0.input_shape()
    }
    fn num_classes(&self) -> usize {
        self.0.num_classes()
    }
}

#[test]
fn a_worker_that_panics_ends_the_attack_with_an_error() {
    let device = Device::flex();
    let model = Poisoned(linear_model(&device, 8));
    let (mut x, labels) = images(6, 9);
    // The last image's batch panics; the others are fine.
    x[5 * 784] = 0.5;
    let outcome = LbfgsAttack::new(AttackConfig {
        workers: 2,
        batch_size: 3,
        ..config(Goal::Untargeted)
    })
    .run(&model, upload(&x, &device), &labels, &mut Quiet);
    match outcome {
        Err(blindspot_attack::AttackError::Worker(why)) => {
            assert!(why.contains("poisoned batch"), "{why}")
        }
        other => panic!(
            "expected a worker error, got {:?}",
            other.map(|r| r.success)
        ),
    }
}

#[test]
fn a_worker_that_panics_stops_the_other_workers() {
    let device = Device::flex();
    let model = Poisoned(linear_model(&device, 8));
    const N: usize = 40;
    let (mut x, labels) = images(N, 9);
    // The first chunk panics at once; each other chunk is one image's whole L-BFGS search.
    x[0] = 0.5;
    let mut reports = Reports(Vec::new());
    let outcome = LbfgsAttack::new(AttackConfig {
        workers: 2,
        batch_size: 1,
        ..config(Goal::Random)
    })
    .run(&model, upload(&x, &device), &labels, &mut reports);
    assert!(
        matches!(&outcome, Err(blindspot_attack::AttackError::Worker(why)) if why.contains("poisoned batch")),
        "{:?}",
        outcome.map(|r| r.success)
    );
    // The other worker ends the chunk it holds (one, two if it started well before the
    // panicking one) and takes no more: before, it went on through all 39.
    let finished = reports.0.iter().map(|&(done, _)| done).max().unwrap_or(0);
    assert!(
        finished <= 3,
        "{finished} of {N} images were attacked after the panic"
    );
}

#[test]
fn batching_does_not_make_another_attack_but_any_other_setting_does() {
    let base = config(Goal::Untargeted);
    let rebatched = AttackConfig {
        batch_size: 7,
        workers: 5,
        ..base.clone()
    };
    assert!(base.same_attack(&rebatched));
    let other = AttackConfig {
        solver: blindspot_attack::LbfgsbConfig {
            memory: 3,
            ..base.solver.clone()
        },
        ..base.clone()
    };
    assert!(!base.same_attack(&other));
    assert!(!base.same_attack(&config(Goal::Random)));
}

#[test]
fn the_minimum_over_all_targets_is_the_untargeted_minimum() {
    let device = Device::flex();
    let model = linear_model(&device, 8);
    let (x, labels) = images(4, 9);
    let all = LbfgsAttack::new(config(Goal::All))
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
    assert_eq!(all.problems.len(), 36);
    let untargeted = LbfgsAttack::new(config(Goal::Untargeted))
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
    for i in 0..4 {
        let min = (0..9)
            .map(|j| all.distortion[i * 9 + j])
            .filter(|d| d.is_finite())
            .fold(f32::INFINITY, f32::min);
        let u = untargeted.distortion[i];
        assert!(
            (min - u).abs() <= 0.02 * u,
            "image {i}: min over targets {min}, untargeted {u}"
        );
    }
}

#[test]
fn misclassified_images_are_flagged_not_attacked() {
    let device = Device::flex();
    let model = linear_model(&device, 10);
    let (x, mut labels) = images(3, 11);
    let predicted = values(model.predict(upload(&x, &device)).float());
    labels[1] = (predicted[1] as usize + 1) % 10;
    let result = LbfgsAttack::new(config(Goal::Untargeted))
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
    assert!(result.misclassified[1] && !result.misclassified[0] && !result.misclassified[2]);
    assert_eq!(result.distortion[1], 0.0);
    assert_eq!(result.adversarial(1), &x[784..2 * 784]);
    assert!(result.success[1]);
    assert!(result.distortion[0] > 0.0);
    // A target is still attacked on a misclassified image (unless it is already predicted).
    let target = (predicted[1] as usize + 2) % 10;
    let cfg = AttackConfig {
        goal: Goal::Target(target),
        ..AttackConfig::default()
    };
    let result = LbfgsAttack::new(cfg)
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
    assert!(result.misclassified[1] && result.success[1]);
    assert!(result.distortion[1] > 0.0);
}

#[test]
fn results_round_trip_through_safetensors_and_json() {
    let device = Device::flex();
    let model = linear_model(&device, 12);
    let (x, labels) = images(3, 13);
    let cfg = AttackConfig {
        seed: 2,
        ..config(Goal::Random)
    };
    let result = LbfgsAttack::new(cfg.clone())
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
    let summary = AttackSummary::new(&result, cfg.clone(), "linear", "test", "flex");
    let dir = tempfile::tempdir().unwrap();
    files::save(dir.path(), &x, &result, &summary).unwrap();
    let t = files::load_tensors(dir.path()).unwrap();
    assert_eq!(t["x"].shape, vec![3, 1, 28, 28]);
    assert_eq!(files::input_shape_of(&t).unwrap(), [1, 28, 28]);
    assert_eq!(t["x"].values, x);
    assert_eq!(t["x_adv"].values, result.x_adv);
    assert_eq!(t["distortion"].values, result.distortion);
    let targets: Vec<f32> = result
        .problems
        .iter()
        .map(|p| p.target.unwrap() as f32)
        .collect();
    assert_eq!(t["target"].values, targets);
    assert_eq!(
        t["label"].values,
        labels.iter().map(|&l| l as f32).collect::<Vec<_>>()
    );
    let loaded = files::load_summary(dir.path()).unwrap();
    assert_eq!(loaded.config, summary.config);
    assert_eq!(
        (loaded.images, loaded.problems),
        (summary.images, summary.problems)
    );
    assert!((loaded.mean_distortion - summary.mean_distortion).abs() < 1e-12);
    assert_eq!(summary.images, 3);
    assert!((summary.success_rate - 1.0).abs() < 1e-12);
}

#[test]
fn tensors_and_a_summary_of_two_different_saves_are_refused_as_a_pair() {
    let device = Device::flex();
    let model = linear_model(&device, 12);
    let (x, labels) = images(3, 13);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, seed) in [(&a, 2), (&b, 3)] {
        let cfg = AttackConfig {
            seed,
            ..config(Goal::Random)
        };
        let result = LbfgsAttack::new(cfg.clone())
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .unwrap();
        let summary = AttackSummary::new(&result, cfg.clone(), "linear", "test", "flex");
        files::save(dir.path(), &x, &result, &summary).unwrap();
    }
    let tensors = |d: &tempfile::TempDir| std::fs::read(d.path().join(files::ADVERSARIAL_FILE));
    assert_ne!(tensors(&a).unwrap(), tensors(&b).unwrap(), "other targets");
    // The summary names the tensors it was written with.
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(tensors(&a).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        files::load_summary(a.path()).unwrap().tensors_sha256,
        Some(digest)
    );
    assert!(files::load(a.path()).is_ok_and(
        |(s, t)| matches!(s.config, AnyAttack::Lbfgs(c) if c.seed == 2) && t.contains_key("x")
    ));
    // A save over `a` killed between its tensors and its summary.
    std::fs::copy(
        b.path().join(files::ADVERSARIAL_FILE),
        a.path().join(files::ADVERSARIAL_FILE),
    )
    .unwrap();
    let summary_path = a.path().join(files::SUMMARY_FILE);
    assert!(matches!(
        files::load(a.path()),
        Err(AttackError::Incomplete { path, .. }) if path == summary_path
    ));
    assert!(matches!(
        files::load_checked_summary(a.path()),
        Err(AttackError::Incomplete { path, .. }) if path == summary_path
    ));
    // A missing tensors file is "not found", not a read failure that stops a pipeline.
    std::fs::remove_file(a.path().join(files::ADVERSARIAL_FILE)).unwrap();
    let missing = files::load_checked_summary(a.path()).unwrap_err();
    assert!(matches!(missing, AttackError::Io { .. }) && !missing.is_read_failure());
}

#[test]
fn invalid_configurations_and_inputs_are_typed_errors() {
    let device = Device::flex();
    let model = linear_model(&device, 14);
    let (x, labels) = images(2, 15);
    let bad = AttackConfig {
        initial_c: -1.0,
        ..AttackConfig::default()
    };
    assert!(
        LbfgsAttack::new(bad)
            .run(&model, upload(&x, &device), &labels, &mut Quiet)
            .is_err()
    );
    let no_workers = AttackConfig {
        workers: 0,
        ..AttackConfig::default()
    };
    assert!(matches!(
        LbfgsAttack::new(no_workers).run(&model, upload(&x, &device), &labels, &mut Quiet),
        Err(blindspot_attack::AttackError::Config {
            field: "workers",
            ..
        })
    ));
    let wrong_len =
        LbfgsAttack::default().run(&model, upload(&x, &device), &labels[..1], &mut Quiet);
    assert!(matches!(
        wrong_len,
        Err(blindspot_attack::AttackError::Shape { .. })
    ));
    let target = AttackConfig {
        goal: Goal::Target(11),
        ..AttackConfig::default()
    };
    assert!(matches!(
        LbfgsAttack::new(target).run(&model, upload(&x, &device), &labels, &mut Quiet),
        Err(blindspot_attack::AttackError::TargetOutOfRange { .. })
    ));
}

#[test]
fn means_leave_out_images_already_at_the_goal() {
    let device = Device::flex();
    let model = linear_model(&device, 10);
    let (x, mut labels) = images(3, 11);
    let predicted = values(model.predict(upload(&x, &device)).float());
    labels[1] = (predicted[1] as usize + 1) % 10;
    let cfg = config(Goal::Untargeted);
    let result = LbfgsAttack::new(cfg.clone())
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
    assert_eq!(result.at_goal, vec![false, true, false]);
    assert_eq!(result.perturbed().collect::<Vec<_>>(), vec![0, 2]);
    let summary = AttackSummary::new(&result, cfg.clone(), "linear", "test", "flex");
    assert_eq!(summary.already_at_goal, Some(1));
    assert_eq!(summary.misclassified, 1);
    let (d0, d2) = (
        f64::from(result.distortion[0]),
        f64::from(result.distortion[2]),
    );
    assert!(d0 > 0.0 && d2 > 0.0);
    assert!((summary.mean_distortion - (d0 + d2) / 2.0).abs() < 1e-9);
    // A target the model already predicts is at the goal too.
    let cfg = AttackConfig {
        goal: Goal::Target(predicted[1] as usize),
        ..AttackConfig::default()
    };
    let result = LbfgsAttack::new(cfg)
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
    assert!(result.at_goal[1] && result.success[1]);
    assert_eq!(result.distortion[1], 0.0);
    assert!(!result.successful_distortions().contains(&0.0));
}

#[test]
fn pixels_that_are_not_finite_or_outside_the_box_are_refused() {
    let device = Device::flex();
    let model = linear_model(&device, 3);
    let (x, labels) = images(3, 4);
    for (row, value) in [(2, f32::NAN), (1, f32::INFINITY), (0, 1.5), (2, -0.25)] {
        let mut bad = x.clone();
        bad[row * 784 + 17] = value;
        let outcome =
            LbfgsAttack::default().run(&model, upload(&bad, &device), &labels, &mut Quiet);
        assert!(
            matches!(outcome, Err(AttackError::Pixels { row: r, lo, hi }) if r == row && lo == 0.0 && hi == 1.0),
            "{value} at row {row}: {outcome:?}"
        );
    }
}

/// A linear model whose logits are NaN for images whose first pixel is above 0.5.
struct NanLogits(blindspot_models::mlp::Mlp);

impl Classifier for NanLogits {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        let [n, _] = x.dims();
        let marked = x.clone().slice([0..n, 0..1]).greater_elem(0.5);
        let z = self.0.logits(x);
        z.mask_fill(marked.expand([n, 10]), f32::NAN)
    }
    fn input_shape(&self) -> [usize; 3] {
        self.0.input_shape()
    }
    fn activations(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        self.0.activations(x)
    }
    fn num_classes(&self) -> usize {
        self.0.num_classes()
    }
}

#[test]
fn non_finite_logits_are_an_error_not_a_misclassification() {
    let device = Device::flex();
    let model = NanLogits(linear_model(&device, 5));
    let (mut x, labels) = images(3, 6);
    for i in 0..3 {
        x[i * 784] = 0.0;
    }
    x[784] = 0.9;
    for goal in [Goal::Untargeted, Goal::Random] {
        let outcome =
            LbfgsAttack::new(config(goal)).run(&model, upload(&x, &device), &labels, &mut Quiet);
        assert!(
            matches!(outcome, Err(AttackError::Logits { row: 1 })),
            "{goal}: {outcome:?}"
        );
    }
}

#[test]
fn a_summary_without_successes_reads_back_with_nan_means() {
    let device = Device::flex();
    let model = linear_model(&device, 7);
    let (x, labels) = images(2, 8);
    // One solver run at a huge c: the distortion term wins, no image is moved across.
    let cfg = AttackConfig {
        initial_c: 1e4,
        max_c: 1e4,
        search_steps: 1,
        ..config(Goal::Untargeted)
    };
    let result = LbfgsAttack::new(cfg.clone())
        .run(&model, upload(&x, &device), &labels, &mut Quiet)
        .unwrap();
    assert_eq!(result.success_rate(), 0.0);
    let summary = AttackSummary::new(&result, cfg.clone(), "linear", "test", "flex");
    assert!(summary.mean_distortion.is_nan());
    let dir = tempfile::tempdir().unwrap();
    files::save(dir.path(), &x, &result, &summary).unwrap();
    let json = std::fs::read_to_string(dir.path().join(files::SUMMARY_FILE)).unwrap();
    assert!(json.contains("\"mean_distortion\": null"), "{json}");
    let loaded = files::load_summary(dir.path()).unwrap_or_else(|e| panic!("{e}\n{json}"));
    assert!(loaded.mean_distortion.is_nan() && loaded.median_distortion.is_nan());
    assert!(loaded.mean_l2.is_nan());
    assert_eq!(loaded.format, files::FORMAT_VERSION);
    assert_eq!(loaded.input_shape, Some([1, 28, 28]));
}

#[test]
fn a_result_prints_its_success_and_the_mean_distortion_of_the_examples_it_made() {
    // Four problems: two perturbed (RMS 0.02 and 0.04), one already at the goal (0, left out
    // of the mean), one failed (NaN).
    let problem = |image| Problem {
        image,
        label: 1,
        target: None,
    };
    let result = AttackResult {
        problems: (0..4).map(problem).collect(),
        input_shape: [1, 1, 2],
        dim: 2,
        x_adv: vec![0.0; 8],
        success: vec![true, true, true, false],
        misclassified: vec![false, true, false, false],
        at_goal: vec![false, true, false, false],
        distortion: vec![0.02, 0.0, 0.04, f32::NAN],
        l2: vec![0.03, 0.0, 0.06, f32::NAN],
        c: vec![1.0, f32::NAN, 1.0, f32::NAN],
        evaluations: vec![10; 4],
        seconds: 1.3,
    };
    assert_eq!(
        result.to_string(),
        "success 75% (3 of 4, 1 already at the goal), mean RMS distortion 0.0300, 1.3 s"
    );
    let none = AttackResult {
        success: vec![false; 4],
        at_goal: vec![false; 4],
        ..result
    };
    assert_eq!(
        none.to_string(),
        "success 0% (0 of 4), mean RMS distortion NaN, 1.3 s"
    );
}
