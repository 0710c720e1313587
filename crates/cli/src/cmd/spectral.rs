//! `blindspot spectral`: section 4.3, Table 5 — frame bounds of every linear layer, and the
//! per-example certified L2 radius `margin/(√2·L)` beside the attack's distortion.
//!
//! - `--alexnet [--weights FILE]`: AlexNet's eight layers from the initialisation (labelled as
//!   such) or from a torchvision-named safetensors checkpoint, in torchvision's layout or the
//!   paper's (see `blindspot_models::alexnet` for converting a `torch.save` file).
//! - `--model ID | --model-file DIR`: one MNIST model's layers, its Lipschitz bound and, when
//!   `<out>/attacks/<ID>/<attack>/adversarial.safetensors` exists, the certificate sandwich.
//!
//! Files: `<out>/tables/spectral-layers.csv`, `spectral-certificates.csv`, `spectral.json`
//! (the [`SpectralResults`]), and per example `<out>/tables/spectral-<model>-examples.csv`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use blindspot_data::write_atomic;
use blindspot_models::alexnet::{AlexNetConfig, load_torchvision};
use blindspot_models::{Classifier, checkpoint};
use blindspot_report::{
    CertificateRow, PaperTables, SpectralLayerRow, SpectralResults, render_spectral_section,
};
use blindspot_spectral::alexnet::alexnet_chain;
use blindspot_spectral::{
    BOUNDS_VERSION, HostLayer, LayerBound, LayerChain, bound_product, certify_with,
};
use burn::prelude::*;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::CommonArgs;

/// Options of `blindspot spectral`.
#[derive(Args, Debug)]
pub struct SpectralArgs {
    /// Run id under `<out>/models/` (e.g. `conv`, `n100-100-10`).
    #[arg(long, conflicts_with_all = ["model_file", "alexnet"], required_unless_present_any = ["model_file", "alexnet"])]
    pub model: Option<String>,
    /// A model directory (holding model.safetensors and model.json).
    #[arg(long, alias = "model-dir", conflicts_with = "alexnet")]
    pub model_file: Option<PathBuf>,
    /// AlexNet's Table 5 instead of an MNIST model.
    #[arg(long)]
    pub alexnet: bool,
    /// AlexNet weights: a safetensors file with torchvision's names (`features.0.weight`, …,
    /// `classifier.6.bias`), any widths; default: the paper's layout, initialised.
    #[arg(long, requires = "alexnet")]
    pub weights: Option<PathBuf>,
    /// Attack run under `<out>/attacks/<model>/` to compare the certificate against.
    #[arg(long, default_value = "train-untargeted")]
    pub attack: String,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

impl SpectralArgs {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        let start = Instant::now();
        let device = self.common.device()?;
        let mut results = SpectralResults::default();
        if self.alexnet {
            let (origin, rows) =
                alexnet_rows(&AlexNetConfig::new(), self.weights.as_deref(), &device)?;
            results.alexnet_origin = origin;
            results.alexnet = rows;
        } else {
            let (id, dir) = match (&self.model, &self.model_file) {
                (_, Some(d)) => (
                    d.file_name()
                        .map_or("model".into(), |n| n.to_string_lossy().into_owned()),
                    d.clone(),
                ),
                (Some(id), None) => (id.clone(), self.common.model_dir(id)),
                (None, None) => anyhow::bail!("give --model, --model-file or --alexnet"),
            };
            let (rows, cert) = mnist_model(&id, &dir, &self.common.out, &self.attack, &device)?;
            results.mnist = rows;
            results.certificates.extend(cert);
        }
        results.seconds = start.elapsed().as_secs_f64();
        let paper = PaperTables::load().context("parsing the paper's tables")?;
        println!("{}", render_spectral_section(&results, &paper));
        write_tables(&self.common.out, &results)?;
        Ok(())
    }
}

