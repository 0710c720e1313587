//! Bad files: every file blindspot reads — the MNIST idx files (raw and gzipped), a checkpoint's
//! `model.safetensors` and `model.json`, an attack's `adversarial.safetensors` and
//! `summary.json`, and the job spec of the hidden `blindspot train-job` — truncated at random
//! offsets, with 1–4 random bytes flipped, and replaced by a valid file of another kind, over
//! thousands of seeded cases.
//!
//! Every case must end in an error whose message names the file, in a load equal to the
//! original, or — for files whose consumer reuses or redoes — in a load its consumer refuses;
//! never in a panic. The weights and the attack tensors are guarded by the SHA-256 their JSON
//! partner records, so no change of them may load; the MNIST files are guarded by their
//! published SHA-256, checked before they are parsed. `model.json` and `summary.json` end with
//! the SHA-256 of their own text (a seal), as do the train-job specs, so no change of them may
//! load either. Loads with other values of the unguarded kinds (tensors read without their
//! summary, weights beside a `model.json` of an earlier version) are counted per field and
//! printed, not hidden.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use blindspot_advtrain::{Levels, Method};
use blindspot_attack::files::{self, AttackSummary, FORMAT_VERSION};
use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
use blindspot_data::files::{SEAL_KEY, seal_json, sha256_hex};
use blindspot_data::idx::{encode_images, encode_labels, maybe_gunzip};
use blindspot_data::{IMAGE_PIXELS, Mnist, Split};
use blindspot_models::checkpoint::{self, ModelMeta, NamedTensor};
use blindspot_models::{AnyModel, ModelRun, Scale, model_spec};
use burn::prelude::*;
use serde_json::{Value, json};

/// A seeded xorshift64 generator: the cases are the same on every run.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// How a case was made from the original.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum How {
    Truncated,
    Flipped,
    Digit,
    Replaced,
}

/// One corrupted file.
struct Case {
    how: How,
    label: String,
    bytes: Vec<u8>,
}

/// `n` copies of `original` cut at random lengths (`0..len`), half of them within the first
/// 64 bytes, where the headers are.
fn truncations(original: &[u8], n: usize, rng: &mut XorShift) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let span = if i % 2 == 0 {
                original.len().min(64)
            } else {
                original.len()
            };
            let at = rng.below(span);
            Case {
                how: How::Truncated,
                label: format!("truncated to {at} of {} bytes", original.len()),
                bytes: original[..at].to_vec(),
            }
        })
        .collect()
}

/// `n` copies of `original` with 1–4 distinct bytes XORed with a random non-zero byte; in half
/// of them the bytes lie within the first 512 bytes (headers, most of a JSON file).
fn flips(original: &[u8], n: usize, rng: &mut XorShift) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let span = if i % 2 == 0 {
                original.len().min(512)
            } else {
                original.len()
            };
            let count = (1 + rng.below(4)).min(span);
            let mut at = BTreeSet::new();
            while at.len() < count {
                at.insert(rng.below(span));
            }
            let mut bytes = original.to_vec();
            let mut label = String::from("flipped");
            for &p in &at {
                let mask = 1 + rng.below(255) as u8;
                label.push_str(&format!(
                    " {p}:{:?}->{:?}",
                    bytes[p] as char,
                    (bytes[p] ^ mask) as char
                ));
                bytes[p] ^= mask;
            }
            Case {
                how: How::Flipped,
                label,
                bytes,
            }
        })
        .collect()
}

/// `n` copies of a text file with one ASCII digit replaced by another digit: the corruption a
/// JSON file can take without becoming invalid.
fn digit_flips(original: &[u8], n: usize, rng: &mut XorShift) -> Vec<Case> {
    let digits: Vec<usize> = (0..original.len())
        .filter(|&i| original[i].is_ascii_digit())
        .collect();
    (0..n)
        .map(|_| {
            let p = digits[rng.below(digits.len())];
            let mut bytes = original.to_vec();
            bytes[p] = b'0' + (bytes[p] - b'0' + 1 + rng.below(9) as u8) % 10;
            Case {
                how: How::Digit,
                label: format!("digit {p}: {} -> {}", original[p] as char, bytes[p] as char),
                bytes,
            }
        })
        .collect()
}

/// `original` replaced by each valid file of `others` that differs from it.
fn replacements(original: &[u8], others: &[(&str, Vec<u8>)]) -> Vec<Case> {
    others
        .iter()
        .filter(|(_, bytes)| bytes != original)
        .map(|(name, bytes)| Case {
            how: How::Replaced,
            label: format!("replaced by {name}"),
            bytes: bytes.clone(),
        })
        .collect()
}

/// What a loader made of a case.
enum Outcome {
    /// An error, with its message.
    Error(String),
    /// Loaded, equal to the original.
    Same,
    /// Loaded with other values, which the file's consumer refuses (it redoes the work): the
    /// fields that differ.
    Refused(Vec<String>),
    /// Loaded with other values that the file's consumer takes: the fields that differ.
    Different(Vec<String>),
}

