//! Project automation for blindspot (the cargo-xtask pattern): `cargo xtask <task>`.
//!
//! Orchestration only: it fetches the data with `blindspot-data` (no Burn) and runs the
//! `blindspot` CLI through cargo with the right backend feature. Keep it light.

mod bench;
mod bench_frontier;
mod bench_suite;
mod device_bundle;
mod download;
mod reproduce;

use clap::{Parser, Subcommand};

/// blindspot's project tasks.
#[derive(Parser)]
#[command(name = "cargo xtask", about)]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Fetch and verify MNIST into the data directory.
    Download(download::DownloadArgs),
    /// Build the CLI with the backend's feature, fetch the data, run `blindspot reproduce`.
    Reproduce(reproduce::ReproduceArgs),
    /// Benchmarks (not tests): `bench train` (seconds per epoch), `bench attack` (ours vs peers),
    /// `bench suite` (every attack beside Foolbox 3), `bench frontier` (distortion against speed).
    #[command(subcommand)]
    Bench(bench::BenchTask),
    /// Build, here, the folder a GPU machine without network runs: the wgpu CLI, MNIST, the
    /// checkpoints and a measuring script (`run.sh`).
    DeviceBundle(device_bundle::DeviceBundleArgs),
}

fn main() -> anyhow::Result<()> {
    match Xtask::parse().task {
        Task::Download(args) => args.run(),
        Task::Reproduce(args) => args.run(),
        Task::Bench(args) => args.run(),
        Task::DeviceBundle(args) => args.run(),
    }
}

/// The workspace root (the parent of this crate's directory).
pub fn project_root() -> std::path::PathBuf {
    // `cargo run` (the `xtask` alias) sets CARGO_MANIFEST_DIR at run time too. The compile-time
    // value is only the fallback: a binary built in another checkout that shares the target
    // directory (CI clones do) is fresh to cargo but names that checkout, maybe deleted since.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    manifest
        .parent()
        .expect("xtask lives inside the workspace")
        .to_owned()
}
