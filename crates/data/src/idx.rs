//! The idx format of LeCun's MNIST files, raw or gzipped.
//!
//! An idx file is a big-endian header — two zero bytes, a type byte (`0x08`: unsigned byte), the
//! number of dimensions, then one `u32` per dimension — followed by the payload in row-major
//! order. Images are `[n, 28, 28]` (magic `0x00000803`), labels `[n]` (magic `0x00000801`).
//! Every length is checked against the header before anything is read, so malformed input is a
//! typed error, never a panic.

use std::io::Read;

use crate::error::{DataError, Result};

/// Magic number of an idx file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an idx file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Side of an MNIST image in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per MNIST image, `n = 784` in the paper's distortion formula.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of classes.
pub const NUM_CLASSES: usize = 10;

/// Images decoded from an idx file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// Pixels, row-major, `count * rows * cols` values scaled to `[0, 1]` (byte / 255).
    pub pixels: Vec<f32>,
}

/// Returns `bytes` decompressed when they start with the gzip magic, unchanged otherwise.
pub fn maybe_gunzip(bytes: Vec<u8>, what: &str) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                what: what.to_owned(),
                source,
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Parses the header and returns the dimensions and the payload.
fn parse_header<'a>(bytes: &'a [u8], magic: u32, what: &str) -> Result<(Vec<u32>, &'a [u8])> {
    let short = |expected| DataError::WrongLength {
        what: what.to_owned(),
        expected,
        found: bytes.len(),
    };
    if bytes.len() < 4 {
        return Err(short(4));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(DataError::BadMagic {
            what: what.to_owned(),
            expected: magic,
            found,
        });
    }
    let ndim = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndim;
    if bytes.len() < header_len {
        return Err(short(header_len));
    }
    let dims = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((dims, &bytes[header_len..]))
}

fn check_payload(what: &str, dims: &[u32], payload: &[u8]) -> Result<usize> {
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
        .ok_or_else(|| DataError::BadDimensions {
            what: what.to_owned(),
            found: dims.to_vec(),
            reason: "size overflows",
        })?;
    if payload.len() != expected {
        return Err(DataError::WrongLength {
            what: what.to_owned(),
            expected,
            found: payload.len(),
        });
    }
    Ok(expected)
}

/// Decodes an idx image file (raw or gzipped) of 28×28 images.
///
/// `what` names the input in errors.
pub fn parse_images(bytes: Vec<u8>, what: &str) -> Result<IdxImages> {
    let bytes = maybe_gunzip(bytes, what)?;
    let (dims, payload) = parse_header(&bytes, IMAGES_MAGIC, what)?;
    if dims[1] as usize != IMAGE_SIDE || dims[2] as usize != IMAGE_SIDE {
        return Err(DataError::BadDimensions {
            what: what.to_owned(),
            found: dims,
            reason: "MNIST images are 28×28",
        });
    }
    check_payload(what, &dims, payload)?;
    Ok(IdxImages {
        count: dims[0] as usize,
        rows: IMAGE_SIDE,
        cols: IMAGE_SIDE,
        pixels: payload.iter().map(|&b| f32::from(b) / 255.0).collect(),
    })
}

/// Decodes an idx label file (raw or gzipped); every label must be a digit 0–9.
pub fn parse_labels(bytes: Vec<u8>, what: &str) -> Result<Vec<u8>> {
    let bytes = maybe_gunzip(bytes, what)?;
    let (dims, payload) = parse_header(&bytes, LABELS_MAGIC, what)?;
    check_payload(what, &dims, payload)?;
    if payload.iter().any(|&l| l as usize >= NUM_CLASSES) {
        return Err(DataError::BadDimensions {
            what: what.to_owned(),
            found: dims,
            reason: "a label is not in 0..=9",
        });
    }
    Ok(payload.to_vec())
}

/// Encodes images (bytes, `[count, 28, 28]`) as an idx file. Used to write fixtures.
pub fn encode_images(count: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [count, IMAGE_SIDE, IMAGE_SIDE] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an idx file. Used to write fixtures.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = LABELS_MAGIC.to_be_bytes().to_vec();
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn images_round_trip_raw_and_gzipped() {
        let pixels: Vec<u8> = (0..2 * IMAGE_PIXELS).map(|i| (i % 256) as u8).collect();
        let file = encode_images(2, &pixels);
        for bytes in [file.clone(), gzip(&file)] {
            let images = parse_images(bytes, "fixture").unwrap();
            assert_eq!(images.count, 2);
            assert_eq!(images.pixels.len(), 2 * IMAGE_PIXELS);
            assert_eq!(images.pixels[255], 1.0);
            assert_eq!(images.pixels[1], 1.0 / 255.0);
        }
    }

    #[test]
    fn labels_round_trip() {
        let labels = vec![0, 9, 3, 3];
        assert_eq!(parse_labels(encode_labels(&labels), "l").unwrap(), labels);
    }

    #[test]
    fn truncated_file_is_a_typed_error() {
        let mut file = encode_images(2, &vec![0; 2 * IMAGE_PIXELS]);
        file.truncate(file.len() - 1);
        let err = parse_images(file, "t").unwrap_err();
        assert!(matches!(
            err,
            DataError::WrongLength {
                expected: 1568,
                found: 1567,
                ..
            }
        ));
        // A header cut in the middle is also caught.
        let err = parse_images(vec![0, 0, 8, 3, 0, 0], "t").unwrap_err();
        assert!(matches!(err, DataError::WrongLength { .. }));
        assert!(matches!(
            parse_labels(vec![], "t").unwrap_err(),
            DataError::WrongLength { .. }
        ));
    }

    #[test]
    fn wrong_magic_is_a_typed_error() {
        let err = parse_images(encode_labels(&[1, 2]), "x").unwrap_err();
        assert!(matches!(
            err,
            DataError::BadMagic {
                expected: IMAGES_MAGIC,
                found: LABELS_MAGIC,
                ..
            }
        ));
    }

    #[test]
    fn wrong_dimensions_are_a_typed_error() {
        let mut file = IMAGES_MAGIC.to_be_bytes().to_vec();
        for d in [1u32, 27, 28] {
            file.extend_from_slice(&d.to_be_bytes());
        }
        file.extend(vec![0; 27 * 28]);
        assert!(matches!(
            parse_images(file, "x").unwrap_err(),
            DataError::BadDimensions { .. }
        ));
        // Labels out of range.
        assert!(matches!(
            parse_labels(encode_labels(&[1, 10]), "x").unwrap_err(),
            DataError::BadDimensions { .. }
        ));
    }

    #[test]
    fn invalid_gzip_is_a_typed_error() {
        let err = parse_labels(vec![0x1f, 0x8b, 0, 1, 2], "x").unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }));
    }
}
