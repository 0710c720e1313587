//! Figures 3–4 on photos: a folder of generated photos (flat or in class sub-folders) as the
//! image set of section 3's measurement on the narrow torchvision-structured AlexNet fixture.

use std::path::{Path, PathBuf};

use blindspot_imagenet::{
    ALEXNET_LAYERS, ImagenetError, Photo, PhotoSet, Preprocess, alexnet_layer, units_figure,
};
use blindspot_models::alexnet::load_torchvision;
use blindspot_testing::Lcg;
use blindspot_units::{ImageSet, Reference, UnitsConfig, layer_features, measure};
use burn::prelude::*;

/// A `width × height` photo: a base colour, vertical stripes of period `period` and noise.
fn generated(name: &str, width: u32, height: u32, base: [f32; 3], period: f32, seed: u64) -> Photo {
    let mut rng = Lcg::new(seed);
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for _ in 0..height {
        for x in 0..width {
            let stripe = 40.0 * (x as f32 / period).sin();
            for b in base {
                let noise = 30.0 * (rng.next() - 0.5);
                rgb.push((b + stripe + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    Photo::new(name, width, height, rgb).unwrap()
}

/// `classes` sub-folders of `dir` (or `dir` itself when `flat`), `per_class` PNGs in each, of
/// several sizes; returns the photos' folders.
fn write_photos(dir: &Path, per_class: usize, flat: bool) -> Vec<PathBuf> {
    let classes = [("red", [200.0, 40.0, 40.0]), ("blue", [40.0, 60.0, 200.0])];
    let mut folders = Vec::new();
    for (c, (class, base)) in classes.into_iter().enumerate() {
        let folder = if flat {
            dir.to_owned()
        } else {
            dir.join(class)
        };
        for i in 0..per_class {
            let name = format!("{class}-{i}");
            let (w, h) = (240 + 13 * i as u32, 300 - 11 * i as u32);
            let photo = generated(&name, w, h, base, 3.0 + 2.0 * i as f32, (10 * c + i) as u64);
            photo
                .write_png(&folder.join(format!("{name}.png")))
                .unwrap();
        }
        folders.push(folder);
    }
    folders
}

#[test]
fn layers_are_named_as_table_5_names_them() {
    assert_eq!(alexnet_layer("fc7").unwrap(), 6);
    assert_eq!(alexnet_layer("Conv1").unwrap(), 0);
    assert_eq!(alexnet_layer(" 4 ").unwrap(), 4);
    assert_eq!(ALEXNET_LAYERS[alexnet_layer("conv5").unwrap()], "conv5");
    for bad in ["fc8", "7", "pool5", ""] {
        match alexnet_layer(bad) {
            Err(ImagenetError::Invalid(message)) => {
                assert!(message.contains("conv1, conv2"), "{bad}: {message}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn class_sub_folders_label_the_photos_and_a_flat_folder_has_none() {
    let tmp = tempfile::tempdir().unwrap();
    let labelled = tmp.path().join("labelled");
    write_photos(&labelled, 3, false);
    // A folder without photos is not a class.
    std::fs::create_dir_all(labelled.join("empty")).unwrap();
    let mut calls = Vec::new();
    let set = PhotoSet::read(&labelled, &Preprocess::IMAGENET, |done, total| {
        calls.push((done, total));
    })
    .unwrap();
    assert_eq!(set.classes, ["blue", "red"]);
    assert_eq!(set.labels.as_deref(), Some(&[0, 0, 0, 1, 1, 1][..]));
    let names: Vec<&str> = set.inputs.iter().map(Photo::name).collect();
    assert_eq!(names[0], "blue/blue-0");
    assert_eq!(names[5], "red/red-2");
    assert!(
        set.inputs
            .iter()
            .all(|p| (p.width(), p.height()) == (224, 224))
    );
    assert_eq!(calls, (1..=6).map(|d| (d, 6)).collect::<Vec<_>>());
    assert_eq!(set.pixels().len(), 6 * 3 * 224 * 224);

    let flat = tmp.path().join("flat");
    write_photos(&flat, 2, true);
    let set = PhotoSet::read(&flat, &Preprocess::IMAGENET, |_, _| {}).unwrap();
    assert_eq!(set.len(), 4);
    assert!(set.labels.is_none() && set.classes.is_empty());

    // Photos beside class folders: which class would they have?
    let mixed = tmp.path().join("mixed");
    write_photos(&mixed, 1, false);
    generated("loose", 256, 256, [0.0; 3], 5.0, 1)
        .write_png(&mixed.join("loose.png"))
        .unwrap();
    match PhotoSet::read(&mixed, &Preprocess::IMAGENET, |_, _| {}) {
        Err(ImagenetError::Invalid(message)) => {
            assert!(
                message.contains("beside class sub-folders (blue, red)"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let empty = tmp.path().join("nothing");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    assert!(matches!(
        PhotoSet::read(&empty, &Preprocess::IMAGENET, |_, _| {}),
        Err(ImagenetError::NoPhotos(path)) if path == empty
    ));
}

#[test]
fn thumbnails_keep_colour_and_layout() {
    // Left half one colour, right half another: the thumbnail's outer columns are those
    // colours exactly (a triangle filter over a constant region returns it, up to PIL's
    // fixed-point rounding), and it holds nothing else than a blend of the two.
    let (w, h) = (224u32, 224u32);
    let (left, right) = ([10u8, 200, 30], [250u8, 5, 120]);
    let mut rgb = Vec::new();
    for _ in 0..h {
        for x in 0..w {
            rgb.extend(if x < w / 2 { left } else { right });
        }
    }
    let set = PhotoSet {
        dir: PathBuf::new(),
        inputs: vec![Photo::new("halves", w, h, rgb).unwrap()],
        labels: None,
        classes: Vec::new(),
    };
    let side = 8usize;
    let (thumbs, dim) = set.thumbnails(side as u32).unwrap();
    assert_eq!((thumbs.len(), dim), (3 * side * side, 3 * side * side));
    for c in 0..3 {
        for y in 0..side {
            let at = |x: usize| thumbs[c * side * side + y * side + x] * 255.0;
            assert!((at(0) - f32::from(left[c])).abs() <= 1.0, "{c} {y}");
            assert!((at(side - 1) - f32::from(right[c])).abs() <= 1.0, "{c} {y}");
            let (lo, hi) = (left[c].min(right[c]), left[c].max(right[c]));
            assert!(
                (0..side).all(|x| at(x) >= f32::from(lo) - 1.0 && at(x) <= f32::from(hi) + 1.0)
            );
        }
    }
    assert!(matches!(set.thumbnails(0), Err(ImagenetError::Invalid(_))));
}

#[test]
fn top_photos_of_alexnet_units_are_those_of_highest_activation() {
    let tmp = tempfile::tempdir().unwrap();
    write_photos(tmp.path(), 4, false);
    let set = PhotoSet::read(tmp.path(), &Preprocess::IMAGENET, |_, _| {}).unwrap();
    let device = Device::flex();
    let weights = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures/alexnet-narrow.safetensors");
    let (_, net) = load_torchvision(&weights, &device).unwrap();
    let model = net.classifier(224).unwrap();
    let pixels = set.pixels();
    let input_dim = 3 * 224 * 224;
    let (thumbs, dim) = set.thumbnails(16).unwrap();
    let layer = alexnet_layer("fc6").unwrap();
    let k = 3;
    let config = UnitsConfig {
        layer,
        k,
        max_units: Some(16),
        n_random: Some(8),
        image_draws: 40,
        batch_size: 3,
        ..UnitsConfig::default()
    };
    let image_set = ImageSet {
        images: &pixels,
        labels: set.labels.as_deref(),
        input_dim,
    };
    let m = measure(
        &model,
        &image_set,
        &Reference::new(&thumbs, dim).unwrap(),
        &config,
        &device,
    )
    .unwrap();
    assert_eq!(m.layers, ALEXNET_LAYERS.len());
    // The layer's activations of every photo in one batch, sorted on the host.
    let (features, width) = layer_features(&model, layer, &pixels, input_dim, 8, &device).unwrap();
    assert_eq!(width, m.width);
    let (directions, top) = m.natural.as_ref().unwrap();
    let blindspot_units::Directions::Natural { units, .. } = directions else {
        panic!("natural directions expected");
    };
    let mut checked = 0;
    for (d, &u) in units.iter().enumerate() {
        if top.degenerate(d) {
            continue;
        }
        let mut order: Vec<usize> = (0..set.len()).collect();
        order.sort_by(|&a, &b| {
            features[b * width + u]
                .total_cmp(&features[a * width + u])
                .then(a.cmp(&b))
        });
        assert_eq!(top.row(d), &order[..k], "unit {u}");
        checked += 1;
    }
    assert!(checked > 0, "every measured unit was degenerate");
    // Labelled by the sub-folders: both scores, over the units that are not degenerate.
    let share = m.stats.iter().find(|s| s.score == "label_share").unwrap();
    assert_eq!(share.group("natural").unwrap().n, checked);
    assert!(m.stats.iter().any(|s| s.score == "reference_distance"));

    let names: Vec<String> = units.iter().map(|u| format!("unit {u}")).collect();
    let rows: Vec<usize> = (0..top.directions)
        .filter(|&d| !top.degenerate(d))
        .take(2)
        .collect();
    let figure = units_figure(top, &rows, &names, &set, "Figure 3").unwrap();
    assert!(figure.width() >= k as u32 * 224 && figure.height() >= rows.len() as u32 * 224);
    assert!(matches!(
        units_figure(top, &[top.directions], &names, &set, "Figure 3"),
        Err(ImagenetError::Invalid(_))
    ));
}
