//! `blindspot units`: section 3, Figures 1–2 — the test images that maximize a unit beside
//! those that maximize a random direction, and a measurement of whether the two can be told
//! apart.
//!
//! For a saved model and one of its hidden layers, the top-k test images of every unit (or an
//! evenly spaced subset) and of as many seeded random unit directions are scored by label share
//! and by mean pairwise distance in the last hidden layer of an independently trained
//! reference model (default: `n100-100-10-p2` for the conv net, `conv` for every other model,
//! so that reference and model never share an architecture or an initialization), beside
//! draws of k random images. Files:
//!
//! Units are ranked by their pre-activations (which order like the activations and do not tie
//! where float32 rounds a saturated sigmoid to 1.0), random directions by `⟨φ(x), v⟩`; ties
//! left at the k-th place go to the lowest test-image index and are counted (see
//! `blindspot_units::rank`).
//!
//! - `<out>/units/<model>/layer<L>.safetensors`: `natural_units [U]`, `natural_indices`,
//!   `natural_values` (activations), `natural_keys [U, k]` (ranking scores),
//!   `natural_degenerate`, `natural_ties`, `natural_activation_ties`, `natural_label_share`,
//!   `natural_reference_distance [U]`, `random_directions [R, width]`, `random_indices`,
//!   `random_values [R, k]`, `random_ties`, `random_label_share`,
//!   `random_reference_distance [R]`, `images_draws [D, k]`, `images_label_share`,
//!   `images_reference_distance [D]` (all F32; image indices into the test set; ties: images
//!   outside the top-k tied with its k-th ranking score, resp. activation; NaN scores for
//!   degenerate units); the metadata names the units' ranking;
//!   `<out>/units/<model>/layer<L>.json`: the summary ([`UnitsResult`]).
//! - `<out>/tables/units-<model>-layer<L>{,-tests}.{csv,json}`, and for the `reproduce` stage
//!   `<out>/tables/units{,-tests}.csv` and `units.json` over all models and layers.
//! - `<out>/report/figures/<model>-units-{natural,random}.png` for the last hidden layer,
//!   `<model>-layer<L>-units-{natural,random}.png` for the others.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use blindspot_data::{Dataset, Mnist, Split, write_atomic};
use blindspot_models::Scale;
use blindspot_models::checkpoint::{self, NamedTensor, encode_safetensors};
use blindspot_report::figures::{ImageFormat, image_rows, save_png};
use blindspot_report::provenance::Source;
use blindspot_report::render_units_section;
use blindspot_report::units::UnitsResult;
use blindspot_units::{
    DirectionChoice, Directions, ImageSet, Reference, UnitsConfig, UnitsMeasurement, UnitsRun,
    layer_features, layer_width, measure,
};
use burn::tensor::Device;
use clap::{Args, ValueEnum};

use crate::common::{CommonArgs, ModelArgs};

/// `--directions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionsArg {
    /// Units only (e_i).
    Natural,
    /// Random unit directions only.
    Random,
    /// Both, and the test between them.
    Both,
}

impl From<DirectionsArg> for DirectionChoice {
    fn from(d: DirectionsArg) -> Self {
        match d {
            DirectionsArg::Natural => DirectionChoice::Natural,
            DirectionsArg::Random => DirectionChoice::Random,
            DirectionsArg::Both => DirectionChoice::Both,
        }
    }
}

