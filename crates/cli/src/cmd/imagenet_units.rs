//! `blindspot imagenet units`: section 3's Figures 3–4 on a user's AlexNet and photos — the
//! photos of a folder that most excite units of a layer beside those of random directions, and
//! the same measurement as `blindspot units` on MNIST (`blindspot_units::measure`).
//!
//! The folder is the image set (the paper used ImageNet's validation set): a flat folder of
//! photos, or one sub-folder per class (torchvision's `ImageFolder` layout), which adds the
//! label share to the scores. The reference space of the distance score is the photos'
//! thumbnails (no network; default) or a layer of another AlexNet (`--reference-weights`).
//! Files under `<out>/imagenet/<weights>/units-<layer>/`: `units-natural.png` (Figure 3),
//! `units-random.png` (Figure 4), `photos.json` (the photos in the order the indices count
//! them), `layer<L>.safetensors` and `layer<L>.json` (as `blindspot units` writes them),
//! `units.csv`, `units-tests.csv` and `units.json`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use blindspot_data::write_atomic;
use blindspot_imagenet::{ALEXNET_LAYERS, PhotoSet, Preprocess, alexnet_layer, units_figure};
use blindspot_models::alexnet::load_torchvision;
use blindspot_report::figures::save_png;
use blindspot_units::{
    DirectionChoice, Directions, ImageSet, Reference, UnitsConfig, UnitsMeasurement, UnitsRun,
    layer_features, measure,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cmd::units::{DirectionsArg, write_job_files, write_tables};
use crate::common::CommonArgs;

/// Options of `blindspot imagenet units`.
#[derive(Args, Debug)]
pub struct ImagenetUnitsArgs {
    /// AlexNet's weights: a safetensors file with torchvision's names.
    #[arg(long)]
    pub weights: PathBuf,
    /// The image set: a folder of photos (JPEG or PNG), flat or with one sub-folder per class
    /// (the sub-folder is the label).
    #[arg(long)]
    pub images: PathBuf,
    /// The layer: conv1–conv5, fc6, fc7 (the last hidden layer, default) or its index 0–6.
    #[arg(long, default_value = "fc7")]
    pub layer: String,
    /// Which directions to rank photos by.
    #[arg(long, value_enum, default_value = "both")]
    pub directions: DirectionsArg,
    /// Photos per direction.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Units measured, evenly spaced over the layer (0: every unit; conv1 has 46,656).
    #[arg(long, default_value_t = 256)]
    pub max_units: usize,
    /// Random directions (default: as many as units measured).
    #[arg(long)]
    pub n_random: Option<usize>,
    /// Seed of the random directions (and, plus one, of the random-photo draws).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Draws of k random photos (the baseline).
    #[arg(long, default_value_t = 1_000)]
    pub draws: usize,
    /// Directions drawn in each figure.
    #[arg(long, default_value_t = 8)]
    pub rows: usize,
    /// Side of the thumbnails that give the default reference space.
    #[arg(long, default_value_t = 32)]
    pub thumbnail: u32,
    /// Another AlexNet (safetensors, torchvision's names) whose layer gives the reference
    /// space instead of the thumbnails; it must not be the network under study.
    #[arg(long)]
    pub reference_weights: Option<PathBuf>,
    /// The reference network's layer.
    #[arg(long, default_value = "fc7", requires = "reference_weights")]
    pub reference_layer: String,
    /// Photos per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Output directory; default `<out>/imagenet/<weights file stem>/units-<layer>`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// A spinner with the elapsed time for work that reports no progress of its own.
fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]")
            .expect("the template is valid"),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The file stem of a weights file, naming its results (`alexnet` if it has none).
pub(crate) fn stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map_or_else(|| "alexnet".into(), |s| s.to_string_lossy().into_owned())
}

