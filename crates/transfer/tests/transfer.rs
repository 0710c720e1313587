//! Transfer on synthetic linear models whose answers are known: a model's own examples fool it
//! always, so do they an identical copy, and a model that reads other pixels than the attacked
//! one is fooled no more than by noise.

use blindspot_attack::files::{self, AttackSummary};
use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
use std::collections::HashMap;

use blindspot_data::Dataset;
use blindspot_data::splits::ImageShape;
use blindspot_models::Bounds;
use blindspot_models::checkpoint::NamedTensor;
use blindspot_models::mlp::{Activation, Mlp};
use blindspot_report::transfer::{MeanStd, Perturbation};
use blindspot_testing::test_devices;
use blindspot_transfer::{
    ExampleSet, Gaussian, TransferError, aggregate, amplification, error_matrix, error_on,
    matched_noise,
};
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
        labels.push(c as u32);
    }
    Dataset::new(x, labels, ImageShape::MNIST).unwrap()
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
    let labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    let result = LbfgsAttack::new(config.clone())
        .run(model, x, &labels, &mut Quiet)
        .unwrap();
    assert_eq!(result.success_rate(), 1.0);
    let dir = tempfile::tempdir().unwrap();
    let summary = AttackSummary::new(&result, &config, name, "train", "test");
    files::save(dir.path(), &data.images, &result, &summary).unwrap();
    ExampleSet::from_attack(
        name,
        &files::load_tensors(dir.path()).unwrap(),
        Bounds::UNIT,
    )
    .unwrap()
}

#[test]
fn own_examples_fool_the_model_and_its_copy_but_not_a_model_reading_other_pixels() {
    for (name, device) in test_devices() {
        let data = images(20);
        let a = half_model(0, &device);
        let copy = half_model(0, &device);
        let other = half_model(1, &device);
        // All three classify the clean images perfectly.
        let clean = ExampleSet::gaussian(&data, 0.0, 0, Bounds::UNIT).unwrap();
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
    let a = ExampleSet::gaussian(&data, 0.1, 7, Bounds::UNIT).unwrap();
    assert_eq!(
        a,
        ExampleSet::gaussian(&data, 0.1, 7, Bounds::UNIT).unwrap()
    );
    assert_ne!(
        a.perturbed,
        ExampleSet::gaussian(&data, 0.1, 8, Bounds::UNIT)
            .unwrap()
            .perturbed
    );
    assert!(a.perturbed.iter().all(|v| (0.0..=1.0).contains(v)));
    // Clipping only removes distortion.
    assert!(a.mean_distortion() < 0.1 && a.mean_distortion() > 0.08);
    match ExampleSet::gaussian(&data, -1.0, 0, Bounds::UNIT) {
        Err(TransferError::InvalidParameter(m)) => assert!(m.contains("deviation -1"), "{m}"),
        other => panic!(
            "expected a refused deviation, got {:?}",
            other.map(|s| s.len())
        ),
    }
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
    match adv.amplified(0.0) {
        Err(TransferError::InvalidParameter(m)) => assert!(m.contains("target RMS 0"), "{m}"),
        other => panic!(
            "expected a refused target, got {:?}",
            other.map(|s| s.len())
        ),
    }
    match noise.amplified(0.1) {
        Err(TransferError::InvalidParameter(m)) => assert!(m.contains("only adversarial"), "{m}"),
        other => panic!(
            "expected noise to be refused, got {:?}",
            other.map(|s| s.len())
        ),
    }
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
            let set = ExampleSet::gaussian(&data, s, 1, Bounds::UNIT).unwrap();
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
    assert!(matches!(
        aggregate(&[tables[0].clone(), other]),
        Err(TransferError::Mismatch(_))
    ));
    match aggregate(&[]) {
        Err(TransferError::Mismatch(m)) => assert_eq!(m, "no matrix to aggregate"),
        other => panic!("expected nothing to aggregate, got {other:?}"),
    }
}

/// Attack tensors of `p` examples of shape `image` (`[dim]` or `[C, H, W]`), every one
/// successful, with these labels.
fn attack_tensors(labels: &[f32], image: &[usize]) -> HashMap<String, NamedTensor> {
    let p = labels.len();
    let dim: usize = image.iter().product();
    let shape = [&[p], image].concat();
    let t = |shape: Vec<usize>, values: Vec<f32>| NamedTensor { shape, values };
    HashMap::from([
        ("x".to_string(), t(shape.clone(), vec![0.25; p * dim])),
        ("x_adv".to_string(), t(shape, vec![0.5; p * dim])),
        ("label".to_string(), t(vec![p], labels.to_vec())),
        ("success".to_string(), t(vec![p], vec![1.0; p])),
    ])
}

#[test]
fn attack_results_keep_labels_beyond_255() {
    let tensors = attack_tensors(&[999.0, 256.0, 0.0, 70_000.0], &[12]);
    let set = ExampleSet::from_attack("imagenet", &tensors, Bounds::UNIT).unwrap();
    assert_eq!(set.labels, vec![999, 256, 0, 70_000]);
    assert_eq!((set.len(), set.dim), (4, 12));
    // Labels that are no class index are still refused.
    for bad in [-1.0, 2.5, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(
                ExampleSet::from_attack("m", &attack_tensors(&[3.0, bad], &[12]), Bounds::UNIT),
                Err(TransferError::InvalidParameter(_))
            ),
            "label {bad}"
        );
    }
    // So is a box that is no box.
    assert!(matches!(
        ExampleSet::from_attack("m", &tensors, Bounds { lo: 1.0, hi: 0.0 }),
        Err(TransferError::InvalidParameter(_))
    ));
}

