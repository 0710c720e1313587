//! The attack on a Burn module through [`ImageClassifier`]: a Dropout layer stays in
//! evaluation mode, so the attack is deterministic and its examples hold on a plain forward.

use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
use blindspot_models::{Classifier, ImageClassifier, Normalization};
use blindspot_testing::{Lcg, test_devices, values};
use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::relu;

#[derive(Module, Debug)]
struct DropoutNet {
    hidden: Linear,
    dropout: Dropout,
    out: Linear,
}

impl DropoutNet {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let h = relu(self.hidden.forward(x.flatten(1, 3)));
        self.out.forward(self.dropout.forward(h))
    }
}

const SHAPE: [usize; 3] = [3, 4, 4];
const DIM: usize = 48;

/// A linear layer with seeded weights (the device's generator is shared by the tests running
/// at the same time, so `LinearConfig::init` would not be reproducible).
fn linear(inputs: usize, outputs: usize, seed: u64, device: &Device) -> Linear {
    let mut rng = Lcg::new(seed);
    let scale = 1.0 / (inputs as f32).sqrt();
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(rng.vec(inputs * outputs, -scale, scale), [inputs, outputs]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(rng.vec(outputs, -0.1, 0.1), [outputs]),
            device,
        ))),
    }
}

fn dropout_net(device: &Device) -> DropoutNet {
    DropoutNet {
        hidden: linear(DIM, 16, 1, device),
        dropout: DropoutConfig::new(0.5).init(),
        out: linear(16, 4, 2, device),
    }
}

#[test]
fn attacks_through_the_adapter_are_deterministic_despite_dropout() {
    for (name, device) in test_devices() {
        let net = dropout_net(&device);
        let model = ImageClassifier::new(&net, SHAPE, DropoutNet::forward)
            .unwrap()
            .with_normalization(Normalization::new(vec![0.5; 3], vec![0.2; 3]).unwrap())
            .unwrap();
        let x = Tensor::<2>::from_data(
            TensorData::new(Lcg::new(5).vec(6 * DIM, 0.2, 0.8), [6, DIM]),
            &device,
        );
        let xs = values(x.clone());
        let labels: Vec<usize> = values(model.logits(x.clone()))
            .chunks(4)
            .map(|z| (0..4).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap())
            .collect();
        for goal in [Goal::Untargeted, Goal::Random] {
            let attack = LbfgsAttack::new(AttackConfig {
                goal,
                ..AttackConfig::default()
            });
            let first = attack.run(&model, x.clone(), &labels, &mut Quiet).unwrap();
            let second = attack.run(&model, x.clone(), &labels, &mut Quiet).unwrap();
            assert_eq!(first.x_adv, second.x_adv, "{name} {goal}");
            assert_eq!(first.success, second.success, "{name} {goal}");
            if goal == Goal::Untargeted {
                assert_eq!(first.success_rate(), 1.0, "{name}");
            } else {
                assert!(
                    first.success_rate() > 0.5,
                    "{name} {goal}: {:?}",
                    first.success
                );
            }
            assert_eq!(first.input_shape, SHAPE);
            // Every stored example fools a plain (non-autodiff) forward of the module.
            let adv =
                Tensor::<2>::from_data(TensorData::new(first.x_adv.clone(), [6, DIM]), &device);
            let z = values(model.logits(adv));
            for (i, p) in first.problems.iter().enumerate() {
                if !first.success[i] {
                    assert_eq!(first.adversarial(i), &xs[i * DIM..(i + 1) * DIM]);
                    continue;
                }
                let row = &z[i * 4..(i + 1) * 4];
                let top = (0..4).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
                match p.target {
                    Some(t) => assert_eq!(top, t, "{name} {goal}: image {i}"),
                    None => assert_ne!(top, p.label, "{name} {goal}: image {i}"),
                }
            }
        }
    }
}

#[test]
fn images_of_another_shape_are_refused() {
    let device = Device::flex();
    let net = dropout_net(&device);
    let model = ImageClassifier::new(&net, SHAPE, DropoutNet::forward).unwrap();
    let x = Tensor::<2>::zeros([2, 784], &device);
    let outcome = LbfgsAttack::default().run(&model, x, &[0, 1], &mut Quiet);
    assert!(
        matches!(
            outcome,
            Err(blindspot_attack::AttackError::Shape { ref expected, ref found, .. })
                if expected == &vec![2, DIM] && found == &vec![2, 784]
        ),
        "{outcome:?}"
    );
}
