//! `blindspot imagenet`: the paper's ImageNet experiments on a user's AlexNet weights and
//! photos.
//!
//! - `attack`: Figure 5 — every photo (JPEG or PNG, any size; torchvision's resize to 256 and
//!   centre crop) attacked toward a class (default `ostrich`) or away from its own, the
//!   examples rounded to 8 bits and re-checked (`blindspot_imagenet::adversarial`). Files under
//!   `<out>/imagenet/<weights>/<attack>-<goal>/`: `original/<photo>.png` (the network's input),
//!   `adversarial/<photo>.png`, `figure5.png`, `examples.json` and `adversarial.safetensors`
//!   (`x`, `x_adv`, `[N, 3·H·W]`).
//! - `units`: Figures 3–4 (`crate::cmd::imagenet_units`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use blindspot_attack::{AnyAttack, Goal, any};
use blindspot_data::write_atomic;
use blindspot_imagenet::{
    Photo, PhotoAttack, Preprocess, Rounding, attack_photos, class_label, class_name, figure5,
    parse_class, read_folder,
};
use blindspot_models::Classifier;
use blindspot_models::alexnet::load_torchvision;
use blindspot_models::checkpoint::{NamedTensor, encode_safetensors};
use burn::prelude::*;
use clap::{Args, Subcommand};

use crate::common::CommonArgs;
use crate::progress::AttackProgress;

/// Options of `blindspot imagenet`.
#[derive(Args, Debug)]
pub struct ImagenetArgs {
    #[command(subcommand)]
    pub command: ImagenetCommand,
}

/// The subcommands of `blindspot imagenet`.
#[derive(Subcommand, Debug)]
pub enum ImagenetCommand {
    /// Figure 5: adversarial photos for AlexNet, checked after rounding to 8 bits.
    Attack(ImagenetAttackArgs),
    /// Figures 3–4: the photos that most excite units and random directions of a layer, and
    /// section 3's test of whether the two can be told apart.
    Units(crate::cmd::imagenet_units::ImagenetUnitsArgs),
}

impl ImagenetArgs {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            ImagenetCommand::Attack(args) => args.run(),
            ImagenetCommand::Units(args) => args.run(),
        }
    }
}

/// Options of `blindspot imagenet attack`.
#[derive(Args, Debug)]
pub struct ImagenetAttackArgs {
    /// AlexNet's weights: a safetensors file with torchvision's names (the state dict of
    /// `torchvision.models.alexnet`, any widths; the paper's layout when its filters are Table
    /// 5's).
    #[arg(long)]
    pub weights: PathBuf,
    /// A photo (JPEG or PNG) or a folder of them.
    #[arg(long)]
    pub images: PathBuf,
    /// `untargeted`, or the class to reach: a name of the ImageNet list (`ostrich`, the paper's)
    /// or its id (`9`).
    #[arg(long, default_value = "ostrich")]
    pub target: String,
    /// The attack, with its default settings.
    #[arg(long, default_value = "lbfgs", value_parser = clap::builder::PossibleValuesParser::new(any::NAMES))]
    pub attack: String,
    /// Output directory; default `<out>/imagenet/<weights file stem>/<attack>-<goal>`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What `examples.json` holds.
#[derive(serde::Serialize)]
struct ExamplesFile<'a> {
    weights: String,
    layout: String,
    input_side: usize,
    attack: &'a AnyAttack,
    seconds: f64,
    seconds_per_photo: f64,
    broken_by_rounding: usize,
    examples: &'a [blindspot_imagenet::PhotoExample],
}

