//! `blindspot robustness`: accuracy under attack against ε for saved models, from minimum-norm
//! attacks (one run each gives the whole curve) and ε-bounded ones (one run per ε), per attack
//! and for the best of all. Writes `<out>/robustness/<model>-<norm>.{json,csv}` and the curve
//! `<out>/report/figures/robustness-<model>-<norm>.png`; every attack's examples are kept (and
//! reused) under `<out>/attacks/<model>/`.

use std::path::PathBuf;

use anyhow::Context;
use blindspot_attack::any::Kind;
use blindspot_attack::files;
use blindspot_attack::robustness::{Broken, Evidence, adversarial_distances};
use blindspot_attack::{AnyAttack, Goal, Norm};
use blindspot_data::{Dataset, Mnist, Split, write_atomic};
use blindspot_models::Scale;
use blindspot_models::checkpoint::NamedTensor;
use blindspot_plot::{Series, SeriesStyle, line_chart};
use blindspot_report::figures::save_png;
use blindspot_report::provenance::Source;
use blindspot_report::robustness::{Curve, RobustnessRow, RobustnessTable};
use clap::Args;

use crate::cmd::attack::up_to_date_or_attack;
use crate::common::CommonArgs;

/// Points of a minimum-norm attack's curve in the figure.
const CURVE_POINTS: usize = 31;

/// Options of `blindspot robustness`.
#[derive(Args, Debug)]
pub struct RobustnessArgs {
    /// Run ids under `<out>/models/` (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub model: Vec<String>,
    /// `l2` or `linf` (comma-separated for both).
    #[arg(long, value_delimiter = ',', default_value = "l2")]
    pub norm: Vec<Norm>,
    /// Attacks (comma-separated) among `lbfgs`, `deepfool`, `ddn`, `fmn`, `cw` (minimum-norm)
    /// and `pgd`, `fgsm` (one run per ε); default per norm: L2 `deepfool,ddn,fmn,pgd`, L∞
    /// `deepfool,fmn,fgsm,pgd`.
    #[arg(long, value_delimiter = ',')]
    pub attacks: Option<Vec<String>>,
    /// The ε of the table (comma-separated, ≥ 0); default per norm: L2
    /// `0,0.5,1,1.5,2,2.5,3`, L∞ `0,0.05,0.1,0.15,0.2,0.25,0.3`.
    #[arg(long, value_delimiter = ',')]
    pub epsilons: Option<Vec<f64>>,
    /// Test images: the first `n`.
    #[arg(long, default_value_t = 1_000)]
    pub n: usize,
    /// Seed of PGD's random starts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl RobustnessArgs {
    /// Runs the attacks and writes the tables and figures.
    pub fn run(self) -> anyhow::Result<()> {
        self.common.device()?;
        let plan = RobustnessPlan {
            models: self.model.clone(),
            norms: self
                .norm
                .iter()
                .map(|&norm| {
                    NormPlan::new(norm, self.attacks.clone(), self.epsilons.clone(), self.seed)
                })
                .collect::<anyhow::Result<_>>()?,
            images: self.n,
            conv_images: None,
        };
        let mnist = self.common.mnist()?;
        for table in robustness_stage(&plan, &mnist, &self.common)? {
            println!("{}", table.render(None));
        }
        Ok(())
    }
}

/// What the robustness stage measures.
#[derive(Debug, Clone)]
pub struct RobustnessPlan {
    /// Run ids under `<out>/models/`.
    pub models: Vec<String>,
    /// One table per model and norm.
    pub norms: Vec<NormPlan>,
    /// Test images attacked.
    pub images: usize,
    /// Test images attacked on the conv net (its attacks cost some 50 times an MLP's per
    /// image); `None`: [`Self::images`].
    pub conv_images: Option<usize>,
}

