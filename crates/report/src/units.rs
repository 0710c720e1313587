//! Section 3 and Figures 1–2: are the units of a layer more interpretable than random
//! directions?
//!
//! The paper shows the images that maximize `⟨φ(x), e_i⟩` (a unit) and `⟨φ(x), v⟩` (a random
//! direction) and argues from the pictures that both rows look equally "semantic". The units
//! stage adds a measurement that does not look at the network under study: the coherence of
//! each top-k set, by the share of its most common label and by the mean pairwise distance of
//! its images in the feature space of an independently trained model, for every unit, as many
//! random directions, and random draws of k images. This module holds those numbers as plain
//! data and renders them.

use serde::{Deserialize, Serialize};

/// The level of both tests below which two groups count as different.
pub const ALPHA: f64 = 0.05;
/// The smallest |Cohen's d| that counts as a real difference (Cohen's "small" effect).
pub const MIN_EFFECT: f64 = 0.2;

/// One group of coherence scores (natural directions, random directions or random images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// `natural`, `random` or `images`.
    pub group: String,
    /// Number of scores (directions or draws).
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (`n − 1`).
    pub std: f64,
    /// Lower end of the 95% confidence interval of the mean (Student t).
    pub ci_low: f64,
    /// Upper end of the 95% confidence interval of the mean.
    pub ci_high: f64,
}

/// Two groups compared: Welch's t-test, the Mann–Whitney U test and effect sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoSample {
    /// The first group's name.
    pub a: String,
    /// The second group's name.
    pub b: String,
    /// `mean(a) − mean(b)`.
    pub difference: f64,
    /// Welch's t statistic.
    pub welch_t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub welch_df: f64,
    /// Two-sided p-value of Welch's test.
    pub welch_p: f64,
    /// Mann–Whitney U of group `a`.
    pub mann_whitney_u: f64,
    /// Two-sided p-value of the Mann–Whitney test (normal approximation, tie and continuity
    /// corrections).
    pub mann_whitney_p: f64,
    /// Cohen's d, `(mean(a) − mean(b)) / pooled sd`.
    pub cohens_d: f64,
    /// `P(a > b) + P(a = b)/2` for one score of each group, `U / (n_a n_b)`.
    pub auc: f64,
}

impl TwoSample {
    /// Whether the groups can be told apart: both tests below [`ALPHA`] and |d| at least
    /// [`MIN_EFFECT`].
    pub fn distinguishable(&self) -> bool {
        self.welch_p < ALPHA && self.mann_whitney_p < ALPHA && self.cohens_d.abs() >= MIN_EFFECT
    }

    /// Cohen's name for the size of `d`.
    pub fn effect(&self) -> &'static str {
        let d = self.cohens_d.abs();
        if !d.is_finite() {
            "undefined"
        } else if d < 0.2 {
            "negligible"
        } else if d < 0.5 {
            "small"
        } else if d < 0.8 {
            "medium"
        } else {
            "large"
        }
    }
}

/// One coherence score over the three groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreStats {
    /// `label_share` or `reference_distance`.
    pub score: String,
    /// Whether a higher score means a more coherent set (label share) or a lower one
    /// (distance).
    pub higher_is_coherent: bool,
    /// One summary per group present.
    pub groups: Vec<GroupSummary>,
    /// Pairwise comparisons: `natural` vs `random`, each direction kind vs `images`.
    pub tests: Vec<TwoSample>,
}

impl ScoreStats {
    /// The comparison of `a` with `b`, if computed.
    pub fn test(&self, a: &str, b: &str) -> Option<&TwoSample> {
        self.tests.iter().find(|t| t.a == a && t.b == b)
    }

    /// The summary of a group, if present.
    pub fn group(&self, name: &str) -> Option<&GroupSummary> {
        self.groups.iter().find(|g| g.group == name)
    }

    /// Whether `a` is significantly *more coherent* than `b` (distinguishable, and the
    /// difference points the coherent way).
    pub fn beats(&self, a: &str, b: &str) -> Option<bool> {
        self.test(a, b)
            .map(|t| t.distinguishable() && ((t.difference > 0.0) == self.higher_is_coherent))
    }
}

