//! Coherence scores, the random-image baseline, the two-sample tests and the whole measurement.

mod common;

use blindspot_data::{Dataset, ImageShape};
use blindspot_units::{
    DirectionChoice, ImageSet, Reference, UnitsConfig, UnitsError, label_share, labels_of,
    layer_features, mann_whitney, mean_pairwise_distance, measure, random_draws, summarize,
    two_sample, welch,
};
use common::{Identity, Lcg, test_devices};

#[test]
fn label_share_is_one_for_identical_labels() {
    assert_eq!(label_share(&[7; 10]).unwrap(), 1.0);
    assert_eq!(label_share(&[1, 1, 2, 3]).unwrap(), 0.5);
    assert_eq!(label_share(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap(), 0.1);
    assert!(label_share(&[]).is_err());
}

#[test]
fn label_share_counts_classes_beyond_255() {
    // 256 and 512 would share a slot if labels were bytes; 999 is an ImageNet class.
    assert_eq!(label_share(&[999, 999, 999, 4]).unwrap(), 0.75);
    assert_eq!(label_share(&[0, 256, 512, 768]).unwrap(), 0.25);
    assert_eq!(
        labels_of(&[5, 999, 70_000], &[2, 1, 1]).unwrap(),
        vec![70_000, 999, 999]
    );
    assert!(labels_of(&[5, 999], &[2]).is_err());
}

#[test]
fn pairwise_distance_is_zero_for_identical_features() {
    let same = [0.5f32, -2.0, 0.5, -2.0, 0.5, -2.0];
    assert_eq!(mean_pairwise_distance(&same, 2, &[0, 1, 2]).unwrap(), 0.0);
    // (0,0), (3,4), (6,8): distances 5, 10, 5 → mean 20/3.
    let line = [0.0f32, 0.0, 3.0, 4.0, 6.0, 8.0];
    let d = mean_pairwise_distance(&line, 2, &[0, 1, 2]).unwrap();
    assert!((d - 20.0 / 3.0).abs() < 1e-12, "{d}");
    assert!(mean_pairwise_distance(&line, 2, &[0]).is_err());
    assert!(mean_pairwise_distance(&line, 2, &[0, 3]).is_err());
}

#[test]
fn random_draws_are_distinct_seeded_sets() {
    let a = random_draws(50, 10, 30, 4).unwrap();
    assert_eq!(a, random_draws(50, 10, 30, 4).unwrap());
    assert_ne!(a, random_draws(50, 10, 30, 5).unwrap());
    for d in &a {
        let mut s = d.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 10);
        assert!(s.iter().all(|&i| i < 50));
    }
    assert!(random_draws(5, 6, 1, 0).is_err());
}

#[test]
fn tests_separate_shifted_samples_and_not_identical_distributions() {
    let mut rng = Lcg::new(11);
    let a: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
    let b: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
    let shifted: Vec<f64> = (0..200).map(|_| 1.0 + rng.normal()).collect();

    let far = two_sample("a", &a, "shifted", &shifted);
    assert!(far.welch_p < 1e-10, "{far:?}");
    assert!(far.mann_whitney_p < 1e-10, "{far:?}");
    assert!(far.cohens_d < -0.7 && far.auc < 0.3, "{far:?}");
    assert!(far.distinguishable());

    let same = two_sample("a", &a, "b", &b);
    assert!(same.welch_p > 0.05, "{same:?}");
    assert!(same.mann_whitney_p > 0.05, "{same:?}");
    assert!(!same.distinguishable());

    // The p-values of samples from one distribution are uniform: few fall below 0.05.
    let mut rejections = 0;
    for trial in 0..200u64 {
        let mut r = Lcg::new(1_000 + trial);
        let x: Vec<f64> = (0..30).map(|_| r.normal()).collect();
        let y: Vec<f64> = (0..40).map(|_| 3.0 * r.next_f64()).collect::<Vec<_>>();
        let y: Vec<f64> = y.iter().map(|v| v - 1.5).collect(); // mean 0, sd √0.75
        let (_, _, p) = welch(&x, &y);
        rejections += usize::from(p < 0.05);
    }
    assert!(rejections <= 20, "{rejections} of 200 rejected at 5%");

    // Discrete scores with many ties, as label shares are.
    let (_, p, _) = mann_whitney(&[0.5, 0.6, 0.5, 0.6, 0.7], &[0.5, 0.6, 0.5, 0.6, 0.7]);
    assert!(p > 0.9, "{p}");
}

#[test]
fn summary_interval_covers_the_mean_and_shrinks_with_n() {
    let small = summarize("g", &[1.0, 2.0, 3.0, f64::NAN]);
    assert_eq!(small.n, 3);
    assert_eq!(small.mean, 2.0);
    // t_{0.975, 2} = 4.303: half width 4.303 · 1/√3.
    assert!(
        (small.ci_high - 2.0 - 4.302_653 / 3f64.sqrt()).abs() < 1e-4,
        "{small:?}"
    );
    let big: Vec<f64> = (0..300).map(|i| f64::from(i % 3) + 1.0).collect();
    let big = summarize("g", &big);
    assert!(big.ci_high - big.ci_low < small.ci_high - small.ci_low);
}

