//! Integration tests of the models crate: shapes, training, checkpoints, on every CPU backend.

mod common;

use std::collections::HashMap;

use blindspot_data::IMAGE_PIXELS;
use blindspot_data::Split;
use blindspot_models::alexnet::AlexNetConfig;
use blindspot_models::checkpoint::{self, ModelMeta, NamedTensor};
use blindspot_models::{
    Architecture, Classifier, ModelError, ModelRun, Optimizer, Scale, Silent, TrainConfig,
    error_rate, model_spec, paper_models, train_classifier,
};

/// [`ModelRun::fingerprint_of_version`] of softmax1 on the whole training set with
/// [`smoke_recipe`], 2,000 training and 1,000 test examples, recipe version 2: the SHA-256 of
/// the compact JSON with sorted keys (computed outside Rust, `printf %s '…' | sha256sum`)
/// `{"architecture":{"activation":"sigmoid","classes":10,"hidden":[],"input":784,"kind":"mlp",
/// "weight_decay":[0.0001]},"data":"c65580678af93f1ea48c2c0d01d543ec89307c6b8a0eb7ca542d7c18c5f4c681",
/// "recipe_version":2,"split":"train","test_examples":1000,"train_config":{"batch_size":128,
/// "epochs":2,"learning_rate":0.001,"optimizer":"adam","pretrain_epochs":0,
/// "pretrain_learning_rate":0.001,"seed":0},"train_examples":2000}` (without the line breaks;
/// `data` is MNIST's digest).
const PINNED_SOFTMAX1_SMOKE: &str =
    "ee145ea28eae9ab19ebe257520f3decc03a7be392843348cee65f1571a3f234f";
use burn::prelude::*;
use common::{separable, test_devices};

fn batch(n: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..n * IMAGE_PIXELS)
        .map(|i| (i % 255) as f32 / 255.0)
        .collect();
    Tensor::from_data(TensorData::new(values, [n, IMAGE_PIXELS]), device)
}

#[test]
fn every_model_gives_logits_and_hidden_activations_of_the_right_shapes() {
    for (name, device) in test_devices() {
        for spec in paper_models() {
            let model = spec.architecture.init(&device).unwrap();
            let x = batch(3, &device);
            assert_eq!(
                model.logits(x.clone()).dims(),
                [3, 10],
                "{name} {}",
                spec.name
            );
            assert_eq!(model.num_classes(), 10);
            let widths: Vec<usize> = model.activations(x).iter().map(|a| a.dims()[1]).collect();
            let expected: Vec<usize> = match spec.name {
                "softmax1" | "softmax2" | "softmax3" => vec![],
                "n100-100-10" => vec![100, 100],
                "n200-200-10" => vec![200, 200],
                "n123-456-10" => vec![123, 456],
                "fc" => vec![400, 400],
                "ae400-10" => vec![400],
                "conv" => vec![32 * 12 * 12, 256],
                other => panic!("untested model {other}"),
            };
            assert_eq!(widths, expected, "{name} {}", spec.name);
        }
    }
}

#[test]
fn evaluation_is_deterministic_on_an_autodiff_device_even_with_dropout() {
    let device = Device::flex().autodiff();
    let model = paper_models()
        .into_iter()
        .find(|m| m.name == "conv")
        .unwrap()
        .architecture
        .init(&device)
        .unwrap();
    let x = batch(4, &device);
    let a = model.logits(x.clone()).into_data();
    let b = model.logits(x).into_data();
    a.assert_eq(&b, true);
}

#[test]
fn alexnet_has_the_papers_layer_shapes() {
    let config = AlexNetConfig::new();
    assert_eq!(config.final_side(), Some(6));
    // A narrow variant keeps the test cheap; the shapes follow the same rules.
    let device = Device::flex();
    let small = AlexNetConfig::new()
        .with_filters([4, 6, 8, 8, 5])
        .with_hidden([16, 16])
        .with_classes(7);
    let net = small.init(&device).unwrap();
    assert_eq!(net.convs[0].weight.dims(), [4, 3, 11, 11]);
    assert_eq!(net.fcs[0].weight.dims(), [5 * 6 * 6, 16]);
    let out = net.forward(Tensor::zeros([1, 3, 227, 227], &device));
    assert_eq!(out.dims(), [1, 7]);
}

