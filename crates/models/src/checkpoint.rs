//! Checkpoints: `model.safetensors` (named F32 tensors, PyTorch layout) plus `model.json`
//! (what the model is and how it was trained), both written atomically.
//!
//! Tensor names:
//! - softmax and MLP models: `layers.{i}.weight` `[out, in]` and `layers.{i}.bias` `[out]`, as
//!   PyTorch's `nn.Linear` in an `nn.ModuleList` named `layers`;
//! - the conv net: `conv.weight` `[filters, 1, k, k]`, `conv.bias`, `fc.weight`, `fc.bias`,
//!   `classifier.weight`, `classifier.bias`;
//! - the autoencoder: `encoder.*`, `decoder.*`, `classifier.*`.
//!
//! Burn's `Linear` stores its weight as `[in, out]`; it is transposed on the way out and back.
//! Loading rebuilds the model from the configuration in `model.json`, then checks that every
//! tensor is present, has the expected shape and is F32, and that no unknown tensor is there.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use blindspot_data::files::{Seal, check_seal, seal_json};
use blindspot_data::write_atomic;
use burn::module::Param;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::any::{AnyModel, Architecture};
use crate::error::{ModelError, Result};

/// File name of the weights inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the metadata inside a model directory.
pub const META_FILE: &str = "model.json";

/// What `model.json` records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelMeta {
    /// The run id (`n100-100-10-p1`).
    pub name: String,
    /// The catalogue model (`n100-100-10`).
    pub model: String,
    /// The training split (`train`, `p1`, `p2`).
    pub split: String,
    /// Architecture and hyper-parameters.
    pub config: serde_json::Value,
    /// The training recipe.
    pub train_config: serde_json::Value,
    /// The training seed.
    pub seed: u64,
    /// SHA-256 standing for the MNIST files used.
    pub data_sha256: String,
    /// Training examples used.
    pub train_examples: usize,
    /// Error on the training split (fraction).
    pub train_error: f64,
    /// Error on the test set (fraction).
    pub test_error: f64,
    /// Wall-clock seconds of training.
    pub train_seconds: f64,
    /// The backend that trained it.
    pub backend: String,
    /// Free-form key for "same configuration" checks by pipelines.
    pub fingerprint: String,
}

impl ModelMeta {
    /// The architecture recorded in `config`.
    pub fn architecture(&self, path: &Path) -> Result<Architecture> {
        serde_json::from_value(self.config.clone()).map_err(|e| ModelError::Format {
            path: path.to_owned(),
            message: format!("bad model configuration: {e}"),
        })
    }
}

/// A tensor as it is stored: shape and F32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Shape, PyTorch layout.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

fn host<const D: usize>(t: Tensor<D>) -> NamedTensor {
    let shape = t.dims().to_vec();
    let values = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32 above");
    NamedTensor { shape, values }
}

fn linear_out(prefix: &str, l: &Linear, out: &mut BTreeMap<String, NamedTensor>) {
    out.insert(format!("{prefix}.weight"), host(l.weight.val().transpose()));
    if let Some(b) = &l.bias {
        out.insert(format!("{prefix}.bias"), host(b.val()));
    }
}

fn conv_out(prefix: &str, c: &Conv2d, out: &mut BTreeMap<String, NamedTensor>) {
    out.insert(format!("{prefix}.weight"), host(c.weight.val()));
    if let Some(b) = &c.bias {
        out.insert(format!("{prefix}.bias"), host(b.val()));
    }
}

/// Every parameter of the model under its checkpoint name, PyTorch layout.
pub fn named_tensors(model: &AnyModel) -> BTreeMap<String, NamedTensor> {
    let mut out = BTreeMap::new();
    match model {
        AnyModel::Mlp(m) => {
            for (i, l) in m.layers.iter().enumerate() {
                linear_out(&format!("layers.{i}"), l, &mut out);
            }
        }
        AnyModel::Conv(m) => {
            conv_out("conv", &m.conv, &mut out);
            linear_out("fc", &m.fc, &mut out);
            linear_out("classifier", &m.classifier, &mut out);
        }
        AnyModel::Autoencoder(m) => {
            linear_out("encoder", &m.encoder, &mut out);
            linear_out("decoder", &m.decoder, &mut out);
            linear_out("classifier", &m.classifier, &mut out);
        }
    }
    out
}

/// Takes tensors by name out of a map, checking shapes; reports missing tensors.
struct Loader<'a> {
    path: &'a Path,
    tensors: HashMap<String, NamedTensor>,
    device: Device,
}

