//! `blindspot attack`: adversarial examples for a saved model, by the paper's box-constrained
//! L-BFGS or any other attack of `blindspot_attack` (`--attack`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use blindspot_attack::any::{self, AnyAttack};
use blindspot_attack::files::{self, AttackSummary};
use blindspot_attack::{Goal, Norm};
use blindspot_data::{Dataset, Split};
use blindspot_models::{checkpoint, to_inputs};
use burn::module::Module;
use clap::Args;

use crate::common::{CommonArgs, ModelArgs};
use crate::progress::AttackProgress;

/// Options of `blindspot attack`.
#[derive(Args, Debug)]
pub struct AttackArgs {
    #[command(flatten)]
    pub which: ModelArgs,
    /// Images to attack: the first `n` of this split.
    #[arg(long, default_value = "test")]
    pub split: Split,
    /// Number of images.
    #[arg(long, default_value_t = 100)]
    pub n: usize,
    /// The attack: `lbfgs` (the paper's), `fgsm`, `pgd`, `deepfool`, `ddn`, `fmn` or `cw`
    /// (Carlini & Wagner L2).
    #[arg(long, default_value = "lbfgs", value_parser = clap::builder::PossibleValuesParser::new(any::NAMES))]
    pub attack: String,
    /// `untargeted`, `random` (a seeded wrong label), `all` (every wrong label) or `target:K`.
    #[arg(long, default_value = "untargeted")]
    pub goal: Goal,
    /// Seed of the random targets (and of PGD's random starts).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// fgsm, pgd: the radius of the ball (default 0.1).
    #[arg(long)]
    pub epsilon: Option<f32>,
    /// pgd, deepfool, fmn: `l2` or `linf` (default: pgd linf, deepfool and fmn l2).
    #[arg(long)]
    pub norm: Option<Norm>,
    /// pgd, deepfool, ddn, fmn: iterations per problem; cw: Adam iterations per value of c
    /// (default: pgd 40, deepfool 50, ddn and fmn 100, cw 1,000).
    #[arg(long)]
    pub steps: Option<usize>,
    /// pgd: the step length; ddn, fmn: the first step of the cosine schedule; cw: Adam's
    /// learning rate (default: pgd 0.01, ddn and fmn 1, cw 0.01).
    #[arg(long)]
    pub step_size: Option<f32>,
    /// pgd: starts per image (default 1).
    #[arg(long)]
    pub restarts: Option<usize>,
    /// deepfool: the perturbation is scaled by 1 + overshoot (default 0.02).
    #[arg(long)]
    pub overshoot: Option<f32>,
    /// lbfgs, cw: runs per image in the search over c (default: lbfgs 12, cw 9).
    #[arg(long)]
    pub search_steps: Option<usize>,
    /// lbfgs, untargeted: rival classes tried per image (default 3).
    #[arg(long)]
    pub candidates: Option<usize>,
    /// lbfgs, cw: first c of every image's search.
    #[arg(long)]
    pub initial_c: Option<f64>,
    /// lbfgs: bracketing factor of the search over c.
    #[arg(long)]
    pub c_factor: Option<f64>,
    /// lbfgs: L-BFGS iterations per solver run at most.
    #[arg(long)]
    pub max_iterations: Option<usize>,
    /// lbfgs: curvature pairs the L-BFGS solver keeps per problem.
    #[arg(long)]
    pub memory: Option<usize>,
    /// lbfgs: a solver run stops when an iteration lowers the objective by less than this
    /// fraction.
    #[arg(long)]
    pub f_tolerance: Option<f32>,
    /// Problems per device batch (default: lbfgs 512, the others 256).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Output directory; default `<out>/attacks/<model>/<split>-<goal>` for lbfgs and
    /// `<out>/attacks/<model>/<attack>-<split>-<goal>` for the others (`<attack>` with its norm
    /// and ε, e.g. `pgd-linf-0.1`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl AttackArgs {
    /// Runs the attack and writes its files.
    pub fn run(self) -> anyhow::Result<()> {
        self.common.device()?; // an unavailable backend is the first thing to report
        let method = self.method()?;
        let model_dir = self.which.dir(&self.common)?;
        let mnist = self.common.mnist()?;
        let images = mnist.split(self.split).head(self.n, self.split)?;
        let name = model_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let out = self
            .dir
            .clone()
            .unwrap_or_else(|| attack_dir(&self.common.out, &name, self.split, &method));
        let summary =
            attack_saved_model(&model_dir, &images, self.split, &method, &self.common, &out)?;
        println!(
            "{} ({} {} images, {} {}): success {:.1}%, mean distortion {:.4}, median {:.4}, {:.1} images/s, {:.0} evaluations/problem -> {}",
            summary.model,
            summary.images,
            summary.split,
            summary.config.label(),
            summary.config.goal(),
            100.0 * summary.success_rate,
            summary.mean_distortion,
            summary.median_distortion,
            summary.images_per_second,
            summary.evaluations_per_problem,
            out.display()
        );
        Ok(())
    }

