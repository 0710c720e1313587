//! Attack results on disk: `adversarial.safetensors` (named F32 tensors, readable from numpy
//! and PyTorch) and `summary.json`, each written atomically.
//!
//! Tensors, one row per problem (per image; per image and wrong class for `--goal all`):
//! `x` and `x_adv` `[P, C, H, W]` (the model's input shape, as PyTorch lays out a batch of
//! images; files of earlier versions hold `[P, C·H·W]`, read by [`input_shape_of`]), `label`,
//! `target` (−1 for untargeted), `success`, `at_goal` (the clean image already reached the
//! goal; absent in earlier files) and
//! `misclassified` (0/1), `distortion` (the paper's RMS; NaN where the attack failed), `l2`,
//! `c` (the largest successful `c`; NaN if none) and `evaluations`, all `[P]`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use blindspot_data::files::{Seal, check_seal, seal_json, sha256_hex};
use blindspot_data::write_atomic;
use blindspot_models::checkpoint::{NamedTensor, decode_safetensors, encode_safetensors};
use blindspot_models::{InputShape, flat_input_shape};
use serde::{Deserialize, Serialize};

use crate::any::AnyAttack;
use crate::attack::AttackResult;
use crate::error::{AttackError, Result};
use crate::goal::Goal;

/// File name of the tensors.
pub const ADVERSARIAL_FILE: &str = "adversarial.safetensors";
/// File name of the summary.
pub const SUMMARY_FILE: &str = "summary.json";

/// Version of the attack files. A saved attack of another version is not reused: version 2
/// stores images as `[P, C, H, W]`, the `at_goal` flags, and means that leave out images
/// already at the goal (version 1, unmarked, counted them as distortion 0).
pub const FORMAT_VERSION: u32 = 2;

/// What `summary.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackSummary {
    /// [`FORMAT_VERSION`] of the files (1 for files that do not say).
    #[serde(default = "first_version")]
    pub format: u32,
    /// The attacked model's name.
    pub model: String,
    /// The image split (`train` or `test`).
    pub split: String,
    /// The backend it ran on.
    pub backend: String,
    /// SHA-256 of the attacked checkpoint's weights file, when the attack ran on a saved
    /// checkpoint: an attack is reused only while the checkpoint on disk has these weights.
    #[serde(default)]
    pub weights_sha256: Option<String>,
    /// SHA-256 of the `adversarial.safetensors` written with this summary (set by [`save`]):
    /// [`load`] and [`load_checked_summary`] refuse a pair that does not match, as a kill
    /// between the two writes leaves it.
    #[serde(default)]
    pub tensors_sha256: Option<String>,
    /// The attack and its settings (summaries written before there were other attacks hold
    /// the bare L-BFGS settings, read as [`AnyAttack::Lbfgs`]).
    #[serde(deserialize_with = "crate::any::any_or_lbfgs")]
    pub config: AnyAttack,
    /// The shape of one input, `[C, H, W]` (absent in summaries of earlier versions).
    #[serde(default)]
    pub input_shape: Option<InputShape>,
    /// Images attacked.
    pub images: usize,
    /// Problems solved (images × targets for `all`).
    pub problems: usize,
    /// Share of problems whose goal was reached.
    pub success_rate: f64,
    /// Images the model already misclassified.
    pub misclassified: usize,
    /// Problems whose clean image already reached the goal (distortion 0), left out of the
    /// means below (absent in summaries of earlier versions, whose means counted them as 0).
    #[serde(default)]
    pub already_at_goal: Option<usize>,
    /// Mean RMS distortion over the problems a perturbation made successful.
    #[serde(with = "blindspot_data::nan_as_null")]
    pub mean_distortion: f64,
    /// Median RMS distortion over the problems a perturbation made successful.
    #[serde(with = "blindspot_data::nan_as_null")]
    pub median_distortion: f64,
    /// Mean L2 norm over the problems a perturbation made successful.
    #[serde(with = "blindspot_data::nan_as_null")]
    pub mean_l2: f64,
    /// For `all`: the mean over images of the smallest distortion over the wrong classes that a
    /// perturbation reached.
    pub mean_min_distortion: Option<f64>,
    /// Model evaluations per problem, mean.
    pub evaluations_per_problem: f64,
    /// Wall-clock seconds of the attack.
    pub seconds: f64,
    /// Images per second.
    pub images_per_second: f64,
}

fn first_version() -> u32 {
    1
}

fn mean(v: &[f32]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64
}

