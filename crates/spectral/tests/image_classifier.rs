//! A Burn module wrapped as an `ImageClassifier` lists its chain behind its normalization, and
//! an attack's examples are held against the certified radii of their images.

use blindspot_attack::{AttackConfig, AttackResult, Goal, LbfgsAttack, Problem, Quiet};
use blindspot_models::{Classifier, ImageClassifier, Normalization};
use blindspot_spectral::{
    Certificate, CertifiedBatch, ChainBuilder, HostLayer, LayerChain, Result, SpectralError,
    certify, lipschitz_bound,
};
use blindspot_testing::{Lcg, test_devices, values};
use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

/// A dense layer on `[1, 2, 2]` images.
#[derive(Module, Debug)]
struct Dense {
    fc: Linear,
}

impl Dense {
    /// Weights `[4, classes]` (Burn's `[in, out]`), no bias.
    fn new(weights: Vec<f32>, classes: usize, device: &Device) -> Self {
        let mut fc = LinearConfig::new(4, classes).with_bias(false).init(device);
        fc.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(weights, [4, classes]),
            device,
        ));
        Self { fc }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(x.flatten(1, 3))
    }
}

impl LayerChain for Dense {
    fn layer_chain(&self) -> Result<Vec<HostLayer>> {
        ChainBuilder::image(1, 2, 2)
            .linear("fc", &self.fc)?
            .finish()
    }
}

#[test]
fn the_normalization_is_part_of_the_classifiers_bound() {
    for (name, device) in test_devices() {
        // Logits = pixels 0 and 3: a selection, Lipschitz constant 1 on normalized inputs.
        let net = Dense::new(vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], 2, &device);
        let plain = ImageClassifier::new(&net, [1, 2, 2], Dense::forward).unwrap();
        let normalized = ImageClassifier::new(&net, [1, 2, 2], Dense::forward)
            .unwrap()
            .with_normalization(Normalization::new(vec![0.3], vec![0.5]).unwrap())
            .unwrap();
        let module = lipschitz_bound(&net).unwrap();
        assert!((module - 1.0).abs() < 1e-9, "{name}: {module}");
        assert_eq!(lipschitz_bound(&plain).unwrap(), module, "{name}");
        let chain: Vec<String> = normalized
            .layer_chain()
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(chain, ["normalization", "fc"], "{name}");
        let bound = lipschitz_bound(&normalized).unwrap();
        assert!((bound - 2.0).abs() < 1e-9, "{name}: {bound}");
        // In pixels the classifier moves by 1/σ = 2 per unit of pixel 0: twice the module's
        // bound, exactly the classifier's.
        let pixels =
            |v: [f32; 4]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 4]), &device);
        let (a, b) = (
            values(normalized.logits(pixels([0.0; 4]))),
            values(normalized.logits(pixels([1.0, 0.0, 0.0, 0.0]))),
        );
        let moved = a
            .iter()
            .zip(&b)
            .map(|(p, q)| f64::from(p - q).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((moved - 2.0).abs() < 1e-5, "{name}: {moved}");
    }
}

fn certificate(radius: f64) -> Certificate {
    Certificate {
        predicted: 0,
        margin: radius,
        radius,
    }
}

/// Problems on images `images`, with these L2 norms; `at_goal` ones have L2 0, NaN ones failed.
fn result(images: &[usize], l2: &[f32], at_goal: &[bool]) -> AttackResult {
    let n = images.len();
    AttackResult {
        problems: images
            .iter()
            .map(|&image| Problem {
                image,
                label: 1,
                target: Some(0),
            })
            .collect(),
        input_shape: [1, 1, 1],
        dim: 1,
        x_adv: vec![0.0; n],
        success: l2.iter().map(|v| !v.is_nan()).collect(),
        misclassified: vec![false; n],
        at_goal: at_goal.to_vec(),
        distortion: l2.to_vec(),
        l2: l2.to_vec(),
        c: vec![1.0; n],
        evaluations: vec![1; n],
        seconds: 0.0,
    }
}

