//! Training an MLP with a [`Method`]: the optimizer, schedule, shuffling and evaluation of
//! `blindspot_models::train_classifier_with`, with the loss of each minibatch changed.
//!
//! Adversarial training, as the end of section 4.2 describes it: a pool of adversarial
//! examples per level, a random subset of which is replaced by newly generated examples of the
//! current network every `refresh_every` steps, and from which `mix × batch` examples are
//! mixed into every minibatch. Examples of level `k ≥ 1` are `h_k + r` with `h_k = φ_k(x)` and
//! train only the layers above `k` (the loss sees them through [`MlpTail`], so no gradient
//! reaches the layers below). The loss of a minibatch is the clean examples' mean
//! cross-entropy, plus `weight` times the mean over levels of the pool examples' mean
//! cross-entropy, plus the weight decay of every layer. (A first version averaged clean and
//! pool examples together; with three levels the clean data then had 40% of the weight and the
//! network underfitted: 3.8% training and 3.96% test error for n100-100-10.)

use std::time::Instant;

use blindspot_attack::{AttackConfig, LbfgsAttack, Quiet};
use blindspot_data::Dataset;
use blindspot_models::mlp::Mlp;
use blindspot_models::train::cross_entropy;
use blindspot_models::{
    Classifier, TrainConfig, TrainObserver, TrainReport, paper_loss, train_classifier,
    train_classifier_with,
};
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{AdvTrainError, Result};
use crate::method::{AscentConfig, Method, PoolConfig};
use crate::pool::Pool;
use crate::tail::MlpTail;

/// What the pools saw during a run, per level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelStats {
    /// The level (0: input, k: hidden layer k).
    pub level: usize,
    /// Adversarial examples generated and put into the pool.
    pub generated: usize,
    /// Images attacked (the rest of `attacked − generated` failed or were misclassified
    /// already).
    pub attacked: usize,
    /// Mean RMS distortion of the generated examples (in the level's units).
    pub mean_distortion: f64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct AdvTrainReport {
    /// The method.
    pub method: Method,
    /// Epochs, errors and time, as for every model.
    pub train: TrainReport,
    /// Pool statistics per level (empty unless adversarial).
    pub levels: Vec<LevelStats>,
    /// Refreshes made.
    pub refreshes: usize,
    /// Seconds spent generating adversarial examples.
    pub generation_seconds: f64,
}

/// Trains `model` (on an autodiff device) on `train` with `method`, evaluating on `test`.
pub fn train_mlp(
    model: Mlp,
    train: &Dataset,
    test: &Dataset,
    method: &Method,
    config: &TrainConfig,
    observer: &mut dyn TrainObserver,
) -> Result<(Mlp, AdvTrainReport)> {
    method.validate()?;
    let report = |train: TrainReport| AdvTrainReport {
        method: method.clone(),
        train,
        levels: Vec::new(),
        refreshes: 0,
        generation_seconds: 0.0,
    };
    match method {
        Method::Decay => {
            let (model, r) = train_classifier(model, train, test, config, observer)?;
            Ok((model, report(r)))
        }
        Method::Dropout { input, hidden } => {
            let input = DropoutConfig::new(*input).init();
            let hidden = DropoutConfig::new(*hidden).init();
            let (model, r) =
                train_classifier_with(model, train, test, config, observer, |m: &Mlp, x, y| {
                    paper_loss(m, dropout_logits(m, x, &input, &hidden), y)
                })?;
            Ok((model, report(r)))
        }
        Method::Ascent(ascent) => {
            let mut failure = None;
            let (model, r) =
                train_classifier_with(model, train, test, config, observer, |m: &Mlp, x, y| {
                    let device = x.device();
                    // An error turns the loss into NaN, which stops training at the end of
                    // the epoch; the error is returned then.
                    match ascent_loss(m, x, y, ascent) {
                        Ok(loss) => loss,
                        Err(e) => {
                            failure.get_or_insert(e);
                            (Tensor::<1>::from_floats([f32::NAN], &device), None)
                        }
                    }
                })?;
            if let Some(e) = failure {
                return Err(e);
            }
            Ok((model, report(r)))
        }
        Method::Adversarial { levels, pool } => {
            let hidden_layers = model.layers.len().saturating_sub(1);
            let levels = levels.levels(hidden_layers);
            if levels.is_empty() {
                return Err(AdvTrainError::InvalidConfig(
                    "hidden-layer examples need a network with hidden layers".into(),
                ));
            }
            for &l in &levels {
                MlpTail::new(&model, l)?;
            }
            let mut trainer = PoolTrainer::new(&model, levels, pool.clone(), train, config.seed)?;
            let trained =
                train_classifier_with(model, train, test, config, observer, |m: &Mlp, x, y| {
                    trainer.step(m, x, y)
                });
            if let Some(e) = trainer.error.take() {
                return Err(e);
            }
            let (model, r) = trained?;
            let mut out = report(r);
            out.levels = trainer.stats();
            out.refreshes = trainer.refreshes;
            out.generation_seconds = trainer.generation_seconds;
            Ok((model, out))
        }
    }
}

