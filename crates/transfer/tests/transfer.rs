//! Transfer on synthetic linear models whose answers are known: a model's own examples fool it
//! always, so do they an identical copy, and a model that reads other pixels than the attacked
//! one is fooled no more than by noise.

use blindspot_attack::files::{self, AttackSummary};
use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
use blindspot_data::Dataset;
use blindspot_models::mlp::{Activation, Mlp};
use blindspot_report::transfer::{MeanStd, Perturbation};
use blindspot_testing::test_devices;
use blindspot_transfer::{ExampleSet, aggregate, amplification, error_matrix, error_on};
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;

const D: usize = 784;
const K: usize = 10;
/// Pixels per class block in each half of the image.
const BLOCK: usize = 39;
const HALF: usize = 392;

/// A linear classifier that sums, for class `c`, the pixels of block `c` of one half of the
/// image (`half` 0: pixels 0–389, `half` 1: pixels 392–781) and ignores the other half.
fn half_model(half: usize, device: &Device) -> Mlp {
    let mut w = vec![0.0f32; D * K];
    for c in 0..K {
        for j in 0..BLOCK {
            let i = half * HALF + c * BLOCK + j;
            w[i * K + c] = 1.0;
        }
    }
    Mlp {
        layers: vec![Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [D, K]), device)),
            bias: Some(Param::from_tensor(Tensor::zeros([K], device))),
        }],
        activation: Activation::Sigmoid,
        weight_decay: vec![0.0],
    }
}

/// Images of class `i % 10` whose class block is bright (0.7) in both halves over a dim
/// background (0.2), with a little deterministic texture.
fn images(n: usize) -> Dataset {
    let mut x = Vec::with_capacity(n * D);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % K;
        for p in 0..D {
            let local = p % HALF;
            let on = local < K * BLOCK && local / BLOCK == c && p < 2 * HALF;
            let texture = 0.05 * (((p * 7 + i * 13) % 11) as f32 / 10.0);
            x.push(if on { 0.7 } else { 0.2 } + texture);
        }
        labels.push(c as u8);
    }
    Dataset::new(x, labels).unwrap()
}

/// The successful random-target adversarial examples of `model`, through the attack's files.
fn adversarial(model: &Mlp, name: &str, data: &Dataset, device: &Device) -> ExampleSet {
    let config = AttackConfig {
        goal: Goal::Random,
        seed: 3,
        ..AttackConfig::default()
    };
    let x = Tensor::<2>::from_data(
        TensorData::new(data.images.clone(), [data.len(), D]),
        device,
    );
    let labels: Vec<usize> = data.labels.iter().map(|&l| usize::from(l)).collect();
    let result = LbfgsAttack::new(config.clone())
        .run(model, x, &labels, &mut Quiet)
        .unwrap();
    assert_eq!(result.success_rate(), 1.0);
    let dir = tempfile::tempdir().unwrap();
    let summary = AttackSummary::new(&result, &config, name, "train", "test");
    files::save(dir.path(), &data.images, &result, &summary).unwrap();
    ExampleSet::from_attack(name, &files::load_tensors(dir.path()).unwrap()).unwrap()
}

#[test]
fn own_examples_fool_the_model_and_its_copy_but_not_a_model_reading_other_pixels() {
    for (name, device) in test_devices() {
        let data = images(20);
        let a = half_model(0, &device);
        let copy = half_model(0, &device);
        let other = half_model(1, &device);
        // All three classify the clean images perfectly.
        let clean = ExampleSet::gaussian(&data, 0.0, 0).unwrap();
        for m in [&a, &copy, &other] {
            assert_eq!(error_on(m, &clean, &device), 0.0, "{name}");
        }
        let adv = adversarial(&a, "a", &data, &device);
        assert_eq!(adv.len(), 20, "{name}");
        let noise = adv.matched_gaussian(5).unwrap();
        let columns = [
            ("a".to_string(), &a),
            ("copy".to_string(), &copy),
            ("other".to_string(), &other),
        ];
        let table = error_matrix(&[adv.clone(), noise], &columns, &device, "synthetic");
        let errors: Vec<f64> = table.rows[0].errors.iter().map(|e| e.mean).collect();
        assert_eq!(errors[0], 1.0, "{name}: own examples");
        assert_eq!(errors[1], 1.0, "{name}: identical copy");
        // The attack only moves the pixels `a` reads, which `other` ignores.
        let noise_error = table.rows[1].errors[2].mean;
        assert!(
            errors[2] <= noise_error,
            "{name}: {errors:?} vs noise {noise_error}"
        );
        assert_eq!(errors[2], 0.0, "{name}");
        assert_eq!(table.rows[0].examples, 20);
        assert!((table.rows[0].distortion.mean - adv.mean_distortion()).abs() < 1e-12);
    }
}