    /// The attack the flags ask for: its defaults, with every flag given set; a flag the attack
    /// does not take is an error rather than silently ignored.
    pub fn method(&self) -> anyhow::Result<AnyAttack> {
        let mut method = AnyAttack::default_of(&self.attack, self.goal)
            .with_context(|| format!("unknown attack `{}`", self.attack))?;
        match &mut method {
            AnyAttack::Lbfgs(c) => {
                c.seed = self.seed;
                assign(&mut c.search_steps, self.search_steps);
                assign(&mut c.candidates, self.candidates);
                assign(&mut c.initial_c, self.initial_c);
                assign(&mut c.c_factor, self.c_factor);
                assign(&mut c.solver.max_iterations, self.max_iterations);
                assign(&mut c.solver.memory, self.memory);
                assign(&mut c.solver.f_tolerance, self.f_tolerance);
                assign(&mut c.batch_size, self.batch_size);
            }
            AnyAttack::Fgsm(c) => {
                c.seed = self.seed;
                assign(&mut c.epsilon, self.epsilon);
                assign(&mut c.batch_size, self.batch_size);
            }
            AnyAttack::Pgd(c) => {
                c.seed = self.seed;
                assign(&mut c.epsilon, self.epsilon);
                assign(&mut c.norm, self.norm);
                assign(&mut c.steps, self.steps);
                assign(&mut c.step_size, self.step_size);
                assign(&mut c.restarts, self.restarts);
                assign(&mut c.batch_size, self.batch_size);
            }
            AnyAttack::DeepFool(c) => {
                c.seed = self.seed;
                assign(&mut c.norm, self.norm);
                assign(&mut c.steps, self.steps);
                assign(&mut c.overshoot, self.overshoot);
                assign(&mut c.batch_size, self.batch_size);
            }
            AnyAttack::Ddn(c) => {
                c.seed = self.seed;
                assign(&mut c.steps, self.steps);
                assign(&mut c.step_size, self.step_size);
                assign(&mut c.batch_size, self.batch_size);
            }
            AnyAttack::Fmn(c) => {
                c.seed = self.seed;
                assign(&mut c.norm, self.norm);
                assign(&mut c.steps, self.steps);
                assign(&mut c.alpha_init, self.step_size);
                assign(&mut c.batch_size, self.batch_size);
            }
            AnyAttack::Cw(c) => {
                c.seed = self.seed;
                assign(&mut c.steps, self.steps);
                assign(&mut c.step_size, self.step_size);
                assign(&mut c.search_steps, self.search_steps);
                assign(&mut c.initial_c, self.initial_c.map(|v| v as f32));
                assign(&mut c.batch_size, self.batch_size);
            }
        }
        // Which attacks take each flag.
        let flags: [(&str, bool, &[&str]); 13] = [
            ("--epsilon", self.epsilon.is_some(), &["fgsm", "pgd"]),
            ("--norm", self.norm.is_some(), &["pgd", "deepfool", "fmn"]),
            (
                "--steps",
                self.steps.is_some(),
                &["pgd", "deepfool", "ddn", "fmn", "cw"],
            ),
            (
                "--step-size",
                self.step_size.is_some(),
                &["pgd", "ddn", "fmn", "cw"],
            ),
            ("--restarts", self.restarts.is_some(), &["pgd"]),
            ("--overshoot", self.overshoot.is_some(), &["deepfool"]),
            (
                "--search-steps",
                self.search_steps.is_some(),
                &["lbfgs", "cw"],
            ),
            ("--candidates", self.candidates.is_some(), &["lbfgs"]),
            ("--initial-c", self.initial_c.is_some(), &["lbfgs", "cw"]),
            ("--c-factor", self.c_factor.is_some(), &["lbfgs"]),
            (
                "--max-iterations",
                self.max_iterations.is_some(),
                &["lbfgs"],
            ),
            ("--memory", self.memory.is_some(), &["lbfgs"]),
            ("--f-tolerance", self.f_tolerance.is_some(), &["lbfgs"]),
        ];
        let name = method.name();
        let unused: Vec<&str> = flags
            .iter()
            .filter(|(_, given, attacks)| *given && !attacks.contains(&name))
            .map(|(flag, _, _)| *flag)
            .collect();
        anyhow::ensure!(
            unused.is_empty(),
            "{} does not apply to --attack {name}",
            unused.join(", ")
        );
        method.validate().context("the attack's settings")?;
        Ok(method)
    }
}

