//! The end of section 4.2: adversarial training with a pool of adversarial examples against
//! weight decay alone and dropout, on the same 100-100-10 network, data, epochs and seeds.

use serde::{Deserialize, Serialize};

use crate::transfer::MeanStd;

/// One training method's outcome over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvTrainResult {
    /// Short name (`decay`, `dropout`, `adv-input`, `adv-hidden`, `adv-all`).
    pub method: String,
    /// What it does, for the report.
    pub description: String,
    /// Test error over seeds.
    pub test_error: MeanStd,
    /// Training error over seeds.
    pub train_error: MeanStd,
    /// Mean minimum (untargeted) RMS distortion on the first test images, over seeds.
    pub distortion: MeanStd,
    /// Test images attacked for `distortion`.
    pub attacked_images: usize,
    /// Seconds of training per seed, mean.
    pub train_seconds: f64,
    /// Of which generating adversarial examples, mean.
    pub generation_seconds: f64,
    /// Accuracy under an L∞ PGD attack on the same test images, at a few ε (absent in
    /// tables of earlier versions).
    #[serde(default)]
    pub robust_accuracy: Vec<RobustAt>,
}

/// Accuracy under attack at one ε, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustAt {
    /// The radius.
    pub epsilon: f64,
    /// Share of test images the attack did not move to another class (misclassified clean
    /// images count as broken).
    pub accuracy: MeanStd,
}

/// What the paper reports for a method, if anything.
fn paper(method: &str) -> &'static str {
    match method {
        "decay" => "1.6%",
        "dropout" => "≈ 1.3%",
        "adv-all" => "< 1.2% (examples for every layer)",
        "fgsm" => "(Goodfellow et al. 2015: maxout 0.94 → 0.84%)",
        _ => "–",
    }
}

