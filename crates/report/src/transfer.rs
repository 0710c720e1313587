//! Tables 2, 3 (distortion column) and 4: how often adversarial examples made for one model
//! fool another, beside Gaussian noise, ours beside the paper's in every cell.
//!
//! [`TransferTable`] is the plain data of one error matrix: rows are example sets
//! (adversarial examples of a model, amplified ones, Gaussian noise), columns are the models
//! that classify them, cells are error rates. One seed gives cells with `n = 1`; the
//! `blindspot-transfer` crate aggregates seeds into mean ± std.

use serde::{Deserialize, Serialize};

use crate::paper::PaperTables;

/// How the examples of a row were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Perturbation {
    /// Adversarial examples made for `model` (successful ones only).
    Adversarial {
        /// The attacked model.
        model: String,
    },
    /// `model`'s adversarial examples moved along `x′ − x` to RMS `rms` (before clipping).
    Amplified {
        /// The attacked model.
        model: String,
        /// Target RMS distortion before clipping.
        rms: f64,
    },
    /// Gaussian noise of standard deviation `stddev` added to every pixel, then clipped to the
    /// box.
    Gaussian {
        /// Standard deviation per pixel.
        stddev: f64,
    },
    /// Gaussian noise scaled, image by image, so that after clipping its RMS equals the
    /// distortion of `model`'s adversarial example of that image.
    MatchedGaussian {
        /// The model whose distortions the noise matches.
        model: String,
    },
}

impl Perturbation {
    /// The row's key in the paper's tables (`softmax1`, `gaussian-0.1`).
    pub fn source(&self) -> String {
        match self {
            Perturbation::Adversarial { model } | Perturbation::Amplified { model, .. } => {
                model.clone()
            }
            Perturbation::Gaussian { stddev } => format!("gaussian-{stddev}"),
            Perturbation::MatchedGaussian { model } => format!("gaussian-matched-{model}"),
        }
    }

    /// Whether the row holds amplified examples (Table 4's lower half).
    pub fn amplified(&self) -> bool {
        matches!(self, Perturbation::Amplified { .. })
    }

    /// A label for the report.
    pub fn label(&self) -> String {
        match self {
            Perturbation::Adversarial { model } => format!("adversarial for {model}"),
            Perturbation::Amplified { model, rms } => {
                format!("adversarial for {model}, amplified to RMS {rms}")
            }
            Perturbation::Gaussian { stddev } => format!("Gaussian noise, stddev {stddev}"),
            Perturbation::MatchedGaussian { model } => {
                format!("Gaussian noise, RMS = {model}'s distortion")
            }
        }
    }
}

/// A mean and a sample standard deviation over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation over seeds (0 with one seed).
    pub std: f64,
    /// Number of seeds.
    pub n: usize,
}

impl MeanStd {
    /// One reading.
    pub fn single(value: f64) -> Self {
        Self {
            mean: value,
            std: 0.0,
            n: 1,
        }
    }

    /// Mean and sample standard deviation of the finite values (NaN mean if none).
    pub fn of(values: &[f64]) -> Self {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return Self {
                mean: f64::NAN,
                std: 0.0,
                n: 0,
            };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Self { mean, std, n }
    }

    /// `12.3%` or `12.3 ± 0.4%` for a rate.
    pub fn percent(&self) -> String {
        if !self.mean.is_finite() {
            "–".into()
        } else if self.n > 1 {
            format!("{:.1} ± {:.1}%", 100.0 * self.mean, 100.0 * self.std)
        } else {
            format!("{:.1}%", 100.0 * self.mean)
        }
    }

    /// `0.0612` or `0.0612 ± 0.0010` for a distortion.
    pub fn plain(&self) -> String {
        if !self.mean.is_finite() {
            "–".into()
        } else if self.n > 1 {
            format!("{:.4} ± {:.4}", self.mean, self.std)
        } else {
            format!("{:.4}", self.mean)
        }
    }
}

