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
use blindspot_report::transfer::{MeanStd, Perturbation, TransferRow, TransferTable};
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
    let summary = AttackSummary::new(&result, config.clone(), name, "train", "test");
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
        // The distortion column is the mean over the examples of each one's RMS change,
        // written out here from the images (the code rounds each RMS to f32).
        let by_hand = (0..adv.len())
            .map(|i| rms64(adv.original_image(i), adv.image(i)))
            .sum::<f64>()
            / 20.0;
        let column = table.rows[0].distortion.mean;
        assert!(
            by_hand > 0.0 && (column - by_hand).abs() <= f64::from(f32::EPSILON) * by_hand,
            "{name}: distortion column {column}, by hand {by_hand}"
        );
    }
}

/// `sqrt(Σ(y − x)² / n)` in f64, written out here rather than taken from the crates under test.
fn rms64(x: &[f32], y: &[f32]) -> f64 {
    assert_eq!(x.len(), y.len());
    let sum: f64 = x
        .iter()
        .zip(y)
        .map(|(&a, &b)| (f64::from(b) - f64::from(a)).powi(2))
        .sum();
    (sum / x.len() as f64).sqrt()
}

/// A linear classifier of 4-pixel images into 2 classes whose logit `c` is pixel `reads[c]`.
fn pixel_model(reads: [usize; 2], device: &Device) -> Mlp {
    let mut w = vec![0.0f32; 4 * 2];
    for (c, &p) in reads.iter().enumerate() {
        w[p * 2 + c] = 1.0;
    }
    Mlp {
        layers: vec![Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [4, 2]), device)),
            bias: Some(Param::from_tensor(Tensor::zeros([2], device))),
        }],
        activation: Activation::Sigmoid,
        weight_decay: vec![0.0],
    }
}

/// Splits a CSV line at the commas outside double quotes.
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(ch),
        }
    }
    fields.push(field);
    fields
}

