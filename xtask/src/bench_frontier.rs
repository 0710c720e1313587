//! `cargo xtask bench frontier`: distortion against throughput of the minimum-distortion
//! attacks at several budgets — our L-BFGS at the presets of [`LADDER`], our DDN and Foolbox
//! 3's DDN and FMN (L2) at several step counts — on the same images and weights, scored alike by
//! `bench/peers/run_peers.py`. One table (`<out>/bench/frontier.md`, `.json`) and one plot
//! per model (`<out>/bench/frontier-<model>.png`).
//!
//! A single setting of a peer is not a fair bar: an attack given more steps is slower and
//! closer. Each point is (images/s, mean RMS), the mean taken over the images that *every*
//! point of the model broke, so that an attack is not rewarded for giving up on the hard
//! images. Our attack meets the bar at a peer's point when one of our points is at least
//! [`SPEED_BAR`] times as fast, at no more distortion and no lower success.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use clap::Args;

use crate::bench::{
    FAST_PRESET, loadavg, read_json, require_models, setup_peers, write_json_beside,
};
use crate::download::DownloadArgs;
use crate::project_root;
use crate::reproduce::{Backend, absolute, run_cli};

/// How much faster than a peer's point one of ours must be.
pub const SPEED_BAR: f64 = 2.0;

/// "No more distortion" up to this relative margin: the same algorithm (DDN) in two libraries
/// lands on means equal to about 1e-4 relative on 1,000 images, and which of two such equal
/// means is smaller is float noise, not a result.
pub const DISTORTION_MARGIN: f64 = 1e-3;

/// The family of our L-BFGS rows (the attack the bar is about).
const LBFGS: &str = "blindspot L-BFGS";
/// The family of our DDN rows (the same method as the peer's, on our backend).
const OUR_DDN: &str = "blindspot DDN";

/// Our attack's budgets, cheapest first: a name and the `blindspot attack` options.
/// `quick`: one rival class, two values of c (0.1, then 0.3 or 0.033), ≤ 20 iterations (with
/// the default c = 1 first, two values broke 12–74% of the images); `fast`: the preset of
/// `bench attack` (two rivals, three values of c, ≤ 40 iterations); `medium`: five values of
/// c, ≤ 60 iterations; `default`: the attack's defaults.
pub const LADDER: [(&str, &[&str]); 4] = [
    (
        "quick",
        &[
            "--candidates",
            "1",
            "--search-steps",
            "2",
            "--initial-c",
            "0.1",
            "--c-factor",
            "3",
            "--max-iterations",
            "20",
            "--memory",
            "3",
            "--f-tolerance",
            "1e-4",
        ],
    ),
    ("fast", FAST_PRESET),
    (
        "medium",
        &[
            "--candidates",
            "2",
            "--search-steps",
            "5",
            "--max-iterations",
            "60",
            "--memory",
            "5",
            "--f-tolerance",
            "1e-5",
        ],
    ),
    ("default", &[]),
];

/// Options of `cargo xtask bench frontier`.
#[derive(Args, Debug)]
pub struct FrontierBenchArgs {
    /// Trained models under `<out>/models/`.
    #[arg(long, num_args = 1.., default_values = ["softmax1", "n100-100-10", "conv"])]
    pub models: Vec<String>,
    /// Test images attacked.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Step counts of DDN, ours (`blindspot attack --attack ddn`) and Foolbox 3's.
    #[arg(long, num_args = 1.., default_values_t = [10, 30, 100, 300])]
    pub ddn_steps: Vec<usize>,
    /// Step counts of Foolbox 3's L2 FMN (none: `--fmn-steps` with no value).
    #[arg(long, num_args = 0.., default_values_t = [10, 30, 100, 300])]
    pub fmn_steps: Vec<usize>,
    /// Our backend.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
    /// Problems per device batch of our attack (default: the attack's).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Output directory: models from `<out>/models/`, results to `<out>/bench/`.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Read a row from its JSON under `<out>/bench/frontier/<model>/` when there is one
    /// instead of running it again (delete a row's JSON to redo it).
    #[arg(long)]
    pub reuse: bool,
    #[command(flatten)]
    pub data: DownloadArgs,
}

