//! [`ImageClassifier`]: any Burn module as a classifier, in evaluation mode, with its
//! normalization inside.

use blindspot_data::{Dataset, ImageShape};
use blindspot_models::{Bounds, Classifier, ImageClassifier, ModelError, Normalization, to_inputs};
use blindspot_testing::{Lcg, test_devices, values};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// A small RGB network with the two layers whose behaviour depends on the mode.
#[derive(Module, Debug)]
struct Net {
    conv: Conv2d,
    norm: BatchNorm,
    dropout: Dropout,
    fc: Linear,
}

impl Net {
    fn new(device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([3, 4], [3, 3]).init(device),
            norm: BatchNormConfig::new(4).init(device),
            dropout: DropoutConfig::new(0.5).init(),
            fc: LinearConfig::new(4 * 6 * 6, 5).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let h = relu(self.norm.forward(self.conv.forward(x)));
        self.fc.forward(self.dropout.forward(h.flatten(1, 3)))
    }
}

const SHAPE: [usize; 3] = [3, 8, 8];
const DIM: usize = 3 * 8 * 8;

fn batch(n: usize, seed: u64, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(Lcg::new(seed).vec(n * DIM, 0.0, 1.0), [n, DIM]),
        device,
    )
}

#[test]
fn dropout_and_batch_norm_stay_in_evaluation_mode_on_autodiff_inputs() {
    for (name, device) in test_devices() {
        let net = Net::new(&device);
        let x = batch(4, 1, &device);
        // The hazard: the raw module on an autodiff input draws dropout masks.
        let images = || x.clone().reshape([4, 3, 8, 8]).autodiff().require_grad();
        let raw = (values(net.forward(images())), values(net.forward(images())));
        assert_ne!(
            raw.0, raw.1,
            "{name}: dropout should be active on the raw module"
        );

        let model = ImageClassifier::new(&net, SHAPE, Net::forward).unwrap();
        let plain = values(model.logits(x.clone()));
        for _ in 0..3 {
            let xa = x.clone().autodiff().require_grad();
            let z = model.logits(xa.clone());
            assert_eq!(values(z.clone().inner()), plain, "{name}");
            // Rows do not interact (BatchNorm uses its running statistics): one image alone
            // gives its row of the batch.
            let single = values(model.logits(x.clone().slice([1..2, 0..DIM])));
            assert_eq!(single, plain[5..10].to_vec(), "{name}");
            // And the input still gets its gradient.
            let grads = z.sum().backward();
            assert!(xa.grad(&grads).is_some(), "{name}");
        }
    }
}

#[test]
fn normalization_is_applied_inside_per_channel() {
    let (mean, std) = (vec![0.2, 0.5, 0.7], vec![0.5, 0.25, 2.0]);
    for (name, device) in test_devices() {
        let net = Net::new(&device);
        let model = ImageClassifier::new(&net, SHAPE, Net::forward)
            .unwrap()
            .with_normalization(Normalization::new(mean.clone(), std.clone()).unwrap())
            .unwrap();
        let pixels = Lcg::new(2).vec(2 * DIM, 0.0, 1.0);
        // Normalized on the host, channel c = coordinates [c·64, (c+1)·64) of each row.
        let normalized: Vec<f32> = pixels
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = (i % DIM) / 64;
                (v - mean[c]) / std[c]
            })
            .collect();
        let expected = values(net.valid().forward(Tensor::from_data(
            TensorData::new(normalized, [2, 3, 8, 8]),
            &device,
        )));
        let ours = values(model.logits(Tensor::from_data(
            TensorData::new(pixels, [2, DIM]),
            &device,
        )));
        for (a, b) in ours.iter().zip(&expected) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{name}: {a} vs {b}"
            );
        }
        assert_eq!(model.input_shape(), SHAPE);
        assert_eq!(model.input_len(), DIM);
        assert_eq!(model.num_classes(), 5);
    }
}

#[test]
fn shapes_normalizations_and_boxes_that_do_not_fit_are_refused() {
    let device = Device::flex();
    let net = Net::new(&device);
    // The conv needs 3 channels; 8×8 → 6×6 feeds the linear layer: [1, 8, 8] cannot work.
    assert!(matches!(
        ImageClassifier::new(&net, [1, 8, 8], Net::forward),
        Err(ModelError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        ImageClassifier::new(&net, [3, 0, 8], Net::forward),
        Err(ModelError::InvalidConfig(_))
    ));
    let model = || ImageClassifier::new(&net, SHAPE, Net::forward).unwrap();
    assert!(matches!(
        model().with_normalization(Normalization::new(vec![0.5], vec![0.5]).unwrap()),
        Err(ModelError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Normalization::new(vec![0.5, 0.5], vec![0.5, 0.0]),
        Err(ModelError::InvalidConfig(_))
    ));
    assert!(matches!(
        Normalization::new(vec![0.5], vec![0.5, 0.5]),
        Err(ModelError::InvalidConfig(_))
    ));
    assert!(matches!(
        model().with_bounds(Bounds { lo: 1.0, hi: 0.0 }),
        Err(ModelError::InvalidConfig(_))
    ));
    let boxed = model().with_bounds(Bounds { lo: -1.0, hi: 1.0 }).unwrap();
    assert_eq!(boxed.bounds(), Bounds { lo: -1.0, hi: 1.0 });
    // Without `with_hidden` there are no activations; with it, they come from the module.
    assert!(model().activations(batch(2, 3, &device)).is_empty());
    let hidden = model().with_hidden(|net: &Net, x| {
        vec![relu(net.norm.forward(net.conv.forward(x))).flatten(1, 3)]
    });
    let acts = hidden.activations(batch(2, 3, &device));
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0].dims(), [2, 4 * 6 * 6]);
}

#[test]
fn to_inputs_gives_the_rows_and_class_indices_of_a_data_set_of_the_model_shape() {
    for (name, device) in test_devices() {
        let net = Net::new(&device);
        let model = ImageClassifier::new(&net, SHAPE, Net::forward).unwrap();
        let images = Lcg::new(3).vec(2 * DIM, 0.0, 1.0);
        let data = Dataset::new(images.clone(), vec![4, 70_000], ImageShape::from(SHAPE)).unwrap();
        let (x, labels) = to_inputs(&model, &data, &device).unwrap();
        assert_eq!(x.dims(), [2, DIM], "{name}");
        assert_eq!(values(x.clone()), images, "{name}");
        assert_eq!(labels, vec![4, 70_000], "{name}");
        // The rows fold back into the images: the classifier's logits on them are the module's
        // on the images folded by hand.
        let folded = Tensor::<1>::from_floats(images.as_slice(), &device).reshape([2, 3, 8, 8]);
        assert_eq!(
            values(model.logits(x)),
            values(net.forward(folded)),
            "{name}"
        );
        // The same number of values in another layout is not the model's input.
        let transposed = Dataset::new(images, vec![4, 5], ImageShape::new(8, 3, 8)).unwrap();
        match to_inputs(&model, &transposed, &device) {
            Err(ModelError::ShapeMismatch {
                expected, found, ..
            }) => {
                assert_eq!((expected, found), (vec![3, 8, 8], vec![8, 3, 8]), "{name}");
            }
            other => panic!("{name}: expected ShapeMismatch, got {other:?}"),
        }
    }
}
