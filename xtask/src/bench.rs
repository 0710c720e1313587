//! `cargo xtask bench train|attack|suite|frontier` (suite: `bench_suite.rs`, frontier:
//! `bench_frontier.rs`): benchmarks (not tests).
//! Each writes its table under
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
    /// The L-BFGS attack on 100 test images against the Python peers on the same weights
    /// (`--goal random`: random targets; `--goal untargeted`: minimum-distortion attacks).
    Attack(AttackBenchArgs),
    /// Agreement: each of our attacks beside its Foolbox 3 counterpart (same weights, images and
    /// hyper-parameters), robust accuracy, mean distance and speed; `<out>/bench/suite.md`.
    Suite(crate::bench_suite::SuiteBenchArgs),
    /// Distortion against throughput: our L-BFGS at several presets beside Foolbox 3's DDN and
    /// FMN at several step counts, with a plot per model; `<out>/bench/frontier.md`.
    Frontier(crate::bench_frontier::FrontierBenchArgs),
}

impl BenchTask {
    /// Runs the chosen benchmark.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            BenchTask::Train(args) => args.run(),
            BenchTask::Attack(args) => args.run(),
            BenchTask::Suite(args) => args.run(),
            BenchTask::Frontier(args) => args.run(),
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
    /// Skip PyTorch (no venv is made).
    #[arg(long)]
    pub no_peers: bool,
    /// PyTorch's thread counts, one run each (`bench/peers/train_torch.py`).
    #[arg(long, num_args = 1.., default_values_t = [2])]
    pub torch_threads: Vec<usize>,
    /// Output directory (the table goes to `<out>/bench/`).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DownloadArgs,
}

