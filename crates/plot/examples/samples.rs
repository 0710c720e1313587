//! Draws a sample heatmap, ε curves and a log-x frontier into a folder (default
//! `/tmp/plot_samples`) to look at: `cargo run -p blindspot-plot --example samples -- DIR`.

use std::path::PathBuf;

use blindspot_plot::{Series, SeriesStyle, heatmap, line_chart, line_chart_log_x};
use blindspot_report::figures::save_png;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or("/tmp/plot_samples".into()),
    );
    let models = [
        "FC10(1e-4)",
        "FC10(1e-2)",
        "FC100-100-10",
        "FC200-200-10",
        "AE400-10",
    ];
    let mut rows: Vec<String> = models
        .iter()
        .map(|m| format!("adversarial for {m}"))
        .collect();
    rows.push("Gaussian noise, stddev 0.1".into());
    rows.push("Gaussian noise matched to FC100-100-10".into());
    let cols: Vec<String> = models.iter().map(|m| m.to_string()).collect();
    let values: Vec<Vec<f64>> = (0..rows.len())
        .map(|r| {
            (0..cols.len())
                .map(|c| match (r, c) {
                    (6, 4) => f64::NAN,
                    (r, c) if r == c => 100.0,
                    (r, c) => ((r * 7 + c * 13) % 60) as f64 + 0.37,
                })
                .collect()
        })
        .collect();
    let img = heatmap(
        "Table 2: cross-model generalization",
        &rows,
        &cols,
        &values,
        "error %",
        (900, 560),
    )?;
    save_png(&img, &dir.join("heatmap.png"))?;

    let eps: Vec<f64> = (0..=10).map(|i| i as f64 * 0.03).collect();
    let curve = |k: f64| {
        eps.iter()
            .map(|&e| (e, 98.0 * (-k * e * 10.0).exp()))
            .collect()
    };
    let series = vec![
        Series {
            label: "FGSM".into(),
            points: curve(0.5),
            style: SeriesStyle::Line,
        },
        Series {
            label: "PGD-40".into(),
            points: curve(1.2),
            style: SeriesStyle::Line,
        },
        Series {
            label: "L-BFGS (box-constrained)".into(),
            points: curve(0.9),
            style: SeriesStyle::Line,
        },
        Series {
            label: "best of all".into(),
            points: curve(1.4),
            style: SeriesStyle::Line,
        },
    ];
    let img = line_chart(
        "Robust accuracy of FC100-100-10",
        "ε (L∞)",
        "robust accuracy %",
        &series,
        Some((0.0, 100.0)),
        (900, 560),
    )?;
    save_png(&img, &dir.join("curves.png"))?;

    let frontier = vec![
        Series {
            label: "attacks".into(),
            points: vec![
                (12.0, 0.061),
                (85.0, 0.072),
                (900.0, 0.09),
                (15000.0, 0.13),
                (2.0e5, 0.2),
            ],
            style: SeriesStyle::Markers,
        },
        Series {
            label: "frontier".into(),
            points: vec![
                (12.0, 0.061),
                (85.0, 0.072),
                (900.0, 0.09),
                (15000.0, 0.13),
                (2.0e5, 0.2),
            ],
            style: SeriesStyle::Line,
        },
    ];
    let img = line_chart_log_x(
        "Distortion vs throughput",
        "images / s",
        "mean RMS distortion",
        &frontier,
        None,
        (900, 560),
    )?;
    save_png(&img, &dir.join("frontier.png"))?;
    // Narrow cells: the column labels turn and long ones are shortened.
    let cols: Vec<String> = (0..12)
        .map(|i| format!("fc-100-100-10-seed-{i}-amplified-to-rms-0.1"))
        .collect();
    let values: Vec<Vec<f64>> = (0..4)
        .map(|r| {
            (0..12)
                .map(|c| ((r * 5 + c * 3) % 17) as f64 / 17.0)
                .collect()
        })
        .collect();
    let img = heatmap(
        "Narrow",
        &names(4),
        &cols,
        &values,
        "error rate",
        (900, 560),
    )?;
    save_png(&img, &dir.join("heatmap_narrow.png"))?;
    println!("wrote {}", dir.display());
    Ok(())
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("row {i}")).collect()
}