/// Options of `blindspot units`.
#[derive(Args, Debug)]
pub struct UnitsArgs {
    /// Run id under `<out>/models/` (e.g. `conv`, `n100-100-10`).
    #[arg(
        long,
        conflicts_with_all = ["model_file", "all"],
        required_unless_present_any = ["model_file", "all"]
    )]
    pub model: Option<String>,
    /// A model directory (holding model.safetensors and model.json).
    #[arg(long, alias = "model-dir", conflicts_with = "all")]
    pub model_file: Option<PathBuf>,
    /// Run the `reproduce` stage's plan instead of one model: conv layers 1 and 0 (512 units),
    /// n100-100-10 layers 1 and 0, writing `<out>/tables/units.{csv,json}` too. `--k`,
    /// `--n-random`, `--seed`, `--draws`, `--images`, `--rows`, `--batch-size` and
    /// `--directions` still apply.
    #[arg(long)]
    pub all: bool,
    /// Hidden layer, 0 = input side (conv: 0 pooled maps, 1 the fully connected layer);
    /// default: the last hidden layer.
    #[arg(long)]
    pub layer: Option<usize>,
    /// Which directions to rank images by.
    #[arg(long, value_enum, default_value = "both")]
    pub directions: DirectionsArg,
    /// Images per direction.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Random directions (default: as many as units measured).
    #[arg(long)]
    pub n_random: Option<usize>,
    /// Measure at most this many units, evenly spaced (default: every unit).
    #[arg(long)]
    pub max_units: Option<usize>,
    /// Seed of the random directions (and, plus one, of the random-image draws).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run id of the independent model whose last hidden layer gives the distance score
    /// (default: `n100-100-10-p2` for `conv`, else `conv`).
    #[arg(long)]
    pub reference_model: Option<String>,
    /// Draws of k random images (the baseline).
    #[arg(long, default_value_t = 1_000)]
    pub draws: usize,
    /// Use the first N test images (default: all 10,000).
    #[arg(long)]
    pub images: Option<usize>,
    /// Directions drawn in each figure.
    #[arg(long, default_value_t = 8)]
    pub rows: usize,
    /// Images per forward pass.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl UnitsArgs {
    /// Measures one model and layer, writes its files and prints the Markdown section.
    pub fn run(self) -> anyhow::Result<()> {
        let mut plan = UnitsPlan::for_scale(Scale::Default, self.seed, &self.common);
        if !self.all {
            let which = ModelArgs {
                model: self.model.clone(),
                model_file: self.model_file.clone(),
                weights: None,
                architecture: None,
            };
            plan.jobs = vec![UnitsJob {
                model_dir: which.dir(&self.common)?,
                layer: self.layer,
                max_units: self.max_units,
                reference: self.reference_model.clone(),
            }];
        } else if self.reference_model.is_some() {
            for job in &mut plan.jobs {
                job.reference = self.reference_model.clone();
            }
        }
        let plan = UnitsPlan {
            k: self.k,
            directions: self.directions.into(),
            n_random: self.n_random,
            image_draws: self.draws,
            images: self.images,
            seed: self.seed,
            rows: self.rows,
            batch_size: self.batch_size,
            ..plan
        };
        if !self.all {
            // Fail on a wrong model before reading (or fetching) MNIST.
            let dir = &plan.jobs[0].model_dir;
            checkpoint::load_meta(dir).with_context(|| format!("reading {}", dir.display()))?;
        }
        let mnist = self.common.mnist()?;
        if self.all {
            let results = units_stage(&plan, &mnist, &self.common)?;
            println!("{}", render_units_section(&results));
            return Ok(());
        }
        let test = test_images(&mnist, plan.images)?;
        let device = self.common.device()?;
        let mut references = HashMap::new();
        let result = run_job(
            &plan.jobs[0],
            &plan,
            &test,
            &self.common,
            &device,
            &mut references,
        )?;
        let mut files = write_tables(
            &self.common.out.join("tables"),
            &format!("units-{}-layer{}", result.model, result.layer),
            std::slice::from_ref(&result),
        )?;
        files.extend(job_files(&self.common.out, std::slice::from_ref(&result)));
        self.common
            .record(&files, &units_sources(&plan, &self.common)?)?;
        println!("{}", render_units_section(&[result]));
        Ok(())
    }
}

/// One model and layer to measure.
#[derive(Debug, Clone)]
pub struct UnitsJob {
    /// The model directory.
    pub model_dir: PathBuf,
    /// Hidden layer; `None`: the last.
    pub layer: Option<usize>,
    /// At most this many units, evenly spaced; `None`: all.
    pub max_units: Option<usize>,
    /// Reference run id; `None`: [`default_reference`].
    pub reference: Option<String>,
}

/// What the units stage measures.
#[derive(Debug, Clone)]
pub struct UnitsPlan {
    /// Models and layers.
    pub jobs: Vec<UnitsJob>,
    /// Images per top-k set.
    pub k: usize,
    /// Which directions.
    pub directions: DirectionChoice,
    /// Random directions per job (`None`: as many as units).
    pub n_random: Option<usize>,
    /// Draws of k random images.
    pub image_draws: usize,
    /// First N test images (`None`: all).
    pub images: Option<usize>,
    /// Seed of directions and draws.
    pub seed: u64,
    /// Directions drawn per figure.
    pub rows: usize,
    /// Images per forward pass.
    pub batch_size: usize,
}

