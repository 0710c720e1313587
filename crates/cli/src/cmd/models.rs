//! `blindspot models`: the catalogue.

use blindspot_models::{Architecture, paper_models};
use clap::Args;

/// Options of `blindspot models`.
#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// Print the full configurations as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ModelsArgs {
    /// Prints the paper's models.
    pub fn run(self) -> anyhow::Result<()> {
        let models = paper_models();
        if self.json {
            let list: Vec<_> = models
                .iter()
                .map(|m| serde_json::json!({"name": m.name, "description": m.description,
                    "architecture": m.architecture, "paper": m.paper, "target_test_error": m.target_test_error}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            return Ok(());
        }
        println!(
            "{:<13} {:<58} {:>12} {:>11} {:>7}",
            "model", "description", "paper train", "paper test", "target"
        );
        for m in &models {
            let (train, test) = m.paper.map_or(("—".into(), "—".into()), |p| {
                (
                    format!("{:.2}%", 100.0 * p.train),
                    format!("{:.2}%", 100.0 * p.test),
                )
            });
            println!(
                "{:<13} {:<58} {:>12} {:>11} {:>6.1}%",
                m.name,
                m.description,
                train,
                test,
                100.0 * m.target_test_error
            );
        }
        let kinds = models
            .iter()
            .filter(|m| matches!(m.architecture, Architecture::Mlp(_)))
            .count();
        println!(
            "\n{} models ({kinds} fully connected). `alexnet` (Table 5) is built for the spectral analysis only.",
            models.len()
        );
        println!(
            "Train on P1/P2 with `blindspot train --model n100-100-10 --split p1` (Table 3's M1)."
        );
        Ok(())
    }
}
