//! End to end through the libraries, the way `blindspot reproduce` chains them: data on disk →
//! train every kind of model (the autoencoder with its pre-training) → checkpoint → reload →
//! the report beside the paper's numbers. Synthetic, separable data stand in for MNIST.

use blindspot_data::idx::{encode_images, encode_labels};
use blindspot_data::{IMAGE_PIXELS, Mnist, Split};
use blindspot_models::{
    Classifier, ModelRun, Optimizer, Scale, Silent, checkpoint, error_rate, fit_run, model_spec,
};
use blindspot_report::{ModelResult, PaperTables, render_models_section};
use burn::module::Module;
use burn::tensor::Device;

/// Writes idx files of a separable 10-class problem: class `c` lights pixel block `c`.
fn write_fixture(dir: &std::path::Path, n_train: usize, n_test: usize) {
    let images = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                (0..IMAGE_PIXELS).map(move |p| {
                    if p / 78 == i % 10 {
                        230
                    } else {
                        ((i * 7 + p) % 20) as u8
                    }
                })
            })
            .collect()
    };
    let labels = |n: usize| -> Vec<u8> { (0..n).map(|i| (i % 10) as u8).collect() };
    for (name, bytes) in [
        (
            "train-images-idx3-ubyte",
            encode_images(n_train, &images(n_train)),
        ),
        ("train-labels-idx1-ubyte", encode_labels(&labels(n_train))),
        (
            "t10k-images-idx3-ubyte",
            encode_images(n_test, &images(n_test)),
        ),
        ("t10k-labels-idx1-ubyte", encode_labels(&labels(n_test))),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn data_to_trained_checkpoints_to_report() {
    let data_dir = tempfile::tempdir().unwrap();
    write_fixture(data_dir.path(), 400, 100);
    let mnist = Mnist::load_dir(data_dir.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let paper = PaperTables::load().unwrap();
    let mut results = Vec::new();
    for (name, split) in [
        ("softmax1", Split::Train),
        ("ae400-10", Split::Train),
        ("n100-100-10", Split::P1),
    ] {
        let run = ModelRun {
            spec: model_spec(name).unwrap(),
            split,
        };
        let mut config = run.train_config(Scale::Smoke, 7);
        // A fast recipe for the tiny set; the real recipes are exercised by `reproduce`.
        config.optimizer = Optimizer::Adam;
        config.epochs = 8;
        config.learning_rate = 5e-3;
        config.batch_size = 20;
        let (model, meta, report) = fit_run(
            &run,
            &mnist,
            Scale::Smoke,
            &config,
            &device,
            "flex",
            &mut Silent,
        )
        .unwrap();
        assert_eq!(meta.name, run.id());
        assert!(report.test_error <= 0.05, "{name}: {report:?}");
        if name == "ae400-10" {
            assert!(report.epochs.iter().any(|e| e.stage == "pretrain"));
        }
        let dir = out.path().join(run.id());
        checkpoint::save(&model, &meta, &dir).unwrap();
        let (loaded, _) = checkpoint::load(&dir, &device).unwrap();
        // The reloaded model makes the same predictions as the trained one.
        let test = mnist.split(Split::Test);
        assert_eq!(
            error_rate(&loaded, &test, &device),
            error_rate(&model.valid(), &test, &device)
        );
        assert_eq!(loaded.num_classes(), 10);
        results.push(ModelResult {
            id: run.id(),
            model: name.into(),
            split: split.name().into(),
            train_error: meta.train_error,
            test_error: meta.test_error,
            p1_error: error_rate(&loaded, &mnist.split(Split::P1), &device),
            p2_error: error_rate(&loaded, &mnist.split(Split::P2), &device),
            target_test_error: run.target_test_error(),
            train_seconds: meta.train_seconds,
            train_examples: meta.train_examples,
        });
    }
    let md = render_models_section(&results, &paper);
    assert!(md.contains("| softmax1 | Softmax with λ = 1e-4 |"));
    assert!(
        md.contains("*7.40%*"),
        "the paper's softmax1 test error is beside ours"
    );
    assert!(md.contains("M1: 100-100-10 trained on P1 |"));
}
