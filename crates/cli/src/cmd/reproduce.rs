//! `blindspot reproduce`: every stage built so far, then the report.
//!
//! Stages: data → train every model of Tables 1 and 3 (and FC, conv) → evaluate → report.
//! A model whose checkpoint carries the fingerprint of the same configuration is not trained
//! again, so a killed run resumes where it stopped.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use blindspot_data::{Split, write_atomic};
use blindspot_models::{ModelRun, Scale, checkpoint, error_rate, run_data};
use blindspot_report::{ModelResult, PaperTables, render_header, render_models_section};
use clap::Args;

use crate::cmd::train::train_and_save;
use crate::common::CommonArgs;

/// Options of `blindspot reproduce`.
#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// smoke: minutes on 2 cores (subsets, few epochs); default: full MNIST; paper: longer runs.
    #[arg(long, default_value = "default")]
    pub scale: Scale,
    /// Seed of every model.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// How long a stage took, and whether it was skipped.
#[derive(Debug, serde::Serialize)]
struct StageTime {
    stage: String,
    seconds: f64,
    skipped: bool,
}

impl ReproduceArgs {
    /// Runs the pipeline.
    pub fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let device = self.common.device()?;
        let mut stages = Vec::new();

        let t = Instant::now();
        let mnist = self.common.mnist()?;
        stages.push(StageTime {
            stage: "data".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });

        let runs = ModelRun::reproduction_set();

        let mut results = Vec::new();
        for run in &runs {
            let t = Instant::now();
            let (train, test) = run_data(run, &mnist, self.scale)?;
            let config = run.train_config(self.scale, self.seed);
            let fingerprint = run.fingerprint(&config, train.len(), test.len());
            let dir = self.common.model_dir(&run.id());
            let existing = checkpoint::load_meta(&dir)
                .ok()
                .filter(|m| m.fingerprint == fingerprint);
            let skipped = existing.is_some();
            let meta = match existing {
                Some(meta) => {
                    eprintln!("{}: up to date, skipped ({})", run.id(), dir.display());
                    meta
                }
                None => train_and_save(run, &mnist, self.scale, &config, &device, &self.common)?,
            };
            let (model, _) = checkpoint::load(&dir, &device)
                .with_context(|| format!("loading {}", dir.display()))?;
            let half = |split: Split| -> anyhow::Result<f64> {
                let data = mnist.split(split);
                let n = self
                    .scale
                    .train_subset()
                    .unwrap_or(data.len())
                    .min(data.len());
                Ok(error_rate(&model, &data.head(n, split)?, &device))
            };
            let result = ModelResult {
                id: run.id(),
                model: run.spec.name.to_owned(),
                split: run.split.name().to_owned(),
                train_error: meta.train_error,
                test_error: meta.test_error,
                p1_error: half(Split::P1)?,
                p2_error: half(Split::P2)?,
                target_test_error: run.target_test_error(),
                train_seconds: meta.train_seconds,
                train_examples: meta.train_examples,
            };
            eprintln!(
                "{}: train error {:.2}%, test error {:.2}% (target ≤ {:.2}%)",
                result.id,
                100.0 * result.train_error,
                100.0 * result.test_error,
                100.0 * result.target_test_error
            );
            results.push(result);
            stages.push(StageTime {
                stage: format!("train {}", run.id()),
                seconds: t.elapsed().as_secs_f64(),
                skipped,
            });
        }

        let t = Instant::now();
        self.write_outputs(&results, &stages)?;
        stages.push(StageTime {
            stage: "report".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });
        write_json(&self.common.out.join("report").join("stages.json"), &stages)?;
        eprintln!(
            "done in {:.0} s; report: {}",
            started.elapsed().as_secs_f64(),
            self.common.out.join("report").join("README.md").display()
        );
        let missed: Vec<_> = results
            .iter()
            .filter(|r| !r.meets_target())
            .map(|r| r.id.as_str())
            .collect();
        if !missed.is_empty() && self.scale != Scale::Smoke {
            eprintln!(
                "warning: above the target test error: {}",
                missed.join(", ")
            );
        }
        Ok(())
    }

    fn write_outputs(&self, results: &[ModelResult], stages: &[StageTime]) -> anyhow::Result<()> {
        let tables = self.common.out.join("tables");
        write_json(&tables.join("models.json"), &results)?;
        let mut csv = String::from(
            "id,model,split,train_error,test_error,p1_error,p2_error,target_test_error,train_seconds,train_examples\n",
        );
        for r in results {
            csv += &format!(
                "{},{},{},{},{},{},{},{},{:.1},{}\n",
                r.id,
                r.model,
                r.split,
                r.train_error,
                r.test_error,
                r.p1_error,
                r.p2_error,
                r.target_test_error,
                r.train_seconds,
                r.train_examples
            );
        }
        write_atomic(&tables.join("models.csv"), csv.as_bytes())?;

        let paper = PaperTables::load().context("parsing the embedded paper tables")?;
        let command = format!(
            "blindspot reproduce --scale {} --backend {}",
            self.scale,
            self.common.backend.name()
        );
        let mut md = render_header(self.scale.name(), self.common.backend.name(), &command);
        if self.scale == Scale::Smoke {
            md += "\n> **Smoke scale**: 2,000 training examples and 2 epochs per model. These numbers check the pipeline, not the paper.\n";
        }
        md += "\n";
        md += &render_models_section(results, &paper);
        md += "\n## Stage times\n\n| stage | seconds | skipped (up to date) |\n|---|---|---|\n";
        for s in stages {
            md += &format!(
                "| {} | {:.1} | {} |\n",
                s.stage,
                s.seconds,
                if s.skipped { "yes" } else { "" }
            );
        }
        write_atomic(
            &self.common.out.join("report").join("README.md"),
            md.as_bytes(),
        )?;
        Ok(())
    }
}

fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))
}
