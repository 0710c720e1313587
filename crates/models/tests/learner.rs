//! Burn's `Learner` on the catalogue models (feature `learner`): the data loader, the training
//! and validation steps, one short fit, and (ignored) the timing against the project's loop.
#![cfg(feature = "learner")]

use blindspot_data::burn::ImageItem;
use blindspot_data::{Dataset, IMAGE_PIXELS, ImageShape, Mnist, Split, default_data_dir};
use blindspot_models::learner::{ImageBatch, data_loader, fit_with_learner};
use blindspot_models::train::cross_entropy;
use blindspot_models::{
    AnyModel, Classifier, ModelError, Optimizer, Silent, TrainConfig, Trainable, error_rate,
    model_spec, train_classifier,
};
use blindspot_testing::{Lcg, values};
use burn::data::dataset::InMemDataset;
use burn::prelude::*;
use burn_train::{InferenceStep, TrainStep};

/// Items of a linearly separable 10-class problem as a Burn dataset would hold them: class `c`
/// lights pixel block `c` (78 pixels) at 0.9 over seeded noise in `[0, 0.1)`.
fn separable_items(n: usize, seed: u64) -> Vec<ImageItem> {
    let mut lcg = Lcg::new(seed);
    (0..n)
        .map(|i| {
            let class = i % 10;
            let pixels = (0..IMAGE_PIXELS)
                .map(|p| {
                    if p / 78 == class {
                        0.9
                    } else {
                        0.1 * lcg.next()
                    }
                })
                .collect();
            ImageItem {
                pixels,
                label: class as u32,
            }
        })
        .collect()
}

/// The same set read through the burn-dataset side: a Burn `InMemDataset` converted by
/// `Dataset::from_burn`.
fn separable(n: usize, seed: u64) -> Dataset {
    let burn_set = InMemDataset::new(separable_items(n, seed));
    Dataset::from_burn(&burn_set, ImageShape::MNIST).expect("items of 784 finite pixels")
}

fn catalogue(name: &str, device: &Device) -> AnyModel {
    model_spec(name).unwrap().architecture.init(device).unwrap()
}

#[test]
fn a_short_learner_fit_trains_a_catalogue_mlp_that_blindspot_can_use() {
    let train = separable(400, 1);
    let valid = separable(200, 2);
    let device = Device::flex().autodiff();
    device.seed(7);
    let model = catalogue("n100-100-10", &device);
    let inner = device.clone().inner();
    let untrained = error_rate(&model.valid(), &train, &inner).unwrap();
    assert!(untrained > 0.7, "untrained error {untrained}");

    // 2 epochs of 13 Adam steps. (The catalogue's SGD recipe for the sigmoid MLPs needs more
    // steps: 2 epochs of 25 leave 80% error, with the Learner and `train_classifier` alike.)
    let config = TrainConfig::new()
        .with_optimizer(Optimizer::Adam)
        .with_learning_rate(5e-3)
        .with_batch_size(32)
        .with_epochs(2)
        .with_seed(7);
    let dir = tempfile::tempdir().unwrap();
    let trained = fit_with_learner(model, &train, &valid, &config, dir.path()).unwrap();

    // Returned in evaluation form, on the plain device, usable through `Classifier`.
    let train_error = error_rate(&trained, &train, &inner).unwrap();
    let valid_error = error_rate(&trained, &valid, &inner).unwrap();
    eprintln!("untrained {untrained:.3}, trained: train {train_error:.3}, valid {valid_error:.3}");
    assert!(train_error < 0.05, "training error {train_error}");
    assert!(valid_error < 0.05, "validation error {valid_error}");
    let x = Tensor::<2>::from_data(
        TensorData::new(valid.image(3).to_vec(), [1, IMAGE_PIXELS]),
        &inner,
    );
    assert_eq!(trained.logits(x.clone()).dims(), [1, 10]);
    assert_eq!(values(trained.predict(x).float()), vec![3.0]);

    // The Learner wrote its checkpoints and metric logs in the given directory.
    let checkpoints: Vec<String> = std::fs::read_dir(dir.path().join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        checkpoints.iter().any(|f| f.starts_with("model-2")),
        "{checkpoints:?}"
    );
    assert!(dir.path().join("train").is_dir() && dir.path().join("valid").is_dir());
}

