//! Where each result file of an output directory came from: `<out>/provenance.json` maps every
//! table and figure (path relative to `<out>`) to the SHA-256 it was written with, the run that
//! wrote it and the SHA-256 of every input it was computed from (checkpoints' weights, attack
//! tensors). [`Manifest::check`] recomputes those digests, so a table whose inputs changed since
//! (a model retrained, an attack redone) or a file of another run is found and named, never
//! read as current.
//!
//! The manifest is written after the files it describes: a kill in between leaves files whose
//! digest differs from their entry (or that have none), which `check` reports as well.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use blindspot_data::files::sha256_hex;
use serde::{Deserialize, Serialize};

/// File name of the manifest inside an output directory.
pub const MANIFEST_FILE: &str = "provenance.json";

/// An input of a result: a file under the output directory and its SHA-256 when the result was
/// computed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    /// Path relative to the output directory (`models/softmax1/model.safetensors`).
    pub path: String,
    /// Its SHA-256 then.
    pub sha256: String,
    /// The model's fingerprint (the configuration it was trained with), for checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl Source {
    /// `out/relative` as it is now.
    pub fn of_file(out: &Path, relative: &str) -> Result<Self, ProvenanceError> {
        Ok(Self {
            path: relative.to_owned(),
            sha256: digest(&out.join(relative))?,
            fingerprint: None,
        })
    }

    /// With the model fingerprint of a checkpoint.
    pub fn with_fingerprint(self, fingerprint: impl Into<String>) -> Self {
        Self {
            fingerprint: Some(fingerprint.into()),
            ..self
        }
    }
}

/// What the manifest records of one result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The file's SHA-256 as written.
    pub sha256: String,
    /// The run that wrote it ([`run_id`]).
    pub run: String,
    /// The inputs it was computed from.
    pub sources: Vec<Source>,
}

/// A result file that is not what its entry says, or whose inputs changed since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// The file has no entry (written by an older version, or a kill before the manifest).
    Unrecorded(String),
    /// The file is missing or not the one its entry was written for.
    Changed(String),
    /// An input of the file is missing or changed since: `(file, input)`.
    Input(String, String),
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unrecorded(file) => write!(f, "{file}: no provenance recorded"),
            Self::Changed(file) => write!(f, "{file}: missing or changed since it was recorded"),
            Self::Input(file, input) => write!(f, "{file}: its input {input} changed since"),
        }
    }
}

/// Errors of the manifest.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest is not valid.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A result file is not under the output directory.
    #[error("{0} is not under the output directory")]
    Outside(PathBuf),
}

/// A string naming this process's run: its start time and process id.
pub fn run_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("{secs}-{}", std::process::id())
    })
    .clone()
}

fn digest(path: &Path) -> Result<String, ProvenanceError> {
    let bytes = std::fs::read(path).map_err(|source| ProvenanceError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(sha256_hex(&bytes))
}

/// The provenance of an output directory's result files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Entries by path relative to the output directory.
    pub files: BTreeMap<String, Entry>,
}

impl Manifest {
    /// `out/provenance.json`, or an empty manifest if there is none.
    pub fn load(out: &Path) -> Result<Self, ProvenanceError> {
        let path = out.join(MANIFEST_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ProvenanceError::Format {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ProvenanceError::Io { path, source }),
        }
    }

