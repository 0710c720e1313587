//! The optimality criterion on real MNIST: a softmax1 model (trained here, briefly,
//! with the paper's decay), 100 test images, untargeted. The attack's mean RMS distortion is
//! at most 1.01 × the exact optimum's, every attack succeeds, every image stays in the box.
//!
//! MNIST comes from the project's verified store (`BLINDSPOT_DATA_DIR` or the user cache),
//! fetched there if missing, as `blindspot` itself does.

use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, LinearModel, Quiet};
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
}
