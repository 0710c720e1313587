//! Smoke test of the GPU code path through wgpu. CI runs it on Mesa's software Vulkan
//! (lavapipe) with `cargo test -p blindspot-cli --release --features wgpu --test wgpu_smoke`,
//! so the code that a GPU user runs is exercised without a GPU. Without the `wgpu` feature this
//! file compiles to nothing.
#![cfg(feature = "wgpu")]

use blindspot_data::splits::ImageShape;
use blindspot_data::{Dataset, IMAGE_PIXELS};
use blindspot_models::{Classifier, Silent, TrainConfig, model_spec, train_classifier};
use burn::prelude::*;

/// Class `c` lights pixel block `c`; the rest is a fixed low pattern.
fn separable(n: usize) -> Dataset {
    let images = (0..n)
        .flat_map(|i| {
            (0..IMAGE_PIXELS).map(move |p| {
                if p / 78 == i % 10 {
                    0.9
                } else {
                    ((i + p) % 10) as f32 / 100.0
                }
            })
        })
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u32).collect();
    Dataset::new(images, labels, ImageShape::MNIST).unwrap()
}

/// softmax1 trained on the separable set on `device` (with autodiff), seeded.
fn trained_softmax1(
    device: &Device,
) -> (blindspot_models::AnyModel, blindspot_models::TrainReport) {
    let device = device.clone().autodiff();
    device.seed(0);
    let model = model_spec("softmax1")
        .unwrap()
        .architecture
        .init(&device)
        .unwrap();
    let config = TrainConfig::new()
        .with_epochs(5)
        .with_batch_size(20)
        .with_learning_rate(5e-3);
    train_classifier(model, &separable(200), &separable(50), &config, &mut Silent).unwrap()
}

#[test]
fn wgpu_matches_flex_and_trains() {
    let gpu = Device::wgpu(Default::default());
    let cpu = Device::flex();
    for name in ["n100-100-10", "conv"] {
        let model = model_spec(name).unwrap().architecture.init(&cpu).unwrap();
        let on_gpu = model.clone().to_device(&gpu);
        let x: Vec<f32> = (0..4 * IMAGE_PIXELS)
            .map(|i| (i % 13) as f32 / 13.0)
            .collect();
        let x_cpu = Tensor::<2>::from_data(TensorData::new(x.clone(), [4, IMAGE_PIXELS]), &cpu);
        let x_gpu = Tensor::<2>::from_data(TensorData::new(x, [4, IMAGE_PIXELS]), &gpu);
        let a = model.logits(x_cpu).into_data();
        let b = on_gpu.logits(x_gpu).into_data();
        a.assert_approx_eq::<f32>(&b, burn::tensor::Tolerance::absolute(1e-3));
    }
    let (_, report) = trained_softmax1(&gpu);
    assert_eq!(report.test_error, 0.0, "{report:?}");
}

#[test]
fn the_attack_runs_on_wgpu_and_agrees_with_flex() {
    use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
    use burn::module::Module;
    let cpu = Device::flex();
    let model = trained_softmax1(&cpu).0.valid();
    let gpu = Device::wgpu(Default::default());
    let on_gpu = model.clone().to_device(&gpu);
    let data = separable(4);
    let labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    let attack = LbfgsAttack::new(AttackConfig {
        goal: Goal::Untargeted,
        ..AttackConfig::default()
    });
    let upload = |d: &Device| {
        Tensor::<2>::from_data(TensorData::new(data.images.clone(), [4, IMAGE_PIXELS]), d)
    };
    let a = attack
        .run(&model, upload(&cpu), &labels, &mut Quiet)
        .unwrap();
    let b = attack
        .run(&on_gpu, upload(&gpu), &labels, &mut Quiet)
        .unwrap();
    assert_eq!(b.success_rate(), 1.0);
    for (x, y) in a.distortion.iter().zip(&b.distortion) {
        assert!((x - y).abs() <= 1e-2 * x, "flex {x} vs wgpu {y}");
    }
}

