//! Minibatch training with the paper's loss: mean cross-entropy plus the weight decay
//! `λ Σw²/k` of every trained layer.
//!
//! The optimizer is part of the recipe ([`TrainConfig::optimizer`]; each model's is chosen, with
//! the reasons, in `ModelRun::train_config`): Adam or SGD with Nesterov momentum on minibatches,
//! with a cosine learning-rate decay, or full-batch L-BFGS. The paper trains with L-BFGS "until
//! convergence" on the full batch; on two CPU cores a full-batch quasi-Newton pass over 60,000
//! images per step is far slower than minibatch steps, which reach the same convex optimum for
//! the softmax models and the paper's error levels for the others in a few dozen epochs. The
//! learning rate decays to 1% of its start so that the last epochs settle near a minimum.
//!
//! Training is seeded: the device seed fixes initialization and dropout masks, a
//! [`rand::rngs::StdRng`] seeded from the same seed fixes the shuffling.

use std::time::Instant;

use blindspot_data::Dataset;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, LBFGSConfig, LineSearchFn, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::autoencoder::Autoencoder;
use crate::classifier::{Classifier, Mode, Trainable};
use crate::error::{ModelError, Result};

/// The optimizer of a training stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// Adam (β = 0.9, 0.999; ε = 1e-8).
    Adam,
    /// SGD with Nesterov momentum 0.9.
    Sgd,
    /// Full-batch L-BFGS with a strong-Wolfe line search, as the paper trains ("L-BFGS until
    /// convergence"): one epoch is one L-BFGS step of up to 20 iterations on the whole set.
    /// The learning rate and batch size are not used.
    Lbfgs,
}

impl Optimizer {
    /// The minibatch optimizer, `None` for full-batch L-BFGS.
    fn minibatch(self) -> Option<burn::optim::ModuleOptimizer> {
        match self {
            Optimizer::Adam => Some(AdamConfig::new().with_epsilon(1e-8).init()),
            Optimizer::Sgd => Some(
                SgdConfig::new()
                    .with_momentum(Some(
                        MomentumConfig::new()
                            .with_dampening(0.0)
                            .with_nesterov(true),
                    ))
                    .init(),
            ),
            Optimizer::Lbfgs => None,
        }
    }
}

/// The training recipe.
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// The optimizer.
    #[config(default = "Optimizer::Adam")]
    pub optimizer: Optimizer,
    /// Passes over the training set (supervised stage).
    #[config(default = 30)]
    pub epochs: usize,
    /// Passes of unsupervised pre-training (autoencoder only).
    #[config(default = 0)]
    pub pretrain_epochs: usize,
    /// Initial learning rate of the unsupervised pre-training (autoencoder only).
    #[config(default = 1e-3)]
    pub pretrain_learning_rate: f64,
    /// Examples per minibatch.
    #[config(default = 128)]
    pub batch_size: usize,
    /// Adam's initial learning rate; decays with a cosine to 1% of it.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Seed of initialization, dropout and shuffling.
    #[config(default = 0)]
    pub seed: u64,
}

impl TrainConfig {
    /// Checks the recipe.
    pub fn validate(&self) -> Result<()> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if self.batch_size == 0
            || !positive(self.learning_rate)
            || !positive(self.pretrain_learning_rate)
        {
            return Err(ModelError::InvalidConfig(format!(
                "batch size must be > 0 and learning rate finite and > 0 ({self:?})"
            )));
        }
        Ok(())
    }

    /// Cosine decay from `start` to 1% of it over `total` steps.
    fn learning_rate_at(start: f64, step: usize, total: usize) -> f64 {
        let progress = step as f64 / total.max(1) as f64;
        let floor = 0.01;
        start * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
    }
}

/// What one epoch achieved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpochReport {
    /// Stage (`"pretrain"` or `"train"`).
    pub stage: &'static str,
    /// Epoch, 1-based.
    pub epoch: usize,
    /// Epochs in this stage.
    pub epochs: usize,
    /// Mean loss over the epoch's minibatches.
    pub loss: f64,
    /// Error on the training minibatches as they were seen (training mode), if a classifier stage.
    pub train_error: Option<f64>,
    /// Error on the evaluation set at the end of the epoch, if a classifier stage.
    pub test_error: Option<f64>,
    /// Seconds of the epoch's training pass (the evaluation after it excluded).
    pub seconds: f64,
}