/// The loss of [`Method::Ascent`] for one minibatch: `α` times the paper's loss on `x` plus
/// `1 − α` times it on the examples, made from the current weights without tracking them (the
/// examples are constants of the step, as in Goodfellow et al.'s and Madry et al.'s
/// training). The training error counts the clean examples.
fn ascent_loss(
    m: &Mlp,
    x: Tensor<2>,
    y: Tensor<1, Int>,
    ascent: &AscentConfig,
) -> Result<(Tensor<1>, Option<Tensor<1, Int>>)> {
    let plain = m.valid();
    let bounds = plain.bounds();
    let (epsilon, step) = (ascent.epsilon as f32, ascent.step_size() as f32);
    let x0 = x.clone().inner();
    let labels = y.clone().inner();
    let mut xa = if ascent.steps == 1 {
        x0.clone()
    } else {
        let noise = Tensor::<2>::random(
            x0.shape(),
            Distribution::Uniform(-f64::from(epsilon), f64::from(epsilon)),
            &x0.device(),
        );
        (x0.clone() + noise).clamp(bounds.lo, bounds.hi)
    };
    for _ in 0..ascent.steps {
        let xg = xa.clone().autodiff().require_grad();
        let grads = cross_entropy(plain.logits(xg.clone()), labels.clone()).backward();
        let g = xg.grad(&grads).ok_or_else(|| {
            AdvTrainError::InvalidConfig("no input gradient for the ascent step".into())
        })?;
        xa = (xa + g.sign() * step)
            .max_pair(x0.clone().sub_scalar(epsilon))
            .min_pair(x0.clone().add_scalar(epsilon))
            .clamp(bounds.lo, bounds.hi);
    }
    let (clean, wrong) = paper_loss(m, m.logits(x), y.clone());
    let (perturbed, _) = paper_loss(m, m.logits(xa.autodiff()), y);
    let alpha = ascent.alpha as f32;
    Ok((clean * alpha + perturbed * (1.0 - alpha), wrong))
}

/// Training-mode logits with dropout on the input and after every hidden nonlinearity.
fn dropout_logits(m: &Mlp, x: Tensor<2>, input: &Dropout, hidden: &Dropout) -> Tensor<2> {
    let last = m.layers.len() - 1;
    let mut h = input.forward(x);
    for (i, layer) in m.layers.iter().enumerate() {
        h = layer.forward(h);
        if i < last {
            h = hidden.forward(m.activation.apply(h));
        }
    }
    h
}

/// The pools and the bookkeeping of one adversarial run.
struct PoolTrainer<'a> {
    config: PoolConfig,
    pools: Vec<(usize, Pool)>,
    stats: Vec<(usize, usize, f64)>,
    train: &'a Dataset,
    rng: StdRng,
    step: usize,
    refreshes: usize,
    generation_seconds: f64,
    error: Option<AdvTrainError>,
}

impl<'a> PoolTrainer<'a> {
    fn new(
        model: &Mlp,
        levels: Vec<usize>,
        config: PoolConfig,
        train: &'a Dataset,
        seed: u64,
    ) -> Result<Self> {
        let pools = levels
            .into_iter()
            .map(|l| Ok((l, Pool::new(MlpTail::new(model, l)?.width(), config.size)?)))
            .collect::<Result<Vec<_>>>()?;
        let stats = vec![(0, 0, 0.0); pools.len()];
        Ok(Self {
            config,
            pools,
            stats,
            train,
            rng: StdRng::seed_from_u64(seed ^ 0x5eed_ad7e),
            step: 0,
            refreshes: 0,
            generation_seconds: 0.0,
            error: None,
        })
    }