/// The `reproduce` stage: AlexNet (from `alexnet_weights`, or the initialization of `alexnet`)
/// and every MNIST model of `models` found under `<out>/models/`, with the certificate against
/// `<out>/attacks/<model>/train-untargeted` where it exists. Writes
/// `<out>/tables/spectral-layers.csv`, `spectral-certificates.csv` and `spectral.json`, and
/// returns what [`render_spectral_section`] needs. AlexNet's dense layers take minutes (the
/// eigenvalues of a 4096×4096 Gram matrix), so its rows are kept in
/// `<out>/spectral/alexnet.json` and reused while the weights and configuration are unchanged.
pub fn spectral_stage(
    common: &CommonArgs,
    models: &[&str],
    alexnet: &AlexNetConfig,
    alexnet_weights: Option<&Path>,
) -> anyhow::Result<SpectralResults> {
    let start = Instant::now();
    let device = common.device()?;
    let mut results = SpectralResults::default();
    let mut sources = Vec::new();
    let (origin, rows) = cached_alexnet_rows(&common.out, alexnet, alexnet_weights, &device)?;
    results.alexnet_origin = origin;
    results.alexnet = rows;
    for id in models {
        let dir = common.model_dir(id);
        if !dir.join("model.json").exists() {
            eprintln!("spectral: skipping {id} (no model at {})", dir.display());
            continue;
        }
        let (rows, cert) = mnist_model(id, &dir, &common.out, ATTACK, &device)?;
        let mut inputs = vec![common.model_source(id)?];
        if cert.is_some() {
            let attack = common.out.join("attacks").join(id).join(ATTACK);
            inputs.push(common.attack_source(&attack)?);
            let examples = examples_table(&common.out, id);
            common.record(&[examples], &inputs)?;
        }
        sources.extend(inputs);
        results.mnist.extend(rows);
        results.certificates.extend(cert);
    }
    results.seconds = start.elapsed().as_secs_f64();
    let files = write_tables(&common.out, &results)?;
    common.record(&files, &sources)?;
    Ok(results)
}

/// The attack whose distortions the certified radii are compared with.
const ATTACK: &str = "train-untargeted";

/// `<out>/tables/spectral-<id>-examples.csv`: each example's certified radius beside its
/// attack's distortion.
fn examples_table(out: &Path, id: &str) -> std::path::PathBuf {
    out.join("tables")
        .join(format!("spectral-{id}-examples.csv"))
}

/// AlexNet's rows as saved by an earlier run with the same key.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedAlexNet {
    key: String,
    origin: String,
    rows: Vec<SpectralLayerRow>,
}

fn cached_alexnet_rows(
    out: &Path,
    config: &AlexNetConfig,
    weights: Option<&Path>,
    device: &Device,
) -> anyhow::Result<(String, Vec<SpectralLayerRow>)> {
    // The bounds' version is part of the key: rows from an older computation are not reused.
    let key = match weights {
        Some(path) => {
            let meta = std::fs::metadata(path)
                .with_context(|| format!("reading AlexNet weights {}", path.display()))?;
            format!(
                "bounds v{BOUNDS_VERSION}, weights {} ({} bytes, modified {:?})",
                path.display(),
                meta.len(),
                meta.modified().ok()
            )
        }
        None => {
            format!("bounds v{BOUNDS_VERSION}, initialization seed {ALEXNET_INIT_SEED} {config:?}")
        }
    };
    let file = out.join("spectral").join("alexnet.json");
    if let Some(hit) = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<CachedAlexNet>(&b).ok())
        .filter(|c| c.key == key)
    {
        eprintln!("spectral: AlexNet up to date ({})", file.display());
        return Ok((hit.origin, hit.rows));
    }
    let (origin, rows) = alexnet_rows(config, weights, device)?;
    std::fs::create_dir_all(out.join("spectral"))?;
    let cached = CachedAlexNet {
        key,
        origin: origin.clone(),
        rows: rows.clone(),
    };
    write_atomic(&file, &serde_json::to_vec_pretty(&cached)?)
        .with_context(|| format!("writing {}", file.display()))?;
    Ok((origin, rows))
}

fn bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>22} {bar:30} {pos}/{len} frequencies [{elapsed_precise}<{eta_precise}]",
        )
        .expect("valid template"),
    );
    bar.set_prefix(label.to_string());
    bar
}

