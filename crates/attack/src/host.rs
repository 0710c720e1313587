//! The few places where values cross between the device and the host: reading small per-row
//! tensors for convergence checks, and uploading row indices.

use burn::prelude::*;

use crate::error::{AttackError, Result};

/// Reads a float tensor of any rank back to the host, row-major.
pub fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| AttackError::Data(format!("{e:?}")))
}

/// Uploads row indices as an `Int` tensor `[n]`.
pub fn indices(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(data, [rows.len()]), device)
}

/// Uploads a host matrix `[rows, cols]`.
pub fn matrix(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}
