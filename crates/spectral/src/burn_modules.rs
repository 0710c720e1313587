//! Burn modules as host layers: `Linear`, `Conv2d` (with its real padding, dilation and groups),
//! `MaxPool2d` and `BatchNorm`.
//!
//! - A grouped convolution is the dense convolution whose kernel is zero between groups (block
//!   diagonal over the groups), and a dilated one is the undilated convolution with the kernel
//!   spread out over `d(k − 1) + 1` taps with zeros between; both are expanded to a dense
//!   `[F, C, k_h', k_w']` kernel, so the Fourier bound applies unchanged.
//! - `PaddingConfig2d::Same` is resolved on the layer's input size exactly as Burn does (from
//!   the kernel size and stride, ignoring dilation), so the geometry is the one Burn runs.
//! - A `BatchNorm` is bounded as at evaluation (running statistics): the per-channel scale
//!   `γ_c/√(v_c + ε)` ([`crate::scale`]). On an autodiff device Burn runs it in training mode,
//!   which couples the rows of a batch and is not covered.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;

use crate::error::{Result, SpectralError};
use crate::layers::{HostLayer, LayerKind};
use crate::pool::MaxPoolSpec;
use crate::zero_padded::ConvGeometry;

/// Reads a float tensor to the host as `f32`.
pub fn host_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| SpectralError::Shape(format!("reading a tensor: {e:?}")))
}

/// A Burn `Linear` (weight `[d_in, d_out]`) as a host FC layer in PyTorch's `[out, in]`
/// layout, so that sizes read `in×out` as in the paper.
pub fn linear_layer(name: &str, layer: &Linear, after: f64) -> Result<HostLayer> {
    let [d_in, d_out] = layer.weight.dims();
    Ok(HostLayer {
        name: name.into(),
        kind: LayerKind::Fc {
            rows: d_out,
            cols: d_in,
        },
        weights: host_values(layer.weight.val().transpose())?,
        after,
    })
}

/// Burn's "same" padding along one axis: `(start, end)`, the odd cell at the end.
fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride.max(1));
    let total = if out > 0 {
        ((out - 1) * stride + kernel).saturating_sub(size)
    } else {
        0
    };
    (total / 2, total - total / 2)
}

/// The padding `[top, left, bottom, right]` Burn applies on an `input` (height, width) map.
pub fn resolve_padding(
    padding: &PaddingConfig2d,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> [usize; 4] {
    match padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Same => {
            let (t, b) = same_padding(kernel[0], stride[0], input[0]);
            let (l, r) = same_padding(kernel[1], stride[1], input[1]);
            [t, l, b, r]
        }
        PaddingConfig2d::Explicit(t, l, b, r) => [*t, *l, *b, *r],
    }
}

/// The dense kernel `[F, C, d_h(k_h − 1) + 1, d_w(k_w − 1) + 1]` of a grouped, dilated kernel
/// `[F, C/groups, k_h, k_w]` (row-major).
pub fn dense_kernel(
    w: &[f32],
    dims: [usize; 4],
    groups: usize,
    dilation: [usize; 2],
) -> Result<([usize; 4], Vec<f32>)> {
    let [f, cg, kh, kw] = dims;
    let [dh, dw] = dilation;
    if groups == 0 || !f.is_multiple_of(groups) || dh == 0 || dw == 0 {
        return Err(SpectralError::Shape(format!(
            "kernel {dims:?} with {groups} groups and dilation {dilation:?}"
        )));
    }
    if w.len() != f * cg * kh * kw {
        return Err(SpectralError::Shape(format!(
            "kernel {dims:?} needs {} values, got {}",
            f * cg * kh * kw,
            w.len()
        )));
    }
    if groups == 1 && dilation == [1, 1] {
        return Ok((dims, w.to_vec()));
    }
    let (c, eh, ew) = (cg * groups, dh * (kh - 1) + 1, dw * (kw - 1) + 1);
    let per_group = f / groups;
    let mut out = vec![0.0f32; f * c * eh * ew];
    for fi in 0..f {
        let g = fi / per_group;
        for cl in 0..cg {
            let ci = g * cg + cl;
            for i in 0..kh {
                for j in 0..kw {
                    out[((fi * c + ci) * eh + i * dh) * ew + j * dw] =
                        w[((fi * cg + cl) * kh + i) * kw + j];
                }
            }
        }
    }
    Ok(([f, c, eh, ew], out))
}