impl ImagenetAttackArgs {
    /// Attacks the photos and writes the files.
    pub fn run(self) -> anyhow::Result<()> {
        let device = self.common.device()?;
        let (config, net) = load_torchvision(&self.weights, &device)
            .with_context(|| format!("loading AlexNet from {}", self.weights.display()))?;
        let side = config.input_side;
        let model = net.classifier(side)?;
        let goal = match self.target.trim() {
            "untargeted" => Goal::Untargeted,
            name => Goal::Target(parse_class(name)?),
        };
        let attack = AnyAttack::default_of(&self.attack, goal)
            .with_context(|| format!("unknown attack `{}`", self.attack))?
            .with_workers(self.common.workers());
        let photos = if self.images.is_dir() {
            read_folder(&self.images)?
        } else {
            vec![Photo::read(&self.images)?]
        };
        let names = unique_names(&photos);
        let preprocess = Preprocess {
            resize: 256,
            crop: side as u32,
        };
        let mut pixels = Vec::with_capacity(photos.len() * 3 * side * side);
        let mut inputs = Vec::with_capacity(photos.len());
        for photo in &photos {
            let input = preprocess.apply(photo)?;
            pixels.extend(input.to_pixels());
            inputs.push(input);
        }
        let n = photos.len();
        let dim = 3 * side * side;
        let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, dim]), &device);
        eprintln!(
            "imagenet: {n} photos, {} layout AlexNet ({} classes), {} toward {}",
            config.layout,
            model.num_classes(),
            attack.label(),
            goal_name(goal)
        );
        let started = Instant::now();
        let mut progress = AttackProgress::new(format!("{} photos", attack.label()));
        let outcome = attack_photos(&model, x, &names, &attack, &mut progress)?;
        drop(progress);
        let seconds = started.elapsed().as_secs_f64();
        let stem = crate::cmd::imagenet_units::stem(&self.weights);
        let dir = self.dir.clone().unwrap_or_else(|| {
            self.common.out.join("imagenet").join(stem).join(format!(
                "{}-{}",
                attack.slug(),
                goal_slug(goal)
            ))
        });
        write_outputs(&dir, &inputs, &outcome, side)?;
        let classes = model.num_classes();
        let figure = figure5(
            &outcome,
            side,
            classes,
            &format!(
                "{} toward {}, 8-bit images",
                attack.label(),
                goal_name(goal)
            ),
        )?;
        blindspot_report::figures::save_png(&figure, &dir.join("figure5.png"))?;
        let summary = ExamplesFile {
            weights: self.weights.display().to_string(),
            layout: config.layout.to_string(),
            input_side: side,
            attack: &attack,
            seconds,
            seconds_per_photo: seconds / n as f64,
            broken_by_rounding: outcome.broken_by_rounding(),
            examples: &outcome.examples,
        };
        let json = serde_json::to_vec_pretty(&summary)?;
        write_atomic(&dir.join("examples.json"), &json)
            .with_context(|| format!("writing {}", dir.join("examples.json").display()))?;
        print_table(&outcome, classes);
        let reached = outcome.examples.iter().filter(|e| e.success).count();
        println!(
            "{reached} of {n} photos reach the goal as 8-bit images; rounding broke {} example(s) \
             the attack made (rescued by lengthening: {}); {:.1} s per photo -> {}",
            outcome.broken_by_rounding(),
            outcome
                .examples
                .iter()
                .filter(|e| matches!(e.rounding, Rounding::Rescaled { .. }))
                .count(),
            seconds / n as f64,
            dir.display()
        );
        Ok(())
    }
}

/// Photo names made unique (`a` and `a` from `a.jpg` and `a.png` become `a` and `a-2`).
fn unique_names(photos: &[Photo]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    photos
        .iter()
        .map(|p| {
            let count = seen.entry(p.name().to_owned()).or_insert(0);
            *count += 1;
            if *count == 1 {
                p.name().to_owned()
            } else {
                format!("{}-{count}", p.name())
            }
        })
        .collect()
}

fn goal_name(goal: Goal) -> String {
    match goal {
        Goal::Target(t) => format!("{} ({t})", class_name(t).unwrap_or("?")),
        other => other.to_string(),
    }
}

fn goal_slug(goal: Goal) -> String {
    match goal {
        Goal::Target(t) => format!("target-{t}"),
        other => other.to_string(),
    }
}