#[test]
fn attack_results_of_image_shaped_tensors_are_flattened() {
    // Files that store `x` as `[P, C, H, W]`, here 2 colour images 3×4×5 with ImageNet labels.
    let tensors = attack_tensors(&[999.0, 512.0], &[3, 4, 5]);
    let set = ExampleSet::from_attack("m", &tensors, Bounds::UNIT).unwrap();
    assert_eq!((set.len(), set.dim), (2, 60));
    assert_eq!(set.labels, vec![999, 512]);
    assert_eq!(set.original.len(), 120);
    // A rank-1 `x` has no images.
    let mut flat = tensors.clone();
    flat.get_mut("x").unwrap().shape = vec![120];
    assert!(matches!(
        ExampleSet::from_attack("m", &flat, Bounds::UNIT),
        Err(TransferError::Shape { found: 1, .. })
    ));
}

/// Three colour images 3×8×8 in the box [-1, 2] (some pixels on its faces), labels ≥ 256.
fn colour_images() -> Dataset {
    let shape = ImageShape::new(3, 8, 8);
    let x = (0..3 * shape.len())
        .map(|i| match i % 7 {
            0 => -1.0,
            1 => 2.0,
            r => -1.0 + 3.0 * r as f32 / 7.0,
        })
        .collect();
    Dataset::new(x, vec![300, 999, 5], shape).unwrap()
}

