//! The Lipschitz product is a true bound and the certified radius is sound, on small random
//! models of every MNIST architecture.

use blindspot_models::autoencoder::AutoencoderConfig;
use blindspot_models::conv::ConvNetConfig;
use blindspot_models::mlp::{Activation, MlpConfig};
use blindspot_models::{AnyModel, Classifier};
use blindspot_spectral::{LayerChain, bound_product, certify, certify_with, lipschitz_bound};
use blindspot_testing::{Lcg, test_devices, values};
use burn::prelude::*;

fn models(device: &Device) -> Vec<(&'static str, AnyModel)> {
    let mlp = |hidden: Vec<usize>, act| MlpConfig {
        input: 784,
        weight_decay: vec![0.0; hidden.len() + 1],
        hidden,
        classes: 10,
        activation: act,
    };
    vec![
        (
            "softmax",
            AnyModel::Mlp(mlp(vec![], Activation::Relu).init(device).unwrap()),
        ),
        (
            "relu-mlp",
            AnyModel::Mlp(mlp(vec![20, 12], Activation::Relu).init(device).unwrap()),
        ),
        (
            "sigmoid-mlp",
            AnyModel::Mlp(mlp(vec![16], Activation::Sigmoid).init(device).unwrap()),
        ),
        (
            "conv",
            AnyModel::Conv(
                ConvNetConfig::new()
                    .with_filters(3)
                    .with_hidden(12)
                    .init(device)
                    .unwrap(),
            ),
        ),
        (
            "autoencoder",
            AnyModel::Autoencoder(
                AutoencoderConfig::new()
                    .with_hidden(20)
                    .init(device)
                    .unwrap(),
            ),
        ),
    ]
}

fn batch(values: Vec<f32>, b: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [b, 784]), device)
}

#[test]
fn logits_are_lipschitz_with_the_layer_product_on_random_pairs() {
    for (name, device) in test_devices() {
        for (model_name, model) in models(&device) {
            let layers: Vec<_> = model
                .layer_chain()
                .unwrap()
                .iter()
                .map(|l| l.bound(&|_, _| {}).unwrap())
                .collect();
            let l = bound_product(&layers);
            assert_eq!(l, lipschitz_bound(&model).unwrap(), "{model_name}");
            let mut rng = Lcg::new(3);
            let b = 16;
            let x = rng.vec(b * 784, 0.0, 1.0);
            // Half the pairs far apart, half close.
            let d: Vec<f32> = (0..b * 784)
                .map(|i| {
                    if i < b * 392 {
                        rng.next() - 0.5
                    } else {
                        0.01 * (rng.next() - 0.5)
                    }
                })
                .collect();
            let y: Vec<f32> = x.iter().zip(&d).map(|(a, e)| a + e).collect();
            let fx = values(model.logits(batch(x, b, &device)));
            let fy = values(model.logits(batch(y, b, &device)));
            for i in 0..b {
                let num: f64 = (0..10)
                    .map(|j| f64::from(fx[i * 10 + j] - fy[i * 10 + j]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let den: f64 = d[i * 784..(i + 1) * 784]
                    .iter()
                    .map(|&e| f64::from(e).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(
                    num <= l * den * (1.0 + 1e-4) + 1e-6,
                    "{name} {model_name}: ‖Δf‖ {num} > L {l} · ‖Δx‖ {den}"
                );
            }
        }
    }
}

#[test]
fn perturbations_within_the_certified_radius_never_change_the_class() {
    for (name, device) in test_devices() {
        for (model_name, model) in models(&device) {
            let mut rng = Lcg::new(5);
            let b = 8;
            let x = rng.vec(b * 784, 0.0, 1.0);
            let certified = certify(&model, batch(x.clone(), b, &device)).unwrap();
            let (l, certs) = (certified.lipschitz, certified.certificates);
            for trial in 0..6 {
                // Random directions scaled to 0.999 × radius (per example).
                let mut pert = Vec::with_capacity(b * 784);
                for cert in &certs {
                    let dir = rng.vec(784, -1.0, 1.0);
                    let norm = dir.iter().map(|v| v * v).sum::<f32>().sqrt();
                    let r = (0.999 * cert.radius) as f32;
                    pert.extend(dir.iter().map(|v| v / norm * r));
                }
                let xp: Vec<f32> = x.iter().zip(&pert).map(|(a, e)| a + e).collect();
                let after = certify_with(&model, batch(xp, b, &device), l).unwrap();
                for (i, (c0, c1)) in certs.iter().zip(&after).enumerate() {
                    assert_eq!(
                        c0.predicted, c1.predicted,
                        "{name} {model_name} trial {trial} example {i}: class changed inside radius {}",
                        c0.radius
                    );
                }
            }
            // For the linear (softmax) model the exact minimal distortion is known:
            // min_j (f_y − f_j) / ‖w_y − w_j‖ ≥ radius.
            if let AnyModel::Mlp(m) = &model
                && m.layers.len() == 1
            {
                let w = values(m.layers[0].weight.val()); // [784, 10]
                let logits = values(model.logits(batch(x.clone(), b, &device)));
                for (i, c) in certs.iter().enumerate() {
                    let y = c.predicted;
                    let exact = (0..10)
                        .filter(|&j| j != y)
                        .map(|j| {
                            let gap = f64::from(logits[i * 10 + y] - logits[i * 10 + j]);
                            let norm = (0..784)
                                .map(|p| f64::from(w[p * 10 + y] - w[p * 10 + j]).powi(2))
                                .sum::<f64>()
                                .sqrt();
                            gap / norm
                        })
                        .fold(f64::INFINITY, f64::min);
                    assert!(
                        c.radius <= exact * (1.0 + 1e-4),
                        "{name}: radius {} > exact {exact}",
                        c.radius
                    );
                }
            }
        }
    }
}
