//! Ranking without tie-breaking by the backend: units by their pre-activations, remaining ties
//! by the lowest image index, and both kinds of tie counted.

mod common;

use blindspot_data::{Dataset, ImageShape};
use blindspot_models::autoencoder::AutoencoderConfig;
use blindspot_models::conv::ConvNetConfig;
use blindspot_models::mlp::{Activation, Mlp, MlpConfig};
use blindspot_models::{AnyModel, Classifier};
use blindspot_units::{
    DirectionChoice, Directions, ImageSet, PreActivations, Ranking, Reference, UnitsConfig,
    measure, top_k,
};
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use common::{Identity, Lcg, test_devices};

fn linear(w: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Linear {
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [rows, cols]), device)),
        bias: Some(Param::from_tensor(Tensor::zeros([cols], device))),
    }
}

/// A `d → d → 2` MLP whose hidden layer is `f(x)`: the identity weights and zero bias make the
/// pre-activations the inputs themselves, exactly.
fn identity_mlp(d: usize, activation: Activation, device: &Device) -> Mlp {
    let mut eye = vec![0.0f32; d * d];
    for i in 0..d {
        eye[i * d + i] = 1.0;
    }
    let out: Vec<f32> = (0..2 * d).map(|i| i as f32 / 10.0).collect();
    Mlp {
        layers: vec![linear(eye, d, d, device), linear(out, d, 2, device)],
        activation,
        weight_decay: vec![0.0, 0.0],
    }
}

/// Images whose two coordinates are `z0[i]`, `z1[i]`.
fn columns(z0: &[f32], z1: &[f32]) -> Vec<f32> {
    z0.iter().zip(z1).flat_map(|(&a, &b)| [a, b]).collect()
}

fn host(t: Tensor<2>) -> Vec<f32> {
    common::values(t)
}

#[test]
fn saturated_sigmoid_units_are_ranked_by_their_pre_activations() {
    // Unit 0: nine images (0, 1, 3, 4, 5, 7, 8, 9, 11) have z ≥ 17, where σ(z) is exactly
    // 1.0 in float32 (checked below). By z, the top 4 are 5 (40), 9 (35), 1 (30), 11 (28).
    let z0 = [
        17.0, 30.0, 5.0, 25.0, 19.0, 40.0, 0.0, 22.0, 18.0, 35.0, -3.0, 28.0,
    ];
    // Unit 1: unsaturated; z = 2.0 three times (images 4, 6, 10) across the 4th place: the
    // top 4 are 1 (3.0), 3 (2.5), 4 and 6 (2.0, lowest indices), and image 10 is left out.
    let z1 = [
        0.5, 3.0, -1.0, 2.5, 2.0, -2.0, 2.0, 1.0, 0.0, -0.5, 2.0, 1.5,
    ];
    let (n, k) = (z0.len(), 4);
    let x = columns(&z0, &z1);
    let units = Directions::units(2, None).unwrap();
    for (name, device) in test_devices() {
        let model = identity_mlp(2, Activation::Sigmoid, &device);
        let phi = host(
            model.activations(Tensor::from_data(
                TensorData::new(x.clone(), [n, 2]),
                &device,
            ))[0]
                .clone(),
        );
        let saturated: Vec<usize> = (0..n).filter(|&i| phi[i * 2] == 1.0).collect();
        assert_eq!(saturated, [0, 1, 3, 4, 5, 7, 8, 9, 11], "{name}: σ in f32");
        // Batches of 5: the saturated images and the tied ones span batches.
        let top = &top_k(&model, 0, &x, 2, &[&units], k, 5, &device).unwrap()[0];
        assert_eq!(top.ranking, Ranking::PreActivation, "{name}");
        assert_eq!(top.row(0), [5, 9, 1, 11], "{name}");
        assert_eq!(top.row_keys(0), [40.0, 35.0, 30.0, 28.0], "{name}");
        assert_eq!(top.row_values(0), [1.0; 4], "{name}");
        // No tie of z at the 4th place (28 vs 25); five saturated images left out.
        assert_eq!((top.ties[0], top.activation_ties[0]), (0, 5), "{name}");
        assert_eq!(top.activation_tie_size(0), 9, "{name}");
        assert!(!top.tied(0) && top.activation_tied(0) && !top.degenerate(0));

        assert_eq!(top.row(1), [1, 3, 4, 6], "{name}");
        assert_eq!(top.row_keys(1), [3.0, 2.5, 2.0, 2.0], "{name}");
        assert_eq!((top.ties[1], top.activation_ties[1]), (1, 1), "{name}");
        assert_eq!(top.activation_tie_size(1), 3, "{name}");
        assert!(!top.degenerate(1));
        assert_eq!(top.minimum, [phi[10 * 2], phi[5 * 2 + 1]], "{name}");
    }
}

