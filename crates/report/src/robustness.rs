//! Robust accuracy against ε: per model and norm, the accuracy under each attack and under the
//! best of all of them (a per-image worst case) at a list of ε, as a table, and the curves
//! behind the figure.

use serde::{Deserialize, Serialize};

/// One attack's (or the best of all's) accuracy at each ε of its table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessRow {
    /// The attack's label (`DDN`, `PGD L2`, …, or `best of all`).
    pub attack: String,
    /// `minimum-norm` (one run gives every ε), `bounded` (one run per ε) or `best`.
    pub kind: String,
    /// Accuracy under attack at each ε of the table, in [0, 1].
    pub accuracy: Vec<f64>,
    /// Minimum-norm attacks: the median distance found over the images it broke (NaN if
    /// none, or for other kinds).
    #[serde(with = "blindspot_data::nan_as_null")]
    pub median_distance: f64,
    /// Seconds the attack took (all its runs; 0 when reused).
    pub seconds: f64,
}

/// The accuracy of one model under attack against ε in one norm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessTable {
    /// The model's run id.
    pub model: String,
    /// `l2` or `linf`.
    pub norm: String,
    /// Test images attacked.
    pub images: usize,
    /// The ε of the table (0 first when the clean accuracy is wanted).
    pub epsilons: Vec<f64>,
    /// One row per attack, then `best of all`.
    pub rows: Vec<RobustnessRow>,
    /// The curves of the figure: minimum-norm attacks and the best of all on a fine grid of
    /// ε, bounded attacks at the table's ε.
    pub curves: Vec<Curve>,
}

/// A curve of accuracy against ε.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Its label.
    pub label: String,
    /// `(ε, accuracy)` points, ε increasing.
    pub points: Vec<(f64, f64)>,
    /// Drawn as markers (runs at single ε) rather than a line.
    pub markers: bool,
}

impl RobustnessTable {
    /// The norm as tables and figures write it: `L2`, `L∞`.
    pub fn norm_symbol(&self) -> &str {
        match self.norm.as_str() {
            "linf" => "L∞",
            "l2" => "L2",
            other => other,
        }
    }

    /// The table as CSV: `attack,kind,median_distance,seconds,acc@ε…`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("attack,kind,median_distance,seconds");
        for e in &self.epsilons {
            out += &format!(",accuracy@{e}");
        }
        out.push('\n');
        for r in &self.rows {
            out += &format!(
                "{},{},{},{:.1}",
                r.attack.replace(',', ";"),
                r.kind,
                if r.median_distance.is_nan() {
                    String::new()
                } else {
                    format!("{:.5}", r.median_distance)
                },
                r.seconds
            );
            for a in &r.accuracy {
                out += &format!(",{a:.4}");
            }
            out.push('\n');
        }
        out
    }

    /// The Markdown table of one model and norm, with the figure `figure` (a path relative to
    /// the report) under it when given.
    pub fn render(&self, figure: Option<&str>) -> String {
        let mut out = format!(
            "### {} under {} attacks ({} test images)\n\n| attack | median distance |",
            self.model,
            self.norm_symbol(),
            self.images
        );
        for e in &self.epsilons {
            out += &format!(" ε = {e} |");
        }
        out += "\n|---|---|";
        out += &"---|".repeat(self.epsilons.len());
        out.push('\n');
        for r in &self.rows {
            let name = if r.kind == "best" {
                format!("**{}**", r.attack)
            } else {
                r.attack.clone()
            };
            let median = if r.median_distance.is_nan() {
                "–".to_string()
            } else {
                format!("{:.3}", r.median_distance)
            };
            out += &format!("| {name} | {median} |");
            for a in &r.accuracy {
                if r.kind == "best" {
                    out += &format!(" **{:.1}%** |", 100.0 * a);
                } else {
                    out += &format!(" {:.1}% |", 100.0 * a);
                }
            }
            out.push('\n');
        }
        if let Some(figure) = figure {
            out += &format!(
                "\n![robust accuracy of {} against {} ε]({figure})\n",
                self.model,
                self.norm_symbol()
            );
        }
        out
    }
}

/// The Markdown section: one table per model and norm, each with its figure
/// (`figures[i]` for `tables[i]`).
pub fn render_robustness_section(tables: &[RobustnessTable], figures: &[String]) -> String {
    let mut out = String::from("## Robust accuracy against ε (beyond the paper)\n\n");
    out += "Accuracy on test images under each attack at distance ε (in the model's input units, \
            pixels in [0, 1]), untargeted. A minimum-norm attack (L-BFGS, DeepFool, DDN, FMN, \
            C&W) breaks an image at every ε at least the distance of the example it found, so \
            one run gives the whole curve; PGD and FGSM run once per ε. **Best of all** breaks \
            an image where any attack did (a per-image worst case, as AutoAttack reports it). \
            ε = 0 is the clean accuracy. Lower is a stronger attack; the best of all is an \
            upper bound on the true robust accuracy.\n\n";
    for (i, t) in tables.iter().enumerate() {
        out += &t.render(figures.get(i).map(String::as_str));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RobustnessTable {
        RobustnessTable {
            model: "softmax1".into(),
            norm: "l2".into(),
            images: 4,
            epsilons: vec![0.0, 1.0],
            rows: vec![
                RobustnessRow {
                    attack: "DDN".into(),
                    kind: "minimum-norm".into(),
                    accuracy: vec![0.75, 0.25],
                    median_distance: 0.8125,
                    seconds: 1.3,
                },
                RobustnessRow {
                    attack: "best of all".into(),
                    kind: "best".into(),
                    accuracy: vec![0.75, 0.0],
                    median_distance: f64::NAN,
                    seconds: 0.0,
                },
            ],
            curves: Vec::new(),
        }
    }

    #[test]
    fn the_table_prints_every_accuracy_and_marks_the_best_of_all() {
        let md = table().render(Some("figures/robustness-softmax1-l2.png"));
        assert!(md.contains("| ε = 0 | ε = 1 |"), "{md}");
        assert!(md.contains("| DDN | 0.812 | 75.0% | 25.0% |"), "{md}");
        assert!(
            md.contains("| **best of all** | – | **75.0%** | **0.0%** |"),
            "{md}"
        );
        assert!(md.contains("](figures/robustness-softmax1-l2.png)"));
        let csv = table().to_csv();
        assert_eq!(
            csv.lines().collect::<Vec<_>>(),
            [
                "attack,kind,median_distance,seconds,accuracy@0,accuracy@1",
                "DDN,minimum-norm,0.81250,1.3,0.7500,0.2500",
                "best of all,best,,0.0,0.7500,0.0000",
            ]
        );
    }

    #[test]
    fn a_table_without_a_median_round_trips_through_json() {
        let t = table();
        let json = serde_json::to_string(&t).unwrap();
        let back: RobustnessTable = serde_json::from_str(&json).unwrap();
        assert!(back.rows[1].median_distance.is_nan());
        assert_eq!(back.rows[0], t.rows[0]);
    }
}