#[test]
fn the_learner_and_the_projects_loop_train_the_same_weights() {
    // Same initialization and recipe, one minibatch per epoch: Burn's loader shuffles in
    // another order than `train_classifier`, which only the order of a sum inside each batch
    // sees here. The steps (loss, gradients, Adam, the cosine schedule) must then agree.
    let train = separable(300, 8);
    let valid = separable(50, 9);
    let config = TrainConfig::new()
        .with_optimizer(Optimizer::Adam)
        .with_learning_rate(5e-3)
        .with_batch_size(300)
        .with_epochs(3)
        .with_seed(11);
    let device = Device::flex().autodiff();
    let inner = device.clone().inner();
    for name in ["softmax1", "n100-100-10"] {
        // One initialization for both (the device's generator is shared with parallel tests).
        let start = catalogue(name, &device);
        let (own, _) =
            train_classifier(start.clone(), &train, &valid, &config, &mut Silent).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let learned = fit_with_learner(start.clone(), &train, &valid, &config, dir.path()).unwrap();
        let x = Tensor::<2>::from_data(
            TensorData::new(valid.images.clone(), [valid.len(), IMAGE_PIXELS]),
            &inner,
        );
        let (a, b) = (
            values(own.valid().logits(x.clone())),
            values(learned.logits(x.clone())),
        );
        let start = values(start.valid().logits(x));
        let largest_gap = |p: &[f32], q: &[f32]| {
            p.iter()
                .zip(q)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0, f32::max)
        };
        // Training moves the logits by far more than the two loops differ.
        let (moved, gap) = (largest_gap(&a, &start), largest_gap(&a, &b));
        assert!(moved > 0.5, "{name}: training moved the logits by {moved}");
        assert!(gap < 1e-5, "{name}: logits differ by up to {gap}");
    }
}

#[test]
fn the_steps_use_the_papers_loss_and_validation_is_deterministic() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let data = separable(20, 3);
    for name in ["n100-100-10", "conv"] {
        let model = catalogue(name, &device);
        let loader = data_loader(data.clone(), 20, None, &device).unwrap();
        let batch: ImageBatch = loader.iter().next().unwrap().unwrap();

        let train = TrainStep::step(&model, batch.clone());
        assert_eq!(train.item.output.dims(), [20, 10], "{name}");
        // A gradient for every weight and bias: three layers each.
        assert_eq!(train.grads.len(), 6, "{name}");

        let eval = model.valid();
        let batch = ImageBatch {
            images: batch.images.inner(),
            labels: batch.labels.inner(),
        };
        let first = InferenceStep::step(&eval, batch.clone());
        let second = InferenceStep::step(&eval, batch.clone());
        assert_eq!(
            values(first.output.clone()),
            values(second.output),
            "{name}"
        );
        let expected = cross_entropy(eval.logits(batch.images.clone()), batch.labels.clone())
            + eval.weight_decay();
        let (loss, expected) = (values(first.loss)[0], values(expected)[0]);
        assert!(
            (loss - expected).abs() < 1e-6,
            "{name}: {loss} vs {expected}"
        );
    }
}