/// Receives progress; every method does nothing by default.
pub trait TrainObserver {
    /// A stage starts with this many minibatch steps in all.
    fn on_stage(&mut self, _stage: &'static str, _total_steps: usize) {}
    /// A step finished; `loss` is given every few steps (reading it costs a device sync).
    fn on_step(&mut self, _loss: Option<f64>) {}
    /// An epoch finished.
    fn on_epoch(&mut self, _report: &EpochReport) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl TrainObserver for Silent {}

/// The outcome of training.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainReport {
    /// Every epoch, in order.
    pub epochs: Vec<EpochReport>,
    /// Error on the training set in evaluation mode after training.
    pub train_error: f64,
    /// Error on the evaluation set after training.
    pub test_error: f64,
    /// Wall-clock seconds of training and evaluation.
    pub seconds: f64,
}

/// Uploads a data set as `[n, C·H·W]` images (each flattened, channel first, `C·H·W` from
/// the data's shape) and `[n]` class-index labels.
pub fn to_tensors(data: &Dataset, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    let labels: Vec<i64> = data.labels.iter().map(|&l| i64::from(l)).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [data.len()]), device);
    (image_rows(data, device), labels)
}

/// The images of a data set as rows `[n, C·H·W]`.
fn image_rows(data: &Dataset, device: &Device) -> Tensor<2> {
    let dims = [data.len(), data.shape.len()];
    Tensor::<2>::from_data(TensorData::new(data.images.clone(), dims), device)
}

/// A data set as the analyses take it for `model`: its images as rows `[n, C·H·W]` on
/// `device` (the `x` of `LbfgsAttack::run` and of the certificates) and its labels as class
/// indices (the attack's `&[usize]`).
///
/// # Errors
/// [`ModelError::ShapeMismatch`] if the data's image shape is not the model's
/// [`Classifier::input_shape`] (the same number of values in another layout is refused too),
/// or if `data.images` does not hold one image per label.
pub fn to_inputs<M: Classifier + ?Sized>(
    model: &M,
    data: &Dataset,
    device: &Device,
) -> Result<(Tensor<2>, Vec<usize>)> {
    if data.shape.dims() != model.input_shape() {
        return Err(ModelError::ShapeMismatch {
            what: "images of the data set, [C, H, W] (the model's input shape)".into(),
            expected: model.input_shape().to_vec(),
            found: data.shape.dims().to_vec(),
        });
    }
    let n = data.len();
    if data.images.len() != n * data.shape.len() {
        return Err(ModelError::ShapeMismatch {
            what: "pixels of the data set, [images, C·H·W]".into(),
            expected: vec![n, data.shape.len()],
            found: vec![data.images.len()],
        });
    }
    let labels = data.labels.iter().map(|&l| l as usize).collect();
    Ok((image_rows(data, device), labels))
}

/// Mean cross-entropy of logits `[batch, classes]` against labels `[batch]`, a `[1]` tensor.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let picked = log_softmax(logits, 1).gather(1, labels.unsqueeze_dim(1));
    picked.mean().neg()
}

/// Fraction of `data` that `model` misclassifies, in evaluation mode, in batches of 1000.
///
/// # Errors
/// Data the model cannot read, as [`check_data`] says: images of another shape than its input
/// ([`ModelError::ShapeMismatch`]) or a label beyond its classes ([`ModelError::InvalidConfig`]).
pub fn error_rate<M: Classifier>(model: &M, data: &Dataset, device: &Device) -> Result<f64> {
    check_data(model, &[("data set", data)])?;
    let (images, labels) = to_tensors(data, device);
    Ok(error_rate_on(model, &images, &labels))
}

