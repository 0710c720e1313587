//! The untargeted attack on a 1,000-class model of 3×224×224 inputs: it succeeds, and choosing
//! rivals costs memory for the shortlist, not for the class count.
//!
//! This file holds one test so that the process's peak resident memory (`VmHWM`) is this
//! attack's alone.
//!
//! **The bound.** A batch of 8 images of D = 150,528 pixels with 3 candidate rivals each is 24
//! solver problems. The solver's history is the largest term: 2 · memory (10) · 24 · D floats
//! = 289 MB; the working tensors of a batch (`x`, gradients, the line search's points, the
//! search's best and start images) add about 15 MB each. Choosing the rivals keeps two
//! gradients of 8 · D floats (10 MB) at a time. The bound checked, 1 GiB of peak resident
//! memory for the whole test process, leaves room for the allocator and the test harness. The
//! previous rival choice kept one input gradient per class, 1,000 · 8 · D floats = 4.8 GB, and
//! cannot pass it.

use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, LbfgsbConfig, Quiet};
use blindspot_models::{Classifier, ImageClassifier};
use blindspot_testing::Lcg;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

const SHAPE: [usize; 3] = [3, 224, 224];
const CLASSES: usize = 1000;
const BATCH: usize = 8;
const PEAK_BOUND_BYTES: u64 = 1 << 30;

/// A cheap ImageNet-shaped classifier: 8×8 average pooling to 3×28×28, then a linear layer.
#[derive(Module, Debug)]
struct TinyImageNet {
    pool: AvgPool2d,
    fc: Linear,
}

impl TinyImageNet {
    fn new(device: &Device) -> Self {
        Self {
            pool: AvgPool2dConfig::new([8, 8]).with_strides([8, 8]).init(),
            fc: LinearConfig::new(3 * 28 * 28, CLASSES).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.pool.forward(x).flatten(1, 3))
    }
}

/// Peak resident memory of this process in bytes (Linux `VmHWM`).
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in kB");
    kb * 1024
}

#[test]
fn untargeted_attack_on_a_thousand_class_rgb_model_stays_within_its_memory_bound() {
    let device = Device::flex();
    device.seed(7);
    let net = TinyImageNet::new(&device);
    let model = ImageClassifier::new(&net, SHAPE, TinyImageNet::forward).unwrap();
    assert_eq!(model.num_classes(), CLASSES);
    let dim: usize = SHAPE.iter().product();
    let pixels = Lcg::new(3).vec(BATCH * dim, 0.0, 1.0);
    let x = Tensor::<2>::from_data(TensorData::new(pixels, [BATCH, dim]), &device);
    // The model's own predictions as labels: every image needs a perturbation.
    let labels: Vec<usize> = model
        .predict(x.clone())
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap()
        .into_iter()
        .map(|l| l as usize)
        .collect();
    let config = AttackConfig {
        goal: Goal::Untargeted,
        search_steps: 4,
        solver: LbfgsbConfig {
            max_iterations: 30,
            ..LbfgsbConfig::default()
        },
        ..AttackConfig::default()
    };
    let result = LbfgsAttack::new(config)
        .run(&model, x, &labels, &mut Quiet)
        .unwrap();
    let peak = peak_resident_bytes();
    eprintln!(
        "1,000 classes, {BATCH} images of {SHAPE:?}: peak resident memory {:.0} MiB, {:.1} s",
        peak as f64 / (1 << 20) as f64,
        result.seconds
    );
    assert_eq!(result.input_shape, SHAPE);
    assert_eq!(result.success_rate(), 1.0, "{:?}", result.success);
    for i in 0..BATCH {
        let d = result.distortion[i];
        assert!(d.is_finite() && d > 0.0, "image {i}: distortion {d}");
        assert!(!result.misclassified[i]);
        assert!(
            result
                .adversarial(i)
                .iter()
                .all(|v| (0.0..=1.0).contains(v)),
            "image {i} left the box"
        );
    }
    // The stored examples really change the prediction.
    let adv = Tensor::<2>::from_data(TensorData::new(result.x_adv.clone(), [BATCH, dim]), &device);
    let predicted: Vec<i64> = model
        .predict(adv)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    for (i, (&p, &y)) in predicted.iter().zip(&labels).enumerate() {
        assert_ne!(p as usize, y, "image {i}");
    }
    assert!(
        peak < PEAK_BOUND_BYTES,
        "peak resident memory {peak} bytes exceeds the stated bound {PEAK_BOUND_BYTES}"
    );
}