/// One row of an error matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferRow {
    /// How the examples were made.
    pub perturbation: Perturbation,
    /// Examples in the row (per seed, mean).
    pub examples: usize,
    /// Error rate of every column model on the row's examples.
    pub errors: Vec<MeanStd>,
    /// Mean RMS distortion of the examples, `sqrt(Σ(x′−x)²/n)` after clipping.
    pub distortion: MeanStd,
}

/// An error matrix: rows of examples, columns of models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferTable {
    /// The models that classify the examples (run ids).
    pub columns: Vec<String>,
    /// The example sets.
    pub rows: Vec<TransferRow>,
    /// Seeds aggregated.
    pub seeds: usize,
    /// Where the images come from (`first 1000 train images`).
    pub images: String,
}

impl TransferTable {
    /// The matrix as CSV: one line per row, `source,kind,amplified,examples,distortion_mean,
    /// distortion_std,` then `<column>_mean,<column>_std` for every column.
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("source,label,amplified,examples,distortion_mean,distortion_std");
        for c in &self.columns {
            out += &format!(",{c}_mean,{c}_std");
        }
        out.push('\n');
        for r in &self.rows {
            out += &format!(
                "{},\"{}\",{},{},{},{}",
                r.perturbation.source(),
                r.perturbation.label(),
                r.perturbation.amplified(),
                r.examples,
                r.distortion.mean,
                r.distortion.std
            );
            for e in &r.errors {
                out += &format!(",{},{}", e.mean, e.std);
            }
            out.push('\n');
        }
        out
    }

    /// The error rates as a `rows × columns` grid of means (for heatmaps).
    pub fn means(&self) -> Vec<Vec<f64>> {
        self.rows
            .iter()
            .map(|r| r.errors.iter().map(|e| e.mean).collect())
            .collect()
    }
}

/// The paper's row of one of its transfer tables (`table2`, `table4`) for a source, and the
/// table's columns. A source that appears twice (Table 4's models, plain and amplified) is told
/// apart by `amplified`.
fn paper_row<'a>(
    paper: &'a PaperTables,
    table: &str,
    row: &TransferRow,
) -> Option<(&'a serde_json::Value, &'a serde_json::Value)> {
    let t = paper.other.get(table)?;
    let source = row.perturbation.source();
    let candidates: Vec<&serde_json::Value> = t
        .get("rows")?
        .as_array()?
        .iter()
        .filter(|r| r.get("source").and_then(|s| s.as_str()) == Some(source.as_str()))
        .collect();
    let found = match candidates.as_slice() {
        [only] => *only,
        several => several.iter().copied().find(|r| {
            r.get("amplified")
                .and_then(|a| a.as_bool())
                .unwrap_or(false)
                == row.perturbation.amplified()
        })?,
    };
    Some((t.get("columns")?, found))
}

fn paper_cell(paper: &PaperTables, table: &str, row: &TransferRow, column: &str) -> Option<f64> {
    let (columns, prow) = paper_row(paper, table, row)?;
    let j = columns
        .as_array()?
        .iter()
        .position(|c| c.as_str() == Some(column))?;
    prow.get("errors")?.get(j)?.as_f64()
}

fn paper_distortion(paper: &PaperTables, table: &str, row: &TransferRow) -> Option<f64> {
    let (_, prow) = paper_row(paper, table, row)?;
    prow.get("distortion")?.as_f64()
}

fn cell(ours: String, paper: Option<f64>, fmt: impl Fn(f64) -> String) -> String {
    match paper {
        Some(p) => format!("**{ours}** / *{}*", fmt(p)),
        None => format!("**{ours}**"),
    }
}

