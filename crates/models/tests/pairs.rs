//! A checkpoint is a pair, `model.safetensors` then `model.json`: a kill between the two writes
//! must leave a pair that is refused, never one that loads as a model it is not.

use blindspot_models::checkpoint::{self, META_FILE, ModelMeta, WEIGHTS_FILE};
use blindspot_models::{ModelError, model_spec};
use burn::tensor::Device;

fn meta() -> ModelMeta {
    let spec = model_spec("softmax1").unwrap();
    ModelMeta {
        name: "softmax1".into(),
        model: "softmax1".into(),
        split: "train".into(),
        config: serde_json::to_value(&spec.architecture).unwrap(),
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

/// Saves two independently initialized softmax1 models in two directories.
fn two_checkpoints() -> (tempfile::TempDir, tempfile::TempDir) {
    let device = Device::flex();
    let architecture = model_spec("softmax1").unwrap().architecture;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        let model = architecture.init(&device).unwrap();
        checkpoint::save(&model, &meta(), dir.path()).unwrap();
    }
    let read = |d: &tempfile::TempDir| std::fs::read(d.path().join(WEIGHTS_FILE)).unwrap();
    assert_ne!(read(&a), read(&b), "the two initializations must differ");
    (a, b)
}

#[test]
fn weights_written_after_their_model_json_are_refused() {
    // A save of `b` over `a` killed after its weights, before its model.json.
    let (a, b) = two_checkpoints();
    std::fs::copy(b.path().join(WEIGHTS_FILE), a.path().join(WEIGHTS_FILE)).unwrap();
    match checkpoint::load(a.path(), &Device::flex()) {
        Err(ModelError::Incomplete { path, reason }) => {
            assert_eq!(path, a.path().join(META_FILE));
            assert!(reason.contains("other weights"), "{reason}");
        }
        other => panic!("expected Incomplete, got {:?}", other.map(|(_, m)| m)),
    }
    // The save completed (its model.json written too) loads, as does the untouched pair.
    std::fs::copy(b.path().join(META_FILE), a.path().join(META_FILE)).unwrap();
    for dir in [&a, &b] {
        assert_eq!(
            checkpoint::load(dir.path(), &Device::flex()).unwrap().1,
            meta()
        );
    }
}

#[test]
fn model_json_records_the_digest_of_its_weights_and_older_files_without_it_load() {
    let (a, _b) = two_checkpoints();
    let weights = std::fs::read(a.path().join(WEIGHTS_FILE)).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join(META_FILE)).unwrap()).unwrap();
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(&weights)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(json["weights_sha256"], serde_json::Value::String(expected));
    assert_eq!(
        checkpoint::weights_sha256(a.path()).unwrap(),
        json["weights_sha256"].as_str().unwrap()
    );
    // A model.json of an earlier version (no digest) still loads with its weights.
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("weights_sha256");
    std::fs::write(a.path().join(META_FILE), serde_json::to_vec(&old).unwrap()).unwrap();
    assert_eq!(
        checkpoint::load(a.path(), &Device::flex()).unwrap().1,
        meta()
    );
}
