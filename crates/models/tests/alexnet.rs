//! AlexNet in both layouts, and torchvision's weights imported exactly: the logits of a
//! narrow torchvision-structured AlexNet on two generated images, computed by PyTorch
//! (`bench/peers/alexnet_fixture.py --width narrow`, files in `tests/fixtures/`), against ours.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use blindspot_models::alexnet::{AlexNetConfig, AlexNetLayout, load_torchvision};
use blindspot_models::checkpoint::{NamedTensor, decode_safetensors, encode_safetensors};
use blindspot_models::{Classifier, ModelError};
use blindspot_testing::{test_devices, values};
use burn::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

fn read(path: &Path) -> HashMap<String, NamedTensor> {
    decode_safetensors(&std::fs::read(path).unwrap(), path).unwrap()
}

/// The narrow fixture's state dict, changed by `edit`, written to a temporary file.
fn edited(edit: impl FnOnce(&mut BTreeMap<String, NamedTensor>)) -> (tempfile::TempDir, PathBuf) {
    let mut tensors: BTreeMap<_, _> = read(&fixture("alexnet-narrow.safetensors"))
        .into_iter()
        .collect();
    edit(&mut tensors);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alexnet.safetensors");
    std::fs::write(&path, encode_safetensors(&tensors, HashMap::new()).unwrap()).unwrap();
    (dir, path)
}

#[test]
fn torchvision_weights_give_pytorchs_logits() {
    let io = read(&fixture("alexnet-narrow-io.safetensors"));
    let (images, expected) = (&io["images"], &io["logits"]);
    let n = images.shape[0];
    assert_eq!(images.shape, [n, 3, 224, 224]);
    for (name, device) in test_devices() {
        let (config, net) = load_torchvision(&fixture("alexnet-narrow.safetensors"), &device)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.layout, AlexNetLayout::Torchvision);
        assert_eq!(config.filters, [16, 48, 96, 64, 64]);
        assert_eq!(config.hidden, [64, 64]);
        assert_eq!((config.classes, config.input_side), (1000, 224));
        let model = net.classifier(config.input_side).unwrap();
        let x = Tensor::<2>::from_data(
            TensorData::new(images.values.clone(), [n, 3 * 224 * 224]),
            &device,
        );
        let ours = values(model.logits(x));
        assert_eq!(ours.len(), expected.values.len());
        for (i, (a, b)) in ours
            .chunks(1000)
            .zip(expected.values.chunks(1000))
            .enumerate()
        {
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(
                worst <= 1e-4 * scale,
                "{name}, image {i}: logits differ by {worst:e} (largest |logit| {scale})"
            );
        }
    }
}

#[test]
fn paper_layout_is_recognised_from_table_5s_filters() {
    // The paper's filters; FC1 must then read 256·6·6 features of the 227 × 227 input.
    let (_dir, path) = edited(|t| {
        t.clear();
        let kernels = [11, 5, 3, 3, 3];
        let mut c = 3;
        for ((idx, f), k) in [0, 3, 6, 8, 10]
            .into_iter()
            .zip([96, 256, 384, 384, 256])
            .zip(kernels)
        {
            let shape = vec![f, c, k, k];
            let len = shape.iter().product();
            t.insert(format!("features.{idx}.weight"), tensor(shape, len));
            t.insert(format!("features.{idx}.bias"), tensor(vec![f], f));
            c = f;
        }
        for (idx, rows, cols) in [(1, 8, 9216), (4, 8, 8), (6, 5, 8)] {
            t.insert(
                format!("classifier.{idx}.weight"),
                tensor(vec![rows, cols], rows * cols),
            );
            t.insert(format!("classifier.{idx}.bias"), tensor(vec![rows], rows));
        }
    });
    let device = Device::flex();
    let (config, net) = load_torchvision(&path, &device).unwrap();
    assert_eq!(config.layout, AlexNetLayout::Paper);
    assert_eq!(
        (config.input_side, config.hidden, config.classes),
        (227, [8, 8], 5)
    );
    assert!(net.average.is_none());
    // Every value arrives: the last bias was written as 0, 1, 2, …
    let bias = values(net.fcs[2].bias.as_ref().unwrap().val());
    assert_eq!(bias, [0.0, 1.0, 2.0, 3.0, 4.0]);
}

/// A tensor of `shape` holding `0, 1, 2, …` scaled down.
fn tensor(shape: Vec<usize>, len: usize) -> NamedTensor {
    NamedTensor {
        shape,
        values: (0..len)
            .map(|i| i as f32 * if len > 8 { 1e-4 } else { 1.0 })
            .collect(),
    }
}

