//! AlexNet's layer chain for Table 5 from checkpoints with torchvision's tensor names (loaded by
//! `blindspot_models::alexnet::load_torchvision`): the layout is recognised from the conv
//! shapes, the padding and pools are followed, and the values arrive unchanged.

use std::collections::{BTreeMap, HashMap};

use blindspot_models::alexnet::{AlexNetConfig, AlexNetLayout, load_torchvision};
use blindspot_models::checkpoint::{NamedTensor, encode_safetensors};
use blindspot_spectral::SpectralError;
use blindspot_spectral::alexnet::alexnet_chain;
use blindspot_spectral::layers::{HostLayer, LayerKind};
use blindspot_spectral::{ConvGeometry, LayerChain, lipschitz_bound};
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
    // FC1 reads the 256·6·6 = 9216 pooled features; the dense widths are kept tiny.
    for (idx, (rows, cols)) in [(1, (8, 9216)), (4, (8, 8)), (6, (5, 8))] {
        t.insert(
            format!("classifier.{idx}.weight"),
            NamedTensor {
                shape: vec![rows, cols],
                values: rng.vec(rows * cols, -1.0, 1.0),
            },
        );
        t.insert(
            format!("classifier.{idx}.bias"),
            NamedTensor {
                shape: vec![rows],
                values: vec![0.0; rows],
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

fn load(path: &std::path::Path) -> (AlexNetConfig, Vec<HostLayer>) {
    let (config, net) = load_torchvision(path, &burn::prelude::Device::flex()).unwrap();
    let layers = alexnet_chain(&net, config.input_side).unwrap();
    (config, layers)
}

#[test]
fn torchvision_checkpoint_is_read_with_its_shapes_and_values() {
    let t = checkpoint([64, 192, 384, 256, 256]);
    let (_dir, path) = write(&t);
    let (config, layers) = load(&path);
    assert_eq!(config.layout, AlexNetLayout::Torchvision);
    assert_eq!(layers.len(), 8);
    // conv1 sees 224 + 2·2 = 228 (stride 4), conv2 27 + 2·2 = 31, conv3–5 13 + 2 = 15.
    assert_eq!(
        layers[0].kind,
        LayerKind::Conv {
            shape: [64, 3, 11, 11],
            geometry: ConvGeometry::padded(224, 2, 4),
        }
    );
    assert_eq!(
        layers[1].kind,
        LayerKind::Conv {
            shape: [192, 64, 5, 5],
            geometry: ConvGeometry::padded(27, 2, 1),
        }
    );
    assert_eq!(layers[1].kind.conv_grid(), Some((31, 1)));
    assert_eq!(layers[4].kind.conv_grid(), Some((15, 1)));
    assert_eq!(layers[1].weights, t["features.3.weight"].values);
    assert_eq!(
        layers[5].kind,
        LayerKind::Fc {
            rows: 8,
            cols: 9216
        }
    );
    // ReLU after every layer but the logits; the overlapping pool (factor 2) after conv1,
    // conv2 and conv5.
    let after: Vec<f64> = layers.iter().map(|l| l.after).collect();
    assert_eq!(after, [2.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]);
    assert_eq!(layers[7].weights, t["classifier.6.weight"].values);
    // The FC bounds are computed from the imported values.
    let b = layers[7].bound(&|_, _| {}).unwrap().bounds;
    let direct = blindspot_spectral::fc_bounds(&t["classifier.6.weight"].values, 5, 8).unwrap();
    assert_eq!(b, direct);
}

#[test]
fn paper_layout_and_other_widths_are_chained() {
    let (_d1, paper) = write(&checkpoint([96, 256, 384, 384, 256]));
    let (config, layers) = load(&paper);
    assert_eq!(config.layout, AlexNetLayout::Paper);
    assert_eq!(
        layers[0].kind,
        LayerKind::Conv {
            shape: [96, 3, 11, 11],
            geometry: ConvGeometry::valid(227, 4),
        }
    );
    assert_eq!(layers[0].kind.conv_grid(), Some((228, 4)));
    let fc: Vec<_> = layers[5..].to_vec();
    // The dense part's bound is the product of its layers' (ReLU: 1).
    let direct: f64 = fc
        .iter()
        .map(|l| l.bound(&|_, _| {}).unwrap().bounds.upper)
        .product();
    assert!((lipschitz_bound(&fc).unwrap() - direct).abs() <= 1e-12 * direct);
    // Other widths are torchvision's layout; FC1 then reads conv5's 8·6·6 features.
    let mut odd = checkpoint([8, 16, 16, 16, 8]);
    odd.insert(
        "classifier.1.weight".into(),
        NamedTensor {
            shape: vec![8, 8 * 36],
            values: vec![0.5; 8 * 8 * 36],
        },
    );
    let (_d2, odd) = write(&odd);
    let (config, layers) = load(&odd);
    assert_eq!(config.layout, AlexNetLayout::Torchvision);
    assert_eq!(
        layers[4].kind,
        LayerKind::Conv {
            shape: [8, 16, 3, 3],
            geometry: ConvGeometry::padded(13, 1, 1),
        }
    );
    assert_eq!(layers[5].kind, LayerKind::Fc { rows: 8, cols: 288 });
}

#[test]
fn burn_alexnet_chain_follows_its_padding_and_pools() {
    let device = burn::prelude::Device::flex();
    let config = AlexNetConfig::new()
        .with_filters([4, 6, 6, 6, 5])
        .with_hidden([8, 8])
        .with_classes(3);
    let net = config.init(&device).unwrap();
    let layers = net.layer_chain().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Conv. 1", "Conv. 2", "Conv. 3", "Conv. 4", "Conv. 5", "FC. 1", "FC. 2", "FC. 3"
        ]
    );
    let grids: Vec<_> = layers.iter().filter_map(|l| l.kind.conv_grid()).collect();
    assert_eq!(grids, [(228, 4), (31, 1), (15, 1), (15, 1), (15, 1)]);
    let after: Vec<f64> = layers.iter().map(|l| l.after).collect();
    assert_eq!(after, [2.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]);
    assert_eq!(
        layers[5].kind,
        LayerKind::Fc {
            rows: 8,
            cols: 5 * 36
        }
    );
    // A network built for another input side does not fit the paper's 227 chain.
    let wide = config.with_input_side(300).init(&device).unwrap();
    match wide.layer_chain() {
        Err(SpectralError::Shape(message)) => assert!(message.starts_with("FC. 1"), "{message}"),
        other => panic!("expected FC. 1's width to be refused, got {other:?}"),
    }
    assert_eq!(
        alexnet_chain(&wide, 300).unwrap()[5].kind,
        LayerKind::Fc {
            rows: 8,
            cols: 5 * 64
        }
    );
    // torchvision's average pool is the identity only on the 6 × 6 map of a 224 input.
    let torchvision = AlexNetConfig::torchvision()
        .with_filters([4, 6, 6, 6, 5])
        .with_hidden([8, 8])
        .with_classes(3);
    let net = torchvision.clone().init(&device).unwrap();
    assert_eq!(
        net.layer_chain().unwrap()[5].kind,
        LayerKind::Fc { rows: 8, cols: 180 }
    );
    let big = torchvision.with_input_side(320).init(&device).unwrap();
    match alexnet_chain(&big, 320) {
        Err(SpectralError::Shape(message)) => {
            assert!(message.contains("average pool"), "{message}")
        }
        other => panic!("expected the average pool on a 9 × 9 map to be refused, got {other:?}"),
    }
}
