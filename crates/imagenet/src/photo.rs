//! A photo as 8-bit RGB, read from a JPEG (`zune-jpeg`) or PNG (`png`) and written as PNG (by
//! the report crate's writer, which every figure uses).
//!
//! Both decoders are the ones the `image` crate itself uses; the `image` crate is not a
//! dependency because adding it changes the features of crates Burn shares (`bytemuck`) and
//! so forces a rebuild of Burn (about 15 minutes per profile on 2 cores).
//!
//! Conversions, as PIL's `Image.convert("RGB")` does them: grey is copied to the three
//! channels, an alpha channel is dropped (not composited), a palette is expanded, 16-bit
//! samples keep their high byte.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use blindspot_report::figures::{Raster, save_png};

use crate::error::{ImagenetError, Result};

/// An 8-bit RGB image, row-major, channels interleaved (`RGBRGB…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    name: String,
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Photo {
    /// A photo from its levels (`width · height · 3`, interleaved); `name` labels it in
    /// figures and file names.
    ///
    /// # Errors
    /// [`ImagenetError::Invalid`] for an empty image or a wrong number of levels.
    pub fn new(name: impl Into<String>, width: u32, height: u32, rgb: Vec<u8>) -> Result<Self> {
        let expected = width as usize * height as usize * 3;
        if width == 0 || height == 0 || rgb.len() != expected {
            return Err(ImagenetError::Invalid(format!(
                "a {width} × {height} RGB photo needs {expected} levels, got {}",
                rgb.len()
            )));
        }
        Ok(Self {
            name: name.into(),
            width,
            height,
            rgb,
        })
    }

    /// A photo from channel-major pixels `[3, height, width]` in `[0, 1]` (a network's input),
    /// each rounded to the nearest of the 256 levels.
    ///
    /// # Errors
    /// [`ImagenetError::Invalid`] for a wrong number of values or a non-finite one.
    pub fn from_pixels(
        name: impl Into<String>,
        width: u32,
        height: u32,
        pixels: &[f32],
    ) -> Result<Self> {
        let plane = width as usize * height as usize;
        if pixels.len() != 3 * plane || pixels.iter().any(|v| !v.is_finite()) {
            return Err(ImagenetError::Invalid(format!(
                "a {width} × {height} RGB image needs {} finite values, got {}",
                3 * plane,
                pixels.len()
            )));
        }
        let mut rgb = vec![0u8; 3 * plane];
        for (c, channel) in pixels.chunks(plane).enumerate() {
            for (i, &v) in channel.iter().enumerate() {
                rgb[3 * i + c] = crate::quantize::level(v);
            }
        }
        Self::new(name, width, height, rgb)
    }

    /// Reads a JPEG or PNG file (recognised by its first bytes, not its extension); the name is
    /// the file's stem.
    ///
    /// # Errors
    /// [`ImagenetError::Io`] if it cannot be read, [`ImagenetError::Decode`] if it is neither
    /// format or is broken.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| ImagenetError::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_stem()
            .map_or_else(|| "photo".into(), |s| s.to_string_lossy().into_owned());
        Self::decode(&bytes, name).map_err(|reason| ImagenetError::Decode {
            path: path.to_owned(),
            reason,
        })
    }

    /// Decodes a JPEG or PNG held in memory; the error is the reason.
    fn decode(bytes: &[u8], name: String) -> std::result::Result<Self, String> {
        let (width, height, rgb) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            decode_png(bytes)?
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            decode_jpeg(bytes)?
        } else {
            return Err("neither a JPEG nor a PNG file".into());
        };
        Self::new(name, width, height, rgb).map_err(|e| e.to_string())
    }

    /// The name (a file's stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The levels, row-major, `RGBRGB…`.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// Channel-major pixels `[3, height, width]` in `[0, 1]` (level / 255), as torchvision's
    /// `ToTensor` gives them.
    pub fn to_pixels(&self) -> Vec<f32> {
        let plane = self.width as usize * self.height as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, px) in self.rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + i] = f32::from(px[c]) / 255.0;
            }
        }
        out
    }

    /// The photo as a raster for figures and PNG files.
    pub fn to_raster(&self) -> Raster {
        Raster::from_pixels(self.width, self.height, 3, self.rgb.clone())
            .expect("a photo holds width · height · 3 levels")
    }

    /// Writes the photo as an 8-bit RGB PNG, atomically (`blindspot_report::figures::save_png`,
    /// the project's one PNG writer).
    ///
    /// # Errors
    /// [`ImagenetError::Io`] if the folder cannot be created or the file written.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        save_png(&self.to_raster(), path).map_err(|e| ImagenetError::Io {
            action: "writing",
            path: path.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })
    }
}

fn decode_png(bytes: &[u8]) -> std::result::Result<(u32, u32, Vec<u8>), String> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| format!("PNG: {e}"))?;
    let size = reader
        .output_buffer_size()
        .ok_or("PNG: the image is too large")?;
    let mut buffer = vec![0u8; size];
    let info = reader
        .next_frame(&mut buffer)
        .map_err(|e| format!("PNG: {e}"))?;
    let data = &buffer[..info.buffer_size()];
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("PNG: palette left unexpanded".into()),
    };
    let (width, height) = (info.width, info.height);
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for row in data.chunks(info.line_size) {
        for px in row[..width as usize * channels].chunks_exact(channels) {
            match channels {
                1 | 2 => rgb.extend_from_slice(&[px[0]; 3]),
                _ => rgb.extend_from_slice(&px[..3]),
            }
        }
    }
    Ok((width, height, rgb))
}

fn decode_jpeg(bytes: &[u8]) -> std::result::Result<(u32, u32, Vec<u8>), String> {
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(Cursor::new(bytes), options);
    let rgb = decoder.decode().map_err(|e| format!("JPEG: {e:?}"))?;
    let (width, height) = decoder
        .dimensions()
        .ok_or("JPEG: no image dimensions after decoding")?;
    Ok((width as u32, height as u32, rgb))
}

/// Every JPEG and PNG directly in `dir` (extensions `.jpg`, `.jpeg`, `.png`, any case), in
/// file-name order.
///
/// # Errors
/// [`ImagenetError::Io`] if the folder cannot be listed, [`ImagenetError::NoPhotos`] if it
/// holds none, and the first photo's error if one cannot be read.
pub fn read_folder(dir: &Path) -> Result<Vec<Photo>> {
    let paths = photo_paths(dir)?;
    if paths.is_empty() {
        return Err(ImagenetError::NoPhotos(dir.to_owned()));
    }
    paths.iter().map(|p| Photo::read(p)).collect()
}

/// The paths of the JPEG and PNG files directly in `dir` (extensions `.jpg`, `.jpeg`,
/// `.png`, any case), in file-name order; empty if there are none.
///
/// # Errors
/// [`ImagenetError::Io`] if the folder cannot be listed.
pub fn photo_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = list(dir)?;
    paths.retain(|p| {
        p.is_file()
            && p.extension().is_some_and(|e| {
                let e = e.to_string_lossy().to_lowercase();
                matches!(e.as_str(), "jpg" | "jpeg" | "png")
            })
    });
    paths.sort();
    Ok(paths)
}

/// Every entry of `dir`.
pub(crate) fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| ImagenetError::Io {
        action: "listing",
        path: dir.to_owned(),
        source,
    };
    std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(io)
}
