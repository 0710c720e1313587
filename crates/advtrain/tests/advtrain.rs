//! Adversarial training: per-level examples stay in the level's box, the tail of a network is
//! the network, and a short run on real MNIST makes a network harder to fool than the same run
//! with weight decay alone, with a pool of L-BFGS examples or with PGD examples of every
//! minibatch.
//!
//! MNIST comes from the project's verified store (`BLINDSPOT_DATA_DIR` or the user cache),
//! fetched there if missing, as `blindspot` itself does.

use blindspot_advtrain::{
    AdvTrainError, AscentConfig, Levels, Method, MlpTail, PoolConfig, train_mlp,
};
use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, PgdAttack, PgdConfig, Quiet};
use blindspot_data::{Dataset, FetchOptions, Mnist, Split, ensure_mnist};
use blindspot_models::mlp::{Activation, Mlp, MlpConfig};
use blindspot_models::{Bounds, Classifier, Silent, TrainConfig};
use blindspot_testing::{test_devices, values};
use burn::module::Module;
use burn::prelude::*;

fn mlp(device: &Device, activation: Activation) -> Mlp {
    device.seed(3);
    MlpConfig::new(784, vec![16, 12], 10, activation, vec![1e-5, 1e-5, 1e-6])
        .init(device)
        .unwrap()
}

/// Images whose pixels follow a fixed pattern per image, in the box.
fn images(n: usize) -> (Vec<f32>, Vec<usize>) {
    let x = (0..n * 784)
        .map(|i| ((i * 37 % 101) as f32 / 100.0).clamp(0.0, 1.0))
        .collect();
    (x, (0..n).map(|i| i % 10).collect())
}

#[test]
fn the_tail_at_a_level_is_the_network_above_it_and_its_examples_stay_in_the_layer_box() {
    for (name, device) in test_devices() {
        let model = mlp(&device, Activation::Sigmoid);
        let (x, labels) = images(8);
        let x = Tensor::<2>::from_data(TensorData::new(x, [8, 784]), &device);
        let full = values(model.logits(x.clone()));
        for level in 0..=2 {
            let tail = MlpTail::new(&model, level).unwrap();
            let h = tail.values(x.clone());
            assert_eq!(h.dims()[1], [784, 16, 12][level], "{name}");
            let through = values(tail.logits(h.clone()));
            for (a, b) in full.iter().zip(&through) {
                assert!((a - b).abs() < 1e-5, "{name} level {level}: {a} vs {b}");
            }
            assert_eq!(tail.bounds(), Bounds::UNIT);
            // Untargeted examples of the layer's values, in the sigmoid's [0, 1].
            let attack = LbfgsAttack::new(AttackConfig {
                goal: Goal::Untargeted,
                candidates: 1,
                search_steps: 3,
                ..AttackConfig::default()
            });
            let result = attack.run(&tail, h, &labels, &mut Quiet).unwrap();
            assert_eq!(result.dim, [784, 16, 12][level]);
            assert!(
                result.x_adv.iter().all(|v| (0.0..=1.0).contains(v)),
                "{name} level {level}: an example left the layer's box"
            );
        }
        assert!(matches!(
            MlpTail::new(&model, 3),
            Err(AdvTrainError::InvalidConfig(_))
        ));
        let relu = mlp(&device, Activation::Relu);
        assert_eq!(MlpTail::new(&relu, 0).unwrap().width(), 784);
        assert!(
            matches!(MlpTail::new(&relu, 1), Err(AdvTrainError::InvalidConfig(_))),
            "ReLU layers are unbounded"
        );
    }
}

