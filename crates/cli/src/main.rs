//! `blindspot`: the command line of the reproduction of *Intriguing properties of neural
//! networks* (Szegedy et al., ICLR 2014). One subcommand per stage, and `reproduce` that runs
//! them all. The science lives in the library crates; this binary parses, picks the device,
//! calls, and writes files.

mod backend;
mod cmd;
mod common;
mod jobs;
mod progress;
#[cfg(test)]
mod testing;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's allocator: a training step at batch 16 allocates and frees
/// dozens of parameter-sized tensors, and glibc returns that memory to the kernel and faults it
/// back in, step after step. N100-100-10 at batch 16 on one thread (`RAYON_NUM_THREADS=1
/// blindspot bench --batch-size 16`): 3.3 s per epoch with glibc, 2.5 s with another allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reproduce and extend "Intriguing properties of neural networks" (Szegedy et al., 2014).
#[derive(Parser)]
#[command(name = "blindspot", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one of the paper's MNIST models and save it under `<out>/models/<id>/`.
    Train(cmd::train::TrainArgs),
    /// Adversarial examples for a saved model: box-constrained L-BFGS (section 4.1) or FGSM,
    /// PGD, DeepFool, DDN, FMN, C&W (`--attack`).
    Attack(cmd::attack::AttackArgs),
    /// Measure a saved model's error on a split.
    Eval(cmd::eval::EvalArgs),
    /// List the paper's models with their hyper-parameters and the paper's errors.
    Models(cmd::models::ModelsArgs),
    /// Benchmark: seconds per training epoch of a model on the chosen backend.
    Bench(cmd::bench::BenchArgs),
    /// Tables 2–4: transfer of adversarial examples across models and training sets.
    Transfer(cmd::transfer::TransferArgs),
    /// Section 3, Figures 1–2: top-k images of units and random directions, and a test of
    /// whether they can be told apart.
    Units(cmd::units::UnitsArgs),
    /// Section 4.3, Table 5: frame bounds of each layer and certified L2 radii.
    Spectral(cmd::spectral::SpectralArgs),
    /// Accuracy under attack against ε (L2 or L∞), per attack and for the best of all.
    Robustness(cmd::robustness::RobustnessArgs),
    /// The ImageNet experiments on AlexNet weights and photos: `imagenet attack` (Figure 5).
    Imagenet(cmd::imagenet::ImagenetArgs),
    /// Run every stage (training and evaluating all models) and write the report.
    Reproduce(cmd::reproduce::ReproduceArgs),
    /// One training handed over by `reproduce --jobs` (a JSON job spec); not for direct use.
    #[command(hide = true)]
    TrainJob(jobs::TrainJobArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Train(args) => args.run(),
        Command::Attack(args) => args.run(),
        Command::Eval(args) => args.run(),
        Command::Models(args) => args.run(),
        Command::Reproduce(args) => args.run(),
        Command::Transfer(args) => args.run(),
        Command::Bench(args) => args.run(),
        Command::Units(args) => args.run(),
        Command::Spectral(args) => args.run(),
        Command::Robustness(args) => args.run(),
        Command::Imagenet(args) => args.run(),
        Command::TrainJob(args) => args.run(),
    }
}
