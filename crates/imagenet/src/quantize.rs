//! Pixels as an 8-bit file stores them: each value of `[0, 1]` rounded to the nearest of the
//! 256 levels `k / 255`. An adversarial example is only one if it survives this rounding.

/// The level (0–255) of a pixel value, clamped to `[0, 1]` first.
pub(crate) fn level(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The levels of pixel values (each clamped to `[0, 1]`).
pub fn to_levels(pixels: &[f32]) -> Vec<u8> {
    pixels.iter().map(|&v| level(v)).collect()
}

/// Pixel values rounded to 8 bits: `round(255·v) / 255`, clamped to `[0, 1]`.
pub fn quantize(pixels: &[f32]) -> Vec<f32> {
    pixels
        .iter()
        .map(|&v| f32::from(level(v)) / 255.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_to_the_nearest_level_and_levels_are_fixed_points() {
        assert_eq!(
            to_levels(&[0.0, 1.0, -0.2, 1.7, 0.5]),
            [0, 255, 0, 255, 128]
        );
        // 0.5/255 away from a level is the tie; just below it rounds down.
        assert_eq!(
            to_levels(&[(10.0 + 0.49) / 255.0, (10.0 + 0.51) / 255.0]),
            [10, 11]
        );
        let levels: Vec<f32> = (0..=255).map(|k| k as f32 / 255.0).collect();
        assert_eq!(quantize(&levels), levels);
        let once = quantize(&[0.1234, 0.777, 0.5001]);
        assert_eq!(quantize(&once), once);
    }
}
