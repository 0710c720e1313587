//! A user's own 10-class CNN on `[B, 3, 32, 32]` images with per-channel normalization:
//! trained for a few seconds on synthetic coloured images, attacked with blindspot (untargeted
//! and random targets), its examples saved with their shape and drawn as an RGB Figure-5 grid.
//!
//! `cargo run --release -p blindspot-examples --example rgb_normalized -- [out dir]`

use blindspot_attack::files::{AttackSummary, save};
use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
use blindspot_data::{Dataset, ImageShape};
use blindspot_models::train::to_tensors;
use blindspot_models::{Classifier, ImageClassifier, Normalization, error_rate, to_inputs};
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
/// `3k..3k+3`, with pixel noise from `seed`. Pixels in `[0, 1]`, images `[3, 32, 32]`.
fn synthetic(n: usize, seed: u64) -> Result<Dataset, blindspot_data::DataError> {
    let labels: Vec<u32> = (0..n as u32).map(|i| (i * 7 + seed as u32) % 10).collect();
    let mut noise = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut images = Vec::with_capacity(n * 3 * 32 * 32);
    for &k in &labels {
        let hue = k as f32 / 10.0 * std::f32::consts::TAU;
        for c in 0..3 {
            let colour = 0.35 + 0.3 * (hue + c as f32 * 2.1).cos();
            for p in 0..32 * 32 {
                noise = noise
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let band = if (p / 32) / 3 == k as usize { 0.3 } else { 0.0 };
                let pixel = colour + band + 0.3 * (noise >> 40) as f32 / (1u64 << 24) as f32;
                images.push(pixel.clamp(0.0, 1.0));
            }
        }
    }
    Dataset::new(images, labels, ImageShape::new(3, 32, 32))
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
        let (x, y) = to_tensors(&synthetic(32, step)?, &train_device);
        let logits = model.forward(normalization.apply(x.reshape([32, 3, 32, 32])));
        let grads = GradientsParams::from_grads(loss.forward(logits, y).backward(), &model);
        model = optimizer.step(2e-3, model, grads);
    }

    // 2. The trained module as a blindspot classifier: shape, normalization inside, eval mode.
    let classifier = ImageClassifier::new(&model, [3, 32, 32], Cnn::forward)?
        .with_normalization(normalization)?;
    let test = synthetic(16, 1000)?;
    let correct = (16.0 * (1.0 - error_rate(&classifier, &test, &device)?)).round();
    println!("clean accuracy on 16 new images: {correct}/16");
    if correct < 12.0 {
        return Err(format!("the model did not learn the synthetic classes ({correct}/16)").into());
    }

    // 3. Attack it (both goals), save the examples with their shape, draw Figure 5 in colour,
    //    in the model's box.
    let (x, labels) = to_inputs(&classifier, &test, &device)?;
    let bounds = classifier.bounds();
    let format = ImageFormat::new(classifier.input_shape(), bounds.lo, bounds.hi)?;
    let mut config = AttackConfig::default();
    for goal in [Goal::Untargeted, Goal::Random] {
        config.goal = goal;
        let result =
            LbfgsAttack::new(config.clone()).run(&classifier, x.clone(), &labels, &mut Quiet)?;
        println!(
            "{goal}: {result} (pixels in [{}, {}])",
            bounds.lo, bounds.hi
        );
        if result.success_rate() < 0.9 {
            return Err(format!("{goal}: fewer than 90% of the examples found").into());
        }
        let summary = AttackSummary::new(&result, config.clone(), "user-cnn", "synthetic", "flex");
        let dir = out.join(goal.to_string().replace(':', "-"));
        save(&dir, &test.images, &result, &summary)?;
        let rows: Vec<(Vec<f32>, Vec<f32>)> = result
            .perturbed()
            .take(6)
            .map(|i| {
                let image = result.problems[i].image;
                (test.image(image).to_vec(), result.adversarial(i).to_vec())
            })
            .collect();
        save_png(&grid(&rows, format, 3)?, &dir.join("figure5.png"))?;
        println!(
            "  saved {} and {}",
            dir.join("adversarial.safetensors").display(),
            dir.join("figure5.png").display()
        );
    }
    Ok(())
}
