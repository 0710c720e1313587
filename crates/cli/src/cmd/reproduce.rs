//! `blindspot reproduce`: every stage built so far, then the report.
//!
//! Stages: data → train every model of Tables 1 and 3 (and FC, conv) → evaluate → attack the
//! models of Table 1 (its distortion column) → transfer (Tables 2–4, with the attacks of the
//! test set they need and, with `--seeds K`, models trained with more seeds) → adversarial
//! training against decay alone and dropout (section 4.2) → units against random directions
//! (section 3, Figures 1–2) → frame bounds and certified radii (section 4.3, Table 5) → report. A model whose checkpoint carries the
//! fingerprint of the same configuration is not trained again, and an attack whose summary
//! holds the same configuration and image count on an unchanged model is not run again, so a
//! killed run resumes where it stopped. Before the stages, the minibatch trainings that are not
//! up to date run side by side in child processes (`--jobs`, see [`crate::jobs`]); the stages
//! then find them up to date.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use blindspot_attack::files::{input_shape_of, load};
use blindspot_attack::{AnyAttack, AttackConfig, Goal};
use blindspot_data::{Split, write_atomic};
use blindspot_models::alexnet::AlexNetConfig;
use blindspot_models::{ModelRun, Scale, checkpoint, error_rate};
use blindspot_models::{Optimizer, TrainConfig};
use blindspot_report::figures::{ImageFormat, grid, save_png};
use blindspot_report::provenance::{Manifest, run_id};
use blindspot_report::render_provenance_section;
use blindspot_report::{
    AdvTrainResult, AttackTransferRow, DistortionResult, LbfgsResult, ModelResult, PaperTables,
    RobustnessTable, SpectralResults, TransferResults, UnitsResult, render_advtrain_section,
    render_attack_transfer_section, render_distortion_section, render_header, render_lbfgs_section,
    render_models_section, render_robustness_section, render_spectral_section,
    render_transfer_section, render_units_section,
};
use blindspot_transfer::gaussian_noise;
use burn::tensor::Device;
use clap::Args;

use crate::cmd::adversarial::{AdvTrainPlan, adversarial_stage};
use crate::cmd::attack::{attack_dir, up_to_date_or_attack};
use crate::cmd::robustness::{RobustnessPlan, robustness_figure_name, robustness_stage};
use crate::cmd::spectral::spectral_stage;
use crate::cmd::transfer::{TransferPlan, attack_transfer_stage, seeded_id, transfer_stage};
use crate::cmd::units::{UnitsPlan, units_stage};
use crate::common::CommonArgs;
use crate::jobs::{TrainJob, default_parallel, run_jobs};

/// The models also trained with full-batch L-BFGS.
const LBFGS_MODELS: [&str; 4] = ["softmax1", "softmax2", "softmax3", "n100-100-10"];

/// Options of `blindspot reproduce`.
#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// smoke: minutes on 2 cores (subsets, few epochs); default: full MNIST; paper: longer runs.
    #[arg(long, default_value = "default")]
    pub scale: Scale,
    /// Seed of every model.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seeds of the models of Tables 2–4 (extra seeds are saved as `<id>-s<k>`); the tables
    /// report mean ± std over them. Default: 1, or 3 at paper scale.
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Seeds of every method of the adversarial-training comparison (section 4.2); the report
    /// gives mean ± std over them. Default: 1, or 3 at paper scale.
    #[arg(long)]
    pub adversarial_seeds: Option<usize>,
    /// Trainings run at once, each in its own `blindspot` process with its share of the cores
    /// (on a CPU backend the paper's small networks keep one core busy each). Default: one per
    /// core on flex/ndarray (at most 4), 1 on a GPU. 1 trains everything in this process.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// AlexNet weights for Table 5 (safetensors with torchvision's names); default: the
    /// initialization, labeled as such in the report.
    #[arg(long)]
    pub alexnet_weights: Option<std::path::PathBuf>,
    /// Run in an output directory that holds another scale's results (they are replaced).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Everything the report shows.
struct Outputs<'a> {
    results: &'a [ModelResult],
    lbfgs: &'a [LbfgsResult],
    distortions: &'a [DistortionResult],
    transfer: &'a TransferResults,
    attack_transfer: &'a [AttackTransferRow],
    attack_transfer_images: usize,
    adversarial: &'a [AdvTrainResult],
    adversarial_seeds: usize,
    robustness: &'a [RobustnessTable],
    units: &'a [UnitsResult],
    spectral: &'a SpectralResults,
}

