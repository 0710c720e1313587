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

/// Asserts that `rate` is a fraction of `n` examples: finite, in [0, 1], a multiple of `1/n`.
fn assert_rate(rate: f64, n: usize, what: &str) {
    let wrong = rate * n as f64;
    assert!(
        rate.is_finite() && (0.0..=1.0).contains(&rate) && (wrong - wrong.round()).abs() < 1e-9,
        "{what}: {rate} is no error rate over {n} examples"
    );
}

/// The rows of the Markdown table under the heading that starts with `heading`, as cells.
fn table_rows<'a>(md: &'a str, heading: &str) -> Vec<Vec<&'a str>> {
    md.lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect()
}

/// Parses an `x.xx%` cell as a number of percent in [0, 100].
fn percent(cell: &str) -> f64 {
    let value: f64 = cell
        .trim_matches('*')
        .strip_suffix('%')
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("`{cell}` is no percentage"));
    assert!((0.0..=100.0).contains(&value), "{cell}");
    value
}

/// Parses an `**ours%** / *paper%*` cell.
fn ours_and_paper(cell: &str) -> (f64, f64) {
    let (ours, paper) = cell.split_once(" / ").unwrap_or_else(|| panic!("{cell}"));
    (percent(ours), percent(paper))
}

#[test]
fn data_to_trained_checkpoints_to_report() {
    const TRAIN: usize = 400;
    const TEST: usize = 100;
    let data_dir = tempfile::tempdir().unwrap();
    write_fixture(data_dir.path(), TRAIN, TEST);
    let mnist = Mnist::load_dir(data_dir.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let paper = PaperTables::load().unwrap();
    let mut results = Vec::new();
    // Each model with the size of its training split (P1: the first half of the 400 images).
    for (name, split, examples) in [
        ("softmax1", Split::Train, TRAIN),
        ("ae400-10", Split::Train, TRAIN),
        ("n100-100-10", Split::P1, TRAIN / 2),
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
        assert_eq!(
            (meta.name.as_str(), meta.model.as_str(), meta.split.as_str()),
            (run.id().as_str(), name, split.name())
        );
        assert_eq!((meta.seed, meta.backend.as_str()), (7, "flex"));
        assert_eq!(meta.train_examples, examples, "{name}");
        assert_rate(meta.train_error, examples, name);
        assert_rate(meta.test_error, TEST, name);
        assert!(report.test_error <= 0.05, "{name}: {report:?}");
        assert_eq!(
            (meta.train_error, meta.test_error),
            (report.train_error, report.test_error)
        );
        assert!(meta.train_seconds.is_finite() && meta.train_seconds > 0.0);
        // Every epoch of every stage was run once, in order, with a finite positive loss.
        let pretrain = if name == "ae400-10" {
            assert!(config.pretrain_epochs > 0);
            config.pretrain_epochs
        } else {
            0
        };
        let stages: Vec<(&str, usize, usize)> = report
            .epochs
            .iter()
            .map(|e| (e.stage, e.epoch, e.epochs))
            .collect();
        let expected: Vec<(&str, usize, usize)> = (1..=pretrain)
            .map(|e| ("pretrain", e, pretrain))
            .chain((1..=8).map(|e| ("train", e, 8)))
            .collect();
        assert_eq!(stages, expected, "{name}");
        for e in &report.epochs {
            assert!(e.loss.is_finite() && e.loss > 0.0, "{name}: {e:?}");
            for rate in [e.train_error, e.test_error].into_iter().flatten() {
                assert!((0.0..=1.0).contains(&rate), "{name}: {e:?}");
            }
        }
        // The checkpoint records the fingerprint a rerun compares with to skip the training.
        assert_eq!(
            meta.fingerprint,
            run.fingerprint(&config, examples, TEST),
            "{name}"
        );
        let dir = out.path().join(run.id());
        checkpoint::save(&model, &meta, &dir).unwrap();
        let (loaded, loaded_meta) = checkpoint::load(&dir, &device).unwrap();
        assert_eq!(loaded_meta, meta);
        // The reloaded model makes the same predictions as the trained one.
        let test = mnist.split(Split::Test);
        assert_eq!(test.len(), TEST);
        let reloaded_error = error_rate(&loaded, &test, &device).unwrap();
        assert_eq!(
            reloaded_error,
            error_rate(&model.valid(), &test, &device).unwrap()
        );
        assert_eq!(reloaded_error, meta.test_error, "{name}");
        assert_eq!(loaded.num_classes(), 10);
        let p1_error = error_rate(&loaded, &mnist.split(Split::P1), &device).unwrap();
        let p2_error = error_rate(&loaded, &mnist.split(Split::P2), &device).unwrap();
        assert_rate(p1_error, TRAIN / 2, name);
        assert_rate(p2_error, TRAIN / 2, name);
        results.push(ModelResult {
            id: run.id(),
            model: name.into(),
            split: split.name().into(),
            train_error: meta.train_error,
            test_error: meta.test_error,
            p1_error,
            p2_error,
            target_test_error: run.target_test_error(),
            train_seconds: meta.train_seconds,
            train_examples: meta.train_examples,
        });
    }
    let md = render_models_section(&results, &paper);

    // Table 1: one row per model trained on the whole training set, ours beside the paper's
    // description, training and test errors (Szegedy et al., Table 1).
    let table1 = table_rows(&md, "## Table 1");
    let ids: Vec<&str> = table1.iter().map(|r| r[0]).collect();
    assert_eq!(ids, vec!["softmax1", "ae400-10"], "{md}");
    let paper_rows = [
        ("Softmax with λ = 1e-4", (6.7, 7.4)),
        ("Autoencoder with softmax λ = 1e-6", (0.57, 1.9)),
    ];
    for (row, (r, (description, paper_errors))) in table1.iter().zip(results.iter().zip(paper_rows))
    {
        assert_eq!(row.len(), 7, "{row:?}");
        assert_eq!(row[1], description);
        let (train, paper_train) = ours_and_paper(row[2]);
        let (test, paper_test) = ours_and_paper(row[3]);
        assert!((train - 100.0 * r.train_error).abs() <= 0.005, "{row:?}");
        assert!((test - 100.0 * r.test_error).abs() <= 0.005, "{row:?}");
        assert_eq!((paper_train, paper_test), paper_errors, "{row:?}");
        let target = percent(row[4].trim_start_matches("≤ "));
        assert!(target > 0.0, "{row:?}");
        assert_eq!(row[5], if test <= target { "✅" } else { "❌" }, "{row:?}");
        let seconds: f64 = row[6].strip_suffix(" s").unwrap().parse().unwrap();
        assert!((seconds - r.train_seconds).abs() <= 0.5, "{row:?}");
    }

    // Table 3: the three models of the halves, of which only M1 was trained here (paper: 0% on
    // P1, 2.4% on P2, 2% on test).
    let table3 = table_rows(&md, "## Table 3");
    assert_eq!(table3.len(), 3, "{md}");
    let m1 = &table3[0];
    assert_eq!(m1[0], "M1: 100-100-10 trained on P1", "{md}");
    let m1_result = &results[2];
    for (cell, ours, paper_value) in [
        (m1[1], m1_result.p1_error, 0.0),
        (m1[2], m1_result.p2_error, 2.4),
        (m1[3], m1_result.test_error, 2.0),
    ] {
        let (got, paper_got) = ours_and_paper(cell);
        assert!((got - 100.0 * ours).abs() <= 0.005, "{m1:?}");
        assert_eq!(paper_got, paper_value, "{m1:?}");
    }
    for row in &table3[1..] {
        assert_eq!(row[1], "not run", "{row:?}");
    }
}
