//! `blindspot train`: train one model and save its checkpoint.

use anyhow::Context;
use blindspot_data::Split;
use blindspot_models::{ModelRun, Scale, TrainConfig, checkpoint, fit_run, model_spec};
use clap::Args;

use crate::common::CommonArgs;
use crate::progress::TrainProgress;

/// Options of `blindspot train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The model (see `blindspot models`).
    #[arg(long)]
    pub model: String,
    /// Training split: train (60,000), p1 or p2 (the paper's halves, 30,000 each).
    #[arg(long, default_value = "train")]
    pub split: Split,
    /// Seed of initialization, dropout and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training recipe: smoke (tiny subset), default (full MNIST) or paper (longer).
    #[arg(long, default_value = "default")]
    pub scale: Scale,
    /// A JSON file with an architecture that replaces the catalogue's (same format as the
    /// `config` field of a model.json, e.g. `{"kind": "mlp", "input": 784, …}`), to train a variant.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Override the recipe's number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override the recipe's initial learning rate.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Override the recipe's optimizer.
    #[arg(long, value_parser = ["adam", "sgd", "lbfgs"])]
    pub optimizer: Option<String>,
    /// Override the recipe's minibatch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Override the recipe's pre-training epochs (autoencoder).
    #[arg(long)]
    pub pretrain_epochs: Option<usize>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl TrainArgs {
    /// Trains and saves the model.
    pub fn run(self) -> anyhow::Result<()> {
        let mut spec = model_spec(&self.model)?;
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            spec.architecture = serde_json::from_str(&text)
                .with_context(|| format!("parsing the architecture in {}", path.display()))?;
        }
        let run = ModelRun {
            spec,
            split: self.split,
        };
        let device = self.common.device()?;
        let mnist = self.common.mnist()?;
        let mut config = run.train_config(self.scale, self.seed);
        config.epochs = self.epochs.unwrap_or(config.epochs);
        config.learning_rate = self.learning_rate.unwrap_or(config.learning_rate);
        if let Some(o) = &self.optimizer {
            config.optimizer = serde_json::from_value(serde_json::json!(o))?;
        }
        config.batch_size = self.batch_size.unwrap_or(config.batch_size);
        config.pretrain_epochs = self.pretrain_epochs.unwrap_or(config.pretrain_epochs);
        let dir = self.common.model_dir(&run.id());
        let result = train_and_save(
            &run,
            &mnist,
            self.scale,
            &config,
            &device,
            &self.common,
            &dir,
        )?;
        println!(
            "{}: train error {:.2}%, test error {:.2}% ({:.0} s) -> {}",
            result.name,
            100.0 * result.train_error,
            100.0 * result.test_error,
            result.train_seconds,
            self.common.model_dir(&run.id()).display()
        );
        Ok(())
    }
}

/// Trains `run` and writes its checkpoint; returns the metadata.
pub fn train_and_save(
    run: &ModelRun,
    mnist: &blindspot_data::Mnist,
    scale: Scale,
    config: &TrainConfig,
    device: &burn::tensor::Device,
    common: &CommonArgs,
    dir: &std::path::Path,
) -> anyhow::Result<checkpoint::ModelMeta> {
    let mut progress = TrainProgress::new(run.id());
    let (model, meta, _) = fit_run(
        run,
        mnist,
        scale,
        config,
        device,
        common.backend.name(),
        &mut progress,
    )
    .with_context(|| format!("training {}", run.id()))?;
    drop(progress);
    checkpoint::save(&model, &meta, dir).with_context(|| format!("saving {}", dir.display()))?;
    Ok(meta)
}
