//! Weights saved by Burn's own persistence ([burn-store]'s `SafetensorsStore`) or by PyTorch,
//! loaded into a catalogue [`Architecture`].
//!
//! The two directions of the interop with a plain Burn program:
//! - **out**: a blindspot checkpoint (`model.safetensors`, PyTorch layout, see [`checkpoint`])
//!   loads into the same Burn module with burn-store and its PyTorch adapter —
//!   `model.load_from(&mut SafetensorsStore::from_file(path).with_from_adapter(PyTorchToBurnAdapter))`
//!   — because the tensor names are the modules' field paths (`layers.0.weight`, `conv.bias`);
//! - **in**: [`load_module_file`] reads a file that such a program wrote with
//!   `model.save_into(&mut SafetensorsStore::from_file(path))` (Burn's layout: `Linear` weights
//!   `[in, out]`), or one written from PyTorch (`[out, in]`), into the architecture the user
//!   names, and checks that every parameter was filled and no tensor was left over.
//!
//! Which layout a file has is read from its safetensors metadata: burn-store writes
//! `producer = burn`; anything else (blindspot's `format = blindspot`, PyTorch's `format = pt`)
//! is the PyTorch layout.
//!
//! [burn-store]: burn_store
//! [`checkpoint`]: crate::checkpoint

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::Device;
use burn_store::{ApplyError, ApplyResult, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use safetensors::SafeTensors;

use crate::any::{AnyModel, Architecture};
use crate::error::{ModelError, Result};

/// The tensor layout of a weights file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Written by burn-store (`Linear` weights `[in, out]`).
    Burn,
    /// PyTorch's layout (`Linear` weights `[out, in]`): blindspot's checkpoints, PyTorch's
    /// `safetensors.torch.save_file`.
    PyTorch,
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::Burn => "burn",
            Layout::PyTorch => "pytorch",
        })
    }
}

/// The layout of the safetensors file `path`, from its metadata (`producer = burn` → Burn's).
///
/// # Errors
/// [`ModelError::Io`] if it cannot be read, [`ModelError::Format`] if it is not safetensors.
pub fn layout_of(path: &Path) -> Result<Layout> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io("reading", path, e))?;
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| ModelError::Format {
        path: path.to_owned(),
        message: format!("not a safetensors file: {e}"),
    })?;
    let producer = metadata
        .metadata()
        .as_ref()
        .and_then(|m: &HashMap<String, String>| m.get("producer"));
    Ok(match producer.map(String::as_str) {
        Some("burn") => Layout::Burn,
        _ => Layout::PyTorch,
    })
}

/// Loads the weights file `path` (safetensors, written by burn-store or in PyTorch's layout)
/// into a freshly initialized `architecture` on `device`, returning the model and the layout
/// the file had.
///
/// # Errors
/// [`ModelError::Io`]/[`ModelError::Format`] for an unreadable or non-safetensors file,
/// [`ModelError::MissingTensor`] for a parameter of the architecture the file lacks,
/// [`ModelError::UnexpectedTensor`] for a tensor of the file that is not a parameter of it,
/// [`ModelError::TensorMismatch`] for a tensor of another shape, [`ModelError::Format`] for any
/// other tensor burn-store could not apply.
pub fn load_module_file(
    path: &Path,
    architecture: &Architecture,
    device: &Device,
) -> Result<(AnyModel, Layout)> {
    let layout = layout_of(path)?;
    let mut model = architecture.init(device)?;
    let result = match &mut model {
        AnyModel::Mlp(m) => apply(m, path, layout)?,
        AnyModel::Conv(m) => apply(m, path, layout)?,
        AnyModel::Autoencoder(m) => apply(m, path, layout)?,
    };
    check_applied(&result, path, architecture.kind(), str::to_owned)?;
    Ok((model, layout))
}

fn apply<M: ModuleSnapshot>(module: &mut M, path: &Path, layout: Layout) -> Result<ApplyResult> {
    // Partial and unvalidated on burn-store's side, so that every problem comes back in the
    // `ApplyResult` and is reported below by name, as the checkpoint loader does.
    let store = SafetensorsStore::from_file(path)
        .allow_partial(true)
        .validate(false);
    let mut store = match layout {
        Layout::Burn => store,
        Layout::PyTorch => store.with_from_adapter(PyTorchToBurnAdapter),
    };
    module
        .load_from(&mut store)
        .map_err(|e| ModelError::Format {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// The first problem of a load by burn-store as an error: a tensor of another shape, then the
/// first missing and the first unexpected tensor (by name, each shown as `name_in_file` gives
/// it), none if every parameter was filled and no tensor was left over.
pub(crate) fn check_applied(
    result: &ApplyResult,
    path: &Path,
    model: &str,
    name_in_file: impl Fn(&str) -> String,
) -> Result<()> {
    if let Some(e) = result.errors.first() {
        return Err(match e {
            ApplyError::ShapeMismatch {
                path: name,
                expected,
                found,
            } => ModelError::TensorMismatch {
                path: path.to_owned(),
                name: name_in_file(name),
                expected: expected.to_vec(),
                found: found.to_vec(),
                dtype: "F32".into(),
            },
            other => ModelError::Format {
                path: path.to_owned(),
                message: other.to_string(),
            },
        });
    }
    if let Some((name, _)) = result.missing.iter().min() {
        return Err(ModelError::MissingTensor {
            path: path.to_owned(),
            name: name_in_file(name),
        });
    }
    if let Some(name) = result.unused.iter().min() {
        return Err(ModelError::UnexpectedTensor {
            path: path.to_owned(),
            name: name_in_file(name),
            model: model.into(),
        });
    }
    Ok(())
}