/// How long a stage took, and whether it was skipped.
#[derive(Debug, serde::Serialize)]
struct StageTime {
    stage: String,
    seconds: f64,
    skipped: bool,
}

/// Takes the output directory for this run: an exclusive lock on `<out>/.lock`, held until the
/// returned file is dropped (the OS releases it if the process dies), so that two runs never
/// write the same checkpoints, attacks and tables at once.
fn lock_out(out: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another blindspot run is using {} (it holds {}); wait for it or use another --out",
            out.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// The file in an output directory that says which scale its results are of.
const SCALE_FILE: &str = "scale.json";

/// Marks `out` as holding results of `scale`, refusing (unless `force`) a directory that holds
/// another scale's: a smoke run would otherwise replace an hour of default-scale checkpoints
/// and attacks under the same names.
fn claim_scale(out: &Path, scale: Scale, force: bool) -> anyhow::Result<()> {
    let path = out.join(SCALE_FILE);
    let name = scale.to_string();
    match std::fs::read(&path) {
        Ok(bytes) => {
            let held: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            let held = held["scale"].as_str().unwrap_or("unknown").to_owned();
            anyhow::ensure!(
                held == name || force,
                "{} holds {held}-scale results; a {name}-scale run would replace them. Use \
                 another --out (e.g. {}) or pass --force",
                out.display(),
                out.with_file_name(format!("results-{name}")).display()
            );
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let json = serde_json::to_vec_pretty(&serde_json::json!({ "scale": name }))?;
    write_atomic(&path, &json).with_context(|| format!("writing {}", path.display()))
}

impl ReproduceArgs {
    /// Runs the pipeline.
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.seeds != Some(0) && self.adversarial_seeds != Some(0) && self.jobs != Some(0),
            "--seeds, --adversarial-seeds and --jobs must be at least 1"
        );
        let started = Instant::now();
        let device = self.common.device()?;
        let _lock = lock_out(&self.common.out)?;
        claim_scale(&self.common.out, self.scale, self.force)?;
        // Until this run writes its report, the report of an earlier run says that the
        // tables beside it may be newer than it (and, if this run fails, why).
        mark_report_unfinished(&self.common.out, None)?;
        let outcome = self.run_stages(started, &device);
        if let Err(e) = &outcome {
            mark_report_unfinished(&self.common.out, Some(&format!("{e:#}")))?;
        }
        outcome
    }

    fn run_stages(&self, started: Instant, device: &Device) -> anyhow::Result<()> {
        let mut stages = Vec::new();

        let t = Instant::now();
        let mnist = self.common.mnist()?;
        stages.push(StageTime {
            stage: "data".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });

        let runs = ModelRun::reproduction_set();
        let paper = PaperTables::load().context("parsing the embedded paper tables")?;
        let plan = TransferPlan {
            train_images: self.attack_images(),
            test_images: self.attack_test_images(),
            seeds: self.seeds(),
            seed: self.seed,
            half_subset: self.scale.train_subset(),
            ..TransferPlan::paper(&paper)?
        };
        let mut adv_plan = AdvTrainPlan::for_scale(self.scale, self.seed);
        if let Some(seeds) = self.adversarial_seeds {
            adv_plan.seeds = seeds;
        }

        // The minibatch trainings of every stage, side by side in child processes; the stages
        // below then find them up to date. The adversarial ones, the longest, go first.
        let jobs: Vec<TrainJob> = adv_plan
            .jobs(self.scale, &self.common)?
            .into_iter()
            .chain(runs.iter().map(|run| self.job(run, 0)))
            .chain(
                self.extra_seed_runs(&plan)
                    .map(|(run, k)| self.job(&run, k)),
            )
            .collect();
        self.train_in_children(&jobs, &mnist, &mut stages)?;

        let mut results = Vec::new();
        for run in &runs {
            let t = Instant::now();
            let (meta, skipped) = self.up_to_date_or_train(&self.job(run, 0), &mnist)?;
            let dir = self.common.model_dir(&run.id());
            let (model, _) = checkpoint::load(&dir, device)
                .with_context(|| format!("loading {}", dir.display()))?;
            let half = |split: Split| -> anyhow::Result<f64> {
                let data = mnist.split(split);
                let n = self
                    .scale
                    .train_subset()
                    .unwrap_or(data.len())
                    .min(data.len());
                Ok(error_rate(&model, &data.head(n, split)?, device)?)
            };
            let result = ModelResult {
                id: run.id(),
                model: run.spec.name.to_owned(),
                split: run.split.name().to_owned(),
                train_error: meta.train_error,
                test_error: meta.test_error,
                p1_error: half(Split::P1)?,
                p2_error: half(Split::P2)?,
                target_test_error: run.target_test_error(),
                train_seconds: meta.train_seconds,
                train_examples: meta.train_examples,
            };
            eprintln!(
                "{}: train error {:.2}%, test error {:.2}% (target ≤ {:.2}%)",
                result.id,
                100.0 * result.train_error,
                100.0 * result.test_error,
                100.0 * result.target_test_error
            );
            results.push(result);
            stages.push(StageTime {
                stage: format!("train {}", run.id()),
                seconds: t.elapsed().as_secs_f64(),
                skipped,
            });
        }

        self.extra_seeds(&plan, &mnist, &mut stages)?;
        let lbfgs = self.lbfgs_stage(&mnist, &results, &mut stages)?;
        let distortions = self.attack_stage(&mnist, &mut stages)?;
        let t = Instant::now();
        let transfer = transfer_stage(&plan, &mnist, &self.common)?;
        stages.push(StageTime {
            stage: format!("transfer ({} seeds)", plan.seeds),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });
        let t = Instant::now();
        let attack_transfer = attack_transfer_stage(&plan, &mnist, &self.common)
            .context("attack-transfer comparison")?;
        stages.push(StageTime {
            stage: "transfer by attack (L-BFGS, FGSM, PGD, DDN)".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });

        let t = Instant::now();
        let adversarial = adversarial_stage(&adv_plan, self.scale, &mnist, &self.common)?;
        stages.push(StageTime {
            stage: format!("adversarial training ({} seeds)", adv_plan.seeds),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });

        let t = Instant::now();
        let robustness_plan = RobustnessPlan::for_scale(self.scale, self.seed)?;
        let robustness =
            robustness_stage(&robustness_plan, &mnist, &self.common).context("robustness stage")?;
        stages.push(StageTime {
            stage: "robust accuracy against ε".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });

        let t = Instant::now();
        let units_plan = UnitsPlan::for_scale(self.scale, self.seed, &self.common);
        let units = units_stage(&units_plan, &mnist, &self.common).context("units stage")?;
        stages.push(StageTime {
            stage: "units vs random directions".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });

        // The conv net is not in Table 1; its untargeted attack gives the spectral stage the
        // distortions to put beside its certified radii.
        let t = Instant::now();
        let data = mnist.split(Split::Train);
        let images = data.head(self.attack_images().min(data.len()), Split::Train)?;
        let config = AnyAttack::from(AttackConfig {
            goal: Goal::Untargeted,
            seed: self.seed,
            ..AttackConfig::default()
        });
        let (_, _, skipped) =
            up_to_date_or_attack("conv", &images, Split::Train, &config, &self.common)?;
        stages.push(StageTime {
            stage: "attack conv (for the certificates)".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped,
        });

        let t = Instant::now();
        // Smoke scale keeps AlexNet's convolutions but narrows its dense layers (the 4096×4096
        // eigenvalue problems take minutes); the report says so.
        let alexnet = if self.scale == Scale::Smoke {
            AlexNetConfig::new().with_hidden([256, 256])
        } else {
            AlexNetConfig::new()
        };
        // Table 5 for our models: those of Table 1 (with their attacks) and the conv net.
        let spectral_models: Vec<&str> = paper
            .table1
            .rows
            .iter()
            .map(|r| r.model.as_str())
            .chain(["conv"])
            .collect();
        let spectral = spectral_stage(
            &self.common,
            &spectral_models,
            &alexnet,
            self.alexnet_weights.as_deref(),
        )
        .context("spectral stage")?;
        stages.push(StageTime {
            stage: "spectral bounds and certificates".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });

        let t = Instant::now();
        let outputs = Outputs {
            results: &results,
            lbfgs: &lbfgs,
            distortions: &distortions,
            transfer: &transfer,
            attack_transfer: &attack_transfer,
            attack_transfer_images: plan.train_images,
            adversarial: &adversarial,
            adversarial_seeds: adv_plan.seeds,
            robustness: &robustness,
            units: &units,
            spectral: &spectral,
        };
        self.write_outputs(&outputs, &stages)?;
        stages.push(StageTime {
            stage: "report".into(),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });
        write_json(&self.common.out.join("report").join("stages.json"), &stages)?;
        eprintln!(
            "done in {:.0} s; report: {}",
            started.elapsed().as_secs_f64(),
            self.common.out.join("report").join("README.md").display()
        );
        let missed: Vec<_> = results
            .iter()
            .filter(|r| !r.meets_target())
            .map(|r| r.id.as_str())
            .collect();
        if !missed.is_empty() && self.scale != Scale::Smoke {
            eprintln!(
                "warning: above the target test error: {}",
                missed.join(", ")
            );
        }
        Ok(())
    }

    /// The minibatch training of `run` with seed index `k` (seed `seed + k`, saved as
    /// `<id>-s<k>` for `k > 0`).
    fn job(&self, run: &ModelRun, k: usize) -> TrainJob {
        let id = seeded_id(&run.id(), k);
        let config = run.train_config(self.scale, self.seed + k as u64);
        let dir = self.common.model_dir(&id);
        TrainJob::new(id, run, self.scale, config, None, dir)
    }

    /// The job's checkpoint if it records the same configuration (fingerprint), else a
    /// freshly trained and saved model; `true` when it was up to date.
    fn up_to_date_or_train(
        &self,
        job: &TrainJob,
        mnist: &blindspot_data::Mnist,
    ) -> anyhow::Result<(checkpoint::ModelMeta, bool)> {
        if let Some(meta) = job.up_to_date(mnist)? {
            eprintln!("{}: up to date, skipped", job.dir.display());
            return Ok((meta, true));
        }
        Ok((job.train(mnist, &self.common)?, false))
    }

    /// Trains the jobs that are not up to date in child processes, `--jobs` at a time (none
    /// with one job at a time, or with fewer than two to train: the stages train them here).
    fn train_in_children(
        &self,
        jobs: &[TrainJob],
        mnist: &blindspot_data::Mnist,
        stages: &mut Vec<StageTime>,
    ) -> anyhow::Result<()> {
        let parallel = self.jobs.unwrap_or_else(|| default_parallel(&self.common));
        let mut stale = Vec::new();
        for job in jobs {
            if job.up_to_date(mnist)?.is_none() {
                stale.push(job.clone());
            }
        }
        if parallel < 2 || stale.len() < 2 {
            return Ok(());
        }
        let t = Instant::now();
        eprintln!(
            "training {} models, {parallel} at a time (logs in {})",
            stale.len(),
            self.common.out.join("jobs").display()
        );
        let program = std::env::current_exe().context("finding the blindspot executable")?;
        run_jobs(&program, &stale, parallel, &self.common, mnist)?;
        stages.push(StageTime {
            stage: format!("train {} models, {parallel} at a time", stale.len()),
            seconds: t.elapsed().as_secs_f64(),
            skipped: false,
        });
        Ok(())
    }

    /// Number of seeds of the transfer tables.
    fn seeds(&self) -> usize {
        self.seeds.unwrap_or(match self.scale {
            Scale::Paper => 3,
            _ => 1,
        })
    }

    /// The models of Tables 2–4 with their extra seed indices `1 … K − 1`.
    fn extra_seed_runs<'p>(
        &self,
        plan: &'p TransferPlan,
    ) -> impl Iterator<Item = (ModelRun, usize)> + 'p {
        (1..plan.seeds).flat_map(move |k| {
            ModelRun::reproduction_set()
                .into_iter()
                .filter(move |r| {
                    let id = r.id();
                    plan.table2_models.contains(&id) || plan.table4_models.contains(&id)
                })
                .map(move |r| (r, k))
        })
    }

    /// Trains the models of Tables 2–4 with seeds `seed + 1 … seed + K − 1`, saved as
    /// `<id>-s<k>`.
    fn extra_seeds(
        &self,
        plan: &TransferPlan,
        mnist: &blindspot_data::Mnist,
        stages: &mut Vec<StageTime>,
    ) -> anyhow::Result<()> {
        for (run, k) in self.extra_seed_runs(plan) {
            let t = Instant::now();
            let job = self.job(&run, k);
            let (meta, skipped) = self.up_to_date_or_train(&job, mnist)?;
            eprintln!("{}: test error {:.2}%", job.id, 100.0 * meta.test_error);
            stages.push(StageTime {
                stage: format!("train {}", job.id),
                seconds: t.elapsed().as_secs_f64(),
                skipped,
            });
        }
        Ok(())
    }

    /// The paper's optimizer: the softmax models and N100-100-10 trained again with
    /// full-batch L-BFGS (`--optimizer lbfgs`), saved as `<id>-lbfgs`, errors beside the
    /// minibatch ones.
    fn lbfgs_stage(
        &self,
        mnist: &blindspot_data::Mnist,
        minibatch: &[ModelResult],
        stages: &mut Vec<StageTime>,
    ) -> anyhow::Result<Vec<LbfgsResult>> {
        // One "epoch" is one L-BFGS step of up to 20 iterations on the whole training set.
        let steps = match self.scale {
            Scale::Smoke => 2,
            Scale::Default => 15,
            Scale::Paper => 50,
        };
        let mut out = Vec::new();
        for run in ModelRun::reproduction_set()
            .into_iter()
            .filter(|r| r.split == Split::Train && LBFGS_MODELS.contains(&r.spec.name))
        {
            let t = Instant::now();
            let id = format!("{}-lbfgs", run.id());
            let config = TrainConfig {
                optimizer: Optimizer::Lbfgs,
                epochs: steps,
                ..run.train_config(self.scale, self.seed)
            };
            let dir = self.common.model_dir(&id);
            let job = TrainJob::new(id.clone(), &run, self.scale, config, None, dir);
            let (meta, skipped) = self.up_to_date_or_train(&job, mnist)?;
            let Some(mb) = minibatch.iter().find(|r| r.id == run.id()) else {
                continue;
            };
            eprintln!(
                "{id}: test error {:.2}% (minibatch {:.2}%)",
                100.0 * meta.test_error,
                100.0 * mb.test_error
            );
            out.push(LbfgsResult {
                id: run.id(),
                minibatch_test_error: mb.test_error,
                lbfgs_train_error: meta.train_error,
                lbfgs_test_error: meta.test_error,
                lbfgs_iterations: 20 * steps,
                lbfgs_seconds: meta.train_seconds,
            });
            stages.push(StageTime {
                stage: format!("train {id}"),
                seconds: t.elapsed().as_secs_f64(),
                skipped,
            });
        }
        Ok(out)
    }

    /// Images attacked per model for Table 1's distortion column.
    fn attack_images(&self) -> usize {
        match self.scale {
            Scale::Smoke => 20,
            Scale::Default => 1_000,
            Scale::Paper => 60_000,
        }
    }

    /// Test images attacked per model for Tables 3 and 4.
    fn attack_test_images(&self) -> usize {
        match self.scale {
            Scale::Smoke => 20,
            Scale::Default => 1_000,
            Scale::Paper => 10_000,
        }
    }

    /// Attacks the first N training images of every Table 1 model, untargeted and towards a
    /// random wrong label.
    fn attack_stage(
        &self,
        mnist: &blindspot_data::Mnist,
        stages: &mut Vec<StageTime>,
    ) -> anyhow::Result<Vec<DistortionResult>> {
        let paper = PaperTables::load().context("parsing the embedded paper tables")?;
        let data = mnist.split(Split::Train);
        let n = self.attack_images().min(data.len());
        let images = data.head(n, Split::Train)?;
        let mut out = Vec::new();
        for row in &paper.table1.rows {
            let id = &row.model;
            let mut readings = Vec::new();
            let t = Instant::now();
            let mut skipped = true;
            let mut random_dir = None;
            for goal in [Goal::Untargeted, Goal::Random] {
                let config = AnyAttack::from(AttackConfig {
                    goal,
                    seed: self.seed,
                    ..AttackConfig::default()
                });
                let (summary, dir, up_to_date) =
                    up_to_date_or_attack(id, &images, Split::Train, &config, &self.common)?;
                skipped &= up_to_date;
                if goal == Goal::Random {
                    random_dir = Some(dir);
                }
                eprintln!(
                    "attack {id} {goal}: success {:.1}%, mean distortion {:.4}",
                    100.0 * summary.success_rate,
                    summary.mean_distortion
                );
                readings.push(summary);
            }
            if let Some(dir) = random_dir {
                let figures = self.figures(id, &dir)?;
                let sources = [
                    self.common.model_source(id)?,
                    self.common.attack_source(&dir)?,
                ];
                self.common.record(&figures, &sources)?;
            }
            out.push(DistortionResult {
                id: id.clone(),
                images: n,
                split: Split::Train.name().into(),
                misclassified: readings[0].misclassified,
                untargeted_mean: readings[0].mean_distortion,
                untargeted_success: readings[0].success_rate,
                random_mean: readings[1].mean_distortion,
                random_success: readings[1].success_rate,
                seconds: readings.iter().map(|s| s.seconds).sum(),
            });
            stages.push(StageTime {
                stage: format!("attack {id}"),
                seconds: t.elapsed().as_secs_f64(),
                skipped,
            });
        }
        Ok(out)
    }

    /// Figure 5 (adversarial examples) and Figure 7's counterpart (Gaussian noise of the same
    /// RMS) for the first successful random-target examples of a model.
    fn figures(&self, id: &str, attack: &Path) -> anyhow::Result<[PathBuf; 2]> {
        const ROWS: usize = 8;
        let (_, t) = load(attack).with_context(|| format!("reading {}", attack.display()))?;
        let get = |name: &str| {
            t.get(name)
                .with_context(|| format!("{}: no tensor `{name}`", attack.display()))
        };
        let (x, adv, ok) = (get("x")?, get("x_adv")?, get("success")?);
        let shape = input_shape_of(&t).with_context(|| format!("reading {}", attack.display()))?;
        let dim: usize = shape.iter().product();
        anyhow::ensure!(
            x.values.len() == ok.values.len() * dim && adv.values.len() == x.values.len(),
            "{}: inconsistent tensor shapes",
            attack.display()
        );
        let rows: Vec<(Vec<f32>, Vec<f32>)> = (0..ok.values.len())
            .filter(|&i| ok.values[i] > 0.5)
            .take(ROWS)
            .map(|i| {
                let r = i * dim..(i + 1) * dim;
                (x.values[r.clone()].to_vec(), adv.values[r].to_vec())
            })
            .collect();
        let noisy: Vec<(Vec<f32>, Vec<f32>)> = rows
            .iter()
            .enumerate()
            .map(|(i, (o, a))| {
                let rms = blindspot_attack::distortion::rms(o, a);
                let seed = self.seed + i as u64;
                (
                    o.clone(),
                    gaussian_noise(o, rms, seed, blindspot_models::Bounds::UNIT),
                )
            })
            .collect();
        let dir = self.common.out.join("report").join("figures");
        let files = [
            dir.join(format!("{id}-adversarial.png")),
            dir.join(format!("{id}-noise.png")),
        ];
        save_png(&grid(&rows, ImageFormat::unit(shape), 3)?, &files[0])?;
        save_png(&grid(&noisy, ImageFormat::unit(shape), 3)?, &files[1])?;
        Ok(files)
    }

    fn write_outputs(&self, o: &Outputs<'_>, stages: &[StageTime]) -> anyhow::Result<()> {
        let (results, lbfgs, distortions) = (o.results, o.lbfgs, o.distortions);
        let tables = self.common.out.join("tables");
        write_json(&tables.join("models.json"), &results)?;
        write_json(&tables.join("distortion.json"), &distortions)?;
        write_json(&tables.join("lbfgs.json"), &lbfgs)?;
        let mut csv = String::from(
            "id,model,split,train_error,test_error,p1_error,p2_error,target_test_error,train_seconds,train_examples\n",
        );
        for r in results {
            csv += &format!(
                "{},{},{},{},{},{},{},{},{:.1},{}\n",
                r.id,
                r.model,
                r.split,
                r.train_error,
                r.test_error,
                r.p1_error,
                r.p2_error,
                r.target_test_error,
                r.train_seconds,
                r.train_examples
            );
        }
        write_atomic(&tables.join("models.csv"), csv.as_bytes())?;
        self.record_tables(o)?;

        let paper = PaperTables::load().context("parsing the embedded paper tables")?;
        let command = format!(
            "blindspot reproduce --scale {} --backend {}",
            self.scale,
            self.common.backend.name()
        );
        let mut md = render_header(self.scale.name(), self.common.backend.name(), &command);
        if self.scale == Scale::Smoke {
            md += "\n> **Smoke scale**: 2,000 training examples and 2 epochs per model. These numbers check the pipeline, not the paper.\n";
        }
        md += "\n";
        md += &render_models_section(results, &paper);
        md += "\n";
        md += &render_lbfgs_section(lbfgs, &paper);
        md += "\n";
        md += &render_distortion_section(distortions, &paper);
        md += "\n## Figures 5 and 7\n\nRandom-target adversarial examples of the training images above (columns: original | difference ×10 around mid-grey | adversarial), and beside them the same images with Gaussian noise of the same RMS distortion (clipped to [0, 1]).\n\n| model | Figure 5: adversarial | Figure 7: noise of the same RMS |\n|---|---|---|\n";
        for d in distortions {
            md += &format!(
                "| {0} | ![{0} adversarial](figures/{0}-adversarial.png) | ![{0} noise](figures/{0}-noise.png) |\n",
                d.id
            );
        }
        md += "\n";
        md += &render_transfer_section(o.transfer, &paper);
        md += "\n";
        md += &render_attack_transfer_section(o.attack_transfer, o.attack_transfer_images);
        md += "\n";
        let epochs = ModelRun::reproduction_set()
            .iter()
            .find(|r| r.id() == "n100-100-10")
            .map_or(0, |r| r.train_config(self.scale, self.seed).epochs);
        md += &render_advtrain_section(o.adversarial, o.adversarial_seeds, epochs);
        md += "\n";
        let figures: Vec<String> = o
            .robustness
            .iter()
            .map(|t| format!("figures/{}", robustness_figure_name(t)))
            .collect();
        md += &render_robustness_section(o.robustness, &figures);
        md += "\n";
        md += &render_units_section(o.units);
        md += "\n";
        md += &render_spectral_section(o.spectral, &paper);
        md += "\n";
        md += &self.benchmark_section();
        md += "\n";
        md += &self.provenance_section()?;
        md += "\n## Stage times\n\n| stage | seconds | skipped (up to date) |\n|---|---|---|\n";
        for s in stages {
            md += &format!(
                "| {} | {:.1} | {} |\n",
                s.stage,
                s.seconds,
                if s.skipped { "yes" } else { "" }
            );
        }
        write_atomic(
            &self.common.out.join("report").join("README.md"),
            md.as_bytes(),
        )?;
        Ok(())
    }
}