/// One matrix as a Markdown table; `table` names the paper's table to put beside each cell
/// (`table2` or `table4`).
pub fn render_matrix(t: &TransferTable, paper: &PaperTables, table: &str) -> String {
    let mut out = String::from("| examples |");
    for c in &t.columns {
        out += &format!(" {c} |");
    }
    out += " n | mean distortion |\n|---|";
    for _ in &t.columns {
        out += "---|";
    }
    out += "---|---|\n";
    for r in &t.rows {
        out += &format!("| {} |", r.perturbation.label());
        for (c, e) in t.columns.iter().zip(&r.errors) {
            let p = paper_cell(paper, table, r, c);
            out += &format!(
                " {} |",
                cell(e.percent(), p, |v| format!("{:.1}%", 100.0 * v))
            );
        }
        let pd = paper_distortion(paper, table, r);
        out += &format!(
            " {} | {} |\n",
            r.examples,
            cell(r.distortion.plain(), pd, |v| format!("{v:.3}"))
        );
    }
    out
}

/// Table 3: each half-trained model's errors and its mean minimum distortion on the test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossTrainingRow {
    /// Run id (`n100-100-10-p1`).
    pub id: String,
    /// Error on P1.
    pub p1_error: MeanStd,
    /// Error on P2.
    pub p2_error: MeanStd,
    /// Error on the test set.
    pub test_error: MeanStd,
    /// Mean RMS distortion of its random-target adversarial examples of the test images.
    pub distortion: MeanStd,
    /// Mean RMS distortion of its untargeted (minimal) adversarial examples.
    pub untargeted_distortion: MeanStd,
}

/// Everything the transfer stage measured, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferResults {
    /// Table 2 from random-target adversarial examples (the reading that matches the paper's
    /// distortions).
    pub table2: TransferTable,
    /// Table 2 from untargeted (minimal) adversarial examples.
    pub table2_untargeted: TransferTable,
    /// Table 3.
    pub table3: Vec<CrossTrainingRow>,
    /// Table 4 (plain rows, then amplified rows) from random-target examples.
    pub table4: TransferTable,
    /// Table 4 from untargeted examples.
    pub table4_untargeted: TransferTable,
}

/// The report's section for Tables 2–4, with heatmaps at `figures/table2.png` and
/// `figures/table4.png`.
pub fn render_transfer_section(r: &TransferResults, paper: &PaperTables) -> String {
    let mut out = String::from("## Table 2: cross-model generalization\n\n");
    out += &format!(
        "Error of each column model on the adversarial examples made for the row model ({}; successful \
         examples only, random wrong target as in Table 1's reading), beside Gaussian noise added to the \
         same images and then clipped to [0, 1] (clipping on the black background leaves an RMS \
         change of about 0.074 for stddev 0.1). The matched-noise rows scale the noise, image by \
         image, so that after clipping its RMS equals that of the model's adversarial perturbation \
         of the same image: the fair baseline. Cells: **ours** / *paper*{}.\n\n",
        r.table2.images,
        seeds_note(r.table2.seeds)
    );
    out += &render_matrix(&r.table2, paper, "table2");
    out += "\n![Table 2 heatmap: rows and columns as above, error % in each cell](figures/table2.png)\n\n";
    out += "The same matrix for untargeted (minimal) adversarial examples, which sit just across the nearest \
            decision boundary and so transfer less:\n\n";
    out += &render_matrix(&r.table2_untargeted, paper, "");
    out += "\n## Table 3: models trained on disjoint halves\n\n";
    out += "| model | P1 error | P2 error | test error | mean distortion on test (random target) | untargeted |\n|---|---|---|---|---|---|\n";
    for row in &r.table3 {
        let p = paper.table3.rows.iter().find(|p| p.model == row.id);
        let pct = |v: f64| format!("{:.2}%", 100.0 * v);
        let with = |ours: &MeanStd, p: Option<f64>, f: &dyn Fn(f64) -> String| {
            let o = if ours.n > 1 {
                format!("{} ± {}", f(ours.mean), f(ours.std))
            } else {
                f(ours.mean)
            };
            cell(o, p, f)
        };
        let fd = |v: f64| format!("{v:.4}");
        out += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            p.map_or(row.id.clone(), |p| p.label.clone()),
            with(&row.p1_error, p.map(|p| p.p1_error), &pct),
            with(&row.p2_error, p.map(|p| p.p2_error), &pct),
            with(&row.test_error, p.map(|p| p.test_error), &pct),
            with(&row.distortion, p.map(|p| p.distortion), &fd),
            with(&row.untargeted_distortion, None, &fd),
        );
    }
    out += &format!(
        "\n## Table 4: cross-training-set generalization\n\n\
         Error of each column model on the adversarial examples of the test set ({}) made for the row \
         model. The amplified rows move every example along its perturbation to an RMS distortion of \
         0.1 before clipping: `x + α(x′ − x)` with `α = 0.1 / rms(x′ − x)` per example, then clipped \
         to [0, 1] (the distortion column shows the RMS after clipping). The paper writes \
         `x + 0.1·(x′−x)/‖x′−x‖₂`, which would be an RMS of 0.1/28 ≈ 0.0036, while its text says the \
         standard deviation grows from about 0.06 to 0.1; we implement the text. Cells: **ours** / *paper*{}.\n\n",
        r.table4.images,
        seeds_note(r.table4.seeds)
    );
    out += &render_matrix(&r.table4, paper, "table4");
    out += "\n![Table 4 heatmap](figures/table4.png)\n\nUntargeted (minimal) examples:\n\n";
    out += &render_matrix(&r.table4_untargeted, paper, "");
    out
}