/// The median of a sample (NaN if empty).
pub fn median(v: &[f32]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        f64::from(s[m])
    } else {
        (f64::from(s[m - 1]) + f64::from(s[m])) / 2.0
    }
}

impl AttackSummary {
    /// Summarizes a result of the attack `config` (any attack's settings, or an
    /// [`AnyAttack`]).
    pub fn new(
        result: &AttackResult,
        config: impl Into<AnyAttack>,
        model: &str,
        split: &str,
        backend: &str,
    ) -> Self {
        let config: AnyAttack = config.into();
        let ok = result.successful_distortions();
        let l2: Vec<f32> = result.perturbed().map(|i| result.l2[i]).collect();
        let images = result
            .problems
            .iter()
            .map(|p| p.image + 1)
            .max()
            .unwrap_or(0);
        let mean_min_distortion = (config.goal() == Goal::All).then(|| {
            let mut best = vec![f32::INFINITY; images];
            for i in result.perturbed() {
                let image = result.problems[i].image;
                best[image] = best[image].min(result.distortion[i]);
            }
            let found: Vec<f32> = best.into_iter().filter(|d| d.is_finite()).collect();
            mean(&found)
        });
        let evals: Vec<f32> = result.evaluations.iter().map(|&e| e as f32).collect();
        Self {
            format: FORMAT_VERSION,
            model: model.to_string(),
            split: split.to_string(),
            backend: backend.to_string(),
            weights_sha256: None,
            tensors_sha256: None,
            config,
            input_shape: Some(result.input_shape),
            images,
            problems: result.problems.len(),
            success_rate: result.success_rate(),
            misclassified: result.misclassified.iter().filter(|&&m| m).count(),
            already_at_goal: Some(result.at_goal.iter().filter(|&&a| a).count()),
            mean_distortion: mean(&ok),
            median_distortion: median(&ok),
            mean_l2: mean(&l2),
            mean_min_distortion,
            evaluations_per_problem: mean(&evals),
            seconds: result.seconds,
            images_per_second: images as f64 / result.seconds.max(1e-9),
        }
    }
}

fn column(values: Vec<f32>) -> NamedTensor {
    NamedTensor {
        shape: vec![values.len()],
        values,
    }
}

fn flag(v: &[bool]) -> NamedTensor {
    column(v.iter().map(|&b| f32::from(u8::from(b))).collect())
}

/// Writes `dir/adversarial.safetensors` and then `dir/summary.json` with the tensors' SHA-256
/// (`summary`'s own `tensors_sha256` is replaced). `images` are the attacked images `[N, dim]`
/// row-major (the `x` of each problem is taken from them).
pub fn save(
    dir: &Path,
    images: &[f32],
    result: &AttackResult,
    summary: &AttackSummary,
) -> Result<()> {
    let p = result.problems.len();
    let dim = result.dim;
    let [c, h, w] = result.input_shape;
    let mut x = Vec::with_capacity(p * dim);
    for problem in &result.problems {
        let row = images
            .get(problem.image * dim..(problem.image + 1) * dim)
            .ok_or(AttackError::Shape {
                what: "attacked images",
                expected: vec![problem.image + 1, dim],
                found: vec![images.len() / dim.max(1), dim],
            })?;
        x.extend_from_slice(row);
    }
    let mut tensors = BTreeMap::new();
    tensors.insert(
        "x".into(),
        NamedTensor {
            shape: vec![p, c, h, w],
            values: x,
        },
    );
    tensors.insert(
        "x_adv".into(),
        NamedTensor {
            shape: vec![p, c, h, w],
            values: result.x_adv.clone(),
        },
    );
    tensors.insert(
        "label".into(),
        column(result.problems.iter().map(|q| q.label as f32).collect()),
    );
    tensors.insert(
        "target".into(),
        column(
            result
                .problems
                .iter()
                .map(|q| q.target.map_or(-1.0, |t| t as f32))
                .collect(),
        ),
    );
    tensors.insert("success".into(), flag(&result.success));
    tensors.insert("misclassified".into(), flag(&result.misclassified));
    tensors.insert("at_goal".into(), flag(&result.at_goal));
    tensors.insert("distortion".into(), column(result.distortion.clone()));
    tensors.insert("l2".into(), column(result.l2.clone()));
    tensors.insert("c".into(), column(result.c.clone()));
    tensors.insert(
        "evaluations".into(),
        column(result.evaluations.iter().map(|&e| e as f32).collect()),
    );
    let metadata = HashMap::from([
        ("format".to_string(), "blindspot-adversarial".to_string()),
        ("attack".to_string(), summary.config.name().to_string()),
        ("goal".to_string(), summary.config.goal().to_string()),
        ("model".to_string(), summary.model.clone()),
        ("input_shape".to_string(), format!("{c},{h},{w}")),
    ]);
    let bytes = encode_safetensors(&tensors, metadata)?;
    write_atomic(&dir.join(ADVERSARIAL_FILE), &bytes)?;
    // The summary, written last, names the tensors it goes with.
    let summary = AttackSummary {
        tensors_sha256: Some(sha256_hex(&bytes)),
        ..summary.clone()
    };
    let format = |reason: String| AttackError::Format {
        path: dir.join(SUMMARY_FILE),
        reason,
    };
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| format(e.to_string()))?;
    // Sealed with the SHA-256 of its own text: a changed digit still parses, and must not be
    // read as another mean distortion.
    let sealed = seal_json(&json).ok_or_else(|| format("not a JSON object".into()))?;
    write_atomic(&dir.join(SUMMARY_FILE), &sealed)?;
    Ok(())
}

