//! `cargo xtask device-bundle`: one folder to carry to a GPU machine that cannot build (no
//! network, a few tens of MiB in): the `blindspot` CLI built here with the `wgpu` feature,
//! stripped and gzipped, MNIST gzipped, the checkpoints to measure, the Vulkan loader's Debian package (for
//! a machine whose driver ships the GPU's Vulkan driver but not the loader), and `run.sh`, which
//! there measures attack throughput, seconds per training epoch and Table 1's distortion column
//! on all 60,000 training images, each step under its own time limit, into one results folder.
//! CI runs the same script on Mesa's software Vulkan (lavapipe) with `tiny` sizes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use blindspot_data::{FetchOptions, MnistFile, ensure_mnist};
use clap::Args;

use crate::project_root;

/// The script run on the device machine.
const RUN_SCRIPT: &str = include_str!("../assets/device_run.sh");

/// The models the script measures.
const MODELS: [&str; 3] = ["softmax1", "n100-100-10", "conv"];

/// The most a bundle may weigh: what travels with one run of the device tool, with room for
/// the script's own files.
const MAX_BYTES: u64 = 60 * 1024 * 1024;

/// Options of `cargo xtask device-bundle`.
#[derive(Args, Debug)]
pub struct DeviceBundleArgs {
    /// The folder to write (replaced).
    #[arg(long, default_value = "target/device-bundle")]
    pub out: PathBuf,
    /// Where the checkpoints to carry are (`<dir>/<id>/model.{json,safetensors}` for softmax1,
    /// n100-100-10 and conv; a default-scale `results/models` gives Table 1's real column).
    /// Models missing there are trained by the script at smoke scale on the device.
    #[arg(long, default_value = "results/models")]
    pub models: PathBuf,
    /// MNIST's directory (default: BLINDSPOT_DATA_DIR or the user cache, fetched if needed).
    #[arg(long, env = "BLINDSPOT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DeviceBundleArgs {
    /// Builds the bundle and prints its size.
    pub fn run(&self) -> anyhow::Result<()> {
        let root = project_root();
        let out = root.join(&self.out);
        if out.exists() {
            std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
        }
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let binary = build_wgpu_cli(&root)?;
        carry_binary(&binary, &out.join("blindspot.gz"))?;
        gzip_mnist(self.data_dir.clone(), &out.join("mnist"))?;
        let models = root.join(&self.models);
        for id in MODELS {
            copy_model(&models.join(id), &out.join("models").join(id))?;
        }
        download_vulkan_loader(&out.join("debs"));
        write_script(&out.join("run.sh"))?;
        let bytes = size_of(&out)?;
        eprintln!(
            "device bundle: {} ({:.1} MiB of at most {} MiB); on the device: `bash run.sh <results dir>`",
            out.display(),
            bytes as f64 / (1024.0 * 1024.0),
            MAX_BYTES / (1024 * 1024)
        );
        anyhow::ensure!(
            bytes <= MAX_BYTES,
            "the bundle is {bytes} bytes, more than the {MAX_BYTES} that travel with a device run"
        );
        Ok(())
    }
}

/// `cargo build --release -p blindspot-cli --features wgpu`; returns the binary.
fn build_wgpu_cli(root: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the blindspot CLI with the wgpu feature (release)");
    let status = Command::new(&cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "blindspot-cli",
            "--features",
            "wgpu",
        ])
        .status()
        .with_context(|| format!("running {cargo}"))?;
    anyhow::ensure!(status.success(), "building the wgpu CLI failed ({status})");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    Ok(target.join("release").join("blindspot"))
}

/// The binary stripped (where the system has `strip`) and gzipped into `to`: Burn's wgpu
/// kernels make it large (150 MB as built, 113 MB stripped, 32 MB gzipped, measured).
fn carry_binary(binary: &Path, to: &Path) -> anyhow::Result<()> {
    let stripped = to.with_extension("stripped");
    let strip = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(binary)
        .status();
    let source = if strip.is_ok_and(|s| s.success()) {
        stripped.clone()
    } else {
        eprintln!(
            "warning: could not strip {}; carried unstripped",
            binary.display()
        );
        binary.to_owned()
    };
    let bytes = std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes)?;
    blindspot_data::write_atomic(to, &gz.finish()?)
        .with_context(|| format!("writing {}", to.display()))?;
    let _ = std::fs::remove_file(&stripped);
    Ok(())
}

/// MNIST's four files, verified, gzipped into `dir` (the CLI reads `.gz` from a data dir).
fn gzip_mnist(data_dir: Option<PathBuf>, dir: &Path) -> anyhow::Result<()> {
    let options = FetchOptions {
        data_dir,
        ..FetchOptions::default()
    };
    let (store, _) = ensure_mnist(&options).context("fetching MNIST")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for file in MnistFile::ALL {
        let source = store.join(file.name());
        let bytes =
            std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes)?;
        let target = dir.join(format!("{}.gz", file.name()));
        blindspot_data::write_atomic(&target, &gz.finish()?)
            .with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(())
}

/// Copies a checkpoint's two files when both are there; says so when they are not.
fn copy_model(from: &Path, to: &Path) -> anyhow::Result<()> {
    let files = ["model.json", "model.safetensors"];
    if !files.iter().all(|f| from.join(f).is_file()) {
        eprintln!(
            "no checkpoint in {}: the script will train it at smoke scale on the device",
            from.display()
        );
        return Ok(());
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for f in files {
        std::fs::copy(from.join(f), to.join(f))
            .with_context(|| format!("copying {}", from.join(f).display()))?;
    }
    Ok(())
}

/// The Vulkan loader's package (`libvulkan1`), for a device whose system lacks the loader;
/// a warning where apt cannot fetch it (the script then needs the system's loader).
fn download_vulkan_loader(dir: &Path) {
    let fetched = std::fs::create_dir_all(dir).is_ok()
        && Command::new("apt-get")
            .current_dir(dir)
            .args([
                "download",
                "-qq",
                "-o",
                "APT::Sandbox::User=root",
                "libvulkan1",
            ])
            .status()
            .is_ok_and(|s| s.success());
    if !fetched {
        eprintln!(
            "warning: could not fetch the libvulkan1 package; the device must have libvulkan.so.1"
        );
    }
}

fn write_script(path: &Path) -> anyhow::Result<()> {
    blindspot_data::write_atomic(path, RUN_SCRIPT.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

/// Bytes of every file under `dir`.
fn size_of(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            size_of(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
