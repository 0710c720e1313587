//! `cargo xtask bench train|attack`: benchmarks (not tests). Each writes its table under
//! `<out>/bench/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::download::DownloadArgs;
use crate::project_root;
use crate::reproduce::{Backend, absolute, run_cli};

/// What to benchmark.
#[derive(Subcommand, Debug)]
pub enum BenchTask {
    /// Seconds per training epoch of n100-100-10 at batch 128 on each backend.
    Train(TrainBenchArgs),
    /// The L-BFGS attack on 100 test images against the Python peers on the same weights.
    Attack(AttackBenchArgs),
}

impl BenchTask {
    /// Runs the chosen benchmark.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            BenchTask::Train(args) => args.run(),
            BenchTask::Attack(args) => args.run(),
        }
    }
}

/// Options of `cargo xtask bench train`.
#[derive(Args, Debug)]
pub struct TrainBenchArgs {
    /// Backends to measure.
    #[arg(long, value_enum, num_args = 1.., default_values = ["flex", "ndarray"])]
    pub backends: Vec<Backend>,
    /// Epochs to time per backend.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Output directory (the table goes to `<out>/bench/`).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DownloadArgs,
}

impl TrainBenchArgs {
    /// Runs `blindspot bench` once per backend.
    pub fn run(self) -> anyhow::Result<()> {
        self.data.run()?;
        for backend in &self.backends {
            let mut args = vec![
                "bench".to_owned(),
                "--backend".into(),
                backend.name().into(),
                "--epochs".into(),
                self.epochs.to_string(),
                "--out".into(),
                absolute(&self.out)?.display().to_string(),
            ];
            if let Some(dir) = &self.data.data_dir {
                args.extend(["--data-dir".into(), absolute(dir)?.display().to_string()]);
            }
            run_cli(*backend, &args)?;
        }
        Ok(())
    }
}

/// Options of `cargo xtask bench attack`.
#[derive(Args, Debug)]
pub struct AttackBenchArgs {
    /// Backends to measure.
    #[arg(long, value_enum, num_args = 1.., default_values = ["flex", "ndarray"])]
    pub backends: Vec<Backend>,
    /// Trained models under `<out>/models/` (train them first with `cargo xtask reproduce`).
    #[arg(long, num_args = 1.., default_values = ["softmax1", "n100-100-10"])]
    pub models: Vec<String>,
    /// Test images attacked.
    #[arg(long, default_value_t = 100)]
    pub n: usize,
    /// Images for Foolbox 2, which attacks one image at a time (slow).
    #[arg(long, default_value_t = 100)]
    pub n_foolbox: usize,
    /// Skip the Python peers (no venv is made).
    #[arg(long)]
    pub no_peers: bool,
    /// Output directory (results go to `<out>/bench/attack/` and `<out>/bench/attack.md`).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DownloadArgs,
}

/// One row of the table.
struct Row {
    model: String,
    attack: String,
    goal: String,
    n: u64,
    success: f64,
    mean: f64,
    median: f64,
    per_second: f64,
    evaluations: Option<f64>,
    exact: Option<f64>,
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

fn number(v: &serde_json::Value, key: &str) -> f64 {
    v.get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN)
}

impl AttackBenchArgs {
    /// Runs ours on every backend, then the peers on the same images and targets.
    pub fn run(self) -> anyhow::Result<()> {
        self.data.run()?;
        let out = absolute(&self.out)?;
        let bench = out.join("bench").join("attack");
        for model in &self.models {
            let dir = out.join("models").join(model);
            anyhow::ensure!(
                dir.join("model.json").exists(),
                "{} has no trained model; run `cargo xtask reproduce` (or `blindspot train --model {model}`) first",
                dir.display()
            );
        }
        let mut rows = Vec::new();
        for backend in &self.backends {
            for model in &self.models {
                for goal in ["random", "untargeted"] {
                    let dir = bench.join(backend.name()).join(model).join(goal);
                    let mut args = vec![
                        "attack".to_owned(),
                        "--model".into(),
                        model.clone(),
                        "--split".into(),
                        "test".into(),
                        "--n".into(),
                        self.n.to_string(),
                        "--goal".into(),
                        goal.into(),
                        "--backend".into(),
                        backend.name().into(),
                        "--out".into(),
                        out.display().to_string(),
                        "--dir".into(),
                        dir.display().to_string(),
                    ];
                    if let Some(d) = &self.data.data_dir {
                        args.extend(["--data-dir".into(), absolute(d)?.display().to_string()]);
                    }
                    run_cli(*backend, &args)?;
                    let s = read_json(&dir.join("summary.json"))?;
                    rows.push(Row {
                        model: model.clone(),
                        attack: format!("blindspot L-BFGS ({})", backend.name()),
                        goal: goal.into(),
                        n: s["images"].as_u64().unwrap_or(0),
                        success: number(&s, "success_rate"),
                        mean: number(&s, "mean_distortion"),
                        median: number(&s, "median_distortion"),
                        per_second: number(&s, "images_per_second"),
                        evaluations: Some(number(&s, "evaluations_per_problem")),
                        exact: None,
                    });
                }
            }
        }
        if !self.no_peers {
            rows.extend(self.peers(&out, &bench)?);
        }
        // The exact optimum of the random targets (from the peers' script) applies to our rows
        // with the same targets too.
        let exact: Vec<(String, f64)> = rows
            .iter()
            .filter_map(|r| r.exact.map(|e| (r.model.clone(), e)))
            .collect();
        for r in rows.iter_mut().filter(|r| r.goal == "random") {
            if let Some((_, e)) = exact.iter().find(|(m, _)| *m == r.model) {
                r.exact = Some(*e);
            }
        }
        let table = render(&rows, self.n);
        println!("{table}");
        let path = out.join("bench").join("attack.md");
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        std::fs::write(&path, &table).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
        Ok(())
    }