impl std::fmt::Display for ScoreStats {
    /// One line: every group's mean with its 95% interval, then every test's Welch p-value and
    /// Cohen's d, e.g. `label share: natural 0.412 [0.380, 0.444], random 0.405 [0.371, 0.439];
    /// natural vs random: Welch p = 0.6200, d = 0.07 (negligible)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:", score_label(&self.score))?;
        for (i, g) in self.groups.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let (mean, low, high) = (fmt(g.mean), fmt(g.ci_low), fmt(g.ci_high));
            write!(f, "{sep} {} {mean} [{low}, {high}]", g.group)?;
        }
        for t in &self.tests {
            write!(
                f,
                "; {} vs {}: Welch p = {}, d = {:.2} ({})",
                t.a,
                t.b,
                fmt_p(t.welch_p),
                t.cohens_d,
                t.effect()
            )?;
        }
        Ok(())
    }
}

/// The units measurement of one model and layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitsResult {
    /// Run id of the model under study.
    pub model: String,
    /// Hidden layer index (into the classifier's activations, input side first).
    pub layer: usize,
    /// Number of hidden layers of the model.
    pub layers: usize,
    /// Width of the layer.
    pub width: usize,
    /// Images per top-k set.
    pub k: usize,
    /// The image set (`first 10000 test images`).
    pub image_set: String,
    /// Natural directions measured (units, possibly an evenly spaced subset).
    pub natural_directions: usize,
    /// Of those, units constant on part of their top-k set at their minimum over the set
    /// (dead or nearly dead units); left out of the scores.
    pub degenerate_units: usize,
    /// What the units' images were ranked by: `pre-activation` (the unit's input before its
    /// nonlinearity, which orders like the activation and does not tie where float32 rounds a
    /// saturated sigmoid to 1) or `activation`. Empty in results written before the ranking
    /// was recorded.
    #[serde(default)]
    pub unit_ranking: String,
    /// Units whose ranking score ties at the k-th place: their top-k set took the lowest
    /// image indices among the tied images.
    #[serde(default)]
    pub tied_units: usize,
    /// Units whose activation ties at the k-th place (more than k images at the same value,
    /// e.g. a sigmoid saturated at 1.0): ranked by the activation, their top-k set would be
    /// decided by tie-breaking.
    #[serde(default)]
    pub activation_tied_units: usize,
    /// The most test images tied at one unit's k-th activation.
    #[serde(default)]
    pub largest_activation_tie: usize,
    /// Random directions measured.
    pub random_directions: usize,
    /// Random directions whose score ties at the k-th place (lowest image indices taken).
    #[serde(default)]
    pub tied_random_directions: usize,
    /// Draws of k random images (the baseline).
    pub image_draws: usize,
    /// Seed of the random directions and draws.
    pub seed: u64,
    /// The independent model and layer whose features give the distance score.
    pub reference: String,
    /// Label share and reference distance over the groups.
    pub scores: Vec<ScoreStats>,
    /// Figure 1 counterpart (relative to the report: `figures/<model>-units-natural.png`).
    pub figure_natural: Option<String>,
    /// Figure 2 counterpart.
    pub figure_random: Option<String>,
    /// Wall-clock seconds of the measurement.
    pub seconds: f64,
}

impl UnitsResult {
    /// The statistics of a score, if computed.
    pub fn score(&self, name: &str) -> Option<&ScoreStats> {
        self.scores.iter().find(|s| s.score == name)
    }

    /// How the units were ranked and how many tied, e.g. `ranked by pre-activation: 38 units
    /// tie at the k-th activation (up to 991 images), 0 at the k-th pre-activation`.
    pub fn ties(&self) -> String {
        let mut out = match self.unit_ranking.as_str() {
            "" => "ranking not recorded".to_string(),
            ranking => format!("ranked by {ranking}"),
        };
        out += &format!(
            ": {} units tie at the k-th activation",
            self.activation_tied_units
        );
        if self.activation_tied_units > 0 {
            out += &format!(" (up to {} images)", self.largest_activation_tie);
        }
        if self.unit_ranking == "pre-activation" {
            out += &format!(", {} at the k-th pre-activation", self.tied_units);
        }
        out
    }

