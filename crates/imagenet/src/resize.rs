//! torchvision's evaluation transform for ImageNet models, on 8-bit RGB photos:
//! `Resize(256)` (the shorter side to 256, the longer in proportion, truncated), then
//! `CenterCrop(224)`, then `ToTensor` (level / 255, channel-major).
//!
//! The resize is PIL's `Image.resize(size, BILINEAR)`, which torchvision calls on PIL images,
//! written out here because no Rust crate reproduces it: a separable triangle filter whose
//! support grows with the reduction factor (antialiasing), coefficients in fixed point with 22
//! fractional bits, the horizontal pass first and its result rounded to 8 bits before the
//! vertical pass. Done the same way, the output equals PIL's level for level
//! (`tests/preprocess.rs` against PIL 9.4 and torchvision 0.14).

use crate::error::{ImagenetError, Result};
use crate::photo::Photo;

/// Fractional bits of PIL's fixed-point filter coefficients (`32 − 8 − 2`).
const PRECISION_BITS: u32 = 22;

/// The resize and centre crop that bring a photo to a network's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preprocess {
    /// The shorter side after the resize.
    pub resize: u32,
    /// The side of the square centre crop (at most `resize`).
    pub crop: u32,
}

impl Preprocess {
    /// torchvision's ImageNet evaluation transform: resize to 256, crop 224.
    pub const IMAGENET: Preprocess = Preprocess {
        resize: 256,
        crop: 224,
    };

    /// The size `(width, height)` torchvision's `Resize(self.resize)` gives a `width × height`
    /// photo.
    pub fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        let (short, long) = if width <= height {
            (width, height)
        } else {
            (height, width)
        };
        let new_long = (u64::from(self.resize) * u64::from(long) / u64::from(short)) as u32;
        if width <= height {
            (self.resize, new_long)
        } else {
            (new_long, self.resize)
        }
    }

    /// The photo resized and centre-cropped to `crop × crop`.
    ///
    /// # Errors
    /// [`ImagenetError::Invalid`] if the crop is larger than the resize or either is 0.
    pub fn apply(&self, photo: &Photo) -> Result<Photo> {
        if self.crop == 0 || self.crop > self.resize {
            return Err(ImagenetError::Invalid(format!(
                "a centre crop of {} after a resize to {} (the crop must be positive and at \
                 most the resize)",
                self.crop, self.resize
            )));
        }
        let (width, height) = self.resized_size(photo.width(), photo.height());
        let resized = resize_bilinear(photo, width, height)?;
        center_crop(&resized, self.crop)
    }

    /// [`Preprocess::apply`] as network input: channel-major `[3, crop, crop]` in `[0, 1]`.
    ///
    /// # Errors
    /// As [`Preprocess::apply`].
    pub fn pixels(&self, photo: &Photo) -> Result<Vec<f32>> {
        Ok(self.apply(photo)?.to_pixels())
    }
}

/// The `side × side` centre of a photo, offsets rounded as torchvision rounds them (Python's
/// `round`, half to even).
///
/// # Errors
/// [`ImagenetError::Invalid`] if the photo is smaller than the crop.
pub fn center_crop(photo: &Photo, side: u32) -> Result<Photo> {
    let (w, h) = (photo.width(), photo.height());
    if side == 0 || side > w || side > h {
        return Err(ImagenetError::Invalid(format!(
            "cannot crop {side} × {side} from a {w} × {h} photo"
        )));
    }
    let offset = |total: u32| (f64::from(total - side) / 2.0).round_ties_even() as usize;
    let (top, left) = (offset(h), offset(w));
    let side = side as usize;
    let mut rgb = Vec::with_capacity(side * side * 3);
    for y in top..top + side {
        let start = (y * w as usize + left) * 3;
        rgb.extend_from_slice(&photo.rgb()[start..start + side * 3]);
    }
    Photo::new(photo.name(), side as u32, side as u32, rgb)
}

/// One output position's filter: the first input index and the fixed-point weights.
struct Taps {
    first: usize,
    weights: Vec<i32>,
}

/// PIL's `precompute_coeffs` and `normalize_coeffs_8bpc` for the bilinear filter: the taps
/// of every output position when `input` samples become `output`.
fn coefficients(input: usize, output: usize) -> Vec<Taps> {
    let scale = input as f64 / output as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // the triangle's support, 1, widened by the reduction
    (0..output)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) cast truncates towards zero.
            let first = ((center - support + 0.5).trunc() as i64).max(0) as usize;
            let last = ((center + support + 0.5).trunc() as i64).min(input as i64) as usize;
            let raw: Vec<f64> = (first..last)
                .map(|x| {
                    let t = ((x as f64 - center + 0.5) / filterscale).abs();
                    if t < 1.0 { 1.0 - t } else { 0.0 }
                })
                .collect();
            let total: f64 = raw.iter().sum();
            let one = f64::from(1u32 << PRECISION_BITS);
            let weights = raw
                .iter()
                .map(|&k| {
                    let k = if total != 0.0 { k / total } else { k };
                    if k < 0.0 {
                        (-0.5 + k * one).trunc() as i32
                    } else {
                        (0.5 + k * one).trunc() as i32
                    }
                })
                .collect();
            Taps { first, weights }
        })
        .collect()
}