fn bound_layers(network: &str, layers: &[HostLayer]) -> anyhow::Result<Vec<LayerBound>> {
    layers
        .iter()
        .map(|l| {
            let pb = bar(&format!("{network} {}", l.name));
            let b = l
                .bound(&|done, total| {
                    pb.set_length(total as u64);
                    pb.set_position(done as u64);
                })
                .with_context(|| format!("frame bounds of {network} {}", l.name))?;
            pb.finish_and_clear();
            eprintln!(
                "{network} {}: lower {:.4e}, upper {:.4}",
                l.name, b.bounds.lower, b.bounds.upper
            );
            Ok(b)
        })
        .collect()
}

fn row(network: &str, b: &LayerBound) -> SpectralLayerRow {
    let (grid, stride) = b.kind.conv_grid().unzip();
    SpectralLayerRow {
        network: network.into(),
        layer: b.name.clone(),
        size: b.size.clone(),
        grid,
        stride,
        lower: b.bounds.lower,
        upper: b.bounds.upper,
        after: b.after,
    }
}

/// The seed of AlexNet's initialization when no weights are given.
const ALEXNET_INIT_SEED: u64 = 0;

fn alexnet_rows(
    config: &AlexNetConfig,
    weights: Option<&Path>,
    device: &Device,
) -> anyhow::Result<(String, Vec<SpectralLayerRow>)> {
    let (origin, layers) = match weights {
        Some(path) => {
            let (config, net) = load_torchvision(path, device)
                .with_context(|| format!("reading AlexNet weights {}", path.display()))?;
            (
                format!(
                    "{} ({} layout, filters {:?}, {} × {} input)",
                    path.display(),
                    config.layout,
                    config.filters,
                    config.input_side,
                    config.input_side
                ),
                alexnet_chain(&net, config.input_side)?,
            )
        }
        None => {
            // Seeded, so that a rerun (a resumed `reproduce`) gives the same Table 5.
            device.seed(ALEXNET_INIT_SEED);
            let net = config.init(device).context("building AlexNet")?;
            let widths = if config.hidden == AlexNetConfig::new().hidden {
                String::new()
            } else {
                format!(", dense widths reduced to {:?}", config.hidden)
            };
            (
                format!(
                    "initialization (Burn's default Kaiming-uniform init, seed {ALEXNET_INIT_SEED}, not trained{widths})"
                ),
                alexnet_chain(&net, config.input_side)?,
            )
        }
    };
    let bounds = bound_layers("alexnet", &layers)?;
    Ok((origin, bounds.iter().map(|b| row("alexnet", b)).collect()))
}