    /// Makes the peers' venv and runs advertorch's and Foolbox 2's L-BFGS on our random-target
    /// inputs (same images, same targets, same weights).
    fn peers(&self, out: &Path, bench: &Path) -> anyhow::Result<Vec<Row>> {
        let peers = project_root().join("bench").join("peers");
        let status = Command::new("bash")
            .arg(peers.join("setup.sh"))
            .status()
            .context("running bench/peers/setup.sh")?;
        anyhow::ensure!(status.success(), "bench/peers/setup.sh failed ({status})");
        let venv = std::env::var_os("BLINDSPOT_PEERS_VENV")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/blindspot/peers"))
            })
            .context("no HOME for the peers' venv")?;
        let python = venv.join("venv").join("bin").join("python");
        let first = self.backends.first().context("no backend")?;
        let mut rows = Vec::new();
        for model in &self.models {
            let inputs = bench
                .join(first.name())
                .join(model)
                .join("random")
                .join("adversarial.safetensors");
            for (attack, n) in [
                ("advertorch-lbfgs", self.n),
                ("foolbox2-lbfgs", self.n_foolbox),
            ] {
                let json = bench.join("peers").join(format!("{model}-{attack}.json"));
                std::fs::create_dir_all(json.parent().expect("has a parent"))?;
                let mut cmd = Command::new(&python);
                cmd.arg(peers.join("run_peers.py"))
                    .arg("--model-dir")
                    .arg(out.join("models").join(model))
                    .arg("--inputs")
                    .arg(&inputs)
                    .args(["--attack", attack, "--n", &n.to_string(), "--threads", "2"])
                    .arg("--json")
                    .arg(&json);
                if model.starts_with("softmax") {
                    cmd.arg("--exact");
                }
                eprintln!("$ {cmd:?}");
                let status = cmd.status().context("running run_peers.py")?;
                anyhow::ensure!(status.success(), "run_peers.py {attack} failed ({status})");
                let r = read_json(&json)?;
                rows.push(Row {
                    model: model.clone(),
                    attack: r["peer"].as_str().unwrap_or(attack).to_string(),
                    goal: "random".into(),
                    n: r["n"].as_u64().unwrap_or(0),
                    success: number(&r, "success_rate"),
                    mean: number(&r, "mean_rms"),
                    median: number(&r, "median_rms"),
                    per_second: number(&r, "examples_per_second"),
                    evaluations: r["evaluations_per_example"].as_f64(),
                    exact: r.get("exact").and_then(|e| e["mean_rms"].as_f64()),
                });
            }
        }
        Ok(rows)
    }
}

fn render(rows: &[Row], n: usize) -> String {
    let mut s = format!(
        "# Attack benchmark\n\nFirst {n} MNIST test images, same weights and (for `random`) the same targets for every attack. \
         Distortion is the paper's RMS per pixel. `exact` is the optimum of the same targeted problems \
         (projection onto the halfspaces and the box), for softmax models.\n\n\
         | model | attack | goal | images | success | mean RMS | median RMS | ratio to exact | images/s | evaluations/problem |\n\
         |---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let ratio = r
            .exact
            .map_or("–".to_string(), |e| format!("{:.4}", r.mean / e));
        let evals = r.evaluations.map_or("–".to_string(), |e| format!("{e:.0}"));
        s += &format!(
            "| {} | {} | {} | {} | {:.0}% | {:.4} | {:.4} | {} | {:.2} | {} |\n",
            r.model,
            r.attack,
            r.goal,
            r.n,
            100.0 * r.success,
            r.mean,
            r.median,
            ratio,
            r.per_second,
            evals
        );
    }
    s
}