#[test]
fn training_reaches_zero_error_on_a_separable_set() {
    for (name, device) in test_devices() {
        for model_name in ["softmax1", "n100-100-10", "conv"] {
            let ad = device.clone().autodiff();
            ad.seed(1);
            let spec = paper_models()
                .into_iter()
                .find(|m| m.name == model_name)
                .unwrap();
            let model = spec.architecture.init(&ad).unwrap();
            let train = separable(200, 1);
            let test = separable(50, 2);
            let config = TrainConfig::new()
                .with_epochs(15)
                .with_batch_size(20)
                .with_learning_rate(5e-3)
                .with_seed(3);
            let (_, report) = train_classifier(model, &train, &test, &config, &mut Silent).unwrap();
            assert_eq!(report.train_error, 0.0, "{name} {model_name}: {report:?}");
            assert_eq!(report.test_error, 0.0, "{name} {model_name}");
            assert!(report.epochs.last().unwrap().loss < report.epochs[0].loss);
        }
    }
}

#[test]
fn full_batch_lbfgs_training_reaches_zero_error_on_a_separable_set() {
    for (name, device) in test_devices() {
        let ad = device.clone().autodiff();
        ad.seed(2);
        let spec = paper_models()
            .into_iter()
            .find(|m| m.name == "n100-100-10")
            .unwrap();
        let model = spec.architecture.init(&ad).unwrap();
        let train = separable(200, 3);
        let config = TrainConfig::new()
            .with_optimizer(Optimizer::Lbfgs)
            .with_epochs(4);
        let (_, report) =
            train_classifier(model, &train, &separable(50, 4), &config, &mut Silent).unwrap();
        assert_eq!(report.train_error, 0.0, "{name}: {report:?}");
        // One L-BFGS step of up to 20 iterations per epoch; the loss falls from step to step.
        assert!(
            report.epochs[3].loss < report.epochs[0].loss,
            "{name}: {report:?}"
        );
    }
}

#[test]
fn training_needs_an_autodiff_device() {
    let device = Device::flex();
    let model = paper_models()[0].architecture.init(&device).unwrap();
    let data = separable(10, 0);
    let err = train_classifier(model, &data, &data, &TrainConfig::new(), &mut Silent).unwrap_err();
    assert!(err.to_string().contains("autodiff"), "{err}");
}

fn meta_for(model: &str) -> ModelMeta {
    let spec = paper_models()
        .into_iter()
        .find(|m| m.name == model)
        .unwrap();
    ModelMeta {
        name: model.into(),
        model: model.into(),
        split: "train".into(),
        config: serde_json::to_value(&spec.architecture).unwrap(),
        train_config: serde_json::json!({}),
        seed: 0,
        data_sha256: String::new(),
        train_examples: 0,
        train_error: 0.0,
        test_error: 0.0,
        train_seconds: 0.0,
        backend: "flex".into(),
        fingerprint: "x".into(),
    }
}

#[test]
fn a_checkpoint_round_trip_gives_identical_logits() {
    for (_, device) in test_devices() {
        for spec in paper_models() {
            let model = spec.architecture.init(&device).unwrap();
            let dir = tempfile::tempdir().unwrap();
            checkpoint::save(&model, &meta_for(spec.name), dir.path()).unwrap();
            let (loaded, meta) = checkpoint::load(dir.path(), &device).unwrap();
            assert_eq!(meta, meta_for(spec.name));
            let x = batch(5, &device);
            model
                .logits(x.clone())
                .into_data()
                .assert_eq(&loaded.logits(x).into_data(), true);
        }
    }
}

#[test]
fn checkpoints_use_pytorch_names_and_layouts() {
    let device = Device::flex();
    let spec = paper_models()
        .into_iter()
        .find(|m| m.name == "n100-100-10")
        .unwrap();
    let model = spec.architecture.init(&device).unwrap();
    let named = checkpoint::named_tensors(&model);
    let shapes: Vec<(&str, &[usize])> = named
        .iter()
        .map(|(k, v)| (k.as_str(), v.shape.as_slice()))
        .collect();
    assert_eq!(
        shapes,
        vec![
            ("layers.0.bias", &[100][..]),
            ("layers.0.weight", &[100, 784][..]),
            ("layers.1.bias", &[100][..]),
            ("layers.1.weight", &[100, 100][..]),
            ("layers.2.bias", &[10][..]),
            ("layers.2.weight", &[10, 100][..]),
        ]
    );
}

