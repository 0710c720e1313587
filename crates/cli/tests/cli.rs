//! The `blindspot` binary as a user runs it (no data needed).

use std::process::Command;

fn blindspot(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_blindspot"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn models_lists_every_paper_model() {
    let out = blindspot(&["models"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "softmax1",
        "softmax2",
        "softmax3",
        "n100-100-10",
        "n200-200-10",
        "ae400-10",
        "n123-456-10",
        "fc",
        "conv",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("1.64%"), "the paper's error is listed");
}

#[test]
fn an_unknown_model_is_a_clear_error() {
    let out = blindspot(&["train", "--model", "resnet", "--offline"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unknown model `resnet`") && err.contains("n100-100-10"),
        "{err}"
    );
}

#[test]
fn a_backend_that_was_not_compiled_in_names_its_feature() {
    // The GPU backends are opt-in features; the default build (CI's) has neither.
    let missing: Vec<&str> = [
        ("wgpu", cfg!(feature = "wgpu")),
        ("cuda", cfg!(feature = "cuda")),
    ]
    .into_iter()
    .filter(|(_, compiled)| !compiled)
    .map(|(name, _)| name)
    .collect();
    assert!(!missing.is_empty() || cfg!(all(feature = "wgpu", feature = "cuda")));
    for backend in missing {
        let out = blindspot(&[
            "eval",
            "--model",
            "softmax1",
            "--backend",
            backend,
            "--offline",
        ]);
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(&format!("--features {backend}")), "{err}");
    }
}

#[test]
fn help_documents_every_subcommand() {
    let out = blindspot(&["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "train",
        "eval",
        "models",
        "bench",
        "reproduce",
        "attack",
        "transfer",
        "units",
        "spectral",
    ] {
        assert!(text.contains(sub), "{sub} missing from --help");
    }
}

#[test]
fn attacking_a_model_that_was_never_trained_says_how_to_train_it_before_any_data_is_read() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    // No data and no network: an error about MNIST would mean the data came first.
    let missing_data = out_dir.path().join("no-mnist");
    for command in ["attack", "eval"] {
        let result = blindspot(&[
            command,
            "--model",
            "n100-100-10",
            "--out",
            out,
            "--offline",
            "--data-dir",
            missing_data.to_str().unwrap(),
        ]);
        assert!(!result.status.success());
        let err = String::from_utf8(result.stderr).unwrap();
        assert!(
            err.contains("no trained model `n100-100-10`")
                && err.contains("blindspot train --model n100-100-10")
                && err.contains("softmax1")
                && err.contains("trained there: none"),
            "{command}: {err}"
        );
        assert!(!missing_data.exists(), "{command} touched the data store");
    }
}
