//! Trainings run side by side in child processes.
//!
//! On the CPU backends the paper's small networks (minibatches of 16 through layers of 100–400
//! units) keep one core busy: their matrix products are too small for flex to split, so a
//! `reproduce` that trains one model after another leaves the other cores idle (on 2 cores,
//! N100-100-10 trained in 184 s on one thread beside two other trainings, in 171 s on two
//! threads alone). `reproduce` therefore hands the trainings that are not up to date to
//! `blindspot train-job` children, `--jobs` at a time, each with its share of the cores, and
//! then reads their checkpoints as up to date.
//!
//! Processes, not threads: Burn's CPU backends keep their random generator in one global
//! (`Backend::seed`), so two trainings in one process would interleave their draws and neither
//! would be reproducible from its seed. A child trains exactly what the parent would have
//! trained, from the same serialized recipe, so its checkpoint carries the same fingerprint.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use blindspot_advtrain::{Method, method_fingerprint};
use blindspot_data::files::{Seal, check_seal, seal_json};
use blindspot_data::{Mnist, Split, write_atomic};
use blindspot_models::{ModelRun, Scale, TrainConfig, checkpoint, model_spec, run_sizes};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::cmd::train::{load_training_report, train_and_save, train_method_and_save};
use crate::common::CommonArgs;

/// One training, as the parent would run it: the catalogue model, its split, scale and recipe,
/// the method (adversarial training or a baseline; none for the catalogue's own loss) and the
/// directory of its checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainJob {
    /// The run id (directory name), for progress and logs.
    pub id: String,
    /// Catalogue name of the model.
    pub model: String,
    /// Name of the training split (`train`, `p1`, `p2`).
    pub split: String,
    /// The scale the data subsets come from.
    pub scale: Scale,
    /// The recipe, seed included.
    pub config: TrainConfig,
    /// Adversarial training or a baseline of section 4.2; `None`: the model's own loss.
    pub method: Option<Method>,
    /// Where the checkpoint goes.
    pub dir: PathBuf,
}

impl TrainJob {
    /// A job for `run` with `config`, saved in `dir`.
    pub fn new(
        id: String,
        run: &ModelRun,
        scale: Scale,
        config: TrainConfig,
        method: Option<Method>,
        dir: PathBuf,
    ) -> Self {
        Self {
            id,
            model: run.spec.name.to_owned(),
            split: run.split.name().to_owned(),
            scale,
            config,
            method,
            dir,
        }
    }

    /// The model run this job trains.
    pub fn run(&self) -> anyhow::Result<ModelRun> {
        Ok(ModelRun {
            spec: model_spec(&self.model)?,
            split: self.split.parse::<Split>()?,
        })
    }

    /// Checks what can be checked without the data: the model and split exist, and the recipe
    /// and the method are valid.
    pub fn check(&self) -> anyhow::Result<()> {
        self.run()?;
        self.config.validate()?;
        if let Some(method) = &self.method {
            method.validate()?;
        }
        Ok(())
    }

    /// The fingerprint its checkpoint carries once trained.
    pub fn fingerprint(&self, mnist: &Mnist) -> anyhow::Result<String> {
        let run = self.run()?;
        Ok(match &self.method {
            Some(method) => method_fingerprint(&run, mnist, self.scale, &self.config, method)?,
            None => {
                let (train, test) = run_sizes(&run, mnist, self.scale);
                run.fingerprint(&self.config, train, test)
            }
        })
    }