#[test]
fn noise_rows_are_reproducible_from_the_seed() {
    let data = images(10);
    let a = ExampleSet::gaussian(&data, 0.1, 7).unwrap();
    assert_eq!(a, ExampleSet::gaussian(&data, 0.1, 7).unwrap());
    assert_ne!(
        a.perturbed,
        ExampleSet::gaussian(&data, 0.1, 8).unwrap().perturbed
    );
    assert!(a.perturbed.iter().all(|v| (0.0..=1.0).contains(v)));
    // Clipping only removes distortion.
    assert!(a.mean_distortion() < 0.1 && a.mean_distortion() > 0.08);
    assert!(ExampleSet::gaussian(&data, -1.0, 0).is_err());
}

#[test]
fn matched_noise_and_amplification_follow_each_example_distortion() {
    let (_, device) = test_devices().remove(0);
    let data = images(10);
    let adv = adversarial(&half_model(0, &device), "a", &data, &device);
    let d = adv.distortions();

    let noise = adv.matched_gaussian(1).unwrap();
    assert_eq!(noise, adv.matched_gaussian(1).unwrap());
    assert_eq!(
        noise.perturbation,
        Perturbation::MatchedGaussian { model: "a".into() }
    );
    let ratio = noise.mean_distortion() / adv.mean_distortion();
    assert!(
        (0.8..1.05).contains(&ratio),
        "matched noise / adversarial RMS {ratio}"
    );

    let amplified = adv.amplified(0.1).unwrap();
    for (i, &di) in d.iter().enumerate() {
        let (x, x_adv) = (adv.original_image(i), adv.image(i));
        // Before clipping the perturbation has RMS 0.1 exactly.
        let alpha = amplification(x, x_adv, 0.1);
        let unclipped: Vec<f32> = x
            .iter()
            .zip(x_adv)
            .map(|(&o, &a)| o + alpha * (a - o))
            .collect();
        let rms = blindspot_attack::distortion::rms(x, &unclipped);
        assert!((rms - 0.1).abs() < 1e-5, "example {i}: {rms} (from {di})");
        // After clipping it is in the box and no larger.
        let clipped = blindspot_attack::distortion::rms(x, amplified.image(i));
        assert!(clipped <= 0.1 + 1e-6, "example {i}: {clipped}");
        assert!(amplified.image(i).iter().all(|v| (0.0..=1.0).contains(v)));
    }
    // Only adversarial sets are amplified, to a positive RMS.
    assert!(adv.amplified(0.0).is_err());
    assert!(noise.amplified(0.1).is_err());
}

#[test]
fn seeds_aggregate_to_mean_and_sample_std() {
    let (_, device) = test_devices().remove(0);
    let data = images(10);
    let model = half_model(0, &device);
    let columns = [("a".to_string(), &model)];
    let tables: Vec<_> = [0.0, 0.3]
        .iter()
        .map(|&s| {
            let set = ExampleSet::gaussian(&data, s, 1).unwrap();
            let mut t = error_matrix(&[set], &columns, &device, "synthetic");
            // Pretend the rows are the same noise level so that they aggregate.
            t.rows[0].perturbation = Perturbation::Gaussian { stddev: 0.1 };
            t
        })
        .collect();
    let all = aggregate(&tables).unwrap();
    assert_eq!(all.seeds, 2);
    let e: Vec<f64> = tables.iter().map(|t| t.rows[0].errors[0].mean).collect();
    assert_eq!(all.rows[0].errors[0], MeanStd::of(&e));
    let mut other = tables[1].clone();
    other.columns[0] = "b".into();
    assert!(aggregate(&[tables[0].clone(), other]).is_err());
    assert!(aggregate(&[]).is_err());
}