    fn stats(&self) -> Vec<LevelStats> {
        self.pools
            .iter()
            .zip(&self.stats)
            .map(|((level, _), &(generated, attacked, sum))| LevelStats {
                level: *level,
                generated,
                attacked,
                mean_distortion: if generated > 0 {
                    sum / generated as f64
                } else {
                    f64::NAN
                },
            })
            .collect()
    }

    /// The loss of one minibatch, refreshing the pools first when it is time. An error of the
    /// attack is kept and turns the loss into NaN, which stops training at the end of the
    /// epoch; [`train_mlp`] then returns the error.
    fn step(
        &mut self,
        m: &Mlp,
        x: Tensor<2>,
        y: Tensor<1, Int>,
    ) -> (Tensor<1>, Option<Tensor<1, Int>>) {
        let due = self.step >= self.config.warmup_steps
            && (self.step - self.config.warmup_steps).is_multiple_of(self.config.refresh_every);
        self.step += 1;
        if due
            && self.error.is_none()
            && let Err(e) = self.refresh(&m.valid())
        {
            self.error = Some(e);
        }
        let device = x.device();
        let clean = m.logits(x);
        let k = ((self.config.mix * y.dims()[0] as f64).round() as usize).max(1);
        let mut pooled: Option<Tensor<1>> = None;
        let mut levels = 0;
        for (level, pool) in &self.pools {
            if pool.is_empty() {
                continue;
            }
            let (px, labels) = pool.draw(k, &mut self.rng);
            let px = Tensor::<2>::from_data(TensorData::new(px, [k, pool.dim()]), &device);
            let labels: Vec<i64> = labels.into_iter().map(i64::from).collect();
            let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [k]), &device);
            // Levels were checked when the pools were made.
            let Ok(tail) = MlpTail::new(m, *level) else {
                continue;
            };
            let ce = cross_entropy(tail.logits(px), labels);
            pooled = Some(match pooled {
                Some(acc) => acc + ce,
                None => ce,
            });
            levels += 1;
        }
        let (mut loss, wrong) = paper_loss(m, clean, y);
        if let Some(p) = pooled {
            loss = loss + p.mul_scalar((self.config.weight / levels as f64) as f32);
        }
        if self.error.is_some() {
            loss = loss.mul_scalar(f32::NAN);
        }
        (loss, wrong)
    }

    /// Attacks `refresh` random training images at every level with the current network
    /// (`plain`: its parameters without autodiff) and puts the successful examples into the
    /// pools.
    fn refresh(&mut self, plain: &Mlp) -> Result<()> {
        let started = Instant::now();
        let device =
            plain.devices().into_iter().next().ok_or_else(|| {
                AdvTrainError::InvalidConfig("the model has no parameters".into())
            })?;
        let n = self.train.len();
        let k = self.config.refresh.min(n);
        let picked: Vec<usize> = sample(&mut self.rng, n, k).into_vec();
        let images = self.train.select(&picked);
        let x = Tensor::<2>::from_data(
            TensorData::new(images.images.clone(), [k, images.shape.len()]),
            &device,
        );
        let labels: Vec<usize> = images.labels.iter().map(|&l| l as usize).collect();
        for ((level, pool), stats) in self.pools.iter_mut().zip(&mut self.stats) {
            let tail = MlpTail::new(plain, *level)?;
            let values = tail.values(x.clone());
            let attack = LbfgsAttack::new(AttackConfig {
                seed: self.rng.random(),
                ..self.config.attack.clone()
            });
            let result = attack.run(&tail, values, &labels, &mut Quiet)?;
            let dim = result.dim;
            let mut fresh = Vec::new();
            let mut fresh_labels = Vec::new();
            for (i, p) in result.problems.iter().enumerate() {
                let small = self
                    .config
                    .max_distortion
                    .is_none_or(|m| f64::from(result.distortion[i]) <= m);
                if result.success[i] && !result.misclassified[i] && small {
                    fresh.extend_from_slice(&result.x_adv[i * dim..(i + 1) * dim]);
                    fresh_labels.push(images.labels[p.image]);
                    stats.2 += f64::from(result.distortion[i]);
                }
            }
            stats.0 += fresh_labels.len();
            stats.1 += k;
            pool.refresh(&fresh, &fresh_labels, &mut self.rng)?;
        }
        self.refreshes += 1;
        self.generation_seconds += started.elapsed().as_secs_f64();
        Ok(())
    }
}
