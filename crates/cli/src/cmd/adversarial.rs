//! The `reproduce` stage of adversarial training (end of section 4.2): n100-100-10 trained with
//! weight decay alone, with dropout, and with pools of adversarial examples, on the same data,
//! epochs and seeds; each model's test error and mean minimum distortion on test images.

use std::time::Instant;

use anyhow::Context;
use blindspot_advtrain::{AscentConfig, Levels, Method, PoolConfig, method_run_id};
use blindspot_attack::{AnyAttack, Goal, Norm, PgdConfig};
use blindspot_data::{Mnist, Split, write_atomic};
use blindspot_models::{ModelRun, Scale, model_spec};
use blindspot_report::transfer::MeanStd;
use blindspot_report::{AdvTrainResult, RobustAt};

use crate::cmd::attack::up_to_date_or_attack;
use crate::cmd::train::{TRAINING_FILE, load_training_report};
use crate::cmd::transfer::seeded_id;
use crate::common::CommonArgs;
use crate::jobs::TrainJob;

/// What the stage trains and measures.
#[derive(Debug, Clone)]
pub struct AdvTrainPlan {
    /// The methods, baselines first.
    pub methods: Vec<Method>,
    /// Seeds (`seed`, `seed + 1`, …); models of seed index `k > 0` are saved as `<id>-s<k>`.
    pub seeds: usize,
    /// The first seed.
    pub seed: u64,
    /// Test images attacked per model for the distortion column.
    pub attacked_images: usize,
}

impl AdvTrainPlan {
    /// The plan of a `reproduce` scale: decay, dropout, pools of examples for the input only,
    /// the hidden layers only and every level (the paper's scheme), and cheap examples of
    /// every minibatch (FGSM, PGD), with 3 seeds at paper scale and one at default scale; at
    /// smoke scale only the paper's scheme among the pools.
    pub fn for_scale(scale: Scale, seed: u64) -> Self {
        // At smoke scale a run is 126 steps: the pool starts early and refreshes often so that
        // the stage exercises it.
        let pool = match scale {
            Scale::Smoke => PoolConfig {
                size: 1_000,
                warmup_steps: 20,
                refresh_every: 20,
                refresh: 100,
                ..PoolConfig::default()
            },
            _ => PoolConfig::default(),
        };
        let adversarial = |levels| Method::Adversarial {
            levels,
            pool: pool.clone(),
        };
        let mut methods = vec![Method::Decay, Method::dropout()];
        match scale {
            Scale::Smoke => methods.push(adversarial(Levels::All)),
            _ => methods.extend(Levels::ALL.map(adversarial)),
        }
        methods.push(Method::Ascent(AscentConfig::fgsm()));
        methods.push(Method::Ascent(AscentConfig::pgd()));
        Self {
            methods,
            seeds: if scale == Scale::Paper { 3 } else { 1 },
            seed,
            attacked_images: match scale {
                Scale::Smoke => 20,
                Scale::Default => 1_000,
                Scale::Paper => 10_000,
            },
        }
    }
}

impl AdvTrainPlan {
    /// The network every method trains: n100-100-10 on the full training set.
    fn model_run() -> anyhow::Result<ModelRun> {
        Ok(ModelRun {
            spec: model_spec("n100-100-10")?,
            split: Split::Train,
        })
    }

    /// The training of `method` with seed index `k`, saved as `<id>-<method>[-s<k>]`.
    fn job(
        &self,
        run: &ModelRun,
        method: &Method,
        k: usize,
        scale: Scale,
        common: &CommonArgs,
    ) -> TrainJob {
        let id = seeded_id(&method_run_id(run, method), k);
        let config = run.train_config(scale, self.seed + k as u64);
        let dir = common.model_dir(&id);
        TrainJob::new(id, run, scale, config, Some(method.clone()), dir)
    }

    /// Every training of the plan, method by method, seed by seed.
    pub fn jobs(&self, scale: Scale, common: &CommonArgs) -> anyhow::Result<Vec<TrainJob>> {
        let run = Self::model_run()?;
        Ok(self
            .methods
            .iter()
            .flat_map(|m| (0..self.seeds).map(move |k| (m, k)))
            .map(|(m, k)| self.job(&run, m, k, scale, common))
            .collect())
    }
}

fn describe(method: &Method) -> String {
    match method {
        Method::Decay => "weight decay alone".into(),
        Method::Dropout { input, hidden } => {
            format!(
                "dropout {:.0}% pixels, {:.0}% hidden units",
                100.0 * input,
                100.0 * hidden
            )
        }
        Method::Adversarial { levels, pool } => format!(
            "pool of {} examples per level ({levels}), {} fresh every {} steps after {}, {} per clean example",
            pool.size, pool.refresh, pool.refresh_every, pool.warmup_steps, pool.mix
        ),
        Method::Ascent(a) if a.steps == 1 => format!(
            "FGSM examples of every minibatch (L∞ ε = {}), clean weight α = {}",
            a.epsilon, a.alpha
        ),
        Method::Ascent(a) => format!(
            "{}-step PGD examples of every minibatch (L∞ ε = {}), clean weight α = {}",
            a.steps, a.epsilon, a.alpha
        ),
    }
}