/// Loads a corrupted file (written in place of the original) and says what came of it.
type Check<'a> = Box<dyn FnMut(&[u8]) -> Outcome + 'a>;

/// One kind of file and the loader under test.
struct Kind<'a> {
    /// Name in the report.
    name: &'static str,
    /// What an error's message must contain.
    file: &'static str,
    /// Whether a load with other values fails the test (files guarded by a digest).
    guarded: bool,
    check: Check<'a>,
}

#[derive(Default)]
struct Tally {
    by_how: BTreeMap<How, usize>,
    errors: usize,
    same: usize,
    refused: usize,
    different: usize,
    panics: usize,
    different_by_how: BTreeMap<How, usize>,
    different_fields: BTreeMap<String, usize>,
    refused_fields: BTreeMap<String, usize>,
}

impl Tally {
    fn cases(&self) -> usize {
        self.by_how.values().sum()
    }
}

/// Every kind's tally, and the cases that broke the contract.
#[derive(Default)]
struct Report {
    tallies: Vec<(&'static str, Tally)>,
    failures: Vec<String>,
}

impl Report {
    fn run(&mut self, kind: &mut Kind, cases: &[Case]) {
        let mut tally = Tally::default();
        for case in cases {
            *tally.by_how.entry(case.how).or_default() += 1;
            let outcome = catch_unwind(AssertUnwindSafe(|| (kind.check)(&case.bytes)));
            let fail = |why: String| format!("{}: {}: {why}", kind.name, case.label);
            match outcome {
                Err(payload) => {
                    tally.panics += 1;
                    self.failures
                        .push(fail(format!("panicked: {}", panic_message(&payload))));
                }
                Ok(Outcome::Error(message)) => {
                    tally.errors += 1;
                    if !message.contains(kind.file) {
                        self.failures.push(fail(format!(
                            "the error does not name {}: {message}",
                            kind.file
                        )));
                    }
                }
                Ok(Outcome::Same) => tally.same += 1,
                Ok(Outcome::Refused(fields)) => {
                    tally.refused += 1;
                    for f in fields {
                        *tally.refused_fields.entry(f).or_default() += 1;
                    }
                }
                Ok(Outcome::Different(fields)) => {
                    tally.different += 1;
                    *tally.different_by_how.entry(case.how).or_default() += 1;
                    if kind.guarded {
                        self.failures.push(fail(format!(
                            "loaded with other values despite the digest: {fields:?}"
                        )));
                    }
                    for f in fields {
                        *tally.different_fields.entry(f).or_default() += 1;
                    }
                }
            }
        }
        self.tallies.push((kind.name, tally));
    }