#[test]
fn measurement_on_a_clustered_identity_layer() {
    // 2 classes; unit 0 is high exactly on class 1, so its top-k set is pure; units 1..4 are
    // noise. The reference space is the pixels themselves.
    let (n, d, k) = (120, 4, 10);
    let mut rng = Lcg::new(5);
    let labels: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    let x: Vec<f32> = (0..n * d)
        .map(|p| {
            let (i, c) = (p / d, p % d);
            if c == 0 {
                labels[i] as f32 + 0.1 * rng.next_f64() as f32
            } else {
                rng.next_f64() as f32
            }
        })
        .collect();
    let data = Dataset::new(x.clone(), labels, ImageShape::new(1, 1, d)).unwrap();
    let set = ImageSet::from(&data);
    let reference = Reference::new(&x, d).unwrap();
    let config = UnitsConfig {
        k,
        n_random: Some(12),
        image_draws: 50,
        batch_size: 25,
        ..UnitsConfig::default()
    };
    for (name, device) in test_devices() {
        let m = measure(&Identity(d), &set, &reference, &config, &device).unwrap();
        assert_eq!((m.layers, m.width), (1, d), "{name}");
        let natural = &m.scores[0];
        assert_eq!(natural.group, "natural");
        assert_eq!(natural.label_share[0], 1.0, "{name}");
        assert_eq!(m.scores[1].label_share.len(), 12);
        assert_eq!(m.scores[2].group, "images");
        assert_eq!(m.scores[2].label_share.len(), 50);
        let share = &m.stats[0];
        assert_eq!(share.score, "label_share");
        assert_eq!(share.groups.len(), 3);
        assert_eq!(share.tests.len(), 3);
        assert!(m.degenerate_units.is_empty());
        // Only natural directions: no natural-vs-random test, still the image floor.
        let only = UnitsConfig {
            directions: DirectionChoice::Natural,
            ..config.clone()
        };
        let m = measure(&Identity(d), &set, &reference, &only, &device).unwrap();
        assert!(m.random.is_none());
        assert!(m.stats[0].test("natural", "random").is_none());
        assert!(m.stats[0].test("natural", "images").is_some());
    }
    // Features of two images for a set of 120.
    let short = Reference::new(&x[..2 * d], d).unwrap();
    assert!(measure(&Identity(d), &set, &short, &config, &test_devices()[0].1).is_err());
}

#[test]
fn an_image_set_from_a_data_set_borrows_its_images_labels_and_shape() {
    let shape = ImageShape::new(3, 2, 2);
    let images: Vec<f32> = (0..2 * 12).map(|v| v as f32 / 24.0).collect();
    let data = Dataset::new(images.clone(), vec![7, 70_000], shape).unwrap();
    let set = ImageSet::from(&data);
    assert_eq!(set.images, images.as_slice());
    assert_eq!(set.labels, &[7, 70_000]);
    assert_eq!(set.input_dim, 3 * 2 * 2);
}

#[test]
fn reference_rows_must_be_whole() {
    let features = [0.0f32; 12];
    let r = Reference::new(&features, 4).unwrap();
    assert_eq!((r.features.len(), r.dim), (12, 4));
    assert!(matches!(
        Reference::new(&features, 5),
        Err(UnitsError::Shape {
            expected: 15,
            found: 12,
            ..
        })
    ));
    assert!(matches!(
        Reference::new(&features, 0),
        Err(UnitsError::InvalidParameter(_))
    ));
}

#[test]
fn images_of_another_width_than_the_models_input_are_refused() {
    // Images of 2×2 = 4 values for a model of 6-value inputs.
    let n = 10;
    let x: Vec<f32> = (0..n * 4).map(|v| v as f32).collect();
    let labels: Vec<u32> = (0..n as u32).map(|i| i % 2).collect();
    let data = Dataset::new(x.clone(), labels, ImageShape::new(1, 2, 2)).unwrap();
    let reference = Reference::new(&x, 4).unwrap();
    let config = UnitsConfig {
        k: 3,
        image_draws: 5,
        ..UnitsConfig::default()
    };
    let device = &test_devices()[0].1;
    let wide = Identity(6);
    let refused = |r: Result<_, UnitsError>| {
        matches!(
            r,
            Err(UnitsError::Shape {
                expected: 6,
                found: 4,
                ..
            })
        )
    };
    let set = ImageSet::from(&data);
    assert!(refused(
        measure(&wide, &set, &reference, &config, device).map(|_| ())
    ));
    assert!(refused(
        layer_features(&wide, 0, &x, 4, 8, device).map(|_| ())
    ));
    // The model of the data's width accepts both.
    assert!(measure(&Identity(4), &set, &reference, &config, device).is_ok());
    let (features, width) = layer_features(&Identity(4), 0, &x, 4, 8, device).unwrap();
    assert_eq!((features, width), (x, 4));
}