#[test]
fn every_attack_runs_on_wgpu_and_agrees_with_flex() {
    use blindspot_attack::any::NAMES;
    use blindspot_attack::{AnyAttack, Goal, Quiet};
    use burn::module::Module;
    let cpu = Device::flex();
    let model = trained_softmax1(&cpu).0.valid();
    let gpu = Device::wgpu(Default::default());
    let on_gpu = model.clone().to_device(&gpu);
    let data = separable(4);
    let labels: Vec<usize> = data.labels.iter().map(|&l| l as usize).collect();
    let upload = |d: &Device| {
        Tensor::<2>::from_data(TensorData::new(data.images.clone(), [4, IMAGE_PIXELS]), d)
    };
    for name in NAMES {
        // Short runs: software Vulkan is slow, and what is checked is the code path.
        let mut attack = AnyAttack::default_of(name, Goal::Untargeted).unwrap();
        match &mut attack {
            AnyAttack::Pgd(c) => c.steps = 10,
            AnyAttack::Ddn(c) => c.steps = 20,
            AnyAttack::Fmn(c) => c.steps = 20,
            AnyAttack::Cw(c) => (c.search_steps, c.steps) = (3, 100),
            _ => {}
        }
        let a = attack
            .run(&model, upload(&cpu), &labels, &mut Quiet)
            .unwrap();
        let b = attack
            .run(&on_gpu, upload(&gpu), &labels, &mut Quiet)
            .unwrap();
        assert_eq!(a.success, b.success, "{name}");
        for (x, y) in a.l2.iter().zip(&b.l2) {
            assert!(
                (x - y).abs() <= 2e-2 * x || (x.is_nan() && y.is_nan()),
                "{name}: flex {x} vs wgpu {y}"
            );
        }
    }
}

/// The narrow torchvision-structured AlexNet fixture (random weights) as a classifier of
/// 224 × 224 photos, on `device`.
fn narrow_alexnet(device: &Device) -> blindspot_models::alexnet::AlexNetClassifier {
    let weights = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures/alexnet-narrow.safetensors");
    let (config, net) = blindspot_models::alexnet::load_torchvision(&weights, device).unwrap();
    net.classifier(config.input_side).unwrap()
}

#[test]
fn alexnet_logits_and_input_gradients_on_wgpu_agree_with_flex() {
    let dim = 3 * 224 * 224;
    let x: Vec<f32> = (0..2 * dim)
        .map(|i| ((i * 7) % 251) as f32 / 251.0)
        .collect();
    let run = |device: &Device| {
        let model = narrow_alexnet(device);
        let x = Tensor::<2>::from_data(TensorData::new(x.clone(), [2, dim]), device);
        let logits = model.logits(x.clone()).into_data();
        let xa = x.autodiff().require_grad();
        let ostrich = model.logits(xa.clone()).slice([0..2, 9..10]).sum();
        let grads = ostrich.backward();
        let g = xa.grad(&grads).unwrap().into_data();
        (
            logits.iter::<f32>().collect::<Vec<_>>(),
            g.iter::<f32>().collect::<Vec<_>>(),
        )
    };
    let (logits_cpu, grad_cpu) = run(&Device::flex());
    let (logits_gpu, grad_gpu) = run(&Device::wgpu(Default::default()));
    let largest = |v: &[f32]| v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let worst = |a: &[f32], b: &[f32]| {
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / largest(a)
    };
    assert!(
        worst(&logits_cpu, &logits_gpu) < 1e-4,
        "logits differ by {} of the largest",
        worst(&logits_cpu, &logits_gpu)
    );
    eprintln!(
        "AlexNet on wgpu vs flex: logits {:.1e}, input gradient {:.1e} of the largest",
        worst(&logits_cpu, &logits_gpu),
        worst(&grad_cpu, &grad_gpu)
    );
    assert!(largest(&grad_cpu) > 0.0);
    assert!(
        worst(&grad_cpu, &grad_gpu) < 1e-3,
        "input gradients differ by {} of the largest",
        worst(&grad_cpu, &grad_gpu)
    );
}

