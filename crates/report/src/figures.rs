//! Figures 5 and 7 as PNG grids: one row per example, columns original | difference ×10
//! shifted to mid-grey (clamped) | changed image.
//!
//! Figure 5 shows adversarial examples; Figure 7's counterpart shows the same images with
//! Gaussian noise of the same RMS distortion (added, then clipped to the box); [`image_rows`]
//! draws the top-k rows of Figures 1–2. Charts and heatmaps (Tables 2 and 4) are drawn by
//! `blindspot-plot`, which hands back a [`Raster`] for [`save_png`].
//! Images of any [`ImageFormat`] are drawn: grey (one channel) or RGB (three), any size, values
//! mapped from the model's box `[lo, hi]` to 0–255.
//!
//! The PNG encoder is the few lines an 8-bit grey or RGB image needs, on `flate2` (zlib and
//! CRC-32), which the workspace already builds. The `image` crate would do it too, but adding
//! it changes the features of crates Burn shares and forces a rebuild of Burn (about 15
//! minutes per profile on 2 cores) for four PNGs per model.

use std::io::Write;
use std::path::Path;

/// How a flat image is laid out and which values are black and white: `[channels, height,
/// width]` channel-major (as a PyTorch image), values in `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageFormat {
    /// `[C, H, W]` with `C` 1 (grey) or 3 (RGB).
    pub shape: [usize; 3],
    /// The value drawn black (zero intensity).
    pub lo: f32,
    /// The value drawn at full intensity.
    pub hi: f32,
}

impl ImageFormat {
    /// Images of `shape` `[C, H, W]` with values in the box `[lo, hi]` (a classifier's
    /// `input_shape()` and `bounds()`): `lo` is drawn black, `hi` at full intensity.
    ///
    /// # Errors
    /// [`FigureError::Format`] unless `C` is 1 or 3, `H` and `W` are positive and `lo < hi`
    /// are finite.
    pub fn new(shape: [usize; 3], lo: f32, hi: f32) -> Result<Self, FigureError> {
        let format = Self { shape, lo, hi };
        format.check()?;
        Ok(format)
    }

    /// Images of this shape with values in the paper's box `[0, 1]` (MNIST's pixels); for a
    /// model with another box, [`ImageFormat::new`].
    pub fn unit(shape: [usize; 3]) -> Self {
        Self {
            shape,
            lo: 0.0,
            hi: 1.0,
        }
    }

