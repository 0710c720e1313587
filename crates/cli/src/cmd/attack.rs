//! `blindspot attack`: adversarial examples for a saved model by box-constrained L-BFGS.

use std::path::{Path, PathBuf};

use anyhow::Context;
use blindspot_attack::files::{self, AttackSummary};
use blindspot_attack::{AttackConfig, Goal, LbfgsAttack};
use blindspot_data::{Dataset, Split};
use blindspot_models::{checkpoint, to_inputs};
use burn::module::Module;
use clap::Args;

use crate::common::{CommonArgs, ModelArgs};
use crate::progress::AttackProgress;

/// Options of `blindspot attack`.
#[derive(Args, Debug)]
pub struct AttackArgs {
    #[command(flatten)]
    pub which: ModelArgs,
    /// Images to attack: the first `n` of this split.
    #[arg(long, default_value = "test")]
    pub split: Split,
    /// Number of images.
    #[arg(long, default_value_t = 100)]
    pub n: usize,
    /// `untargeted`, `random` (a seeded wrong label), `all` (every wrong label) or `target:K`.
    #[arg(long, default_value = "untargeted")]
    pub goal: Goal,
    /// Seed of the random targets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Solver runs per image in the search over c.
    #[arg(long, default_value_t = AttackConfig::default().search_steps)]
    pub search_steps: usize,
    /// Untargeted: rival classes tried per image.
    #[arg(long, default_value_t = AttackConfig::default().candidates)]
    pub candidates: usize,
    /// First c of every image's search.
    #[arg(long, default_value_t = AttackConfig::default().initial_c)]
    pub initial_c: f64,
    /// Bracketing factor of the search over c.
    #[arg(long, default_value_t = AttackConfig::default().c_factor)]
    pub c_factor: f64,
    /// L-BFGS iterations per solver run at most.
    #[arg(long, default_value_t = AttackConfig::default().solver.max_iterations)]
    pub max_iterations: usize,
    /// Curvature pairs the L-BFGS solver keeps per problem.
    #[arg(long, default_value_t = AttackConfig::default().solver.memory)]
    pub memory: usize,
    /// A solver run stops when an iteration lowers the objective by less than this fraction.
    #[arg(long, default_value_t = AttackConfig::default().solver.f_tolerance)]
    pub f_tolerance: f32,
    /// Problems per device batch.
    #[arg(long, default_value_t = AttackConfig::default().batch_size)]
    pub batch_size: usize,
    /// Output directory; default `<out>/attacks/<model>/<split>-<goal>`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl AttackArgs {
    /// Runs the attack and writes its files.
    pub fn run(self) -> anyhow::Result<()> {
        self.common.device()?; // an unavailable backend is the first thing to report
        let model_dir = self.which.dir(&self.common)?;
        let config = AttackConfig {
            goal: self.goal,
            seed: self.seed,
            search_steps: self.search_steps,
            candidates: self.candidates,
            c_factor: self.c_factor,
            initial_c: self.initial_c,
            batch_size: self.batch_size,
            solver: blindspot_attack::LbfgsbConfig {
                max_iterations: self.max_iterations,
                memory: self.memory,
                f_tolerance: self.f_tolerance,
                ..AttackConfig::default().solver
            },
            ..AttackConfig::default()
        };
        let mnist = self.common.mnist()?;
        let images = mnist.split(self.split).head(self.n, self.split)?;
        let name = model_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let out = self
            .dir
            .clone()
            .unwrap_or_else(|| attack_dir(&self.common.out, &name, self.split, self.goal));
        let summary =
            attack_saved_model(&model_dir, &images, self.split, &config, &self.common, &out)?;
        println!(
            "{} ({} {} images, {}): success {:.1}%, mean distortion {:.4}, median {:.4}, {:.1} images/s, {:.0} evaluations/problem -> {}",
            summary.model,
            summary.images,
            summary.split,
            summary.config.goal,
            100.0 * summary.success_rate,
            summary.mean_distortion,
            summary.median_distortion,
            summary.images_per_second,
            summary.evaluations_per_problem,
            out.display()
        );
        Ok(())
    }
}

/// `<out>/attacks/<model>/<split>-<goal>` (the goal's `:` becomes `-`).
pub fn attack_dir(out: &Path, model: &str, split: Split, goal: Goal) -> PathBuf {
    out.join("attacks")
        .join(model)
        .join(format!("{split}-{}", goal.to_string().replace(':', "-")))
}

