//! A user's own 10-class CNN on `[B, 3, 32, 32]` images with per-channel normalization:
//! trained for a few seconds on synthetic coloured images, attacked with blindspot (untargeted
//! and random targets), its examples saved with their shape and drawn as an RGB Figure-5 grid.
//!
//! `cargo run --release -p blindspot-examples --example rgb_normalized -- [out dir]`

use blindspot_attack::files::{AttackSummary, save};
use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
use blindspot_models::{Classifier, ImageClassifier, Normalization};
use blindspot_report::figures::{ImageFormat, grid, save_png};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// The user's network: two conv blocks and a classifier.
#[derive(Module, Debug)]
struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc: Linear,
}

impl Cnn {
    fn new(device: &Device) -> Self {
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            conv1: conv(3, 8),
            conv2: conv(8, 16),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc: LinearConfig::new(16 * 8 * 8, 10).init(device),
        }
    }

    /// `[B, 3, 32, 32]` (normalized) → logits `[B, 10]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        self.fc.forward(x.flatten(1, 3))
    }
}

/// Synthetic data: class `k` is a colour (its hue) plus a bright horizontal band at rows
/// `3k..3k+3`, with pixel noise. Pixels in `[0, 1]`, rows of 3·32·32.
fn synthetic(n: usize, seed: u64, device: &Device) -> (Tensor<2>, Vec<usize>) {
    let labels: Vec<usize> = (0..n).map(|i| (i * 7 + seed as usize) % 10).collect();
    let noise = Tensor::<2>::random(
        [n, 3 * 32 * 32],
        burn::tensor::Distribution::Uniform(0.0, 0.3),
        device,
    );
    let mut base = vec![0.0f32; n * 3 * 32 * 32];
    for (i, &k) in labels.iter().enumerate() {
        let hue = k as f32 / 10.0 * std::f32::consts::TAU;
        for c in 0..3 {
            let colour = 0.35 + 0.3 * (hue + c as f32 * 2.1).cos();
            for p in 0..32 * 32 {
                let band = (p / 32) / 3 == k;
                base[(i * 3 + c) * 1024 + p] = colour + if band { 0.3 } else { 0.0 };
            }
        }
    }
    let x = Tensor::<2>::from_data(TensorData::new(base, [n, 3 * 32 * 32]), device) + noise;
    (x.clamp(0.0, 1.0), labels)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or("results/examples/rgb".into()),
    );
    let device = Device::flex();
    device.seed(0);
    let normalization = Normalization::new(vec![0.5, 0.5, 0.5], vec![0.25, 0.25, 0.25])?;

    // 1. Train the user's model the usual Burn way (on an autodiff device).
    let train_device = device.clone().autodiff();
    let mut model = Cnn::new(&train_device);
    let mut optimizer = AdamConfig::new().init();
    let loss = CrossEntropyLossConfig::new().init(&train_device);
    for step in 0..60 {
        let (x, y) = synthetic(32, step, &train_device);
        let images = normalization.apply(x.reshape([32, 3, 32, 32]));
        let y = Tensor::<1, Int>::from_data(
            TensorData::new(y.iter().map(|&l| l as i64).collect(), [32]),
            &train_device,
        );
        let grads =
            GradientsParams::from_grads(loss.forward(model.forward(images), y).backward(), &model);
        model = optimizer.step(2e-3, model, grads);
    }

    // 2. The trained module as a blindspot classifier: shape, normalization inside, eval mode.
    let classifier = ImageClassifier::new(&model, [3, 32, 32], Cnn::forward)?
        .with_normalization(normalization)?;
    let (x, labels) = synthetic(16, 1000, &device);
    let predicted: Vec<i64> = classifier
        .predict(x.clone())
        .into_data()
        .convert::<i64>()
        .try_to_vec()?;
    let correct = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, y)| **p as usize == **y)
        .count();
    println!("clean accuracy on 16 new images: {correct}/16");
    if correct < 12 {
        return Err(format!("the model did not learn the synthetic classes ({correct}/16)").into());
    }

    // 3. Attack it (both goals), save the examples with their shape, draw Figure 5 in colour.
    let pixels: Vec<f32> = x.clone().into_data().try_to_vec::<f32>()?;
    for goal in [Goal::Untargeted, Goal::Random] {
        let config = AttackConfig {
            goal,
            ..AttackConfig::default()
        };
        let result =
            LbfgsAttack::new(config.clone()).run(&classifier, x.clone(), &labels, &mut Quiet)?;
        if result.success_rate() < 0.9 {
            return Err(
                format!("{goal}: only {:.0}% success", 100.0 * result.success_rate()).into(),
            );
        }
        let summary = AttackSummary::new(&result, &config, "user-cnn", "synthetic", "flex");
        println!(
            "{goal}: success {:.0}%, mean RMS distortion {:.4} (pixels in [0, 1]), {:.1} s",
            100.0 * result.success_rate(),
            summary.mean_distortion,
            result.seconds
        );
        let dir = out.join(goal.to_string().replace(':', "-"));
        save(&dir, &pixels, &result, &summary)?;
        let rows: Vec<(Vec<f32>, Vec<f32>)> = (0..result.problems.len())
            .filter(|&i| result.success[i] && !result.misclassified[i])
            .take(6)
            .map(|i| {
                (
                    pixels[i * 3072..(i + 1) * 3072].to_vec(),
                    result.adversarial(i).to_vec(),
                )
            })
            .collect();
        save_png(
            &grid(&rows, ImageFormat::unit(classifier.input_shape()), 3)?,
            &dir.join("figure5.png"),
        )?;
        println!(
            "  saved {} and {}",
            dir.join("adversarial.safetensors").display(),
            dir.join("figure5.png").display()
        );
    }
    Ok(())
}