impl RobustnessPlan {
    /// The plan of a `reproduce` scale: softmax1, n100-100-10 and the conv net under the
    /// default attacks and ε of both norms, on 20 (smoke), 1,000 (default) or 10,000 (paper)
    /// test images; at default scale the conv net on 300 (its 1,000 took 5 minutes on 2
    /// cores).
    pub fn for_scale(scale: Scale, seed: u64) -> anyhow::Result<Self> {
        Ok(Self {
            models: ["softmax1", "n100-100-10", "conv"]
                .map(String::from)
                .to_vec(),
            norms: [Norm::L2, Norm::Linf]
                .into_iter()
                .map(|norm| NormPlan::new(norm, None, None, seed))
                .collect::<anyhow::Result<_>>()?,
            images: match scale {
                Scale::Smoke => 20,
                Scale::Default => 1_000,
                Scale::Paper => 10_000,
            },
            conv_images: (scale == Scale::Default).then_some(300),
        })
    }
}

/// The attacks and ε of one norm.
#[derive(Debug, Clone)]
pub struct NormPlan {
    /// The norm.
    pub norm: Norm,
    /// The attacks, with their settings for this norm (ε-bounded ones are run once per ε > 0
    /// of the table).
    pub attacks: Vec<AnyAttack>,
    /// The table's ε.
    pub epsilons: Vec<f64>,
}

impl NormPlan {
    /// The plan of `norm`: `attacks` by name (default: see [`RobustnessArgs::attacks`]) with
    /// untargeted goals and `seed`, at `epsilons` (default: see [`RobustnessArgs::epsilons`]).
    pub fn new(
        norm: Norm,
        attacks: Option<Vec<String>>,
        epsilons: Option<Vec<f64>>,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let names = attacks.unwrap_or_else(|| {
            let names: &[&str] = match norm {
                Norm::L2 => &["deepfool", "ddn", "fmn", "pgd"],
                Norm::Linf => &["deepfool", "fmn", "fgsm", "pgd"],
            };
            names.iter().map(|s| s.to_string()).collect()
        });
        let epsilons = epsilons.unwrap_or_else(|| match norm {
            Norm::L2 => vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0],
            Norm::Linf => vec![0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3],
        });
        anyhow::ensure!(
            epsilons.iter().any(|&e| e > 0.0)
                && epsilons.iter().all(|e| e.is_finite() && *e >= 0.0)
                && epsilons.windows(2).all(|w| w[0] < w[1]),
            "--epsilons must be finite, non-negative, increasing and not all 0, got {epsilons:?}"
        );
        anyhow::ensure!(!names.is_empty(), "no attack given");
        let attacks = names
            .iter()
            .map(|name| attack_for(name, norm, seed))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            norm,
            attacks,
            epsilons,
        })
    }
}

/// The attack `name` for robust accuracy in `norm`: untargeted, minimizing (or bounded in)
/// that norm; an attack that cannot work in it is an error.
fn attack_for(name: &str, norm: Norm, seed: u64) -> anyhow::Result<AnyAttack> {
    let mut attack = AnyAttack::default_of(name, Goal::Untargeted).with_context(|| {
        format!(
            "unknown attack `{name}` (one of {})",
            blindspot_attack::any::NAMES.join(", ")
        )
    })?;
    match &mut attack {
        AnyAttack::Lbfgs(c) => c.seed = seed,
        AnyAttack::Pgd(c) => (c.seed, c.norm) = (seed, norm),
        AnyAttack::DeepFool(c) => c.norm = norm,
        AnyAttack::Fmn(c) => c.norm = norm,
        AnyAttack::Fgsm(_) | AnyAttack::Ddn(_) | AnyAttack::Cw(_) => {}
    }
    let attack_norm = match attack.kind() {
        Kind::MinimumNorm(n) => n,
        Kind::Bounded { norm, .. } => norm,
    };
    anyhow::ensure!(
        attack_norm == norm,
        "{} works in {attack_norm} only, not {norm}",
        attack.label()
    );
    Ok(attack)
}

/// An ε-bounded attack at `epsilon`: PGD with the step `2.5·ε/steps` (Madry et al.'s rule:
/// the steps can cross the ball 2.5 times).
fn at_epsilon(attack: &AnyAttack, epsilon: f32) -> AnyAttack {
    let mut attack = attack.clone();
    match &mut attack {
        AnyAttack::Pgd(c) => {
            c.epsilon = epsilon;
            c.step_size = 2.5 * epsilon / c.steps as f32;
        }
        AnyAttack::Fgsm(c) => c.epsilon = epsilon,
        _ => {}
    }
    attack
}