impl ReproduceArgs {
    /// Records the provenance of the tables `write_outputs` writes: Table 1's models (and
    /// their L-BFGS twins) and the attacks of its distortion column.
    fn record_tables(&self, o: &Outputs<'_>) -> anyhow::Result<()> {
        let (common, tables) = (&self.common, self.common.out.join("tables"));
        let models = o
            .results
            .iter()
            .map(|r| common.model_source(&r.id))
            .collect::<anyhow::Result<Vec<_>>>()?;
        common.record(
            &[tables.join("models.json"), tables.join("models.csv")],
            &models,
        )?;
        let mut lbfgs = Vec::new();
        for r in o.lbfgs {
            lbfgs.push(common.model_source(&r.id)?);
            lbfgs.push(common.model_source(&format!("{}-lbfgs", r.id))?);
        }
        common.record(&[tables.join("lbfgs.json")], &lbfgs)?;
        let mut attacks = Vec::new();
        for d in o.distortions {
            attacks.push(common.model_source(&d.id)?);
            for goal in [Goal::Untargeted, Goal::Random] {
                attacks.push(common.attack_source(&attack_dir(
                    &common.out,
                    &d.id,
                    Split::Train,
                    &AnyAttack::lbfgs(goal),
                ))?);
            }
        }
        common.record(&[tables.join("distortion.json")], &attacks)
    }

