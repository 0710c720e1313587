//! Interop with Burn's own persistence (burn-store): a blindspot checkpoint loads into the same
//! module in a plain Burn program, and a module a plain Burn program saved loads into the
//! catalogue architecture it was built from. The answers are the logits of the module that
//! was saved, computed before any file was written.

use std::path::Path;

use blindspot_models::checkpoint::{self, ModelMeta};
use blindspot_models::import::{Layout, layout_of, load_module_file};
use blindspot_models::{AnyModel, Architecture, Classifier, ModelError, model_spec};
use blindspot_testing::{Lcg, test_devices, values};
use burn::prelude::*;
use burn_store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

/// One of each kind of the catalogue: softmax, a sigmoid MLP, the autoencoder, the conv net.
const MODELS: [&str; 4] = ["softmax1", "n100-100-10", "ae400-10", "conv"];

fn architecture(name: &str) -> Architecture {
    model_spec(name).unwrap().architecture
}

fn inputs(model: &AnyModel, device: &Device) -> Tensor<2> {
    let d = model.input_len();
    Tensor::from_data(
        TensorData::new(Lcg::new(7).vec(5 * d, 0.0, 1.0), [5, d]),
        device,
    )
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn meta(name: &str) -> ModelMeta {
    ModelMeta {
        name: name.into(),
        model: name.into(),
        split: "train".into(),
        config: serde_json::to_value(architecture(name)).unwrap(),
        train_config: serde_json::json!({}),
        seed: 0,
        data_sha256: String::new(),
        train_examples: 0,
        train_error: 0.0,
        test_error: 0.0,
        train_seconds: 0.0,
        backend: "flex".into(),
        fingerprint: "x".into(),
    }
}

/// What a plain Burn program does with a blindspot checkpoint: build the module, load it with
/// burn-store's PyTorch adapter.
fn load_plain<M: ModuleSnapshot>(module: &mut M, path: &Path) {
    let mut store = SafetensorsStore::from_file(path).with_from_adapter(PyTorchToBurnAdapter);
    let result = module.load_from(&mut store).unwrap();
    assert!(
        result.missing.is_empty() && result.unused.is_empty() && result.errors.is_empty(),
        "{result}"
    );
}

#[test]
fn a_blindspot_checkpoint_loads_in_a_plain_burn_program() {
    for (backend, device) in test_devices() {
        for name in MODELS {
            device.seed(1);
            let saved = architecture(name).init(&device).unwrap();
            let x = inputs(&saved, &device);
            let expected = values(saved.logits(x.clone()));
            let dir = tempfile::tempdir().unwrap();
            checkpoint::save(&saved, &meta(name), dir.path()).unwrap();

            device.seed(2); // other initial weights: the load must replace them all
            let mut plain = architecture(name).init(&device).unwrap();
            let before = values(plain.logits(x.clone()));
            assert!(max_abs_diff(&before, &expected) > 1e-3, "{backend} {name}");
            let path = dir.path().join(checkpoint::WEIGHTS_FILE);
            match &mut plain {
                AnyModel::Mlp(m) => load_plain(m, &path),
                AnyModel::Conv(m) => load_plain(m, &path),
                AnyModel::Autoencoder(m) => load_plain(m, &path),
            }
            let got = values(plain.logits(x));
            assert!(
                max_abs_diff(&got, &expected) <= 1e-5,
                "{backend} {name}: {got:?} vs {expected:?}"
            );
        }
    }
}

#[test]
fn a_module_saved_by_burn_store_loads_into_its_architecture() {
    for (backend, device) in test_devices() {
        for name in MODELS {
            device.seed(3);
            let saved = architecture(name).init(&device).unwrap();
            let x = inputs(&saved, &device);
            let expected = values(saved.logits(x.clone()));
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("net.safetensors");
            let mut store = SafetensorsStore::from_file(&path);
            match &saved {
                AnyModel::Mlp(m) => m.save_into(&mut store).unwrap(),
                AnyModel::Conv(m) => m.save_into(&mut store).unwrap(),
                AnyModel::Autoencoder(m) => m.save_into(&mut store).unwrap(),
            }
            assert_eq!(layout_of(&path).unwrap(), Layout::Burn);

            device.seed(4);
            let (loaded, layout) = load_module_file(&path, &architecture(name), &device).unwrap();
            assert_eq!(layout, Layout::Burn);
            let got = values(loaded.logits(x));
            assert!(
                max_abs_diff(&got, &expected) <= 1e-5,
                "{backend} {name}: {got:?} vs {expected:?}"
            );
        }
    }
}

#[test]
fn a_blindspot_checkpoint_reads_as_pytorch_layout_through_the_same_loader() {
    let device = Device::flex();
    for name in MODELS {
        device.seed(5);
        let saved = architecture(name).init(&device).unwrap();
        let x = inputs(&saved, &device);
        let expected = values(saved.logits(x.clone()));
        let dir = tempfile::tempdir().unwrap();
        checkpoint::save(&saved, &meta(name), dir.path()).unwrap();
        let path = dir.path().join(checkpoint::WEIGHTS_FILE);
        let (loaded, layout) = load_module_file(&path, &architecture(name), &device).unwrap();
        assert_eq!(layout, Layout::PyTorch, "{name}");
        assert!(max_abs_diff(&values(loaded.logits(x)), &expected) <= 1e-5);
    }
}

#[test]
fn a_file_of_another_architecture_or_no_safetensors_is_refused_by_name() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.safetensors");
    let AnyModel::Mlp(n100) = architecture("n100-100-10").init(&device).unwrap() else {
        unreachable!()
    };
    n100.save_into(&mut SafetensorsStore::from_file(&path))
        .unwrap();

    // Fewer layers than the file: its extra layer is named.
    match load_module_file(&path, &architecture("softmax1"), &device) {
        Err(ModelError::TensorMismatch { name, .. }) => assert_eq!(name, "layers.0.weight"),
        other => panic!("expected a shape mismatch, got {other:?}"),
    }
    // The conv net has none of the MLP's names.
    match load_module_file(&path, &architecture("conv"), &device) {
        Err(ModelError::MissingTensor { name, .. }) => assert_eq!(name, "classifier.bias"),
        other => panic!("expected a missing tensor, got {other:?}"),
    }
    // An MLP whose layers match the file's first two (784→100→100) leaves the third over.
    let Architecture::Mlp(mut shorter) = architecture("n100-100-10") else {
        unreachable!()
    };
    shorter.hidden.pop();
    shorter.classes = 100;
    shorter.weight_decay.pop();
    match load_module_file(&path, &Architecture::Mlp(shorter), &device) {
        Err(ModelError::UnexpectedTensor { name, .. }) => assert_eq!(name, "layers.2.bias"),
        other => panic!("expected a tensor left over, got {other:?}"),
    }

    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    assert!(matches!(
        load_module_file(&junk, &architecture("softmax1"), &device),
        Err(ModelError::Format { .. })
    ));
    assert!(matches!(
        load_module_file(
            &dir.path().join("absent"),
            &architecture("softmax1"),
            &device
        ),
        Err(ModelError::Io { .. })
    ));
}