impl UnitsPlan {
    /// The `reproduce` plan: the conv net's fully connected layer (Figures 1–2) and its pooled
    /// convolution maps (512 evenly spaced of 4,608 units), and both sigmoid layers of
    /// n100-100-10; k = 10, as many random directions as units, 1,000 random-image draws, on
    /// the whole test set (the first 1,000 test images and 200 draws at smoke scale).
    pub fn for_scale(scale: Scale, seed: u64, common: &CommonArgs) -> Self {
        let job = |id: &str, layer: usize, max_units: Option<usize>| UnitsJob {
            model_dir: common.model_dir(id),
            layer: Some(layer),
            max_units,
            reference: None,
        };
        let smoke = scale == Scale::Smoke;
        Self {
            jobs: vec![
                job("conv", 1, None),
                job("conv", 0, Some(512)),
                job("n100-100-10", 1, None),
                job("n100-100-10", 0, None),
            ],
            k: 10,
            directions: DirectionChoice::Both,
            n_random: None,
            image_draws: if smoke { 200 } else { 1_000 },
            images: smoke.then_some(1_000),
            seed,
            rows: 8,
            batch_size: 500,
        }
    }
}

/// The reference model of a model: `n100-100-10-p2` for the conv net (another architecture,
/// trained on the other half P2), `conv` for the fully connected models (another
/// architecture; `n100-100-10-p2` would share n100-100-10's initialization seed and layout).
pub fn default_reference(catalogue_model: &str) -> &'static str {
    if catalogue_model == "conv" {
        "n100-100-10-p2"
    } else {
        "conv"
    }
}

fn test_images(mnist: &Mnist, n: Option<usize>) -> anyhow::Result<Dataset> {
    let test = mnist.split(Split::Test);
    let n = n.unwrap_or(test.len()).min(test.len());
    Ok(test.head(n, Split::Test)?)
}

/// Runs every job of the plan on the test set, writes each job's files and the combined
/// `<out>/tables/units{,-tests}.csv` and `units.json`, and returns the results for the report
/// ([`render_units_section`]).
pub fn units_stage(
    plan: &UnitsPlan,
    mnist: &Mnist,
    common: &CommonArgs,
) -> anyhow::Result<Vec<UnitsResult>> {
    let test = test_images(mnist, plan.images)?;
    let device = common.device()?;
    let mut references = HashMap::new();
    let mut results = Vec::new();
    for job in &plan.jobs {
        results.push(run_job(job, plan, &test, common, &device, &mut references)?);
    }
    let mut files = write_tables(&common.out.join("tables"), "units", &results)?;
    files.extend(job_files(&common.out, &results));
    common.record(&files, &units_sources(plan, common)?)?;
    Ok(results)
}

/// The files each result's job wrote: its tensors, its JSON and its figures.
fn job_files(out: &Path, results: &[UnitsResult]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for r in results {
        let dir = out.join("units").join(&r.model);
        files.push(dir.join(format!("layer{}.safetensors", r.layer)));
        files.push(dir.join(format!("layer{}.json", r.layer)));
        for link in [&r.figure_natural, &r.figure_random].into_iter().flatten() {
            files.push(out.join("report").join(link));
        }
    }
    files
}

/// The checkpoints the plan's jobs read: each job's model and its reference model.
fn units_sources(plan: &UnitsPlan, common: &CommonArgs) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for job in &plan.jobs {
        sources.push(common.checkpoint_source(&job.model_dir)?);
        let meta = checkpoint::load_meta(&job.model_dir)?;
        let reference = job
            .reference
            .clone()
            .unwrap_or_else(|| default_reference(&meta.model).to_owned());
        sources.push(common.model_source(&reference)?);
    }
    Ok(sources)
}

/// Features of the reference models already computed, by run id.
type References = HashMap<String, (Vec<f32>, usize, String)>;

fn reference_features(
    id: &str,
    test: &Dataset,
    common: &CommonArgs,
    device: &Device,
    batch_size: usize,
    cache: &mut References,
) -> anyhow::Result<(Vec<f32>, usize, String)> {
    if let Some(hit) = cache.get(id) {
        return Ok(hit.clone());
    }
    let dir = common.model_dir(id);
    let (model, _) = checkpoint::load(&dir, device).with_context(|| {
        format!(
            "loading the reference model {} (train it first: `blindspot train --model {id}`)",
            dir.display()
        )
    })?;
    let (layers, _) = layer_width(&model, 0, test.shape.len(), device)?;
    anyhow::ensure!(layers > 0, "the reference model {id} has no hidden layer");
    let layer = layers - 1;
    let (features, dim) = layer_features(
        &model,
        layer,
        &test.images,
        test.shape.len(),
        batch_size,
        device,
    )?;
    let entry = (features, dim, format!("{id} layer {layer} ({dim} units)"));
    cache.insert(id.to_owned(), entry.clone());
    Ok(entry)
}