    /// The checkpoint's metadata if it is there with this job's fingerprint, weights that
    /// load and were saved with that `model.json` and, for a method's job, the `training.json`
    /// written with those weights: a truncated, foreign or half-written checkpoint is
    /// retrained, not accepted and failed on later. A file that is there but cannot be read
    /// (a permission, a device error) is an error, not a reason to retrain.
    pub fn up_to_date(&self, mnist: &Mnist) -> anyhow::Result<Option<checkpoint::ModelMeta>> {
        let fingerprint = self.fingerprint(mnist)?;
        let context = || format!("reading the checkpoint in {}", self.dir.display());
        let meta = match checkpoint::load(&self.dir, &burn::tensor::Device::default()) {
            Ok((_, meta)) => meta,
            Err(e) if e.is_read_failure() => return Err(e).with_context(context),
            Err(_) => return Ok(None),
        };
        if meta.fingerprint != fingerprint {
            return Ok(None);
        }
        if self.method.is_some() && load_training_report(&self.dir).is_err() {
            return Ok(None);
        }
        Ok(Some(meta))
    }

    /// Trains and saves the model in this process.
    pub fn train(
        &self,
        mnist: &Mnist,
        common: &CommonArgs,
    ) -> anyhow::Result<checkpoint::ModelMeta> {
        let run = self.run()?;
        match &self.method {
            Some(method) => train_method_and_save(
                &run,
                mnist,
                self.scale,
                &self.config,
                method,
                common,
                &self.dir,
            ),
            None => train_and_save(
                &run,
                mnist,
                self.scale,
                &self.config,
                &common.device()?,
                common,
                &self.dir,
            ),
        }
    }
}

/// Options of `blindspot train-job`, the child side of [`run_jobs`] (hidden from `--help`).
#[derive(Args, Debug)]
pub struct TrainJobArgs {
    /// A JSON file holding a [`TrainJob`].
    #[arg(long)]
    pub spec: PathBuf,
    /// The process id of the `reproduce` that started this job: the job stops as soon as that
    /// process is gone (see [`exit_with_parent`]).
    #[arg(long)]
    pub parent: Option<u32>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl TrainJobArgs {
    /// Trains the job and prints one line with its errors.
    pub fn run(self) -> anyhow::Result<()> {
        if let Some(parent) = self.parent {
            exit_with_parent(parent);
        }
        let text = std::fs::read(&self.spec)
            .with_context(|| format!("reading {}", self.spec.display()))?;
        match check_seal(&text) {
            Ok(Seal::Intact) => {}
            Ok(Seal::Absent) => anyhow::bail!("{}: not sealed by `blindspot`", self.spec.display()),
            Err(why) => anyhow::bail!("{}: {why}", self.spec.display()),
        }
        let job: TrainJob = serde_json::from_slice(&text)
            .with_context(|| format!("parsing the job in {}", self.spec.display()))?;
        // A spec that parses but names no catalogue model or split, or holds an invalid
        // recipe, is refused here, naming the file, before any data are read.
        job.check()
            .with_context(|| format!("checking the job in {}", self.spec.display()))?;
        let mnist = self.common.mnist()?;
        let meta = job.train(&mnist, &self.common)?;
        println!(
            "{}: train error {:.2}%, test error {:.2}% ({:.0} s)",
            job.id,
            100.0 * meta.train_error,
            100.0 * meta.test_error,
            meta.train_seconds
        );
        Ok(())
    }
}

/// Ends this process as soon as its parent `parent` is gone, checked every 200 ms on a
/// background thread.
///
/// A `reproduce` killed alone (SIGKILL, SIGTERM, a CI timeout) cannot stop its children, and
/// a child training on would race the resumed run for the same checkpoint. On Unix a process
/// whose parent died is re-parented, so `parent_id()` changes; this needs no signal handler
/// and no `unsafe` (`prctl(PR_SET_PDEATHSIG)` would need both). The child's writes are atomic
/// renames, so ending it between two of them leaves whole files: at worst a temporary file
/// that the next write of the same path replaces. Elsewhere than Unix it does nothing.
pub fn exit_with_parent(parent: u32) {
    #[cfg(unix)]
    {
        let check = move || {
            if std::os::unix::process::parent_id() != parent {
                eprintln!(
                    "train-job: the run that started it (process {parent}) is gone; stopping"
                );
                std::process::exit(3);
            }
        };
        check();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                check();
            }
        });
    }
    #[cfg(not(unix))]
    let _ = parent;
}