#[test]
fn ties_of_the_activation_go_to_the_lowest_image_index() {
    // φ = x (no pre-activations): unit 0 is 1.0 on images 1, 3, 4, 6; k = 3 takes 1, 3, 4
    // and leaves 6 out. Unit 1 is distinct: 7 (0.95), 2 (0.9), 5 (0.8).
    let c0 = [0.2, 1.0, 0.3, 1.0, 1.0, 0.9, 1.0, 0.1];
    let c1 = [0.1, 0.2, 0.9, 0.3, 0.4, 0.8, 0.5, 0.95];
    let x = columns(&c0, &c1);
    let units = Directions::units(2, None).unwrap();
    for (name, device) in test_devices() {
        for batch in [1, 3, 8] {
            let top = &top_k(&Identity(2), 0, &x, 2, &[&units], 3, batch, &device).unwrap()[0];
            assert_eq!(top.ranking, Ranking::Activation);
            assert_eq!(top.row(0), [1, 3, 4], "{name}, batches of {batch}");
            assert_eq!((top.ties[0], top.activation_ties[0]), (1, 1), "{name}");
            assert_eq!(top.activation_tie_size(0), 4);
            assert_eq!(top.row(1), [7, 2, 5], "{name}");
            assert_eq!((top.ties[1], top.activation_ties[1]), (0, 0), "{name}");
            assert_eq!(top.activation_tie_size(1), 0);
        }
    }
    // A random direction of R^1 is ±1: images 0, 2, 4 share the top score 3 and k = 2 takes
    // 0 and 2. Random directions are ranked by ⟨φ, v⟩ even for a model with pre-activations.
    let random = Directions::random(1, 1, 5).unwrap();
    let v = random.vector(0).unwrap()[0];
    assert_eq!(v.abs(), 1.0);
    let x: Vec<f32> = [3.0, 0.5, 3.0, -1.0, 3.0, 0.2]
        .iter()
        .map(|s| s * v)
        .collect();
    for (name, device) in test_devices() {
        let top = &top_k(&Identity(1), 0, &x, 1, &[&random], 2, 4, &device).unwrap()[0];
        assert_eq!(top.ranking, Ranking::Activation);
        assert_eq!(top.row(0), [0, 2], "{name}");
        assert_eq!(top.row_values(0), [3.0, 3.0], "{name}");
        assert_eq!((top.ties[0], top.activation_ties[0]), (1, 1), "{name}");
        let relu = identity_mlp(1, Activation::Relu, &device);
        let top = &top_k(&relu, 0, &x, 1, &[&random], 2, 4, &device).unwrap()[0];
        assert_eq!(top.ranking, Ranking::Activation, "{name}");
        assert_eq!(top.row(0), [0, 2], "{name}");
    }
}