#[test]
fn loading_checks_names_and_shapes() {
    let device = Device::flex();
    let spec = paper_models()
        .into_iter()
        .find(|m| m.name == "softmax1")
        .unwrap();
    let model = spec.architecture.init(&device).unwrap();
    let good: HashMap<String, NamedTensor> =
        checkpoint::named_tensors(&model).into_iter().collect();
    let path = std::path::Path::new("fixture.safetensors");

    let mut missing = good.clone();
    missing.remove("layers.0.bias");
    let err =
        checkpoint::load_named_tensors(spec.architecture.init(&device).unwrap(), missing, path)
            .unwrap_err();
    assert!(
        matches!(err, ModelError::MissingTensor { ref name, .. } if name == "layers.0.bias"),
        "{err}"
    );

    let mut wrong = good.clone();
    wrong.get_mut("layers.0.weight").unwrap().shape = vec![784, 10];
    let err = checkpoint::load_named_tensors(spec.architecture.init(&device).unwrap(), wrong, path)
        .unwrap_err();
    assert!(matches!(err, ModelError::TensorMismatch { .. }), "{err}");

    let mut extra = good;
    extra.insert(
        "layers.1.weight".into(),
        NamedTensor {
            shape: vec![1],
            values: vec![0.0],
        },
    );
    let err = checkpoint::load_named_tensors(spec.architecture.init(&device).unwrap(), extra, path)
        .unwrap_err();
    assert!(matches!(err, ModelError::UnexpectedTensor { .. }), "{err}");

    let err = checkpoint::decode_safetensors(b"not a file", path).unwrap_err();
    assert!(matches!(err, ModelError::Format { .. }), "{err}");
}

#[test]
fn linear_checkpoint_weights_follow_nn_linear_semantics() {
    // logits = x Wᵀ + b with W stored [out, in]: compute one logit by hand from the stored tensors.
    let device = Device::flex();
    let spec = paper_models()
        .into_iter()
        .find(|m| m.name == "softmax2")
        .unwrap();
    let model = spec.architecture.init(&device).unwrap();
    let named = checkpoint::named_tensors(&model);
    let (w, b) = (&named["layers.0.weight"], &named["layers.0.bias"]);
    let x: Vec<f32> = (0..IMAGE_PIXELS).map(|i| (i % 7) as f32 / 7.0).collect();
    let by_hand: f32 = (0..IMAGE_PIXELS)
        .map(|i| w.values[3 * IMAGE_PIXELS + i] * x[i])
        .sum::<f32>()
        + b.values[3];
    let logits = model
        .logits(Tensor::from_data(
            TensorData::new(x, [1, IMAGE_PIXELS]),
            &device,
        ))
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert!(
        (logits[3] - by_hand).abs() < 1e-4,
        "{} vs {by_hand}",
        logits[3]
    );
}

#[test]
fn reproduction_set_covers_tables_1_and_3() {
    let ids: Vec<String> = ModelRun::reproduction_set()
        .iter()
        .map(|r| r.id())
        .collect();
    for id in [
        "softmax1",
        "softmax2",
        "softmax3",
        "n100-100-10",
        "n200-200-10",
        "ae400-10",
        "conv",
        "fc",
        "n100-100-10-p1",
        "n123-456-10-p1",
        "n100-100-10-p2",
    ] {
        assert!(ids.contains(&id.to_owned()), "{id} missing from {ids:?}");
    }
}

/// softmax1 trained on the whole training set, built here rather than taken from the catalogue.
fn softmax1_run(architecture: Option<Architecture>) -> ModelRun {
    let mut spec = model_spec("softmax1").unwrap();
    if let Some(a) = architecture {
        spec.architecture = a;
    }
    ModelRun {
        spec,
        split: Split::Train,
    }
}