/// The default of `--jobs`: one training per core on a CPU backend (at most 4, each with its
/// share of the cores), one on a GPU.
pub fn default_parallel(common: &CommonArgs) -> usize {
    if common.backend.is_cpu() {
        blindspot_attack::cpu_workers().clamp(1, 4)
    } else {
        1
    }
}

/// A child at work.
struct Running {
    job: usize,
    child: Child,
    log: PathBuf,
    started: Instant,
}

/// Trains `jobs` in child processes of `program` (the `blindspot` binary), `parallel` at a time,
/// each child on `cores / parallel` threads (at least one). Their specs and logs go to
/// `<out>/jobs/<id>.json` and `<id>.log`. On a failure no new child starts, the running ones
/// finish (their checkpoints stay valid for a resumed run), and the error names the failed
/// job and ends with its log. Every job must then be up to date: a child that saved another
/// fingerprint than the parent expects is an error.
pub fn run_jobs(
    program: &Path,
    jobs: &[TrainJob],
    parallel: usize,
    common: &CommonArgs,
    mnist: &Mnist,
) -> anyhow::Result<()> {
    anyhow::ensure!(parallel >= 1, "--jobs must be at least 1");
    if jobs.is_empty() {
        return Ok(());
    }
    let dir = common.out.join("jobs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let threads = (blindspot_attack::cpu_workers() / parallel).max(1);
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} [{elapsed_precise}] {msg}")
            .expect("the template is valid"),
    );
    bar.set_prefix(format!("training, {parallel} at a time"));
    let mut next = 0;
    let mut running: Vec<Running> = Vec::new();
    let mut failed: Option<(usize, ExitStatus, PathBuf)> = None;
    while next < jobs.len() || !running.is_empty() {
        while failed.is_none() && next < jobs.len() && running.len() < parallel {
            match spawn(program, &jobs[next], next, &dir, threads, common) {
                Ok(child) => running.push(child),
                Err(e) => return Err(stop(&bar, running, e)),
            }
            next += 1;
        }
        bar.set_message(
            running
                .iter()
                .map(|r| jobs[r.job].id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        std::thread::sleep(Duration::from_millis(200));
        let mut i = 0;
        while i < running.len() {
            match running[i].child.try_wait() {
                Err(e) => {
                    let e = anyhow::Error::new(e).context("waiting for a training job");
                    return Err(stop(&bar, running, e));
                }
                Ok(None) => i += 1,
                Ok(Some(status)) => {
                    let r = running.remove(i);
                    bar.inc(1);
                    if status.success() {
                        let line = last_line(&r.log).unwrap_or_else(|| {
                            format!(
                                "{}: done ({:.0} s)",
                                jobs[r.job].id,
                                r.started.elapsed().as_secs_f64()
                            )
                        });
                        // A hidden bar (no terminal) prints nothing: say it on stderr then.
                        if bar.is_hidden() {
                            eprintln!("{line}");
                        } else {
                            bar.println(line);
                        }
                    } else if failed.is_none() {
                        failed = Some((r.job, status, r.log));
                    }
                }
            }
        }
        if failed.is_some() && running.is_empty() {
            break;
        }
    }
    bar.finish_and_clear();
    if let Some((job, status, log)) = failed {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(12).collect();
        anyhow::bail!(
            "training {} failed ({status}); the end of {}:\n{}",
            jobs[job].id,
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    for job in jobs {
        anyhow::ensure!(
            job.up_to_date(mnist)?.is_some(),
            "the child process saved {} with another configuration than this run's",
            job.dir.display()
        );
    }
    Ok(())
}

/// Stops the runner on `error`: clears the bar, lets the children that are still running finish
/// (their checkpoints stay valid for a resumed run) and returns `error`.
fn stop(bar: &ProgressBar, running: Vec<Running>, error: anyhow::Error) -> anyhow::Error {
    bar.finish_and_clear();
    if !running.is_empty() {
        eprintln!(
            "{error:#}; waiting for the {} training job(s) still running",
            running.len()
        );
    }
    for mut r in running {
        // Its own failure would only repeat the one being returned.
        let _ = r.child.wait();
    }
    error
}

/// Starts the child of job number `index`.
fn spawn(
    program: &Path,
    job: &TrainJob,
    index: usize,
    dir: &Path,
    threads: usize,
    common: &CommonArgs,
) -> anyhow::Result<Running> {
    let spec = dir.join(format!("{}.json", job.id));
    // Sealed with the SHA-256 of its text: the child refuses a spec changed on the way.
    let sealed = seal_json(&serde_json::to_vec_pretty(job)?).context("a job is a JSON object")?;
    write_atomic(&spec, &sealed).with_context(|| format!("writing {}", spec.display()))?;
    let log = dir.join(format!("{}.log", job.id));
    let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let mut command = Command::new(program);
    command
        .arg("train-job")
        .arg("--spec")
        .arg(&spec)
        .arg("--backend")
        .arg(common.backend.name())
        .arg("--out")
        .arg(&common.out)
        .arg("--parent")
        .arg(std::process::id().to_string())
        // The parent has the data already: a child never downloads.
        .arg("--offline")
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(data) = &common.data_dir {
        command.arg("--data-dir").arg(data);
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {} for {}", program.display(), job.id))?;
    Ok(Running {
        job: index,
        child,
        log,
        started: Instant::now(),
    })
}

/// The last non-empty line of a log.
fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::cmd::train::TRAINING_FILE;
    use blindspot_advtrain::{Levels, PoolConfig};
    use blindspot_data::splits::ImageShape;
    use blindspot_data::{Dataset, IMAGE_PIXELS};

    /// A tiny stand-in for MNIST: 20 training and 10 test images.
    fn fixture() -> Mnist {
        let set = |n: usize| {
            let images = (0..n * IMAGE_PIXELS)
                .map(|i| (i % 7) as f32 / 7.0)
                .collect();
            let labels = (0..n).map(|i| (i % 10) as u32).collect();
            Dataset::new(images, labels, ImageShape::MNIST).unwrap()
        };
        Mnist {
            train: set(20),
            test: set(10),
        }
    }

    fn common(out: &Path) -> CommonArgs {
        CommonArgs {
            backend: Backend::Flex,
            out: out.to_owned(),
            data_dir: None,
            offline: true,
            workers: None,
        }
    }

    fn job(out: &Path, seed: u64, method: Option<Method>) -> TrainJob {
        let run = ModelRun {
            spec: model_spec("n100-100-10").unwrap(),
            split: Split::P1,
        };
        let config = run.train_config(Scale::Default, seed);
        TrainJob::new(
            format!("job{seed}"),
            &run,
            Scale::Default,
            config,
            method,
            out.join("m"),
        )
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("blindspot-jobs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_job_read_back_from_its_json_has_the_same_fingerprint() {
        let mnist = fixture();
        let out = scratch("json");
        let adversarial = Method::Adversarial {
            levels: Levels::All,
            pool: PoolConfig {
                size: 123,
                mix: 0.3,
                ..PoolConfig::default()
            },
        };
        for method in [None, Some(Method::dropout()), Some(adversarial)] {
            let job = job(&out, 7, method);
            let back: TrainJob =
                serde_json::from_slice(&serde_json::to_vec_pretty(&job).unwrap()).unwrap();
            let fingerprint = job.fingerprint(&mnist).unwrap();
            assert_eq!(back.fingerprint(&mnist).unwrap(), fingerprint);
            assert_eq!(
                (back.run().unwrap().id(), back.dir),
                (job.run().unwrap().id(), job.dir.clone())
            );
            // The fingerprint tells recipes apart: another seed is another model.
            let other = TrainJob {
                config: job.config.clone().with_seed(8),
                ..job
            };
            assert_ne!(other.fingerprint(&mnist).unwrap(), fingerprint);
        }
    }

    #[test]
    fn a_checkpoint_of_another_recipe_version_or_with_cut_weights_is_stale() {
        let mnist = fixture();
        let out = scratch("recipe");
        let job = job(&out, 7, None);
        let run = job.run().unwrap();
        let (train, test) = run_sizes(&run, &mnist, job.scale);
        let write_meta = |fingerprint: String| {
            let meta = checkpoint::ModelMeta {
                name: run.id(),
                model: run.spec.name.into(),
                split: job.split.clone(),
                config: serde_json::to_value(&run.spec.architecture).unwrap(),
                train_config: serde_json::to_value(&job.config).unwrap(),
                seed: 7,
                data_sha256: String::new(),
                train_examples: train,
                train_error: 0.0,
                test_error: 0.0,
                train_seconds: 0.0,
                backend: "flex".into(),
                fingerprint,
            };
            let model = run
                .spec
                .architecture
                .init(&burn::tensor::Device::flex())
                .unwrap();
            checkpoint::save(&model, &meta, &job.dir).unwrap();
        };
        let of_version = |v: u32| run.fingerprint_of_version(&job.config, train, test, v);
        write_meta(of_version(blindspot_models::RECIPE_VERSION));
        assert!(job.up_to_date(&mnist).unwrap().is_some());
        // Trained by the code of the previous recipe version: to be retrained.
        write_meta(of_version(blindspot_models::RECIPE_VERSION - 1));
        assert!(job.up_to_date(&mnist).unwrap().is_none());
        // The right fingerprint beside weights cut short by a kill: retrained too.
        write_meta(of_version(blindspot_models::RECIPE_VERSION));
        let weights = job.dir.join(checkpoint::WEIGHTS_FILE);
        let bytes = std::fs::read(&weights).unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 1, 7] {
            std::fs::write(&weights, &bytes[..cut]).unwrap();
            assert!(job.up_to_date(&mnist).unwrap().is_none(), "cut at {cut}");
        }
        std::fs::write(&weights, &bytes).unwrap();
        assert!(job.up_to_date(&mnist).unwrap().is_some());
    }

    #[test]
    fn a_method_checkpoint_needs_the_report_of_its_weights_and_an_unreadable_file_is_an_error() {
        let mnist = fixture();
        let out = scratch("report");
        let job = job(&out, 7, Some(Method::dropout()));
        let run = job.run().unwrap();
        let save = || {
            let meta = checkpoint::ModelMeta {
                name: run.id(),
                model: run.spec.name.into(),
                split: job.split.clone(),
                config: serde_json::to_value(&run.spec.architecture).unwrap(),
                train_config: serde_json::to_value(&job.config).unwrap(),
                seed: 7,
                data_sha256: String::new(),
                train_examples: 20,
                train_error: 0.0,
                test_error: 0.0,
                train_seconds: 0.0,
                backend: "flex".into(),
                fingerprint: job.fingerprint(&mnist).unwrap(),
            };
            let model = run
                .spec
                .architecture
                .init(&burn::tensor::Device::flex())
                .unwrap();
            checkpoint::save(&model, &meta, &job.dir).unwrap();
        };
        let report = job.dir.join(TRAINING_FILE);
        let write_report = || {
            let weights = checkpoint::weights_sha256(&job.dir).unwrap();
            let json = serde_json::json!({"generation_seconds": 1.5, "weights_sha256": weights});
            std::fs::write(&report, json.to_string()).unwrap();
        };
        save();
        // Killed after the checkpoint, before its report: not up to date.
        assert!(job.up_to_date(&mnist).unwrap().is_none());
        write_report();
        assert!(job.up_to_date(&mnist).unwrap().is_some());
        let loaded = crate::cmd::train::load_training_report(&job.dir).unwrap();
        assert_eq!(loaded["generation_seconds"].as_f64(), Some(1.5));
        // Retrained and killed before the new report: the old one is refused, not read as
        // the new model's (nor as 0 seconds).
        save();
        assert!(job.up_to_date(&mnist).unwrap().is_none());
        let stale = crate::cmd::train::load_training_report(&job.dir).unwrap_err();
        assert!(stale.to_string().contains("other weights"), "{stale}");
        std::fs::remove_file(&report).unwrap();
        let missing = crate::cmd::train::load_training_report(&job.dir).unwrap_err();
        assert!(missing.to_string().contains("reading"), "{missing}");
        // A model.json that is there but cannot be read is an error, not "retrain".
        let meta = job.dir.join(checkpoint::META_FILE);
        std::fs::remove_file(&meta).unwrap();
        std::fs::create_dir(&meta).unwrap();
        let err = job.up_to_date(&mnist).unwrap_err();
        assert!(format!("{err:#}").contains("model.json"), "{err:#}");
    }

    /// Held by the tests that start processes: one of them writes an executable and runs it,
    /// which fails with "text file busy" if another test forks while the file is open.
    static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[cfg(unix)]
    #[test]
    fn a_failing_child_is_an_error_that_names_the_job_and_its_log() {
        let _serial = SPAWNING.lock().unwrap_or_else(|e| e.into_inner());
        let out = scratch("fail");
        let jobs = [job(&out, 0, None), job(&out, 1, None)];
        let err = run_jobs(Path::new("false"), &jobs, 2, &common(&out), &fixture())
            .unwrap_err()
            .to_string();
        assert!(err.contains("training job0 failed"), "{err}");
        assert!(
            err.contains(&out.join("jobs").join("job0.log").display().to_string()),
            "{err}"
        );
        // The spec the child was given reads back as the job.
        let spec: TrainJob =
            serde_json::from_slice(&std::fs::read(out.join("jobs").join("job0.json")).unwrap())
                .unwrap();
        assert_eq!(spec.dir, jobs[0].dir);
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_child_that_leaves_no_matching_checkpoint_is_an_error() {
        let _serial = SPAWNING.lock().unwrap_or_else(|e| e.into_inner());
        let out = scratch("empty");
        let jobs = [job(&out, 0, None)];
        let err = run_jobs(Path::new("true"), &jobs, 2, &common(&out), &fixture())
            .unwrap_err()
            .to_string();
        assert!(err.contains("another configuration"), "{err}");
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_job_that_cannot_start_is_an_error_after_the_running_ones_finish() {
        use std::os::unix::fs::PermissionsExt;
        let _serial = SPAWNING.lock().unwrap_or_else(|e| e.into_inner());
        let out = scratch("spawn");
        // The second job's spec cannot be written: its folder would be where a file is.
        let jobs_dir = out.join("jobs");
        std::fs::create_dir_all(&jobs_dir).unwrap();
        std::fs::write(jobs_dir.join("blocked"), "a file, not a folder").unwrap();
        // The first job's child takes a second and leaves a mark when it ends.
        let finished = out.join("finished");
        let program = out.join("slow-child");
        let script = format!("#!/bin/sh\nsleep 1\ntouch '{}'\n", finished.display());
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut second = job(&out, 1, None);
        second.id = "blocked/job1".to_owned();
        let jobs = [job(&out, 0, None), second];
        let err = run_jobs(&program, &jobs, 2, &common(&out), &fixture()).unwrap_err();
        assert!(format!("{err:#}").contains("blocked"), "{err:#}");
        assert!(finished.exists(), "returned before the running child ended");
        std::fs::remove_dir_all(&out).unwrap();
    }
}
