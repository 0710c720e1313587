//! The top-k images of a direction, streamed in batches, against a host sort.

mod common;

use blindspot_units::{Directions, Ranking, UnitsError, top_k};
use common::{Identity, Lcg, host_top_k, test_devices};

#[test]
fn top_k_of_a_unit_are_the_images_with_the_largest_coordinate() {
    let (n, d, k) = (203, 6, 7);
    let x = Lcg::new(1).matrix(n, d);
    let units = Directions::units(d, None).unwrap();
    for (name, device) in test_devices() {
        // Batches of 50 do not divide 203: the last batch is short.
        let tops = top_k(&Identity(d), 0, &x, d, &[&units], k, 50, &device).unwrap();
        let top = &tops[0];
        assert_eq!((top.k, top.directions), (k, d));
        // Identity exposes no pre-activations: ranked by φ, which has no ties here.
        assert_eq!(top.ranking, Ranking::Activation);
        assert_eq!(top.ties, [0; 6], "{name}");
        assert_eq!(top.activation_ties, [0; 6], "{name}");
        for i in 0..d {
            let expected = host_top_k(n, k, |j| f64::from(x[j * d + i]));
            assert_eq!(top.row(i), expected.as_slice(), "{name}: unit {i}");
            let values: Vec<f32> = expected.iter().map(|&j| x[j * d + i]).collect();
            assert_eq!(top.row_values(i), values.as_slice(), "{name}: unit {i}");
            assert_eq!(top.row_keys(i), values.as_slice(), "{name}: unit {i}");
            let min = (0..n).map(|j| x[j * d + i]).fold(f32::INFINITY, f32::min);
            assert_eq!(top.minimum[i], min, "{name}");
            assert!(!top.degenerate(i));
        }
    }
}

#[test]
fn top_k_of_a_random_direction_maximizes_the_projection() {
    let (n, d, k) = (150, 5, 4);
    let x = Lcg::new(2).matrix(n, d);
    let random = Directions::random(d, 3, 9).unwrap();
    let units = Directions::units(d, Some(2)).unwrap();
    for (name, device) in test_devices() {
        // Two sets in one pass: each keeps its own rows.
        let tops = top_k(&Identity(d), 0, &x, d, &[&units, &random], k, 64, &device).unwrap();
        assert_eq!(tops[0].directions, 2);
        assert_eq!(
            tops[0].row(1),
            host_top_k(n, k, |j| f64::from(x[j * d + 2])).as_slice()
        );
        for r in 0..3 {
            let v = random.vector(r).unwrap();
            let score = |j: usize| -> f64 {
                (0..d)
                    .map(|c| f64::from(x[j * d + c]) * f64::from(v[c]))
                    .sum()
            };
            assert_eq!(
                tops[1].row(r),
                host_top_k(n, k, score).as_slice(),
                "{name}: {r}"
            );
        }
    }
}

#[test]
fn constant_unit_is_degenerate_and_bad_inputs_are_errors() {
    let (n, d) = (30, 3);
    let mut x = Lcg::new(3).matrix(n, d);
    for j in 0..n {
        x[j * d + 1] = 0.0; // a dead unit
    }
    let units = Directions::units(d, None).unwrap();
    for (_, device) in test_devices() {
        let top = &top_k(&Identity(d), 0, &x, d, &[&units], 5, 8, &device).unwrap()[0];
        assert!(top.degenerate(1));
        assert!(!top.degenerate(0) && !top.degenerate(2));
        assert!(matches!(
            top_k(&Identity(d), 1, &x, d, &[&units], 5, 8, &device),
            Err(UnitsError::NoSuchLayer {
                layer: 1,
                layers: 1
            })
        ));
        assert!(matches!(
            top_k(&Identity(d), 0, &x, d, &[&units], n + 1, 8, &device),
            Err(UnitsError::InvalidParameter(m)) if m == "k must be in 1..=30 (the image set), got 31"
        ));
        // 89 values are not rows of 3: the next whole number below is 29 rows.
        assert!(matches!(
            top_k(&Identity(d), 0, &x[1..], d, &[&units], 5, 8, &device),
            Err(UnitsError::Shape {
                expected: 87,
                found: 89,
                ..
            })
        ));
        let wide = Directions::units(d + 1, None).unwrap();
        assert!(matches!(
            top_k(&Identity(d), 0, &x, d, &[&wide], 5, 8, &device),
            Err(UnitsError::Shape {
                expected: 3,
                found: 4,
                ..
            })
        ));
    }
    assert!(matches!(
        Directions::natural(3, vec![3]),
        Err(UnitsError::NoSuchUnit { unit: 3, width: 3 })
    ));
}
