//! Two-sample statistics for the coherence scores: means with 95% Student-t confidence
//! intervals, Welch's t-test, the Mann–Whitney U test and effect sizes.
//!
//! - Welch: `t = (m_a − m_b) / √(s_a²/n_a + s_b²/n_b)` with the Welch–Satterthwaite degrees of
//!   freedom `ν = (s_a²/n_a + s_b²/n_b)² / ((s_a²/n_a)²/(n_a−1) + (s_b²/n_b)²/(n_b−1))`; the
//!   two-sided p-value is `P(|T_ν| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, 1/2)` (regularized incomplete
//!   beta function, by its continued fraction).
//! - Mann–Whitney: `U_a = R_a − n_a(n_a+1)/2` from mid-ranks, `z = (U_a − n_a n_b/2 ∓ ½)/σ`
//!   with the tie-corrected `σ² = n_a n_b/12 · (N + 1 − Σ(t³ − t)/(N(N − 1)))`; the p-value is
//!   `erfc(|z|/√2)`. `AUC = U_a/(n_a n_b)`.
//! - Cohen's d: `(m_a − m_b)/s_p` with the pooled `s_p² = ((n_a−1)s_a² + (n_b−1)s_b²)/(N−2)`.
//!
//! `erfc` is the Chebyshev fit of *Numerical Recipes* (relative error below 1.2·10⁻⁷) and
//! `ln Γ` the Lanczos series (g = 7, 9 terms); the scores are discrete and the samples in the
//! hundreds, so these are far more precise than the tests themselves. Non-finite scores are
//! left out of every statistic.

use blindspot_report::units::{GroupSummary, TwoSample};

/// Finite values only.
fn finite(x: &[f64]) -> Vec<f64> {
    x.iter().copied().filter(|v| v.is_finite()).collect()
}

/// Mean and sample variance (`n − 1`; NaN below 2 values).
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (m, f64::NAN);
    }
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m, v)
}

/// Mean, standard deviation and the 95% Student-t interval of the mean of a group.
pub fn summarize(group: &str, values: &[f64]) -> GroupSummary {
    let x = finite(values);
    let (mean, var) = mean_var(&x);
    let std = var.sqrt();
    let n = x.len();
    let half = if n >= 2 {
        t_quantile(0.975, (n - 1) as f64) * std / (n as f64).sqrt()
    } else {
        f64::NAN
    };
    GroupSummary {
        group: group.into(),
        n,
        mean,
        std,
        ci_low: mean - half,
        ci_high: mean + half,
    }
}

/// Welch's t statistic, degrees of freedom and two-sided p-value.
pub fn welch(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let (a, b) = (finite(a), finite(b));
    if a.len() < 2 || b.len() < 2 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let ((ma, va), (mb, vb)) = (mean_var(&a), mean_var(&b));
    let (sa, sb) = (va / a.len() as f64, vb / b.len() as f64);
    let se2 = sa + sb;
    if se2 == 0.0 {
        // Both groups constant: equal means are no evidence, different ones are certain.
        return if ma == mb {
            (0.0, f64::NAN, 1.0)
        } else {
            ((ma - mb).signum() * f64::INFINITY, f64::NAN, 0.0)
        };
    }
    let t = (ma - mb) / se2.sqrt();
    let df = se2 * se2 / (sa * sa / (a.len() - 1) as f64 + sb * sb / (b.len() - 1) as f64);
    (t, df, student_t_two_sided_p(t, df))
}

/// The Mann–Whitney `U_a`, its two-sided p-value (normal approximation with tie and
/// continuity corrections) and `AUC = U_a/(n_a n_b)`.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let (a, b) = (finite(a), finite(b));
    if a.is_empty() || b.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let (mut rank_a, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let rank = (i + j + 2) as f64 / 2.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        rank_a += rank * all[i..=j].iter().filter(|e| e.1).count() as f64;
        i = j + 1;
    }
    let u = rank_a - na * (na + 1.0) / 2.0;
    let auc = u / (na * nb);
    let nn = n as f64;
    let var = if n > 1 {
        na * nb / 12.0 * ((nn + 1.0) - ties / (nn * (nn - 1.0)))
    } else {
        0.0
    };
    let mu = na * nb / 2.0;
    if var <= 0.0 {
        return (u, 1.0, auc);
    }
    let diff = u - mu;
    let corrected = if diff.abs() <= 0.5 {
        0.0
    } else {
        diff - 0.5 * diff.signum()
    };
    let z = corrected / var.sqrt();
    (u, normal_two_sided_p(z), auc)
}

