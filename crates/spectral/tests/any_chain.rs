//! Bounds that hold for any chain, checked against independent answers computed with Burn:
//!
//! - zero-padded convolutions (explicit, "same", asymmetric, strided, dilated, grouped): the
//!   operator norm from the SVD of the explicit operator and from power iteration on Burn's own
//!   `Conv2d::forward` (adjoint through autodiff) stays below the layer's bound;
//! - a kernel for which the circular bound on the *unpadded* grid is below the true norm;
//! - max pooling: an impulse through Burn's `MaxPool2d` reaches exactly the pooling constant,
//!   above 1 for overlapping windows;
//! - a small network built with Burn (normalization → conv (pad 1) → ReLU → overlapping max
//!   pool → conv (pad 1, stride 2) → ReLU → linear) declares its layers through
//!   [`LayerChain`]; gradient ascent on pairs `(x, y)` never beats the product bound, every
//!   linear layer's power-iteration norm stays below (and near) its bound, and with weights set so
//!   that the bound is attained, the ascent finds ratios above what a pooling constant of 1
//!   would allow.

use blindspot_spectral::burn_modules::max_pool_spec;
use blindspot_spectral::{
    ChainBuilder, ConvShape, HostLayer, LayerChain, LayerKind, Result, chain_bounds, conv_bounds,
    conv_layer, explicit_zero_padded_operator, lipschitz_bound,
};
use blindspot_testing::{Lcg, test_devices, values};
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use nalgebra::DMatrix;

fn flat(v: Vec<f32>, n: usize, device: &Device) -> Tensor<2> {
    let b = v.len() / n;
    Tensor::from_data(TensorData::new(v, [b, n]), device)
}

fn sum_squares(t: Tensor<2>) -> f64 {
    values(t).iter().map(|&v| f64::from(v).powi(2)).sum()
}

/// Largest singular value of the linear map `a` on `n`-vectors by power iteration on `AᵀA`, the
/// adjoint from autodiff of `<A x, c>` with `c = A x` held constant. Never above the truth: it
/// returns `‖A x‖` for a unit `x`.
fn power_norm(a: &dyn Fn(Tensor<2>) -> Tensor<2>, n: usize, steps: usize, device: &Device) -> f64 {
    let mut x = flat(Lcg::new(17).vec(n, -1.0, 1.0), n, device);
    let mut est = 0.0;
    for _ in 0..steps {
        let norm = sum_squares(x.clone()).sqrt();
        x = x / norm;
        let xa = x.clone().autodiff().require_grad();
        let y = a(xa.clone());
        let c = y.clone().detach();
        est = sum_squares(c.clone().inner()).sqrt();
        let grads = (y * c).sum().backward();
        x = xa.grad(&grads).expect("the input has a gradient");
    }
    est
}

/// Largest singular value of a row-major `rows × cols` matrix.
fn svd_norm(a: &[f64], rows: usize, cols: usize) -> f64 {
    DMatrix::from_row_slice(rows, cols, a)
        .singular_values()
        .max()
}

/// A conv layer with given weights and no bias.
fn conv_with(config: Conv2dConfig, weights: Vec<f32>, device: &Device) -> Conv2d {
    let mut conv = config.with_bias(false).init(device);
    let dims = conv.weight.dims();
    conv.weight = Param::from_tensor(Tensor::from_data(TensorData::new(weights, dims), device));
    conv
}

/// `(label, config, input [h, w])`: padding explicit, asymmetric, "same", strided, dilated and
/// grouped, on square and rectangular inputs.
fn conv_cases() -> Vec<(&'static str, Conv2dConfig, [usize; 2])> {
    vec![
        (
            "3x3 pad 1",
            Conv2dConfig::new([2, 3], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            [8, 8],
        ),
        (
            "3x3 stride 2 pad 1",
            Conv2dConfig::new([3, 2], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            [9, 9],
        ),
        (
            "5x5 stride 2 pad 2",
            Conv2dConfig::new([1, 4], [5, 5])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2)),
            [10, 10],
        ),
        (
            "asymmetric pad, rectangular input",
            Conv2dConfig::new([2, 2], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(0, 1, 2, 1)),
            [7, 10],
        ),
        (
            "same, 4x4 stride 2",
            Conv2dConfig::new([2, 3], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Same),
            [9, 9],
        ),
        (
            "dilation 2, groups 2, pad 2",
            Conv2dConfig::new([4, 4], [3, 3])
                .with_dilation([2, 2])
                .with_groups(2)
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2)),
            [8, 8],
        ),
    ]
}

