//! `blindspot bench`: seconds per training epoch (a benchmark, not a test).

use anyhow::Context;
use blindspot_data::{Split, write_atomic};
use blindspot_models::{Silent, TrainConfig, model_spec, train_classifier};
use clap::Args;

use crate::common::CommonArgs;

/// Options of `blindspot bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The model to train.
    #[arg(long, default_value = "n100-100-10")]
    pub model: String,
    /// Examples per minibatch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Epochs to time (on the full training set).
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl BenchArgs {
    /// Trains for `epochs` epochs and reports the seconds of each training pass.
    pub fn run(self) -> anyhow::Result<()> {
        let spec = model_spec(&self.model)?;
        let device = self.common.device()?.autodiff();
        let mnist = self.common.mnist()?;
        let train = mnist.split(Split::Train);
        let test = mnist.split(Split::Test);
        device.seed(0);
        let model = spec.architecture.init(&device)?;
        let config = TrainConfig::new()
            .with_epochs(self.epochs)
            .with_batch_size(self.batch_size);
        let (_, report) = train_classifier(model, &train, &test, &config, &mut Silent)?;
        let seconds: Vec<f64> = report.epochs.iter().map(|e| e.seconds).collect();
        let mean = seconds.iter().sum::<f64>() / seconds.len().max(1) as f64;
        let backend = self.common.backend.name();
        println!(
            "{} on {backend}: {mean:.2} s per epoch (batch {}, {} examples; epochs: {:?})",
            self.model,
            self.batch_size,
            train.len(),
            seconds
                .iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
        );
        let json = serde_json::json!({
            "model": self.model, "backend": backend, "batch_size": self.batch_size,
            "examples": train.len(), "epoch_seconds": seconds, "mean_epoch_seconds": mean,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        });
        let path = self
            .common
            .out
            .join("bench")
            .join(format!("train-{}-{backend}.json", self.model));
        write_atomic(&path, serde_json::to_string_pretty(&json)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}
