//! Random directions: unit length, reproducible from the seed, different across seeds.

mod common;

use blindspot_units::Directions;

#[test]
fn random_directions_are_unit_length_and_reproducible() {
    let a = Directions::random(100, 20, 7).unwrap();
    assert_eq!((a.len(), a.width(), a.kind()), (20, 100, "random"));
    for j in 0..20 {
        let v = a.vector(j).unwrap();
        let norm: f64 = v
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "direction {j}: |v| = {norm}");
    }
    assert_eq!(a, Directions::random(100, 20, 7).unwrap());
    let b = Directions::random(100, 20, 8).unwrap();
    assert_ne!(a.vector(0), b.vector(0));
    // Directions within a set differ too, and are nearly orthogonal in 100 dimensions.
    let (v0, v1) = (a.vector(0).unwrap(), a.vector(1).unwrap());
    let dot: f32 = v0.iter().zip(&v1).map(|(p, q)| p * q).sum();
    assert!(dot.abs() < 0.5, "cosine {dot}");
    assert!(Directions::random(0, 3, 0).is_err());
}

#[test]
fn random_direction_coordinates_look_gaussian() {
    // √n · v_i is close to N(0, 1) for large n: mean ≈ 0, variance ≈ 1.
    let n = 4_000;
    let v = Directions::random(n, 1, 3).unwrap().vector(0).unwrap();
    let scaled: Vec<f64> = v
        .iter()
        .map(|&x| f64::from(x) * (n as f64).sqrt())
        .collect();
    let mean = scaled.iter().sum::<f64>() / n as f64;
    let var = scaled.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
    assert!(mean.abs() < 0.1, "mean {mean}");
    assert!((var - 1.0).abs() < 0.1, "variance {var}");
}

#[test]
fn natural_units_are_basis_vectors_and_subsets_are_evenly_spaced() {
    let u = Directions::units(10, Some(4)).unwrap();
    match &u {
        Directions::Natural { units, .. } => assert_eq!(units, &vec![0, 2, 5, 7]),
        other => panic!("{other:?}"),
    }
    assert_eq!(u.vector(1).unwrap(), {
        let mut e = vec![0.0; 10];
        e[2] = 1.0;
        e
    });
    assert_eq!(Directions::units(3, Some(8)).unwrap().len(), 3);
}
