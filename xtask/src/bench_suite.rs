//! `cargo xtask bench suite`: the agreement benchmark. Each of our attacks runs beside its
//! Foolbox 3 counterpart with the same hyper-parameters, on the same weights and the same first
//! `n` MNIST test images, untargeted; `bench/peers/run_suite.py` runs Foolbox and scores both
//! outputs with one PyTorch forward. Table: `<out>/bench/suite.md` (and `suite.json`).
//!
//! Not run in CI: it needs the Python venvs of `bench/peers/setup.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::bench::{loadavg, read_json, setup_peers, write_json_beside};
use crate::download::DownloadArgs;
use crate::project_root;
use crate::reproduce::{Backend, absolute, run_cli};

/// Robust accuracies (ε-bounded attacks) agree when they differ by at most this (1 point).
const ROBUST_TOLERANCE: f64 = 0.01;
/// Mean distances (minimum-norm attacks) agree when their ratio is within this of 1 (2%).
const DISTANCE_TOLERANCE: f64 = 0.02;

/// Options of `cargo xtask bench suite`.
#[derive(Args, Debug)]
pub struct SuiteBenchArgs {
    /// Models (directories under `--models-dir`), comma-separated; `conv` works too.
    #[arg(long, value_delimiter = ',', default_values = ["softmax1", "n100-100-10"])]
    pub models: Vec<String>,
    /// Test images attacked (the first n).
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Images for C&W, the slow one (9 × up to 1,000 Adam steps per image on both sides): the
    /// first `n_slow` of the same images; default `--n`.
    #[arg(long)]
    pub n_slow: Option<usize>,
    /// Where the models are (default `<out>/models`).
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Only these attacks (ids as in the table: fgsm-0.1, pgd-linf-0.2, pgd-l2-1, deepfool-l2,
    /// ddn, fmn-linf, cw, …), comma-separated; default all.
    #[arg(long, value_delimiter = ',')]
    pub attacks: Vec<String>,
    /// Reuse our output where `<out>/bench/suite/<model>/<attack>/summary.json` already holds
    /// the same attack settings on `n` images, instead of running it again.
    #[arg(long)]
    pub reuse: bool,
    /// Run nothing: rebuild the table from the results already in `<out>/bench/suite/<model>/`.
    #[arg(long)]
    pub table_only: bool,
    /// Our backend.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
    /// Torch threads of the Foolbox side.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Output directory (results go to `<out>/bench/suite/` and `<out>/bench/suite.md`).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DownloadArgs,
}

/// One attack of the suite: ours (extra `blindspot attack` options) and Foolbox 3's.
struct SuiteAttack {
    id: String,
    /// `bounded` (robust accuracy at ε) or `minimum` (mean distance).
    kind: &'static str,
    norm: &'static str,
    epsilon: Option<f64>,
    ours: Vec<String>,
    foolbox: &'static str,
    kwargs: Value,
    /// Only the first `n_slow` images (C&W).
    slow: bool,
}

/// The attacks, all untargeted. PGD: 40 steps, one random start; the L∞ step 0.01 (our
/// default), the L2 step 2.5ε/40 (Madry et al.'s rule), the same absolute step for Foolbox.
/// DeepFool: 50 steps, overshoot 0.02, every class a candidate (Foolbox's candidates=10 on 10
/// classes). DDN, FMN: 100 steps, the papers' step schedules. C&W: Foolbox's defaults with
/// 1,000 Adam steps per c (ours is capped the same).
fn suite() -> Vec<SuiteAttack> {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut attacks = Vec::new();
    for eps in [0.1, 0.2] {
        attacks.push(SuiteAttack {
            id: format!("fgsm-{eps}"),
            kind: "bounded",
            norm: "linf",
            epsilon: Some(eps),
            ours: s(&["--attack", "fgsm", "--epsilon", &eps.to_string()]),
            foolbox: "FGSM",
            kwargs: json!({"random_start": false}),
            slow: false,
        });
    }
    for (norm, eps, step) in [
        ("linf", 0.1, 0.01),
        ("linf", 0.2, 0.01),
        ("l2", 1.0, 2.5 * 1.0 / 40.0),
        ("l2", 2.0, 2.5 * 2.0 / 40.0),
    ] {
        attacks.push(SuiteAttack {
            id: format!("pgd-{norm}-{eps}"),
            kind: "bounded",
            norm,
            epsilon: Some(eps),
            ours: s(&[
                "--attack",
                "pgd",
                "--norm",
                norm,
                "--epsilon",
                &eps.to_string(),
                "--steps",
                "40",
                "--step-size",
                &step.to_string(),
                "--restarts",
                "1",
            ]),
            foolbox: if norm == "linf" { "LinfPGD" } else { "L2PGD" },
            kwargs: json!({"steps": 40, "abs_stepsize": step, "random_start": true}),
            slow: false,
        });
    }
    for (norm, class) in [("l2", "L2DeepFoolAttack"), ("linf", "LinfDeepFoolAttack")] {
        attacks.push(SuiteAttack {
            id: format!("deepfool-{norm}"),
            kind: "minimum",
            norm,
            epsilon: None,
            ours: s(&[
                "--attack",
                "deepfool",
                "--norm",
                norm,
                "--steps",
                "50",
                "--overshoot",
                "0.02",
            ]),
            foolbox: class,
            kwargs: json!({"steps": 50, "candidates": 10, "overshoot": 0.02, "loss": "logits"}),
            slow: false,
        });
    }
    attacks.push(SuiteAttack {
        id: "ddn".into(),
        kind: "minimum",
        norm: "l2",
        epsilon: None,
        ours: s(&["--attack", "ddn", "--steps", "100", "--step-size", "1"]),
        foolbox: "DDNAttack",
        kwargs: json!({"steps": 100, "init_epsilon": 1.0, "gamma": 0.05}),
        slow: false,
    });
    for (norm, class) in [("l2", "L2FMNAttack"), ("linf", "LInfFMNAttack")] {
        attacks.push(SuiteAttack {
            id: format!("fmn-{norm}"),
            kind: "minimum",
            norm,
            epsilon: None,
            ours: s(&[
                "--attack",
                "fmn",
                "--norm",
                norm,
                "--steps",
                "100",
                "--step-size",
                "1",
            ]),
            foolbox: class,
            kwargs: json!({"steps": 100, "max_stepsize": 1.0, "gamma": 0.05}),
            slow: false,
        });
    }
    attacks.push(SuiteAttack {
        id: "cw".into(),
        kind: "minimum",
        norm: "l2",
        epsilon: None,
        // `blindspot attack` refuses --steps and --step-size for cw (its flag check lists them
        // for pgd, deepfool, ddn and fmn only), so ours runs on its defaults, which are these:
        // 1,000 Adam steps of 0.01 per c, κ = 0, early abort.
        ours: s(&[
            "--attack",
            "cw",
            "--search-steps",
            "9",
            "--initial-c",
            "0.001",
        ]),
        foolbox: "L2CarliniWagnerAttack",
        kwargs: json!({"binary_search_steps": 9, "steps": 1000, "stepsize": 0.01,
                       "confidence": 0, "initial_const": 0.001, "abort_early": true}),
        slow: true,
    });
    attacks
}

impl SuiteBenchArgs {
    /// Runs ours, then Foolbox (one `run_suite.py` per model), and writes the table.
    pub fn run(self) -> anyhow::Result<()> {
        let attacks: Vec<SuiteAttack> = suite()
            .into_iter()
            .filter(|a| self.attacks.is_empty() || self.attacks.contains(&a.id))
            .collect();
        anyhow::ensure!(
            !attacks.is_empty(),
            "no attack matches --attacks {}; the ids: {}",
            self.attacks.join(","),
            suite()
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.data.run()?;
        let out = absolute(&self.out)?;
        let models_dir = match &self.models_dir {
            Some(d) => absolute(d)?,
            None => out.join("models"),
        };
        for model in &self.models {
            let dir = models_dir.join(model);
            anyhow::ensure!(
                dir.join("model.json").exists(),
                "{} has no trained model (give --models-dir, or train it with `blindspot train --model {model}`)",
                dir.display()
            );
        }
        let bench = out.join("bench").join("suite");
        let mut blocks = Vec::new();
        for model in &self.models {
            let model_dir = models_dir.join(model);
            let result = bench.join(model).join("result.json");
            if self.table_only {
                blocks.push(named(read_json(&result)?, model));
                continue;
            }
            let load = loadavg();
            let mut spec_attacks = Vec::new();
            for a in &attacks {
                let dir = bench.join(model).join(&a.id);
                let n = self.images(a);
                if !(self.reuse && reusable(&dir, a, n)?) {
                    let mut args = vec![
                        "attack".to_owned(),
                        "--model-file".into(),
                        model_dir.display().to_string(),
                        "--split".into(),
                        "test".into(),
                        "--n".into(),
                        n.to_string(),
                        "--goal".into(),
                        "untargeted".into(),
                        "--backend".into(),
                        self.backend.name().into(),
                        "--out".into(),
                        out.display().to_string(),
                        "--dir".into(),
                        dir.display().to_string(),
                        "--offline".into(),
                    ];
                    args.extend(a.ours.iter().cloned());
                    if let Some(d) = &self.data.data_dir {
                        args.extend(["--data-dir".into(), absolute(d)?.display().to_string()]);
                    }
                    run_cli(self.backend, &args)?;
                }
                spec_attacks.push(json!({
                    "id": a.id,
                    "kind": a.kind,
                    "norm": a.norm,
                    "epsilon": a.epsilon,
                    "ours": dir,
                    "n": n,
                    "foolbox": {"class": a.foolbox, "kwargs": a.kwargs},
                }));
            }
            // The images and labels: from an attack of ours on all n images.
            let full = attacks.iter().find(|a| !a.slow).unwrap_or(&attacks[0]);
            let spec = json!({
                "inputs": bench.join(model).join(&full.id).join("adversarial.safetensors"),
                "n": self.n,
                "attacks": spec_attacks,
            });
            let spec_path = bench.join(model).join("spec.json");
            blindspot_data::write_atomic(
                &spec_path,
                (serde_json::to_string_pretty(&spec)? + "\n").as_bytes(),
            )
            .with_context(|| format!("writing {}", spec_path.display()))?;
            let python = setup_peers()?.join("venv-fb3").join("bin").join("python");
            let mut cmd = Command::new(&python);
            cmd.env("PYTHONDONTWRITEBYTECODE", "1")
                .arg(
                    project_root()
                        .join("bench")
                        .join("peers")
                        .join("run_suite.py"),
                )
                .arg("--model-dir")
                .arg(&model_dir)
                .arg("--spec")
                .arg(&spec_path)
                .args(["--threads", &self.threads.to_string()])
                .arg("--json")
                .arg(&result);
            eprintln!("$ {cmd:?}");
            let status = cmd.status().context("running run_suite.py")?;
            anyhow::ensure!(status.success(), "run_suite.py failed ({status})");
            let mut r = named(read_json(&result)?, model);
            r["loadavg_1min_start"] = load.into();
            blocks.push(r);
        }
        let command = format!(
            "cargo xtask bench suite --models {} --n {}{}{}{}",
            self.models.join(","),
            self.n,
            self.n_slow
                .map_or(String::new(), |m| format!(" --n-slow {m}")),
            self.models_dir
                .as_ref()
                .map_or(String::new(), |d| format!(" --models-dir {}", d.display())),
            if self.attacks.is_empty() {
                String::new()
            } else {
                format!(" --attacks {}", self.attacks.join(","))
            }
        );
        let table = render(&blocks, self.n, &command);
        println!("{table}");
        let path = out.join("bench").join("suite.md");
        blindspot_data::write_atomic(&path, table.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        let json = json!({
            "command": command,
            "n": self.n,
            "goal": "untargeted",
            "robust_accuracy_tolerance": ROBUST_TOLERANCE,
            "distance_ratio_tolerance": DISTANCE_TOLERANCE,
            "models": blocks,
        });
        write_json_beside(&path, &json)
    }

    /// The images `a` is run on: `--n`, or `--n-slow` (at most `--n`) for C&W.
    fn images(&self, a: &SuiteAttack) -> usize {
        if a.slow {
            self.n_slow.unwrap_or(self.n).min(self.n)
        } else {
            self.n
        }
    }
}

/// `r` with `model` the model's directory name (the checkpoint's own name, which two
/// checkpoints may share, moves to `model_name`).
fn named(mut r: Value, model: &str) -> Value {
    if r.get("model_name").is_none() {
        r["model_name"] = r["model"].take();
    }
    r["model"] = model.into();
    r
}

/// Whether `dir` holds our output of `a` on `n` images (for `--reuse`): the summary's image
/// count and attack name are checked; the other settings are not (the directory's name, the
/// attack id, fixes them).
fn reusable(dir: &Path, a: &SuiteAttack, n: usize) -> anyhow::Result<bool> {
    let summary = dir.join("summary.json");
    if !summary.exists() || !dir.join("adversarial.safetensors").exists() {
        return Ok(false);
    }
    let s = read_json(&summary)?;
    let same = s["images"].as_u64() == Some(n as u64)
        && s["config"]["attack"].as_str() == a.ours.get(1).map(String::as_str);
    if same {
        eprintln!("reusing {}", dir.display());
    }
    Ok(same)
}

/// `x` as a percentage with one decimal, or `–`.
fn pct(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// `x` with `d` decimals, or `–`.
fn num(x: Option<f64>, d: usize) -> String {
    x.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{v:.d$}"))
}

/// The verdict of one row, and whether it is within the bounds.
fn verdict(row: &Value) -> (String, bool) {
    if row["kind"] == "bounded" {
        let d = row["robust_accuracy_difference"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let ok = d.abs() <= ROBUST_TOLERANCE + 1e-9;
        let text = format!("{:+.1} pt", 100.0 * d);
        if ok {
            (format!("agree ({text})"), true)
        } else {
            (format!("**differ** ({text})"), false)
        }
    } else {
        // Both should break (nearly) every image: a success gap over 1 point is a difference
        // too, whatever the distances say.
        let gap = row["success_difference"].as_f64().unwrap_or(0.0);
        if gap.abs() > ROBUST_TOLERANCE + 1e-9 {
            let r = row["ratio"].as_f64().unwrap_or(f64::NAN);
            return (
                format!(
                    "**success {:+.1} pt**; ours/Foolbox {r:.4} on both broken",
                    100.0 * gap
                ),
                false,
            );
        }
        match row["ratio"].as_f64() {
            Some(r) if (r - 1.0).abs() <= DISTANCE_TOLERANCE => (
                format!("agree (ours/Foolbox {r:.4}, {:+.1}%)", 100.0 * (r - 1.0)),
                true,
            ),
            Some(r) if r < 1.0 => (
                format!("ours smaller by {:.1}% ({r:.4})", 100.0 * (1.0 - r)),
                true,
            ),
            Some(r) => (
                format!("**ours larger by {:.1}%** ({r:.4})", 100.0 * (r - 1.0)),
                false,
            ),
            None => ("no image broken by both".into(), false),
        }
    }
}

fn render(blocks: &[Value], n: usize, command: &str) -> String {
    let versions = blocks.first().map_or(String::new(), |b| {
        format!(
            "Foolbox {} on torch {} ({} threads)",
            b["foolbox_version"].as_str().unwrap_or("?"),
            b["torch_version"].as_str().unwrap_or("?"),
            b["torch_threads"]
        )
    });
    let mut s = format!(
        "# Agreement benchmark: our attacks beside Foolbox 3\n\n\
         The first {n} MNIST test images, untargeted, the same weights (our safetensors loaded \
         into PyTorch) and the same hyper-parameters on both sides; {versions}. Both outputs are \
         scored by `bench/peers/run_suite.py` with one float32 PyTorch forward: an image is broken \
         when its attack claims it, the forward of the output clipped to [0, 1] puts a wrong logit \
         strictly above the label's, and (ε-bounded attacks) the output lies within ε. \
         **ε-bounded** (FGSM, PGD): robust accuracy = share of the {n} images classified \
         correctly and not broken (misclassified clean images count as broken); the mean distance \
         is over the images the attack broke. Agreement: within {:.0} point. **Minimum-norm** \
         (DeepFool, DDN, FMN, C&W): success over the correctly classified images, and the mean \
         distance in the attack's norm (L2, or L∞; not RMS) over the images both broke; agreement: \
         ratio within {:.0}% (or ours smaller). img/s = images / wall-clock seconds of the \
         attack (ours: one worker per core, flex backend; Foolbox: the whole batch at once). The \
         machine is shared (2 cores): speeds are indicative.\n\n\
         Reproduce: `{command}` (Python venvs made by `bench/peers/setup.sh`).\n\n\
         | model | attack | ours: robust acc (success) / mean dist / img/s | Foolbox 3: robust acc (success) / mean dist / img/s | agreement |\n\
         |---|---|---|---|---|\n",
        100.0 * ROBUST_TOLERANCE,
        100.0 * DISTANCE_TOLERANCE,
    );
    for b in blocks {
        let model = b["model"].as_str().unwrap_or("?");
        for row in b["attacks"].as_array().into_iter().flatten() {
            let side = |who: &str, dist: Option<f64>| {
                let r = &row[who];
                let first = if row["kind"] == "bounded" {
                    pct(r["robust_accuracy"].as_f64())
                } else {
                    format!("({})", pct(r["success_rate"].as_f64()))
                };
                format!(
                    "{first} / {} / {}",
                    num(dist, 4),
                    num(r["images_per_second"].as_f64(), 1)
                )
            };
            let (ours_d, fb_d) = if row["kind"] == "bounded" {
                (
                    row["ours"]["mean_distance_own"].as_f64(),
                    row["foolbox"]["mean_distance_own"].as_f64(),
                )
            } else {
                (
                    row["ours_mean_distance"].as_f64(),
                    row["foolbox_mean_distance"].as_f64(),
                )
            };
            let norm = if row["norm"] == "linf" { "L∞" } else { "L2" };
            let images = match row["n"].as_u64() {
                Some(m) if m != n as u64 => format!(", first {m} images"),
                _ => String::new(),
            };
            s += &format!(
                "| {model} | {} ({norm}{images}) | {} | {} | {} |\n",
                row["id"].as_str().unwrap_or("?"),
                side("ours", ours_d),
                side("foolbox", fb_d),
                verdict(row).0
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_verdicts_follow_the_bounds() {
        let ids: std::collections::BTreeSet<_> = suite().into_iter().map(|a| a.id).collect();
        assert_eq!(ids.len(), suite().len());
        assert!(ids.contains("pgd-l2-1") && ids.contains("fmn-linf") && ids.contains("cw"));
        let bounded = |d: f64| json!({"kind": "bounded", "robust_accuracy_difference": d});
        assert!(verdict(&bounded(0.009)).1);
        assert!(!verdict(&bounded(-0.02)).1);
        let minimum = |r: f64| json!({"kind": "minimum", "ratio": r, "success_difference": 0.0});
        assert!(verdict(&minimum(1.019)).1);
        let gap = json!({"kind": "minimum", "ratio": 1.0, "success_difference": -0.05});
        assert!(!verdict(&gap).1);
        assert!(verdict(&minimum(0.9)).1);
        assert!(!verdict(&minimum(1.03)).1);
    }
}
