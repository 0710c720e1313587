//! `blindspot eval`: the error of a saved model on a split.

use std::path::PathBuf;

use anyhow::Context;
use blindspot_data::Split;
use blindspot_models::{checkpoint, error_rate};
use clap::Args;

use crate::common::CommonArgs;

/// Options of `blindspot eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Run id under `<out>/models/` (e.g. `n100-100-10`, `n100-100-10-p1`).
    #[arg(
        long,
        conflicts_with = "model_dir",
        required_unless_present = "model_dir"
    )]
    pub model: Option<String>,
    /// A model directory (holding model.safetensors and model.json).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Splits to evaluate on.
    #[arg(long = "on", default_values = ["train", "test"], num_args = 1..)]
    pub splits: Vec<Split>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl EvalArgs {
    /// Loads the model and prints its error on each split.
    pub fn run(self) -> anyhow::Result<()> {
        let dir = match (&self.model_dir, &self.model) {
            (Some(d), _) => d.clone(),
            (None, Some(id)) => self.common.model_dir(id),
            (None, None) => anyhow::bail!("give --model or --model-dir"),
        };
        let device = self.common.device()?;
        let (model, meta) = checkpoint::load(&dir, &device)
            .with_context(|| format!("loading {}", dir.display()))?;
        let mnist = self.common.mnist()?;
        for split in &self.splits {
            let err = error_rate(&model, &mnist.split(*split), &device);
            println!("{} on {split}: {:.2}% error", meta.name, 100.0 * err);
        }
        Ok(())
    }
}