#[test]
fn check_compares_each_example_with_the_radius_of_its_image() {
    let certified = CertifiedBatch {
        lipschitz: 2.0,
        certificates: vec![certificate(0.5), certificate(1.0)],
    };
    // Two problems per image (as `Goal::All` makes them); one already at the goal and one
    // failure are left out.
    let images = [0, 1, 1, 0, 1];
    let at_goal = [false, false, false, false, true];
    let ok = certified
        .check(&result(&images, &[0.6, 1.5, 2.0, f32::NAN, 0.0], &at_goal))
        .unwrap();
    assert_eq!(ok.examples, 3);
    let mean_l2 = (0.6f32 as f64 + 1.5 + 2.0) / 3.0;
    assert!((ok.mean_l2 - mean_l2).abs() < 1e-12, "{ok:?}");
    assert!((ok.mean_radius - 2.5 / 3.0).abs() < 1e-12, "{ok:?}");
    assert!((ok.min_ratio - 0.6f32 as f64 / 0.5).abs() < 1e-12, "{ok:?}");
    assert_eq!(
        ok.to_string(),
        "L2 1.367 vs certified radius 0.833 (L = 2.0, smallest ratio 1.2)"
    );
    // Problem 2 changes image 1's class at 0.9 < 1.0: the certificate is contradicted.
    match certified.check(&result(&images, &[0.6, 1.5, 0.9, f32::NAN, 0.0], &at_goal)) {
        Err(SpectralError::InsideRadius {
            problem: 2,
            image: 1,
            radius,
            ..
        }) => assert_eq!(radius, 1.0),
        other => panic!("expected InsideRadius, got {other:?}"),
    }
    // An image without a certificate.
    assert!(matches!(
        certified.check(&result(&[0, 2], &[0.6, 0.7], &[false, false])),
        Err(SpectralError::Shape(_))
    ));
    let none = certified
        .check(&result(&[0], &[f32::NAN], &[false]))
        .unwrap();
    assert_eq!(none.examples, 0);
    assert!(none.mean_l2.is_nan() && none.min_ratio.is_nan());
}

#[test]
fn attacks_land_outside_sound_radii_and_inside_radii_made_too_large() {
    for (name, device) in test_devices() {
        let weights = Lcg::new(9).vec(4 * 3, -1.0, 1.0);
        let net = Dense::new(weights, 3, &device);
        let model = ImageClassifier::new(&net, [1, 2, 2], Dense::forward)
            .unwrap()
            .with_normalization(Normalization::new(vec![0.5], vec![0.25]).unwrap())
            .unwrap();
        let n = 8;
        let pixels = Lcg::new(4).vec(n * 4, 0.2, 0.8);
        let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, 4]), &device);
        // The model's own predictions as labels: every image needs a perturbation.
        let labels: Vec<usize> = values(model.predict(x.clone()).float())
            .into_iter()
            .map(|l| l as usize)
            .collect();
        let attack = LbfgsAttack::new(AttackConfig {
            goal: Goal::Untargeted,
            ..AttackConfig::default()
        });
        let result = attack.run(&model, x.clone(), &labels, &mut Quiet).unwrap();
        let certified = certify(&model, x).unwrap();
        let check = certified.check(&result).unwrap();
        assert_eq!(check.examples, result.perturbed().count(), "{name}");
        assert!(check.examples > 0, "{name}");
        assert!(check.min_ratio >= 1.0, "{name}: {check}");
        // A bound 1000 times too small makes radii 1000 times too large: the attack's examples
        // fall inside them.
        let unsound = CertifiedBatch {
            lipschitz: certified.lipschitz / 1000.0,
            certificates: certified
                .certificates
                .iter()
                .map(|c| certificate(c.radius * 1000.0))
                .collect(),
        };
        assert!(
            matches!(
                unsound.check(&result),
                Err(SpectralError::InsideRadius { .. })
            ),
            "{name}"
        );
    }
}