    /// One line: can natural and random directions be told apart, and do both beat random
    /// images?
    pub fn verdict(&self) -> String {
        let mut apart = Vec::new();
        let mut same = Vec::new();
        // Per kind of direction: scores on which it beats random images, and on which not.
        let mut beat: [(Vec<&str>, Vec<&str>); 2] = Default::default();
        for s in &self.scores {
            let name = score_label(&s.score);
            if let Some(t) = s.test("natural", "random") {
                if t.distinguishable() {
                    let better = if (t.difference > 0.0) == s.higher_is_coherent {
                        "units more coherent"
                    } else {
                        "random directions more coherent"
                    };
                    apart.push(format!("{name} ({better}, d = {:.2})", t.cohens_d));
                } else {
                    same.push(name.to_string());
                }
            }
            for (slot, kind) in ["natural", "random"].into_iter().enumerate() {
                match s.beats(kind, "images") {
                    Some(true) => beat[slot].0.push(name),
                    Some(false) => beat[slot].1.push(name),
                    None => {}
                }
            }
        }
        let mut out = String::new();
        if !apart.is_empty() {
            out += &format!(
                "natural and random directions **can be told apart** by {}",
                apart.join(" and ")
            );
        }
        if !same.is_empty() {
            if !out.is_empty() {
                out += "; ";
            }
            out += &format!("they **cannot be told apart** by {}", same.join(" or "));
        }
        if out.is_empty() {
            out += "only one kind of direction was measured";
        }
        let describe = |who: &str, (yes, no): &(Vec<&str>, Vec<&str>)| -> Option<String> {
            let mut parts = Vec::new();
            if !yes.is_empty() {
                parts.push(format!("beat random images on {}", yes.join(" and ")));
            }
            if !no.is_empty() {
                parts.push(format!("do not beat random images on {}", no.join(" or ")));
            }
            (!parts.is_empty()).then(|| format!("{who} {}", parts.join(" but ")))
        };
        let floor = if beat[0] == beat[1] {
            describe("units and random directions both", &beat[0])
                .into_iter()
                .collect()
        } else {
            [
                describe("units", &beat[0]),
                describe("random directions", &beat[1]),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
        };
        if !floor.is_empty() {
            out += &format!(". {}.", floor.join("; "));
        }
        out
    }
}

fn score_label(score: &str) -> &str {
    match score {
        "label_share" => "label share",
        "reference_distance" => "reference distance",
        other => other,
    }
}

fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

fn fmt_p(p: f64) -> String {
    if !p.is_finite() {
        "–".into()
    } else if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// The Markdown section: Figures 1–2 for every measured model and layer, the table of
/// coherence scores with 95% confidence intervals, the tests, and one verdict per model and
/// layer.
pub fn render_units_section(results: &[UnitsResult]) -> String {
    let mut out = String::from("## Section 3, Figures 1–2: units versus random directions\n\n");
    out += "The paper shows the test images that maximize one unit, `argmax ⟨φ(x), e_i⟩` \
            (Figure 1), beside those that maximize a random direction, `argmax ⟨φ(x), v⟩` \
            (Figure 2), and concludes from the pictures that \"the natural basis is not better \
            than a random basis\". Below, each row is one direction and holds its top-k images, \
            best first: units on the left, random unit-length Gaussian directions on the right.\n\n";
    if results.is_empty() {
        out += "*No units results in this run.*\n";
        return out;
    }
    for r in results {
        if let (Some(n), Some(v)) = (&r.figure_natural, &r.figure_random) {
            out += &format!(
                "**{}, layer {} of {} ({} units), k = {}.** Units (Figure 1) | random directions (Figure 2):\n\n\
                 ![{} units]({n}) ![{} random directions]({v})\n\n",
                r.model, r.layer, r.layers, r.width, r.k, r.model, r.model
            );
        }
    }
    out += "Units are ranked by their pre-activation where the model exposes it (every model \
            of the catalogue): it orders the images like the activation, and separates the \
            images on which a sigmoid unit saturates to exactly 1.0 in float32, which would \
            otherwise be ordered by the sort's tie-breaking. Random directions are ranked by \
            `⟨φ(x), v⟩`. Remaining ties at the k-th place go to the lowest test-image index and \
            are counted below.\n\n";
    out += "The measurement does not look at the network under study. For each direction's \
            top-k set: the **label share** (share of the most common true label among the k \
            images; higher is more coherent) and the **reference distance** (mean pairwise \
            Euclidean distance of the k images in the last hidden layer of an independently \
            trained model of another architecture; lower is more coherent). Groups: every unit \
            of the layer (*natural*, degenerate units left out), as many random directions \
            (*random*), and draws of k random test images (*images*, the floor). Intervals \
            are 95% Student-t intervals of the mean. The groups are compared with Welch's \
            t-test and the Mann–Whitney U test (two-sided); two groups count as *told apart* \
            when both p < 0.05 and |Cohen's d| ≥ 0.2. AUC is the probability that a score of \
            the first group exceeds one of the second.\n\n";
    out += "| model | layer | score | natural | random | random images | natural − random | Welch p | Mann–Whitney p | d | AUC |\n";
    out += "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for r in results {
        for s in &r.scores {
            let g = |name: &str| {
                s.group(name).map_or("–".into(), |g| {
                    format!(
                        "{} [{}, {}] (n={})",
                        fmt(g.mean),
                        fmt(g.ci_low),
                        fmt(g.ci_high),
                        g.n
                    )
                })
            };
            let t = s.test("natural", "random");
            out += &format!(
                "| {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.model,
                r.layer,
                r.width,
                score_label(&s.score),
                g("natural"),
                g("random"),
                g("images"),
                t.map_or("–".into(), |t| fmt(t.difference)),
                t.map_or("–".into(), |t| fmt_p(t.welch_p)),
                t.map_or("–".into(), |t| fmt_p(t.mann_whitney_p)),
                t.map_or("–".into(), |t| format!("{:.2}", t.cohens_d)),
                t.map_or("–".into(), |t| format!("{:.2}", t.auc)),
            );
        }
    }
    out += "\nAgainst random images (Welch p / Mann–Whitney p / d):\n\n";
    out += "| model | layer | score | units vs images | random directions vs images |\n|---|---|---|---|---|\n";
    for r in results {
        for s in &r.scores {
            let t = |a: &str| {
                s.test(a, "images").map_or("–".into(), |t| {
                    format!(
                        "{} / {} / {:.2}",
                        fmt_p(t.welch_p),
                        fmt_p(t.mann_whitney_p),
                        t.cohens_d
                    )
                })
            };
            out += &format!(
                "| {} | {} | {} | {} | {} |\n",
                r.model,
                r.layer,
                score_label(&s.score),
                t("natural"),
                t("random")
            );
        }
    }
    out += "\nVerdicts:\n\n";
    for r in results {
        out += &format!(
            "- **{} layer {}** ({} units, {} degenerate; {}; {} random directions, {} tied at \
             the k-th place; {} image draws; k = {}; reference: {}; {}; {:.0} s): {}\n",
            r.model,
            r.layer,
            r.natural_directions,
            r.degenerate_units,
            r.ties(),
            r.random_directions,
            r.tied_random_directions,
            r.image_draws,
            r.k,
            r.reference,
            r.image_set,
            r.seconds,
            r.verdict()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, mean: f64) -> GroupSummary {
        GroupSummary {
            group: name.into(),
            n: 100,
            mean,
            std: 0.1,
            ci_low: mean - 0.02,
            ci_high: mean + 0.02,
        }
    }

    fn test(a: &str, b: &str, difference: f64, p: f64, d: f64) -> TwoSample {
        TwoSample {
            a: a.into(),
            b: b.into(),
            difference,
            welch_t: 0.0,
            welch_df: 198.0,
            welch_p: p,
            mann_whitney_u: 0.0,
            mann_whitney_p: p,
            cohens_d: d,
            auc: 0.5,
        }
    }

    fn result() -> UnitsResult {
        UnitsResult {
            model: "conv".into(),
            layer: 1,
            layers: 2,
            width: 256,
            k: 10,
            image_set: "first 10000 test images".into(),
            natural_directions: 256,
            degenerate_units: 3,
            unit_ranking: "pre-activation".into(),
            tied_units: 1,
            activation_tied_units: 38,
            largest_activation_tie: 991,
            random_directions: 256,
            tied_random_directions: 2,
            image_draws: 1000,
            seed: 0,
            reference: "n100-100-10-p2 layer 1".into(),
            scores: vec![
                ScoreStats {
                    score: "label_share".into(),
                    higher_is_coherent: true,
                    groups: vec![
                        group("natural", 0.8),
                        group("random", 0.7),
                        group("images", 0.2),
                    ],
                    tests: vec![
                        test("natural", "random", 0.1, 1e-6, 0.9),
                        test("natural", "images", 0.6, 1e-9, 3.0),
                        test("random", "images", 0.5, 1e-9, 3.0),
                    ],
                },
                ScoreStats {
                    score: "reference_distance".into(),
                    higher_is_coherent: false,
                    groups: vec![group("natural", 5.0), group("random", 5.0)],
                    tests: vec![test("natural", "random", 0.0, 0.7, 0.01)],
                },
            ],
            figure_natural: Some("figures/conv-units-natural.png".into()),
            figure_random: Some("figures/conv-units-random.png".into()),
            seconds: 12.0,
        }
    }

    #[test]
    fn score_stats_display_every_group_and_test_on_one_line() {
        let r = result();
        assert_eq!(
            r.scores[1].to_string(),
            "reference distance: natural 5.000 [4.980, 5.020], random 5.000 [4.980, 5.020]; \
             natural vs random: Welch p = 0.7000, d = 0.01 (negligible)"
        );
        let share = r.scores[0].to_string();
        assert!(!share.contains('\n'), "{share}");
        assert!(
            share.starts_with("label share: natural 0.800 [0.780, 0.820], random 0.700"),
            "{share}"
        );
        assert!(
            share.ends_with("; random vs images: Welch p = 1.0e-9, d = 3.00 (large)"),
            "{share}"
        );
        let empty = ScoreStats {
            score: "label_share".into(),
            higher_is_coherent: true,
            groups: Vec::new(),
            tests: Vec::new(),
        };
        assert_eq!(empty.to_string(), "label share:");
    }

    #[test]
    fn verdict_separates_scores_and_checks_the_image_floor() {
        let r = result();
        let v = r.verdict();
        assert!(
            v.contains("can be told apart** by label share (units more coherent"),
            "{v}"
        );
        assert!(
            v.contains("cannot be told apart** by reference distance"),
            "{v}"
        );
        assert!(
            v.contains("units and random directions both beat random images on label share."),
            "{v}"
        );
        let mut r = r;
        r.scores[0].tests[2].welch_p = 0.5;
        let v = r.verdict();
        assert!(
            v.contains(
                "units beat random images on label share; \
                 random directions do not beat random images on label share"
            ),
            "{v}"
        );
    }

    #[test]
    fn section_links_both_figures_and_lists_every_score() {
        let md = render_units_section(&[result()]);
        assert!(
            md.contains("![conv units](figures/conv-units-natural.png)"),
            "{md}"
        );
        assert!(md.contains("![conv random directions](figures/conv-units-random.png)"));
        assert!(md.contains("| conv | 1 (256) | label share | 0.800 [0.780, 0.820] (n=100)"));
        assert!(md.contains("| conv | 1 (256) | reference distance |"));
        assert!(md.contains("1.0e-6"), "{md}");
        assert!(render_units_section(&[]).contains("No units results"));
    }

    #[test]
    fn section_states_the_ranking_and_counts_the_ties() {
        let mut r = result();
        assert_eq!(
            r.ties(),
            "ranked by pre-activation: 38 units tie at the k-th activation (up to 991 images), \
             1 at the k-th pre-activation"
        );
        let md = render_units_section(std::slice::from_ref(&r));
        assert!(
            md.contains(
                "(256 units, 3 degenerate; ranked by pre-activation: 38 units tie at the k-th \
                 activation (up to 991 images), 1 at the k-th pre-activation; 256 random \
                 directions, 2 tied at the k-th place;"
            ),
            "{md}"
        );
        assert!(
            md.contains("Units are ranked by their pre-activation"),
            "{md}"
        );
        r.unit_ranking = "activation".into();
        r.activation_tied_units = 0;
        assert_eq!(
            r.ties(),
            "ranked by activation: 0 units tie at the k-th activation"
        );
        // A result written before the ranking was recorded reads with zero counts.
        let mut json = serde_json::to_value(result()).unwrap();
        for key in [
            "unit_ranking",
            "tied_units",
            "activation_tied_units",
            "largest_activation_tie",
            "tied_random_directions",
        ] {
            json.as_object_mut().unwrap().remove(key);
        }
        let old: UnitsResult = serde_json::from_value(json).unwrap();
        assert_eq!((old.tied_units, old.activation_tied_units), (0, 0));
        assert_eq!(
            old.ties(),
            "ranking not recorded: 0 units tie at the k-th activation"
        );
    }

    #[test]
    fn distinguishable_needs_both_tests_and_an_effect() {
        assert!(test("a", "b", 1.0, 0.01, 0.5).distinguishable());
        assert!(!test("a", "b", 1.0, 0.01, 0.1).distinguishable());
        assert!(!test("a", "b", 1.0, 0.2, 0.9).distinguishable());
        assert_eq!(test("a", "b", 1.0, 0.01, -0.9).effect(), "large");
    }
}
