//! Figures 5 and 7 as PNG grids: one row per example, columns original | difference ×10
//! shifted to mid-grey (clamped) | changed image.
//!
//! Figure 5 shows adversarial examples; Figure 7's counterpart shows the same images with
//! Gaussian noise of the same RMS distortion (added, then clipped to `[0, 1]`). [`heatmap`]
//! draws the error matrices of Tables 2 and 4, [`image_rows`] the top-k rows of Figures 1–2.
//!
//! The PNG encoder is the few lines an 8-bit grayscale image needs, on `flate2` (zlib and
//! CRC-32), which the workspace already builds. The `image` crate would do it too, but adding
//! it changes the features of crates Burn shares and forces a rebuild of Burn (about 15
//! minutes per profile on 2 cores) for four PNGs per model.

use std::io::Write;
use std::path::Path;

/// An 8-bit grayscale image, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl GrayImage {
    /// A `width × height` image filled with `level`.
    pub fn filled(width: u32, height: u32, level: u8) -> Self {
        Self {
            width,
            height,
            pixels: vec![level; width as usize * height as usize],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The level at `(x, y)`.
    pub fn get(&self, x: u32, y: u32) -> u8 {
        self.pixels[(y * self.width + x) as usize]
    }

    fn put(&mut self, x: u32, y: u32, level: u8) {
        self.pixels[(y * self.width + x) as usize] = level;
    }

    /// The image as a PNG file (8-bit grayscale, no filtering, zlib-compressed).
    pub fn encode_png(&self) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&crc.sum().to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut header = Vec::with_capacity(13);
        header.extend_from_slice(&self.width.to_be_bytes());
        header.extend_from_slice(&self.height.to_be_bytes());
        // Bit depth 8, colour type 0 (grey), compression 0, filter 0, no interlace.
        header.extend_from_slice(&[8, 0, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &header);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        for row in self.pixels.chunks(self.width as usize) {
            z.write_all(&[0])
                .and_then(|_| z.write_all(row))
                .expect("writing to a Vec cannot fail");
        }
        let data = z.finish().expect("writing to a Vec cannot fail");
        chunk(&mut out, b"IDAT", &data);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

/// Pixels between cells.
const GAP: u32 = 2;

/// Errors of figure writing.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// The rows do not hold square images of the given side.
    #[error("figure rows must hold {expected} pixels per image, found {found}")]
    Shape {
        /// Pixels expected.
        expected: usize,
        /// Pixels found.
        found: usize,
    },
    /// Encoding or writing failed.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

/// A grid of `rows` (original, changed) images of `side × side` pixels in `[0, 1]`, each pixel
/// drawn as a `zoom × zoom` block.
pub fn grid(
    rows: &[(Vec<f32>, Vec<f32>)],
    side: usize,
    zoom: u32,
) -> Result<GrayImage, FigureError> {
    let triples: Vec<Vec<Vec<f32>>> = rows
        .iter()
        .map(|(original, changed)| {
            let difference: Vec<f32> = original
                .iter()
                .zip(changed)
                .map(|(&o, &c)| (0.5 + 10.0 * (c - o)).clamp(0.0, 1.0))
                .collect();
            vec![original.clone(), difference, changed.clone()]
        })
        .collect();
    image_rows(&triples, side, zoom)
}

/// A plain grid of images (Figures 1–2): `rows[r][c]` is a `side × side` image in `[0, 1]`,
/// drawn in row `r`, column `c`, each pixel a `zoom × zoom` block; rows may differ in length
/// (the grid is as wide as the longest) and gaps are white.
pub fn image_rows(
    rows: &[Vec<Vec<f32>>],
    side: usize,
    zoom: u32,
) -> Result<GrayImage, FigureError> {
    if let Some(bad) = rows.iter().flatten().find(|v| v.len() != side * side) {
        return Err(FigureError::Shape {
            expected: side * side,
            found: bad.len(),
        });
    }
    let cell = side as u32 * zoom;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let width = columns * (cell + GAP) + GAP;
    let height = rows.len() as u32 * (cell + GAP) + GAP;
    let mut img = GrayImage::filled(width, height, 255);
    for (r, row) in rows.iter().enumerate() {
        for (c, pixels) in row.iter().enumerate() {
            let (x0, y0) = (GAP + c as u32 * (cell + GAP), GAP + r as u32 * (cell + GAP));
            for (i, &v) in pixels.iter().enumerate() {
                let (px, py) = ((i % side) as u32, (i / side) as u32);
                let level = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                for dy in 0..zoom {
                    for dx in 0..zoom {
                        img.put(x0 + px * zoom + dx, y0 + py * zoom + dy, level);
                    }
                }
            }
        }
    }
    Ok(img)
}

/// A heatmap of a `rows × columns` matrix of values in `[0, 1]` (error rates): each cell a
/// `cell × cell` square, white for 0 and black for 1, NaN as mid-grey with a white dot.
pub fn heatmap(values: &[Vec<f64>], cell: u32) -> Result<GrayImage, FigureError> {
    let columns = values.first().map_or(0, Vec::len);
    if let Some(bad) = values.iter().find(|r| r.len() != columns) {
        return Err(FigureError::Shape {
            expected: columns,
            found: bad.len(),
        });
    }
    let width = columns as u32 * (cell + 1) + 1;
    let height = values.len() as u32 * (cell + 1) + 1;
    let mut img = GrayImage::filled(width, height, 255);
    for (r, row) in values.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let level = if v.is_finite() {
                (255.0 * (1.0 - v.clamp(0.0, 1.0))).round() as u8
            } else {
                128
            };
            let (x0, y0) = (1 + c as u32 * (cell + 1), 1 + r as u32 * (cell + 1));
            for dy in 0..cell {
                for dx in 0..cell {
                    img.put(x0 + dx, y0 + dy, level);
                }
            }
            if !v.is_finite() && cell > 2 {
                img.put(x0 + cell / 2, y0 + cell / 2, 255);
            }
        }
    }
    Ok(img)
}

/// Writes the grid as a PNG, atomically (temporary file, then rename).
pub fn save_png(img: &GrayImage, path: &Path) -> Result<(), FigureError> {
    let err = |message: String| FigureError::Write {
        path: path.display().to_string(),
        message,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let tmp = path.with_extension("png.tmp");
    std::fs::write(&tmp, img.encode_png()).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_three_columns_and_mid_grey_for_no_change() {
        let a = vec![0.0; 4];
        let img = grid(&[(a.clone(), a)], 2, 3).unwrap();
        assert_eq!(img.width(), 3 * 6 + 4 * GAP);
        assert_eq!(img.height(), 6 + 2 * GAP);
        // The difference column of an unchanged image is mid-grey.
        assert_eq!(img.get(GAP + 6 + GAP, GAP), 128);
        assert!(grid(&[(vec![0.0; 3], vec![0.0; 4])], 2, 1).is_err());
    }

    #[test]
    fn png_has_signature_header_and_decodable_pixels() {
        use std::io::Read;
        let mut img = GrayImage::filled(3, 2, 7);
        img.put(2, 1, 200);
        let png = img.encode_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 3);
        // IDAT follows the 25-byte IHDR chunk; inflate it back to the filtered scanlines.
        let len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&png[41..41 + len])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw, vec![0, 7, 7, 7, 0, 7, 7, 200]);
        // CRC of IEND is the well-known constant.
        assert_eq!(&png[png.len() - 4..], &[0xAE, 0x42, 0x60, 0x82]);
    }

    #[test]
    fn image_rows_places_each_image_in_its_cell() {
        let (black, white) = (vec![0.0; 4], vec![1.0; 4]);
        let img = image_rows(&[vec![black.clone(), white.clone()], vec![white]], 2, 1).unwrap();
        assert_eq!(img.width(), 2 * (2 + GAP) + GAP);
        assert_eq!(img.height(), 2 * (2 + GAP) + GAP);
        assert_eq!(img.get(GAP, GAP), 0);
        assert_eq!(img.get(2 * GAP + 2, GAP), 255);
        assert!(image_rows(&[vec![vec![0.0; 3]]], 2, 1).is_err());
    }

    #[test]
    fn heatmap_is_black_for_one_white_for_zero() {
        let img = heatmap(&[vec![1.0, 0.0], vec![0.5, f64::NAN]], 4).unwrap();
        assert_eq!((img.width(), img.height()), (11, 11));
        assert_eq!(img.get(1, 1), 0);
        assert_eq!(img.get(6, 1), 255);
        assert_eq!(img.get(1, 6), 128);
        assert!(heatmap(&[vec![1.0], vec![0.0, 1.0]], 4).is_err());
    }
}