#[test]
fn layouts_have_their_shapes() {
    let paper = AlexNetConfig::new();
    assert_eq!(
        (paper.final_side(), paper.flat_features()),
        (Some(6), Some(9216))
    );
    let torchvision = AlexNetConfig::torchvision();
    assert_eq!(torchvision.padding(), [2, 2, 1, 1, 1]);
    assert_eq!(
        (torchvision.final_side(), torchvision.flat_features()),
        (Some(6), Some(9216))
    );
    // A larger photo keeps FC1's width in torchvision's layout (the average pool), not in the
    // paper's.
    let wide = |c: AlexNetConfig| c.with_input_side(320).flat_features();
    assert_eq!(wide(AlexNetConfig::torchvision()), Some(9216));
    assert_eq!(wide(AlexNetConfig::new()), Some(256 * 8 * 8));
    let device = Device::flex();
    let small = AlexNetConfig::torchvision()
        .with_filters([4, 6, 8, 8, 5])
        .with_hidden([16, 16])
        .with_classes(7)
        .with_input_side(320);
    let net = small.init(&device).unwrap();
    assert_eq!(net.fcs[0].weight.dims(), [5 * 6 * 6, 16]);
    let out = net.forward(Tensor::zeros([2, 3, 320, 320], &device));
    assert_eq!(out.dims(), [2, 7]);
    let hidden = net.hidden(Tensor::zeros([2, 3, 320, 320], &device));
    let widths: Vec<usize> = hidden.iter().map(|h| h.dims()[1]).collect();
    // conv1 (320 + 4 − 11)/4 + 1 = 79 → pool 39; conv2 39 → pool 19; conv3–4 19; conv5 19 →
    // pool 9 → average 6; FC1, FC2.
    assert_eq!(
        widths,
        [
            4 * 39 * 39,
            6 * 19 * 19,
            8 * 19 * 19,
            8 * 19 * 19,
            5 * 6 * 6,
            16,
            16
        ]
    );
    // Too small for the three pools.
    assert!(matches!(
        AlexNetConfig::torchvision()
            .with_input_side(40)
            .init(&device),
        Err(ModelError::InvalidConfig(_))
    ));
}

#[test]
fn files_that_are_not_alexnet_are_refused_by_name() {
    let device = Device::flex();
    let (_d1, missing) = edited(|t| {
        t.remove("classifier.6.bias");
    });
    match load_torchvision(&missing, &device) {
        Err(ModelError::MissingTensor { name, .. }) => assert_eq!(name, "classifier.6.bias"),
        other => panic!("expected the missing bias, got {other:?}"),
    }
    let (_d2, extra) = edited(|t| {
        t.insert("features.12.weight".into(), tensor(vec![2], 2));
    });
    match load_torchvision(&extra, &device) {
        Err(ModelError::UnexpectedTensor { name, .. }) => assert_eq!(name, "features.12.weight"),
        other => panic!("expected the extra tensor, got {other:?}"),
    }
    // FC1 must read conv5's 64·6·6 features.
    let (_d3, narrow) = edited(|t| {
        t.insert("classifier.1.weight".into(), tensor(vec![64, 100], 6400));
    });
    match load_torchvision(&narrow, &device) {
        Err(ModelError::TensorMismatch {
            name,
            expected,
            found,
            ..
        }) => {
            assert_eq!(name, "classifier.1.weight");
            assert_eq!((expected, found), (vec![64, 64 * 36], vec![64, 100]));
        }
        other => panic!("expected FC1's width to be refused, got {other:?}"),
    }
    // A bias of the wrong length, named as the file names it.
    let (_d4, bias) = edited(|t| {
        t.insert("features.3.bias".into(), tensor(vec![5], 5));
    });
    match load_torchvision(&bias, &device) {
        Err(ModelError::TensorMismatch { name, .. }) => assert_eq!(name, "features.3.bias"),
        other => panic!("expected the bias's shape to be refused, got {other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let pth = dir.path().join("alexnet.pth");
    // The first bytes of a zip archive, as torch.save writes since PyTorch 1.6.
    std::fs::write(&pth, b"PK\x03\x04\x00\x00\x08\x00archive/data.pkl").unwrap();
    match load_torchvision(&pth, &device) {
        Err(ModelError::Format { message, .. }) => {
            assert!(message.contains("save_file"), "{message}")
        }
        other => panic!("expected the conversion recipe, got {other:?}"),
    }
    let text = dir.path().join("notes.safetensors");
    std::fs::write(&text, b"hello, this is not a tensor file at all").unwrap();
    assert!(matches!(
        load_torchvision(&text, &device),
        Err(ModelError::Format { .. })
    ));
    assert!(matches!(
        load_torchvision(&dir.path().join("absent.safetensors"), &device),
        Err(ModelError::Io { .. })
    ));
}