#[test]
fn zero_padded_bound_covers_the_explicit_operator_and_burn_conv2d() {
    for (name, device) in test_devices() {
        for (i, (label, config, [h, w])) in conv_cases().into_iter().enumerate() {
            let [c_in, _] = config.channels;
            let dims = [
                config.channels[1],
                c_in / config.groups,
                config.kernel_size[0],
                config.kernel_size[1],
            ];
            let n = dims.iter().product();
            let conv = conv_with(config, Lcg::new(40 + i as u64).vec(n, -1.0, 1.0), &device);
            let layer = conv_layer("conv", &conv, [h, w], 1.0).unwrap();
            let LayerKind::Conv { shape, geometry } = layer.kind.clone() else {
                panic!("{label}: not a conv layer");
            };
            let bound = layer.bound(&|_, _| {}).unwrap().bounds.upper;
            // Ground truth 1: the explicit zero-padded operator of the (expanded) kernel.
            let s = ConvShape::from_dims(&shape).unwrap();
            let [oh, ow] = geometry.output([s.kh, s.kw]).unwrap();
            let a = explicit_zero_padded_operator(&layer.weights, s, geometry).unwrap();
            let rows = s.filters * oh * ow;
            let truth = svd_norm(&a, rows, c_in * h * w);
            // Ground truth 2: Burn's own forward pass with its padding, dilation and groups.
            let apply = |x: Tensor<2>| {
                let b = x.dims()[0];
                let y: Tensor<2> = conv.forward(x.reshape([b, c_in, h, w])).flatten(1, 3);
                y
            };
            assert_eq!(
                apply(flat(vec![0.0; c_in * h * w], c_in * h * w, &device)).dims()[1],
                rows
            );
            let power = power_norm(&apply, c_in * h * w, 300, &device);
            eprintln!(
                "{name} {label}: grid {} — power {power:.5}, SVD {truth:.5}, bound {bound:.5} (ratio {:.3})",
                geometry.grid(),
                truth / bound
            );
            // Burn's operator is the explicit one: power iteration reaches its top singular
            // value from below.
            assert!(
                power <= truth * (1.0 + 1e-4) && power >= truth * 0.995,
                "{name} {label}: power {power} vs SVD {truth}"
            );
            // The bound covers it, and is not vacuous.
            assert!(
                truth <= bound * (1.0 + 1e-6),
                "{name} {label}: norm {truth} above the bound {bound}"
            );
            assert!(
                truth >= 0.75 * bound,
                "{name} {label}: norm {truth} far below the bound {bound}"
            );
        }
    }
}