fn flags(t: &NamedTensor) -> Vec<bool> {
    t.values.iter().map(|&v| v != 0.0).collect()
}

fn tensor<'a>(
    tensors: &'a std::collections::HashMap<String, NamedTensor>,
    name: &str,
    dir: &std::path::Path,
) -> anyhow::Result<&'a NamedTensor> {
    tensors
        .get(name)
        .with_context(|| format!("no tensor `{name}` in {}", dir.display()))
}

/// One attack's examples, per image.
struct Run {
    /// The goal was reached (by a perturbation, or already by the clean image).
    success: Vec<bool>,
    /// The clean image was already misclassified.
    at_goal: Vec<bool>,
    /// The distance in the norm: 0 at the goal already, +∞ where the attack failed.
    distances: Vec<f32>,
    /// The attack's seconds when it ran.
    seconds: f64,
}

/// Runs (or reuses) `attack` on `model` and reads its examples back.
fn run_attack(
    model: &str,
    images: &Dataset,
    attack: &AnyAttack,
    norm: Norm,
    common: &CommonArgs,
    sources: &mut Vec<Source>,
) -> anyhow::Result<Run> {
    let (summary, dir, _) = up_to_date_or_attack(model, images, Split::Test, attack, common)
        .with_context(|| format!("{} on {model}", attack.label()))?;
    sources.push(common.attack_source(&dir)?);
    let (_, tensors) = files::load(&dir).with_context(|| format!("reading {}", dir.display()))?;
    let success = flags(tensor(&tensors, "success", &dir)?);
    let at_goal = flags(tensor(&tensors, "at_goal", &dir)?);
    let distances = adversarial_distances(
        &tensor(&tensors, "x", &dir)?.values,
        &tensor(&tensors, "x_adv", &dir)?.values,
        &success,
        &at_goal,
        norm,
    )
    .with_context(|| format!("the examples in {}", dir.display()))?;
    Ok(Run {
        success,
        at_goal,
        distances,
        seconds: summary.seconds,
    })
}

/// The median of the finite, positive distances (NaN without any).
fn median_broken(distances: &[f32]) -> f64 {
    let found: Vec<f32> = distances
        .iter()
        .copied()
        .filter(|d| d.is_finite() && *d > 0.0)
        .collect();
    files::median(&found)
}

/// Measures every model of the plan in every norm: runs the attacks that are not up to date,
/// writes each table's JSON and CSV under `<out>/robustness/` and its figure under
/// `<out>/report/figures/`, records them in the provenance manifest, and returns the tables.
pub fn robustness_stage(
    plan: &RobustnessPlan,
    mnist: &Mnist,
    common: &CommonArgs,
) -> anyhow::Result<Vec<RobustnessTable>> {
    let test = mnist.split(Split::Test);
    let mut tables = Vec::new();
    for model in &plan.models {
        let n = match plan.conv_images {
            Some(n) if model == "conv" => n,
            _ => plan.images,
        };
        let images = test.head(n.min(test.len()), Split::Test)?;
        for norm_plan in &plan.norms {
            let table = measure(model, norm_plan, &images, common)?;
            tables.push(table);
        }
    }
    Ok(tables)
}

