//! `blindspot transfer`: Tables 2–4 — how often adversarial examples made for one model fool
//! the others, beside Gaussian noise, over one or more seeds.
//!
//! Reads the trained models under `<out>/models/` (seed `k > 0` as `<id>-s<k>`), runs the
//! attacks they still lack (train images for Table 2, test images for Tables 3–4; random wrong
//! target and untargeted), and writes `<out>/tables/table{2,3,4}*.{csv,json}` and heatmaps
//! under `<out>/report/figures/`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use blindspot_attack::files::{self, AttackSummary};
use blindspot_attack::{AnyAttack, FgsmConfig, Goal, Norm, PgdConfig};
use blindspot_data::{Dataset, Mnist, Split, write_atomic};
use blindspot_models::{AnyModel, Bounds, Classifier, checkpoint, error_rate};
use blindspot_report::figures::save_png;
use blindspot_report::provenance::Source;
use blindspot_report::transfer::{
    AttackTransferCell, AttackTransferRow, CrossTrainingRow, MeanStd, TransferResults,
    TransferTable, render_attack_transfer_section,
};
use blindspot_report::{PaperTables, render_transfer_section};
use blindspot_transfer::{ExampleSet, aggregate, error_matrix, error_on};
use burn::tensor::Device;
use clap::Args;

use crate::cmd::attack::{attack_dir, up_to_date_or_attack};
use crate::common::CommonArgs;

/// Options of `blindspot transfer`.
#[derive(Args, Debug)]
pub struct TransferArgs {
    /// Table 2: the first N training images, attacked for every model of Table 1.
    #[arg(long, default_value_t = 1_000)]
    pub n_train: usize,
    /// Tables 3–4: the first N test images, attacked for M1, M1′ and M2.
    #[arg(long, default_value_t = 1_000)]
    pub n_test: usize,
    /// Seeds: 1 uses the models `<id>`; K also `<id>-s1` … `<id>-s{K-1}` (trained by
    /// `blindspot reproduce --seeds K`).
    #[arg(long, default_value_t = 1)]
    pub seeds: usize,
    /// Seed of the attacks' random targets and of the noise rows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The attack that makes the examples, with its default settings: `lbfgs` (the paper's;
    /// the tables go to `<out>/tables/`) or `fgsm`, `pgd`, `deepfool`, `ddn`, `fmn`, `cw`
    /// (tables under `<out>/tables/transfer-<attack>/`, heatmaps
    /// `<out>/report/figures/<attack>-table{2,4}*.png`).
    #[arg(long, default_value = "lbfgs", value_parser = clap::builder::PossibleValuesParser::new(blindspot_attack::any::NAMES))]
    pub attack: String,
    /// Also compare how the untargeted examples of L-BFGS, FGSM, PGD and DDN made for each
    /// model of Table 2 transfer to the others, as made and at matched distortion
    /// (`<out>/tables/attack_transfer.{json,csv}`).
    #[arg(long)]
    pub compare_attacks: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl TransferArgs {
    /// Computes Tables 2–4 and writes their files; prints the Markdown section.
    pub fn run(self) -> anyhow::Result<()> {
        let paper = PaperTables::load().context("parsing the embedded paper tables")?;
        let plan = TransferPlan {
            train_images: self.n_train,
            test_images: self.n_test,
            seeds: self.seeds,
            seed: self.seed,
            half_subset: None,
            attack: AnyAttack::default_of(&self.attack, Goal::Untargeted)
                .with_context(|| format!("unknown attack `{}`", self.attack))?,
            ..TransferPlan::paper(&paper)?
        };
        // Every model must be trained before any data is read (or fetched).
        let missing: Vec<String> = (0..plan.seeds)
            .flat_map(|k| {
                plan.table2_models
                    .iter()
                    .chain(&plan.table4_models)
                    .map(move |id| seeded_id(id, k))
            })
            .filter(|id| {
                !self
                    .common
                    .model_dir(id)
                    .join(checkpoint::META_FILE)
                    .is_file()
            })
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "the transfer tables need models that are not trained in {}: {}. Train them \
             first: `blindspot reproduce{}` (or `blindspot train --model <id>`)",
            self.common.out.join("models").display(),
            missing.join(", "),
            if plan.seeds > 1 { " --seeds K" } else { "" }
        );
        let mnist = self.common.mnist()?;
        let results = transfer_stage(&plan, &mnist, &self.common)?;
        println!("{}", render_transfer_section(&results, &paper));
        if self.compare_attacks {
            let rows = attack_transfer_stage(&plan, &mnist, &self.common)?;
            println!(
                "{}",
                render_attack_transfer_section(&rows, plan.train_images)
            );
        }
        Ok(())
    }
}

