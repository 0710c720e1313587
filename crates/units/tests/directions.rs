//! Random directions: unit length, reproducible from the seed, different across seeds.

mod common;

use blindspot_units::{Directions, UnitsError};
use common::Lcg;

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
    assert!(matches!(
        Directions::random(0, 3, 0),
        Err(UnitsError::InvalidParameter(m)) if m.contains("(width 0, count 3)")
    ));
    assert!(matches!(
        Directions::random(5, 0, 0),
        Err(UnitsError::InvalidParameter(m)) if m.contains("(width 5, count 0)")
    ));
}

/// Φ, the standard normal distribution function, from erfc by its continued fraction
/// (Numerical Recipes' `erfcc`, relative error below 1.2e-7 everywhere).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// The Kolmogorov–Smirnov distance `sup_x |F_n(x) − Φ(x)|` of `√n · v` from N(0, 1).
fn ks_from_normal(v: &[f32]) -> f64 {
    let n = v.len() as f64;
    let mut s: Vec<f64> = v.iter().map(|&x| f64::from(x) * n.sqrt()).collect();
    s.sort_by(f64::total_cmp);
    s.iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = normal_cdf(x);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max)
}

#[test]
fn random_direction_coordinates_look_gaussian() {
    // v uniform on the sphere of R^n: √n · v_i is N(0, 1) up to O(1/n). The Kolmogorov
    // distance of n = 4,000 true N(0, 1) draws exceeds 1.95/√n (0.031) with probability
    // 0.001 (Kolmogorov's limit law), so a correct sampler fails this at 1 seed in 1,000;
    // e₁ (3,999 zeros) is at about 0.5, and a coordinate-wise uniform vector at about 0.06.
    let n = 4_000;
    let bound = 1.95 / (n as f64).sqrt();
    let set = Directions::random(n, 3, 3).unwrap();
    for j in 0..3 {
        let d = ks_from_normal(&set.vector(j).unwrap());
        assert!(d < bound, "direction {j}: KS distance {d} ≥ {bound}");
    }
    let mut e1 = vec![0.0f32; n];
    e1[0] = 1.0;
    let d = ks_from_normal(&e1);
    assert!(d > 0.49, "e₁: KS distance {d}");
    // Uniform on [−√3, √3] (mean 0, variance 1, unit length after scaling by 1/√n) is not
    // Gaussian either: its KS distance from N(0, 1) is about 0.058, past the bound.
    let mut rng = Lcg::new(1);
    let u: Vec<f32> = (0..n)
        .map(|_| ((2.0 * rng.next_f64() - 1.0) * 3f64.sqrt() / (n as f64).sqrt()) as f32)
        .collect();
    let d = ks_from_normal(&u);
    assert!(d > bound, "uniform: KS distance {d}");
    // The check itself: Φ at known points.
    assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
    assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-7);
    assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-7);
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