fn measure(
    model: &str,
    plan: &NormPlan,
    images: &Dataset,
    common: &CommonArgs,
) -> anyhow::Result<RobustnessTable> {
    let norm = plan.norm;
    let mut sources = vec![common.model_source(model)?];
    let epsilons: Vec<f32> = plan.epsilons.iter().map(|&e| e as f32).collect();
    let mut rows = Vec::new();
    let mut evidence = Vec::new();
    for attack in &plan.attacks {
        let (found, median_distance, seconds) = match attack.kind() {
            Kind::MinimumNorm(_) => {
                let run = run_attack(model, images, attack, norm, common, &mut sources)?;
                let median = median_broken(&run.distances);
                (Evidence::Distances(run.distances), median, run.seconds)
            }
            Kind::Bounded { .. } => {
                let (mut clean, mut runs, mut seconds) = (None, Vec::new(), 0.0);
                for &epsilon in epsilons.iter().filter(|&&e| e > 0.0) {
                    let at = at_epsilon(attack, epsilon);
                    let run = run_attack(model, images, &at, norm, common, &mut sources)?;
                    seconds += run.seconds;
                    clean.get_or_insert(run.at_goal);
                    runs.push((epsilon, run.success));
                }
                let clean = clean.context("no ε > 0")?;
                (Evidence::Runs { clean, runs }, f64::NAN, seconds)
            }
        };
        rows.push(RobustnessRow {
            attack: row_label(attack),
            kind: match found {
                Evidence::Distances(_) => "minimum-norm",
                Evidence::Runs { .. } => "bounded",
            }
            .into(),
            accuracy: found.broken(&epsilons).accuracy(),
            median_distance,
            seconds,
        });
        evidence.push(found);
    }
    let best_at = |eps: &[f32]| -> anyhow::Result<Vec<f64>> {
        let broken: Vec<_> = evidence.iter().map(|e| e.broken(eps)).collect();
        Ok(Broken::any(&broken.iter().collect::<Vec<_>>())?.accuracy())
    };
    rows.push(RobustnessRow {
        attack: "best of all".into(),
        kind: "best".into(),
        accuracy: best_at(&epsilons)?,
        median_distance: f64::NAN,
        seconds: 0.0,
    });
    // The figure: minimum-norm attacks and the best of all on a fine grid (with the table's ε),
    // ε-bounded attacks as markers where they ran.
    let grid = fine_grid(&plan.epsilons);
    let grid32: Vec<f32> = grid.iter().map(|&e| e as f32).collect();
    let mut curves = Vec::new();
    for (row, found) in rows.iter().zip(&evidence) {
        let (xs, markers) = match found {
            Evidence::Distances(_) => (&grid, false),
            Evidence::Runs { .. } => (&plan.epsilons, true),
        };
        let at: Vec<f32> = xs.iter().map(|&e| e as f32).collect();
        curves.push(Curve {
            label: row.attack.clone(),
            points: xs
                .iter()
                .copied()
                .zip(found.broken(&at).accuracy())
                .collect(),
            markers,
        });
    }
    curves.push(Curve {
        label: "best of all".into(),
        points: grid.iter().copied().zip(best_at(&grid32)?).collect(),
        markers: false,
    });
    let table = RobustnessTable {
        model: model.to_string(),
        norm: norm.to_string(),
        images: images.len(),
        epsilons: plan.epsilons.clone(),
        rows,
        curves,
    };
    let files = write_table(common, &table)?;
    common.record(&files, &sources)?;
    Ok(table)
}

/// `CURVE_POINTS` evenly spaced ε from 0 to the largest of `epsilons`, merged with them.
fn fine_grid(epsilons: &[f64]) -> Vec<f64> {
    let top = epsilons.last().copied().unwrap_or(0.0);
    let mut grid: Vec<f64> = (0..CURVE_POINTS)
        .map(|i| top * i as f64 / (CURVE_POINTS - 1) as f64)
        .chain(epsilons.iter().copied())
        .collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * top);
    grid
}

/// The row label: the attack's, without ε for an attack run at every ε.
fn row_label(attack: &AnyAttack) -> String {
    match attack {
        AnyAttack::Pgd(c) => format!("PGD {}", c.norm.symbol()),
        AnyAttack::Fgsm(_) => "FGSM".into(),
        other => other.label(),
    }
}

/// The file name of a table's figure under `<out>/report/figures/`:
/// `robustness-<model>-<norm>.png`.
pub fn robustness_figure_name(table: &RobustnessTable) -> String {
    format!("robustness-{}-{}.png", table.model, table.norm)
}