/// The Markdown section.
pub fn render_advtrain_section(rows: &[AdvTrainResult], seeds: usize, epochs: usize) -> String {
    let mut out = String::from("## Adversarial training (end of section 4.2)\n\n");
    out += &format!(
        "The paper trained a 100-100-10 sigmoid network to \"below 1.2%\" test error \"by keeping a pool of \
         adversarial examples a random subset of which is continuously replaced by newly generated adversarial \
         examples and which is mixed into the original training set all the time\", with examples \"generated \
         for each layer output and … used to train all the layers above\", against 1.6% with weight decay alone \
         and about 1.3% with dropout. Same network, decay (λ = 1e-5, 1e-5, 1e-6), data, {epochs} epochs and seeds \
         for every row; {seeds} seed{}. The distortion column is the mean untargeted minimum RMS distortion on \
         the first test images (higher: harder to fool).\n\n",
        if seeds == 1 { "" } else { "s, mean ± std" }
    );
    // The ε of the robust-accuracy columns: those of the first row that has any.
    let epsilons: Vec<f64> = rows
        .iter()
        .find(|r| !r.robust_accuracy.is_empty())
        .map(|r| r.robust_accuracy.iter().map(|a| a.epsilon).collect())
        .unwrap_or_default();
    out += "| method | test error | paper | training error | mean min. distortion (test) |";
    for e in &epsilons {
        out += &format!(" PGD L∞ accuracy, ε = {e} |");
    }
    out += " images | seconds (of which generating examples) |\n|---|---|---|---|---|";
    out += &"---|".repeat(epsilons.len() + 2);
    out += "\n";
    let pct = |m: &MeanStd| {
        if m.n > 1 {
            format!("{:.2} ± {:.2}%", 100.0 * m.mean, 100.0 * m.std)
        } else {
            format!("{:.2}%", 100.0 * m.mean)
        }
    };
    for r in rows {
        out += &format!(
            "| {} — {} | **{}** | *{}* | {} | {} |",
            r.method,
            r.description,
            pct(&r.test_error),
            paper(&r.method),
            pct(&r.train_error),
            r.distortion.plain(),
        );
        for e in &epsilons {
            let cell = r
                .robust_accuracy
                .iter()
                .find(|a| a.epsilon == *e)
                .map_or("–".to_string(), |a| pct(&a.accuracy));
            out += &format!(" {cell} |");
        }
        out += &format!(
            " {} | {:.0} ({:.0}) |\n",
            r.attacked_images, r.train_seconds, r.generation_seconds
        );
    }
    if !epsilons.is_empty() {
        out += "\nThe PGD columns: accuracy on the same test images under untargeted L∞ PGD (40 steps \
                of 2.5·ε/40, one random start), misclassified images counting as broken.\n";
    }
    if let Some(decay) = rows.iter().find(|r| r.method == "decay") {
        let better: Vec<&str> = rows
            .iter()
            .filter(|r| r.method != "decay" && r.test_error.mean < decay.test_error.mean)
            .map(|r| r.method.as_str())
            .collect();
        out += &format!(
            "\nClean test error below weight decay alone ({}): {}.\n",
            pct(&decay.test_error),
            if better.is_empty() {
                "no method".to_string()
            } else {
                better
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    if let Some(best) = rows
        .iter()
        .filter(|r| r.method.starts_with("adv"))
        .min_by(|a, b| a.test_error.mean.total_cmp(&b.test_error.mean))
    {
        out += &format!(
            "\nBest adversarial variant: `{}` at {}; the paper's claim \"below 1.2%\" is {} here.\n",
            best.method,
            pct(&best.test_error),
            if best.test_error.mean < 0.012 {
                "reproduced"
            } else {
                "**not** reproduced"
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_follows_the_best_adversarial_row() {
        let row = |method: &str, e: f64| AdvTrainResult {
            method: method.into(),
            description: String::new(),
            test_error: MeanStd::of(&[e, e - 0.001]),
            train_error: MeanStd::single(0.0),
            distortion: MeanStd::single(0.05),
            attacked_images: 10,
            train_seconds: 1.0,
            generation_seconds: 0.5,
            robust_accuracy: Vec::new(),
        };
        let md = render_advtrain_section(&[row("decay", 0.016), row("adv-all", 0.0115)], 2, 40);
        assert!(
            !md.contains("**not** reproduced") && md.contains("is reproduced"),
            "{md}"
        );
        assert!(md.contains("*1.6%*"));
        assert!(md.contains("1.10 ± 0.07%"), "{md}");
        let md = render_advtrain_section(&[row("adv-input", 0.015)], 1, 40);
        assert!(md.contains("**not** reproduced"), "{md}");
    }

    #[test]
    fn robust_accuracy_columns_and_the_methods_below_decay_are_named() {
        let row = |method: &str, e: f64, robust: &[(f64, f64)]| AdvTrainResult {
            method: method.into(),
            description: String::new(),
            test_error: MeanStd::single(e),
            train_error: MeanStd::single(0.0),
            distortion: MeanStd::single(0.05),
            attacked_images: 10,
            train_seconds: 1.0,
            generation_seconds: 0.0,
            robust_accuracy: robust
                .iter()
                .map(|&(epsilon, a)| RobustAt {
                    epsilon,
                    accuracy: MeanStd::single(a),
                })
                .collect(),
        };
        let rows = [
            row("decay", 0.02, &[(0.05, 0.5), (0.1, 0.1)]),
            row("fgsm", 0.019, &[(0.05, 0.8), (0.1, 0.6)]),
            row("pgd", 0.025, &[(0.05, 0.9), (0.1, 0.7)]),
        ];
        let md = render_advtrain_section(&rows, 1, 40);
        assert!(
            md.contains("| PGD L∞ accuracy, ε = 0.05 | PGD L∞ accuracy, ε = 0.1 | images |"),
            "{md}"
        );
        assert!(md.contains("| 80.00% | 60.00% | 10 |"), "{md}");
        assert!(
            md.contains("below weight decay alone (2.00%): `fgsm`."),
            "{md}"
        );
        // Tables of earlier versions have no such column.
        let old = render_advtrain_section(&[row("decay", 0.02, &[])], 1, 40);
        assert!(
            !old.contains("PGD L∞") && old.contains("no method"),
            "{old}"
        );
    }
}