#[test]
fn measurement_counts_saturated_units_and_scores_the_pre_activation_ranking() {
    // Unit 0 saturates on images 0–4, 6, 8 (z ≥ 20); by z its top 3 are 8, 6, 4, all of
    // label 1, while the three lowest saturated indices (0, 1, 2) have labels 0, 1, 0.
    // Unit 1 (unsaturated): top 3 are 7, 9, 3, labels 0, 0, 1.
    let z0 = [
        20.0, 21.0, 22.0, 23.0, 30.0, 5.0, 31.0, 0.0, 32.0, -1.0, 4.0, 3.0,
    ];
    let z1 = [
        1.0, -1.0, 0.5, 2.0, -0.5, 1.5, 0.0, 3.0, -2.0, 2.5, -1.5, 0.25,
    ];
    let labels = vec![0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1];
    let x = columns(&z0, &z1);
    let data = Dataset::new(x.clone(), labels, ImageShape::new(1, 1, 2)).unwrap();
    let set = ImageSet::from(&data);
    let reference = Reference::new(&x, 2).unwrap();
    let config = UnitsConfig {
        k: 3,
        directions: DirectionChoice::Natural,
        image_draws: 4,
        batch_size: 5,
        ..UnitsConfig::default()
    };
    for (name, device) in test_devices() {
        let model = AnyModel::Mlp(identity_mlp(2, Activation::Sigmoid, &device));
        let m = measure(&model, &set, &reference, &config, &device).unwrap();
        let (_, top) = m.natural.as_ref().unwrap();
        assert_eq!(top.row(0), [8, 6, 4], "{name}");
        assert_eq!(top.row(1), [7, 9, 3], "{name}");
        assert_eq!(m.scores[0].label_share, [1.0, 2.0 / 3.0], "{name}");
        assert_eq!(m.activation_tied_units, [0], "{name}");
        assert_eq!(m.largest_activation_tie, 7, "{name}");
        assert!(m.tied_units.is_empty() && m.degenerate_units.is_empty());
        assert_eq!(m.tied_random, 0);
    }
}

#[test]
fn pre_activations_are_the_inputs_of_the_models_activations() {
    let device = &test_devices()[0].1;
    let mut rng = Lcg::new(8);
    let x = rng.vec(3 * 784, 0.0, 1.0);
    let batch = || Tensor::<2>::from_data(TensorData::new(x.clone(), [3, 784]), device);
    let sigmoid = |z: f32| 1.0 / (1.0 + (-z).exp());
    let relu = |z: f32| z.max(0.0);
    let check = |model: &dyn Fn(usize) -> Option<(Tensor<2>, Tensor<2>)>,
                 acts: Vec<Tensor<2>>,
                 f: &dyn Fn(f32) -> f32,
                 what: &str| {
        for (layer, act) in acts.into_iter().enumerate() {
            let (phi, z) = model(layer).unwrap_or_else(|| panic!("{what} layer {layer}"));
            let (phi, z, act) = (host(phi), host(z), host(act));
            assert_eq!(
                phi, act,
                "{what} layer {layer}: φ as activations() gives it"
            );
            for (p, q) in phi.iter().zip(&z) {
                assert!(
                    (p - f(*q)).abs() <= 1e-6,
                    "{what} layer {layer}: {p} vs f({q})"
                );
            }
            // Ranking by z orders like φ: z's order never contradicts φ's.
            for i in 0..z.len() {
                for j in 0..z.len() {
                    if z[i] > z[j] {
                        assert!(phi[i] >= phi[j], "{what} layer {layer}");
                    }
                }
            }
        }
        assert!(model(9).is_none(), "{what}: no layer 9");
    };
    for activation in [Activation::Sigmoid, Activation::Relu] {
        let mlp = MlpConfig::new(784, vec![12, 7], 10, activation, vec![0.0; 3])
            .init(device)
            .unwrap();
        let f: &dyn Fn(f32) -> f32 = if activation == Activation::Sigmoid {
            &sigmoid
        } else {
            &relu
        };
        let any = AnyModel::Mlp(mlp);
        check(
            &|l| any.hidden_with_pre_activations(batch(), l),
            any.activations(batch()),
            f,
            "mlp",
        );
    }
    let conv = ConvNetConfig::new()
        .with_filters(2)
        .with_hidden(6)
        .init(device)
        .unwrap();
    check(
        &|l| conv.hidden_with_pre_activations(batch(), l),
        conv.activations(batch()),
        &relu,
        "conv",
    );
    let ae = AutoencoderConfig::new()
        .with_hidden(9)
        .init(device)
        .unwrap();
    check(
        &|l| ae.hidden_with_pre_activations(batch(), l),
        ae.activations(batch()),
        &sigmoid,
        "autoencoder",
    );
}