/// Cohen's d with the pooled standard deviation (0 when both groups are constant and equal).
pub fn cohens_d(a: &[f64], b: &[f64]) -> f64 {
    let (a, b) = (finite(a), finite(b));
    if a.len() < 2 || b.len() < 2 {
        return f64::NAN;
    }
    let ((ma, va), (mb, vb)) = (mean_var(&a), mean_var(&b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled = (((na - 1.0) * va + (nb - 1.0) * vb) / (na + nb - 2.0)).sqrt();
    if pooled == 0.0 {
        return if ma == mb {
            0.0
        } else {
            (ma - mb).signum() * f64::INFINITY
        };
    }
    (ma - mb) / pooled
}

/// Both tests and both effect sizes of `a` against `b`.
pub fn two_sample(a_name: &str, a: &[f64], b_name: &str, b: &[f64]) -> TwoSample {
    let (welch_t, welch_df, welch_p) = welch(a, b);
    let (mann_whitney_u, mann_whitney_p, auc) = mann_whitney(a, b);
    let (ma, _) = mean_var(&finite(a));
    let (mb, _) = mean_var(&finite(b));
    TwoSample {
        a: a_name.into(),
        b: b_name.into(),
        difference: ma - mb,
        welch_t,
        welch_df,
        welch_p,
        mann_whitney_u,
        mann_whitney_p,
        cohens_d: cohens_d(a, b),
        auc,
    }
}

/// The complementary error function `erfc(x) = 2/√π ∫_x^∞ e^{−t²} dt` (relative error below
/// 1.2·10⁻⁷).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

/// `P(|Z| ≥ |z|)` for a standard normal `Z`.
pub fn normal_two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// `P(|T| ≥ |t|)` for Student's t with `df` degrees of freedom (the normal limit for infinite
/// `df`).
pub fn student_t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    if df.is_infinite() || df > 1e7 {
        return normal_two_sided_p(t);
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The `q` quantile (`q` in `(0.5, 1)`) of Student's t with `df` degrees of freedom, by
/// bisection on [`student_t_two_sided_p`].
pub fn t_quantile(q: f64, df: f64) -> f64 {
    if !(0.5..1.0).contains(&q) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    let target = 2.0 * (1.0 - q);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while student_t_two_sided_p(hi, df) > target && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if student_t_two_sided_p(mid, df) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, &c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function `I_x(a, b)`.
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of `I_x(a, b)` (modified Lentz, as in *Numerical Recipes*).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=500 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from the standard tables (R: `2*pt(-2, 10)`, `qt(0.975, 10)`,
    // `2*pnorm(-1.96)`, `erfc(1)`).
    #[test]
    fn special_functions_match_tables() {
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
        assert!((normal_two_sided_p(1.96) - 0.049_995_8).abs() < 1e-6);
        assert!((student_t_two_sided_p(2.0, 10.0) - 0.073_388_9).abs() < 1e-6);
        assert!((t_quantile(0.975, 10.0) - 2.228_139).abs() < 1e-5);
        assert!((t_quantile(0.975, 1e9) - 1.959_964).abs() < 1e-4);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn mann_whitney_counts_pairs() {
        // a beats b in every pair: U = n_a n_b, AUC = 1.
        let (u, _, auc) = mann_whitney(&[3.0, 4.0, 5.0], &[0.0, 1.0]);
        assert_eq!((u, auc), (6.0, 1.0));
        // Full ties: no evidence.
        let (_, p, auc) = mann_whitney(&[1.0; 5], &[1.0; 7]);
        assert_eq!((p, auc), (1.0, 0.5));
    }
}