/// One measured point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// `blindspot L-BFGS`, `Foolbox 3 DDN` or `Foolbox 3 FMN L2`.
    pub family: String,
    /// The budget: a preset's name or `<steps> steps`.
    pub budget: String,
    /// Images attacked per second of wall clock.
    pub per_second: f64,
    /// Share of the scored images broken.
    pub success: f64,
    /// RMS of each image's example; `None` where it failed or was not scored.
    pub rms: Vec<Option<f64>>,
    /// 1-minute load average when it ran.
    pub load: Option<f64>,
}

/// The images every point broke.
pub fn common_images(points: &[Point]) -> Vec<usize> {
    let n = points.iter().map(|p| p.rms.len()).min().unwrap_or(0);
    (0..n)
        .filter(|&i| points.iter().all(|p| p.rms[i].is_some()))
        .collect()
}

/// The mean RMS of `point` over `images`; NaN without images.
pub fn mean_over(point: &Point, images: &[usize]) -> f64 {
    let sum: f64 = images.iter().filter_map(|&i| point.rms[i]).sum();
    sum / images.len() as f64
}

/// For a peer's point: the fastest of `ours` that is at least [`SPEED_BAR`]× as fast, at no
/// more mean distortion over the images both broke ([`common_images`] of the pair; up to
/// [`DISTORTION_MARGIN`]) and no lower success; `None` if none is.
pub fn meets_bar<'a>(peer: &Point, ours: &'a [Point]) -> Option<&'a Point> {
    ours.iter()
        .filter(|o| {
            let both = common_images(&[peer.clone(), (*o).clone()]);
            o.per_second >= SPEED_BAR * peer.per_second
                && mean_over(o, &both) <= mean_over(peer, &both) * (1.0 + DISTORTION_MARGIN)
                && o.success >= peer.success
        })
        .max_by(|a, b| a.per_second.total_cmp(&b.per_second))
}