/// [`error_rate`] on images `[n, C·H·W]` and labels `[n]` already on the model's device.
pub fn error_rate_on<M: Classifier>(model: &M, images: &Tensor<2>, labels: &Tensor<1, Int>) -> f64 {
    let n = labels.dims()[0];
    if n == 0 {
        return 0.0;
    }
    let mut wrong: Option<Tensor<1, Int>> = None;
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let x = images.clone().slice(start..end);
        let y = labels.clone().slice(start..end);
        let w = model.predict(x).not_equal(y).int().sum();
        wrong = Some(match wrong {
            Some(acc) => acc + w,
            None => w,
        });
    }
    let wrong: i64 = wrong.map_or(0, |w| w.into_scalar());
    wrong as f64 / n as f64
}

/// Indices of one epoch, shuffled.
fn epoch_order(n: usize, rng: &mut rand::rngs::StdRng) -> Vec<i64> {
    let mut order: Vec<i64> = (0..n as i64).collect();
    order.shuffle(rng);
    order
}

/// The loss of a batch `(model, images [b, C·H·W], labels [b])` and, for classifier stages, the
/// number of misclassified examples in it (kept on the device).
type BatchLoss<'a, M> =
    dyn FnMut(&M, Tensor<2>, Tensor<1, Int>) -> (Tensor<1>, Option<Tensor<1, Int>>) + 'a;

/// The optimizer state of a stage: minibatch steps, or full-batch L-BFGS steps.
enum Stepper {
    Minibatch(burn::optim::ModuleOptimizer),
    FullBatch(Box<burn::optim::LBFGS>),
}

/// What one epoch's optimization returns: the model, the mean loss, and the number of
/// misclassified training examples seen (classifier stages).
type EpochOutcome<M> = (M, f64, Option<i64>);

/// Runs `epochs` epochs over `(images, labels)` with the configured optimizer.
///
/// `step_loss` gives the loss of a batch and, for classifier stages, the number of misclassified
/// examples; `after_epoch` gives the evaluation error, if any.
#[allow(clippy::too_many_arguments)]
fn run_stage<M, L, E>(
    stage: &'static str,
    mut model: M,
    images: &Tensor<2>,
    labels: &Tensor<1, Int>,
    epochs: usize,
    learning_rate: f64,
    config: &TrainConfig,
    rng: &mut rand::rngs::StdRng,
    observer: &mut dyn TrainObserver,
    mut step_loss: L,
    mut after_epoch: E,
) -> Result<(M, Vec<EpochReport>)>
where
    M: Module + Clone,
    L: FnMut(&M, Tensor<2>, Tensor<1, Int>) -> (Tensor<1>, Option<Tensor<1, Int>>),
    E: FnMut(&M) -> Option<f64>,
{
    let n = labels.dims()[0];
    let steps_per_epoch = n.div_ceil(config.batch_size);
    let mut stepper = match config.optimizer.minibatch() {
        Some(optimizer) => Stepper::Minibatch(optimizer),
        None => Stepper::FullBatch(Box::new(
            LBFGSConfig::new()
                .with_max_iter(20)
                .with_history_size(20)
                .with_line_search_fn(LineSearchFn::StrongWolfe)
                .init(),
        )),
    };
    let total_steps = match stepper {
        Stepper::Minibatch(_) => steps_per_epoch * epochs,
        Stepper::FullBatch(_) => epochs,
    };
    observer.on_stage(stage, total_steps);
    let mut reports = Vec::with_capacity(epochs);
    let mut step = 0;
    for epoch in 1..=epochs {
        let started = Instant::now();
        let (next, loss, wrong) = match &mut stepper {
            Stepper::Minibatch(optimizer) => {
                let schedule =
                    |step| TrainConfig::learning_rate_at(learning_rate, step, total_steps);
                let order = epoch_order(n, rng);
                minibatch_epoch(
                    model,
                    optimizer,
                    images,
                    labels,
                    &order,
                    config.batch_size,
                    &mut step,
                    schedule,
                    observer,
                    &mut step_loss,
                )
            }
            Stepper::FullBatch(lbfgs) => {
                full_batch_epoch(model, lbfgs, images, labels, observer, &mut step_loss)
            }
        };
        model = next;
        if !loss.is_finite() {
            return Err(ModelError::Diverged { epoch, loss });
        }
        let seconds = started.elapsed().as_secs_f64();
        let report = EpochReport {
            stage,
            epoch,
            epochs,
            loss,
            train_error: wrong.map(|w| w as f64 / n as f64),
            test_error: after_epoch(&model),
            seconds,
        };
        observer.on_epoch(&report);
        reports.push(report);
    }
    Ok((model, reports))
}

