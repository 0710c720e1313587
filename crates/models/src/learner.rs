//! Burn's `Learner` for the catalogue models (feature `learner`, on by default).
//!
//! - [`ImageBatcher`] turns [`ImageItem`]s (what a [`Dataset`] gives as a
//!   `burn_dataset::Dataset`) into an [`ImageBatch`], images `[B, C·H·W]` as
//!   [`Classifier::logits`](crate::Classifier::logits) takes them; [`data_loader`] builds a
//!   Burn data loader over a [`Dataset`].
//! - [`Mlp`], [`ConvNet`], [`Autoencoder`] (its classifier stage) and [`AnyModel`] implement
//!   burn-train's [`TrainStep`] (training-mode logits, dropout on) and [`InferenceStep`]
//!   (evaluation mode) with the paper's loss, mean cross-entropy plus `λ Σw²/k`, in a
//!   [`ClassificationOutput`], so Burn's loss and accuracy metrics apply.
//! - [`fit_with_learner`] runs `SupervisedTraining` with a [`TrainConfig`]: the same optimizer,
//!   batch size, epochs and cosine decay to 1% as [`train_classifier`]. With one minibatch per
//!   epoch the two give the same weights (to 1e-5, tested); with several they differ only by
//!   the shuffling.
//!
//! # Speed: the `Learner` is not slower; the project's loop stays the default anyway
//!
//! Measured with the ignored test `seconds_per_epoch_of_the_learner_and_of_the_projects_loop`
//! (`cargo test -p blindspot-models --release --test learner -- --ignored --nocapture`;
//! `BLINDSPOT_BENCH_MODEL=softmax1` for the second model): Flex backend, release build, 2 CPU
//! cores shared with other jobs (load about 2, the benchmark at `nice -15`); MNIST's P1 (30,000
//! images), evaluation on 1,000 test images after every epoch, Adam, batch 128, 3 epochs from
//! the same initial weights. Seconds per epoch, wall clock, everything included (for
//! [`train_classifier`] its final error on the training set; for the `Learner` its metrics,
//! metric logs and checkpoints); the median of 5 alternating runs after a warm-up run, in two
//! sessions a few minutes apart:
//!
//! | model       | [`train_classifier`] | [`fit_with_learner`] | Learner / project |
//! |-------------|----------------------|----------------------|-------------------|
//! | n100-100-10 | 0.726, 0.758         | 0.624, 0.726         | 0.86, 0.96        |
//! | softmax1    | 0.161, 0.145         | 0.127, 0.141         | 0.79, 0.98        |
//!
//! Both reached the same validation error (11.9% and 11.7%), and CPU time (all threads)
//! differed by at most 12% either way. So Burn's facility is as fast as the project's loop,
//! slightly faster in wall time (its metrics run on a second thread, which a 2-core machine has
//! free, while the project's loop counts each minibatch's errors on the training thread),
//! and speed is no reason to prefer either. [`train_classifier`] (through [`crate::fit_run`],
//! which the CLI calls) stays the default for what the `Learner` does not do: full-batch
//! L-BFGS, the paper's optimizer ([`Optimizer::Lbfgs`] is refused here); the autoencoder's
//! unsupervised pre-training stage; per-epoch reports to a
//! [`TrainObserver`](crate::TrainObserver). Switching would also change the shuffling of every
//! recipe, so [`crate::RECIPE_VERSION`] would have to rise and every saved model be retrained.
//!
//! ```no_run
//! use blindspot_models::learner::fit_with_learner;
//! use blindspot_models::{TrainConfig, error_rate, model_spec};
//! # fn demo(train: &blindspot_data::Dataset, test: &blindspot_data::Dataset) -> blindspot_models::Result<()> {
//! let device = burn::tensor::Device::flex().autodiff();
//! let model = model_spec("n100-100-10")?.architecture.init(&device)?;
//! let config = TrainConfig::new().with_epochs(2);
//! let model = fit_with_learner(model, train, test, &config, "/tmp/learner".as_ref())?;
//! println!("test error {:.2}%", 100.0 * error_rate(&model, test, &device.inner())?);
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;

use blindspot_data::{Dataset, ImageItem, ImageShape};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn_train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn_train::metric::{AccuracyMetric, LossMetric, MetricDefinition};
use burn_train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn_train::{
    ClassificationOutput, InferenceStep, Learner, LearnerModel, SupervisedTraining, TrainOutput,
    TrainStep,
};