fn run_job(
    job: &UnitsJob,
    plan: &UnitsPlan,
    test: &Dataset,
    common: &CommonArgs,
    device: &Device,
    references: &mut References,
) -> anyhow::Result<UnitsResult> {
    let start = Instant::now();
    let dir = &job.model_dir;
    let (model, meta) =
        checkpoint::load(dir, device).with_context(|| format!("loading {}", dir.display()))?;
    let (layers, _) = layer_width(&model, 0, test.shape.len(), device)
        .with_context(|| format!("{} has no hidden layer to look at", meta.name))?;
    let layer = job.layer.unwrap_or(layers - 1);
    let reference_id = job
        .reference
        .clone()
        .unwrap_or_else(|| default_reference(&meta.model).to_owned());
    anyhow::ensure!(
        reference_id != meta.name,
        "the reference model must be another model than {}",
        meta.name
    );
    let (features, dim, reference) = reference_features(
        &reference_id,
        test,
        common,
        device,
        plan.batch_size,
        references,
    )?;
    let config = UnitsConfig {
        layer,
        k: plan.k,
        directions: plan.directions,
        max_units: job.max_units,
        n_random: plan.n_random,
        image_draws: plan.image_draws,
        seed: plan.seed,
        batch_size: plan.batch_size,
    };
    let set = ImageSet::from(test);
    eprintln!(
        "units: {} layer {layer}, k = {}, on {} test images, reference {reference}",
        meta.name,
        plan.k,
        test.len()
    );
    let m = measure(
        &model,
        &set,
        &Reference {
            features: &features,
            dim,
        },
        &config,
        device,
    )
    .with_context(|| format!("measuring {} layer {layer}", meta.name))?;
    let (figure_natural, figure_random) =
        write_figures(&m, &meta.name, layer, plan.rows, test, &common.out)?;
    let result = m.to_result(UnitsRun {
        model: meta.name.clone(),
        layer,
        k: plan.k,
        image_set: format!("first {} test images", test.len()),
        seed: plan.seed,
        reference,
        figures: (figure_natural, figure_random),
        seconds: start.elapsed().as_secs_f64(),
    });
    write_job_files(
        &m,
        &result,
        &common.out.join("units").join(&result.model),
        common.backend.name(),
    )?;
    eprintln!(
        "units: {} layer {layer}: {}; {} ({:.1} s)",
        meta.name,
        result.ties(),
        result.verdict(),
        result.seconds
    );
    Ok(result)
}

/// Figures 1–2: `rows` units (the first non-degenerate ones) and `rows` random directions,
/// each row its top-k images best first. Returns the links relative to the report.
fn write_figures(
    m: &UnitsMeasurement,
    model: &str,
    layer: usize,
    rows: usize,
    test: &Dataset,
    out: &Path,
) -> anyhow::Result<(Option<String>, Option<String>)> {
    let stem = if layer + 1 == m.layers {
        format!("{model}-units")
    } else {
        format!("{model}-layer{layer}-units")
    };
    let image = |i: usize| test.image(i).to_vec();
    let shape = test.shape.dims();
    let mut links = [None, None];
    for (slot, (kind, entry)) in [("natural", &m.natural), ("random", &m.random)]
        .into_iter()
        .enumerate()
    {
        let Some((_, top)) = entry else { continue };
        let grid: Vec<Vec<Vec<f32>>> = (0..top.directions)
            .filter(|&d| kind == "random" || !top.degenerate(d))
            .take(rows)
            .map(|d| top.row(d).iter().map(|&i| image(i)).collect())
            .collect();
        let name = format!("{stem}-{kind}.png");
        let path = out.join("report").join("figures").join(&name);
        save_png(&image_rows(&grid, ImageFormat::unit(shape), 2)?, &path)
            .with_context(|| format!("writing {}", path.display()))?;
        links[slot] = Some(format!("figures/{name}"));
    }
    let [natural, random] = links;
    Ok((natural, random))
}

fn tensor(shape: Vec<usize>, values: Vec<f32>) -> NamedTensor {
    NamedTensor { shape, values }
}