#[test]
fn levels_and_settings_are_checked() {
    assert_eq!(Levels::Input.levels(2), vec![0]);
    assert_eq!(Levels::Hidden.levels(2), vec![1, 2]);
    assert_eq!(Levels::All.levels(2), vec![0, 1, 2]);
    assert_eq!("hidden".parse::<Levels>().unwrap(), Levels::Hidden);
    assert!(matches!(
        "middle".parse::<Levels>(),
        Err(AdvTrainError::InvalidConfig(_))
    ));
    Method::dropout().validate().unwrap();
    assert!(matches!(
        Method::Dropout {
            input: 1.0,
            hidden: 0.5
        }
        .validate(),
        Err(AdvTrainError::InvalidConfig(_))
    ));
    let bad = Method::Adversarial {
        levels: Levels::All,
        pool: PoolConfig {
            mix: 0.0,
            ..PoolConfig::default()
        },
    };
    assert!(matches!(
        bad.validate(),
        Err(AdvTrainError::InvalidConfig(_))
    ));
    assert_eq!(Method::adversarial(Levels::Hidden).slug(), "adv-hidden");
}

/// Mean untargeted minimum RMS distortion of `model` on `images`, and its error under attack
/// with a budget: the share of images misclassified or fooled within RMS `budget`.
fn robustness(model: &Mlp, images: &Dataset, device: &Device, budget: f32) -> (f64, f64) {
    let n = images.len();
    let x = Tensor::<2>::from_data(TensorData::new(images.images.clone(), [n, 784]), device);
    let labels: Vec<usize> = images.labels.iter().map(|&l| l as usize).collect();
    let result = LbfgsAttack::new(AttackConfig::default())
        .run(model, x, &labels, &mut Quiet)
        .unwrap();
    let d: Vec<f64> = (0..n)
        .filter(|&i| result.success[i] && !result.misclassified[i])
        .map(|i| f64::from(result.distortion[i]))
        .collect();
    let fooled = (0..n)
        .filter(|&i| result.success[i] && result.distortion[i] <= budget)
        .count();
    (
        d.iter().sum::<f64>() / d.len() as f64,
        fooled as f64 / n as f64,
    )
}

#[test]
fn a_short_adversarial_run_makes_the_network_harder_to_fool_than_decay_alone() {
    let (dir, _) = ensure_mnist(&FetchOptions::default()).expect("MNIST in the store");
    let mnist = Mnist::load_dir(&dir).unwrap();
    let train = mnist.split(Split::Train).head(2_000, Split::Train).unwrap();
    let test = mnist.split(Split::Test).head(100, Split::Test).unwrap();
    let device = Device::flex();
    let config = TrainConfig {
        epochs: 15,
        batch_size: 32,
        ..TrainConfig::new()
    };
    let pool = PoolConfig {
        size: 2_000,
        warmup_steps: 200,
        refresh_every: 20,
        refresh: 200,
        mix: 1.0,
        ..PoolConfig::default()
    };
    let mut readings = Vec::new();
    for method in [
        Method::Decay,
        Method::Adversarial {
            levels: Levels::All,
            pool,
        },
    ] {
        let autodiff = device.clone().autodiff();
        autodiff.seed(0);
        let model = MlpConfig::new(
            784,
            vec![100, 100],
            10,
            Activation::Sigmoid,
            vec![1e-5, 1e-5, 1e-6],
        )
        .init(&autodiff)
        .unwrap();
        let (model, report) =
            train_mlp(model, &train, &test, &method, &config, &mut Silent).unwrap();
        // A short run on 2,000 images: the pool slows fitting (about 15% vs 25% test error
        // here); what this test asserts is robustness, below.
        assert!(
            report.train.test_error < 0.35,
            "{}: {}",
            method.slug(),
            report.train.test_error
        );
        if let Method::Adversarial { .. } = method {
            assert!(report.refreshes >= 10, "{report:?}");
            assert_eq!(report.levels.len(), 3);
            assert!(report.levels.iter().all(|l| l.generated > 0), "{report:?}");
        }
        readings.push(robustness(&model.valid(), &test, &device, 0.05));
    }
    let ((decay, decay_error), (adversarial, adversarial_error)) = (readings[0], readings[1]);
    eprintln!(
        "mean minimum distortion: adversarial {adversarial:.4}, decay {decay:.4}; \
         error under attacks of RMS <= 0.05: adversarial {adversarial_error:.2}, decay {decay_error:.2}"
    );
    assert!(
        adversarial > 1.1 * decay,
        "mean minimum distortion: adversarial training {adversarial:.4}, decay alone {decay:.4}"
    );
    assert!(
        adversarial_error < decay_error,
        "error under attack: adversarial training {adversarial_error:.2}, decay alone {decay_error:.2}"
    );
}