    /// Checks every table and figure of the output directory against `provenance.json` (see
    /// [`blindspot_report::provenance`]) and says in the report which runs wrote them and any
    /// whose inputs changed since, or that no run recorded.
    fn provenance_section(&self) -> anyhow::Result<String> {
        let out = &self.common.out;
        let manifest = Manifest::load(out)?;
        let mut files = Vec::new();
        for dir in ["tables", "report/figures"] {
            let Ok(entries) = std::fs::read_dir(out.join(dir)) else {
                continue;
            };
            for entry in entries {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') {
                    files.push(format!("{dir}/{name}"));
                }
            }
        }
        files.sort();
        let stale = manifest.check(out, &files);
        let runs = manifest.runs(&files);
        Ok(render_provenance_section(
            files.len(),
            &runs,
            &run_id(),
            &stale,
        ))
    }

    /// The benchmark tables that `cargo xtask bench` left under `<out>/bench/` (they time ours
    /// against the Python peers, so they are not part of this run), or how to make them.
    fn benchmark_section(&self) -> String {
        let bench = self.common.out.join("bench");
        let mut md = String::from("## Benchmarks\n\n");
        let mut found = false;
        for (file, command) in [
            (
                "attack-untargeted.md",
                "cargo xtask bench attack --goal untargeted",
            ),
            (
                "attack-untargeted-n1000.md",
                "cargo xtask bench attack --goal untargeted --n 1000 --n-foolbox 100 --n-slow 100",
            ),
            ("frontier.md", "cargo xtask bench frontier"),
            ("train.md", "cargo xtask bench train"),
        ] {
            match std::fs::read_to_string(bench.join(file)) {
                Ok(text) => {
                    found = true;
                    // Two levels down: the files start with their own `#` title.
                    for line in text.lines() {
                        if line.starts_with('#') {
                            md += "##";
                        }
                        // Figures beside the table are linked from the report's folder.
                        md += &line.replace("](frontier-", "](../bench/frontier-");
                        md.push('\n');
                    }
                    md.push('\n');
                }
                Err(_) => {
                    md += &format!(
                        "`{command}` writes `bench/{file}`; it has not been run for this output directory.\n\n"
                    );
                }
            }
        }
        if found {
            md += "(Copied from `bench/`; each table says when and how it was measured.)\n";
        }
        md
    }
}