/// What the transfer stage reads and computes.
#[derive(Debug, Clone)]
pub struct TransferPlan {
    /// The models of Table 2 (the six of Table 1), by run id.
    pub table2_models: Vec<String>,
    /// The models of Tables 3–4 (M1, M1′, M2), by run id.
    pub table4_models: Vec<String>,
    /// Table 2: the first N training images.
    pub train_images: usize,
    /// Tables 3–4: the first N test images.
    pub test_images: usize,
    /// Number of seeds (models `<id>`, `<id>-s1`, …).
    pub seeds: usize,
    /// Seed of the attacks' random targets and of the noise.
    pub seed: u64,
    /// P1 and P2 examples on which Table 3's errors are measured (`None`: all 30,000).
    pub half_subset: Option<usize>,
    /// The attack that makes the examples (its goal and seed are set per table).
    pub attack: AnyAttack,
}

impl TransferPlan {
    /// The paper's rows and columns, 1,000 images, one seed.
    pub fn paper(paper: &PaperTables) -> anyhow::Result<Self> {
        let columns = |table: &str| -> anyhow::Result<Vec<String>> {
            paper
                .other
                .get(table)
                .and_then(|t| t.get("columns"))
                .and_then(|c| c.as_array())
                .map(|c| {
                    c.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .with_context(|| format!("the paper's {table} has no columns"))
        };
        Ok(Self {
            table2_models: columns("table2")?,
            table4_models: columns("table4")?,
            train_images: 1_000,
            test_images: 1_000,
            seeds: 1,
            seed: 0,
            half_subset: None,
            attack: AnyAttack::lbfgs(Goal::Untargeted),
        })
    }
}

/// The run id of `id` for seed index `k` (`id` itself for `k = 0`, else `<id>-s<k>`).
pub fn seeded_id(id: &str, k: usize) -> String {
    if k == 0 {
        id.to_owned()
    } else {
        format!("{id}-s{k}")
    }
}

/// One seed's matrices and Table 3 rows.
struct SeedTables {
    table2: TransferTable,
    table2_untargeted: TransferTable,
    table4: TransferTable,
    table4_untargeted: TransferTable,
    table3: Vec<[f64; 5]>,
}

/// Runs the missing attacks, computes Tables 2–4 for every seed, aggregates them, and writes
/// the CSV, JSON and heatmap files. An attack is reused only while it was made on the weights
/// its model's checkpoint holds (see [`up_to_date_or_attack`]).
pub fn transfer_stage(
    plan: &TransferPlan,
    mnist: &Mnist,
    common: &CommonArgs,
) -> anyhow::Result<TransferResults> {
    anyhow::ensure!(plan.seeds >= 1, "--seeds must be at least 1");
    let device = common.device()?;
    let train = mnist.split(Split::Train);
    let train = train.head(plan.train_images.min(train.len()), Split::Train)?;
    let test = mnist.split(Split::Test);
    let test = test.head(plan.test_images.min(test.len()), Split::Test)?;
    let mut seeds = Vec::new();
    for k in 0..plan.seeds {
        seeds.push(seed_tables(plan, k, mnist, &train, &test, common, &device)?);
    }
    let all = |f: fn(&SeedTables) -> &TransferTable| -> anyhow::Result<TransferTable> {
        let tables: Vec<TransferTable> = seeds.iter().map(|s| f(s).clone()).collect();
        Ok(aggregate(&tables)?)
    };
    let table3 = plan
        .table4_models
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let stat =
                |j: usize| MeanStd::of(&seeds.iter().map(|s| s.table3[i][j]).collect::<Vec<_>>());
            CrossTrainingRow {
                id: id.clone(),
                p1_error: stat(0),
                p2_error: stat(1),
                test_error: stat(2),
                distortion: stat(3),
                untargeted_distortion: stat(4),
            }
        })
        .collect();
    let results = TransferResults {
        table2: all(|s| &s.table2)?,
        table2_untargeted: all(|s| &s.table2_untargeted)?,
        table3,
        table4: all(|s| &s.table4)?,
        table4_untargeted: all(|s| &s.table4_untargeted)?,
    };
    let files = write_transfer_outputs(&results, &common.out, &plan.attack)?;
    common.record(&files, &transfer_sources(plan, common)?)?;
    Ok(results)
}