/// Reads `dir/adversarial.safetensors` back as named tensors.
pub fn load_tensors(dir: &Path) -> Result<HashMap<String, NamedTensor>> {
    let path = dir.join(ADVERSARIAL_FILE);
    let bytes = std::fs::read(&path).map_err(|source| AttackError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(decode_safetensors(&bytes, &path)?)
}

/// The input shape `[C, H, W]` of saved attack tensors, from the shape of `x`: `[P, C, H, W]`,
/// or `[P, D]` in files of earlier versions (read as [`flat_input_shape`]`(D)`).
pub fn input_shape_of(tensors: &HashMap<String, NamedTensor>) -> Result<InputShape> {
    let x = tensors.get("x").ok_or_else(|| AttackError::Format {
        path: ADVERSARIAL_FILE.into(),
        reason: "no tensor `x`".into(),
    })?;
    match x.shape[..] {
        [_, c, h, w] => Ok([c, h, w]),
        [_, d] => Ok(flat_input_shape(d)),
        _ => Err(AttackError::Format {
            path: ADVERSARIAL_FILE.into(),
            reason: format!("`x` has shape {:?}, expected [P, C, H, W]", x.shape),
        }),
    }
}

/// Reads `dir/summary.json`, checking its seal: a summary changed since it was written is
/// refused, as is one of this version (naming its tensors' digest) that lost its seal.
pub fn load_summary(dir: &Path) -> Result<AttackSummary> {
    let path = dir.join(SUMMARY_FILE);
    let bytes = std::fs::read(&path).map_err(|source| AttackError::Io {
        path: path.clone(),
        source,
    })?;
    let format = |reason: String| AttackError::Format {
        path: path.clone(),
        reason,
    };
    let seal = check_seal(&bytes).map_err(format)?;
    let summary: AttackSummary =
        serde_json::from_slice(&bytes).map_err(|e| format(e.to_string()))?;
    // This version's summaries (which name their tensors' digest) are sealed.
    if seal == Seal::Absent && summary.tensors_sha256.is_some() {
        return Err(format("its seal is missing".into()));
    }
    Ok(summary)
}

/// Reads `dir/summary.json` and checks that `dir/adversarial.safetensors` holds the tensors it
/// was written with ([`AttackError::Incomplete`] if not; summaries of earlier versions, which
/// do not say, pass when the tensors file is there).
pub fn load_checked_summary(dir: &Path) -> Result<AttackSummary> {
    let summary = load_summary(dir)?;
    let bytes = read(&dir.join(ADVERSARIAL_FILE))?;
    check_pair(dir, &summary, &bytes)?;
    Ok(summary)
}

/// Reads an attack's summary and tensors, checked to belong together (see
/// [`load_checked_summary`]).
pub fn load(dir: &Path) -> Result<(AttackSummary, HashMap<String, NamedTensor>)> {
    let summary = load_summary(dir)?;
    let path = dir.join(ADVERSARIAL_FILE);
    let bytes = read(&path)?;
    check_pair(dir, &summary, &bytes)?;
    Ok((summary, decode_safetensors(&bytes, &path)?))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| AttackError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn check_pair(dir: &Path, summary: &AttackSummary, tensors: &[u8]) -> Result<()> {
    match &summary.tensors_sha256 {
        Some(recorded) if *recorded != sha256_hex(tensors) => Err(AttackError::Incomplete {
            path: dir.join(SUMMARY_FILE),
            reason: format!("it was written with other tensors than {ADVERSARIAL_FILE} holds"),
        }),
        _ => Ok(()),
    }
}