/// `blindspot_attack::rows` reduces photo-wide rows right on wgpu, where Burn's own `sum_dim`
/// and `max_dim` do not (see that module: on lavapipe `[2, 150528]` sums came out 26% off and
/// wider batches gave rows of zeros). Checked against f64 sums on the host, at the shapes that
/// failed: photo rows in even and odd numbers, and one 299 × 299 photo.
#[test]
fn photo_wide_row_sums_and_maxima_on_wgpu_equal_the_hosts() {
    use blindspot_attack::rows;
    let gpu = Device::wgpu(Default::default());
    for (n, d) in [
        (2, 3 * 224 * 224),
        (5, 3 * 224 * 224),
        (8, 65_536),
        (1, 3 * 299 * 299),
    ] {
        // A fixed pseudo-random pattern in [0, 1), the same on every run.
        let v: Vec<f32> = (0..n * d)
            .map(|i| ((i as u64 * 2_654_435_761) % 1_000_003) as f32 / 1_000_003.0)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(v.clone(), [n, d]), &gpu);
        let sums: Vec<f32> = rows::sum(x.clone()).into_data().iter::<f32>().collect();
        let maxima: Vec<f32> = rows::max(x).into_data().iter::<f32>().collect();
        for r in 0..n {
            let row = &v[r * d..(r + 1) * d];
            let exact: f64 = row.iter().map(|&a| a as f64).sum();
            let largest = row.iter().copied().fold(f32::MIN, f32::max);
            let error = (sums[r] as f64 - exact).abs() / exact;
            assert!(
                error < 1e-5,
                "[{n}, {d}] row {r}: sum {} vs {exact}",
                sums[r]
            );
            assert_eq!(maxima[r], largest, "[{n}, {d}] row {r}");
        }
    }
}

/// The box-constrained L-BFGS at photo size on wgpu. Before the solver's dot products went
/// through `blindspot_attack::rows`, this failed on lavapipe (LineSearchFailed or
/// FunctionTolerance 0.45–0.5 from the optimum, while flex converged to 1e-5): with two or
/// more curvature pairs in the history, Burn's `sum_dim` over 150,528-wide rows was wrong.
#[test]
fn the_box_constrained_solver_finds_a_quadratics_optimum_at_photo_size_on_wgpu() {
    use blindspot_attack::{LbfgsbConfig, minimize};
    use blindspot_models::Bounds;
    // f(x) = Σ w_j (x_j − t_j)² on [0, 1]^D, D = 3·224·224, weights 0.1–10 and targets partly
    // outside the box: the optimum is clamp(t, 0, 1), coordinate by coordinate.
    let dim = 3 * 224 * 224;
    let w: Vec<f32> = (0..dim)
        .map(|j| 0.1 + 9.9 * ((j * 37) % 101) as f32 / 100.0)
        .collect();
    let t: Vec<f32> = (0..dim)
        .map(|j| -0.2 + 1.4 * ((j * 53) % 97) as f32 / 96.0)
        .collect();
    let optimum: Vec<f32> = t.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    for device in [Device::flex(), Device::wgpu(Default::default())] {
        let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [1, dim]), &device);
        let tt = Tensor::<2>::from_data(TensorData::new(t.clone(), [1, dim]), &device);
        let mut objective = |x: Tensor<2>, _rows: &Tensor<1, Int>| {
            let r = x - tt.clone();
            let f = blindspot_attack::rows::sum(r.clone().square() * wt.clone()).reshape([1]);
            Ok((f, r * wt.clone() * 2.0))
        };
        let x0 = Tensor::<2>::full([1, dim], 0.5, &device);
        let config = LbfgsbConfig {
            f_tolerance: 0.0,
            max_iterations: 200,
            ..LbfgsbConfig::default()
        };
        let s = minimize(&mut objective, x0, Bounds::UNIT, &config).unwrap();
        let x: Vec<f32> = s.x.into_data().iter::<f32>().collect();
        let worst = x
            .iter()
            .zip(&optimum)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        eprintln!(
            "{device:?}: {:?} after {:?} iterations, {:?} evaluations, value {:?}, worst {worst:.2e}",
            s.termination, s.iterations, s.evaluations, s.value
        );
        assert!(worst < 1e-3, "{device:?}: {worst}");
    }
}