/// `<dir>/layer<L>.{safetensors,json}`: the measurement's tensors (image indices into the
/// image set) and the result (`<out>/units/<model>/` for `blindspot units`).
pub(crate) fn write_job_files(
    m: &UnitsMeasurement,
    result: &UnitsResult,
    dir: &Path,
    backend: &str,
) -> anyhow::Result<()> {
    let k = result.k;
    let mut t = BTreeMap::new();
    let as_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    for group in &m.scores {
        if !group.label_share.is_empty() {
            t.insert(
                format!("{}_label_share", group.group),
                tensor(vec![group.label_share.len()], as_f32(&group.label_share)),
            );
        }
        t.insert(
            format!("{}_reference_distance", group.group),
            tensor(
                vec![group.reference_distance.len()],
                as_f32(&group.reference_distance),
            ),
        );
    }
    for (kind, entry) in [("natural", &m.natural), ("random", &m.random)] {
        let Some((dirs, top)) = entry else { continue };
        let d = top.directions;
        let indices = top.indices.iter().map(|&i| i as f32).collect();
        t.insert(format!("{kind}_indices"), tensor(vec![d, k], indices));
        t.insert(
            format!("{kind}_values"),
            tensor(vec![d, k], top.values.clone()),
        );
        let counts = |c: &[usize]| c.iter().map(|&n| n as f32).collect::<Vec<f32>>();
        t.insert(format!("{kind}_ties"), tensor(vec![d], counts(&top.ties)));
        match dirs {
            Directions::Natural { units, .. } => {
                let units = units.iter().map(|&u| u as f32).collect();
                t.insert("natural_units".into(), tensor(vec![d], units));
                let degenerate = (0..d).map(|j| f32::from(u8::from(top.degenerate(j))));
                t.insert(
                    "natural_degenerate".into(),
                    tensor(vec![d], degenerate.collect()),
                );
                t.insert("natural_keys".into(), tensor(vec![d, k], top.keys.clone()));
                t.insert(
                    "natural_activation_ties".into(),
                    tensor(vec![d], counts(&top.activation_ties)),
                );
            }
            Directions::Random { width, vectors, .. } => {
                t.insert(
                    "random_directions".into(),
                    tensor(vec![d, *width], vectors.clone()),
                );
            }
        }
    }
    if !m.draws.is_empty() {
        let draws = m.draws.iter().flatten().map(|&i| i as f32).collect();
        t.insert("images_draws".into(), tensor(vec![m.draws.len(), k], draws));
    }
    let metadata = HashMap::from([
        ("model".to_string(), result.model.clone()),
        ("layer".to_string(), result.layer.to_string()),
        ("k".to_string(), k.to_string()),
        ("seed".to_string(), result.seed.to_string()),
        ("image_set".to_string(), result.image_set.clone()),
        ("reference".to_string(), result.reference.clone()),
        ("backend".to_string(), backend.to_string()),
        ("unit_ranking".to_string(), result.unit_ranking.clone()),
    ]);
    let path = dir.join(format!("layer{}.safetensors", result.layer));
    let bytes = encode_safetensors(&t, metadata)?;
    write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join(format!("layer{}.json", result.layer));
    write_atomic(&path, &serde_json::to_vec_pretty(result)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `<tables>/<name>.csv` (one line per model, layer, score and group), `<name>-tests.csv`
/// (one line per comparison) and `<name>.json` (the results).
pub(crate) fn write_tables(
    tables: &Path,
    name: &str,
    results: &[UnitsResult],
) -> anyhow::Result<Vec<PathBuf>> {
    let write = |file: String, bytes: &[u8]| -> anyhow::Result<PathBuf> {
        let path = tables.join(file);
        write_atomic(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let mut groups = String::from("model,layer,width,k,score,group,n,mean,std,ci_low,ci_high\n");
    let mut tests = String::from(
        "model,layer,width,k,score,a,b,difference,welch_t,welch_df,welch_p,mann_whitney_u,mann_whitney_p,cohens_d,auc,distinguishable\n",
    );
    for r in results {
        for s in &r.scores {
            for g in &s.groups {
                groups += &format!(
                    "{},{},{},{},{},{},{},{},{},{},{}\n",
                    r.model,
                    r.layer,
                    r.width,
                    r.k,
                    s.score,
                    g.group,
                    g.n,
                    g.mean,
                    g.std,
                    g.ci_low,
                    g.ci_high
                );
            }
            for t in &s.tests {
                tests += &format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    r.model,
                    r.layer,
                    r.width,
                    r.k,
                    s.score,
                    t.a,
                    t.b,
                    t.difference,
                    t.welch_t,
                    t.welch_df,
                    t.welch_p,
                    t.mann_whitney_u,
                    t.mann_whitney_p,
                    t.cohens_d,
                    t.auc,
                    t.distinguishable()
                );
            }
        }
    }
    Ok(vec![
        write(format!("{name}.csv"), groups.as_bytes())?,
        write(format!("{name}-tests.csv"), tests.as_bytes())?,
        write(format!("{name}.json"), &serde_json::to_vec_pretty(results)?)?,
    ])
}