#[test]
fn checkerboard_kernel_needs_the_padded_grid() {
    // Kernel (−1)^{i+j}, padding 1, 5×5 input. Closed forms (see `zero_padded`): the
    // zero-padded operator is T⊗T with T = S + Sᵀ − I on 5 points, ‖T‖ = 1 + √3; the circular
    // operator on the unpadded 5 grid has norm (1 + 2cos(π/5))², on the padded 7 grid
    // (1 + 2cos(π/7))².
    let w: Vec<f32> = (0..9)
        .map(|k| if (k / 3 + k % 3) % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let s = ConvShape::from_dims(&[1, 1, 3, 3]).unwrap();
    let pi = std::f64::consts::PI;
    let truth = (1.0 + 3f64.sqrt()).powi(2);
    let unpadded = conv_bounds(&w, s, 1, 5, &|_, _| {}).unwrap().upper;
    assert!((unpadded - (1.0 + 2.0 * (pi / 5.0).cos()).powi(2)).abs() < 1e-9);
    let layers = ChainBuilder::image(1, 5, 5)
        .conv("checkerboard", [1, 1, 3, 3], w.clone(), 1, [1; 4])
        .unwrap()
        .finish()
        .unwrap();
    let bound = layers[0].bound(&|_, _| {}).unwrap().bounds.upper;
    assert!((bound - (1.0 + 2.0 * (pi / 7.0).cos()).powi(2)).abs() < 1e-9);
    let LayerKind::Conv { geometry, .. } = layers[0].kind.clone() else {
        panic!("not a conv layer");
    };
    let a = explicit_zero_padded_operator(&w, s, geometry).unwrap();
    let svd = svd_norm(&a, 25, 25);
    assert!(
        (svd - truth).abs() < 1e-9,
        "SVD {svd} vs closed form {truth}"
    );
    for (name, device) in test_devices() {
        let conv = conv_with(
            Conv2dConfig::new([1, 1], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            w.clone(),
            &device,
        );
        let apply = |x: Tensor<2>| {
            let b = x.dims()[0];
            let y: Tensor<2> = conv.forward(x.reshape([b, 1, 5, 5])).flatten(1, 3);
            y
        };
        let power = power_norm(&apply, 25, 300, &device);
        eprintln!("{name}: power {power:.5}, unpadded-grid bound {unpadded:.5}, padded {bound:.5}");
        assert!(
            power > unpadded * 1.05,
            "{name}: {power} should exceed the unpadded-grid bound {unpadded}"
        );
        assert!(power <= bound * (1.0 + 1e-6) && power >= 0.999 * truth);
    }
}

/// `(label, pool)` with kernel, stride and dilation; the expected constant `√(c_h c_w)`.
fn pools() -> Vec<(&'static str, MaxPool2d, f64)> {
    vec![
        (
            "3x3 / 2 (AlexNet)",
            MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            2.0,
        ),
        (
            "3x3 / 1",
            MaxPool2dConfig::new([3, 3]).with_strides([1, 1]).init(),
            3.0,
        ),
        (
            "3x2 / (2, 1)",
            MaxPool2dConfig::new([3, 2]).with_strides([2, 1]).init(),
            2.0,
        ),
        ("2x2 / 2", MaxPool2dConfig::new([2, 2]).init(), 1.0),
        (
            "2x2 / 2, dilation 2",
            MaxPool2dConfig::new([2, 2]).with_dilation([2, 2]).init(),
            2.0,
        ),
    ]
}

#[test]
fn an_impulse_through_burn_max_pool_reaches_exactly_the_pooling_constant() {
    const GRID: usize = 11;
    for (name, device) in test_devices() {
        for (label, pool, expected) in pools() {
            let spec = max_pool_spec(&pool, [GRID, GRID]);
            let factor = spec.lipschitz().unwrap();
            assert!((factor - expected).abs() < 1e-12, "{label}: {factor}");
            // x = 0 and x' = e_i for every pixel i at once: row i of the batch is e_i.
            let n = GRID * GRID;
            let mut eye = vec![0.0f32; n * n];
            for i in 0..n {
                eye[i * n + i] = 1.0;
            }
            let impulses =
                Tensor::<4>::from_data(TensorData::new(eye, [n, 1, GRID, GRID]), &device);
            let zero = Tensor::<4>::zeros([1, 1, GRID, GRID], &device);
            let base = values(pool.forward(zero));
            let out = values(pool.forward(impulses));
            let m = base.len();
            let best = (0..n)
                .map(|i| {
                    out[i * m..(i + 1) * m]
                        .iter()
                        .zip(&base)
                        .map(|(a, b)| f64::from(a - b).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(0.0, f64::max);
            eprintln!("{name} {label}: impulse ratio {best}, factor {factor}");
            // ‖x − x'‖ = 1, so the ratio is `best`: exactly the constant, so the constant is
            // the pool's Lipschitz constant (above 1 whenever the windows overlap).
            assert!(
                (best - factor).abs() < 1e-6,
                "{name} {label}: {best} vs {factor}"
            );
        }
    }
}

/// The largest `‖f(x) − f(y)‖ / ‖x − y‖` among the `batch` random starting pairs (half of
/// them close, half far apart), and the largest found by Adam ascent on the ratio's `log` from
/// them in `steps` steps.
fn ascend(
    f: &dyn Fn(Tensor<2>) -> Tensor<2>,
    n: usize,
    batch: usize,
    steps: usize,
    seed: u64,
    device: &Device,
) -> (f64, f64) {
    let mut rng = Lcg::new(seed);
    let mut x = flat(rng.vec(batch * n, -1.0, 1.0), n, device);
    let d: Vec<f32> = (0..batch * n)
        .map(|i| {
            let scale = if i < batch * n / 2 { 0.05 } else { 1.0 };
            scale * (2.0 * rng.next() - 1.0)
        })
        .collect();
    let mut y = x.clone() + flat(d, n, device);
    let zeros = || Tensor::<2>::zeros([batch, n], device);
    let (mut mx, mut vx, mut my, mut vy) = (zeros(), zeros(), zeros(), zeros());
    let (b1, b2, lr, eps) = (0.9f32, 0.999f32, 0.01f32, 1e-8f32);
    let (mut start, mut best) = (0.0f64, 0.0f64);
    for t in 1..=steps {
        let xa = x.clone().autodiff().require_grad();
        let ya = y.clone().autodiff().require_grad();
        let num = (f(xa.clone()) - f(ya.clone())).powf_scalar(2.0).sum_dim(1);
        let den = (xa.clone() - ya.clone()).powf_scalar(2.0).sum_dim(1);
        let ratio2 = values(num.clone().inner() / den.clone().inner());
        best = ratio2
            .iter()
            .filter(|r| r.is_finite())
            .fold(best, |m, &r| m.max(f64::from(r).sqrt()));
        if t == 1 {
            start = best;
        }
        let obj = ((num + 1e-20).log() - den.log()).sum();
        let grads = obj.backward();
        let (gx, gy) = (
            xa.grad(&grads).expect("x has a gradient"),
            ya.grad(&grads).expect("y has a gradient"),
        );
        let c1 = 1.0 - b1.powi(t as i32);
        let c2 = 1.0 - b2.powi(t as i32);
        let adam = |p: Tensor<2>, g: Tensor<2>, m: &mut Tensor<2>, v: &mut Tensor<2>| {
            *m = m.clone() * b1 + g.clone() * (1.0 - b1);
            *v = v.clone() * b2 + g.powf_scalar(2.0) * (1.0 - b2);
            p + (m.clone() / c1) / ((v.clone() / c2).sqrt() + eps) * lr
        };
        x = adam(x, gx, &mut mx, &mut vx);
        y = adam(y, gy, &mut my, &mut vy);
    }
    (start, best)
}

#[test]
fn gradient_ascent_on_an_overlapping_pool_exceeds_one_and_stays_within_its_factor() {
    let device = Device::flex();
    let (label, pool, factor) = pools().remove(0);
    let apply = |x: Tensor<2>| {
        let b = x.dims()[0];
        let y: Tensor<2> = pool.forward(x.reshape([b, 1, 9, 9])).flatten(1, 3);
        y
    };
    let (start, found) = ascend(&apply, 81, 16, 300, 1, &device);
    eprintln!("{label}: random pairs {start:.5}, ascent {found:.5}, factor {factor}");
    assert!(found > 1.05, "{label}: ascent found only {found}");
    assert!(
        found <= factor * (1.0 + 1e-5),
        "{label}: {found} > {factor}"
    );
}

/// normalization → conv 3×3 (pad 1) → ReLU → max pool 3×3 / 2 → conv 3×3 (stride 2, pad 1) →
/// ReLU → linear, on `[channels, 12, 12]` images.
struct Net {
    mean: Vec<f32>,
    std: Vec<f32>,
    conv1: Conv2d,
    pool: MaxPool2d,
    conv2: Conv2d,
    fc: Linear,
}

const SIDE: usize = 12;

impl Net {
    /// Weights and biases uniform in `±1/√fan_in` from a seeded generator (not the device's
    /// generator, which tests running in parallel share).
    fn random(device: &Device) -> Self {
        let mut rng = Lcg::new(7);
        let mut uniform = |n: usize, fan_in: usize| {
            let a = 1.0 / (fan_in as f32).sqrt();
            rng.vec(n, -a, a)
        };
        let conv = |config: Conv2dConfig, w: Vec<f32>, b: Vec<f32>| {
            let mut conv = conv_with(config, w, device);
            conv.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b.clone(), [b.len()]),
                device,
            )));
            conv
        };
        let conv1 = conv(
            Conv2dConfig::new([2, 4], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            uniform(4 * 2 * 9, 18),
            uniform(4, 18),
        );
        let conv2 = conv(
            Conv2dConfig::new([4, 3], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            uniform(3 * 4 * 9, 36),
            uniform(3, 36),
        );
        let mut fc = LinearConfig::new(27, 5).init(device);
        fc.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(uniform(27 * 5, 27), [27, 5]),
            device,
        ));
        fc.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(uniform(5, 27), [5]),
            device,
        )));
        Net {
            mean: vec![0.4, 0.5],
            std: vec![0.25, 0.6],
            conv1,
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            conv2,
            fc,
        }
    }

    /// One channel; the identity as conv1, 2×2 block sums (stride 2) as conv2 and a selection
    /// of two outputs as fc: every factor of the product is attained by one impulse at a pixel
    /// in four pooling windows, so the Lipschitz constant equals the product bound
    /// `(1/σ)·1·2·2·1`.
    fn tight(device: &Device) -> Self {
        let mut centre = vec![0.0; 9];
        centre[4] = 1.0;
        let mut block = vec![0.0; 9];
        for k in [4, 5, 7, 8] {
            block[k] = 1.0;
        }
        let mut fc = LinearConfig::new(9, 2).with_bias(false).init(device);
        let mut select = vec![0.0f32; 18];
        select[0] = 1.0; // output 0 reads position (0, 0)
        select[4 * 2 + 1] = 1.0; // output 1 reads position (1, 1)
        fc.weight = Param::from_tensor(Tensor::from_data(TensorData::new(select, [9, 2]), device));
        Net {
            mean: vec![0.3],
            std: vec![0.5],
            conv1: conv_with(
                Conv2dConfig::new([1, 1], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
                centre,
                device,
            ),
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            conv2: conv_with(
                Conv2dConfig::new([1, 1], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
                block,
                device,
            ),
            fc,
        }
    }

    fn channels(&self) -> usize {
        self.std.len()
    }

    fn input_len(&self) -> usize {
        self.channels() * SIDE * SIDE
    }

    fn normalize(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.channels();
        let device = x.device();
        let mean =
            Tensor::<4>::from_data(TensorData::new(self.mean.clone(), [1, c, 1, 1]), &device);
        let std = Tensor::<4>::from_data(TensorData::new(self.std.clone(), [1, c, 1, 1]), &device);
        (x - mean) / std
    }

    /// Logits of flat inputs `[b, C·12·12]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let b = x.dims()[0];
        let h = self.normalize(x.reshape([b, self.channels(), SIDE, SIDE]));
        let h = self.pool.forward(relu(self.conv1.forward(h)));
        let h: Tensor<2> = relu(self.conv2.forward(h)).flatten(1, 3);
        self.fc.forward(h)
    }
}