impl Loader<'_> {
    fn take<const D: usize>(&mut self, name: &str, expected: [usize; D]) -> Result<Tensor<D>> {
        let values = self.take_host(name, &expected)?;
        Ok(Tensor::from_data(
            TensorData::new(values, expected),
            &self.device,
        ))
    }

    fn take_host(&mut self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        let t = self
            .tensors
            .remove(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: self.path.to_owned(),
                name: name.to_owned(),
            })?;
        if t.shape != expected {
            return Err(ModelError::TensorMismatch {
                path: self.path.to_owned(),
                name: name.to_owned(),
                expected: expected.to_vec(),
                found: t.shape,
                dtype: "F32".into(),
            });
        }
        Ok(t.values)
    }

    fn linear(&mut self, prefix: &str, l: &mut Linear) -> Result<()> {
        let [d_in, d_out] = l.weight.dims();
        let w = self.take_host(&format!("{prefix}.weight"), &[d_out, d_in])?;
        // Transposed on the host so that Burn gets its own contiguous `[in, out]` layout: a
        // transposed view would change the summation order and so the logits' last bits.
        let mut t = vec![0.0; w.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                t[i * d_out + o] = w[o * d_in + i];
            }
        }
        l.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(t, [d_in, d_out]),
            &self.device,
        ));
        if l.bias.is_some() {
            l.bias = Some(Param::from_tensor(
                self.take(&format!("{prefix}.bias"), [d_out])?,
            ));
        }
        Ok(())
    }

    fn conv(&mut self, prefix: &str, c: &mut Conv2d) -> Result<()> {
        let dims = c.weight.dims();
        c.weight = Param::from_tensor(self.take(&format!("{prefix}.weight"), dims)?);
        if c.bias.is_some() {
            c.bias = Some(Param::from_tensor(
                self.take(&format!("{prefix}.bias"), [dims[0]])?,
            ));
        }
        Ok(())
    }
}

/// Replaces every parameter of `model` by the named tensor; every name must be used exactly.
pub fn load_named_tensors(
    mut model: AnyModel,
    tensors: HashMap<String, NamedTensor>,
    path: &Path,
) -> Result<AnyModel> {
    let device = model
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| ModelError::InvalidConfig("model has no parameters".into()))?;
    let mut loader = Loader {
        path,
        tensors,
        device,
    };
    let kind = match &mut model {
        AnyModel::Mlp(m) => {
            for (i, l) in m.layers.iter_mut().enumerate() {
                loader.linear(&format!("layers.{i}"), l)?;
            }
            "mlp"
        }
        AnyModel::Conv(m) => {
            loader.conv("conv", &mut m.conv)?;
            loader.linear("fc", &mut m.fc)?;
            loader.linear("classifier", &mut m.classifier)?;
            "conv"
        }
        AnyModel::Autoencoder(m) => {
            loader.linear("encoder", &mut m.encoder)?;
            loader.linear("decoder", &mut m.decoder)?;
            loader.linear("classifier", &mut m.classifier)?;
            "autoencoder"
        }
    };
    if let Some(name) = loader.tensors.keys().min() {
        return Err(ModelError::UnexpectedTensor {
            path: path.to_owned(),
            name: name.clone(),
            model: kind.into(),
        });
    }
    Ok(model)
}

/// Encodes named tensors as a safetensors file (F32, little-endian).
pub fn encode_safetensors(
    tensors: &BTreeMap<String, NamedTensor>,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let raw = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), t.shape.clone(), raw)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, raw)| {
            TensorView::new(Dtype::F32, shape.clone(), raw).map(|v| (name.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ModelError::Format {
            path: PathBuf::from(WEIGHTS_FILE),
            message: e.to_string(),
        })?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| ModelError::Format {
        path: PathBuf::from(WEIGHTS_FILE),
        message: e.to_string(),
    })
}

