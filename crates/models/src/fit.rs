//! Training one [`ModelRun`] end to end: the split at the chosen scale, the recipe, the
//! autoencoder's pre-training where needed, and the metadata of its checkpoint.

use blindspot_data::{Dataset, Mnist, Split, dataset_sha256, files::sha256_hex};
use burn::prelude::*;

use crate::any::AnyModel;
use crate::checkpoint::ModelMeta;
use crate::error::Result;
use crate::spec::{ModelRun, Scale};
use crate::train::{
    TrainConfig, TrainObserver, TrainReport, pretrain_autoencoder, train_classifier,
};

/// The training and evaluation sets of a run at a scale.
pub fn run_data(run: &ModelRun, mnist: &Mnist, scale: Scale) -> Result<(Dataset, Dataset)> {
    let (train_len, test_len) = run_sizes(run, mnist, scale);
    let first = |split: Split, n: usize| {
        let set = mnist.split(split);
        if n < set.len() {
            set.head(n, split)
        } else {
            Ok(set)
        }
    };
    Ok((first(run.split, train_len)?, first(Split::Test, test_len)?))
}

/// The sizes of [`run_data`]'s training and evaluation sets, without copying them (what the
/// fingerprint needs).
pub fn run_sizes(run: &ModelRun, mnist: &Mnist, scale: Scale) -> (usize, usize) {
    let cap = |len: usize, subset: Option<usize>| subset.map_or(len, |n| n.min(len));
    (
        cap(mnist.split_len(run.split), scale.train_subset()),
        cap(mnist.split_len(Split::Test), scale.test_subset()),
    )
}

/// Version of the training code's fixed choices that no configuration records: the cosine
/// schedule's floor, the optimizers' momentum and epsilon, the L-BFGS history and line search,
/// the decay formula `λ Σw²/k`, the initializations, the autoencoder's pre-training. It is
/// hashed into every [`ModelRun::fingerprint`], so raising it when one of them changes makes
/// every saved checkpoint stale and `reproduce` retrains instead of reusing models of the old
/// code. (Unversioned checkpoints, from before it existed, count as version 1.)
pub const RECIPE_VERSION: u32 = 2;

impl ModelRun {
    /// A digest of everything that determines the trained model: architecture, recipe, split,
    /// sizes, data and [`RECIPE_VERSION`]. Pipelines skip a run whose checkpoint carries the
    /// same fingerprint.
    pub fn fingerprint(
        &self,
        config: &TrainConfig,
        train_examples: usize,
        test_examples: usize,
    ) -> String {
        self.fingerprint_of_version(config, train_examples, test_examples, RECIPE_VERSION)
    }

    /// [`Self::fingerprint`] as training code of recipe version `version` would compute it.
    pub fn fingerprint_of_version(
        &self,
        config: &TrainConfig,
        train_examples: usize,
        test_examples: usize,
        version: u32,
    ) -> String {
        let key = serde_json::json!({
            "architecture": self.spec.architecture,
            "train_config": config,
            "split": self.split.name(),
            "train_examples": train_examples,
            "test_examples": test_examples,
            "data": dataset_sha256(),
            "recipe_version": version,
        });
        sha256_hex(key.to_string().as_bytes())
    }
}

/// Trains `run` on `mnist` at `scale` with the recipe `config` (usually
/// [`ModelRun::train_config`]) on `device` (autodiff is enabled here).
///
/// Returns the model (on the autodiff device), the metadata of its checkpoint and the report.
pub fn fit_run(
    run: &ModelRun,
    mnist: &Mnist,
    scale: Scale,
    config: &TrainConfig,
    device: &Device,
    backend: &str,
    observer: &mut dyn TrainObserver,
) -> Result<(AnyModel, ModelMeta, TrainReport)> {
    let started = std::time::Instant::now();
    let (train, test) = run_data(run, mnist, scale)?;
    let seed = config.seed;
    let device = device.clone().autodiff();
    device.seed(seed);
    let mut pretrain = Vec::new();
    let model = match run.spec.architecture.init(&device)? {
        AnyModel::Autoencoder(ae) => {
            let (ae, reports) = pretrain_autoencoder(ae, &train, config, observer)?;
            pretrain = reports;
            AnyModel::Autoencoder(ae)
        }
        other => other,
    };
    let (model, mut report) = train_classifier(model, &train, &test, config, observer)?;
    pretrain.append(&mut report.epochs);
    report.epochs = pretrain;
    report.seconds = started.elapsed().as_secs_f64();
    let meta = ModelMeta {
        name: run.id(),
        model: run.spec.name.to_owned(),
        split: run.split.name().to_owned(),
        config: serde_json::to_value(&run.spec.architecture).unwrap_or_default(),
        train_config: serde_json::to_value(config).unwrap_or_default(),
        seed,
        data_sha256: dataset_sha256(),
        train_examples: train.len(),
        train_error: report.train_error,
        test_error: report.test_error,
        train_seconds: report.seconds,
        backend: backend.to_owned(),
        fingerprint: run.fingerprint(config, train.len(), test.len()),
    };
    Ok((model, meta, report))
}
