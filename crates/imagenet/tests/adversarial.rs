//! Figure 5 on photos: generated photos through torchvision's transform into a narrow
//! torchvision-structured AlexNet (random weights, the models crate's fixture), attacked toward
//! "ostrich"; every example must reach it after rounding to 8 bits.

use std::path::{Path, PathBuf};

use blindspot_attack::{AnyAttack, Goal, Quiet};
use blindspot_imagenet::{
    ImagenetError, Photo, Preprocess, Rounding, attack_photos, figure5, parse_class,
};
use blindspot_models::Classifier;
use blindspot_models::alexnet::{AlexNetClassifier, load_torchvision};
use burn::prelude::*;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn photos(device: &Device) -> (Tensor<2>, Vec<String>) {
    let mut pixels = Vec::new();
    let mut names = Vec::new();
    for name in ["landscape.png", "portrait-grey.png", "landscape.jpg"] {
        let photo = Photo::read(&fixture(&format!("tests/fixtures/{name}"))).unwrap();
        pixels.extend(Preprocess::IMAGENET.pixels(&photo).unwrap());
        names.push(name.to_owned());
    }
    let n = names.len();
    let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, 3 * 224 * 224]), device);
    (x, names)
}

/// The models crate's narrow torchvision-structured AlexNet, as a classifier of 224 × 224
/// photos.
fn narrow_alexnet(device: &Device) -> AlexNetClassifier {
    let weights = fixture("../models/tests/fixtures/alexnet-narrow.safetensors");
    let (config, net) = load_torchvision(&weights, device).unwrap();
    net.classifier(config.input_side).unwrap()
}

#[test]
fn every_photo_becomes_an_ostrich_that_survives_8_bit_rounding() {
    let device = Device::flex();
    let model = narrow_alexnet(&device);
    let (x, names) = photos(&device);
    let ostrich = parse_class("ostrich").unwrap();
    let attack = AnyAttack::lbfgs(Goal::Target(ostrich));
    {
        let outcome = attack_photos(&model, x.clone(), &names, &attack, &mut Quiet).unwrap();
        let dim = 3 * 224 * 224;
        for (i, e) in outcome.examples.iter().enumerate() {
            assert!(
                e.success,
                "{}: {} not reached: {e:?}",
                attack.label(),
                e.name
            );
            assert_eq!(e.adversarial.class, ostrich, "{}", e.name);
            assert_ne!(e.rounding, Rounding::Failed);
            let row = &outcome.adversarial[i * dim..(i + 1) * dim];
            // Stored on 8-bit levels, and classified as the outcome says.
            assert!(
                row.iter()
                    .all(|&v| ((v * 255.0).round() - v * 255.0).abs() < 1e-4)
            );
            let again = Tensor::<2>::from_data(TensorData::new(row.to_vec(), [1, dim]), &device);
            let class: i64 = model.predict(again).into_scalar();
            assert_eq!(class as usize, ostrich);
            // The distortion is that of the stored image.
            let clean = &outcome.clean[i * dim..(i + 1) * dim];
            let rms = (clean
                .iter()
                .zip(row)
                .map(|(c, a)| f64::from(a - c).powi(2))
                .sum::<f64>()
                / dim as f64)
                .sqrt();
            assert!((rms - f64::from(e.rms)).abs() <= 1e-6, "{rms} vs {}", e.rms);
            assert!(e.rms > 0.0 && e.max_levels >= 1);
        }
        let figure = figure5(&outcome, 224, model.num_classes(), "Figure 5").unwrap();
        assert!(figure.height() as usize > 3 * 224);
        println!(
            "{}: rounding broke {} of {} examples; RMS {:?}",
            attack.label(),
            outcome.broken_by_rounding(),
            outcome.examples.len(),
            outcome.examples.iter().map(|e| e.rms).collect::<Vec<_>>()
        );
    }
}

#[test]
fn only_untargeted_and_one_target_are_accepted() {
    let device = Device::flex();
    let model = narrow_alexnet(&device);
    let (x, names) = photos(&device);
    for goal in [Goal::Random, Goal::All, Goal::Target(1000)] {
        let attack = AnyAttack::lbfgs(goal);
        match attack_photos(&model, x.clone(), &names, &attack, &mut Quiet) {
            Err(ImagenetError::Invalid(message)) => {
                assert!(message.contains("toward one class"), "{goal}: {message}")
            }
            other => panic!(
                "{goal}: expected the goal to be refused, got {:?}",
                other.err()
            ),
        }
    }
    let attack = AnyAttack::lbfgs(Goal::Untargeted);
    match attack_photos(&model, x, &names[..2], &attack, &mut Quiet) {
        Err(ImagenetError::Invalid(message)) => assert_eq!(message, "2 names for 3 photos"),
        other => panic!("expected the names to be refused, got {:?}", other.err()),
    }
}