/// softmax1's smoke recipe with seed 0, field by field.
fn smoke_recipe() -> TrainConfig {
    TrainConfig::new()
        .with_optimizer(Optimizer::Adam)
        .with_epochs(2)
        .with_pretrain_epochs(0)
        .with_pretrain_learning_rate(1e-3)
        .with_batch_size(128)
        .with_learning_rate(1e-3)
        .with_seed(0)
}

#[test]
fn fingerprints_are_equal_for_equal_runs_pinned_and_changed_by_every_input() {
    let version = 2;
    let fp = |run: &ModelRun, config: &TrainConfig, train: usize, test: usize| {
        run.fingerprint_of_version(config, train, test, version)
    };
    let base = fp(&softmax1_run(None), &smoke_recipe(), 2_000, 1_000);
    assert_eq!(base.len(), 64, "{base}");
    assert!(
        base.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{base}"
    );
    // A value of this fixed run: equal in every process and build, so that a checkpoint
    // written by one run is recognized by the next. If it changes on purpose, every saved
    // checkpoint is stale: raise RECIPE_VERSION and write the new value here.
    assert_eq!(
        base, PINNED_SOFTMAX1_SMOKE,
        "the fingerprint of softmax1's smoke run changed"
    );

    // The same run built otherwise: the catalogue's run and recipe, and the recipe read back
    // from JSON written by hand (as a checkpoint's metadata holds it).
    let catalogue = ModelRun::reproduction_set()
        .into_iter()
        .find(|r| r.id() == "softmax1")
        .unwrap();
    let recipe = catalogue.train_config(Scale::Smoke, 0);
    assert_eq!(fp(&catalogue, &recipe, 2_000, 1_000), base);
    let from_json: TrainConfig = serde_json::from_str(
        r#"{"seed": 0, "learning_rate": 0.001, "batch_size": 128, "optimizer": "adam",
            "epochs": 2, "pretrain_epochs": 0, "pretrain_learning_rate": 0.001}"#,
    )
    .unwrap();
    assert_eq!(fp(&softmax1_run(None), &from_json, 2_000, 1_000), base);

    // Every input changes it, each to a value of its own.
    let Architecture::Mlp(mlp) = model_spec("softmax1").unwrap().architecture else {
        panic!("softmax1 is an MLP")
    };
    let mut decay = mlp.clone();
    decay.weight_decay = vec![2e-4];
    let mut hidden = mlp;
    hidden.hidden = vec![10];
    hidden.weight_decay = vec![1e-4, 1e-4];
    let (decay, hidden) = (Architecture::Mlp(decay), Architecture::Mlp(hidden));
    let (run, recipe) = (softmax1_run(None), smoke_recipe);
    let p1 = ModelRun {
        split: Split::P1,
        ..softmax1_run(None)
    };
    let changed = [
        (
            "optimizer",
            fp(&run, &recipe().with_optimizer(Optimizer::Sgd), 2_000, 1_000),
        ),
        ("epochs", fp(&run, &recipe().with_epochs(3), 2_000, 1_000)),
        (
            "pretrain epochs",
            fp(&run, &recipe().with_pretrain_epochs(1), 2_000, 1_000),
        ),
        (
            "pretrain learning rate",
            fp(
                &run,
                &recipe().with_pretrain_learning_rate(2e-3),
                2_000,
                1_000,
            ),
        ),
        (
            "batch size",
            fp(&run, &recipe().with_batch_size(64), 2_000, 1_000),
        ),
        (
            "learning rate",
            fp(&run, &recipe().with_learning_rate(2e-3), 2_000, 1_000),
        ),
        ("seed", fp(&run, &recipe().with_seed(1), 2_000, 1_000)),
        ("training examples", fp(&run, &recipe(), 2_001, 1_000)),
        ("test examples", fp(&run, &recipe(), 2_000, 999)),
        ("sizes swapped", fp(&run, &recipe(), 1_000, 2_000)),
        ("split", fp(&p1, &recipe(), 2_000, 1_000)),
        (
            "decay",
            fp(&softmax1_run(Some(decay)), &recipe(), 2_000, 1_000),
        ),
        (
            "hidden layer",
            fp(&softmax1_run(Some(hidden)), &recipe(), 2_000, 1_000),
        ),
        (
            "recipe version",
            run.fingerprint_of_version(&recipe(), 2_000, 1_000, version + 1),
        ),
    ];
    let mut seen = std::collections::HashSet::from([base.clone()]);
    for (what, f) in &changed {
        assert!(
            seen.insert(f.clone()),
            "changing the {what} left the fingerprint as before"
        );
    }
}