/// The attacks of the comparison: the paper's L-BFGS (first: its examples set the matched
/// distortion), FGSM and PGD in the L∞ ball of 0.1 (PGD: 40 steps of 0.01, one random start),
/// and DDN; untargeted, seeded with `seed`.
pub fn comparison_attacks(seed: u64) -> Vec<AnyAttack> {
    vec![
        AnyAttack::lbfgs(Goal::Untargeted),
        AnyAttack::Fgsm(FgsmConfig {
            epsilon: 0.1,
            ..FgsmConfig::default()
        }),
        AnyAttack::Pgd(PgdConfig {
            norm: Norm::Linf,
            epsilon: 0.1,
            ..PgdConfig::default()
        }),
        AnyAttack::default_of("ddn", Goal::Untargeted).expect("ddn is an attack"),
    ]
    .into_iter()
    .map(|a| a.with_goal(Goal::Untargeted, seed))
    .collect()
}

/// How the untargeted examples of each of [`comparison_attacks`] made for each model of
/// Table 2 (seed 0, the plan's training images) transfer to the other models: the mean error
/// of the others as made and with every example moved along its perturbation to the RMS of
/// the source's L-BFGS examples. Runs the attacks that are not up to date, writes
/// `<out>/tables/attack_transfer.{json,csv}` and records them.
pub fn attack_transfer_stage(
    plan: &TransferPlan,
    mnist: &Mnist,
    common: &CommonArgs,
) -> anyhow::Result<Vec<AttackTransferRow>> {
    let train = mnist.split(Split::Train);
    let train = train.head(plan.train_images.min(train.len()), Split::Train)?;
    attack_transfer(plan, &train, common)
}