/// The first line of the mark [`mark_report_unfinished`] puts on a report.
const UNFINISHED_MARK: &str = "<!-- blindspot: unfinished run -->";

/// Puts at the top of `<out>/report/README.md` (when there is one, from an earlier run) a
/// mark that a run started after it and has not finished — or, with `error`, failed — so the
/// tables and figures beside it may be newer than the report; replaces an earlier mark. The
/// run's complete report replaces the whole file.
fn mark_report_unfinished(out: &Path, error: Option<&str>) -> anyhow::Result<()> {
    let path = out.join("report").join("README.md");
    let report = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let body = match report.strip_prefix(UNFINISHED_MARK) {
        Some(rest) => rest.split_once("\n\n").map_or("", |(_, body)| body),
        None => report.as_str(),
    };
    let run = blindspot_report::provenance::run_id();
    let what = match error {
        None => format!(
            "the run `{run}` started after this report was written and has not finished (or was killed)"
        ),
        Some(e) => format!(
            "the run `{run}` started after this report was written and failed: {}",
            e.replace('\n', " ")
        ),
    };
    let mark = format!(
        "{UNFINISHED_MARK}\n> **Not the latest run**: {what}. Tables and figures in `tables/` and \
         `report/figures/` may be newer than this report and come from two runs; \
         `provenance.json` says which run wrote each and from which inputs.\n\n"
    );
    write_atomic(&path, (mark + body).as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_report_is_marked_while_a_run_is_unfinished_and_why_it_failed() {
        let out = tempfile::tempdir().unwrap();
        let readme = out.path().join("report").join("README.md");
        // No report yet: nothing to mark.
        mark_report_unfinished(out.path(), None).unwrap();
        assert!(!readme.exists());
        let report = "# blindspot report\n\nTable 1 ...\n\n## Stage times\n";
        std::fs::create_dir_all(readme.parent().unwrap()).unwrap();
        std::fs::write(&readme, report).unwrap();
        mark_report_unfinished(out.path(), None).unwrap();
        let marked = std::fs::read_to_string(&readme).unwrap();
        assert!(marked.starts_with(UNFINISHED_MARK), "{marked}");
        assert!(
            marked.contains("has not finished (or was killed)"),
            "{marked}"
        );
        assert!(marked.ends_with(report), "{marked}");
        // The run fails: the mark says why, once, above the same report.
        mark_report_unfinished(out.path(), Some("attacking softmax1\nout of memory")).unwrap();
        let failed = std::fs::read_to_string(&readme).unwrap();
        assert_eq!(failed.matches(UNFINISHED_MARK).count(), 1, "{failed}");
        assert!(
            failed.contains("failed: attacking softmax1 out of memory."),
            "{failed}"
        );
        assert!(!failed.contains("has not finished"), "{failed}");
        assert!(failed.ends_with(report), "{failed}");
    }
}