fn seeds_note(seeds: usize) -> String {
    if seeds > 1 {
        format!("; mean ± standard deviation over {seeds} seeds")
    } else {
        "; one seed (`--seeds K` for error bars)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TransferTable {
        TransferTable {
            columns: vec!["softmax1".into(), "softmax2".into()],
            rows: vec![
                TransferRow {
                    perturbation: Perturbation::Adversarial {
                        model: "softmax1".into(),
                    },
                    examples: 10,
                    errors: vec![MeanStd::single(1.0), MeanStd::of(&[0.1, 0.3])],
                    distortion: MeanStd::single(0.06),
                },
                TransferRow {
                    perturbation: Perturbation::Gaussian { stddev: 0.3 },
                    examples: 10,
                    errors: vec![MeanStd::single(0.2), MeanStd::single(0.1)],
                    distortion: MeanStd::single(0.29),
                },
            ],
            seeds: 2,
            images: "first 10 train images".into(),
        }
    }

    #[test]
    fn mean_std_is_the_sample_statistic() {
        let m = MeanStd::of(&[1.0, 3.0, f64::NAN]);
        assert_eq!(m.n, 2);
        assert!((m.mean - 2.0).abs() < 1e-12);
        assert!((m.std - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(MeanStd::of(&[]).n, 0);
    }

    #[test]
    fn cells_carry_the_papers_value() {
        let paper = PaperTables::load().unwrap();
        let md = render_matrix(&table(), &paper, "table2");
        // softmax1's own examples: 100% in the paper; softmax2 on them: 11.7%.
        assert!(md.contains("**100.0%** / *100.0%*"), "{md}");
        assert!(md.contains("**20.0 ± 14.1%** / *11.7%*"), "{md}");
        // gaussian-0.3 row of the paper: 15.6% on softmax1, distortion 0.3.
        assert!(md.contains("**20.0%** / *15.6%*"), "{md}");
        assert!(md.contains("*0.300*"), "{md}");
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let csv = table().to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].ends_with("softmax2_mean,softmax2_std"));
        assert!(lines[2].starts_with("gaussian-0.3,"));
    }
}

/// One attack's examples of one source model in the attack-transfer comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackTransferCell {
    /// The attack's label (`L-BFGS`, `FGSM ε=0.1`, …).
    pub attack: String,
    /// Successful examples (those the source model misclassifies; clean errors left out).
    pub examples: usize,
    /// Their mean RMS distortion as the attack made them (NaN without examples).
    #[serde(with = "blindspot_data::nan_as_null")]
    pub distortion: f64,
    /// Mean error of the other models on them as made.
    #[serde(with = "blindspot_data::nan_as_null")]
    pub transfer: f64,
    /// Mean error of the other models on them moved along their perturbation to the row's
    /// matched RMS (see [`AttackTransferRow::matched_rms`]).
    #[serde(with = "blindspot_data::nan_as_null")]
    pub matched_transfer: f64,
}

