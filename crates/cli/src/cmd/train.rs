//! `blindspot train`: train one model and save its checkpoint.

use anyhow::Context;
use blindspot_advtrain::{AscentConfig, Method, PoolConfig, fit_method, method_run_id};
use blindspot_data::Split;
use blindspot_models::{AnyModel, ModelRun, Scale, TrainConfig, checkpoint, fit_run, model_spec};
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
    /// Adversarial training (section 4.2) with a pool of L-BFGS adversarial examples of the
    /// input, of every hidden layer's output, or both; MLPs only. Saved as `<id>-adv-<levels>`.
    #[arg(long, value_parser = ["input", "hidden", "all"], conflicts_with_all = ["dropout", "ascent"])]
    pub adversarial: Option<String>,
    /// Adversarial training with cheap examples of every minibatch: `fgsm` (Goodfellow et al.
    /// 2015: half the loss on x + ε·sign∇J, ε = 0.1) or `pgd` (Madry et al. 2018: the loss on
    /// 3-step PGD examples in the ε = 0.1 L∞ ball); MLPs only. Saved as `<id>-fgsm`/`<id>-pgd`.
    #[arg(long, value_parser = ["fgsm", "pgd"], conflicts_with = "dropout")]
    pub ascent: Option<String>,
    /// With `--ascent`: the L∞ radius of the examples.
    #[arg(long, requires = "ascent")]
    pub ascent_epsilon: Option<f64>,
    /// With `--ascent`: gradient-sign steps per minibatch (1 is FGSM).
    #[arg(long, requires = "ascent")]
    pub ascent_steps: Option<usize>,
    /// With `--ascent`: weight of the clean examples' loss (the examples get 1 − α).
    #[arg(long, requires = "ascent")]
    pub ascent_alpha: Option<f64>,
    /// The dropout baseline of section 4.2 (by default 10% of the pixels and 20% of the hidden
    /// units dropped in training); MLPs only. Saved as `<id>-dropout`.
    #[arg(long)]
    pub dropout: bool,
    /// With `--dropout`: drop probability of the input pixels.
    #[arg(long, default_value_t = 0.1, requires = "dropout")]
    pub dropout_input: f64,
    /// With `--dropout`: drop probability of the hidden units.
    #[arg(long, default_value_t = 0.2, requires = "dropout")]
    pub dropout_hidden: f64,
    #[command(flatten)]
    pub pool: PoolArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The pool of adversarial training (defaults: `blindspot_advtrain::PoolConfig::default()`).
#[derive(Args, Debug, Clone)]
pub struct PoolArgs {
    /// Adversarial examples kept per level.
    #[arg(long, default_value_t = PoolConfig::default().size)]
    pub pool_size: usize,
    /// Clean minibatch steps before the first examples are generated.
    #[arg(long, default_value_t = PoolConfig::default().warmup_steps)]
    pub pool_warmup: usize,
    /// Minibatch steps between two refreshes of the pool.
    #[arg(long, default_value_t = PoolConfig::default().refresh_every)]
    pub pool_refresh_every: usize,
    /// Fresh examples per level at each refresh.
    #[arg(long, default_value_t = PoolConfig::default().refresh)]
    pub pool_refresh: usize,
    /// Pool examples per clean example, per level, in every minibatch.
    #[arg(long, default_value_t = PoolConfig::default().mix)]
    pub pool_mix: f64,
    /// Weight of the pool examples' loss beside the clean examples' (weight 1).
    #[arg(long, default_value_t = PoolConfig::default().weight)]
    pub pool_weight: f64,
    /// Keep only pool examples with an RMS distortion (in the level's units) at most this.
    #[arg(long)]
    pub pool_max_distortion: Option<f64>,
}

