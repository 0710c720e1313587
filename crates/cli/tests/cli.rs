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
    const SUBCOMMANDS: [&str; 11] = [
        "robustness",
        "imagenet",
        "train",
        "attack",
        "eval",
        "models",
        "bench",
        "transfer",
        "units",
        "spectral",
        "reproduce",
    ];
    let out = blindspot(&["--help"]);
    assert!(out.status.success(), "--help failed: {out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Usage: blindspot <COMMAND>"), "{text}");
    // The `Commands:` block: one `  <name>  <description>` line per subcommand, up to the
    // blank line.
    let listed: Vec<(&str, &str)> = text
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, description) = l.trim().split_once(' ').unwrap_or((l.trim(), ""));
            (name, description.trim())
        })
        .collect();
    let mut names: Vec<&str> = listed.iter().map(|(n, _)| *n).collect();
    let mut expected = SUBCOMMANDS.to_vec();
    expected.push("help");
    names.sort_unstable();
    expected.sort_unstable();
    assert_eq!(names, expected, "{text}");
    for (name, description) in &listed {
        assert!(
            description.len() > 10,
            "`{name}` has no description:\n{text}"
        );
    }
    // Every subcommand has its own help, which exits with success.
    for sub in SUBCOMMANDS {
        let out = blindspot(&[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help failed: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!("Usage: blindspot {sub}")) && text.contains("Options:"),
            "{sub} --help:\n{text}"
        );
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

#[test]
fn a_run_of_another_scale_refuses_an_output_directory_without_force() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    std::fs::write(
        out_dir.path().join("scale.json"),
        r#"{ "scale": "default" }"#,
    )
    .unwrap();
    let missing_data = out_dir.path().join("no-mnist");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "reproduce",
            "--scale",
            "smoke",
            "--out",
            out,
            "--offline",
            "--data-dir",
            missing_data.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let result = blindspot(&args);
        assert!(!result.status.success());
        String::from_utf8(result.stderr).unwrap()
    };
    let err = run(&[]);
    assert!(
        err.contains("holds default-scale results") && err.contains("--force"),
        "{err}"
    );
    let marker = std::fs::read_to_string(out_dir.path().join("scale.json")).unwrap();
    assert!(marker.contains("default"), "the marker is kept: {marker}");
    // With --force the run goes on (and stops at the missing data), the directory now smoke's.
    let err = run(&["--force"]);
    assert!(err.contains("MNIST"), "{err}");
    let marker = std::fs::read_to_string(out_dir.path().join("scale.json")).unwrap();
    assert!(marker.contains("smoke"), "{marker}");
}

#[test]
fn a_second_run_on_the_same_output_directory_is_refused_while_the_first_holds_it() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let missing_data = out_dir.path().join("no-mnist");
    let args = [
        "reproduce",
        "--scale",
        "smoke",
        "--out",
        out,
        "--offline",
        "--data-dir",
        missing_data.to_str().unwrap(),
    ];
    // This test process stands for a run in progress.
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out_dir.path().join(".lock"))
        .unwrap();
    held.lock().unwrap();
    let result = blindspot(&args);
    assert!(!result.status.success());
    let err = String::from_utf8(result.stderr).unwrap();
    assert!(err.contains("another blindspot run is using"), "{err}");
    // Released: the run goes on (and stops at the missing data).
    held.unlock().unwrap();
    let err = String::from_utf8(blindspot(&args).stderr).unwrap();
    assert!(err.contains("MNIST"), "{err}");
}

/// Writes a softmax1 module as a plain Burn program saves it (burn-store, Burn's layout).
fn burn_saved_softmax1(dir: &std::path::Path) -> std::path::PathBuf {
    use blindspot_models::{AnyModel, model_spec};
    use burn_store::{ModuleSnapshot, SafetensorsStore};
    let device = burn::tensor::Device::flex();
    let AnyModel::Mlp(net) = model_spec("softmax1")
        .unwrap()
        .architecture
        .init(&device)
        .unwrap()
    else {
        unreachable!()
    };
    let path = dir.join("my-net.safetensors");
    net.save_into(&mut SafetensorsStore::from_file(&path))
        .unwrap();
    path
}

#[test]
fn weights_saved_by_burn_store_are_checked_against_their_architecture_before_any_data_is_read() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let weights = burn_saved_softmax1(out_dir.path());
    let missing_data = out_dir.path().join("no-mnist");
    let attack = |architecture: &str| {
        let result = blindspot(&[
            "attack",
            "--weights",
            weights.to_str().unwrap(),
            "--architecture",
            architecture,
            "--out",
            out,
            "--offline",
            "--data-dir",
            missing_data.to_str().unwrap(),
        ]);
        assert!(!result.status.success());
        String::from_utf8(result.stderr).unwrap()
    };
    // The wrong architecture: the tensor that does not fit is named, and no data was read.
    let err = attack("n100-100-10");
    assert!(
        err.contains("as n100-100-10") && err.contains("layers.0.weight"),
        "{err}"
    );
    assert!(!missing_data.exists(), "the data store was touched: {err}");
    // Not an architecture at all.
    let err = attack("resnet50");
    assert!(
        err.contains("neither a catalogue id nor a JSON file"),
        "{err}"
    );
    // The right one: every tensor fits, and the command goes on to the data (absent here).
    let err = attack("softmax1");
    assert!(err.contains("MNIST") && !err.contains("tensor"), "{err}");
    assert!(
        !out_dir.path().join("models/my-net").exists(),
        "nothing is written before the import is whole"
    );
    // --weights without --architecture is a usage error.
    let result = blindspot(&["attack", "--weights", weights.to_str().unwrap()]);
    assert!(!result.status.success());
    let err = String::from_utf8(result.stderr).unwrap();
    assert!(err.contains("--architecture"), "{err}");
}

#[test]
fn transfer_without_trained_models_names_them_before_any_data_is_read() {
    let out_dir = tempfile::tempdir().unwrap();
    let missing_data = out_dir.path().join("no-mnist");
    let result = blindspot(&[
        "transfer",
        "--out",
        out_dir.path().to_str().unwrap(),
        "--offline",
        "--data-dir",
        missing_data.to_str().unwrap(),
    ]);
    assert!(!result.status.success());
    let err = String::from_utf8(result.stderr).unwrap();
    assert!(
        err.contains("not trained")
            && err.contains("softmax1")
            && err.contains("n100-100-10-p1")
            && err.contains("blindspot reproduce"),
        "{err}"
    );
    assert!(!missing_data.exists(), "the data store was touched: {err}");
}