impl FrontierBenchArgs {
    /// Runs every point of every model, then writes the table, the JSON and the plots.
    pub fn run(self) -> anyhow::Result<()> {
        self.data.run()?;
        let out = absolute(&self.out)?;
        let bench = out.join("bench").join("frontier");
        require_models(&out, &self.models)?;
        // Every row is scored by run_peers.py, ours too.
        let base = setup_peers()?;
        let mut blocks = Vec::new();
        for model in &self.models {
            let mut points = Vec::new();
            let mut inputs = None;
            // Ours: the L-BFGS presets, then our DDN at the peers' step counts.
            let mut runs: Vec<(&str, String, String, Vec<String>)> = LADDER
                .iter()
                .map(|(name, options)| {
                    let options = options.iter().map(|s| s.to_string()).collect();
                    (
                        LBFGS,
                        name.to_string(),
                        format!("blindspot-{name}"),
                        options,
                    )
                })
                .collect();
            for s in &self.ddn_steps {
                let options = ["--attack", "ddn", "--steps", &s.to_string()]
                    .map(str::to_owned)
                    .to_vec();
                runs.push((
                    OUR_DDN,
                    format!("{s} steps"),
                    format!("blindspot-ddn-{s}"),
                    options,
                ));
            }
            for (family, budget, slug, options) in runs {
                let dir = bench.join(model).join(&slug);
                let mut args: Vec<String> = [
                    "attack",
                    "--model",
                    model,
                    "--split",
                    "test",
                    "--goal",
                    "untargeted",
                    "--backend",
                    self.backend.name(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                args.extend([
                    "--n".into(),
                    self.n.to_string(),
                    "--out".into(),
                    out.display().to_string(),
                    "--dir".into(),
                    dir.display().to_string(),
                ]);
                args.extend(options);
                if let Some(d) = &self.data.data_dir {
                    args.extend(["--data-dir".into(), absolute(d)?.display().to_string()]);
                }
                if let Some(b) = self.batch_size {
                    args.extend(["--batch-size".into(), b.to_string()]);
                }
                let json = bench.join(model).join(format!("{slug}.json"));
                let inputs = inputs
                    .get_or_insert_with(|| dir.join("adversarial.safetensors"))
                    .clone();
                if self.reuse && json.exists() {
                    points.push(reused(family, &budget, &json)?);
                    continue;
                }
                let load = loadavg();
                run_cli(self.backend, &args)?;
                let mut r = score(
                    &base,
                    "venv",
                    &out.join("models").join(model),
                    &inputs,
                    &["--attack", "blindspot"],
                    Some(&dir),
                    self.n,
                    &json,
                )?;
                // The load when ours ran, not when it was scored (what `--reuse` reads back).
                r["loadavg_1min_start"] = load.into();
                write_json_beside(&json, &r)?;
                points.push(point(family, &budget, &r, load)?);
            }
            let inputs = inputs.context("no preset of ours ran")?;
            for (family, attack, steps) in [
                ("Foolbox 3 DDN", "foolbox3-ddn", &self.ddn_steps),
                ("Foolbox 3 FMN L2", "foolbox3-fmn", &self.fmn_steps),
            ] {
                for s in steps {
                    let json = bench.join(model).join(format!("{attack}-{s}.json"));
                    let budget = format!("{s} steps");
                    if self.reuse && json.exists() {
                        points.push(reused(family, &budget, &json)?);
                        continue;
                    }
                    let load = loadavg();
                    let r = score(
                        &base,
                        "venv-fb3",
                        &out.join("models").join(model),
                        &inputs,
                        &["--attack", attack, "--steps", &s.to_string()],
                        None,
                        self.n,
                        &json,
                    )?;
                    points.push(point(family, &budget, &r, load)?);
                }
            }
            let figure = bench
                .parent()
                .expect("bench/frontier")
                .join(format!("frontier-{model}.png"));
            plot(model, &points, &figure)?;
            blocks.push((model.clone(), points));
        }
        let command = format!(
            "cargo xtask bench frontier --models {} --n {} --ddn-steps {} --fmn-steps {}",
            self.models.join(" "),
            self.n,
            join(&self.ddn_steps),
            join(&self.fmn_steps)
        );
        let table = render(&blocks, self.n, &command);
        println!("{table}");
        let path = out.join("bench").join("frontier.md");
        blindspot_data::write_atomic(&path, table.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        write_json_beside(&path, &to_json(&blocks))
    }
}

fn join(steps: &[usize]) -> String {
    steps
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `run_peers.py --goal untargeted` with `attack_args` and reads its JSON.
#[allow(clippy::too_many_arguments)]
fn score(
    base: &Path,
    venv: &str,
    model_dir: &Path,
    inputs: &Path,
    attack_args: &[&str],
    adversarial: Option<&Path>,
    n: usize,
    json: &Path,
) -> anyhow::Result<serde_json::Value> {
    std::fs::create_dir_all(json.parent().expect("has a parent"))?;
    let mut cmd = Command::new(base.join(venv).join("bin").join("python"));
    cmd.env("PYTHONDONTWRITEBYTECODE", "1")
        .arg(
            project_root()
                .join("bench")
                .join("peers")
                .join("run_peers.py"),
        )
        .arg("--model-dir")
        .arg(model_dir)
        .arg("--inputs")
        .arg(inputs)
        .args(["--goal", "untargeted"])
        .args(attack_args)
        .args(["--n", &n.to_string(), "--threads", "2"])
        .arg("--json")
        .arg(json);
    if let Some(dir) = adversarial {
        cmd.arg("--adversarial").arg(dir);
    }
    eprintln!("$ {cmd:?}");
    let status = cmd.status().context("running run_peers.py")?;
    anyhow::ensure!(
        status.success(),
        "run_peers.py {} failed ({status})",
        attack_args.join(" ")
    );
    read_json(json)
}

/// A row read back from the JSON an earlier run wrote (`--reuse`), with the load recorded
/// then.
fn reused(family: &str, budget: &str, json: &Path) -> anyhow::Result<Point> {
    let r = read_json(json)?;
    let load = r["loadavg_1min_start"].as_f64();
    eprintln!("reusing {}", json.display());
    point(family, budget, &r, load)
}

fn point(
    family: &str,
    budget: &str,
    r: &serde_json::Value,
    load: Option<f64>,
) -> anyhow::Result<Point> {
    let rms = r["rms_per_image"]
        .as_array()
        .context("run_peers.py wrote no rms_per_image (an older script?)")?
        .iter()
        .map(serde_json::Value::as_f64)
        .collect();
    Ok(Point {
        family: family.into(),
        budget: budget.into(),
        per_second: r["examples_per_second"].as_f64().unwrap_or(f64::NAN),
        success: r["success_rate"].as_f64().unwrap_or(f64::NAN),
        rms,
        load,
    })
}

/// The families in the order they are drawn and listed.
fn families(points: &[Point]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for p in points {
        if !out.contains(&p.family.as_str()) {
            out.push(&p.family);
        }
    }
    out
}

fn plot(model: &str, points: &[Point], path: &Path) -> anyhow::Result<()> {
    let images = common_images(points);
    let series: Vec<blindspot_plot::Series> = families(points)
        .into_iter()
        .map(|family| {
            let mut xy: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.family == family)
                .map(|p| (p.per_second, mean_over(p, &images)))
                .collect();
            xy.sort_by(|a, b| a.0.total_cmp(&b.0));
            blindspot_plot::Series {
                label: family.to_owned(),
                points: xy,
                style: blindspot_plot::SeriesStyle::Line,
            }
        })
        .collect();
    let raster = blindspot_plot::line_chart_log_x(
        &format!(
            "{model}: distortion against speed ({} images every point broke)",
            images.len()
        ),
        "images per second (log)",
        "mean RMS distortion",
        &series,
        None,
        (900, 520),
    )?;
    blindspot_report::figures::save_png(&raster, path)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn render(blocks: &[(String, Vec<Point>)], n: usize, command: &str) -> String {
    let mut s = format!(
        "# Distortion against speed: our L-BFGS and DDN, Foolbox 3's DDN and FMN, at several budgets\n\n\
         The first {n} MNIST test images, untargeted (any wrong class), the same weights; every \
         attack's output scored by `bench/peers/run_peers.py` alike (success: a wrong logit \
         strictly above the label's in a float32 PyTorch forward; images the model already \
         misclassifies are not scored). `mean RMS (common)`: the mean over the images that \
         **every** row of the model broke, so that no row gains by giving up on hard images; \
         `mean RMS (own)`: over the row's own successes. Images/s: images given / wall-clock \
         seconds (ours: one worker per core; Python: torch with 2 threads). Our L-BFGS presets: \
         `quick` (1 rival, c = 0.1 then ×3 or ÷3, ≤ 20 iterations), `fast` (2 rivals, 3 values \
         of c, ≤ 40), `medium` (2, 5, ≤ 60), `default`; our DDN (`--attack ddn`) at the peers' \
         step counts. The bar, for each peer row: a row of ours at least {SPEED_BAR}× as fast, \
         with no lower success and no more mean distortion over the images both broke (to 0.1%) — \
         among our L-BFGS rows (the attack of the paper), and among all our rows. Plots: \
         `frontier-<model>.png`.\n\nReproduce: `{command}`.\n"
    );
    for (model, points) in blocks {
        let images = common_images(points);
        s += &format!(
            "\n## {model} ({} images broken by every row)\n\n\
             | attack | budget | success | mean RMS (common) | mean RMS (own) | images/s | load | L-BFGS at ≥ {SPEED_BAR}×, ≤ distortion | any of ours at ≥ {SPEED_BAR}×, ≤ distortion |\n\
             |---|---|---|---|---|---|---|---|---|\n",
            images.len()
        );
        let ours = |lbfgs_only: bool| -> Vec<Point> {
            points
                .iter()
                .filter(|p| p.family == LBFGS || (!lbfgs_only && p.family == OUR_DDN))
                .cloned()
                .collect()
        };
        let (lbfgs, all) = (ours(true), ours(false));
        let mut met = [0, 0];
        let mut peers = 0;
        for p in points {
            let own: Vec<usize> = (0..p.rms.len()).filter(|&i| p.rms[i].is_some()).collect();
            let mine = p.family == LBFGS || p.family == OUR_DDN;
            if !mine {
                peers += 1;
            }
            let mut bars = [String::new(), String::new()];
            for (slot, candidates) in [&lbfgs, &all].into_iter().enumerate() {
                bars[slot] = if mine {
                    "–".to_owned()
                } else {
                    match meets_bar(p, candidates) {
                        Some(o) => {
                            met[slot] += 1;
                            format!(
                                "yes: {} `{}` ({:.1}×)",
                                o.family.trim_start_matches("blindspot "),
                                o.budget,
                                o.per_second / p.per_second
                            )
                        }
                        None => "**no**".to_owned(),
                    }
                };
            }
            s += &format!(
                "| {} | {} | {:.1}% | {:.5} | {:.5} | {:.1} | {} | {} | {} |\n",
                p.family,
                p.budget,
                100.0 * p.success,
                mean_over(p, &images),
                mean_over(p, &own),
                p.per_second,
                p.load.map_or("–".into(), |l| format!("{l:.1}")),
                bars[0],
                bars[1],
            );
        }
        s += &format!(
            "\nThe bar is met at {} of {peers} peer rows by our L-BFGS, at {} by some row of ours.\n",
            met[0], met[1]
        );
        s += &format!("\n![{model} frontier](frontier-{model}.png)\n");
    }
    s
}

fn to_json(blocks: &[(String, Vec<Point>)]) -> serde_json::Value {
    serde_json::Value::Object(
        blocks
            .iter()
            .map(|(model, points)| {
                let images = common_images(points);
                let rows = points
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "family": p.family,
                            "budget": p.budget,
                            "images_per_second": p.per_second,
                            "success_rate": p.success,
                            "mean_rms_common": mean_over(p, &images),
                            "load": p.load,
                        })
                    })
                    .collect();
                (
                    model.clone(),
                    serde_json::json!({ "common_images": images.len(), "rows": serde_json::Value::Array(rows) }),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(family: &str, per_second: f64, success: f64, rms: &[Option<f64>]) -> Point {
        Point {
            family: family.into(),
            budget: format!("{per_second}"),
            per_second,
            success,
            rms: rms.to_vec(),
            load: None,
        }
    }

    #[test]
    fn distortion_is_compared_on_the_images_every_row_broke() {
        // The peer gave up on image 1 (the hard one) and so has the lower mean of its own;
        // over images 0 and 2, which both broke, ours is closer.
        let ours = p("blindspot", 100.0, 1.0, &[Some(0.1), Some(0.9), Some(0.2)]);
        let peer = p("DDN", 40.0, 2.0 / 3.0, &[Some(0.12), None, Some(0.2)]);
        let points = [ours.clone(), peer.clone()];
        assert_eq!(common_images(&points), [0, 2]);
        assert!((mean_over(&ours, &[0, 2]) - 0.15).abs() < 1e-12);
        assert!((mean_over(&peer, &[0, 2]) - 0.16).abs() < 1e-12);
        assert_eq!(meets_bar(&peer, std::slice::from_ref(&ours)), Some(&ours));
    }

    #[test]
    fn the_bar_needs_twice_the_speed_no_more_distortion_and_no_lower_success() {
        let rms = [Some(0.2), Some(0.2)];
        let peer = p("DDN", 50.0, 1.0, &rms);
        // 1.9× as fast: not enough.
        let slow = p("blindspot", 95.0, 1.0, &rms);
        assert_eq!(meets_bar(&peer, std::slice::from_ref(&slow)), None);
        // Fast but farther (2.5%; 0.05% would be float noise between two libraries).
        let far = p("blindspot", 500.0, 1.0, &[Some(0.21), Some(0.2)]);
        let noise = p("blindspot", 500.0, 1.0, &[Some(0.2002), Some(0.2)]);
        assert_eq!(meets_bar(&peer, std::slice::from_ref(&noise)), Some(&noise));
        assert_eq!(meets_bar(&peer, std::slice::from_ref(&far)), None);
        // Fast and as close, but it broke fewer images.
        let weak = p("blindspot", 500.0, 0.9, &rms);
        assert_eq!(meets_bar(&peer, std::slice::from_ref(&weak)), None);
        // Exactly twice as fast at equal distortion meets it; the fastest qualifying is named.
        let ok = p("blindspot", 100.0, 1.0, &rms);
        let faster = p("blindspot", 300.0, 1.0, &rms);
        let ours = [slow, far, ok, faster.clone()];
        assert_eq!(meets_bar(&peer, &ours), Some(&faster));
    }
}