#[test]
fn the_data_loader_batches_a_dataset_in_order_and_refuses_empty_batches() {
    let device = Device::flex();
    let data = separable(7, 4);
    let loader = data_loader(data.clone(), 3, None, &device).unwrap();
    let batches: Vec<ImageBatch> = loader.iter().map(|b| b.unwrap()).collect();
    let sizes: Vec<[usize; 2]> = batches.iter().map(|b| b.images.dims()).collect();
    assert_eq!(
        sizes,
        vec![[3, IMAGE_PIXELS], [3, IMAGE_PIXELS], [1, IMAGE_PIXELS]]
    );
    let images: Vec<f32> = batches
        .iter()
        .flat_map(|b| values(b.images.clone()))
        .collect();
    assert_eq!(images, data.images);
    let labels: Vec<f32> = batches
        .iter()
        .flat_map(|b| values(b.labels.clone().float()))
        .collect();
    assert_eq!(labels, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

    let err = data_loader(data, 0, None, &device).err().unwrap();
    assert!(matches!(err, ModelError::InvalidConfig(_)), "{err}");
}

#[test]
fn fit_with_learner_refuses_lbfgs_unknown_labels_empty_sets_and_images_of_another_size() {
    let device = Device::flex().autodiff();
    let data = separable(10, 5);
    let dir = tempfile::tempdir().unwrap();
    let lbfgs = TrainConfig::new().with_optimizer(Optimizer::Lbfgs);
    let err = fit_with_learner(
        catalogue("softmax1", &device),
        &data,
        &data,
        &lbfgs,
        dir.path(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, ModelError::InvalidConfig(_)), "{err}");

    let mut wrong_label = data.clone();
    wrong_label.labels[4] = 10;
    let empty = data.select(&[]);
    for (train, valid) in [(&wrong_label, &data), (&data, &empty)] {
        let err = fit_with_learner(
            catalogue("softmax1", &device),
            train,
            valid,
            &TrainConfig::new(),
            dir.path(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, ModelError::InvalidConfig(_)), "{err}");
    }

    let small = Dataset::new(vec![0.5; 2 * 16], vec![0, 1], ImageShape::new(1, 4, 4)).unwrap();
    let err = fit_with_learner(
        catalogue("softmax1", &device),
        &small,
        &data,
        &TrainConfig::new(),
        dir.path(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(&err, ModelError::ShapeMismatch { expected, found, .. }
            if expected == &vec![1, 28, 28] && found == &vec![1, 4, 4]),
        "{err}"
    );
}

/// CPU seconds this process has used so far, all threads (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime and stime are the 12th and
    // 13th, in clock ticks of 1/100 s.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Seconds per epoch of Burn's `Learner` and of the project's loop on the same model, data and
/// recipe (the numbers in the `learner` module's documentation): wall-clock and CPU (all
/// threads), the median of 5 alternating runs of each after a warm-up run of each. MNIST from
/// the default store if it is there, else the synthetic set. The model is n100-100-10, or the
/// catalogue model named by `BLINDSPOT_BENCH_MODEL`.
#[test]
#[ignore = "a timing, not a check: cargo test -p blindspot-models --release --test learner -- --ignored --nocapture"]
fn seconds_per_epoch_of_the_learner_and_of_the_projects_loop() {
    let (train, valid, source) = match default_data_dir().and_then(|d| Mnist::load_dir(&d)) {
        Ok(mnist) => (
            mnist.split(Split::P1),
            mnist.test.head(1_000, Split::Test).unwrap(),
            "MNIST",
        ),
        Err(_) => (separable(30_000, 1), separable(1_000, 2), "synthetic"),
    };
    let name = std::env::var("BLINDSPOT_BENCH_MODEL").unwrap_or_else(|_| "n100-100-10".into());
    let epochs = 3;
    let config = TrainConfig::new()
        .with_optimizer(Optimizer::Adam)
        .with_batch_size(128)
        .with_seed(0);
    let device = Device::flex().autodiff();
    let inner = device.clone().inner();
    device.seed(0);
    let start = catalogue(&name, &device);
    let fresh = || start.clone();
    let dir = tempfile::tempdir().unwrap();
    let own = |config: &TrainConfig| {
        let (model, _) = train_classifier(fresh(), &train, &valid, config, &mut Silent).unwrap();
        error_rate(&model.valid(), &valid, &inner).unwrap()
    };
    let learner = |config: &TrainConfig, run: usize| {
        let model = fit_with_learner(
            fresh(),
            &train,
            &valid,
            config,
            &dir.path().join(run.to_string()),
        )
        .unwrap();
        error_rate(&model, &valid, &inner).unwrap()
    };
    let timed = |f: &mut dyn FnMut() -> f64| {
        let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
        let error = f();
        let per = |s: f64| s / epochs as f64;
        (
            per(wall.elapsed().as_secs_f64()),
            per(cpu_seconds() - cpu),
            error,
        )
    };

    let warm = config.clone().with_epochs(1);
    own(&warm);
    learner(&warm, 0);
    let config = config.with_epochs(epochs);
    let (mut owns, mut learners) = (Vec::new(), Vec::new());
    for run in 1..=5 {
        let o = timed(&mut || own(&config));
        let l = timed(&mut || learner(&config, run));
        println!(
            "run {run}: project {:.3} s wall {:.3} s CPU, Learner {:.3} s wall {:.3} s CPU per epoch",
            o.0, o.1, l.0, l.1
        );
        owns.push(o);
        learners.push(l);
    }
    let median = |runs: &mut Vec<(f64, f64, f64)>| {
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        runs[runs.len() / 2]
    };
    let (own_run, learner_run) = (median(&mut owns), median(&mut learners));
    println!(
        "{source}, {} training / {} validation examples, {name}, Adam, batch 128, {epochs} epochs",
        train.len(),
        valid.len()
    );
    for (name, (wall, cpu, error)) in [("project's loop", own_run), ("Burn's Learner", learner_run)]
    {
        println!(
            "{name}: {wall:.3} s/epoch wall, {cpu:.3} s/epoch CPU, validation error {error:.4}"
        );
    }
    println!(
        "wall ratio Learner / project: {:.2}",
        learner_run.0 / own_run.0
    );
}