#[test]
fn error_matrix_cells_and_distortion_column_are_the_hand_computed_values() {
    let grey = [0.5f32; 4];
    // Three examples of class 0 around mid-grey:
    // 0: pixel 0 raised by 0.5, RMS √(0.5²/4) = 0.25, pixels (1, 0.5) → class 0, right;
    // 1: every pixel moved by 0.5, RMS 0.5, pixels (0, 1) → class 1, wrong;
    // 2: not perturbed, RMS 0, pixels (0.25, 0.75) → class 1, wrong.
    // Mean distortion (0.25 + 0.5 + 0) / 3 = 0.25; the pooled RMS √(1.25/12) ≈ 0.32 and the
    // mean L2 norm 0.5 are other numbers.
    let adv = ExampleSet::new(
        Perturbation::Adversarial { model: "m".into() },
        [grey, grey, [0.25, 0.75, 0.5, 0.5]].concat(),
        [
            [1.0, 0.5, 0.5, 0.5],
            [0.0, 1.0, 0.0, 1.0],
            [0.25, 0.75, 0.5, 0.5],
        ]
        .concat(),
        vec![0, 0, 0],
        4,
        Bounds::UNIT,
    )
    .unwrap();
    // One black example of class 1 with pixel 0 raised to 0.25: RMS √(0.25²/4) = 0.125.
    let noise = ExampleSet::new(
        Perturbation::Gaussian { stddev: 0.125 },
        vec![0.0; 4],
        vec![0.25, 0.0, 0.0, 0.0],
        vec![1],
        4,
        Bounds::UNIT,
    )
    .unwrap();
    let empty = ExampleSet::new(
        Perturbation::Gaussian { stddev: 0.3 },
        vec![],
        vec![],
        vec![],
        4,
        Bounds::UNIT,
    )
    .unwrap();
    for (name, device) in test_devices() {
        // `m` picks the larger of pixels 0 and 1, `swapped` reads them the other way round.
        let (m, swapped) = (pixel_model([0, 1], &device), pixel_model([1, 0], &device));
        let columns = [("m".to_string(), &m), ("swapped".to_string(), &swapped)];
        let sets = [adv.clone(), noise.clone(), empty.clone()];
        let table = error_matrix(&sets, &columns, &device, "hand-made");
        assert_eq!(table.columns, vec!["m", "swapped"], "{name}");
        assert_eq!((table.seeds, table.images.as_str()), (1, "hand-made"));
        let cells =
            |r: usize| -> Vec<f64> { table.rows[r].errors.iter().map(|e| e.mean).collect() };
        // Row 0: `m` gets examples 1 and 2 wrong, `swapped` only example 0.
        let row0 = cells(0);
        assert!((row0[0] - 2.0 / 3.0).abs() < 1e-12, "{name}: {row0:?}");
        assert!((row0[1] - 1.0 / 3.0).abs() < 1e-12, "{name}: {row0:?}");
        assert_eq!(table.rows[0].distortion.mean, 0.25, "{name}");
        assert_eq!(table.rows[0].examples, 3);
        // Row 1: pixels (0.25, 0): `m` says class 0 (wrong), `swapped` class 1 (right).
        assert_eq!(cells(1), vec![1.0, 0.0], "{name}");
        assert_eq!(table.rows[1].distortion.mean, 0.125, "{name}");
        assert_eq!(table.rows[1].examples, 1);
        // Row 2: no examples, so no error and no distortion.
        assert_eq!(table.rows[2].examples, 0);
        assert!(cells(2).iter().all(|e| e.is_nan()), "{name}");
        assert!(table.rows[2].distortion.mean.is_nan(), "{name}");
        for (r, set) in sets.iter().enumerate() {
            assert_eq!(table.rows[r].perturbation, set.perturbation);
            assert_eq!(table.rows[r].distortion.n, 1);
        }

        // The same numbers in the CSV file's columns.
        let csv = table.to_csv();
        let lines: Vec<Vec<String>> = csv.lines().map(csv_fields).collect();
        let header = &lines[0];
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        let value =
            |row: usize, column: &str| -> f64 { lines[row + 1][at(column)].parse().unwrap() };
        assert_eq!(lines.len(), 4, "{csv}");
        assert_eq!(value(0, "distortion_mean"), 0.25, "{csv}");
        assert_eq!(value(1, "distortion_mean"), 0.125, "{csv}");
        assert_eq!(value(0, "examples"), 3.0, "{csv}");
        assert!((value(0, "m_mean") - 2.0 / 3.0).abs() < 1e-12, "{csv}");
        assert_eq!(value(1, "swapped_mean"), 0.0, "{csv}");
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

/// Asserts that `got`, the RMS change of matched noise, is `target` to f32 rounding. The
/// bisection ends on two adjacent f32 scales whose RMS bracket the target, so the result exceeds
/// it by at most one step of the scale (2⁻²³ of the target), one rounding of each pixel (one ulp
/// of the box's largest magnitude, at most ε·max|bound|) and the rounding of both RMS to f32
/// (ε·target); it falls short of it only by the latter.
fn assert_matched(got: f64, target: f64, bounds: Bounds, what: &str) {
    let eps = f64::from(f32::EPSILON);
    let largest = f64::from(bounds.lo.abs().max(bounds.hi.abs()));
    let above = 2.0 * eps * (target + largest);
    assert!(
        target > 0.0 && got >= target * (1.0 - eps) && got <= target + above,
        "{what}: RMS {got}, target {target} (allowed above: {above:e})"
    );
}

#[test]
fn matched_noise_reaches_the_target_after_clipping_on_black_pixels() {
    // MNIST-like: half the pixels black, half white, so clipping removes about half the noise
    // (plain noise of stddev s changes the image by an RMS of about s/√2).
    let x: Vec<f32> = (0..784)
        .map(|p| if p % 2 == 0 { 0.0 } else { 1.0 })
        .collect();
    let mut noise = Gaussian::new(9);
    for target in [0.02f32, 0.1, 0.3] {
        let y = matched_noise(&x, target, Bounds::UNIT, &mut noise);
        assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_matched(
            rms64(&x, &y),
            f64::from(target),
            Bounds::UNIT,
            &format!("target {target}"),
        );
        let plain = Gaussian::new(9).perturb(&x, target, Bounds::UNIT);
        let ratio = rms64(&x, &plain) / f64::from(target);
        assert!(
            (0.6..0.8).contains(&ratio),
            "plain noise keeps {ratio} of its stddev"
        );
    }
    // A target beyond what the box allows: the largest scale (1000 box widths) sends every
    // pixel of a mid-grey image whose noise is not within 5·10⁻⁴ of 0 to a face, 0.5 away, so
    // the RMS is 0.5 but for those few pixels, each of which takes at most 0.5²/784 off its
    // square.
    let grey = vec![0.5f32; 784];
    let y = matched_noise(&grey, 10.0, Bounds::UNIT, &mut noise);
    let on_faces = y.iter().filter(|&&v| v == 0.0 || v == 1.0).count();
    assert!(on_faces >= 780, "{on_faces} of 784 pixels on a face");
    assert!(y.contains(&0.0) && y.contains(&1.0));
    let rms = rms64(&grey, &y);
    let floor = (0.25 * on_faces as f64 / 784.0).sqrt();
    assert!(rms <= 0.5 && rms >= floor, "{rms} vs [{floor}, 0.5]");
    // No target (0, negative or not a number): the image as it is.
    for target in [0.0, -0.1, f32::NAN] {
        assert_eq!(matched_noise(&grey, target, Bounds::UNIT, &mut noise), grey);
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
    assert_eq!(
        (&noise.original, &noise.labels),
        (&adv.original, &adv.labels)
    );
    assert_ne!(noise.perturbed, adv.perturbed);
    // Image by image, the noise's RMS after clipping is the example's, to f32 rounding.
    for i in 0..adv.len() {
        let target = rms64(adv.original_image(i), adv.image(i));
        let got = rms64(noise.original_image(i), noise.image(i));
        assert_matched(got, target, Bounds::UNIT, &format!("example {i}"));
        assert!(noise.image(i).iter().all(|v| (0.0..=1.0).contains(v)));
    }

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

/// A row of one seed with these error rates (one per column) and mean distortion.
fn seed_row(
    perturbation: Perturbation,
    examples: usize,
    errors: [f64; 2],
    distortion: f64,
) -> TransferRow {
    TransferRow {
        perturbation,
        examples,
        errors: errors.into_iter().map(MeanStd::single).collect(),
        distortion: MeanStd::single(distortion),
    }
}

/// One seed's matrix with columns `a`, `b`: an adversarial row and a noise row.
fn seed_table(adversarial: (usize, [f64; 2], f64), noise: [f64; 2]) -> TransferTable {
    let (examples, errors, distortion) = adversarial;
    TransferTable {
        columns: vec!["a".into(), "b".into()],
        rows: vec![
            seed_row(
                Perturbation::Adversarial { model: "a".into() },
                examples,
                errors,
                distortion,
            ),
            seed_row(Perturbation::Gaussian { stddev: 0.1 }, 20, noise, 0.5),
        ],
        seeds: 1,
        images: "synthetic".into(),
    }
}

#[test]
fn seeds_aggregate_to_mean_and_sample_std() {
    let tables = [
        seed_table((10, [0.25, 1.0], 0.0625), [f64::NAN, 0.0]),
        seed_table((12, [0.5, 1.0], 0.125), [0.25, 0.0]),
        seed_table((13, [0.75, 1.0], 0.1875), [0.75, 0.0]),
    ];
    let all = aggregate(&tables).unwrap();
    assert_eq!(all.seeds, 3);
    assert_eq!(all.columns, vec!["a", "b"]);
    assert_eq!(all.images, "synthetic");
    assert_eq!(all.rows.len(), 2);
    assert_eq!(all.rows[0].perturbation, tables[0].rows[0].perturbation);
    assert_eq!(all.rows[1].perturbation, tables[0].rows[1].perturbation);
    let cell = |mean: f64, std: f64, n: usize| MeanStd { mean, std, n };
    // Column a: 0.25, 0.5, 0.75 → mean 0.5, sample std √((0.25² + 0 + 0.25²)/2) = 0.25 (the
    // population std would be 0.204).
    assert_eq!(all.rows[0].errors[0], cell(0.5, 0.25, 3));
    assert_eq!(all.rows[0].errors[1], cell(1.0, 0.0, 3));
    // Distortions 1/16, 2/16, 3/16 → mean 1/8, sample std 1/16.
    assert_eq!(all.rows[0].distortion, cell(0.125, 0.0625, 3));
    // Examples 10, 12, 13 → 35/3, rounded to 12.
    assert_eq!(all.rows[0].examples, 12);
    // A seed with no reading (NaN) is left out: 0.25, 0.75 → mean 0.5, std √0.125 over 2 seeds.
    let a = all.rows[1].errors[0];
    assert_eq!((a.mean, a.n), (0.5, 2));
    assert!((a.std - 2f64.sqrt() / 4.0).abs() < 1e-15, "{a:?}");
    assert_eq!(all.rows[1].errors[1], cell(0.0, 0.0, 3));
    assert_eq!(all.rows[1].distortion, cell(0.5, 0.0, 3));
    assert_eq!(all.rows[1].examples, 20);
    // One seed is itself, with no spread.
    let one = aggregate(&tables[1..2]).unwrap();
    assert_eq!(one.rows[0].errors[0], cell(0.5, 0.0, 1));
    assert_eq!(one.rows[0].examples, 12);

    let mut other = tables[1].clone();
    other.columns[0] = "c".into();
    match aggregate(&[tables[0].clone(), other]) {
        Err(TransferError::Mismatch(m)) => assert!(m.contains("seed 1 has columns"), "{m}"),
        other => panic!("expected other columns to be refused, got {other:?}"),
    }
    let mut reordered = tables[1].clone();
    reordered.rows.reverse();
    match aggregate(&[tables[0].clone(), reordered]) {
        Err(TransferError::Mismatch(m)) => assert!(m.contains("seed 1 has other rows"), "{m}"),
        other => panic!("expected other rows to be refused, got {other:?}"),
    }
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
        assert_matched(
            rms64(x, &y),
            f64::from(target),
            bounds,
            &format!("target {target}"),
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
    for i in 0..set.len() {
        let want = rms64(set.original_image(i), set.image(i));
        let got = rms64(matched.original_image(i), matched.image(i));
        assert_matched(got, want, bounds, &format!("image {i}"));
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
    let summary = AttackSummary::new(&result, config.clone(), "m", "train", "test");
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