use crate::any::AnyModel;
use crate::autoencoder::Autoencoder;
use crate::classifier::{Mode, Trainable};
use crate::conv::ConvNet;
use crate::error::{ModelError, Result};
use crate::mlp::Mlp;
#[cfg(doc)]
use crate::train::train_classifier;
use crate::train::{Optimizer, TrainConfig, cross_entropy};

/// A batch of labelled images on a device.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// The images, each flattened: `[batch, C·H·W]`.
    pub images: Tensor<2>,
    /// Their class indices, `[batch]`.
    pub labels: Tensor<1, Int>,
}

/// Batches [`ImageItem`]s of one shape into an [`ImageBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageBatcher {
    shape: ImageShape,
}

impl ImageBatcher {
    /// A batcher of images of `shape`.
    pub fn new(shape: ImageShape) -> Self {
        Self { shape }
    }

    /// The shape of every image it batches.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    /// # Panics
    /// If an item does not hold `shape.len()` pixel values. Items read from a [`Dataset`] (which
    /// [`data_loader`] batches) always do: it is validated when built, and
    /// [`Dataset::from_burn`] checks every item of a foreign Burn dataset.
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let width = self.shape.len();
        let n = items.len();
        let mut pixels = Vec::with_capacity(n * width);
        let mut labels = Vec::with_capacity(n);
        for (i, item) in items.into_iter().enumerate() {
            assert_eq!(
                item.pixels.len(),
                width,
                "item {i} of the batch has {} pixel values, an image of shape {} has {width}",
                item.pixels.len(),
                self.shape
            );
            pixels.extend(item.pixels);
            labels.push(i64::from(item.label));
        }
        ImageBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, width]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// A Burn data loader over `data` on `device`, in batches of `batch_size` (the last one
/// smaller), reshuffled every epoch with the seed `shuffle` if one is given, else in order.
///
/// # Errors
/// [`ModelError::InvalidConfig`] if `batch_size` is 0.
pub fn data_loader(
    data: impl Into<Arc<Dataset>>,
    batch_size: usize,
    shuffle: Option<u64>,
    device: &Device,
) -> Result<Arc<dyn DataLoader<ImageBatch>>> {
    if batch_size == 0 {
        return Err(ModelError::InvalidConfig(
            "a data loader needs a batch size > 0".into(),
        ));
    }
    let data: Arc<Dataset> = data.into();
    let mut builder = DataLoaderBuilder::new(ImageBatcher::new(data.shape))
        .batch_size(batch_size)
        .set_device(device.clone());
    if let Some(seed) = shuffle {
        builder = builder.shuffle(seed);
    }
    Ok(builder.build(data))
}

/// The paper's loss of a batch in `mode` (mean cross-entropy plus the model's weight decay),
/// with the logits and labels Burn's classification metrics read.
pub fn classification_output<M: Trainable>(
    model: &M,
    batch: ImageBatch,
    mode: Mode,
) -> ClassificationOutput {
    let logits = model.logits_mode(batch.images, mode);
    let loss = cross_entropy(logits.clone(), batch.labels.clone()) + model.weight_decay();
    ClassificationOutput::new(loss, logits, batch.labels)
}

/// burn-train's steps for a [`Trainable`] model: training mode with gradients, evaluation mode
/// for validation.
macro_rules! learner_steps {
    ($($model:ty),+ $(,)?) => {$(
        impl TrainStep for $model {
            type Input = ImageBatch;
            type Output = ClassificationOutput;

            fn step(&self, batch: ImageBatch) -> TrainOutput<ClassificationOutput> {
                let output = classification_output(self, batch, Mode::Train);
                let grads = output.loss.backward();
                TrainOutput::new(self, grads, output)
            }
        }

        impl InferenceStep for $model {
            type Input = ImageBatch;
            type Output = ClassificationOutput;

            fn step(&self, batch: ImageBatch) -> ClassificationOutput {
                classification_output(self, batch, Mode::Eval)
            }
        }
    )+};
}

learner_steps!(Mlp, ConvNet, Autoencoder, AnyModel);

