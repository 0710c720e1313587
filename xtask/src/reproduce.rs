//! `cargo xtask reproduce`: run the `blindspot` CLI through cargo with the backend's feature.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::download::DownloadArgs;
use crate::project_root;

/// The backends, each a cargo feature of `blindspot-cli`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Pure-Rust CPU (default feature).
    Flex,
    /// NdArray CPU (default feature).
    Ndarray,
    /// GPU through wgpu (feature `wgpu`).
    Wgpu,
    /// NVIDIA GPU through CUDA (feature `cuda`).
    Cuda,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Extra cargo arguments: CPU backends are default features, GPU ones are added.
    fn cargo_features(self) -> Vec<String> {
        match self {
            Backend::Flex | Backend::Ndarray => vec![],
            gpu => vec!["--features".into(), gpu.name().into()],
        }
    }
}

/// Builds the CLI with cargo's own progress (a first build compiles Burn: minutes, with
/// nothing else to show), then runs `cargo run --release -p blindspot-cli [features] --
/// <args>` in the workspace root.
pub fn run_cli(backend: Backend, args: &[String]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!(
        "building the blindspot CLI (release{}): the first build compiles Burn and its \
         backends, about 11 minutes on 2 cores; later builds take seconds",
        backend
            .cargo_features()
            .last()
            .map_or(String::new(), |f| format!(", feature {f}"))
    );
    let built = Command::new(&cargo)
        .current_dir(project_root())
        .args(["build", "--release", "-p", "blindspot-cli"])
        .args(backend.cargo_features())
        .status()
        .with_context(|| format!("running {cargo}"))?;
    anyhow::ensure!(
        built.success(),
        "building the blindspot CLI failed ({built})"
    );
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(project_root())
        .args(["run", "--release", "--quiet", "-p", "blindspot-cli"])
        .args(backend.cargo_features())
        .arg("--")
        .args(args);
    eprintln!(
        "$ {cargo} run --release -p blindspot-cli {} -- {}",
        backend.cargo_features().join(" "),
        args.join(" ")
    );
    let status = cmd.status().with_context(|| format!("running {cargo}"))?;
    anyhow::ensure!(
        status.success(),
        "blindspot {} failed ({status})",
        args.first().map_or("", String::as_str)
    );
    Ok(())
}

/// Options of `cargo xtask reproduce`.
#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// Compute backend; GPU backends are built with their cargo feature.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
    /// smoke (minutes, subsets), default (full MNIST on CPU) or paper (longer).
    #[arg(long, default_value = "default", value_parser = ["smoke", "default", "paper"])]
    pub scale: String,
    /// Output directory.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Seed of every model.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seeds of the models of Tables 2–4 (default: 1, or 3 at paper scale).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Seeds of every method of the adversarial-training comparison (default: 1, or 3 at paper
    /// scale).
    #[arg(long)]
    pub adversarial_seeds: Option<usize>,
    /// Trainings run at once, each in its own process (default: one per core on a CPU backend,
    /// at most 4; 1 on a GPU).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// AlexNet weights for Table 5 (safetensors with torchvision's names); default: the
    /// initialization.
    #[arg(long)]
    pub alexnet_weights: Option<PathBuf>,
    /// Run in an output directory that holds another scale's results (they are replaced).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub data: DownloadArgs,
}

impl ReproduceArgs {
    /// Fetches the data, then runs `blindspot reproduce`.
    pub fn run(self) -> anyhow::Result<()> {
        self.data.run()?;
        let mut args = vec![
            "reproduce".to_owned(),
            "--scale".into(),
            self.scale.clone(),
            "--backend".into(),
            self.backend.name().into(),
            "--seed".into(),
            self.seed.to_string(),
            "--out".into(),
            absolute(&self.out)?.display().to_string(),
        ];
        if let Some(k) = self.seeds {
            args.extend(["--seeds".into(), k.to_string()]);
        }
        if let Some(k) = self.adversarial_seeds {
            args.extend(["--adversarial-seeds".into(), k.to_string()]);
        }
        if let Some(n) = self.jobs {
            args.extend(["--jobs".into(), n.to_string()]);
        }
        if self.force {
            args.push("--force".into());
        }
        if let Some(w) = &self.alexnet_weights {
            args.extend([
                "--alexnet-weights".into(),
                absolute(w)?.display().to_string(),
            ]);
        }
        if let Some(dir) = &self.data.data_dir {
            args.extend(["--data-dir".into(), absolute(dir)?.display().to_string()]);
        }
        run_cli(self.backend, &args)
    }
}

/// `path` made absolute against the current directory (the CLI runs in the workspace root).
pub fn absolute(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}