/// Layers, bounds and (if the attack's files exist) the certificate of one MNIST model.
fn mnist_model(
    id: &str,
    dir: &Path,
    out: &Path,
    attack: &str,
    device: &Device,
) -> anyhow::Result<(Vec<SpectralLayerRow>, Option<CertificateRow>)> {
    let (model, _) = checkpoint::load(dir, device)
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    let layers = model.layer_chain()?;
    let bounds = bound_layers(id, &layers)?;
    let l = bound_product(&bounds);
    eprintln!("{id}: Lipschitz bound of the logits L = {l:.4}");
    let rows = bounds.iter().map(|b| row(id, b)).collect();
    let attack_dir = out.join("attacks").join(id).join(attack);
    if !attack_dir.join("adversarial.safetensors").exists() {
        eprintln!(
            "{id}: no attack at {}, no certificate comparison",
            attack_dir.display()
        );
        return Ok((rows, None));
    }
    // The certificates are compared with this checkpoint's attack, not an older model's.
    let (summary, t) = blindspot_attack::files::load(&attack_dir)
        .with_context(|| format!("reading {}", attack_dir.display()))?;
    let made_on = summary.weights_sha256;
    let weights = checkpoint::weights_sha256(dir)?;
    let (split, goal) = attack.split_once('-').unwrap_or(("train", attack));
    anyhow::ensure!(
        made_on.as_deref() == Some(weights.as_str()),
        "{}: the attack was made on other weights than {} holds now (or does not say which); \
         rerun it: `blindspot attack --model {id} --split {split} --goal {}` (or `blindspot \
         reproduce`)",
        attack_dir.display(),
        dir.display(),
        goal.replacen("target-", "target:", 1)
    );
    let get = |name: &str| {
        t.get(name)
            .with_context(|| format!("{}: no tensor {name}", attack_dir.display()))
    };
    let (x, label, l2, success) = (get("x")?, get("label")?, get("l2")?, get("success")?);
    let n = label.values.len();
    let dim = model.input_len();
    let misclassified = t.get("misclassified").map(|m| m.values.clone());
    anyhow::ensure!(
        x.values.len() == n * dim
            && l2.values.len() == n
            && success.values.len() == n
            && misclassified.as_ref().is_none_or(|m| m.len() == n),
        "{}: inconsistent tensor shapes",
        attack_dir.display()
    );
    let xs = Tensor::<2>::from_data(TensorData::new(x.values.clone(), [n, dim]), device);
    let certs = certify_with(&model, xs, l)?;
    let mut csv = String::from("index,label,predicted,margin,certified_l2,attack_l2,ratio\n");
    let (mut cert_sum, mut attack_sum, mut ratio_sum, mut max_ratio) = (0.0, 0.0, 0.0, 0.0f64);
    let (mut count, mut violations) = (0usize, 0usize);
    for (i, c) in certs.iter().enumerate() {
        let ok = success.values[i] > 0.5
            && misclassified.as_ref().is_none_or(|m| m[i] < 0.5)
            && c.predicted == label.values[i] as usize
            && l2.values[i] > 0.0;
        if !ok {
            continue;
        }
        let a = f64::from(l2.values[i]);
        let ratio = c.radius / a;
        count += 1;
        cert_sum += c.radius;
        attack_sum += a;
        ratio_sum += ratio;
        max_ratio = max_ratio.max(ratio);
        if c.radius > a {
            violations += 1;
        }
        let _ = writeln!(
            csv,
            "{i},{},{},{},{},{a},{ratio}",
            label.values[i], c.predicted, c.margin, c.radius
        );
    }
    let tables = out.join("tables");
    std::fs::create_dir_all(&tables)?;
    write_atomic(&examples_table(out, id), csv.as_bytes())?;
    let denom = count.max(1) as f64;
    let cert = CertificateRow {
        model: id.into(),
        lipschitz: l,
        examples: count,
        certified_mean: cert_sum / denom,
        attack_mean: attack_sum / denom,
        mean_ratio: ratio_sum / denom,
        max_ratio,
        violations,
    };
    eprintln!(
        "{id}: {count} examples, mean certified {:.4} ≤ mean attack {:.4}, mean ratio {:.3e}, violations {violations}",
        cert.certified_mean, cert.attack_mean, cert.mean_ratio
    );
    Ok((rows, Some(cert)))
}

/// Writes Table 5's layers, the certificates and `spectral.json`; returns the files.
fn write_tables(out: &Path, r: &SpectralResults) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let tables = out.join("tables");
    std::fs::create_dir_all(&tables).with_context(|| format!("creating {}", tables.display()))?;
    let mut layers = String::from("network,layer,size,grid,stride,lower,upper,after\n");
    for row in r.alexnet.iter().chain(&r.mnist) {
        let _ = writeln!(
            layers,
            "{},{},{},{},{},{},{},{}",
            row.network,
            row.layer,
            row.size,
            row.grid.map_or(String::new(), |g| g.to_string()),
            row.stride.map_or(String::new(), |s| s.to_string()),
            row.lower,
            row.upper,
            row.after
        );
    }
    write_atomic(&tables.join("spectral-layers.csv"), layers.as_bytes())?;
    let mut certs = String::from(
        "model,lipschitz,examples,certified_mean,attack_mean,mean_ratio,max_ratio,violations\n",
    );
    for c in &r.certificates {
        let _ = writeln!(
            certs,
            "{},{},{},{},{},{},{},{}",
            c.model,
            c.lipschitz,
            c.examples,
            c.certified_mean,
            c.attack_mean,
            c.mean_ratio,
            c.max_ratio,
            c.violations
        );
    }
    write_atomic(&tables.join("spectral-certificates.csv"), certs.as_bytes())?;
    write_atomic(
        &tables.join("spectral.json"),
        &serde_json::to_vec_pretty(r)?,
    )?;
    Ok([
        "spectral-layers.csv",
        "spectral-certificates.csv",
        "spectral.json",
    ]
    .map(|name| tables.join(name))
    .to_vec())
}