impl PoolArgs {
    /// The pool configuration.
    pub fn config(&self) -> PoolConfig {
        PoolConfig {
            size: self.pool_size,
            warmup_steps: self.pool_warmup,
            refresh_every: self.pool_refresh_every,
            refresh: self.pool_refresh,
            mix: self.pool_mix,
            weight: self.pool_weight,
            max_distortion: self.pool_max_distortion,
            ..PoolConfig::default()
        }
    }
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
        let method = match (&self.adversarial, &self.ascent, self.dropout) {
            (Some(levels), _, _) => Some(Method::Adversarial {
                levels: levels.parse()?,
                pool: self.pool.config(),
            }),
            (None, Some(preset), _) => {
                let base = if preset == "fgsm" {
                    AscentConfig::fgsm()
                } else {
                    AscentConfig::pgd()
                };
                Some(Method::Ascent(AscentConfig {
                    epsilon: self.ascent_epsilon.unwrap_or(base.epsilon),
                    steps: self.ascent_steps.unwrap_or(base.steps),
                    alpha: self.ascent_alpha.unwrap_or(base.alpha),
                }))
            }
            (None, None, true) => Some(Method::Dropout {
                input: self.dropout_input,
                hidden: self.dropout_hidden,
            }),
            (None, None, false) => None,
        };
        if let Some(method) = method {
            let id = method_run_id(&run, &method);
            let dir = self.common.model_dir(&id);
            let meta = train_method_and_save(
                &run,
                &mnist,
                self.scale,
                &config,
                &method,
                &self.common,
                &dir,
            )?;
            println!(
                "{id}: train error {:.2}%, test error {:.2}% ({:.0} s) -> {}",
                100.0 * meta.train_error,
                100.0 * meta.test_error,
                meta.train_seconds,
                dir.display()
            );
            return Ok(());
        }
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

/// Trains `run` with `method` (adversarial training or a baseline) and writes its checkpoint
/// and `training.json` (the method's report: pool statistics, generation time); returns the
/// metadata.
pub fn train_method_and_save(
    run: &ModelRun,
    mnist: &blindspot_data::Mnist,
    scale: Scale,
    config: &TrainConfig,
    method: &Method,
    common: &CommonArgs,
    dir: &std::path::Path,
) -> anyhow::Result<checkpoint::ModelMeta> {
    let device = common.device()?;
    let id = method_run_id(run, method);
    let mut progress = TrainProgress::new(id.clone());
    let (model, meta, report) = fit_method(
        run,
        mnist,
        scale,
        config,
        &method.with_attack_workers(common.workers()),
        &device,
        common.backend.name(),
        &mut progress,
    )
    .with_context(|| format!("training {id}"))?;
    drop(progress);
    checkpoint::save(&AnyModel::Mlp(model), &meta, dir)
        .with_context(|| format!("saving {}", dir.display()))?;
    // Written after the checkpoint and naming its weights: a kill in between leaves a
    // report that `load_training_report` refuses (and the job is then trained again).
    let mut json = serde_json::to_value(&report)?;
    if let serde_json::Value::Object(fields) = &mut json {
        fields.insert(
            "weights_sha256".into(),
            checkpoint::weights_sha256(dir)?.into(),
        );
    }
    let path = dir.join(TRAINING_FILE);
    blindspot_data::write_atomic(&path, &serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(meta)
}

/// The method's report beside a checkpoint trained with a method.
pub const TRAINING_FILE: &str = "training.json";

/// The report in `dir/training.json`, checked to be the one written with the weights
/// `dir/model.safetensors` holds now: a missing report, one of other weights or of an earlier
/// version (which does not say) is an error, never a report of zeros.
pub fn load_training_report(dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let path = dir.join(TRAINING_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let report: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    let weights = checkpoint::weights_sha256(dir)?;
    anyhow::ensure!(
        report["weights_sha256"].as_str() == Some(weights.as_str()),
        "{}: written for other weights than {} holds (an interrupted training): train it again",
        path.display(),
        checkpoint::WEIGHTS_FILE
    );
    Ok(report)
}