    fn check(&self) -> Result<(), FigureError> {
        let [c, h, w] = self.shape;
        let ordered = self.lo.is_finite() && self.hi.is_finite() && self.lo < self.hi;
        if !(c == 1 || c == 3) || h == 0 || w == 0 || !ordered {
            return Err(FigureError::Format(format!(
                "can draw 1 or 3 channels of a non-empty image with lo < hi, got shape {:?} and \
                 [{}, {}]",
                self.shape, self.lo, self.hi
            )));
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The 0–255 level of value `v`.
    fn level(&self, v: f32) -> u8 {
        (((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// An 8-bit grey or RGB raster, row-major, channels interleaved.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    width: u32,
    height: u32,
    channels: u8,
    pixels: Vec<u8>,
}

impl Raster {
    /// A `width × height` image of `channels` (1 or 3) filled with `level`.
    pub fn filled(width: u32, height: u32, channels: u8, level: u8) -> Self {
        Self {
            width,
            height,
            channels,
            pixels: vec![level; width as usize * height as usize * channels as usize],
        }
    }

    /// A `width × height` image of `channels` (1 or 3) from its levels, row-major, channels
    /// interleaved (`RGBRGB…` for colour), as drawn by a raster library.
    ///
    /// # Errors
    /// [`FigureError::Format`] unless `channels` is 1 or 3 and `pixels` holds exactly
    /// `width · height · channels` levels.
    pub fn from_pixels(
        width: u32,
        height: u32,
        channels: u8,
        pixels: Vec<u8>,
    ) -> Result<Self, FigureError> {
        let expected = width as usize * height as usize * channels as usize;
        if !(channels == 1 || channels == 3) || pixels.len() != expected {
            return Err(FigureError::Format(format!(
                "a {width}×{height} raster of {channels} channels needs {expected} levels (1 or 3 \
                 channels), got {}",
                pixels.len()
            )));
        }
        Ok(Self {
            width,
            height,
            channels,
            pixels,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Channels: 1 (grey) or 3 (RGB).
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// The levels at `(x, y)`, one per channel.
    pub fn get(&self, x: u32, y: u32) -> &[u8] {
        let c = self.channels as usize;
        let at = (y * self.width + x) as usize * c;
        &self.pixels[at..at + c]
    }

    fn put(&mut self, x: u32, y: u32, channel: usize, level: u8) {
        let c = self.channels as usize;
        self.pixels[(y * self.width + x) as usize * c + channel] = level;
    }

    /// The image as a PNG file (8-bit grey or RGB, no filtering, zlib-compressed).
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
        // Bit depth 8, colour type 0 (grey) or 2 (RGB), compression 0, filter 0, no interlace.
        let colour = if self.channels == 3 { 2 } else { 0 };
        header.extend_from_slice(&[8, colour, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &header);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        for row in self
            .pixels
            .chunks(self.width as usize * self.channels as usize)
        {
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
    /// The rows do not hold images of the given format.
    #[error("figure rows must hold {expected} values per image, found {found}")]
    Shape {
        /// Values expected.
        expected: usize,
        /// Values found.
        found: usize,
    },
    /// The format cannot be drawn.
    #[error("{0}")]
    Format(String),
    /// Encoding or writing failed.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

/// A grid of `rows` (original, changed) images of the given format, each pixel drawn as a
/// `zoom × zoom` block; the middle column is the difference ×10 around mid-grey.
pub fn grid(
    rows: &[(Vec<f32>, Vec<f32>)],
    format: ImageFormat,
    zoom: u32,
) -> Result<Raster, FigureError> {
    let mid = 0.5 * (format.lo + format.hi);
    let triples: Vec<Vec<Vec<f32>>> = rows
        .iter()
        .map(|(original, changed)| {
            let difference: Vec<f32> = original
                .iter()
                .zip(changed)
                .map(|(&o, &c)| (mid + 10.0 * (c - o)).clamp(format.lo, format.hi))
                .collect();
            vec![original.clone(), difference, changed.clone()]
        })
        .collect();
    image_rows(&triples, format, zoom)
}

/// A plain grid of images (Figures 1–2): `rows[r][c]` is an image of the given format, drawn
/// in row `r`, column `c`, each pixel a `zoom × zoom` block; rows may differ in length (the
/// grid is as wide as the longest) and gaps are white.
pub fn image_rows(
    rows: &[Vec<Vec<f32>>],
    format: ImageFormat,
    zoom: u32,
) -> Result<Raster, FigureError> {
    format.check()?;
    if let Some(bad) = rows.iter().flatten().find(|v| v.len() != format.len()) {
        return Err(FigureError::Shape {
            expected: format.len(),
            found: bad.len(),
        });
    }
    let [channels, height, width] = format.shape;
    let plane = height * width;
    let (cell_w, cell_h) = (width as u32 * zoom, height as u32 * zoom);
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let total_w = columns * (cell_w + GAP) + GAP;
    let total_h = rows.len() as u32 * (cell_h + GAP) + GAP;
    let mut img = Raster::filled(total_w, total_h, channels as u8, 255);
    for (r, row) in rows.iter().enumerate() {
        for (c, pixels) in row.iter().enumerate() {
            let (x0, y0) = (
                GAP + c as u32 * (cell_w + GAP),
                GAP + r as u32 * (cell_h + GAP),
            );
            for (i, &v) in pixels.iter().enumerate() {
                let (channel, at) = (i / plane, i % plane);
                let (px, py) = ((at % width) as u32, (at / width) as u32);
                let level = format.level(v);
                for dy in 0..zoom {
                    for dx in 0..zoom {
                        img.put(x0 + px * zoom + dx, y0 + py * zoom + dy, channel, level);
                    }
                }
            }
        }
    }
    Ok(img)
}

/// Writes the image as a PNG, atomically (a unique temporary file, synced, then renamed).
pub fn save_png(img: &Raster, path: &Path) -> Result<(), FigureError> {
    blindspot_data::write_atomic(path, &img.encode_png()).map_err(|e| FigureError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREY2: ImageFormat = ImageFormat {
        shape: [1, 2, 2],
        lo: 0.0,
        hi: 1.0,
    };

    #[test]
    fn grid_has_three_columns_and_mid_grey_for_no_change() {
        let a = vec![0.0; 4];
        let img = grid(&[(a.clone(), a)], GREY2, 3).unwrap();
        assert_eq!(img.width(), 3 * 6 + 4 * GAP);
        assert_eq!(img.height(), 6 + 2 * GAP);
        // The difference column of an unchanged image is mid-grey.
        assert_eq!(img.get(GAP + 6 + GAP, GAP), &[128]);
        assert!(matches!(
            grid(&[(vec![0.0; 3], vec![0.0; 4])], GREY2, 1),
            Err(FigureError::Shape {
                expected: 4,
                found: 3
            })
        ));
    }

    #[test]
    fn png_has_signature_header_and_decodable_pixels() {
        use std::io::Read;
        let mut img = Raster::filled(3, 2, 1, 7);
        img.put(2, 1, 0, 200);
        let png = img.encode_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 3);
        assert_eq!(png[25], 0, "colour type grey");
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
    fn rgb_images_keep_their_channels_apart_and_encode_as_colour_type_2() {
        use std::io::Read;
        // A 1×2 RGB image (channel-major): left pixel pure red, right pixel pure blue, in a box
        // [-1, 1] so that -1 is 0 and 1 is 255.
        let format = ImageFormat {
            shape: [3, 1, 2],
            lo: -1.0,
            hi: 1.0,
        };
        let image = vec![1.0, -1.0, -1.0, -1.0, -1.0, 1.0];
        let img = image_rows(&[vec![image]], format, 1).unwrap();
        assert_eq!(img.channels(), 3);
        assert_eq!(img.get(GAP, GAP), &[255, 0, 0]);
        assert_eq!(img.get(GAP + 1, GAP), &[0, 0, 255]);
        assert_eq!(img.get(0, 0), &[255, 255, 255], "the gap is white");
        let png = img.encode_png();
        assert_eq!(png[25], 2, "colour type RGB");
        let len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&png[41..41 + len])
            .read_to_end(&mut raw)
            .unwrap();
        let stride = 1 + 3 * img.width() as usize;
        assert_eq!(raw.len(), stride * img.height() as usize);
        let row = &raw[GAP as usize * stride..(GAP as usize + 1) * stride];
        let at = 1 + 3 * GAP as usize;
        assert_eq!(&row[at..at + 6], &[255, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn new_draws_the_given_box_and_refuses_what_cannot_be_drawn() {
        // A box [-1, 1]: -1 black, 1 white, 0 half way ((0 + 1) / 2 · 255 = 127.5 → 128).
        let format = ImageFormat::new([1, 1, 3], -1.0, 1.0).unwrap();
        let img = image_rows(&[vec![vec![-1.0, 0.0, 1.0]]], format, 1).unwrap();
        let row: Vec<u8> = (0..3).map(|x| img.get(GAP + x, GAP)[0]).collect();
        assert_eq!(row, [0, 128, 255]);
        assert_eq!(
            ImageFormat::new([3, 2, 2], 0.0, 1.0).unwrap(),
            ImageFormat::unit([3, 2, 2])
        );
        for (shape, lo, hi) in [
            ([2, 4, 4], 0.0, 1.0),
            ([1, 0, 4], 0.0, 1.0),
            ([1, 2, 2], 1.0, 1.0),
            ([1, 2, 2], 0.0, f32::INFINITY),
        ] {
            assert!(matches!(
                ImageFormat::new(shape, lo, hi),
                Err(FigureError::Format(_))
            ));
        }
    }

    #[test]
    fn formats_that_cannot_be_drawn_are_refused() {
        for format in [
            ImageFormat::unit([2, 4, 4]),
            ImageFormat::unit([1, 0, 4]),
            ImageFormat {
                shape: [1, 2, 2],
                lo: 1.0,
                hi: 1.0,
            },
        ] {
            assert!(matches!(
                image_rows(&[], format, 1),
                Err(FigureError::Format(_))
            ));
        }
    }

    #[test]
    fn image_rows_places_each_image_in_its_cell() {
        let (black, white) = (vec![0.0; 4], vec![1.0; 4]);
        let img = image_rows(&[vec![black.clone(), white.clone()], vec![white]], GREY2, 1).unwrap();
        assert_eq!(img.width(), 2 * (2 + GAP) + GAP);
        assert_eq!(img.height(), 2 * (2 + GAP) + GAP);
        assert_eq!(img.get(GAP, GAP), &[0]);
        assert_eq!(img.get(2 * GAP + 2, GAP), &[255]);
        assert!(matches!(
            image_rows(&[vec![vec![0.0; 3]]], GREY2, 1),
            Err(FigureError::Shape { .. })
        ));
    }

    #[test]
    fn from_pixels_checks_the_length_and_channels() {
        let img = Raster::from_pixels(2, 1, 3, vec![1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(img.get(1, 0), &[4, 5, 6]);
        assert_eq!(img, {
            let mut r = Raster::filled(2, 1, 3, 0);
            for (i, v) in [1, 2, 3, 4, 5, 6].into_iter().enumerate() {
                r.put(i as u32 / 3, 0, i % 3, v);
            }
            r
        });
        assert!(matches!(
            Raster::from_pixels(2, 1, 3, vec![0; 5]),
            Err(FigureError::Format(_))
        ));
        assert!(matches!(
            Raster::from_pixels(1, 1, 2, vec![0; 2]),
            Err(FigureError::Format(_))
        ));
    }
}