impl TrainBenchArgs {
    /// Runs `blindspot bench` once per backend, then the same training in PyTorch, and writes
    /// `<out>/bench/train.md`.
    pub fn run(self) -> anyhow::Result<()> {
        self.data.run()?;
        let out = absolute(&self.out)?;
        let mut jsons = Vec::new();
        let mut loads = Vec::new();
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
            let load = loadavg();
            run_cli(*backend, &args)?;
            loads.push(load);
            jsons.push(
                out.join("bench")
                    .join(format!("train-n100-100-10-{}.json", backend.name())),
            );
        }
        if !self.no_peers {
            let python = setup_peers()?.join("venv").join("bin").join("python");
            for threads in &self.torch_threads {
                let json = out
                    .join("bench")
                    .join(format!("train-n100-100-10-pytorch-{threads}t.json"));
                let mut cmd = Command::new(&python);
                cmd.env("PYTHONDONTWRITEBYTECODE", "1")
                    .arg(
                        project_root()
                            .join("bench")
                            .join("peers")
                            .join("train_torch.py"),
                    )
                    .args(["--epochs", &self.epochs.to_string()])
                    .args(["--threads", &threads.to_string()])
                    .arg("--json")
                    .arg(&json);
                if let Some(dir) = &self.data.data_dir {
                    cmd.arg("--mnist-dir").arg(absolute(dir)?);
                }
                eprintln!("$ {cmd:?}");
                let status = cmd.status().context("running train_torch.py")?;
                anyhow::ensure!(status.success(), "train_torch.py failed ({status})");
                jsons.push(json);
            }
        }
        let mut table = format!(
            "# Training speed\n\nSeconds per epoch of n100-100-10 (sigmoid 784-100-100-10, \
             cross-entropy + λΣw²/k with λ = 1e-5, 1e-5, 1e-6, Adam lr 1e-3 with a cosine decay, \
             PyTorch's default Linear initialization), batch 128, the 60,000 training images, the \
             training pass only (the evaluation after an epoch excluded), mean over {} epochs. \
             PyTorch: `bench/peers/train_torch.py`, OMP_WAIT_POLICY=PASSIVE unless set. `load`: \
             1-minute load average at the start (shared 2-core machine).\n\n\
             Reproduce: `cargo xtask bench train --epochs {}`.\n\n\
             | implementation | threads | s / epoch | epochs (s) | load |\n|---|---|---|---|---|\n",
            self.epochs, self.epochs
        );
        for (i, path) in jsons.iter().enumerate() {
            let mut r = read_json(path)?;
            if let Some(load) = loads.get(i) {
                r["loadavg_1min_start"] = (*load).into();
            }
            let name = match r["backend"].as_str() {
                Some("pytorch") => format!(
                    "PyTorch {} (OMP_WAIT_POLICY={})",
                    r["torch_version"].as_str().unwrap_or("?"),
                    r["omp_wait_policy"].as_str().unwrap_or("default")
                ),
                Some(b) => format!("blindspot ({b})"),
                None => "?".into(),
            };
            let epochs = r["epoch_seconds"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(serde_json::Value::as_f64)
                        .map(|s| format!("{s:.2}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            table += &format!(
                "| {name} | {} | {:.2} | {epochs} | {} |\n",
                r["threads"],
                number(&r, "mean_epoch_seconds"),
                opt(
                    r.get("loadavg_1min_start")
                        .and_then(serde_json::Value::as_f64),
                    1
                ),
            );
        }
        println!("{table}");
        let path = out.join("bench").join("train.md");
        blindspot_data::write_atomic(&path, table.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
        Ok(())
    }
}

/// Our attack's settings in the untargeted benchmark: the defaults (the ones the report's
/// tables use), and a fast preset: the 2 nearest rival classes instead of 3, a short search
/// over `c` (3 solver runs of at most 40 iterations), 3 curvature pairs instead of 10, and runs
/// that stop once an iteration gains less than 1e-4 of the objective (instead of 1e-6). On the
/// first 300 test images of N100-100-10 (flex, idle machine, `blindspot attack --goal untargeted
/// --n 300 …`, seed-0 weights of the batch-16 recipe), mean RMS and images/s, 2 rivals × 3 runs:
/// ≤ 25 iterations with memory 10 0.0310 at 108–114, memory 5 0.0309 at 133, memory 3 0.0309 at
/// 149–164, memory 2 0.0309 at 161; with memory 3 and f-tolerance 3e-5 0.0310 at 187, 1e-4
/// 0.0311 at 222, 1e-3 0.0315 at 306; f-tolerance 1e-4 with ≤ 40 iterations 0.0310 at 205–217
/// (this preset), with 4 runs 0.0311 at 196; f-tolerance 3e-5, 4 runs × ≤ 40 0.0309 at 165; 1
/// rival 0.0320 at 218. On softmax1 this preset gives the same mean as the defaults (0.0242 on
/// 300 images) at 670 images/s. The two-loop recursion's cost grows with the memory while the
/// short runs gain nothing from long histories, and the last iterations of a run buy little
/// distortion. Starting the search at c = 0.1 or 0.2, or with a bracketing factor 2 or 3, was
/// slower for the same distortion (the failed run at c = 1 is a good warm start); so was
/// attacking the second rival only where its first-order distance estimate undercuts the first
/// rival's distortion (0.0317 at 163). These throughputs are from one worker thread and
/// batches of 1,024 problems; the defaults are now one worker per core and batches of 256,
/// which take this preset from 196 to 409–445 images/s on 1,000 images. Each entry: the suffix
/// of its output directory and the extra `blindspot attack` options.
const OUR_PRESETS: [(&str, &[&str]); 2] = [("", &[]), ("-fast", FAST_PRESET)];

/// The `blindspot attack` options of the fast preset (see [`OUR_PRESETS`]).
pub(crate) const FAST_PRESET: &[&str] = &[
    "--candidates",
    "2",
    "--search-steps",
    "3",
    "--max-iterations",
    "40",
    "--memory",
    "3",
    "--f-tolerance",
    "1e-4",
];

/// The file name of the untargeted table for `n` images: `attack-untargeted.md` for the
/// default 100, `attack-untargeted-n<N>.md` otherwise, so that runs at two sizes sit side by
/// side (the report shows both).
fn untargeted_table(n: usize) -> String {
    if n == 100 {
        "attack-untargeted.md".into()
    } else {
        format!("attack-untargeted-n{n}.md")
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
    /// `random`: ours (random and untargeted) and the peers' L-BFGS on random targets, table
    /// `<out>/bench/attack.md`. `untargeted`: ours and every minimum-distortion peer (Foolbox 3
    /// DDN and DeepFool, advertorch and torchattacks FAB, Foolbox 2 L-BFGS, advertorch L-BFGS on
    /// random targets) and the exact optimum for softmax models, one table per model in
    /// `<out>/bench/attack-untargeted.md` (and `.json`; `attack-untargeted-n<N>.md` when `--n`
    /// is not 100).
    #[arg(long, default_value = "random", value_parser = ["random", "untargeted"])]
    pub goal: String,
    /// `--goal untargeted`: images for advertorch's L-BFGS on random targets (slow: one L-BFGS-B
    /// problem over the whole batch); default `--n`.
    #[arg(long)]
    pub n_slow: Option<usize>,
    /// Skip the Python peers (no venv is made).
    #[arg(long)]
    pub no_peers: bool,
    /// Problems per device batch of our attack (default: the attack's, 256, sized for a CPU
    /// core's cache); on a GPU use thousands, e.g. 1000 or 10000.
    #[arg(long)]
    pub batch_size: Option<usize>,
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

pub(crate) fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
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
        if self.goal == "untargeted" {
            return self.run_untargeted();
        }
        self.data.run()?;
        let out = absolute(&self.out)?;
        let bench = out.join("bench").join("attack");
        require_models(&out, &self.models)?;
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
                    args.extend(self.our_options()?);
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
        blindspot_data::write_atomic(&path, table.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
        Ok(())
    }

    /// Makes the peers' venv and runs advertorch's and Foolbox 2's L-BFGS on our random-target
    /// inputs (same images, same targets, same weights).
    fn peers(&self, out: &Path, bench: &Path) -> anyhow::Result<Vec<Row>> {
        let peers = project_root().join("bench").join("peers");
        let python = setup_peers()?.join("venv").join("bin").join("python");
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

/// Runs `bench/peers/setup.sh` (idempotent) and returns the peers' base directory, which holds
/// `venv` (torch, advertorch, Foolbox 2) and `venv-fb3` (torch, Foolbox 3, torchattacks).
pub(crate) fn setup_peers() -> anyhow::Result<PathBuf> {
    let peers = project_root().join("bench").join("peers");
    let status = Command::new("bash")
        .arg(peers.join("setup.sh"))
        .status()
        .context("running bench/peers/setup.sh")?;
    anyhow::ensure!(status.success(), "bench/peers/setup.sh failed ({status})");
    std::env::var_os("BLINDSPOT_PEERS_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/blindspot/peers"))
        })
        .context("no HOME for the peers' venv")
}

/// One run of `run_peers.py --goal untargeted`: which venv, which attack, how many images.
struct PeerRun {
    venv: &'static str,
    attack: &'static str,
    n: usize,
    /// Our attack's output directory, for `--attack blindspot`.
    adversarial: Option<PathBuf>,
}

impl AttackBenchArgs {
    /// The `blindspot attack` options every run of ours gets: the data directory and the batch
    /// size, when given.
    fn our_options(&self) -> anyhow::Result<Vec<String>> {
        let mut args = Vec::new();
        if let Some(d) = &self.data.data_dir {
            args.extend(["--data-dir".into(), absolute(d)?.display().to_string()]);
        }
        if let Some(b) = self.batch_size {
            args.extend(["--batch-size".into(), b.to_string()]);
        }
        Ok(args)
    }

    /// `--goal untargeted`: ours on every backend and every minimum-distortion peer, all scored
    /// by `run_peers.py` with one success check, one table per model.
    fn run_untargeted(&self) -> anyhow::Result<()> {
        self.data.run()?;
        let out = absolute(&self.out)?;
        let bench = out.join("bench").join("attack-untargeted");
        require_models(&out, &self.models)?;
        let first = *self.backends.first().context("no backend")?;
        let n_slow = self.n_slow.unwrap_or(self.n).min(self.n);
        let n_foolbox = self.n_foolbox.min(self.n);
        let mut blocks = Vec::new();
        for model in &self.models {
            // Ours first (timed in the same session as the peers), in each preset.
            let mut our_load = Vec::new();
            let mut our_dirs = Vec::new();
            for (backend, (suffix, preset)) in self
                .backends
                .iter()
                .flat_map(|b| OUR_PRESETS.iter().map(move |p| (b, p)))
            {
                let dir = bench
                    .join(format!("{}{suffix}", backend.name()))
                    .join(model);
                our_dirs.push(dir.clone());
                let mut args = vec![
                    "attack".to_owned(),
                    "--model".into(),
                    model.clone(),
                    "--split".into(),
                    "test".into(),
                    "--n".into(),
                    self.n.to_string(),
                    "--goal".into(),
                    "untargeted".into(),
                    "--backend".into(),
                    backend.name().into(),
                    "--out".into(),
                    out.display().to_string(),
                    "--dir".into(),
                    dir.display().to_string(),
                ];
                args.extend(preset.iter().map(|a| a.to_string()));
                args.extend(self.our_options()?);
                our_load.push(loadavg());
                run_cli(*backend, &args)?;
            }
            if self.no_peers {
                continue;
            }
            let base = setup_peers()?;
            let inputs = bench
                .join(first.name())
                .join(model)
                .join("adversarial.safetensors");
            let softmax = model.starts_with("softmax");
            let mut runs = Vec::new();
            if softmax {
                runs.push(PeerRun {
                    venv: "venv",
                    attack: "exact",
                    n: self.n,
                    adversarial: None,
                });
            }
            for dir in our_dirs {
                runs.push(PeerRun {
                    venv: "venv",
                    attack: "blindspot",
                    n: self.n,
                    adversarial: Some(dir),
                });
            }
            runs.extend([
                PeerRun {
                    venv: "venv-fb3",
                    attack: "foolbox3-ddn",
                    n: self.n,
                    adversarial: None,
                },
                PeerRun {
                    venv: "venv-fb3",
                    attack: "foolbox3-deepfool",
                    n: self.n,
                    adversarial: None,
                },
                PeerRun {
                    venv: "venv",
                    attack: "advertorch-fab",
                    n: self.n,
                    adversarial: None,
                },
                PeerRun {
                    venv: "venv-fb3",
                    attack: "torchattacks-fab",
                    n: self.n,
                    adversarial: None,
                },
                PeerRun {
                    venv: "venv",
                    attack: "foolbox2-lbfgs",
                    n: n_foolbox,
                    adversarial: None,
                },
                PeerRun {
                    venv: "venv",
                    attack: "advertorch-lbfgs",
                    n: n_slow,
                    adversarial: None,
                },
            ]);
            let mut results = Vec::new();
            for run in &runs {
                let tag = match &run.adversarial {
                    Some(dir) => format!(
                        "blindspot-{}",
                        dir.parent()
                            .and_then(Path::file_name)
                            .map_or("?".into(), |b| b.to_string_lossy().into_owned())
                    ),
                    None => run.attack.to_string(),
                };
                let json = bench.join("peers").join(format!("{model}-{tag}.json"));
                std::fs::create_dir_all(json.parent().expect("has a parent"))?;
                let mut cmd = Command::new(base.join(run.venv).join("bin").join("python"));
                cmd.env("PYTHONDONTWRITEBYTECODE", "1")
                    .arg(
                        project_root()
                            .join("bench")
                            .join("peers")
                            .join("run_peers.py"),
                    )
                    .arg("--model-dir")
                    .arg(out.join("models").join(model))
                    .arg("--inputs")
                    .arg(&inputs)
                    .args(["--goal", "untargeted", "--attack", run.attack])
                    .args(["--n", &run.n.to_string(), "--threads", "2"])
                    .arg("--json")
                    .arg(&json);
                if let Some(dir) = &run.adversarial {
                    cmd.arg("--adversarial").arg(dir);
                }
                if softmax && run.attack != "exact" {
                    cmd.arg("--exact");
                }
                eprintln!("$ {cmd:?}");
                let status = cmd.status().context("running run_peers.py")?;
                anyhow::ensure!(
                    status.success(),
                    "run_peers.py {} failed ({status})",
                    run.attack
                );
                let mut r = read_json(&json)?;
                if run.adversarial.is_some() {
                    // Ours ran earlier: its load is the one when it ran, not when it was scored.
                    let i = runs[..results.len()]
                        .iter()
                        .filter(|r| r.adversarial.is_some())
                        .count();
                    r["loadavg_1min_start"] = our_load.get(i).copied().flatten().into();
                }
                results.push(r);
            }
            blocks.push((model.clone(), results));
        }
        if self.no_peers {
            eprintln!("--no-peers: ours ran, no table (the table is scored by run_peers.py)");
            return Ok(());
        }
        let command = format!(
            "cargo xtask bench attack --goal untargeted --n {} --n-foolbox {n_foolbox} --n-slow {n_slow} --backends {} --models {}",
            self.n,
            self.backends
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(" "),
            self.models.join(" ")
        ) + &self
            .batch_size
            .map_or(String::new(), |b| format!(" --batch-size {b}"));
        let table = render_untargeted(&blocks, self.n, self.batch_size, &command);
        println!("{table}");
        let path = out.join("bench").join(untargeted_table(self.n));
        blindspot_data::write_atomic(&path, table.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        let json = serde_json::json!({
            "goal": "untargeted",
            "n": self.n,
            "n_slow": n_slow,
            "n_foolbox": n_foolbox,
            "misclassified_images": "excluded from success and distortion for every attack",
            "models": blocks.iter().map(|(m, r)| (m.clone(), serde_json::Value::Array(r.clone())))
                .collect::<serde_json::Map<_, _>>(),
        });
        write_json_beside(&path, &json)
    }
}

/// Fails, naming the command that trains it, unless every model has a checkpoint under
/// `<out>/models/`.
pub(crate) fn require_models(out: &Path, models: &[String]) -> anyhow::Result<()> {
    for model in models {
        let dir = out.join("models").join(model);
        anyhow::ensure!(
            dir.join("model.json").exists(),
            "{} has no trained model; run `cargo xtask reproduce` (or `blindspot train --model {model}`) first",
            dir.display()
        );
    }
    Ok(())
}

/// The 1-minute load average (Linux), for the tables: the machine is shared.
pub(crate) fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `x` with `digits` decimals, or `–` when absent.
fn opt(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite())
        .map_or("–".to_string(), |x| format!("{x:.digits$}"))
}

fn render_untargeted(
    blocks: &[(String, Vec<serde_json::Value>)],
    n: usize,
    batch_size: Option<usize>,
    command: &str,
) -> String {
    let batches = batch_size.map_or("at most 256 (the default)".into(), |b| {
        format!("at most {b}")
    });
    let mut s = format!(
        "# Untargeted attack benchmark, {n} images\n\n\
         The first {n} MNIST test images (fewer where the `images` column says so: the first k of \
         the same images), the same weights (our safetensors loaded into PyTorch), untargeted: any \
         wrong class, minimal L2. Every attack's output is scored by `bench/peers/run_peers.py` \
         alike: success = on the adversarial clipped to [0, 1], some wrong logit is strictly above \
         the label's (float32 PyTorch forward, ties count as failure); images the model already \
         misclassifies are **excluded** from success and distortion for every attack (`scored`), \
         but every attack is given all the images and timed on all of them. Distortion: the \
         paper's RMS sqrt(Σ(x′−x)²/784) over the successful examples. `ratio to exact`: mean RMS \
         over the attack's successful examples / mean exact optimum over the same examples \
         (softmax models: the exact optimum is the minimum over wrong classes of the projection of \
         x onto the halfspace z_j ≥ z_label + 1e-6 intersected with the box, float64). \
         examples/s = images given / wall-clock seconds of the attack (model loading excluded); \
         ours with one worker per core on a CPU backend (`--workers`, default) on batches of \
         {batches} problems, Python peers on torch with 2 threads \
         (OMP_WAIT_POLICY=PASSIVE unless set: libgomp's spinning default is up to 10× slower \
         on this loaded machine). `evals/example`: rows pushed through the model / \
         images (peers; a forward counts once), objective-and-gradient evaluations per problem \
         (ours: each one forward and one backward). `backward/example`: rows of gradients \
         pulled back through the model's output \
         (FAB pulls one back per class, DeepFool one per candidate class). `load`: 1-minute load \
         average when the run started (the machine is shared: 2 cores).\n\n\
         Reproduce: `{command}` (Python venvs made by \
         `bench/peers/setup.sh`).\n"
    );
    for (model, rows) in blocks {
        s += &format!(
            "\n## {model}\n\n\
             | attack | images (scored) | success | mean RMS | median RMS | ratio to exact | examples/s | evals/example | backward/example | load |\n\
             |---|---|---|---|---|---|---|---|---|---|\n"
        );
        for r in rows {
            let f = |k: &str| r.get(k).and_then(serde_json::Value::as_f64);
            let exact_row = r["attack"] == "exact";
            let ratio = if exact_row {
                Some(1.0)
            } else {
                r.get("exact")
                    .and_then(|e| e.get("attack_over_exact_mean_of_means"))
                    .and_then(serde_json::Value::as_f64)
            };
            s += &format!(
                "| {} | {} ({}) | {:.1}% | {} | {} | {} | {} | {} | {} | {} |\n",
                r["peer"].as_str().unwrap_or("?"),
                r["n"],
                r["n_scored"],
                100.0 * f("success_rate").unwrap_or(f64::NAN),
                opt(f("mean_rms"), 5),
                opt(f("median_rms"), 5),
                opt(ratio, 4),
                if exact_row {
                    "–".into()
                } else {
                    opt(f("examples_per_second"), 2)
                },
                opt(f("evaluations_per_example"), 0),
                opt(f("backward_per_example"), 0),
                opt(f("loadavg_1min_start"), 1),
            );
        }
    }
    s
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

/// Writes `json` (pretty, atomically) as `path` with the extension `json`, beside the table
/// `path`, and says where both are.
pub(crate) fn write_json_beside(path: &Path, json: &serde_json::Value) -> anyhow::Result<()> {
    let json_path = path.with_extension("json");
    blindspot_data::write_atomic(
        &json_path,
        (serde_json::to_string_pretty(json)? + "\n").as_bytes(),
    )
    .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!("wrote {} and {}", path.display(), json_path.display());
    Ok(())
}