/// Sets `field` to `value` when the flag was given.
fn assign<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// `<out>/attacks/<model>/<split>-<goal>` for the paper's L-BFGS attack, and
/// `<out>/attacks/<model>/<attack>-<split>-<goal>` for another (`<attack>` its
/// [`AnyAttack::slug`]); the goal's `:` becomes `-`.
pub fn attack_dir(out: &Path, model: &str, split: Split, method: &AnyAttack) -> PathBuf {
    let goal = method.goal().to_string().replace(':', "-");
    let leaf = match method {
        AnyAttack::Lbfgs(_) => format!("{split}-{goal}"),
        other => format!("{}-{split}-{goal}", other.slug()),
    };
    out.join("attacks").join(model).join(leaf)
}

/// Loads the model in `model_dir`, attacks `images` with a progress bar, writes
/// `adversarial.safetensors` and `summary.json` into `out`, and returns the summary.
pub fn attack_saved_model(
    model_dir: &Path,
    images: &Dataset,
    split: Split,
    method: &AnyAttack,
    common: &CommonArgs,
    out: &Path,
) -> anyhow::Result<AttackSummary> {
    let device = common.device()?;
    let weights = checkpoint::weights_sha256(model_dir)
        .with_context(|| format!("reading {}", model_dir.display()))?;
    let (model, meta) = checkpoint::load(model_dir, &device)
        .with_context(|| format!("loading {}", model_dir.display()))?;
    let model = model.valid();
    let (x, labels) = to_inputs(&model, images, &device)
        .with_context(|| format!("the images for {}", meta.name))?;
    let mut progress = AttackProgress::new(format!(
        "{} {} {}",
        meta.name,
        method.label(),
        method.goal()
    ));
    let result = method
        .with_workers(common.workers())
        .run(&model, x, &labels, &mut progress)
        .with_context(|| format!("attacking {}", meta.name))?;
    drop(progress);
    let summary = AttackSummary {
        weights_sha256: Some(weights),
        ..AttackSummary::new(
            &result,
            method.clone(),
            &meta.name,
            split.name(),
            common.backend.name(),
        )
    };
    files::save(out, &images.images, &result, &summary)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(summary)
}