/// A Burn `Conv2d` applied to an `input` (height, width) feature map, as a host conv layer with
/// the padding Burn applies there. Unequal strides are refused.
pub fn conv_layer(name: &str, layer: &Conv2d, input: [usize; 2], after: f64) -> Result<HostLayer> {
    if layer.stride[0] != layer.stride[1] {
        return Err(SpectralError::Unsupported {
            layer: name.into(),
            reason: format!(
                "unequal strides {:?} (the Fourier bound needs one stride on both axes)",
                layer.stride
            ),
        });
    }
    let dims = layer.weight.dims();
    let padding = resolve_padding(&layer.padding, input, layer.kernel_size, layer.stride);
    let (shape, weights) = dense_kernel(
        &host_values(layer.weight.val())?,
        dims,
        layer.groups,
        layer.dilation,
    )?;
    let geometry = ConvGeometry {
        input,
        padding,
        stride: layer.stride[0],
    };
    geometry.output([shape[2], shape[3]])?;
    Ok(HostLayer {
        name: name.into(),
        kind: LayerKind::Conv { shape, geometry },
        weights,
        after,
    })
}

/// A Burn `MaxPool2d` applied to an `input` (height, width) feature map.
pub fn max_pool_spec(layer: &MaxPool2d, input: [usize; 2]) -> MaxPoolSpec {
    MaxPoolSpec {
        kernel: layer.kernel_size,
        stride: layer.stride,
        padding: resolve_padding(&layer.padding, input, layer.kernel_size, layer.stride),
        dilation: layer.dilation,
        ceil_mode: layer.ceil_mode,
    }
}

/// The per-channel factors `γ_c/√(v_c + ε)` of a Burn `BatchNorm` at evaluation.
pub fn batch_norm_factors(layer: &BatchNorm) -> Result<Vec<f32>> {
    let gamma = host_values(layer.gamma.val())?;
    let var = host_values(layer.running_var.value())?;
    if gamma.len() != var.len() {
        return Err(SpectralError::Shape(format!(
            "batch norm with {} scales and {} variances",
            gamma.len(),
            var.len()
        )));
    }
    gamma
        .iter()
        .zip(&var)
        .map(|(&g, &v)| {
            let denom = (f64::from(v) + layer.epsilon).sqrt();
            if denom.is_finite() && denom > 0.0 {
                Ok((f64::from(g) / denom) as f32)
            } else {
                Err(SpectralError::Value(format!(
                    "batch norm variance {v} with ε {} has no positive square root",
                    layer.epsilon
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_burn() {
        // 3×3 stride 1: one cell on each side. Kernel 4, stride 2 on 7: 4 outputs need
        // 3·2 + 4 = 10 cells, 3 more than 7, the odd one at the end.
        assert_eq!(same_padding(3, 1, 10), (1, 1));
        assert_eq!(same_padding(4, 2, 7), (1, 2));
        assert_eq!(same_padding(1, 1, 5), (0, 0));
    }

    #[test]
    fn grouped_dilated_kernels_expand_to_block_diagonal_spread_kernels() {
        // F = 2, C = 2, groups 2 (one input channel per group), 2×1 kernel, dilation [2, 1].
        let w = [1.0, 2.0, 3.0, 4.0];
        let (shape, d) = dense_kernel(&w, [2, 1, 2, 1], 2, [2, 1]).unwrap();
        assert_eq!(shape, [2, 2, 3, 1]);
        // Filter 0 reads channel 0 only, taps at rows 0 and 2.
        assert_eq!(&d[0..3], &[1.0, 0.0, 2.0]);
        assert_eq!(&d[3..6], &[0.0; 3]);
        // Filter 1 reads channel 1 only.
        assert_eq!(&d[6..9], &[0.0; 3]);
        assert_eq!(&d[9..12], &[3.0, 0.0, 4.0]);
        assert!(dense_kernel(&w, [2, 1, 2, 1], 3, [1, 1]).is_err());
        assert!(dense_kernel(&w[..3], [2, 1, 2, 1], 1, [1, 1]).is_err());
    }
}
