//! A user's own CNN on `[B, 1, 28, 28]` MNIST images, through blindspot's public API: trained a
//! short while on real MNIST, attacked (untargeted and random targets), its examples fed to a
//! second model, certified radii from its layers' frame bounds, and a unit analysis of its
//! hidden layer (section 3's test).
//!
//! `cargo run --release -p blindspot-examples --example mnist_cnn`

use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
use blindspot_data::{Dataset, FetchOptions, Mnist, Split, ensure_mnist};
use blindspot_models::{Bounds, Classifier, ImageClassifier, error_rate};
use blindspot_spectral::{ChainBuilder, HostLayer, LayerChain, certify_with, lipschitz_bound};
use blindspot_transfer::{ExampleSet, error_on};
use blindspot_units::{ImageSet, Reference, UnitsConfig, measure};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// The user's network: conv 5×5 → ReLU → max-pool 2×2 → hidden layer → logits.
#[derive(Module, Debug)]
struct Cnn {
    conv: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
}

impl Cnn {
    fn hidden(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv.forward(x)));
        relu(self.fc1.forward(x.flatten(1, 3)))
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc2.forward(self.hidden(x))
    }
}

/// Its layers in forward order, for the spectral bounds.
impl LayerChain for Cnn {
    fn layer_chain(&self) -> blindspot_spectral::Result<Vec<HostLayer>> {
        let chain = ChainBuilder::image(1, 28, 28)
            .conv2d("conv", &self.conv)?
            .relu();
        let chain = chain
            .max_pool2d(&self.pool)?
            .linear("fc1", &self.fc1)?
            .relu();
        chain.linear("fc2", &self.fc2)?.finish()
    }
}

/// One epoch of Adam, batches of 64, the usual Burn way.
fn train(data: &Dataset, width: usize, seed: u64, device: &Device) -> Cnn {
    let device = device.clone().autodiff();
    device.seed(seed);
    let mut model = Cnn {
        conv: Conv2dConfig::new([1, 8], [5, 5]).init(&device),
        pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        fc1: LinearConfig::new(8 * 12 * 12, width).init(&device),
        fc2: LinearConfig::new(width, 10).init(&device),
    };
    let (mut adam, loss) = (
        AdamConfig::new().init(),
        CrossEntropyLossConfig::new().init(&device),
    );
    for (x, y) in data.images.chunks(64 * 784).zip(data.labels.chunks(64)) {
        let x = Tensor::<1>::from_floats(x, &device).reshape([y.len(), 1, 28, 28]);
        let y = Tensor::<1, Int>::from_ints(y, &device);
        let grads =
            GradientsParams::from_grads(loss.forward(model.forward(x), y).backward(), &model);
        model = adam.step(2e-3, model, grads);
    }
    model
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mnist = Mnist::load_dir(&ensure_mnist(&FetchOptions::default())?.0)?;
    let train_set = mnist.split(Split::Train).head(30_000, Split::Train)?;
    let test = mnist.split(Split::Test).head(1_000, Split::Test)?;
    let device = Device::flex();
    let (a, b) = (
        train(&train_set, 64, 0, &device),
        train(&train_set, 128, 1, &device),
    );
    let wrap = |net| ImageClassifier::new(net, [1, 28, 28], Cnn::forward);
    let (model_a, model_b) = (wrap(&a)?.with_hidden(|m, x| vec![m.hidden(x)]), wrap(&b)?);
    let (ea, eb) = (
        error_rate(&model_a, &test, &device),
        error_rate(&model_b, &test, &device),
    );
    println!("test error: A {:.2}%, B {:.2}%", 100.0 * ea, 100.0 * eb);

    // Attack A on 50 test images (both goals), feed the examples to B, certify the images.
    let (n, lipschitz) = (50, lipschitz_bound(&a)?);
    let x = Tensor::<1>::from_floats(&test.images[..n * 784], &device).reshape([n, 784]);
    let labels: Vec<usize> = test.labels[..n].iter().map(|&l| l as usize).collect();
    let certificates = certify_with(&model_a, x.clone(), lipschitz)?;
    for goal in [Goal::Untargeted, Goal::Random] {
        let config = AttackConfig {
            goal,
            ..AttackConfig::default()
        };
        let result = LbfgsAttack::new(config).run(&model_a, x.clone(), &labels, &mut Quiet)?;
        let set = ExampleSet::from_result("A", &test.images, &result, Bounds::UNIT)?;
        let inside = result
            .perturbed()
            .filter(|&i| f64::from(result.l2[i]) < certificates[i].radius);
        let mean =
            |f: &dyn Fn(usize) -> f64| result.perturbed().map(f).sum::<f64>() / set.len() as f64;
        println!(
            "{goal}: success {:.0}%, mean RMS {:.4}, B fooled by {:.0}%; L2 {:.3} vs certified radius {:.3} (L = {lipschitz:.1})",
            100.0 * result.success_rate(),
            set.mean_distortion(),
            100.0 * error_on(&model_b, &set, &device),
            mean(&|i| f64::from(result.l2[i])),
            mean(&|i| certificates[i].radius),
        );
        if inside.count() > 0 || result.success_rate() < 0.9 {
            return Err(
                format!("{goal}: an example inside its certified radius, or few found").into(),
            );
        }
    }

    // Section 3: top-10 test images of A's hidden units vs random directions, scored by label
    // share and by distance in B's features (an independent representation of the images).
    let features = model_b
        .logits(Tensor::<1>::from_floats(test.images.as_slice(), &device).reshape([1_000, 784]));
    let features: Vec<f32> = features.into_data().try_to_vec()?;
    let images = ImageSet {
        images: &test.images,
        labels: &test.labels,
        input_dim: 784,
    };
    let reference = Reference {
        features: &features,
        dim: 10,
    };
    let units = measure(
        &model_a,
        &images,
        &reference,
        &UnitsConfig::default(),
        &device,
    )?;
    let share = &units.stats[0];
    let (natural, random) = (
        share.group("natural").ok_or("no units")?,
        share.group("random").ok_or("no random directions")?,
    );
    let p = share
        .test("natural", "random")
        .map_or(f64::NAN, |t| t.welch_p);
    println!(
        "units: top-10 label share, units {:.3} vs random directions {:.3} (Welch p = {p:.3})",
        natural.mean, random.mean
    );
    Ok(())
}