/// The summary of the attack in [`attack_dir`] when it holds the same attack and settings (up
/// to batching: [`AnyAttack::same_attack`]) and image count and was made on the weights the
/// checkpoint `<out>/models/<model>` holds now (their SHA-256); otherwise runs the attack on
/// `images` and writes it there. Returns the summary, the directory, and `true` when it was up
/// to date.
pub fn up_to_date_or_attack(
    model: &str,
    images: &Dataset,
    split: Split,
    method: &AnyAttack,
    common: &CommonArgs,
) -> anyhow::Result<(AttackSummary, PathBuf, bool)> {
    let dir = attack_dir(&common.out, model, split, method);
    let model_dir = common.model_dir(model);
    let weights = match checkpoint::weights_sha256(&model_dir) {
        Ok(digest) => Some(digest),
        Err(e) if e.is_read_failure() => {
            return Err(e).context("reading the attacked model's weights");
        }
        Err(_) => None,
    };
    // A summary that is missing, unreadable as JSON or not written with the tensors beside
    // it means "attack again"; a file that is there but cannot be read is an error.
    let saved = match files::load_checked_summary(&dir) {
        Err(e) if e.is_read_failure() => {
            return Err(e).with_context(|| format!("reading the attack in {}", dir.display()));
        }
        saved => saved,
    };
    match saved {
        Ok(s)
            if s.format == files::FORMAT_VERSION
                && s.config.same_attack(method)
                && s.images == images.len()
                && weights.is_some()
                && s.weights_sha256 == weights =>
        {
            eprintln!(
                "attack {model} {} {}: up to date, skipped ({})",
                method.label(),
                method.goal(),
                dir.display()
            );
            Ok((s, dir, true))
        }
        _ => {
            let s = attack_saved_model(&model_dir, images, split, method, common, &dir)?;
            Ok((s, dir, false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::save_random_softmax;
    use blindspot_data::splits::ImageShape;

    #[test]
    fn an_attack_is_reused_only_while_the_checkpoint_holds_the_same_weights() {
        let out = tempfile::tempdir().unwrap();
        let common = crate::testing::common(out.path());
        let pixels = (0..4 * 784).map(|i| (i % 13) as f32 / 13.0).collect();
        let images = Dataset::new(pixels, vec![0, 1, 2, 3], ImageShape::MNIST).unwrap();
        let config = AnyAttack::lbfgs(Goal::Untargeted);
        let attack =
            || up_to_date_or_attack("softmax1", &images, Split::Train, &config, &common).unwrap();
        save_random_softmax(out.path());
        let (first, _, reused) = attack();
        assert!(!reused);
        let digest = checkpoint::weights_sha256(&common.model_dir("softmax1")).unwrap();
        assert_eq!(first.weights_sha256.as_deref(), Some(digest.as_str()));
        assert!(attack().2, "same weights: the attack is reused");
        // Retrained elsewhere (another process, another command): new weights, same config.
        save_random_softmax(out.path());
        let (second, _, reused) = attack();
        assert!(!reused, "the old model's attack must not be reused");
        let digest = checkpoint::weights_sha256(&common.model_dir("softmax1")).unwrap();
        assert_eq!(second.weights_sha256.as_deref(), Some(digest.as_str()));
        assert!(attack().2);
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: AttackArgs,
    }

    fn parse(flags: &[&str]) -> AttackArgs {
        use clap::Parser;
        let argv = ["blindspot", "--model", "softmax1"].iter().chain(flags);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn flags_set_the_attack_they_name_and_a_flag_it_does_not_take_is_refused() {
        let pgd = parse(&[
            "--attack",
            "pgd",
            "--norm",
            "l2",
            "--epsilon",
            "1.5",
            "--steps",
            "7",
        ]);
        let AnyAttack::Pgd(c) = pgd.method().unwrap() else {
            panic!("not PGD");
        };
        assert_eq!((c.norm, c.epsilon, c.steps), (Norm::L2, 1.5, 7));
        // Untouched settings keep the attack's defaults.
        assert_eq!(c.restarts, blindspot_attack::PgdConfig::default().restarts);
        let fmn = parse(&[
            "--attack",
            "fmn",
            "--step-size",
            "0.5",
            "--goal",
            "target:3",
        ]);
        let AnyAttack::Fmn(c) = fmn.method().unwrap() else {
            panic!("not FMN");
        };
        assert_eq!((c.alpha_init, c.goal), (0.5, Goal::Target(3)));
        let lbfgs = parse(&["--search-steps", "4"]).method().unwrap();
        let AnyAttack::Lbfgs(c) = lbfgs else {
            panic!("not L-BFGS");
        };
        assert_eq!(c.search_steps, 4);
        let refused = parse(&["--attack", "ddn", "--epsilon", "0.1", "--memory", "3"])
            .method()
            .unwrap_err()
            .to_string();
        assert_eq!(
            refused,
            "--epsilon, --memory does not apply to --attack ddn"
        );
        let invalid = parse(&["--attack", "pgd", "--epsilon=-1"]).method();
        assert!(format!("{:#}", invalid.unwrap_err()).contains("epsilon"));
        use clap::Parser;
        let unknown = Cli::try_parse_from(["b", "--model", "m", "--attack", "cw7"]);
        assert_eq!(
            unknown.map(|_| ()).unwrap_err().kind(),
            clap::error::ErrorKind::InvalidValue
        );
        let cw = parse(&[
            "--attack",
            "cw",
            "--search-steps",
            "2",
            "--initial-c",
            "0.5",
        ]);
        let AnyAttack::Cw(c) = cw.method().unwrap() else {
            panic!("not C&W");
        };
        assert_eq!((c.search_steps, c.initial_c), (2, 0.5));
    }

    #[test]
    fn each_attack_has_its_own_folder_and_lbfgs_keeps_the_papers() {
        let out = Path::new("/o");
        let dir = |m: &AnyAttack| attack_dir(out, "m", Split::Test, m);
        assert_eq!(
            dir(&AnyAttack::lbfgs(Goal::Target(3))),
            Path::new("/o/attacks/m/test-target-3")
        );
        let pgd = parse(&["--attack", "pgd", "--norm", "l2", "--epsilon", "1.5"]);
        assert_eq!(
            dir(&pgd.method().unwrap()),
            Path::new("/o/attacks/m/pgd-l2-1.5-test-untargeted")
        );
        let mut seen = std::collections::HashSet::new();
        for name in any::NAMES {
            let method = AnyAttack::default_of(name, Goal::Untargeted).unwrap();
            assert!(seen.insert(dir(&method)), "{name} shares a folder");
        }
    }

    #[test]
    fn an_attack_is_not_reused_for_another_attack_or_epsilon() {
        let out = tempfile::tempdir().unwrap();
        let common = crate::testing::common(out.path());
        let pixels = (0..4 * 784).map(|i| (i % 13) as f32 / 13.0).collect();
        let images = Dataset::new(pixels, vec![0, 1, 2, 3], ImageShape::MNIST).unwrap();
        save_random_softmax(out.path());
        let attack = |flags: &[&str]| {
            let method = parse(flags).method().unwrap();
            up_to_date_or_attack("softmax1", &images, Split::Train, &method, &common).unwrap()
        };
        let (first, dir, reused) = attack(&["--attack", "fgsm", "--epsilon", "0.2"]);
        assert!(!reused);
        assert_eq!(first.config.name(), "fgsm");
        let (_, saved) = files::load(&dir).unwrap();
        assert_eq!(saved["x"].shape, vec![4, 1, 28, 28]);
        assert!(attack(&["--attack", "fgsm", "--epsilon", "0.2", "--batch-size", "1"]).2);
        let (_, other, reused) = attack(&["--attack", "fgsm", "--epsilon", "0.3"]);
        assert!(!reused && other != dir);
        // FGSM's folder holding L-BFGS's files (moved there by hand) is attacked again.
        let (_, lbfgs_dir, _) = attack(&[]);
        assert_eq!(
            files::load_summary(&lbfgs_dir).unwrap().config.name(),
            "lbfgs"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::rename(&lbfgs_dir, &dir).unwrap();
        let (redone, again, reused) = attack(&["--attack", "fgsm", "--epsilon", "0.2"]);
        assert!(!reused && again == dir);
        assert_eq!(redone.config.name(), "fgsm");
    }
}