/// The minibatch optimizer of a recipe, as [`train_classifier`] builds it.
fn optimizer(config: &TrainConfig) -> Result<ModuleOptimizer> {
    match config.optimizer {
        Optimizer::Adam => Ok(AdamConfig::new().with_epsilon(1e-8).init()),
        Optimizer::Sgd => Ok(SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_dampening(0.0)
                    .with_nesterov(true),
            ))
            .init()),
        Optimizer::Lbfgs => Err(ModelError::InvalidConfig(
            "Burn's Learner takes minibatch optimizers (Adam, SGD); full-batch L-BFGS trains \
             with train_classifier"
                .into(),
        )),
    }
}

/// Trains `model` with Burn's `Learner` on `train`, validating on `valid` after every epoch.
///
/// The recipe is `config`'s: its optimizer (Adam or SGD with Nesterov momentum), learning rate
/// with a cosine decay to 1% over all steps, batch size, epochs, and its seed for the shuffling.
/// The loss is the paper's ([`classification_output`]); Burn's loss and accuracy metrics are
/// logged for both splits, and checkpoints written, under `directory`. Nothing is printed.
///
/// Returns the trained model in evaluation form (`Module::valid`, on the non-autodiff device),
/// ready for [`Classifier::logits`](crate::Classifier::logits) and the analyses.
///
/// # Errors
/// [`ModelError::InvalidConfig`] for a recipe [`TrainConfig::validate`] refuses, full-batch
/// L-BFGS, a learning rate above 1 (Burn's schedulers refuse it), an empty training or
/// validation set, or a label that is not one of the model's classes;
/// [`ModelError::ShapeMismatch`] if the images of `train` or `valid` do not have the model's
/// input shape; [`ModelError::Learner`] if the `Learner` stopped on an error.
pub fn fit_with_learner<M>(
    model: M,
    train: &Dataset,
    valid: &Dataset,
    config: &TrainConfig,
    directory: &Path,
) -> Result<M>
where
    M: Trainable
        + LearnerModel
        + TrainStep<Input = ImageBatch, Output = ClassificationOutput>
        + InferenceStep<Input = ImageBatch, Output = ClassificationOutput>,
{
    config.validate()?;
    let sets = [("training set", train), ("validation set", valid)];
    crate::train::check_data(&model, &sets)?;
    for (what, data) in sets {
        if data.is_empty() {
            return Err(ModelError::InvalidConfig(format!("the {what} is empty")));
        }
    }
    let steps = train.len().div_ceil(config.batch_size) * config.epochs;
    let schedule = CosineAnnealingLrSchedulerConfig::new(config.learning_rate, steps.max(1))
        .with_min_lr(0.01 * config.learning_rate)
        .init()
        .map_err(|e| ModelError::InvalidConfig(format!("learning-rate schedule: {e}")))?;
    let optim = optimizer(config)?;
    let device = model
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| ModelError::InvalidConfig("the model has no parameters".into()))?;
    let train_loader = data_loader(train.clone(), config.batch_size, Some(config.seed), &device)?;
    // Evaluation in batches of 1000, as `error_rate` does.
    let valid_loader = data_loader(valid.clone(), 1000, None, &device.clone().inner())?;
    let result = SupervisedTraining::new(directory, train_loader, valid_loader)
        .num_epochs(config.epochs)
        .metrics((LossMetric::new(), AccuracyMetric::new()))
        .with_application_logger(None)
        .with_default_checkpointers()
        .renderer(Box::new(Quiet))
        .launch(Learner::new(model, optim, schedule));
    match result.error {
        Some(error) => Err(ModelError::Learner(error)),
        None => Ok(result.model),
    }
}

/// A metrics renderer that shows nothing (the metric logs under the training directory keep
/// every value).
struct Quiet;

impl MetricsRendererTraining for Quiet {
    fn update_train(&mut self, _state: MetricState) {}
    fn update_valid(&mut self, _state: MetricState) {}
}

impl MetricsRendererEvaluation for Quiet {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for Quiet {
    fn start(&mut self, _: usize, _: usize, _: Option<usize>, _: Option<&str>) {}
    fn update_epoch(&mut self, _epoch: usize) {}
    fn start_split(&mut self, _split: &str, _total_items: usize) {}
    fn update_split(&mut self, _items_processed: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for Quiet {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for Quiet {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _definition: MetricDefinition) {}
}
