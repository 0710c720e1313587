//! A user's own CNN on `[B, 1, 28, 28]` MNIST images through blindspot's public API: trained a
//! short while, attacked (both goals), its examples fed to a second model and held against
//! certified radii, and a unit analysis of its hidden layer. `cargo run --release -p
//! blindspot-examples --example mnist_cnn`

use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
use blindspot_data::{Dataset, FetchOptions, Mnist, Split, ensure_mnist};
use blindspot_models::{Classifier, ImageClassifier, error_rate, to_inputs};
use blindspot_spectral::{ChainBuilder, HostLayer, LayerChain, certify};
use blindspot_transfer::{ExampleSet, error_on};
use blindspot_units::{ImageSet, Reference, UnitsConfig, layer_features, measure};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, loss::CrossEntropyLossConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::{prelude::*, tensor::activation::relu};

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
        let chain = ChainBuilder::image(1, 28, 28).conv2d("conv", &self.conv)?;
        let chain = chain.relu().max_pool2d(&self.pool)?;
        let chain = chain.linear("fc1", &self.fc1)?.relu();
        chain.linear("fc2", &self.fc2)?.finish()
    }
}

/// One epoch of Adam, batches of 64, the usual Burn way.
fn train(data: &Dataset, width: usize, device: &Device) -> Cnn {
    let device = device.clone().autodiff();
    let mut model = Cnn {
        conv: Conv2dConfig::new([1, 8], [5, 5]).init(&device),
        pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        fc1: LinearConfig::new(8 * 12 * 12, width).init(&device),
        fc2: LinearConfig::new(width, 10).init(&device),
    };
    let mut adam = AdamConfig::new().init();
    let loss = CrossEntropyLossConfig::new().init(&device);
    for (x, y) in data.images.chunks(64 * 784).zip(data.labels.chunks(64)) {
        let x = Tensor::<1>::from_floats(x, &device).reshape([y.len(), 1, 28, 28]);
        let loss = loss.forward(model.forward(x), Tensor::from_ints(y, &device));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = adam.step(2e-3, model, grads);
    }
    model
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mnist = Mnist::load_dir(&ensure_mnist(&FetchOptions::default())?.0)?;
    let train_set = mnist.split(Split::Train).head(30_000, Split::Train)?;
    let test = mnist.split(Split::Test).head(1_000, Split::Test)?;
    let device = Device::flex();
    device.seed(0); // Initialization of both models, in turn.
    let wrap = |net: &Cnn| ImageClassifier::new(net, [1, 28, 28], Cnn::forward);
    let hidden = |m: &Cnn, x| vec![m.hidden(x)];
    let model_a = wrap(&train(&train_set, 64, &device))?.with_hidden(hidden);
    let model_b = wrap(&train(&train_set, 128, &device))?.with_hidden(hidden);
    let error = |m| error_rate(m, &test, &device).map(|e| 100.0 * e);
    let (ea, eb) = (error(&model_a)?, error(&model_b)?);
    println!("test error: A {ea:.2}%, B {eb:.2}%");

    // Attack A (both goals), fool B with the examples, check them against certified radii.
    let attacked = test.head(50, Split::Test)?;
    let (x, labels) = to_inputs(&model_a, &attacked, &device)?;
    let certified = certify(&model_a, x.clone())?;
    let mut config = AttackConfig::default();
    for goal in [Goal::Untargeted, Goal::Random] {
        config.goal = goal;
        let attack = LbfgsAttack::new(config.clone());
        let result = attack.run(&model_a, x.clone(), &labels, &mut Quiet)?;
        let set = ExampleSet::from_result("A", &attacked.images, &result, model_a.bounds())?;
        let fooled = 100.0 * error_on(&model_b, &set, &device);
        let radii = certified.check(&result)?;
        println!("{goal}: {result}; B fooled by {fooled:.0}%; {radii}");
        if result.success_rate() < 0.9 {
            return Err(format!("{goal}: fewer than 90% of the examples found").into());
        }
    }

    // Section 3: A's hidden units vs random directions, scored in B's features (independent).
    let set = ImageSet::from(&test);
    let (features, dim) = layer_features(&model_b, 0, set.images, set.input_dim, 500, &device)?;
    let (reference, config) = (Reference::new(&features, dim)?, UnitsConfig::default());
    let units = measure(&model_a, &set, &reference, &config, &device)?;
    println!("units: {}", units.stats[0]);
    Ok(())
}
