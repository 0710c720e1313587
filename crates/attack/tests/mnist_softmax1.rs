//! The optimality criterion on real MNIST: a softmax1 model (trained here, briefly,
//! with the paper's decay), 100 test images, untargeted. The attack's mean RMS distortion is
//! at most 1.01 × the exact optimum's, every attack succeeds, every image stays in the box.
//! DeepFool, DDN, FMN and C&W (L2) on the same model and images: every image broken, none
//! below the optimum, the mean near it (bounds by attack, from measurements, below).
//!
//! MNIST comes from the project's verified store (`BLINDSPOT_DATA_DIR` or the user cache),
//! fetched there if missing, as `blindspot` itself does.

use blindspot_attack::{AnyAttack, AttackConfig, Goal, LbfgsAttack, LinearModel, Quiet};
use blindspot_data::{FetchOptions, Mnist, Split, ensure_mnist};
use blindspot_models::{AnyModel, Bounds, Silent, TrainConfig, model_spec, train_classifier};
use burn::module::Module;
use burn::prelude::*;

#[test]
fn softmax1_untargeted_attack_is_within_one_percent_of_the_exact_optimum() {
    let (dir, _) = ensure_mnist(&FetchOptions::default()).expect("MNIST in the store");
    let mnist = Mnist::load_dir(&dir).unwrap();
    let train = mnist
        .split(Split::Train)
        .head(10_000, Split::Train)
        .unwrap();
    let test = mnist.split(Split::Test).head(100, Split::Test).unwrap();
    let device = Device::flex();
    let autodiff = device.clone().autodiff();
    autodiff.seed(0);
    let model = model_spec("softmax1")
        .unwrap()
        .architecture
        .init(&autodiff)
        .unwrap();
    let config = TrainConfig {
        epochs: 3,
        ..TrainConfig::new()
    };
    let (model, report) = train_classifier(model, &train, &test, &config, &mut Silent).unwrap();
    assert!(
        report.test_error < 0.2,
        "softmax1 trained: {}",
        report.test_error
    );
    let model = model.valid();
    let AnyModel::Mlp(mlp) = &model else {
        panic!("softmax1 is an MLP")
    };
    let oracle = LinearModel::from_mlp(mlp).unwrap();

    let labels: Vec<usize> = test.labels.iter().map(|&l| l as usize).collect();
    let x = Tensor::<2>::from_data(TensorData::new(test.images.clone(), [100, 784]), &device);
    let attack = LbfgsAttack::new(AttackConfig {
        goal: Goal::Untargeted,
        ..AttackConfig::default()
    });
    let result = attack.run(&model, x, &labels, &mut Quiet).unwrap();

    assert_eq!(result.success_rate(), 1.0);
    assert!(result.x_adv.iter().all(|v| (0.0..=1.0).contains(v)));
    let (mut ours, mut exact) = (0.0f64, 0.0f64);
    for (i, &y) in labels.iter().enumerate() {
        let xi = test.image(i);
        let o = oracle.untargeted(xi, y, Bounds::UNIT).unwrap().unwrap();
        let e = o.l2 / 28.0;
        exact += e;
        ours += f64::from(result.distortion[i]);
        assert!(
            f64::from(result.distortion[i]) >= e * 0.999,
            "image {i} beats the optimum"
        );
    }
    let (ours, exact) = (ours / 100.0, exact / 100.0);
    eprintln!(
        "softmax1, 100 test images: attack {ours:.5}, exact {exact:.5}, ratio {:.4}",
        ours / exact
    );
    assert!(ours <= 1.01 * exact, "attack {ours} vs exact {exact}");

    // The other minimum-norm attacks on the same model and images, with the mean ratios to the
    // optimum measured here (DeepFool 1.0019, FMN 1.0191, C&W 1.0500 at 1,000 steps, DDN
    // 1.1585; FMN, DDN and C&W keep only points the goal leads by 1e-3 logits) and a little
    // room. DDN's direction is the cross-entropy's, rescaled to its
    // norm and then clipped to the box: on these images, mostly at 0 or 1, the clipped
    // direction is not the shortest way to the boundary (more steps, 300, or a smaller first
    // step do not help: 1.153, 1.173).
    let x = Tensor::<2>::from_data(TensorData::new(test.images.clone(), [100, 784]), &device);
    for (attack, bound) in [
        (
            AnyAttack::default_of("deepfool", Goal::Untargeted).unwrap(),
            1.01,
        ),
        (
            AnyAttack::default_of("ddn", Goal::Untargeted).unwrap(),
            1.18,
        ),
        (
            AnyAttack::default_of("fmn", Goal::Untargeted).unwrap(),
            1.03,
        ),
        (AnyAttack::default_of("cw", Goal::Untargeted).unwrap(), 1.06),
    ] {
        let result = attack.run(&model, x.clone(), &labels, &mut Quiet).unwrap();
        assert_eq!(result.success_rate(), 1.0, "{}", attack.label());
        let mut ratios = Vec::new();
        for (i, &y) in labels.iter().enumerate() {
            if result.at_goal[i] {
                continue;
            }
            let o = oracle
                .untargeted(test.image(i), y, Bounds::UNIT)
                .unwrap()
                .unwrap();
            ratios.push(f64::from(result.l2[i]) / o.l2);
        }
        let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
        let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        eprintln!(
            "softmax1, 100 test images: {} mean ratio to the optimum {mean:.4}, lowest {lowest:.4}",
            attack.label()
        );
        assert!(
            lowest >= 0.999,
            "{} beats the optimum: {lowest}",
            attack.label()
        );
        assert!(mean <= bound, "{}: mean ratio {mean}", attack.label());
    }
}