/// Decodes a safetensors file; every tensor must be F32.
pub fn decode_safetensors(bytes: &[u8], path: &Path) -> Result<HashMap<String, NamedTensor>> {
    let format = |message: String| ModelError::Format {
        path: path.to_owned(),
        message,
    };
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| format(format!("not a safetensors file: {e}")))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(ModelError::TensorMismatch {
                path: path.to_owned(),
                name,
                expected: view.shape().to_vec(),
                found: view.shape().to_vec(),
                dtype: format!("{:?}", view.dtype()),
            });
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(
            name,
            NamedTensor {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    Ok(out)
}

/// Writes `dir/model.safetensors` and `dir/model.json`, each atomically (weights first, so a
/// `model.json` always describes complete weights).
pub fn save(model: &AnyModel, meta: &ModelMeta, dir: &Path) -> Result<()> {
    let metadata = HashMap::from([
        ("format".to_owned(), "blindspot".to_owned()),
        ("model".to_owned(), meta.model.clone()),
    ]);
    let weights = encode_safetensors(&named_tensors(model), metadata)?;
    write_atomic(&dir.join(WEIGHTS_FILE), &weights)?;
    // `model.json`, written last, names the weights it goes with: a kill between the two
    // writes leaves a pair that `load` refuses (and pipelines retrain).
    let format = |e: serde_json::Error| ModelError::Format {
        path: dir.join(META_FILE),
        message: e.to_string(),
    };
    let mut json = serde_json::to_value(meta).map_err(format)?;
    if let serde_json::Value::Object(fields) = &mut json {
        fields.insert(
            WEIGHTS_DIGEST_KEY.into(),
            blindspot_data::files::sha256_hex(&weights).into(),
        );
    }
    // Sealed with the SHA-256 of its own text: a changed digit still parses, and must not
    // load as another error rate or configuration.
    let body = serde_json::to_vec_pretty(&json).map_err(format)?;
    let sealed = seal_json(&body).ok_or_else(|| ModelError::Format {
        path: dir.join(META_FILE),
        message: "metadata is not a JSON object".into(),
    })?;
    write_atomic(&dir.join(META_FILE), &sealed)?;
    Ok(())
}

/// The key of `model.json` that holds the SHA-256 of the weights saved with it.
const WEIGHTS_DIGEST_KEY: &str = "weights_sha256";

/// Checks that `weights` (the bytes of `dir/model.safetensors`) are the weights `model.json`
/// was saved with. Files of earlier versions, which do not say, pass.
fn check_pair(dir: &Path, weights: &[u8]) -> Result<()> {
    let path = dir.join(META_FILE);
    let bytes = std::fs::read(&path).map_err(|e| ModelError::io("reading", &path, e))?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ModelError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
    match json.get(WEIGHTS_DIGEST_KEY) {
        None => Ok(()),
        Some(serde_json::Value::String(recorded))
            if *recorded == blindspot_data::files::sha256_hex(weights) =>
        {
            Ok(())
        }
        Some(_) => Err(ModelError::Incomplete {
            path,
            reason: format!("it was saved with other weights than {WEIGHTS_FILE} holds"),
        }),
    }
}

/// SHA-256 of `dir/model.safetensors`: the identity of the weights a derived result (an attack,
/// a certificate) was computed from, checked against the checkpoint on disk before reuse.
pub fn weights_sha256(dir: &Path) -> Result<String> {
    let path = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| ModelError::io("reading", &path, e))?;
    Ok(blindspot_data::files::sha256_hex(&bytes))
}

/// Reads `dir/model.json` alone.
/// The seal is checked: a `model.json` changed since it was written is refused, as is one
/// that names its weights' digest (this version's files) but lost its seal; files of earlier
/// versions, with neither, load.
pub fn load_meta(dir: &Path) -> Result<ModelMeta> {
    let path = dir.join(META_FILE);
    let bytes = std::fs::read(&path).map_err(|e| ModelError::io("reading", &path, e))?;
    let format = |message: String| ModelError::Format {
        path: path.clone(),
        message,
    };
    let seal = check_seal(&bytes).map_err(format)?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format(e.to_string()))?;
    if seal == Seal::Absent && json.get(WEIGHTS_DIGEST_KEY).is_some() {
        return Err(format("its seal is missing".into()));
    }
    serde_json::from_value(json).map_err(|e| format(e.to_string()))
}

/// Loads a model directory onto `device`: rebuilds the architecture from `model.json`, then
/// loads and checks the weights ([`ModelError::Incomplete`] if they are not those `model.json`
/// was saved with).
pub fn load(dir: &Path, device: &Device) -> Result<(AnyModel, ModelMeta)> {
    let meta = load_meta(dir)?;
    let path = dir.join(WEIGHTS_FILE);
    let architecture = meta.architecture(&dir.join(META_FILE))?;
    let bytes = std::fs::read(&path).map_err(|e| ModelError::io("reading", &path, e))?;
    check_pair(dir, &bytes)?;
    let tensors = decode_safetensors(&bytes, &path)?;
    // A configuration that parses but is out of range (a negative weight decay, one class)
    // is a fault of `model.json`: the error names it.
    let model = architecture.init(device).map_err(|e| ModelError::Format {
        path: dir.join(META_FILE),
        message: format!("bad model configuration: {e}"),
    })?;
    // The weights are those `model.json` was saved with (or it is of a version that does not
    // say): tensors that do not fit its configuration (a changed width) name both files.
    let model = load_named_tensors(model, tensors, &path).map_err(|e| ModelError::Format {
        path: dir.join(META_FILE),
        message: format!("the model configuration does not fit {WEIGHTS_FILE}: {e}"),
    })?;
    Ok((model, meta))
}