/// Loads the model in `model_dir`, attacks `images` with a progress bar, writes
/// `adversarial.safetensors` and `summary.json` into `out`, and returns the summary.
pub fn attack_saved_model(
    model_dir: &Path,
    images: &Dataset,
    split: Split,
    config: &AttackConfig,
    common: &CommonArgs,
    out: &Path,
) -> anyhow::Result<AttackSummary> {
    let device = common.device()?;
    let weights = checkpoint::weights_sha256(model_dir)
        .with_context(|| format!("reading {}", model_dir.display()))?;
    let (model, meta) = checkpoint::load(model_dir, &device)
        .with_context(|| format!("loading {}", model_dir.display()))?;
    let model = model.valid();
    let (x, labels) = to_inputs(&model, images, &device)
        .with_context(|| format!("the images for {}", meta.name))?;
    let mut progress = AttackProgress::new(format!("{} {}", meta.name, config.goal));
    let result = LbfgsAttack::new(AttackConfig {
        workers: common.workers(),
        ..config.clone()
    })
    .run(&model, x, &labels, &mut progress)
    .with_context(|| format!("attacking {}", meta.name))?;
    drop(progress);
    let summary = AttackSummary {
        weights_sha256: Some(weights),
        ..AttackSummary::new(
            &result,
            config,
            &meta.name,
            split.name(),
            common.backend.name(),
        )
    };
    files::save(out, &images.images, &result, &summary)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(summary)
}

/// The summary of the attack in `<out>/attacks/<model>/<split>-<goal>` when it holds the same
/// configuration (up to batching: [`AttackConfig::same_attack`]) and image count, was made on
/// the weights the checkpoint `<out>/models/<model>` holds now (their SHA-256) and `model` is
/// otherwise runs the attack on `images` and writes it there. Returns the
/// summary, the directory, and `true` when it was up to date.
pub fn up_to_date_or_attack(
    model: &str,
    images: &Dataset,
    split: Split,
    config: &AttackConfig,
    common: &CommonArgs,
) -> anyhow::Result<(AttackSummary, PathBuf, bool)> {
    let dir = attack_dir(&common.out, model, split, config.goal);
    let model_dir = common.model_dir(model);
    let weights = match checkpoint::weights_sha256(&model_dir) {
        Ok(digest) => Some(digest),
        Err(e) if e.is_read_failure() => {
            return Err(e).context("reading the attacked model's weights");
        }
        Err(_) => None,
    };
    // A summary that is missing, unreadable as JSON or not written with the tensors beside
    // it means "attack again"; a file that is there but cannot be read is an error.
    let saved = match files::load_checked_summary(&dir) {
        Err(e) if e.is_read_failure() => {
            return Err(e).with_context(|| format!("reading the attack in {}", dir.display()));
        }
        saved => saved,
    };
    match saved {
        Ok(s)
            if s.format == files::FORMAT_VERSION
                && s.config.same_attack(config)
                && s.images == images.len()
                && weights.is_some()
                && s.weights_sha256 == weights =>
        {
            eprintln!(
                "attack {model} {}: up to date, skipped ({})",
                config.goal,
                dir.display()
            );
            Ok((s, dir, true))
        }
        _ => {
            let s = attack_saved_model(&model_dir, images, split, config, common, &dir)?;
            Ok((s, dir, false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use blindspot_data::splits::ImageShape;
    use blindspot_models::checkpoint::ModelMeta;
    use blindspot_models::model_spec;
    use burn::tensor::Device;

    /// Saves a softmax1 with fresh random weights under `<out>/models/softmax1`.
    fn save_random_softmax(out: &Path) {
        let spec = model_spec("softmax1").unwrap();
        let model = spec.architecture.init(&Device::flex()).unwrap();
        let meta = ModelMeta {
            name: "softmax1".into(),
            model: "softmax1".into(),
            split: "train".into(),
            config: serde_json::to_value(&spec.architecture).unwrap(),
            train_config: serde_json::Value::Null,
            seed: 0,
            data_sha256: String::new(),
            train_examples: 0,
            train_error: 0.0,
            test_error: 0.0,
            train_seconds: 0.0,
            backend: "flex".into(),
            fingerprint: String::new(),
        };
        checkpoint::save(&model, &meta, &out.join("models").join("softmax1")).unwrap();
    }

    #[test]
    fn an_attack_is_reused_only_while_the_checkpoint_holds_the_same_weights() {
        let out = tempfile::tempdir().unwrap();
        let common = CommonArgs {
            backend: Backend::Flex,
            out: out.path().to_owned(),
            data_dir: None,
            offline: true,
            workers: Some(1),
        };
        let pixels = (0..4 * 784).map(|i| (i % 13) as f32 / 13.0).collect();
        let images = Dataset::new(pixels, vec![0, 1, 2, 3], ImageShape::MNIST).unwrap();
        let config = AttackConfig::default();
        let attack =
            || up_to_date_or_attack("softmax1", &images, Split::Train, &config, &common).unwrap();
        save_random_softmax(out.path());
        let (first, _, reused) = attack();
        assert!(!reused);
        let digest = checkpoint::weights_sha256(&common.model_dir("softmax1")).unwrap();
        assert_eq!(first.weights_sha256.as_deref(), Some(digest.as_str()));
        assert!(attack().2, "same weights: the attack is reused");
        // Retrained elsewhere (another process, another command): new weights, same config.
        save_random_softmax(out.path());
        let (second, _, reused) = attack();
        assert!(!reused, "the old model's attack must not be reused");
        let digest = checkpoint::weights_sha256(&common.model_dir("softmax1")).unwrap();
        assert_eq!(second.weights_sha256.as_deref(), Some(digest.as_str()));
        assert!(attack().2);
    }
}