/// [`attack_transfer_stage`] on the images `train`.
fn attack_transfer(
    plan: &TransferPlan,
    train: &Dataset,
    common: &CommonArgs,
) -> anyhow::Result<Vec<AttackTransferRow>> {
    let device = common.device()?;
    let models = load_models(&plan.table2_models, 0, common, &device)?;
    let bounds = shared_bounds(&models)?;
    let attacks = comparison_attacks(plan.seed);
    let mut rows = Vec::new();
    let mut sources = Vec::new();
    for (source, _, _) in &models {
        sources.push(common.model_source(source)?);
        let mut sets = Vec::new();
        for attack in &attacks {
            let (_, dir, _) = up_to_date_or_attack(source, train, Split::Train, attack, common)
                .with_context(|| format!("{} on {source}", attack.label()))?;
            sources.push(common.attack_source(&dir)?);
            let (_, tensors) =
                files::load(&dir).with_context(|| format!("reading {}", dir.display()))?;
            sets.push(
                ExampleSet::from_attack(source, &tensors, bounds)
                    .with_context(|| format!("the examples in {}", dir.display()))?,
            );
        }
        let matched_rms = sets[0].mean_distortion();
        let others: Vec<&AnyModel> = models
            .iter()
            .filter(|(id, _, _)| id != source)
            .map(|(_, m, _)| m)
            .collect();
        let mean_error = |set: &ExampleSet| {
            others
                .iter()
                .map(|m| error_on(*m, set, &device))
                .sum::<f64>()
                / others.len() as f64
        };
        let mut cells = Vec::new();
        for (attack, set) in attacks.iter().zip(&sets) {
            let matched = if set.is_empty() || matched_rms.is_nan() || matched_rms <= 0.0 {
                f64::NAN
            } else {
                mean_error(&set.amplified(matched_rms)?)
            };
            cells.push(AttackTransferCell {
                attack: attack.label(),
                examples: set.len(),
                distortion: set.mean_distortion(),
                transfer: mean_error(set),
                matched_transfer: matched,
            });
        }
        rows.push(AttackTransferRow {
            source: source.clone(),
            matched_rms,
            cells,
        });
    }
    let tables = common.out.join("tables");
    let json = tables.join("attack_transfer.json");
    write_atomic(&json, &serde_json::to_vec_pretty(&rows)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let mut csv =
        String::from("source,matched_rms,attack,examples,distortion,transfer,matched_transfer\n");
    for r in &rows {
        for c in &r.cells {
            csv += &format!(
                "{},{},{},{},{},{},{}\n",
                r.source,
                r.matched_rms,
                c.attack,
                c.examples,
                c.distortion,
                c.transfer,
                c.matched_transfer
            );
        }
    }
    let path = tables.join("attack_transfer.csv");
    write_atomic(&path, csv.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    common.record(&[json, path], &sources)?;
    Ok(rows)
}

/// The inputs of the transfer tables: every model of the plan, each seed, and the attacks
/// `seed_tables` reads (random and untargeted, on training images for Table 2 and test images
/// for Tables 3–4).
fn transfer_sources(plan: &TransferPlan, common: &CommonArgs) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for k in 0..plan.seeds {
        for (models, split) in [
            (&plan.table2_models, Split::Train),
            (&plan.table4_models, Split::Test),
        ] {
            for id in models {
                let run = seeded_id(id, k);
                sources.push(common.model_source(&run)?);
                for goal in [Goal::Random, Goal::Untargeted] {
                    let dir = attack_dir(
                        &common.out,
                        &run,
                        split,
                        &plan.attack.with_goal(goal, plan.seed),
                    );
                    sources.push(common.attack_source(&dir)?);
                }
            }
        }
    }
    Ok(sources)
}

/// The adversarial examples of seed `k` of the column model `model` (run `<model>-s<k>`) for
/// `goal` on `images`, attacking if needed, in the model's box `bounds`; the set is labelled
/// with the column, so that the rows of every seed line up.
#[allow(clippy::too_many_arguments)]
fn adversarial_set(
    model: &str,
    k: usize,
    images: &Dataset,
    split: Split,
    goal: Goal,
    bounds: Bounds,
    plan: &TransferPlan,
    common: &CommonArgs,
) -> anyhow::Result<(ExampleSet, AttackSummary)> {
    let config = plan.attack.with_goal(goal, plan.seed);
    let run = seeded_id(model, k);
    let (summary, dir, _) = up_to_date_or_attack(&run, images, split, &config, common)?;
    let (_, tensors) = files::load(&dir).with_context(|| format!("reading {}", dir.display()))?;
    let set = ExampleSet::from_attack(model, &tensors, bounds)
        .with_context(|| format!("adversarial examples in {}", dir.display()))?;
    Ok((set, summary))
}

/// The input box every model of a table reads: its noise rows are clipped to it, and a table
/// only compares models on one input domain.
fn shared_bounds(models: &[(String, AnyModel, checkpoint::ModelMeta)]) -> anyhow::Result<Bounds> {
    let (first, rest) = models
        .split_first()
        .context("a transfer table needs at least one model")?;
    let bounds = first.1.bounds();
    for (id, model, _) in rest {
        let b = model.bounds();
        anyhow::ensure!(
            b == bounds,
            "{id} reads inputs in [{}, {}] but {} in [{}, {}]: a transfer table compares \
             models on one input box",
            b.lo,
            b.hi,
            first.0,
            bounds.lo,
            bounds.hi
        );
    }
    Ok(bounds)
}

fn load_models(
    ids: &[String],
    k: usize,
    common: &CommonArgs,
    device: &Device,
) -> anyhow::Result<Vec<(String, AnyModel, checkpoint::ModelMeta)>> {
    ids.iter()
        .map(|id| {
            let dir = common.model_dir(&seeded_id(id, k));
            let (model, meta) = checkpoint::load(&dir, device).with_context(|| {
                format!(
                    "loading {} (train it first: `blindspot reproduce{}`)",
                    dir.display(),
                    if k > 0 { " --seeds K" } else { "" }
                )
            })?;
            Ok((id.clone(), model, meta))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn seed_tables(
    plan: &TransferPlan,
    k: usize,
    mnist: &Mnist,
    train: &Dataset,
    test: &Dataset,
    common: &CommonArgs,
    device: &Device,
) -> anyhow::Result<SeedTables> {
    let noise_seed = |row: u64| plan.seed.wrapping_add(1_000 * k as u64 + row);

    // Table 2: the six models of Table 1 on training images.
    let models = load_models(&plan.table2_models, k, common, device)?;
    let bounds = shared_bounds(&models)?;
    let columns: Vec<(String, &AnyModel)> =
        models.iter().map(|(id, m, _)| (id.clone(), m)).collect();
    let mut random = Vec::new();
    let mut untargeted = Vec::new();
    for id in &plan.table2_models {
        for (goal, sets) in [
            (Goal::Random, &mut random),
            (Goal::Untargeted, &mut untargeted),
        ] {
            let (set, _) = adversarial_set(id, k, train, Split::Train, goal, bounds, plan, common)?;
            sets.push(set);
        }
    }
    let matched = |sets: &[ExampleSet], offset: u64| -> anyhow::Result<Vec<ExampleSet>> {
        sets.iter()
            .enumerate()
            .map(|(i, s)| Ok(s.matched_gaussian(noise_seed(offset + i as u64))?))
            .collect()
    };
    let mut rows2 = random.clone();
    rows2.push(ExampleSet::gaussian(train, 0.1, noise_seed(1), bounds)?);
    rows2.push(ExampleSet::gaussian(train, 0.3, noise_seed(2), bounds)?);
    rows2.extend(matched(&random, 10)?);
    let mut rows2u = untargeted.clone();
    rows2u.extend(matched(&untargeted, 30)?);
    let images2 = format!("first {} training images", train.len());
    let table2 = error_matrix(&rows2, &columns, device, &images2);
    let table2_untargeted = error_matrix(&rows2u, &columns, device, &images2);
    drop(columns);
    drop(models);

    // Tables 3 and 4: M1, M1′, M2 on test images.
    let models = load_models(&plan.table4_models, k, common, device)?;
    let bounds = shared_bounds(&models)?;
    let columns: Vec<(String, &AnyModel)> =
        models.iter().map(|(id, m, _)| (id.clone(), m)).collect();
    let mut random = Vec::new();
    let mut untargeted = Vec::new();
    let mut table3 = Vec::new();
    let half = |split: Split| -> anyhow::Result<Dataset> {
        let d = mnist.split(split);
        Ok(d.head(plan.half_subset.unwrap_or(d.len()).min(d.len()), split)?)
    };
    let (p1, p2) = (half(Split::P1)?, half(Split::P2)?);
    for (id, model, meta) in &models {
        let mut readings = [0.0; 2];
        for (j, (goal, sets)) in [
            (Goal::Random, &mut random),
            (Goal::Untargeted, &mut untargeted),
        ]
        .into_iter()
        .enumerate()
        {
            let (set, summary) =
                adversarial_set(id, k, test, Split::Test, goal, bounds, plan, common)?;
            sets.push(set);
            readings[j] = summary.mean_distortion;
        }
        table3.push([
            error_rate(model, &p1, device)?,
            error_rate(model, &p2, device)?,
            meta.test_error,
            readings[0],
            readings[1],
        ]);
    }
    let amplified = |sets: &[ExampleSet]| -> anyhow::Result<Vec<ExampleSet>> {
        sets.iter().map(|s| Ok(s.amplified(0.1)?)).collect()
    };
    let mut rows4 = random.clone();
    rows4.push(ExampleSet::gaussian(test, 0.06, noise_seed(3), bounds)?);
    rows4.extend(amplified(&random)?);
    rows4.push(ExampleSet::gaussian(test, 0.1, noise_seed(4), bounds)?);
    let mut rows4u = untargeted.clone();
    rows4u.extend(amplified(&untargeted)?);
    let images4 = format!("first {} test images", test.len());
    Ok(SeedTables {
        table2,
        table2_untargeted,
        table4: error_matrix(&rows4, &columns, device, &images4),
        table4_untargeted: error_matrix(&rows4u, &columns, device, &images4),
        table3,
    })
}

/// The heatmap of a transfer table: one row per example set (its report label), one column
/// per model, each cell the column model's error in percent, sized to the table.
fn transfer_heatmap(
    name: &str,
    t: &TransferTable,
    attack: &AnyAttack,
) -> anyhow::Result<blindspot_report::figures::Raster> {
    let title = match name {
        "table2" => "Table 2: error of each model (column) on examples made for another (row)",
        "table2-untargeted" => "Table 2, untargeted (minimal) examples",
        "table4" => "Table 4: cross-training-set generalization",
        "table4-untargeted" => "Table 4, untargeted (minimal) examples",
        other => other,
    };
    let title = match attack {
        AnyAttack::Lbfgs(_) => title.to_string(),
        other => format!("{title} — {} examples", other.label()),
    };
    let rows: Vec<String> = t.rows.iter().map(|r| r.perturbation.label()).collect();
    let percent: Vec<Vec<f64>> = t
        .means()
        .iter()
        .map(|row| row.iter().map(|e| 100.0 * e).collect())
        .collect();
    let width = (420 + 95 * t.columns.len() as u32).clamp(700, 1800);
    let height = (140 + 40 * t.rows.len() as u32).clamp(360, 1600);
    blindspot_plot::heatmap(
        &title,
        &rows,
        &t.columns,
        &percent,
        "error %",
        (width, height),
    )
    .with_context(|| format!("drawing the {name} heatmap"))
}

/// `<out>/tables/table{2,3,4}*.{csv,json}`, `<out>/tables/transfer.json` and the heatmaps
/// `<out>/report/figures/table{2,4}*.png` for the paper's L-BFGS examples; for another
/// `attack`, the tables under `<out>/tables/transfer-<slug>/` and the heatmaps
/// `<slug>-table{2,4}*.png` (`<slug>` its [`AnyAttack::slug`]).
pub fn write_transfer_outputs(
    r: &TransferResults,
    out: &Path,
    attack: &AnyAttack,
) -> anyhow::Result<Vec<PathBuf>> {
    let (tables, figure_prefix) = match attack {
        AnyAttack::Lbfgs(_) => (out.join("tables"), String::new()),
        other => (
            out.join("tables")
                .join(format!("transfer-{}", other.slug())),
            format!("{}-", other.slug()),
        ),
    };
    std::fs::create_dir_all(&tables).with_context(|| format!("creating {}", tables.display()))?;
    let written = std::cell::RefCell::new(Vec::new());
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let path = tables.join(name);
        write_atomic(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        written.borrow_mut().push(path);
        Ok(())
    };
    for (name, t) in [
        ("table2", &r.table2),
        ("table2-untargeted", &r.table2_untargeted),
        ("table4", &r.table4),
        ("table4-untargeted", &r.table4_untargeted),
    ] {
        write(&format!("{name}.csv"), t.to_csv().as_bytes())?;
        write(&format!("{name}.json"), &serde_json::to_vec_pretty(t)?)?;
        let png = out
            .join("report")
            .join("figures")
            .join(format!("{figure_prefix}{name}.png"));
        save_png(&transfer_heatmap(name, t, attack)?, &png)
            .with_context(|| format!("writing {}", png.display()))?;
        written.borrow_mut().push(png);
    }
    let mut csv = String::from(
        "id,p1_error_mean,p1_error_std,p2_error_mean,p2_error_std,test_error_mean,test_error_std,distortion_mean,distortion_std,untargeted_distortion_mean,untargeted_distortion_std\n",
    );
    for row in &r.table3 {
        csv += &row.id;
        for m in [
            &row.p1_error,
            &row.p2_error,
            &row.test_error,
            &row.distortion,
            &row.untargeted_distortion,
        ] {
            csv += &format!(",{},{}", m.mean, m.std);
        }
        csv.push('\n');
    }
    write("table3.csv", csv.as_bytes())?;
    write("table3.json", &serde_json::to_vec_pretty(&r.table3)?)?;
    write("transfer.json", &serde_json::to_vec_pretty(r)?)?;
    Ok(written.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{common, save_random_softmax_as};
    use blindspot_data::splits::ImageShape;
    use burn::tensor::{Tensor, TensorData};

    #[test]
    fn each_attack_transfers_to_the_other_models_as_an_independent_count_says() {
        let out = tempfile::tempdir().unwrap();
        let common = common(out.path());
        for id in ["a", "b"] {
            save_random_softmax_as(out.path(), id);
        }
        let n = 12;
        let pixels: Vec<f32> = (0..n * 784)
            .map(|i| ((i * 7_919) % 101) as f32 / 100.0)
            .collect();
        let labels = (0..n as u32).map(|i| i % 10).collect();
        let train = Dataset::new(pixels, labels, ImageShape::MNIST).unwrap();
        let plan = TransferPlan {
            table2_models: vec!["a".into(), "b".into()],
            table4_models: Vec::new(),
            train_images: n,
            test_images: 0,
            seeds: 1,
            seed: 0,
            half_subset: None,
            attack: AnyAttack::lbfgs(Goal::Untargeted),
        };
        let rows = attack_transfer(&plan, &train, &common).unwrap();
        assert_eq!(rows.len(), 2);
        let made: usize = rows.iter().flat_map(|r| &r.cells).map(|c| c.examples).sum();
        assert!(made > 0, "no attack made an example: {rows:?}");
        let device = Device::flex();
        for row in &rows {
            let other = if row.source == "a" { "b" } else { "a" };
            let (model, _) = checkpoint::load(&common.model_dir(other), &device).unwrap();
            assert_eq!(row.cells.len(), 4);
            assert_eq!(row.cells[0].attack, "L-BFGS");
            // The L-BFGS examples' mean distortion (NaN when the random model left none).
            assert_eq!(row.matched_rms.to_bits(), row.cells[0].distortion.to_bits());
            for (attack, cell) in comparison_attacks(0).iter().zip(&row.cells) {
                // The other model's error on the source's successful perturbed examples,
                // counted here image by image.
                let dir = attack_dir(&common.out, &row.source, Split::Train, attack);
                let (_, t) = files::load(&dir).unwrap();
                let (mut wrong, mut examples) = (0, 0);
                for i in 0..n {
                    if t["success"].values[i] == 0.0 || t["at_goal"].values[i] == 1.0 {
                        continue;
                    }
                    let x = t["x_adv"].values[i * 784..(i + 1) * 784].to_vec();
                    let x = Tensor::<2>::from_data(TensorData::new(x, [1, 784]), &device);
                    let logits: Vec<f32> = model.logits(x).into_data().try_to_vec().unwrap();
                    let predicted = (0..10)
                        .max_by(|&p, &q| logits[p].total_cmp(&logits[q]))
                        .unwrap();
                    examples += 1;
                    wrong += usize::from(predicted as f32 != t["label"].values[i]);
                }
                assert_eq!(cell.examples, examples, "{} {}", row.source, cell.attack);
                if examples > 0 {
                    let expected = wrong as f64 / examples as f64;
                    assert!(
                        (cell.transfer - expected).abs() < 1e-9,
                        "{} {}: {} vs {expected}",
                        row.source,
                        cell.attack,
                        cell.transfer
                    );
                }
            }
        }
        let json = out.path().join("tables/attack_transfer.json");
        let saved: Vec<AttackTransferRow> =
            serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
        assert_eq!(saved.len(), 2);
    }
}
