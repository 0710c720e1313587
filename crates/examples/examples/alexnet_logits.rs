//! Compares our AlexNet's logits with PyTorch's for a torchvision checkpoint, as the CI test
//! `crates/models/tests/alexnet.rs` does for the narrow fixture; for the full-width network
//! (244 MB, outside CI):
//!
//! ```text
//! python bench/peers/alexnet_fixture.py --width full --out /tmp/alexnet
//! cargo run --release -p blindspot-examples --example alexnet_logits -- \
//!     /tmp/alexnet/alexnet-full.safetensors /tmp/alexnet/alexnet-full-io.safetensors
//! ```
//!
//! The second file holds `images` `[N, 3, H, W]` (pixels in `[0, 1]`) and PyTorch's `logits`
//! `[N, classes]` after ImageNet's normalization. Prints the largest difference per image
//! relative to its largest logit; exits with an error above `1e-4`.

use std::path::PathBuf;

use blindspot_models::Classifier;
use blindspot_models::alexnet::load_torchvision;
use blindspot_models::checkpoint::decode_safetensors;
use burn::prelude::*;

const TOLERANCE: f32 = 1e-4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [weights, io] = args.as_slice() else {
        return Err("usage: alexnet_logits WEIGHTS.safetensors IO.safetensors".into());
    };
    let device = Device::flex();
    let started = std::time::Instant::now();
    let (config, net) = load_torchvision(weights, &device)?;
    println!(
        "{}: {} layout, filters {:?}, dense {:?}, {} classes (loaded in {:.1} s)",
        weights.display(),
        config.layout,
        config.filters,
        config.hidden,
        config.classes,
        started.elapsed().as_secs_f64()
    );
    let tensors = decode_safetensors(&std::fs::read(io)?, io)?;
    let (images, expected) = match (tensors.get("images"), tensors.get("logits")) {
        (Some(i), Some(l)) => (i, l),
        _ => return Err(format!("{} needs `images` and `logits`", io.display()).into()),
    };
    let &[n, c, h, w] = images.shape.as_slice() else {
        return Err(format!("images have shape {:?}, expected 4-D", images.shape).into());
    };
    if (c, h) != (3, w) || h != config.input_side {
        return Err(format!(
            "images are {c} × {h} × {w}; the network takes 3 × {0} × {0}",
            config.input_side
        )
        .into());
    }
    let model = net.classifier(h)?;
    let x = Tensor::<2>::from_data(
        TensorData::new(images.values.clone(), [n, c * h * w]),
        &device,
    );
    let started = std::time::Instant::now();
    let ours: Vec<f32> = model.logits(x).into_data().try_to_vec::<f32>()?;
    let seconds = started.elapsed().as_secs_f64();
    let classes = config.classes;
    let mut worst_overall = 0f32;
    for (i, (a, b)) in ours
        .chunks(classes)
        .zip(expected.values.chunks(classes))
        .enumerate()
    {
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        let argmax = |v: &[f32]| (0..v.len()).max_by(|&p, &q| v[p].total_cmp(&v[q]));
        println!(
            "image {i}: max |ours − PyTorch| = {worst:.3e} ({:.3e} of the largest |logit| {scale:.4}); \
             class {:?} / {:?}",
            worst / scale,
            argmax(a),
            argmax(b)
        );
        worst_overall = worst_overall.max(worst / scale);
    }
    println!("forward pass of {n} images: {seconds:.2} s on flex");
    if worst_overall > TOLERANCE {
        return Err(
            format!("logits differ by {worst_overall:.3e} > {TOLERANCE:e} relative").into(),
        );
    }
    println!("agree within {TOLERANCE:e} relative");
    Ok(())
}