/// The network's inputs and the 8-bit examples as PNGs, and both as safetensors.
fn write_outputs(
    dir: &Path,
    inputs: &[Photo],
    outcome: &PhotoAttack,
    side: usize,
) -> anyhow::Result<()> {
    let dim = 3 * side * side;
    for (i, (input, example)) in inputs.iter().zip(&outcome.examples).enumerate() {
        let file = format!("{}.png", example.name);
        input.write_png(&dir.join("original").join(&file))?;
        let adversarial = Photo::from_pixels(
            example.name.clone(),
            side as u32,
            side as u32,
            &outcome.adversarial[i * dim..(i + 1) * dim],
        )?;
        adversarial.write_png(&dir.join("adversarial").join(&file))?;
    }
    let n = inputs.len();
    let tensor = |values: &[f32]| NamedTensor {
        shape: vec![n, dim],
        values: values.to_vec(),
    };
    let tensors = [
        ("x".to_owned(), tensor(&outcome.clean)),
        ("x_adv".to_owned(), tensor(&outcome.adversarial)),
    ]
    .into_iter()
    .collect();
    let metadata = [
        (
            "producer".to_owned(),
            "blindspot imagenet attack".to_owned(),
        ),
        ("input_shape".to_owned(), format!("[3, {side}, {side}]")),
    ]
    .into_iter()
    .collect();
    let bytes = encode_safetensors(&tensors, metadata)?;
    let path = dir.join("adversarial.safetensors");
    write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn print_table(outcome: &PhotoAttack, classes: usize) {
    let name = |c: usize| class_label(c, classes);
    println!("| photo | original | adversarial (8-bit) | RMS | max change | rounding |");
    println!("|---|---|---|---|---|---|");
    for e in &outcome.examples {
        let rounding = match e.rounding {
            Rounding::Survived => "survived".to_owned(),
            Rounding::Rescaled { factor } => format!("broke it; ×{factor} rescued it"),
            Rounding::Failed => "failed".to_owned(),
            Rounding::AlreadyThere => "already at the goal".to_owned(),
        };
        println!(
            "| {} | {} ({:.1}%) | {} ({:.1}%) | {:.4} | {} levels | {rounding} |",
            e.name,
            name(e.original.class),
            100.0 * e.original.probability,
            name(e.adversarial.class),
            100.0 * e.adversarial.probability,
            e.rms,
            e.max_levels
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::common;

    fn fixture(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    fn args(out: &Path, target: &str) -> ImagenetAttackArgs {
        ImagenetAttackArgs {
            weights: fixture("models/tests/fixtures/alexnet-narrow.safetensors"),
            images: fixture("imagenet/tests/fixtures/portrait-grey.png"),
            target: target.into(),
            attack: "lbfgs".into(),
            dir: None,
            common: common(out),
        }
    }

    #[test]
    fn a_photo_becomes_an_ostrich_with_every_file_written() {
        let out = tempfile::tempdir().unwrap();
        args(out.path(), "ostrich").run().unwrap();
        let dir = out.path().join("imagenet/alexnet-narrow/lbfgs-target-9");
        for file in [
            "figure5.png",
            "examples.json",
            "adversarial.safetensors",
            "original/portrait-grey.png",
            "adversarial/portrait-grey.png",
        ] {
            assert!(dir.join(file).is_file(), "{file}");
        }
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("examples.json")).unwrap()).unwrap();
        let example = &json["examples"][0];
        assert_eq!(example["success"], true);
        assert_eq!(example["adversarial"]["class"], 9);
        // The PNG written is the example checked: 224 × 224, and classified as an ostrich.
        let png = Photo::read(&dir.join("adversarial/portrait-grey.png")).unwrap();
        assert_eq!((png.width(), png.height()), (224, 224));
        let device = Device::flex();
        let (_, net) = load_torchvision(
            &fixture("models/tests/fixtures/alexnet-narrow.safetensors"),
            &device,
        )
        .unwrap();
        let model = net.classifier(224).unwrap();
        let x = Tensor::<2>::from_data(
            TensorData::new(png.to_pixels(), [1, 3 * 224 * 224]),
            &device,
        );
        assert_eq!(model.predict(x).into_scalar::<i64>(), 9);
    }

    #[test]
    fn an_unknown_class_is_refused_with_suggestions() {
        let out = tempfile::tempdir().unwrap();
        let err = args(out.path(), "shark").run().unwrap_err();
        assert!(
            format!("{err:#}").contains("great white shark (2)"),
            "{err:#}"
        );
    }
}