#[test]
fn matched_noise_in_another_box_stays_in_it_and_matches_each_rms() {
    let bounds = Bounds { lo: -1.0, hi: 2.0 };
    let data = colour_images();
    let dim = data.shape.len();
    let mut noise = Gaussian::new(11);
    // Targets from small to a third of the box width, where clipping bites hard.
    for (i, &target) in [0.01f32, 0.2, 0.5, 1.0].iter().enumerate() {
        let x = data.image(i % data.len());
        let y = matched_noise(x, target, bounds, &mut noise);
        assert_eq!(y.len(), dim);
        assert!(
            y.iter().all(|v| (-1.0..=2.0).contains(v)),
            "target {target}"
        );
        let rms = blindspot_attack::distortion::rms(x, &y);
        assert!(
            ((rms - target) / target).abs() < 1e-5,
            "target {target}: RMS {rms}"
        );
    }

    // Through an example set: the set's box is used, image by image.
    let mut adv = data.images.clone();
    for (j, v) in adv.iter_mut().enumerate() {
        *v = (*v + 0.3 * (((j * 5) % 9) as f32 / 4.0 - 1.0)).clamp(-1.0, 2.0);
    }
    let set = ExampleSet::new(
        Perturbation::Adversarial { model: "m".into() },
        data.images.clone(),
        adv,
        data.labels.clone(),
        dim,
        bounds,
    )
    .unwrap();
    let matched = set.matched_gaussian(4).unwrap();
    assert_eq!(matched.bounds, bounds);
    assert_eq!(matched.labels, vec![300, 999, 5]);
    for (i, (&want, &got)) in set
        .distortions()
        .iter()
        .zip(&matched.distortions())
        .enumerate()
    {
        assert!(
            ((got - want) / want).abs() < 1e-5,
            "image {i}: {got} vs {want}"
        );
        assert!(matched.image(i).iter().all(|v| (-1.0..=2.0).contains(v)));
    }
    // Amplification and plain noise clip to the same box, not to [0, 1].
    // (Clipping to [0, 1] would leave no pixel outside it.)
    let amplified = set.amplified(1.5).unwrap();
    let mut clipped = 0;
    for i in 0..set.len() {
        let (x, x_adv) = (set.original_image(i), set.image(i));
        let alpha = amplification(x, x_adv, 1.5);
        for ((&o, &a), &got) in x.iter().zip(x_adv).zip(amplified.image(i)) {
            let unclipped = o + alpha * (a - o);
            assert_eq!(got, unclipped.clamp(-1.0, 2.0));
            clipped += usize::from(!(-1.0..=2.0).contains(&unclipped));
        }
    }
    assert!(clipped > 0, "no pixel reached a face of the box");
    assert!(amplified.perturbed.iter().any(|v| !(0.0..=1.0).contains(v)));
    let noisy = ExampleSet::gaussian(&data, 0.8, 2, bounds).unwrap();
    assert_eq!(noisy.dim, 192);
    assert!(noisy.perturbed.iter().all(|v| (-1.0..=2.0).contains(v)));
    assert!(noisy.perturbed.iter().any(|v| !(0.0..=1.0).contains(v)));
}

#[test]
fn clean_images_already_at_the_goal_stay_out_of_example_sets() {
    // Rows 0 and 2 reached the goal without a perturbation: `at_goal` in current files; in
    // files that predate it, misclassified at distortion 0.
    let mut tensors = attack_tensors(&[1.0, 2.0, 3.0, 4.0], &[1, 2, 2]);
    let t = |values: Vec<f32>| NamedTensor {
        shape: vec![4],
        values,
    };
    tensors.insert("at_goal".into(), t(vec![1.0, 0.0, 1.0, 0.0]));
    let set = ExampleSet::from_attack("m", &tensors, Bounds::UNIT).unwrap();
    assert_eq!(set.labels, vec![2, 4]);
    tensors.remove("at_goal");
    tensors.insert("misclassified".into(), t(vec![1.0, 1.0, 1.0, 0.0]));
    tensors.insert("distortion".into(), t(vec![0.0, 0.05, 0.0, 0.04]));
    let set = ExampleSet::from_attack("m", &tensors, Bounds::UNIT).unwrap();
    assert_eq!(
        set.labels,
        vec![2, 4],
        "a misclassified image that was perturbed stays"
    );
    // And through the attack's own files: an image the model gets wrong is no example.
    let device = Device::flex();
    let data = images(20);
    let model = half_model(0, &device);
    let mut labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    labels[3] = (labels[3] + 1) % 10;
    let x = Tensor::<2>::from_data(
        TensorData::new(data.images.clone(), [data.len(), D]),
        &device,
    );
    let config = AttackConfig::default();
    let result = LbfgsAttack::new(config.clone())
        .run(&model, x, &labels, &mut Quiet)
        .unwrap();
    assert!(result.at_goal[3] && result.success[3]);
    let dir = tempfile::tempdir().unwrap();
    let summary = AttackSummary::new(&result, &config, "m", "train", "test");
    files::save(dir.path(), &data.images, &result, &summary).unwrap();
    let set = ExampleSet::from_attack("m", &files::load_tensors(dir.path()).unwrap(), Bounds::UNIT)
        .unwrap();
    assert_eq!(set.len(), result.success.iter().filter(|&&s| s).count() - 1);
    assert!(!set.labels.is_empty());
    // The same set straight from the result, without the files.
    let direct = ExampleSet::from_result("m", &data.images, &result, Bounds::UNIT).unwrap();
    assert_eq!(
        (
            &direct.original,
            &direct.perturbed,
            &direct.labels,
            direct.dim
        ),
        (&set.original, &set.perturbed, &set.labels, set.dim)
    );
}