/// PIL's `clip8`: a fixed-point sum back to a level.
fn clip8(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The photo resized to `width × height` with PIL's antialiased bilinear filter.
///
/// # Errors
/// [`ImagenetError::Invalid`] for a zero size.
pub fn resize_bilinear(photo: &Photo, width: u32, height: u32) -> Result<Photo> {
    if width == 0 || height == 0 {
        return Err(ImagenetError::Invalid(format!(
            "cannot resize to {width} × {height}"
        )));
    }
    let (w_in, h_in) = (photo.width() as usize, photo.height() as usize);
    let (w_out, h_out) = (width as usize, height as usize);
    let half = 1i64 << (PRECISION_BITS - 1);
    // Horizontal pass (skipped when the width stays), rounded to 8 bits.
    let rows: Vec<u8> = if w_out == w_in {
        photo.rgb().to_vec()
    } else {
        let taps = coefficients(w_in, w_out);
        let mut out = vec![0u8; h_in * w_out * 3];
        for y in 0..h_in {
            let row = &photo.rgb()[y * w_in * 3..(y + 1) * w_in * 3];
            for (x, t) in taps.iter().enumerate() {
                for c in 0..3 {
                    let sum = t.weights.iter().enumerate().fold(half, |s, (i, &k)| {
                        s + i64::from(row[(t.first + i) * 3 + c]) * i64::from(k)
                    });
                    out[(y * w_out + x) * 3 + c] = clip8(sum);
                }
            }
        }
        out
    };
    // Vertical pass.
    let rgb = if h_out == h_in {
        rows
    } else {
        let taps = coefficients(h_in, h_out);
        let mut out = vec![0u8; h_out * w_out * 3];
        for (y, t) in taps.iter().enumerate() {
            for x in 0..w_out * 3 {
                let sum = t.weights.iter().enumerate().fold(half, |s, (i, &k)| {
                    s + i64::from(rows[(t.first + i) * w_out * 3 + x]) * i64::from(k)
                });
                out[y * w_out * 3 + x] = clip8(sum);
            }
        }
        out
    };
    Photo::new(photo.name(), width, height, rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shorter_side_becomes_256_and_the_longer_follows_truncated() {
        let p = Preprocess::IMAGENET;
        assert_eq!(p.resized_size(500, 375), (341, 256));
        assert_eq!(p.resized_size(375, 500), (256, 341));
        assert_eq!(p.resized_size(300, 300), (256, 256));
        assert_eq!(p.resized_size(64, 1000), (256, 4000));
    }

    #[test]
    fn a_flat_photo_stays_flat_and_the_crop_is_centred_half_to_even() {
        let flat = Photo::new("flat", 37, 23, vec![200; 37 * 23 * 3]).unwrap();
        let out = resize_bilinear(&flat, 100, 61).unwrap();
        assert!(out.rgb().iter().all(|&v| v == 200));
        let out = resize_bilinear(&flat, 5, 4).unwrap();
        assert!(out.rgb().iter().all(|&v| v == 200));
        // Columns numbered by their level: a 7-wide photo cropped to 2 starts at round(2.5) = 2.
        let rgb: Vec<u8> = (0..3 * 7).flat_map(|i| [(i % 7) as u8; 3]).collect();
        let strip = Photo::new("strip", 7, 3, rgb).unwrap();
        let crop = center_crop(&strip, 2).unwrap();
        assert_eq!(crop.rgb()[..6], [2, 2, 2, 3, 3, 3]);
        assert!(matches!(
            center_crop(&strip, 4),
            Err(ImagenetError::Invalid(_))
        ));
    }

    #[test]
    fn halving_averages_pairs_with_the_triangle_filter() {
        // Reduction by 2: support 2, taps at distances 0.25 and 0.75 of the widened triangle
        // around each output centre, weights 1/8, 3/8, 3/8, 1/8 (edges renormalized).
        let levels = [0u8, 80, 160, 240, 40, 120];
        let rgb: Vec<u8> = levels.iter().flat_map(|&v| [v; 3]).collect();
        let row = Photo::new("row", 6, 1, rgb).unwrap();
        let half = resize_bilinear(&row, 3, 1).unwrap();
        let expected = |taps: &[(usize, f64)]| {
            let total: f64 = taps.iter().map(|t| t.1).sum();
            (taps
                .iter()
                .map(|&(i, w)| f64::from(levels[i]) * w)
                .sum::<f64>()
                / total)
                .round() as u8
        };
        let middle = expected(&[(1, 1.0), (2, 3.0), (3, 3.0), (4, 1.0)]);
        let first = expected(&[(0, 3.0), (1, 3.0), (2, 1.0)]);
        assert_eq!(half.rgb()[3], middle);
        assert_eq!(half.rgb()[0], first);
    }
}