    fn print(&self) {
        let total: usize = self.tallies.iter().map(|(_, t)| t.cases()).sum();
        eprintln!(
            "bad files: {total} cases (truncated / bytes flipped / a digit changed / replaced; \
             outcomes: error naming the file, equal, refused by its consumer, other values, \
             panic)"
        );
        for (name, t) in &self.tallies {
            let n = |h| t.by_how.get(&h).copied().unwrap_or(0);
            eprintln!(
                "  {name}: {} cases ({} / {} / {} / {}): {} errors, {} equal, {} refused, {} \
                 other values, {} panics",
                t.cases(),
                n(How::Truncated),
                n(How::Flipped),
                n(How::Digit),
                n(How::Replaced),
                t.errors,
                t.same,
                t.refused,
                t.different,
                t.panics
            );
            if !t.refused_fields.is_empty() {
                eprintln!("    refused, by field: {:?}", t.refused_fields);
            }
            if !t.different_fields.is_empty() {
                let by = |h| t.different_by_how.get(&h).copied().unwrap_or(0);
                eprintln!(
                    "    other values after truncation / flipped bytes / a changed digit / \
                     replacement: {} / {} / {} / {}",
                    by(How::Truncated),
                    by(How::Flipped),
                    by(How::Digit),
                    by(How::Replaced)
                );
                eprintln!("    other values, by field: {:?}", t.different_fields);
            }
        }
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".into())
}

/// The leaves where two JSON values differ, as dotted paths (`config.weight_decay[0]`).
fn json_diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, u) in x {
                match y.get(k) {
                    Some(v) => json_diff(u, v, &join(k), out),
                    None => out.push(format!("{} (key lost)", join(k))),
                }
            }
            if y.keys().any(|k| !x.contains_key(k)) {
                let at = if path.is_empty() { "top level" } else { path };
                out.push(format!("{at} (new key)"));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                json_diff(u, v, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(path.to_owned()),
        _ => {}
    }
}

fn bitwise_equal(a: &NamedTensor, b: &NamedTensor) -> bool {
    a.shape == b.shape
        && a.values.len() == b.values.len()
        && a.values
            .iter()
            .zip(&b.values)
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The names of the tensors that differ (bit for bit, NaN included) between two sets.
fn tensor_diff<'a>(
    a: impl IntoIterator<Item = (&'a String, &'a NamedTensor)>,
    b: &HashMap<String, NamedTensor>,
    prefix: &str,
) -> Vec<String> {
    let a: HashMap<&String, &NamedTensor> = a.into_iter().collect();
    let names: BTreeSet<&String> = a.keys().copied().chain(b.keys()).collect();
    names
        .into_iter()
        .filter(|name| match (a.get(name), b.get(*name)) {
            (Some(x), Some(y)) => !bitwise_equal(x, y),
            _ => true,
        })
        .map(|name| format!("{prefix}{name}"))
        .collect()
}

fn outcome(mut fields: Vec<String>, refused: bool) -> Outcome {
    fields.sort();
    fields.dedup();
    match (fields.is_empty(), refused) {
        (true, _) => Outcome::Same,
        (false, true) => Outcome::Refused(fields),
        (false, false) => Outcome::Different(fields),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The four idx files of a small MNIST stand-in: 4 training and 2 test images.
fn idx_files() -> [(&'static str, Vec<u8>); 4] {
    let images = |n: usize, seed: usize| -> Vec<u8> {
        (0..n * IMAGE_PIXELS)
            .map(|i| ((i * 37 + seed * 11) % 256) as u8)
            .collect()
    };
    [
        ("train-images-idx3-ubyte", encode_images(4, &images(4, 1))),
        ("train-labels-idx1-ubyte", encode_labels(&[3, 1, 4, 1])),
        ("t10k-images-idx3-ubyte", encode_images(2, &images(2, 2))),
        ("t10k-labels-idx1-ubyte", encode_labels(&[5, 9])),
    ]
}

/// A softmax1 with fresh random weights and a `model.json` with plausible numbers, saved in
/// `dir`; returns the model and what `model.json` records.
fn save_softmax(dir: &Path, device: &Device, seed: u64) -> (AnyModel, ModelMeta) {
    let spec = model_spec("softmax1").unwrap();
    let run = ModelRun {
        spec: spec.clone(),
        split: Split::Train,
    };
    // Seeded weights, so that every run makes the same files (and so the same cases).
    let model = spec.architecture.init(device).unwrap();
    let mut rng = XorShift::new(seed);
    let weights = checkpoint::named_tensors(&model)
        .into_iter()
        .map(|(name, t)| {
            let values = t
                .values
                .iter()
                .map(|_| (rng.next() >> 40) as f32 / (1u64 << 24) as f32 * 0.1 - 0.05)
                .collect();
            let t = NamedTensor {
                shape: t.shape,
                values,
            };
            (name, t)
        })
        .collect();
    let model = checkpoint::load_named_tensors(model, weights, Path::new("seeded")).unwrap();
    let meta = ModelMeta {
        name: "softmax1".into(),
        model: "softmax1".into(),
        split: "train".into(),
        config: serde_json::to_value(&spec.architecture).unwrap(),
        train_config: serde_json::to_value(run.train_config(Scale::Smoke, seed)).unwrap(),
        seed,
        data_sha256: blindspot_data::dataset_sha256(),
        train_examples: 2000,
        train_error: 0.0735,
        test_error: 0.0812,
        train_seconds: 12.75,
        backend: "flex".into(),
        fingerprint: format!("softmax1/train/smoke/seed{seed}/v7"),
    };
    std::fs::create_dir_all(dir).unwrap();
    save_until_sorted(&dir.join(checkpoint::WEIGHTS_FILE), || {
        checkpoint::save(&model, &meta, dir).unwrap()
    });
    (model, meta)
}

/// A small random-target attack of `model` on three images, saved in `dir` with the digest of
/// the attacked weights.
fn save_attack(dir: &Path, model: &AnyModel, weights: &str, device: &Device, seed: u64) {
    let n = 3;
    let x: Vec<f32> = (0..n * IMAGE_PIXELS)
        .map(|i| ((i * 7919 + 13) % 1000) as f32 / 1000.0)
        .collect();
    let labels = vec![1, 7, 4];
    let config = AttackConfig {
        goal: Goal::Random,
        seed,
        ..AttackConfig::default()
    };
    let input = Tensor::from_data(TensorData::new(x.clone(), [n, IMAGE_PIXELS]), device);
    let result = LbfgsAttack::new(config.clone())
        .run(model, input, &labels, &mut Quiet)
        .unwrap();
    // Fixed timings, so that every run makes the same file.
    let summary = AttackSummary {
        weights_sha256: Some(weights.to_owned()),
        seconds: 1.25,
        images_per_second: 2.4,
        ..AttackSummary::new(&result, config.clone(), "softmax1", "test", "flex")
    };
    std::fs::create_dir_all(dir).unwrap();
    save_until_sorted(&dir.join(files::ADVERSARIAL_FILE), || {
        files::save(dir, &x, &result, &summary).unwrap()
    });
}

/// Calls `save` until the safetensors file at `path` has its metadata in sorted key order.
/// `encode_safetensors` writes the metadata in the order of a `HashMap`, which differs from
/// run to run; without this the same model or attack would be other bytes on every run, and so
/// would the cases made from them.
fn save_until_sorted(path: &Path, mut save: impl FnMut()) {
    for _ in 0..10_000 {
        save();
        let bytes = std::fs::read(path).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
        let meta: Value = serde_json::from_str(header).unwrap();
        // Metadata values are strings, tensor entries objects: `"key":"` finds only the former.
        let at: Vec<usize> = meta["__metadata__"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| header.find(&format!("\"{k}\":\"")).unwrap())
            .collect();
        if at.windows(2).all(|w| w[0] < w[1]) {
            return;
        }
    }
    panic!("{}: metadata never in sorted order", path.display());
}

/// The `TrainJob` spec `reproduce` writes for a child, as the parent writes it (sealed JSON),
/// saving under `results/models` (never reached: no MNIST is at hand).
fn job_spec(model: &str, split: &str, method: Option<Method>) -> Vec<u8> {
    let dir = Path::new("results").join("models");
    let run = ModelRun {
        spec: model_spec(model).unwrap(),
        split: split.parse().unwrap(),
    };
    let job = json!({
        "id": run.id(),
        "model": model,
        "split": split,
        "scale": Scale::Smoke,
        "config": run.train_config(Scale::Smoke, 11),
        "method": method,
        "dir": dir.join(run.id()),
    });
    seal_json(&serde_json::to_vec_pretty(&job).unwrap()).unwrap()
}

/// The `blindspot` binary of this build: beside the directory of this test's executable
/// (`target/<profile>/deps/`), or `$BLINDSPOT_BIN`. `cargo test --workspace` builds it before
/// it runs any test; `cargo test -p blindspot-e2e` alone may not, and the test then fails
/// saying so rather than skip the specs.
fn blindspot_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BLINDSPOT_BIN") {
        return Some(path.into());
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe
        .parent()?
        .parent()?
        .join(format!("blindspot{}", std::env::consts::EXE_SUFFIX));
    bin.is_file().then_some(bin)
}

/// What `blindspot train-job --spec <spec>` does with the spec when no MNIST is at hand
/// (offline, an empty data directory): an error naming the spec, or, for a spec it accepts,
/// the error of getting MNIST. A panic is exit status 101.
struct TrainJobRunner {
    bin: PathBuf,
    spec: PathBuf,
    data: PathBuf,
    out: PathBuf,
}

enum JobRun {
    Panicked(String),
    Accepted,
    Refused(String),
}

impl TrainJobRunner {
    fn new(bin: PathBuf, root: &Path) -> Self {
        let data = root.join("no-mnist");
        std::fs::create_dir_all(&data).unwrap();
        Self {
            bin,
            spec: root.join("job-spec.json"),
            data,
            out: root.join("out"),
        }
    }

    fn run(&self, spec: &[u8]) -> JobRun {
        std::fs::write(&self.spec, spec).unwrap();
        let output = Command::new(&self.bin)
            .arg("train-job")
            .arg("--spec")
            .arg(&self.spec)
            .arg("--offline")
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--out")
            .arg(&self.out)
            .args(["--backend", "flex"])
            .env_remove("BLINDSPOT_DATA_DIR")
            .env_remove("BLINDSPOT_BACKEND")
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.code() == Some(101) || stderr.contains("panicked at") {
            JobRun::Panicked(stderr)
        } else if output.status.success() {
            JobRun::Panicked(format!("succeeded without MNIST: {stderr}"))
        } else if stderr.contains("getting MNIST") {
            JobRun::Accepted
        } else {
            JobRun::Refused(stderr)
        }
    }
}

#[test]
fn corrupted_files_are_errors_naming_them_or_load_unchanged_and_never_panic() {
    let started = std::time::Instant::now();
    let device = Device::flex();
    let root = tempfile::tempdir().unwrap();
    let mut rng = XorShift::new(2014);
    let mut report = Report::default();

    // The valid originals, written with the library's own savers.
    let raw_dir = root.path().join("mnist-raw");
    let gz_dir = root.path().join("mnist-gz");
    std::fs::create_dir_all(&raw_dir).unwrap();
    std::fs::create_dir_all(&gz_dir).unwrap();
    let idx = idx_files();
    for (name, bytes) in &idx {
        std::fs::write(raw_dir.join(name), bytes).unwrap();
        std::fs::write(gz_dir.join(format!("{name}.gz")), gzip(bytes)).unwrap();
    }
    let mnist = Mnist::load_dir(&raw_dir).unwrap();
    assert_eq!(Mnist::load_dir(&gz_dir).unwrap(), mnist);

    let model_dir = root.path().join("models").join("softmax1");
    let other_model_dir = root.path().join("models").join("other");
    let (model, meta) = save_softmax(&model_dir, &device, 0);
    save_softmax(&other_model_dir, &device, 1);
    let weights_digest = checkpoint::weights_sha256(&model_dir).unwrap();
    let attack_dir = root.path().join("attacks").join("softmax1");
    let other_attack_dir = root.path().join("attacks").join("other");
    save_attack(&attack_dir, &model, &weights_digest, &device, 2);
    save_attack(&other_attack_dir, &model, &weights_digest, &device, 3);
    let (summary, tensors) = files::load(&attack_dir).unwrap();
    let summary_json = serde_json::to_value(&summary).unwrap();

    let bin = blindspot_bin();
    let jobs_dir = root.path().join("jobs");
    let spec = job_spec("softmax1", "train", None);
    let method_spec = job_spec("n100-100-10", "p1", Some(Method::adversarial(Levels::All)));

    let read = |path: PathBuf| std::fs::read(path).unwrap();
    let model_bytes = read(model_dir.join(checkpoint::WEIGHTS_FILE));
    let meta_bytes = read(model_dir.join(checkpoint::META_FILE));
    let tensors_bytes = read(attack_dir.join(files::ADVERSARIAL_FILE));
    let summary_bytes = read(attack_dir.join(files::SUMMARY_FILE));
    // Every valid file, for the replacements.
    let valid: Vec<(&str, Vec<u8>)> = vec![
        ("train-images-idx3-ubyte", idx[0].1.clone()),
        ("train-labels-idx1-ubyte", idx[1].1.clone()),
        ("t10k-images-idx3-ubyte", idx[2].1.clone()),
        ("t10k-labels-idx1-ubyte", idx[3].1.clone()),
        ("t10k-images-idx3-ubyte.gz", gzip(&idx[2].1)),
        ("t10k-labels-idx1-ubyte.gz", gzip(&idx[3].1)),
        ("model.safetensors", model_bytes.clone()),
        (
            "model.safetensors of another model",
            read(other_model_dir.join(checkpoint::WEIGHTS_FILE)),
        ),
        ("model.json", meta_bytes.clone()),
        (
            "model.json of another model",
            read(other_model_dir.join(checkpoint::META_FILE)),
        ),
        ("adversarial.safetensors", tensors_bytes.clone()),
        (
            "adversarial.safetensors of another attack",
            read(other_attack_dir.join(files::ADVERSARIAL_FILE)),
        ),
        ("summary.json", summary_bytes.clone()),
        (
            "summary.json of another attack",
            read(other_attack_dir.join(files::SUMMARY_FILE)),
        ),
        ("a train-job spec", spec.clone()),
        ("a train-job spec with a method", method_spec.clone()),
        ("an empty file", Vec::new()),
    ];

    // The MNIST files, read by `Mnist::load_dir` (which names each file by its path). In the
    // program `ensure_mnist` checks every file against its published SHA-256 first, so a file
    // that parses to other pixels or labels is refused there: emulated with the original's
    // digest.
    for (dir, name, gzipped) in [
        (&raw_dir, "train-images-idx3-ubyte", false),
        (&raw_dir, "train-labels-idx1-ubyte", false),
        (&gz_dir, "t10k-images-idx3-ubyte.gz", true),
        (&gz_dir, "t10k-labels-idx1-ubyte.gz", true),
    ] {
        let path = dir.join(name);
        let original = read(path.clone());
        let published = sha256_hex(&maybe_gunzip(original.clone(), name).unwrap());
        let mut cases = truncations(&original, 150, &mut rng);
        cases.extend(flips(&original, 250, &mut rng));
        cases.extend(replacements(&original, &valid));
        let mut kind = Kind {
            name: if gzipped {
                if name.contains("images") {
                    "idx images, gzipped"
                } else {
                    "idx labels, gzipped"
                }
            } else if name.contains("images") {
                "idx images"
            } else {
                "idx labels"
            },
            file: name,
            guarded: true,
            check: Box::new(|bytes| {
                std::fs::write(&path, bytes).unwrap();
                match Mnist::load_dir(dir) {
                    Err(e) => Outcome::Error(e.to_string()),
                    Ok(loaded) => {
                        let mut fields = Vec::new();
                        for (set, a, b) in [
                            ("train", &loaded.train, &mnist.train),
                            ("test", &loaded.test, &mnist.test),
                        ] {
                            if a.images != b.images {
                                fields.push(format!("{set} images"));
                            }
                            if a.labels != b.labels {
                                fields.push(format!("{set} labels"));
                            }
                        }
                        let verified = maybe_gunzip(bytes.to_vec(), name)
                            .is_ok_and(|b| sha256_hex(&b) == published);
                        outcome(fields, !verified)
                    }
                }
            }),
        };
        report.run(&mut kind, &cases);
        std::fs::write(&path, &original).unwrap();
    }

    // `model.safetensors`, beside its `model.json`: the recorded digest refuses any change.
    let weights_path = model_dir.join(checkpoint::WEIGHTS_FILE);
    let meta_path = model_dir.join(checkpoint::META_FILE);
    let original_tensors = checkpoint::named_tensors(&model);
    let meta_value = serde_json::to_value(&meta).unwrap();
    let compare_model = |loaded: &AnyModel, loaded_meta: &ModelMeta| {
        let tensors: HashMap<String, NamedTensor> =
            checkpoint::named_tensors(loaded).into_iter().collect();
        let mut fields = tensor_diff(&original_tensors, &tensors, "weights ");
        json_diff(
            &meta_value,
            &serde_json::to_value(loaded_meta).unwrap(),
            "",
            &mut fields,
        );
        fields
    };
    let mut weights_cases = truncations(&model_bytes, 150, &mut rng);
    weights_cases.extend(flips(&model_bytes, 350, &mut rng));
    weights_cases.extend(replacements(&model_bytes, &valid));
    let mut kind = Kind {
        name: "model.safetensors",
        file: checkpoint::WEIGHTS_FILE,
        guarded: true,
        check: Box::new(|bytes| {
            std::fs::write(&weights_path, bytes).unwrap();
            match checkpoint::load(&model_dir, &device) {
                Err(e) => Outcome::Error(e.to_string()),
                Ok((m, mm)) => outcome(compare_model(&m, &mm), false),
            }
        }),
    };
    report.run(&mut kind, &weights_cases);
    std::fs::write(&weights_path, &model_bytes).unwrap();

    // The same weights beside a `model.json` of an earlier version, which records no digest:
    // this reaches the safetensors decoder and the tensor checks with the corrupted bytes.
    // Nothing can tell changed values from the originals there; they are counted, not failed.
    let mut legacy_meta: Value = serde_json::from_slice(&meta_bytes).unwrap();
    let fields = legacy_meta.as_object_mut().unwrap();
    fields.remove("weights_sha256");
    fields.remove(SEAL_KEY);
    let legacy_dir = root.path().join("models").join("legacy");
    std::fs::create_dir_all(&legacy_dir).unwrap();
    std::fs::write(
        legacy_dir.join(checkpoint::META_FILE),
        serde_json::to_vec_pretty(&legacy_meta).unwrap(),
    )
    .unwrap();
    let legacy_weights = legacy_dir.join(checkpoint::WEIGHTS_FILE);
    let mut kind = Kind {
        name: "model.safetensors beside a model.json without digest",
        file: checkpoint::WEIGHTS_FILE,
        guarded: false,
        check: Box::new(|bytes| {
            std::fs::write(&legacy_weights, bytes).unwrap();
            match checkpoint::load(&legacy_dir, &device) {
                Err(e) => Outcome::Error(e.to_string()),
                Ok((m, mm)) => outcome(compare_model(&m, &mm), false),
            }
        }),
    };
    report.run(&mut kind, &weights_cases);

    // `model.json`, beside its weights. A load with another fingerprint is retrained by
    // `reproduce` (`TrainJob::up_to_date`); other fields are taken as they read.
    let mut cases = truncations(&meta_bytes, 150, &mut rng);
    cases.extend(flips(&meta_bytes, 850, &mut rng));
    cases.extend(digit_flips(&meta_bytes, 300, &mut rng));
    cases.extend(replacements(&meta_bytes, &valid));
    let mut kind = Kind {
        name: "model.json",
        file: checkpoint::META_FILE,
        guarded: true,
        check: Box::new(|bytes| {
            std::fs::write(&meta_path, bytes).unwrap();
            match checkpoint::load(&model_dir, &device) {
                Err(e) => Outcome::Error(e.to_string()),
                Ok((m, mm)) => {
                    let mut fields = compare_model(&m, &mm);
                    // The digest of the weights is not part of `ModelMeta`: a flip in its key
                    // loads as an earlier version's file, unguarded.
                    let json: Value = serde_json::from_slice(bytes).unwrap();
                    if json.get("weights_sha256").is_none() {
                        fields.push("weights_sha256 (key lost)".into());
                    }
                    let refused = mm.fingerprint != meta.fingerprint;
                    outcome(fields, refused)
                }
            }
        }),
    };
    report.run(&mut kind, &cases);
    std::fs::write(&meta_path, &meta_bytes).unwrap();

    // `adversarial.safetensors`, beside its `summary.json`: `load` and `load_checked_summary`
    // refuse any change through the recorded digest.
    let tensors_path = attack_dir.join(files::ADVERSARIAL_FILE);
    let summary_path = attack_dir.join(files::SUMMARY_FILE);
    let compare_attack = |s: &AttackSummary, t: Option<&HashMap<String, NamedTensor>>| {
        let mut fields = t.map_or_else(Vec::new, |t| tensor_diff(&tensors, t, "tensor "));
        json_diff(
            &summary_json,
            &serde_json::to_value(s).unwrap(),
            "",
            &mut fields,
        );
        fields
    };
    let mut tensor_cases = truncations(&tensors_bytes, 150, &mut rng);
    tensor_cases.extend(flips(&tensors_bytes, 350, &mut rng));
    tensor_cases.extend(replacements(&tensors_bytes, &valid));
    let mut kind = Kind {
        name: "adversarial.safetensors",
        file: files::ADVERSARIAL_FILE,
        guarded: true,
        check: Box::new(|bytes| {
            std::fs::write(&tensors_path, bytes).unwrap();
            let checked = files::load_checked_summary(&attack_dir);
            match files::load(&attack_dir) {
                Err(e) if checked.is_err() => Outcome::Error(e.to_string()),
                Err(e) => Outcome::Different(vec![format!(
                    "load_checked_summary accepts what load refuses: {e}"
                )]),
                Ok((s, t)) => {
                    let mut fields = compare_attack(&s, Some(&t));
                    if let Ok(c) = checked {
                        fields.extend(compare_attack(&c, None));
                    }
                    outcome(fields, false)
                }
            }
        }),
    };
    report.run(&mut kind, &tensor_cases);

    // The same bytes through `load_tensors`, which reads the tensors without their summary
    // (tests and the transfer crate's docs use it; the CLI uses `load`): counted, not failed.
    let mut kind = Kind {
        name: "adversarial.safetensors via load_tensors (no summary)",
        file: files::ADVERSARIAL_FILE,
        guarded: false,
        check: Box::new(|bytes| {
            std::fs::write(&tensors_path, bytes).unwrap();
            match files::load_tensors(&attack_dir) {
                Err(e) => Outcome::Error(e.to_string()),
                Ok(t) => match files::input_shape_of(&t) {
                    Err(e) => Outcome::Error(e.to_string()),
                    Ok(shape) => {
                        let mut fields = tensor_diff(&tensors, &t, "tensor ");
                        if shape != [1, 28, 28] {
                            fields.push(format!("input shape {shape:?}"));
                        }
                        outcome(fields, false)
                    }
                },
            }
        }),
    };
    report.run(&mut kind, &tensor_cases);
    std::fs::write(&tensors_path, &tensors_bytes).unwrap();

    // `summary.json`, beside its tensors. `blindspot attack` reuses a saved attack only if its
    // format, settings, image count and model weights are this run's (cmd/attack.rs); a load
    // that differs there is refused, any other difference is reused as it reads.
    let mut cases = truncations(&summary_bytes, 150, &mut rng);
    cases.extend(flips(&summary_bytes, 850, &mut rng));
    cases.extend(digit_flips(&summary_bytes, 300, &mut rng));
    cases.extend(replacements(&summary_bytes, &valid));
    let mut kind = Kind {
        name: "summary.json",
        file: files::SUMMARY_FILE,
        guarded: true,
        check: Box::new(|bytes| {
            std::fs::write(&summary_path, bytes).unwrap();
            let plain = files::load_summary(&attack_dir);
            let full = files::load(&attack_dir);
            match files::load_checked_summary(&attack_dir) {
                Err(e) => match (plain, full) {
                    (Err(p), _) if !p.to_string().contains(files::SUMMARY_FILE) => {
                        Outcome::Error(format!("load_summary: {p}"))
                    }
                    (_, Ok(_)) => Outcome::Different(vec![format!(
                        "load accepts what load_checked_summary refuses: {e}"
                    )]),
                    _ => Outcome::Error(e.to_string()),
                },
                Ok(s) => {
                    let mut fields = compare_attack(&s, None);
                    match full {
                        Ok((f, t)) => {
                            fields.extend(compare_attack(&f, Some(&t)));
                        }
                        Err(e) => fields.push(format!("load refuses what is checked: {e}")),
                    }
                    let reused = s.format == FORMAT_VERSION
                        && s.config.same_attack(&summary.config)
                        && s.images == summary.images
                        && s.weights_sha256 == summary.weights_sha256;
                    outcome(fields, !reused)
                }
            }
        }),
    };
    report.run(&mut kind, &cases);
    std::fs::write(&summary_path, &summary_bytes).unwrap();

    // The job spec of `blindspot train-job`, through the binary: the CLI is a binary crate, so
    // its `TrainJob` is reachable only so. A spec it accepts goes on to read MNIST, which an
    // empty offline data directory refuses; an accepted spec must then read as the original
    // (compared as JSON); the seal leaves no changed spec accepted.
    let mut job_cases = 0;
    if let Some(bin) = bin {
        let runner = TrainJobRunner::new(bin, &jobs_dir);
        for (name, original) in [
            ("train-job spec", &spec),
            ("train-job spec with a method", &method_spec),
        ] {
            assert!(
                matches!(runner.run(original), JobRun::Accepted),
                "the original {name} must be accepted"
            );
            let original_json: Value = serde_json::from_slice(original).unwrap();
            let mut cases = truncations(original, 100, &mut rng);
            cases.extend(flips(original, 250, &mut rng));
            cases.extend(digit_flips(original, 100, &mut rng));
            // The other spec is a valid job, not a file of another kind.
            let others: Vec<(&str, Vec<u8>)> = valid
                .iter()
                .filter(|(n, _)| !n.contains("train-job spec"))
                .cloned()
                .collect();
            cases.extend(replacements(original, &others));
            job_cases += cases.len();
            let mut kind = Kind {
                name,
                file: "job-spec.json",
                guarded: true,
                check: Box::new(|bytes| match runner.run(bytes) {
                    JobRun::Panicked(stderr) => panic!("train-job panicked: {stderr}"),
                    JobRun::Refused(stderr) => Outcome::Error(stderr),
                    JobRun::Accepted => {
                        let mut fields = Vec::new();
                        match serde_json::from_slice::<Value>(bytes) {
                            Ok(json) => json_diff(&original_json, &json, "", &mut fields),
                            Err(e) => fields.push(format!("accepted, not JSON: {e}")),
                        }
                        outcome(fields, false)
                    }
                }),
            };
            report.run(&mut kind, &cases);
        }
    } else {
        panic!(
            "bad files: no `blindspot` binary beside this test to run the train-job specs \
             through (run `cargo test --workspace`, or build it and set BLINDSPOT_BIN)"
        );
    }

    report.print();
    let total: usize = report.tallies.iter().map(|(_, t)| t.cases()).sum();
    let panics: usize = report.tallies.iter().map(|(_, t)| t.panics).sum();
    eprintln!(
        "bad files: {total} cases ({job_cases} through the binary), {panics} panics, {} \
         failures, {:.1} s",
        report.failures.len(),
        started.elapsed().as_secs_f64()
    );
    for failure in report.failures.iter().take(30) {
        eprintln!("FAILURE {failure}");
    }
    assert!(total >= 2000, "only {total} cases");
    assert_eq!(panics, 0, "loaders panicked on bad files");
    assert!(
        report.failures.is_empty(),
        "{} cases broke the contract (see above)",
        report.failures.len()
    );
}

/// `json` (a sealed file's content, edited) sealed again, as if written so: what a file
/// written by a faulty or other program that seals would hold.
fn resealed(json: &Value) -> Vec<u8> {
    let mut json = json.clone();
    json.as_object_mut().unwrap().remove(SEAL_KEY);
    seal_json(&serde_json::to_vec_pretty(&json).unwrap()).unwrap()
}

/// Regression: a `model.json` that parses but whose configuration is out of range (here a
/// negative weight decay, as a flipped byte before a number makes it) was an error that named
/// no file (`invalid configuration: …`), and one whose widths do not fit the weights named the
/// intact weights alone.
#[test]
fn a_model_json_with_an_invalid_configuration_is_an_error_naming_it() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    save_softmax(dir.path(), &device, 0);
    let path = dir.path().join(checkpoint::META_FILE);
    let mut json: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["config"]["weight_decay"] = json!([-1e-4]);
    std::fs::write(&path, resealed(&json)).unwrap();
    let err = checkpoint::load(dir.path(), &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains(checkpoint::META_FILE), "{err}");
    assert!(err.contains("weight decay"), "{err}");
    // A width changed by a digit (784 -> 785) named only the intact weights
    // (`model.safetensors: tensor … expected [10, 785]`); both files are named now.
    json["config"]["weight_decay"] = json!([1e-4]);
    json["config"]["input"] = json!(785);
    std::fs::write(&path, resealed(&json)).unwrap();
    let err = checkpoint::load(dir.path(), &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains(checkpoint::META_FILE), "{err}");
    assert!(err.contains(checkpoint::WEIGHTS_FILE), "{err}");
    assert!(err.contains("does not fit"), "{err}");
}

/// Regression: a job spec that parses but names no catalogue model, or holds an invalid recipe,
/// went on to read MNIST and failed later without naming the spec; it is refused first.
#[test]
fn a_job_spec_with_an_unknown_model_or_an_invalid_recipe_is_refused_naming_it() {
    let bin = blindspot_bin().expect(
        "no `blindspot` binary beside this test: run `cargo test --workspace`, or build it and \
         set BLINDSPOT_BIN",
    );
    let dir = tempfile::tempdir().unwrap();
    let runner = TrainJobRunner::new(bin, dir.path());
    let spec = job_spec("softmax1", "train", None);
    let original: Value = serde_json::from_slice(&spec).unwrap();
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 4] = [
        ("an unknown model", |j| j["model"] = json!("softmax9")),
        ("an unknown split", |j| j["split"] = json!("p3")),
        ("a batch size of 0", |j| {
            j["config"]["batch_size"] = json!(0)
        }),
        ("a dropout probability of 1", |j| {
            j["method"] = json!({"method": "dropout", "input": 1.0, "hidden": 0.2})
        }),
    ];
    for (what, edit) in edits {
        let mut json = original.clone();
        edit(&mut json);
        match runner.run(&resealed(&json)) {
            JobRun::Refused(stderr) => {
                assert!(stderr.contains("job-spec.json"), "{what}: {stderr}");
                assert!(stderr.contains("checking the job"), "{what}: {stderr}");
            }
            JobRun::Accepted => panic!("{what}: accepted"),
            JobRun::Panicked(stderr) => panic!("{what}: {stderr}"),
        }
    }
}