impl LayerChain for Net {
    fn layer_chain(&self) -> Result<Vec<HostLayer>> {
        ChainBuilder::image(self.channels(), SIDE, SIDE)
            .normalize("norm", &self.std)?
            .conv2d("conv1", &self.conv1)?
            .relu()
            .max_pool2d(&self.pool)?
            .conv2d("conv2", &self.conv2)?
            .relu()
            .linear("fc", &self.fc)?
            .finish()
    }
}

/// Each linear layer's power-iteration norm (on Burn's forward, bias removed by subtracting the
/// layer at 0), in chain order.
fn layer_norms(net: &Net, device: &Device) -> Vec<f64> {
    let c = net.channels();
    let f1 = net.conv1.weight.dims()[0];
    let f2 = net.conv2.weight.dims()[0];
    let linear = |f: &dyn Fn(Tensor<2>) -> Tensor<2>, n: usize| {
        let zero = f(Tensor::<2>::zeros([1, n], device));
        let a = |x: Tensor<2>| f(x) - zero.clone();
        power_norm(&a, n, 300, device)
    };
    let norm = |x: Tensor<2>| {
        let b = x.dims()[0];
        let y: Tensor<2> = net.normalize(x.reshape([b, c, SIDE, SIDE])).flatten(1, 3);
        y
    };
    let conv1 = |x: Tensor<2>| {
        let b = x.dims()[0];
        let y: Tensor<2> = net
            .conv1
            .forward(x.reshape([b, c, SIDE, SIDE]))
            .flatten(1, 3);
        y
    };
    let conv2 = |x: Tensor<2>| {
        let b = x.dims()[0];
        let y: Tensor<2> = net.conv2.forward(x.reshape([b, f1, 5, 5])).flatten(1, 3);
        y
    };
    let fc = |x: Tensor<2>| net.fc.forward(x);
    vec![
        linear(&norm, c * SIDE * SIDE),
        linear(&conv1, c * SIDE * SIDE),
        linear(&conv2, f1 * 5 * 5),
        linear(&fc, f2 * 3 * 3),
    ]
}