/// `<out>/robustness/<model>-<norm>.{json,csv}` and the figure
/// `<out>/report/figures/`[`robustness_figure_name`].
fn write_table(common: &CommonArgs, table: &RobustnessTable) -> anyhow::Result<Vec<PathBuf>> {
    let dir = common.out.join("robustness");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = format!("{}-{}", table.model, table.norm);
    let json = dir.join(format!("{stem}.json"));
    let csv = dir.join(format!("{stem}.csv"));
    write_atomic(&json, &serde_json::to_vec_pretty(table)?)?;
    write_atomic(&csv, table.to_csv().as_bytes())?;
    let figures = common.out.join("report").join("figures");
    std::fs::create_dir_all(&figures).with_context(|| format!("creating {}", figures.display()))?;
    let png = figures.join(robustness_figure_name(table));
    let series: Vec<Series> = table
        .curves
        .iter()
        .map(|c| Series {
            label: c.label.clone(),
            points: c.points.iter().map(|&(e, a)| (e, 100.0 * a)).collect(),
            style: if c.markers {
                SeriesStyle::Markers
            } else {
                SeriesStyle::Line
            },
        })
        .collect();
    let norm = table.norm_symbol();
    let raster = line_chart(
        &format!(
            "Robust accuracy of {} ({} test images)",
            table.model, table.images
        ),
        &format!("ε ({norm} distance, pixels in [0, 1])"),
        "accuracy under attack %",
        &series,
        Some((0.0, 100.0)),
        (900, 560),
    )
    .with_context(|| format!("drawing {}", png.display()))?;
    save_png(&raster, &png).with_context(|| format!("writing {}", png.display()))?;
    Ok(vec![json, csv, png])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{common, save_random_softmax};
    use blindspot_attack::LinearModel;
    use blindspot_data::splits::ImageShape;
    use blindspot_models::{AnyModel, Bounds, Classifier, checkpoint, to_inputs};
    use burn::tensor::Device;

    /// The share of `distances` above each ε.
    fn above(distances: &[f64], epsilons: &[f64]) -> Vec<f64> {
        epsilons
            .iter()
            .map(|&e| distances.iter().filter(|&&d| d > e).count() as f64 / distances.len() as f64)
            .collect()
    }

    #[test]
    fn curves_lie_above_the_exact_robust_accuracy_and_the_best_of_all_under_every_attack() {
        let out = tempfile::tempdir().unwrap();
        let common = common(out.path());
        save_random_softmax(out.path());
        let device = Device::flex();
        let (model, _) = checkpoint::load(&common.model_dir("softmax1"), &device).unwrap();
        let AnyModel::Mlp(mlp) = &model else {
            panic!("softmax1 is an MLP");
        };
        let oracle = LinearModel::from_mlp(mlp).unwrap();
        // Images labelled with the model's own predictions: all correctly classified.
        let n = 16;
        let pixels: Vec<f32> = (0..n * 784)
            .map(|i| ((i * 7_919) % 101) as f32 / 100.0)
            .collect();
        let unlabelled = Dataset::new(pixels.clone(), vec![0; n], ImageShape::MNIST).unwrap();
        let (x, _) = to_inputs(&model, &unlabelled, &device).unwrap();
        let predicted = model.logits(x).argmax(1).into_data();
        let labels: Vec<u32> = predicted.iter::<i64>().map(|c| c as u32).collect();
        let images = Dataset::new(pixels.clone(), labels.clone(), ImageShape::MNIST).unwrap();
        // The exact smallest L2 distance of each image to another class, in the box.
        let exact: Vec<f64> = (0..n)
            .map(|i| {
                let xi = &pixels[i * 784..(i + 1) * 784];
                oracle
                    .untargeted(xi, labels[i] as usize, Bounds::UNIT)
                    .unwrap()
                    .map_or(f64::INFINITY, |o| o.l2)
            })
            .collect();
        let mut sorted = exact.clone();
        sorted.sort_by(f64::total_cmp);
        // ε between the exact distances at the quartiles, so that every ε splits the images
        // and none equals a distance.
        let mid = |k: usize| (sorted[k - 1] + sorted[k]) / 2.0;
        let epsilons = vec![0.0, mid(n / 4), mid(n / 2), mid(3 * n / 4)];
        let names = ["deepfool", "ddn", "pgd"].map(String::from).to_vec();
        let plan = NormPlan::new(Norm::L2, Some(names), Some(epsilons.clone()), 0).unwrap();
        let table = measure("softmax1", &plan, &images, &common).unwrap();
        let eps: Vec<f64> = epsilons.iter().map(|&e| f64::from(e as f32)).collect();
        let truth = above(&exact, &eps);
        assert_eq!(truth, [1.0, 0.75, 0.5, 0.25]);
        let labels_of_rows: Vec<&str> = table.rows.iter().map(|r| r.attack.as_str()).collect();
        assert_eq!(
            labels_of_rows,
            ["DeepFool L2", "DDN", "PGD L2", "best of all"]
        );
        let best = &table.rows[3].accuracy;
        for row in &table.rows {
            assert_eq!(
                row.accuracy[0], 1.0,
                "{}: every image is classified right",
                row.attack
            );
            for (e, (&a, &t)) in row.accuracy.iter().zip(&truth).enumerate() {
                // No attack breaks an image within less than its exact distance.
                assert!(
                    a >= t,
                    "{} at ε {}: {a} below the exact {t}",
                    row.attack,
                    eps[e]
                );
                assert!(
                    best[e] <= a,
                    "{}: best of all above it at ε {}",
                    row.attack,
                    eps[e]
                );
            }
        }
        // The best of the attacks lands near the optimum: every image whose exact distance is
        // below ε/1.1 is broken at ε. Not 1% as on the linear tests' images: DeepFool ignores
        // the box and these random pixels sit anywhere in it; one image in 16 of a random
        // softmax1 (unseeded, new weights every run) came out 1–5% above in a CI run.
        let slack: Vec<f64> = eps.iter().map(|e| e / 1.1).collect();
        for (e, (&b, &t)) in best.iter().zip(&above(&exact, &slack)).enumerate() {
            assert!(b <= t, "best of all at ε {}: {b}, above {t}", eps[e]);
        }
        // The files: the table as written, its CSV and its figure, recorded with their inputs.
        let json = out.path().join("robustness").join("softmax1-l2.json");
        let saved: RobustnessTable =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(saved.rows.len(), 4);
        assert_eq!(saved.rows[3].accuracy, table.rows[3].accuracy);
        let png = out.path().join("report/figures/robustness-softmax1-l2.png");
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
        let manifest = std::fs::read_to_string(out.path().join("provenance.json")).unwrap();
        assert!(manifest.contains("softmax1-l2.json") && manifest.contains("pgd-l2-"));
        // A second run reuses every attack and gives the same table.
        let again = measure("softmax1", &plan, &images, &common).unwrap();
        assert_eq!(again.rows[3].accuracy, table.rows[3].accuracy);
    }

    #[test]
    fn an_attack_that_cannot_work_in_the_norm_is_refused() {
        let err = NormPlan::new(Norm::Linf, Some(vec!["ddn".into()]), None, 0).unwrap_err();
        assert_eq!(err.to_string(), "DDN works in l2 only, not linf");
        let message = |attacks: Option<Vec<String>>, epsilons: Option<Vec<f64>>| {
            NormPlan::new(Norm::L2, attacks, epsilons, 0)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message(Some(vec!["fgsm".into()]), None),
            "FGSM ε=0.1 works in linf only, not l2"
        );
        assert!(message(None, Some(vec![0.0])).contains("not all 0, got [0.0]"));
        assert!(message(None, Some(vec![1.0, 0.5])).contains("increasing"));
        assert!(message(Some(vec!["nope".into()]), None).starts_with("unknown attack `nope`"));
        let linf = NormPlan::new(Norm::Linf, None, None, 0).unwrap();
        assert!(linf.attacks.iter().all(|a| match a.kind() {
            Kind::MinimumNorm(n) | Kind::Bounded { norm: n, .. } => n == Norm::Linf,
        }));
    }
}