#[test]
fn the_halves_get_as_many_minibatch_steps_as_the_full_training_set() {
    let runs = ModelRun::reproduction_set();
    let find = |id: &str| {
        runs.iter()
            .find(|r| r.id() == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    let steps = |id: &str, scale, examples: usize| {
        let config = find(id).train_config(scale, 0);
        config.epochs * examples.div_ceil(config.batch_size)
    };
    for scale in [Scale::Default, Scale::Paper] {
        let full = steps("n100-100-10", scale, 60_000);
        assert_eq!(steps("n100-100-10-p1", scale, 30_000), full);
        assert_eq!(steps("n100-100-10-p2", scale, 30_000), full);
        assert_eq!(steps("n123-456-10-p1", scale, 30_000), full);
    }
}

#[test]
fn run_sizes_are_the_lengths_of_run_data_at_every_scale() {
    use blindspot_data::{Dataset, Mnist};
    use blindspot_models::{run_data, run_sizes};
    // Sizes chosen so that the smoke subsets (2,000 / 1,000) cut both sets but not the halves.
    let set = |n: usize| {
        Dataset::new(
            vec![0.5; n * IMAGE_PIXELS],
            (0..n).map(|i| (i % 10) as u32).collect(),
            blindspot_data::splits::ImageShape::MNIST,
        )
        .unwrap()
    };
    let mnist = Mnist {
        train: set(2_500),
        test: set(1_500),
    };
    for run in ModelRun::reproduction_set() {
        for scale in Scale::ALL {
            let (train, test) = run_data(&run, &mnist, scale).unwrap();
            assert_eq!(
                run_sizes(&run, &mnist, scale),
                (train.len(), test.len()),
                "{} at {scale}",
                run.id()
            );
        }
    }
}

/// Issue 21 #8: an architecture whose input is not the data's image shape, or with fewer
/// classes than the labels, made Burn panic inside training (`assert_shape!` in `Linear`, an
/// out-of-bounds gather in the loss); both are refused before any step.
#[test]
fn training_on_data_of_another_shape_or_with_labels_beyond_the_classes_is_refused() {
    let device = Device::flex().autodiff();
    let data = separable(20, 5);
    let mlp = |input: usize, classes: usize| {
        let config: Architecture = serde_json::from_value(serde_json::json!({
            "kind": "mlp", "input": input, "hidden": [], "classes": classes,
            "activation": "sigmoid", "weight_decay": [0.0001]
        }))
        .unwrap();
        config.init(&device).unwrap()
    };
    let config = TrainConfig::new().with_epochs(1).with_batch_size(10);
    match train_classifier(mlp(100, 10), &data, &data, &config, &mut Silent) {
        Err(ModelError::ShapeMismatch {
            expected, found, ..
        }) => {
            assert_eq!((expected, found), (vec![1, 10, 10], vec![1, 28, 28]));
        }
        other => panic!("expected ShapeMismatch, got {:?}", other.map(|(_, r)| r)),
    }
    // Labels 0..9 on a 5-class model: the first beyond it is example 5, label 5.
    match train_classifier(mlp(784, 5), &data, &data, &config, &mut Silent) {
        Err(ModelError::InvalidConfig(why)) => assert!(
            why.contains("label 5 of example 5 of the training set")
                && why.contains("5-class model"),
            "{why}"
        ),
        other => panic!("expected InvalidConfig, got {:?}", other.map(|(_, r)| r)),
    }
    // Evaluating such a model (a checkpoint imported with its own architecture) likewise.
    assert!(matches!(
        error_rate(&mlp(100, 10), &data, &device),
        Err(ModelError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        error_rate(&mlp(784, 5), &data, &device),
        Err(ModelError::InvalidConfig(why)) if why.contains("label 5 of example 5 of the data set")
    ));
}
