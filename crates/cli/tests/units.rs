//! `blindspot units` as a user runs it, without data: options and usage errors.

use std::process::Command;

fn blindspot(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_blindspot"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn units_help_lists_the_issue_options() {
    let out = blindspot(&["units", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--model",
        "--model-file",
        "--layer",
        "--directions",
        "--k",
        "--n-random",
        "--seed",
        "--reference-model",
        "--all",
    ] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
    assert!(text.contains("natural") && text.contains("random") && text.contains("both"));
}

#[test]
fn units_needs_exactly_one_model_or_all() {
    for args in [
        vec!["units", "--offline"],
        vec!["units", "--model", "conv", "--all", "--offline"],
        vec!["units", "--model", "conv", "--directions", "sideways"],
    ] {
        let out = blindspot(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert_eq!(out.status.code(), Some(2), "{args:?}: a usage error");
    }
}

#[test]
fn units_on_a_missing_model_names_the_directory() {
    let dir = std::env::temp_dir().join("blindspot-units-missing-model");
    let data = std::env::temp_dir().join("blindspot-units-no-data");
    let out = blindspot(&[
        "units",
        "--model-file",
        dir.to_str().unwrap(),
        "--offline",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("blindspot-units-missing-model"), "{err}");
}