#[test]
fn small_burn_network_stays_below_its_product_bound() {
    let device = Device::flex();
    let net = Net::random(&device);
    let bounds = chain_bounds(&net).unwrap();
    let names: Vec<&str> = bounds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["norm", "conv1", "conv2", "fc"]);
    // ReLU · overlapping pool after conv1.
    assert_eq!(bounds[1].after, 2.0);
    let product = lipschitz_bound(&net).unwrap();
    // (2) every linear layer: power iteration on the real operator ≤ its bound, and near it.
    let norms = layer_norms(&net, &device);
    for (b, power) in bounds.iter().zip(&norms) {
        eprintln!(
            "{}: power {power:.5}, bound {:.5} (ratio {:.3})",
            b.name,
            b.bounds.upper,
            power / b.bounds.upper
        );
        assert!(
            *power <= b.bounds.upper * (1.0 + 1e-5),
            "{}: power {power} above the bound {}",
            b.name,
            b.bounds.upper
        );
        assert!(
            *power >= 0.75 * b.bounds.upper,
            "{}: power {power} far below the bound {}",
            b.name,
            b.bounds.upper
        );
    }
    assert!((norms[0] - 4.0).abs() < 1e-4, "norm layer: max 1/σ = 4");
    // (1) the largest ratio gradient ascent finds ≤ the product.
    let (start, found) = ascend(&|x| net.forward(x), net.input_len(), 16, 300, 3, &device);
    eprintln!("random net: random pairs {start:.5}, ascent {found:.5}, product bound {product:.5}");
    // The ascent does its job (it climbs well above the random pairs) and stays below.
    assert!(
        found >= 1.5 * start,
        "ascent {found} vs random pairs {start}"
    );
    assert!(found <= product, "{found} > {product}");
}

