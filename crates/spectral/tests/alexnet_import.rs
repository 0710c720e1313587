//! Reading AlexNet checkpoints with torchvision's tensor names: both variants are recognised
//! from the conv shapes, the values arrive unchanged, and an unknown variant is refused.

use std::collections::{BTreeMap, HashMap};

use blindspot_models::checkpoint::{NamedTensor, encode_safetensors};
use blindspot_spectral::SpectralError;
use blindspot_spectral::alexnet::{AlexNetVariant, read_torchvision_safetensors};
use blindspot_spectral::layers::LayerKind;
use blindspot_testing::Lcg;

/// A checkpoint with the given conv filters (real conv shapes) and tiny classifier layers.
fn checkpoint(filters: [usize; 5]) -> BTreeMap<String, NamedTensor> {
    let mut rng = Lcg::new(1);
    let mut t = BTreeMap::new();
    let kernels = [11, 5, 3, 3, 3];
    let mut c = 3;
    for (i, idx) in [0, 3, 6, 8, 10].into_iter().enumerate() {
        let shape = vec![filters[i], c, kernels[i], kernels[i]];
        let n = shape.iter().product();
        t.insert(
            format!("features.{idx}.weight"),
            NamedTensor {
                shape,
                values: rng.vec(n, -0.1, 0.1),
            },
        );
        t.insert(
            format!("features.{idx}.bias"),
            NamedTensor {
                shape: vec![filters[i]],
                values: vec![0.0; filters[i]],
            },
        );
        c = filters[i];
    }
    for (idx, (rows, cols)) in [(1, (8, 12)), (4, (8, 8)), (6, (5, 8))] {
        t.insert(
            format!("classifier.{idx}.weight"),
            NamedTensor {
                shape: vec![rows, cols],
                values: rng.vec(rows * cols, -1.0, 1.0),
            },
        );
    }
    t
}

fn write(t: &BTreeMap<String, NamedTensor>) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alexnet.safetensors");
    std::fs::write(&path, encode_safetensors(t, HashMap::new()).unwrap()).unwrap();
    (dir, path)
}

#[test]
fn torchvision_checkpoint_is_read_with_its_shapes_and_values() {
    let t = checkpoint([64, 192, 384, 256, 256]);
    let (_dir, path) = write(&t);
    let (variant, layers) = read_torchvision_safetensors(&path).unwrap();
    assert_eq!(variant, AlexNetVariant::Torchvision);
    assert_eq!(layers.len(), 8);
    assert_eq!(
        layers[0].kind,
        LayerKind::Conv {
            shape: [64, 3, 11, 11],
            stride: 4,
            input: 228
        }
    );
    assert_eq!(
        layers[1].kind,
        LayerKind::Conv {
            shape: [192, 64, 5, 5],
            stride: 1,
            input: 27
        }
    );
    assert_eq!(layers[1].weights, t["features.3.weight"].values);
    assert_eq!(layers[5].kind, LayerKind::Fc { rows: 8, cols: 12 });
    assert_eq!(layers[7].weights, t["classifier.6.weight"].values);
    // The FC bounds are computed from the imported values.
    let b = layers[7].bound(&|_, _| {}).unwrap().bounds;
    let direct = blindspot_spectral::fc_bounds(&t["classifier.6.weight"].values, 5, 8).unwrap();
    assert_eq!(b, direct);
}

#[test]
fn paper_variant_is_recognised_and_unknown_variants_refused() {
    let (_d1, paper) = write(&checkpoint([96, 256, 384, 384, 256]));
    let (variant, layers) = read_torchvision_safetensors(&paper).unwrap();
    assert_eq!(variant, AlexNetVariant::Paper);
    assert_eq!(
        layers[0].kind,
        LayerKind::Conv {
            shape: [96, 3, 11, 11],
            stride: 4,
            input: 228
        }
    );
    let (_d2, odd) = write(&checkpoint([8, 16, 16, 16, 8]));
    match read_torchvision_safetensors(&odd) {
        Err(SpectralError::UnknownAlexNet { filters }) => {
            assert_eq!(filters, vec![8, 16, 16, 16, 8])
        }
        other => panic!("expected UnknownAlexNet, got {other:?}"),
    }
    let mut missing = checkpoint([64, 192, 384, 256, 256]);
    missing.remove("classifier.4.weight");
    let (_d3, missing) = write(&missing);
    assert!(matches!(
        read_torchvision_safetensors(&missing),
        Err(SpectralError::Format { .. })
    ));
}

#[test]
fn a_torch_save_file_is_refused_with_the_conversion_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alexnet.pth");
    // The first bytes of a zip archive, as torch.save writes since PyTorch 1.6.
    std::fs::write(&path, b"PK\x03\x04\x00\x00\x08\x00archive/data.pkl").unwrap();
    match read_torchvision_safetensors(&path) {
        Err(SpectralError::Format { reason, .. }) => {
            assert!(reason.contains("save_file"), "{reason}")
        }
        other => panic!("expected a Format error, got {other:?}"),
    }
}
