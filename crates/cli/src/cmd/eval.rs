//! `blindspot eval`: the error of a saved model on a split.

use anyhow::Context;
use blindspot_data::Split;
use blindspot_models::{checkpoint, error_rate};
use clap::Args;

use crate::common::{CommonArgs, ModelArgs};

/// Options of `blindspot eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub which: ModelArgs,
    /// Splits to evaluate on.
    #[arg(long = "on", default_values = ["train", "test"], num_args = 1..)]
    pub splits: Vec<Split>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl EvalArgs {
    /// Loads the model and prints its error on each split.
    pub fn run(self) -> anyhow::Result<()> {
        let device = self.common.device()?;
        let dir = self.which.dir(&self.common)?;
        let (model, meta) = checkpoint::load(&dir, &device)
            .with_context(|| format!("loading {}", dir.display()))?;
        let mnist = self.common.mnist()?;
        for split in &self.splits {
            let err = error_rate(&model, &mnist.split(*split), &device)?;
            println!("{} on {split}: {:.2}% error", meta.name, 100.0 * err);
        }
        Ok(())
    }
}
