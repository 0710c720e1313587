//! [`fit_method`]: a catalogue run (e.g. `n100-100-10` on the training set) trained with a
//! [`Method`], with the checkpoint metadata every saved model carries.

use blindspot_data::{Mnist, dataset_sha256};
use blindspot_models::checkpoint::ModelMeta;
use blindspot_models::mlp::Mlp;
use blindspot_models::{
    AnyModel, ModelRun, Scale, TrainConfig, TrainObserver, run_data, run_sizes,
};
use burn::tensor::Device;

use crate::error::{AdvTrainError, Result};
use crate::method::Method;
use crate::train::{AdvTrainReport, train_mlp};

/// The run id of `run` trained with `method`: `<id>-<slug>` (`n100-100-10-adv-all`).
pub fn method_run_id(run: &ModelRun, method: &Method) -> String {
    format!("{}-{}", run.id(), method.slug())
}

/// The fingerprint of `run` trained with `method` and `config` at `scale` on `mnist`: the
/// run's own fingerprint plus the method's settings.
pub fn method_fingerprint(
    run: &ModelRun,
    mnist: &Mnist,
    scale: Scale,
    config: &TrainConfig,
    method: &Method,
) -> Result<String> {
    let (train, test) = run_sizes(run, mnist, scale);
    let method = serde_json::to_string(method)
        .map_err(|e| AdvTrainError::InvalidConfig(format!("method: {e}")))?;
    Ok(format!("{}+{method}", run.fingerprint(config, train, test)))
}

/// Trains `run` (an MLP of the catalogue) at `scale` with `method` on `device` (autodiff is
/// enabled here) and returns the model, its checkpoint metadata and the report.
#[allow(clippy::too_many_arguments)]
pub fn fit_method(
    run: &ModelRun,
    mnist: &Mnist,
    scale: Scale,
    config: &TrainConfig,
    method: &Method,
    device: &Device,
    backend: &str,
    observer: &mut dyn TrainObserver,
) -> Result<(Mlp, ModelMeta, AdvTrainReport)> {
    let (train, test) = run_data(run, mnist, scale)?;
    let device = device.clone().autodiff();
    device.seed(config.seed);
    let AnyModel::Mlp(model) = run.spec.architecture.init(&device)? else {
        return Err(AdvTrainError::InvalidConfig(format!(
            "{} is not a fully connected network; adversarial training and the dropout baseline are built for MLPs",
            run.spec.name
        )));
    };
    let (model, report) = train_mlp(model, &train, &test, method, config, observer)?;
    let meta = ModelMeta {
        name: method_run_id(run, method),
        model: run.spec.name.to_owned(),
        split: run.split.name().to_owned(),
        config: serde_json::to_value(&run.spec.architecture).unwrap_or_default(),
        train_config: serde_json::json!({ "train": config, "method": method }),
        seed: config.seed,
        data_sha256: dataset_sha256(),
        train_examples: train.len(),
        train_error: report.train.train_error,
        test_error: report.train.test_error,
        train_seconds: report.train.seconds,
        backend: backend.to_owned(),
        fingerprint: method_fingerprint(run, mnist, scale, config, method)?,
    };
    Ok((model, meta, report))
}