#[test]
fn tight_burn_network_attains_its_product_bound_so_the_pool_factor_is_needed() {
    let device = Device::flex();
    let net = Net::tight(&device);
    let bounds = chain_bounds(&net).unwrap();
    let uppers: Vec<f64> = bounds.iter().map(|b| b.bounds.upper).collect();
    let product = lipschitz_bound(&net).unwrap();
    // (1/σ = 2) · identity 1 · pool 2 · block sums 2 · selection 1.
    assert!((product - 8.0).abs() < 1e-5, "{uppers:?} → {product}");
    let norms = layer_norms(&net, &device);
    for ((b, u), power) in bounds.iter().zip(&uppers).zip(&norms) {
        assert!(
            (power - u).abs() <= 1e-4 * u,
            "{}: power {power} vs bound {u}",
            b.name
        );
    }
    let without_pool: f64 = bounds.iter().map(|b| b.bounds.upper).product();
    let (start, found) = ascend(&|x| net.forward(x), net.input_len(), 16, 300, 5, &device);
    eprintln!(
        "tight net: random pairs {start:.5}, ascent {found:.5}, product bound {product:.5}, with pool factor 1: {without_pool:.5}"
    );
    assert!(found <= product * (1.0 + 1e-5), "{found} > {product}");
    assert!(
        found > without_pool * 1.05,
        "ascent found {found}, not above the product with a pooling factor of 1 ({without_pool})"
    );
}