impl ImagenetUnitsArgs {
    /// Reads the photos, measures the layer, writes the figures and files, prints the scores.
    pub fn run(self) -> anyhow::Result<()> {
        let start = Instant::now();
        let layer = alexnet_layer(&self.layer)?;
        let reference_layer = alexnet_layer(&self.reference_layer)?;
        if let Some(reference) = &self.reference_weights {
            anyhow::ensure!(
                std::fs::canonicalize(reference).ok() != std::fs::canonicalize(&self.weights).ok(),
                "the reference network must be another network than the one under study ({})",
                self.weights.display()
            );
        }
        let device = self.common.device()?;
        let (config, net) = load_torchvision(&self.weights, &device)
            .with_context(|| format!("loading AlexNet from {}", self.weights.display()))?;
        let side = config.input_side;
        let model = net.classifier(side)?;
        let preprocess = Preprocess {
            resize: 256,
            crop: side as u32,
        };
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("reading photos {bar:30} {pos}/{len} [{elapsed_precise}]")
                .expect("the template is valid"),
        );
        let set = PhotoSet::read(&self.images, &preprocess, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })?;
        bar.finish_and_clear();
        anyhow::ensure!(
            self.k >= 2 && self.k <= set.len(),
            "--k {} needs 2 to {} (the photos of {})",
            self.k,
            set.len(),
            self.images.display()
        );
        let pixels = set.pixels();
        let input_dim = 3 * side * side;

        let (features, dim, reference) = match &self.reference_weights {
            None => {
                let (features, dim) = set.thumbnails(self.thumbnail)?;
                let t = self.thumbnail;
                (
                    features,
                    dim,
                    format!("thumbnails 3×{t}×{t} (pixels, no network)"),
                )
            }
            Some(path) => {
                let (rc, rnet) = load_torchvision(path, &device).with_context(|| {
                    format!("loading the reference AlexNet from {}", path.display())
                })?;
                anyhow::ensure!(
                    rc.input_side == side,
                    "the reference AlexNet takes {0}×{0} images, the network under study {side}×{side}",
                    rc.input_side
                );
                let reference_model = rnet.classifier(side)?;
                let bar = spinner(format!(
                    "reference features: {} {} on {} photos",
                    stem(path),
                    ALEXNET_LAYERS[reference_layer],
                    set.len()
                ));
                let (features, dim) = layer_features(
                    &reference_model,
                    reference_layer,
                    &pixels,
                    input_dim,
                    self.batch_size,
                    &device,
                )?;
                bar.finish_and_clear();
                let name = format!(
                    "{} {} ({dim} units)",
                    stem(path),
                    ALEXNET_LAYERS[reference_layer]
                );
                (features, dim, name)
            }
        };

        let units_config = UnitsConfig {
            layer,
            k: self.k,
            directions: DirectionChoice::from(self.directions),
            max_units: (self.max_units > 0).then_some(self.max_units),
            n_random: self.n_random,
            image_draws: self.draws,
            seed: self.seed,
            batch_size: self.batch_size,
        };
        let image_set = ImageSet {
            images: &pixels,
            labels: set.labels.as_deref(),
            input_dim,
        };
        let layer_name = ALEXNET_LAYERS[layer];
        let bar = spinner(format!(
            "top-{} photos of {layer_name} on {} photos",
            self.k,
            set.len()
        ));
        let m = measure(
            &model,
            &image_set,
            &Reference::new(&features, dim)?,
            &units_config,
            &device,
        )
        .with_context(|| format!("measuring {layer_name}"))?;
        bar.finish_and_clear();

        let weights = stem(&self.weights);
        let dir = self.dir.clone().unwrap_or_else(|| {
            self.common
                .out
                .join("imagenet")
                .join(&weights)
                .join(format!("units-{layer_name}"))
        });
        let (figure_natural, figure_random) =
            self.write_figures(&m, &set, &dir, &weights, layer_name)?;
        let classes = if set.classes.is_empty() {
            "no labels".to_owned()
        } else {
            format!("{} classes from sub-folders", set.classes.len())
        };
        let result = m.to_result(UnitsRun {
            model: weights.clone(),
            layer,
            k: self.k,
            image_set: format!(
                "{} photos of {} ({classes})",
                set.len(),
                self.images.display()
            ),
            seed: self.seed,
            reference,
            figures: (figure_natural, figure_random),
            seconds: start.elapsed().as_secs_f64(),
        });
        write_job_files(&m, &result, &dir, self.common.backend.name())?;
        write_tables(&dir, "units", std::slice::from_ref(&result))?;
        let names: Vec<&str> = set.inputs.iter().map(|p| p.name()).collect();
        let photos = serde_json::json!({
            "images": self.images.display().to_string(),
            "photos": names,
            "labels": set.labels,
            "classes": set.classes,
        });
        let path = dir.join("photos.json");
        write_atomic(&path, &serde_json::to_vec_pretty(&photos)?)
            .with_context(|| format!("writing {}", path.display()))?;

        println!(
            "{weights} {layer_name} ({} units), k = {}, {}; reference: {}",
            result.width, result.k, result.image_set, result.reference
        );
        for score in &result.scores {
            println!("- {score}");
        }
        println!("- {}", result.ties());
        println!(
            "{} ({} units measured, {} degenerate; {} random directions; {:.1} s) -> {}",
            result.verdict(),
            result.natural_directions,
            result.degenerate_units,
            result.random_directions,
            result.seconds,
            dir.display()
        );
        Ok(())
    }

    /// Figure 3 (`units-natural.png`: the first `--rows` units that are not degenerate) and
    /// Figure 4 (`units-random.png`); returns their file names.
    fn write_figures(
        &self,
        m: &UnitsMeasurement,
        set: &PhotoSet,
        dir: &std::path::Path,
        weights: &str,
        layer: &str,
    ) -> anyhow::Result<(Option<String>, Option<String>)> {
        let mut names = [None, None];
        for (slot, entry) in [&m.natural, &m.random].into_iter().enumerate() {
            let Some((directions, top)) = entry else {
                continue;
            };
            let (kind, figure, labels): (&str, &str, Vec<String>) = match directions {
                Directions::Natural { units, .. } => (
                    "natural",
                    "Figure 3: units",
                    units.iter().map(|u| format!("unit {u}")).collect(),
                ),
                Directions::Random { .. } => (
                    "random",
                    "Figure 4: random directions",
                    (0..top.directions).map(|r| format!("random {r}")).collect(),
                ),
            };
            let rows: Vec<usize> = (0..top.directions)
                .filter(|&d| kind == "random" || !top.degenerate(d))
                .take(self.rows)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let title = format!(
                "{figure} of {weights} {layer}: the top-{} photos of each, best first",
                top.k
            );
            let raster = units_figure(top, &rows, &labels, set, &title)?;
            let name = format!("units-{kind}.png");
            let path = dir.join(&name);
            save_png(&raster, &path).with_context(|| format!("writing {}", path.display()))?;
            names[slot] = Some(name);
        }
        let [natural, random] = names;
        Ok((natural, random))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use blindspot_imagenet::Photo;

    use super::*;
    use crate::testing::common;

    fn weights() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../models/tests/fixtures/alexnet-narrow.safetensors")
    }

    /// Two class folders of `per_class` photos: one colour each, stripes of varying period.
    fn write_photos(dir: &Path, per_class: usize) {
        for (class, base) in [("dark", 40u8), ("light", 210u8)] {
            for i in 0..per_class {
                let (w, h) = (260 + 7 * i as u32, 240);
                let rgb: Vec<u8> = (0..w * h * 3)
                    .map(|p| {
                        let x = (p / 3) % w;
                        base.saturating_add((x % (4 + i as u32) * 9) as u8)
                    })
                    .collect();
                Photo::new(format!("{i}"), w, h, rgb)
                    .unwrap()
                    .write_png(&dir.join(class).join(format!("{i}.png")))
                    .unwrap();
            }
        }
    }

    fn args(out: &Path, images: &Path) -> ImagenetUnitsArgs {
        ImagenetUnitsArgs {
            weights: weights(),
            images: images.to_owned(),
            layer: "fc7".into(),
            directions: DirectionsArg::Both,
            k: 3,
            max_units: 0,
            n_random: None,
            seed: 0,
            draws: 50,
            rows: 4,
            thumbnail: 16,
            reference_weights: None,
            reference_layer: "fc7".into(),
            batch_size: 4,
            dir: None,
            common: common(out),
        }
    }

    #[test]
    fn figures_3_and_4_and_the_scores_are_written_for_a_labelled_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let images = tmp.path().join("photos");
        write_photos(&images, 4);
        args(tmp.path(), &images).run().unwrap();
        let dir = tmp.path().join("imagenet/alexnet-narrow/units-fc7");
        for file in [
            "units-natural.png",
            "units-random.png",
            "layer6.safetensors",
            "layer6.json",
            "units.csv",
            "units-tests.csv",
            "photos.json",
        ] {
            assert!(dir.join(file).is_file(), "{file}");
        }
        let read = |file: &str| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap()
        };
        let photos = read("photos.json");
        assert_eq!(photos["photos"][0], "dark/0");
        assert_eq!(photos["photos"][7], "light/3");
        assert_eq!(photos["labels"][7], 1);
        let result = read("layer6.json");
        let scores: Vec<&str> = result["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["score"].as_str().unwrap())
            .collect();
        assert_eq!(scores, ["label_share", "reference_distance"]);
        assert_eq!(result["width"], 64);
        assert!(
            result["reference"]
                .as_str()
                .unwrap()
                .starts_with("thumbnails")
        );
    }

    #[test]
    fn the_reference_is_another_network_and_k_fits_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let images = tmp.path().join("photos");
        write_photos(&images, 2);
        let mut same = args(tmp.path(), &images);
        same.reference_weights = Some(weights());
        let err = format!("{:#}", same.run().unwrap_err());
        assert!(err.contains("another network"), "{err}");

        let mut large = args(tmp.path(), &images);
        large.k = 5;
        let err = format!("{:#}", large.run().unwrap_err());
        assert!(err.contains("--k 5 needs 2 to 4"), "{err}");

        let mut layer = args(tmp.path(), &images);
        layer.layer = "fc8".into();
        let err = format!("{:#}", layer.run().unwrap_err());
        assert!(err.contains("unknown AlexNet layer `fc8`"), "{err}");

        // Another file (here a copy: what is checked is that its layer is read) on conv5.
        let other = tmp.path().join("other.safetensors");
        std::fs::copy(weights(), &other).unwrap();
        let mut with_reference = args(tmp.path(), &images);
        with_reference.reference_weights = Some(other);
        with_reference.layer = "conv5".into();
        with_reference.max_units = 20;
        with_reference.run().unwrap();
        let json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                tmp.path()
                    .join("imagenet/alexnet-narrow/units-conv5/layer4.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(json["reference"], "other fc7 (64 units)");
        assert_eq!(json["natural_directions"], 20);
    }
}