    /// Records `files` (already written, under `out`) as computed by this run from
    /// `sources`, and writes the manifest (atomically). A corrupt manifest is started anew:
    /// the files it described then have no entry, which [`Manifest::check`] reports.
    pub fn record(
        out: &Path,
        files: &[PathBuf],
        sources: &[Source],
    ) -> Result<(), ProvenanceError> {
        let mut manifest = match Self::load(out) {
            Err(ProvenanceError::Format { .. }) => Self::default(),
            loaded => loaded?,
        };
        let mut sources = sources.to_vec();
        sources.sort();
        sources.dedup();
        for file in files {
            let relative = file
                .strip_prefix(out)
                .map_err(|_| ProvenanceError::Outside(file.clone()))?;
            manifest.files.insert(
                relative.to_string_lossy().into_owned(),
                Entry {
                    sha256: digest(file)?,
                    run: run_id(),
                    sources: sources.clone(),
                },
            );
        }
        let path = out.join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| ProvenanceError::Format {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        blindspot_data::write_atomic(&path, &json).map_err(|e| ProvenanceError::Format {
            path,
            reason: e.to_string(),
        })
    }

    /// Every file among `files` (paths relative to `out`) that has no entry, is not the file
    /// its entry was written for, or whose inputs changed since. Empty when all are current.
    pub fn check(&self, out: &Path, files: &[String]) -> Vec<Stale> {
        let mut stale = Vec::new();
        let current = |relative: &str, sha256: &str| {
            digest(&out.join(relative)).is_ok_and(|now| now == sha256)
        };
        for file in files {
            let Some(entry) = self.files.get(file) else {
                stale.push(Stale::Unrecorded(file.clone()));
                continue;
            };
            if !current(file, &entry.sha256) {
                stale.push(Stale::Changed(file.clone()));
                continue;
            }
            for source in &entry.sources {
                if !current(&source.path, &source.sha256) {
                    stale.push(Stale::Input(file.clone(), source.path.clone()));
                }
            }
        }
        stale
    }

    /// The runs that wrote `files`, each once, in the order first met.
    pub fn runs(&self, files: &[String]) -> Vec<String> {
        let mut runs: Vec<String> = Vec::new();
        for entry in files.iter().filter_map(|f| self.files.get(f)) {
            if !runs.contains(&entry.run) {
                runs.push(entry.run.clone());
            }
        }
        runs
    }
}

/// The report's provenance section: how many of the `files` tables and figures are current,
/// the runs that wrote them (`this_run` is the report's own), and every stale one.
pub fn render_provenance_section(
    files: usize,
    runs: &[String],
    this_run: &str,
    stale: &[Stale],
) -> String {
    let mut md = format!(
        "## Provenance\n\n`provenance.json` records, for each table and figure, the SHA-256 it \
         was written with and those of the checkpoints and attacks it was computed from; all \
         {files} under `tables/` and `report/figures/` were checked against the files on disk \
         when this report was written.\n\n"
    );
    let earlier: Vec<&str> = runs
        .iter()
        .map(String::as_str)
        .filter(|r| *r != this_run)
        .collect();
    if stale.is_empty() {
        md += "All are current: computed from the checkpoints and attacks now on disk";
    } else {
        md += &format!(
            "**{} of them are not current** (not this run's numbers; rerun the stage that \
             writes them):\n\n",
            stale.len()
        );
        for s in stale {
            md += &format!("- {s}\n");
        }
        md += "\nThe others are current";
    }
    if earlier.is_empty() {
        md += &format!(", written by this run (`{this_run}`).\n");
    } else {
        md += &format!(
            "; written by this run (`{this_run}`) and by earlier runs from the same inputs (`{}`).\n",
            earlier.join("`, `")
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, relative: &str, text: &str) -> PathBuf {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_table_is_current_until_its_input_or_itself_changes() {
        let out = tempfile::tempdir().unwrap();
        let out = out.path();
        write(out, "models/m/model.safetensors", "weights A");
        let table = write(out, "tables/t.json", "[1]");
        let source = Source::of_file(out, "models/m/model.safetensors")
            .unwrap()
            .with_fingerprint("fp");
        // SHA-256 of "weights A", computed independently (`printf 'weights A' | sha256sum`).
        assert_eq!(
            source.sha256,
            "b1222923aa23c71666e9daa4131f8245dc3538bc9345a2c0efa46ce7b6d40426"
        );
        Manifest::record(out, std::slice::from_ref(&table), &[source]).unwrap();
        let files = vec!["tables/t.json".to_string(), "tables/u.json".to_string()];
        let manifest = Manifest::load(out).unwrap();
        assert_eq!(manifest.check(out, &files[..1]), vec![]);
        assert_eq!(manifest.runs(&files), vec![run_id()]);
        // A table that was never recorded.
        write(out, "tables/u.json", "[2]");
        assert_eq!(
            manifest.check(out, &files),
            vec![Stale::Unrecorded("tables/u.json".into())]
        );
        // The model retrained since.
        write(out, "models/m/model.safetensors", "weights B");
        assert_eq!(
            manifest.check(out, &files[..1]),
            vec![Stale::Input(
                "tables/t.json".into(),
                "models/m/model.safetensors".into()
            )]
        );
        // The table rewritten by a run killed before it recorded it.
        write(out, "tables/t.json", "[3]");
        assert_eq!(
            manifest.check(out, &files[..1]),
            vec![Stale::Changed("tables/t.json".into())]
        );
    }

    #[test]
    fn the_section_names_every_stale_file_and_the_runs() {
        let md = render_provenance_section(3, &["a".into(), "b".into()], "b", &[]);
        assert!(md.contains("all 3 under"), "{md}");
        assert!(md.contains("All are current"), "{md}");
        assert!(
            md.contains("earlier runs from the same inputs (`a`)"),
            "{md}"
        );
        let stale = [
            Stale::Unrecorded("tables/u.json".into()),
            Stale::Input("tables/t.json".into(), "models/m/model.safetensors".into()),
        ];
        let md = render_provenance_section(3, &["b".into()], "b", &stale);
        assert!(md.contains("**2 of them are not current**"), "{md}");
        assert!(
            md.contains("- tables/u.json: no provenance recorded\n"),
            "{md}"
        );
        assert!(
            md.contains("- tables/t.json: its input models/m/model.safetensors changed since\n"),
            "{md}"
        );
        assert!(md.ends_with("written by this run (`b`).\n"), "{md}");
    }

    #[test]
    fn a_corrupt_manifest_is_an_error_naming_it_and_a_missing_one_is_empty() {
        let out = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::load(out.path()).unwrap(), Manifest::default());
        write(out.path(), MANIFEST_FILE, "{\"files\": 3");
        match Manifest::load(out.path()) {
            Err(ProvenanceError::Format { path, .. }) => {
                assert_eq!(path, out.path().join(MANIFEST_FILE))
            }
            other => panic!("{other:?}"),
        }
        // Recording over it starts anew.
        let table = write(out.path(), "tables/t.json", "[1]");
        Manifest::record(out.path(), &[table], &[]).unwrap();
        let files = Manifest::load(out.path()).unwrap().files;
        assert_eq!(files.keys().collect::<Vec<_>>(), ["tables/t.json"]);
        let outside = PathBuf::from("/elsewhere/t.json");
        assert!(matches!(
            Manifest::record(out.path(), &[outside], &[]),
            Err(ProvenanceError::Outside(p)) if p == Path::new("/elsewhere/t.json")
        ));
    }
}
