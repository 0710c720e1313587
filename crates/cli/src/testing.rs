//! Helpers of the CLI's unit tests.

use std::path::Path;

use blindspot_models::checkpoint::{self, ModelMeta};
use blindspot_models::model_spec;
use burn::tensor::Device;

use crate::backend::Backend;
use crate::common::CommonArgs;

/// Options writing under `out`, on flex, offline, with one worker.
pub fn common(out: &Path) -> CommonArgs {
    CommonArgs {
        backend: Backend::Flex,
        out: out.to_owned(),
        data_dir: None,
        offline: true,
        workers: Some(1),
    }
}

/// Saves a softmax1 with fresh random weights under `<out>/models/softmax1`.
pub fn save_random_softmax(out: &Path) {
    save_random_softmax_as(out, "softmax1");
}

/// Saves a softmax1 with fresh random weights under `<out>/models/<id>`.
pub fn save_random_softmax_as(out: &Path, id: &str) {
    let spec = model_spec("softmax1").unwrap();
    let model = spec.architecture.init(&Device::flex()).unwrap();
    let meta = ModelMeta {
        name: id.into(),
        model: "softmax1".into(),
        split: "train".into(),
        config: serde_json::to_value(&spec.architecture).unwrap(),
        train_config: serde_json::Value::Null,
        seed: 0,
        data_sha256: String::new(),
        train_examples: 0,
        train_error: 0.0,
        test_error: 0.0,
        train_seconds: 0.0,
        backend: "flex".into(),
        fingerprint: String::new(),
    };
    checkpoint::save(&model, &meta, &out.join("models").join(id)).unwrap();
}