/// The weights of a trained network, as host values.
fn weights(model: &Mlp) -> Vec<f32> {
    model
        .layers
        .iter()
        .flat_map(|l| values(l.weight.val().inner().reshape([-1])))
        .collect()
}

#[test]
fn cheap_examples_with_no_weight_train_exactly_as_decay_alone() {
    // α = 1 gives the examples' loss weight 0: the gradient, and so every weight, is decay's.
    let (x, labels) = images(64);
    let labels: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let data = Dataset::new(x, labels, blindspot_data::splits::ImageShape::MNIST).unwrap();
    let config = TrainConfig {
        epochs: 2,
        batch_size: 16,
        ..TrainConfig::new()
    };
    let run = |method: &Method| {
        let device = Device::flex().autodiff();
        let model = mlp(&device, Activation::Sigmoid);
        let (model, _) = train_mlp(model, &data, &data, method, &config, &mut Silent).unwrap();
        weights(&model)
    };
    let decay = run(&Method::Decay);
    let fgsm = AscentConfig {
        alpha: 1.0,
        ..AscentConfig::fgsm()
    };
    assert_eq!(run(&Method::Ascent(fgsm.clone())), decay);
    // Any weight on the examples changes the training.
    let mixed = AscentConfig { alpha: 0.5, ..fgsm };
    assert_ne!(run(&Method::Ascent(mixed)), decay);
    assert_eq!(Method::Ascent(AscentConfig::fgsm()).slug(), "fgsm");
    assert_eq!(Method::Ascent(AscentConfig::pgd()).slug(), "pgd");
    let bad = AscentConfig {
        epsilon: 0.0,
        ..AscentConfig::pgd()
    };
    assert!(matches!(
        Method::Ascent(bad).validate(),
        Err(AdvTrainError::InvalidConfig(_))
    ));
}

#[test]
fn a_short_pgd_training_run_is_more_robust_to_pgd_than_decay_alone() {
    let (dir, _) = ensure_mnist(&FetchOptions::default()).expect("MNIST in the store");
    let mnist = Mnist::load_dir(&dir).unwrap();
    let train = mnist.split(Split::Train).head(2_000, Split::Train).unwrap();
    let test = mnist.split(Split::Test).head(200, Split::Test).unwrap();
    let device = Device::flex();
    let config = TrainConfig {
        epochs: 8,
        batch_size: 32,
        ..TrainConfig::new()
    };
    let mut accuracy = Vec::new();
    for method in [Method::Decay, Method::Ascent(AscentConfig::pgd())] {
        let autodiff = device.clone().autodiff();
        autodiff.seed(0);
        let model = MlpConfig::new(
            784,
            vec![100, 100],
            10,
            Activation::Sigmoid,
            vec![1e-5, 1e-5, 1e-6],
        )
        .init(&autodiff)
        .unwrap();
        let (model, report) =
            train_mlp(model, &train, &test, &method, &config, &mut Silent).unwrap();
        assert!(
            report.train.test_error < 0.4,
            "{}: {report:?}",
            method.slug()
        );
        let n = test.len();
        let x = Tensor::<2>::from_data(TensorData::new(test.images.clone(), [n, 784]), &device);
        let labels: Vec<usize> = test.labels.iter().map(|&l| l as usize).collect();
        let result = PgdAttack::new(PgdConfig {
            epsilon: 0.1,
            steps: 20,
            step_size: 0.0125,
            ..PgdConfig::default()
        })
        .run(&model.valid(), x, &labels, &mut Quiet)
        .unwrap();
        accuracy.push(1.0 - result.success_rate());
    }
    eprintln!(
        "accuracy under L-inf PGD at 0.1: decay {:.3}, PGD training {:.3}",
        accuracy[0], accuracy[1]
    );
    assert!(
        accuracy[1] > accuracy[0] + 0.1,
        "PGD training {:.3} vs decay {:.3}",
        accuracy[1],
        accuracy[0]
    );
}