/// How the untargeted examples of several attacks made for one model transfer to the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackTransferRow {
    /// The source model.
    pub source: String,
    /// The RMS every example is moved to for the matched columns: the mean distortion of the
    /// source's L-BFGS examples (the smallest the attacks found).
    #[serde(with = "blindspot_data::nan_as_null")]
    pub matched_rms: f64,
    /// One cell per attack, in the order of the table's attacks.
    pub cells: Vec<AttackTransferCell>,
}

/// The Markdown of the attack-transfer comparison.
pub fn render_attack_transfer_section(rows: &[AttackTransferRow], images: usize) -> String {
    let mut out = String::from("## Which attack's examples transfer (beyond the paper)\n\n");
    out += &format!(
        "Untargeted examples of the first {images} training images, made for the row's model by each \
         attack, classified by the other models of Table 2: their mean error **as made** (at the \
         attack's own distortion, in parentheses) and **at matched distortion**, every example \
         moved along its perturbation to the RMS of the row's L-BFGS examples (`x + α(x′ − x)`, \
         then clipped). At matched distortion the columns compare directions, not sizes.\n\n"
    );
    let Some(first) = rows.first() else {
        return out + "No source model.\n";
    };
    out += "| source | matched RMS |";
    for c in &first.cells {
        out += &format!(" {} as made | {} matched |", c.attack, c.attack);
    }
    out += "\n|---|---|";
    out += &"---|---|".repeat(first.cells.len());
    out.push('\n');
    for r in rows {
        out += &format!("| {} | {:.4} |", r.source, r.matched_rms);
        for c in &r.cells {
            // An attack that made no example of this model has nothing to transfer.
            let made = if c.transfer.is_nan() {
                "– (no examples)".to_string()
            } else {
                format!("{:.1}% ({:.4})", 100.0 * c.transfer, c.distortion)
            };
            let matched = if c.matched_transfer.is_nan() {
                "–".to_string()
            } else {
                format!("**{:.1}%**", 100.0 * c.matched_transfer)
            };
            out += &format!(" {made} | {matched} |");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod attack_transfer_tests {
    use super::*;

    #[test]
    fn every_attack_has_its_two_columns_and_the_row_its_matched_rms() {
        let cell = |attack: &str, t: f64, m: f64| AttackTransferCell {
            attack: attack.into(),
            examples: 10,
            distortion: 0.05,
            transfer: t,
            matched_transfer: m,
        };
        let rows = [AttackTransferRow {
            source: "softmax1".into(),
            matched_rms: 0.0412,
            cells: vec![cell("L-BFGS", 0.25, 0.25), cell("DDN", 0.5, 0.125)],
        }];
        let md = render_attack_transfer_section(&rows, 100);
        assert!(
            md.contains("| source | matched RMS | L-BFGS as made | L-BFGS matched | DDN as made | DDN matched |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| softmax1 | 0.0412 | 25.0% (0.0500) | **25.0%** | 50.0% (0.0500) | **12.5%** |"
            ),
            "{md}"
        );
        assert!(render_attack_transfer_section(&[], 5).contains("No source model"));
        let none = AttackTransferRow {
            cells: vec![AttackTransferCell {
                examples: 0,
                distortion: f64::NAN,
                transfer: f64::NAN,
                matched_transfer: f64::NAN,
                ..cell("FGSM ε=0.1", 0.0, 0.0)
            }],
            ..rows[0].clone()
        };
        let md = render_attack_transfer_section(&[none], 100);
        assert!(
            md.contains("| – (no examples) | – |") && !md.contains("NaN"),
            "{md}"
        );
    }
}
