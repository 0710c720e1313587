//! Error matrices: every example set (rows) classified by every model (columns), and their
//! aggregation over seeds.

use blindspot_models::{Classifier, error_rate_on};
use blindspot_report::transfer::{MeanStd, TransferRow, TransferTable};
use burn::prelude::*;

use crate::error::{Result, TransferError};
use crate::examples::ExampleSet;

/// The error rate of `model` on the perturbed images of `set` against their true labels (NaN
/// for an empty set).
pub fn error_on<M: Classifier>(model: &M, set: &ExampleSet, device: &Device) -> f64 {
    if set.is_empty() {
        return f64::NAN;
    }
    let n = set.len();
    let x = Tensor::<2>::from_data(TensorData::new(set.perturbed.clone(), [n, set.dim]), device);
    let labels: Vec<i64> = set.labels.iter().map(|&l| i64::from(l)).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device);
    error_rate_on(model, &x, &y)
}

/// The matrix of one seed: the error of every column model on every set, with each set's size
/// and mean distortion. `images` says where the images come from, for the report.
pub fn error_matrix<M: Classifier>(
    sets: &[ExampleSet],
    columns: &[(String, &M)],
    device: &Device,
    images: &str,
) -> TransferTable {
    let rows = sets
        .iter()
        .map(|set| TransferRow {
            perturbation: set.perturbation.clone(),
            examples: set.len(),
            errors: columns
                .iter()
                .map(|(_, m)| MeanStd::single(error_on(*m, set, device)))
                .collect(),
            distortion: MeanStd::single(set.mean_distortion()),
        })
        .collect();
    TransferTable {
        columns: columns.iter().map(|(c, _)| c.clone()).collect(),
        rows,
        seeds: 1,
        images: images.into(),
    }
}

/// Cell by cell mean ± sample standard deviation of the matrices of several seeds, which must
/// have the same columns and rows in the same order.
pub fn aggregate(seeds: &[TransferTable]) -> Result<TransferTable> {
    let Some(first) = seeds.first() else {
        return Err(TransferError::Mismatch("no matrix to aggregate".into()));
    };
    for (s, t) in seeds.iter().enumerate() {
        if t.columns != first.columns {
            return Err(TransferError::Mismatch(format!(
                "seed {s} has columns {:?}, seed 0 {:?}",
                t.columns, first.columns
            )));
        }
        let same_rows = t.rows.len() == first.rows.len()
            && t.rows
                .iter()
                .zip(&first.rows)
                .all(|(a, b)| a.perturbation == b.perturbation && a.errors.len() == b.errors.len());
        if !same_rows {
            return Err(TransferError::Mismatch(format!(
                "seed {s} has other rows than seed 0"
            )));
        }
    }
    let rows = first
        .rows
        .iter()
        .enumerate()
        .map(|(r, row)| {
            let cell = |f: &dyn Fn(&TransferRow) -> f64| {
                MeanStd::of(&seeds.iter().map(|t| f(&t.rows[r])).collect::<Vec<_>>())
            };
            TransferRow {
                perturbation: row.perturbation.clone(),
                examples: (seeds.iter().map(|t| t.rows[r].examples).sum::<usize>() as f64
                    / seeds.len() as f64)
                    .round() as usize,
                errors: (0..row.errors.len())
                    .map(|c| cell(&|x: &TransferRow| x.errors[c].mean))
                    .collect(),
                distortion: cell(&|x: &TransferRow| x.distortion.mean),
            }
        })
        .collect();
    Ok(TransferTable {
        columns: first.columns.clone(),
        rows,
        seeds: seeds.len(),
        images: first.images.clone(),
    })
}
