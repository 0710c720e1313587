//! Coherence scores, the random-image baseline, the two-sample tests and the whole measurement.

mod common;

use blindspot_data::{Dataset, ImageShape};
use blindspot_units::{
    DirectionChoice, ImageSet, Reference, UnitsConfig, UnitsError, label_share, labels_of,
    layer_features, mann_whitney, mean_pairwise_distance, measure, random_draws, summarize,
    two_sample, welch,
};
use common::{Identity, Lcg, host_top_k, test_devices};

#[test]
fn label_share_is_one_for_identical_labels() {
    assert_eq!(label_share(&[7; 10]).unwrap(), 1.0);
    assert_eq!(label_share(&[1, 1, 2, 3]).unwrap(), 0.5);
    assert_eq!(label_share(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap(), 0.1);
    assert!(matches!(
        label_share(&[]),
        Err(UnitsError::InvalidParameter(m)) if m.contains("empty set")
    ));
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
    // Image 2 of a set of 2 labels: 3 labels needed.
    assert!(matches!(
        labels_of(&[5, 999], &[2]),
        Err(UnitsError::Shape {
            expected: 3,
            found: 2,
            ..
        })
    ));
}

#[test]
fn pairwise_distance_is_zero_for_identical_features() {
    let same = [0.5f32, -2.0, 0.5, -2.0, 0.5, -2.0];
    assert_eq!(mean_pairwise_distance(&same, 2, &[0, 1, 2]).unwrap(), 0.0);
    // (0,0), (3,4), (6,8): distances 5, 10, 5 → mean 20/3.
    let line = [0.0f32, 0.0, 3.0, 4.0, 6.0, 8.0];
    let d = mean_pairwise_distance(&line, 2, &[0, 1, 2]).unwrap();
    assert!((d - 20.0 / 3.0).abs() < 1e-12, "{d}");
    assert!(matches!(
        mean_pairwise_distance(&line, 2, &[0]),
        Err(UnitsError::InvalidParameter(m)) if m.contains("at least 2 images, got 1")
    ));
    // Image 3 of three rows of 2: 8 values needed, 6 given.
    assert!(matches!(
        mean_pairwise_distance(&line, 2, &[0, 3]),
        Err(UnitsError::Shape {
            expected: 8,
            found: 6,
            ..
        })
    ));
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
    assert!(matches!(
        random_draws(5, 6, 1, 0),
        Err(UnitsError::InvalidParameter(m)) if m == "k must be in 1..=5, got 6"
    ));
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

/// Share of the most common label among `set` (counted here, not by the crate).
fn share_by_hand(labels: &[u32], set: &[usize]) -> f64 {
    let ones = set.iter().filter(|&&i| labels[i] == 1).count();
    ones.max(set.len() - ones) as f64 / set.len() as f64
}

/// Welch's t and mean difference of two samples, by the textbook formula.
fn welch_by_hand(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let var = |x: &[f64]| {
        let m = mean(x);
        x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
    };
    let diff = mean(a) - mean(b);
    let se = (var(a) / a.len() as f64 + var(b) / b.len() as f64).sqrt();
    (diff, diff / se)
}

#[test]
fn measurement_on_a_clustered_identity_layer() {
    // 2 classes; units 0..6 are high exactly on class 1 (label + 0.1·noise), so their top-k
    // sets are pure; units 6 and 7 are noise. The reference space is the pixels themselves.
    // The claimed outcome: every pure unit scores 1.0, and the units beat random images on
    // label share (both tests at 5%, |d| ≥ 0.2).
    let (n, d, k, pure) = (120, 8, 10, 6);
    let mut rng = Lcg::new(5);
    let labels: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    let x: Vec<f32> = (0..n * d)
        .map(|p| {
            let (i, c) = (p / d, p % d);
            if c < pure {
                labels[i] as f32 + 0.1 * rng.next_f64() as f32
            } else {
                rng.next_f64() as f32
            }
        })
        .collect();
    let data = Dataset::new(x.clone(), labels.clone(), ImageShape::new(1, 1, d)).unwrap();
    let set = ImageSet::from(&data);
    let reference = Reference::new(&x, d).unwrap();
    let config = UnitsConfig {
        k,
        n_random: Some(12),
        image_draws: 50,
        batch_size: 25,
        ..UnitsConfig::default()
    };
    // The expected top-k set of a direction v: a host sort of ⟨x_i, v⟩ in f64.
    let top_by_hand = |v: &[f32]| {
        host_top_k(n, k, |i| {
            (0..d)
                .map(|c| f64::from(x[i * d + c]) * f64::from(v[c]))
                .sum()
        })
    };
    let distance_by_hand = |s: &[usize]| {
        let mut sum = 0.0;
        for (a, &i) in s.iter().enumerate() {
            for &j in &s[a + 1..] {
                let d2: f64 = (0..d)
                    .map(|c| (f64::from(x[i * d + c]) - f64::from(x[j * d + c])).powi(2))
                    .sum();
                sum += d2.sqrt();
            }
        }
        sum / (s.len() * (s.len() - 1) / 2) as f64
    };
    for (name, device) in test_devices() {
        let m = measure(&Identity(d), &set, &reference, &config, &device).unwrap();
        assert_eq!((m.layers, m.width), (1, d), "{name}");
        let natural = &m.scores[0];
        assert_eq!(natural.group, "natural");
        let mut unit = vec![0.0f32; d];
        let mut expected_natural = Vec::new();
        for u in 0..d {
            unit.fill(0.0);
            unit[u] = 1.0;
            let top = top_by_hand(&unit);
            expected_natural.push(share_by_hand(&labels, &top));
            let dist = distance_by_hand(&top);
            assert!(
                (natural.reference_distance[u] - dist).abs() < 1e-9,
                "{name}: unit {u}: {} vs {dist}",
                natural.reference_distance[u]
            );
        }
        assert_eq!(natural.label_share, expected_natural, "{name}");
        assert_eq!(natural.label_share[..pure], [1.0; 6], "{name}");
        let (random_dirs, _) = m.random.as_ref().unwrap();
        let expected_random: Vec<f64> = (0..12)
            .map(|r| share_by_hand(&labels, &top_by_hand(&random_dirs.vector(r).unwrap())))
            .collect();
        assert_eq!(m.scores[1].label_share, expected_random, "{name}");
        assert_eq!(m.scores[2].group, "images");
        assert_eq!(m.draws.len(), 50);
        let expected_images: Vec<f64> = m.draws.iter().map(|s| share_by_hand(&labels, s)).collect();
        assert_eq!(m.scores[2].label_share, expected_images, "{name}");
        // The statistics are those of the expected scores.
        let share = &m.stats[0];
        assert_eq!(share.score, "label_share");
        let mean = expected_natural.iter().sum::<f64>() / d as f64;
        let g = share.group("natural").unwrap();
        assert_eq!(g.n, d);
        assert!(
            (g.mean - mean).abs() < 1e-12,
            "{name}: {} vs {mean}",
            g.mean
        );
        let t = share.test("natural", "images").unwrap();
        let (diff, welch_t) = welch_by_hand(&expected_natural, &expected_images);
        assert!((t.difference - diff).abs() < 1e-12, "{name}: {t:?}");
        assert!(
            (t.welch_t - welch_t).abs() < 1e-9,
            "{name}: {t:?} vs t = {welch_t}"
        );
        // The outcome: units are more coherent than random images.
        assert!(diff > 0.2, "{name}: {diff}");
        assert_eq!(
            share.beats("natural", "images"),
            Some(true),
            "{name}: {t:?}"
        );
        assert!(m.degenerate_units.is_empty());
        assert!(m.tied_units.is_empty() && m.activation_tied_units.is_empty());
        // Only natural directions: no natural-vs-random test, still the image floor.
        let only = UnitsConfig {
            directions: DirectionChoice::Natural,
            ..config.clone()
        };
        let m = measure(&Identity(d), &set, &reference, &only, &device).unwrap();
        assert!(m.random.is_none());
        assert!(m.stats[0].test("natural", "random").is_none());
        assert!(m.stats[0].test("natural", "images").is_some());
        // The same images without labels (a folder of photos): the same top-k sets and
        // distances, no label share, and the distance statistics alone.
        let unlabelled = ImageSet {
            labels: None,
            ..set
        };
        let m = measure(&Identity(d), &unlabelled, &reference, &config, &device).unwrap();
        let (_, top) = m.natural.as_ref().unwrap();
        for u in 0..d {
            unit.fill(0.0);
            unit[u] = 1.0;
            assert_eq!(
                top.row(u),
                top_by_hand(&unit).as_slice(),
                "{name}: unit {u}"
            );
        }
        assert_eq!(m.scores[0].reference_distance, natural.reference_distance);
        assert!(m.scores.iter().all(|g| g.label_share.is_empty()), "{name}");
        assert_eq!(m.stats.len(), 1, "{name}");
        assert_eq!(m.stats[0].score, "reference_distance");
        assert_eq!(m.stats[0].groups.len(), 3);
    }
    // Labels of another length than the images.
    let wrong = ImageSet {
        labels: Some(&labels[..119]),
        ..set
    };
    assert!(matches!(
        measure(
            &Identity(d),
            &wrong,
            &reference,
            &config,
            &test_devices()[0].1
        ),
        Err(UnitsError::Shape {
            expected: 120,
            found: 119,
            ..
        })
    ));
    // Features of two images for a set of 120.
    let short = Reference::new(&x[..2 * d], d).unwrap();
    assert!(matches!(
        measure(&Identity(d), &set, &short, &config, &test_devices()[0].1),
        Err(UnitsError::Shape {
            expected: 960,
            found: 16,
            ..
        })
    ));
}

#[test]
fn an_image_set_from_a_data_set_borrows_its_images_labels_and_shape() {
    let shape = ImageShape::new(3, 2, 2);
    let images: Vec<f32> = (0..2 * 12).map(|v| v as f32 / 24.0).collect();
    let data = Dataset::new(images.clone(), vec![7, 70_000], shape).unwrap();
    let set = ImageSet::from(&data);
    assert_eq!(set.images, images.as_slice());
    assert_eq!(set.labels, Some(&[7, 70_000][..]));
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
    // The model of the data's width accepts both. Image i is (4i, 4i+1, 4i+2, 4i+3): every
    // unit's top 3 are images 9, 8, 7, labels 1, 0, 1.
    let m = measure(&Identity(4), &set, &reference, &config, device).unwrap();
    assert_eq!((m.layers, m.width), (1, 4));
    let (_, top) = m.natural.as_ref().unwrap();
    for u in 0..4 {
        assert_eq!(top.row(u), [9, 8, 7], "unit {u}");
    }
    assert_eq!(m.scores[0].label_share, [2.0 / 3.0; 4]);
    let (features, width) = layer_features(&Identity(4), 0, &x, 4, 8, device).unwrap();
    assert_eq!((features, width), (x, 4));
}