/// One pass of minibatch steps in the given order; `step` counts steps across epochs for the
/// learning-rate `schedule`.
#[allow(clippy::too_many_arguments)]
fn minibatch_epoch<M: Module + Clone>(
    mut model: M,
    optimizer: &mut burn::optim::ModuleOptimizer,
    images: &Tensor<2>,
    labels: &Tensor<1, Int>,
    order: &[i64],
    batch_size: usize,
    step: &mut usize,
    schedule: impl Fn(usize) -> f64,
    observer: &mut dyn TrainObserver,
    step_loss: &mut BatchLoss<'_, M>,
) -> EpochOutcome<M> {
    let device = images.device();
    let mut loss_sum: Option<Tensor<1>> = None;
    let mut wrong_sum: Option<Tensor<1, Int>> = None;
    let batches = order.len().div_ceil(batch_size);
    for batch in order.chunks(batch_size) {
        let idx =
            Tensor::<1, Int>::from_data(TensorData::new(batch.to_vec(), [batch.len()]), &device);
        let x = images.clone().select(0, idx.clone());
        let y = labels.clone().select(0, idx);
        let (loss, wrong) = step_loss(&model, x, y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(schedule(*step), model, grads);
        // Sums stay on the device; the host reads them once per epoch (and the loss every 25
        // steps for the progress bar).
        let loss = loss.detach();
        loss_sum = Some(match loss_sum {
            Some(acc) => acc + loss.clone(),
            None => loss.clone(),
        });
        if let Some(w) = wrong {
            wrong_sum = Some(match wrong_sum {
                Some(acc) => acc + w,
                None => w,
            });
        }
        *step += 1;
        let show = step.is_multiple_of(25);
        observer.on_step(show.then(|| loss.into_scalar::<f32>() as f64));
    }
    let loss = loss_sum.map_or(0.0, |l| l.into_scalar::<f32>() as f64) / batches.max(1) as f64;
    (model, loss, wrong_sum.map(|w| w.into_scalar::<i64>()))
}

/// One full-batch L-BFGS step (up to 20 iterations with a strong-Wolfe line search).
fn full_batch_epoch<M: Module + Clone>(
    model: M,
    lbfgs: &mut burn::optim::LBFGS,
    images: &Tensor<2>,
    labels: &Tensor<1, Int>,
    observer: &mut dyn TrainObserver,
    step_loss: &mut BatchLoss<'_, M>,
) -> EpochOutcome<M> {
    let mut wrong = None;
    let (model, loss) = lbfgs.step(1.0, model, |m: M| {
        let (loss, w) = step_loss(&m, images.clone(), labels.clone());
        wrong = w;
        let value = loss.clone().into_scalar::<f32>() as f64;
        (value, GradientsParams::from_grads(loss.backward(), &m))
    });
    observer.on_step(Some(loss));
    (model, loss, wrong.map(|w| w.into_scalar::<i64>()))
}

/// Trains a classifier on `train` with the paper's loss, evaluating on `test` after every epoch.
///
/// The model must live on an autodiff device (`device.autodiff()`); it is returned there.
pub fn train_classifier<M: Trainable>(
    model: M,
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    observer: &mut dyn TrainObserver,
) -> Result<(M, TrainReport)> {
    train_classifier_with(model, train, test, config, observer, |m: &M, x, y| {
        paper_loss(m, m.logits_mode(x, Mode::Train), y)
    })
}

/// The paper's loss of a batch from its training-mode logits: mean cross-entropy plus the
/// model's weight decay, and the number of misclassified examples (kept on the device).
pub fn paper_loss<M: Trainable>(
    model: &M,
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
) -> (Tensor<1>, Option<Tensor<1, Int>>) {
    let wrong = logits
        .clone()
        .argmax(1)
        .squeeze_dim::<1>(1)
        .not_equal(labels.clone())
        .int()
        .sum();
    (
        cross_entropy(logits, labels) + model.weight_decay(),
        Some(wrong),
    )
}

/// Refuses data a model cannot be trained or evaluated on, before Burn would panic on it:
/// images of another shape than the model's input ([`ModelError::ShapeMismatch`]) or a label
/// that is not one of its classes ([`ModelError::InvalidConfig`]); `sets` are named by `what`.
pub(crate) fn check_data<M: Classifier>(model: &M, sets: &[(&str, &Dataset)]) -> Result<()> {
    let classes = model.num_classes();
    for (what, data) in sets {
        if data.shape.dims() != model.input_shape() {
            return Err(ModelError::ShapeMismatch {
                what: format!("images of the {what}, [C, H, W] (the model's input shape)"),
                expected: model.input_shape().to_vec(),
                found: data.shape.dims().to_vec(),
            });
        }
        if let Some(at) = data.labels.iter().position(|&l| l as usize >= classes) {
            return Err(ModelError::InvalidConfig(format!(
                "label {} of example {at} of the {what} is not a class of a {classes}-class model",
                data.labels[at]
            )));
        }
    }
    Ok(())
}

/// [`train_classifier`] with another loss: `step_loss(model, images [b, C·H·W], labels [b])`
/// gives the loss of a minibatch (a `[1]` tensor, weight decay included) and, optionally, the
/// number of misclassified examples. Adversarial training and dropout baselines plug in here;
/// the optimizer, schedule, shuffling and evaluation are the same as for every other model.
pub fn train_classifier_with<M, L>(
    model: M,
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    observer: &mut dyn TrainObserver,
    step_loss: L,
) -> Result<(M, TrainReport)>
where
    M: Trainable,
    L: FnMut(&M, Tensor<2>, Tensor<1, Int>) -> (Tensor<1>, Option<Tensor<1, Int>>),
{
    config.validate()?;
    check_data(&model, &[("training set", train), ("test set", test)])?;
    let started = Instant::now();
    let device = model_device(&model)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    let (images, labels) = to_tensors(train, &device);
    // Evaluation runs without autodiff; the test set is uploaded there once.
    let inner = device.clone().inner();
    let (test_images, test_labels) = to_tensors(test, &inner);
    let (model, epochs) = run_stage(
        "train",
        model,
        &images,
        &labels,
        config.epochs,
        config.learning_rate,
        config,
        &mut rng,
        observer,
        step_loss,
        |m: &M| Some(error_rate_on(&m.valid(), &test_images, &test_labels)),
    )?;
    let eval = model.valid();
    let report = TrainReport {
        epochs,
        train_error: error_rate(&eval, train, &inner)?,
        test_error: error_rate_on(&eval, &test_images, &test_labels),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((model, report))
}

/// Unsupervised pre-training of the autoencoder on `train`'s images (labels unused), then the
/// encoder and decoder are frozen for the classifier stage.
pub fn pretrain_autoencoder(
    model: Autoencoder,
    train: &Dataset,
    config: &TrainConfig,
    observer: &mut dyn TrainObserver,
) -> Result<(Autoencoder, Vec<EpochReport>)> {
    config.validate()?;
    let device = model_device(&model)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed.wrapping_add(1));
    let (images, labels) = to_tensors(train, &device);
    let (model, reports) = run_stage(
        "pretrain",
        model,
        &images,
        &labels,
        config.pretrain_epochs,
        config.pretrain_learning_rate,
        config,
        &mut rng,
        observer,
        |m: &Autoencoder, x, _| (m.reconstruction_loss(x), None),
        |_| None,
    )?;
    Ok((model.freeze_autoencoder(), reports))
}

/// The device of a model's first parameter; models must be on an autodiff device to train.
fn model_device<M: Module>(model: &M) -> Result<Device> {
    let device = model
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| ModelError::InvalidConfig("the model has no parameters".into()))?;
    if !device.is_autodiff() {
        return Err(ModelError::InvalidConfig(
            "training needs the model on an autodiff device (`device.autodiff()`)".into(),
        ));
    }
    Ok(device)
}