/// The L∞ radii of the robust-accuracy columns.
const ROBUST_EPSILONS: [f64; 2] = [0.05, 0.1];

/// Untargeted L∞ PGD at `epsilon`: 40 steps of `2.5·ε/40` from one random start.
fn robust_attack(epsilon: f64) -> AnyAttack {
    let epsilon = epsilon as f32;
    AnyAttack::Pgd(PgdConfig {
        goal: Goal::Untargeted,
        norm: Norm::Linf,
        epsilon,
        steps: 40,
        step_size: 2.5 * epsilon / 40.0,
        ..PgdConfig::default()
    })
}

/// Trains (or finds up to date) every method × seed on n100-100-10, attacks the first test
/// images of each model (untargeted L-BFGS for the distortion, L∞ PGD at
/// [`ROBUST_EPSILONS`]), and returns one row per method.
pub fn adversarial_stage(
    plan: &AdvTrainPlan,
    scale: Scale,
    mnist: &Mnist,
    common: &CommonArgs,
) -> anyhow::Result<Vec<AdvTrainResult>> {
    let run = AdvTrainPlan::model_run()?;
    let test = mnist.split(Split::Test);
    let images = test.head(plan.attacked_images.min(test.len()), Split::Test)?;
    let mut rows = Vec::new();
    let mut sources = Vec::new();
    for method in &plan.methods {
        let mut test_errors = Vec::new();
        let mut train_errors = Vec::new();
        let mut distortions = Vec::new();
        let mut seconds = Vec::new();
        let mut generation = Vec::new();
        let mut robust = vec![Vec::new(); ROBUST_EPSILONS.len()];
        for k in 0..plan.seeds {
            let job = plan.job(&run, method, k, scale, common);
            let (id, dir) = (&job.id, &job.dir);
            let meta = match job.up_to_date(mnist)? {
                Some(m) => {
                    eprintln!("{}: up to date, skipped", dir.display());
                    m
                }
                None => {
                    let t = Instant::now();
                    let meta = job.train(mnist, common)?;
                    eprintln!(
                        "{id}: test error {:.2}% ({:.0} s)",
                        100.0 * meta.test_error,
                        t.elapsed().as_secs_f64()
                    );
                    meta
                }
            };
            let report = load_training_report(dir)?;
            let generation_seconds = report["generation_seconds"].as_f64();
            generation.push(generation_seconds.with_context(|| {
                format!(
                    "{}: no generation_seconds",
                    dir.join(TRAINING_FILE).display()
                )
            })?);
            let attack = AnyAttack::lbfgs(Goal::Untargeted);
            let (summary, attack_dir, _) =
                up_to_date_or_attack(id, &images, Split::Test, &attack, common)
                    .with_context(|| format!("attacking {id}"))?;
            sources.push(common.checkpoint_source(dir)?);
            sources.push(common.file_source(&dir.join(TRAINING_FILE))?);
            sources.push(common.attack_source(&attack_dir)?);
            for (accuracies, &epsilon) in robust.iter_mut().zip(&ROBUST_EPSILONS) {
                let pgd = robust_attack(epsilon);
                let (summary, dir, _) =
                    up_to_date_or_attack(id, &images, Split::Test, &pgd, common)
                        .with_context(|| format!("{} on {id}", pgd.label()))?;
                sources.push(common.attack_source(&dir)?);
                accuracies.push(1.0 - summary.success_rate);
            }
            test_errors.push(meta.test_error);
            train_errors.push(meta.train_error);
            distortions.push(summary.mean_distortion);
            seconds.push(meta.train_seconds);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        rows.push(AdvTrainResult {
            method: method.slug(),
            description: describe(method),
            test_error: MeanStd::of(&test_errors),
            train_error: MeanStd::of(&train_errors),
            distortion: MeanStd::of(&distortions),
            attacked_images: images.len(),
            train_seconds: mean(&seconds),
            generation_seconds: mean(&generation),
            robust_accuracy: ROBUST_EPSILONS
                .iter()
                .zip(&robust)
                .map(|(&epsilon, a)| RobustAt {
                    epsilon,
                    accuracy: MeanStd::of(a),
                })
                .collect(),
        });
    }
    let json = common.out.join("tables").join("adversarial_training.json");
    write_atomic(&json, &serde_json::to_vec_pretty(&rows)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let mut csv = String::from(
        "method,test_error_mean,test_error_std,train_error_mean,distortion_mean,distortion_std,seeds,train_seconds,generation_seconds\n",
    );
    for r in &rows {
        csv += &format!(
            "{},{},{},{},{},{},{},{:.1},{:.1}\n",
            r.method,
            r.test_error.mean,
            r.test_error.std,
            r.train_error.mean,
            r.distortion.mean,
            r.distortion.std,
            r.test_error.n,
            r.train_seconds,
            r.generation_seconds
        );
    }
    let path = common.out.join("tables").join("adversarial_training.csv");
    write_atomic(&path, csv.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    common.record(&[json, path], &sources)?;
    Ok(rows)
}
