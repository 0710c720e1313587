//! The four MNIST files, their published SHA-256 digests and verification.

use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// One of the four files of MNIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MnistFile {
    /// 60,000 training images.
    TrainImages,
    /// 60,000 training labels.
    TrainLabels,
    /// 10,000 test images.
    TestImages,
    /// 10,000 test labels.
    TestLabels,
}

impl MnistFile {
    /// All four files, training set first.
    pub const ALL: [MnistFile; 4] = [
        MnistFile::TrainImages,
        MnistFile::TrainLabels,
        MnistFile::TestImages,
        MnistFile::TestLabels,
    ];

    /// The canonical, uncompressed file name (`train-images-idx3-ubyte`, …).
    pub fn name(self) -> &'static str {
        match self {
            MnistFile::TrainImages => "train-images-idx3-ubyte",
            MnistFile::TrainLabels => "train-labels-idx1-ubyte",
            MnistFile::TestImages => "t10k-images-idx3-ubyte",
            MnistFile::TestLabels => "t10k-labels-idx1-ubyte",
        }
    }

    /// Names under which the file is also found: the canonical one, the dotted variant some
    /// packages use (`train-images.idx3-ubyte`), and both gzipped.
    pub fn candidate_names(self) -> [String; 4] {
        let name = self.name();
        let dotted = name.replacen("-idx", ".idx", 1);
        [
            name.to_owned(),
            dotted.clone(),
            format!("{name}.gz"),
            format!("{dotted}.gz"),
        ]
    }

    /// SHA-256 of the uncompressed file, as published with the issue that introduced the data.
    pub fn sha256(self) -> &'static str {
        match self {
            MnistFile::TrainImages => {
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
            }
            MnistFile::TrainLabels => {
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
            }
            MnistFile::TestImages => {
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
            }
            MnistFile::TestLabels => {
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
            }
        }
    }

    /// Checks uncompressed bytes against the published digest.
    pub fn verify(self, bytes: &[u8]) -> Result<()> {
        let found = sha256_hex(bytes);
        if found == self.sha256() {
            Ok(())
        } else {
            Err(DataError::ChecksumMismatch {
                file: self.name(),
                expected: self.sha256(),
                found,
            })
        }
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The field a sealed JSON file ends with: the SHA-256 of the file's text without it.
pub const SEAL_KEY: &str = "content_sha256";

/// The text before the seal: `,\n  "content_sha256": "` (pretty JSON, two-space indent).
fn seal_prefix() -> String {
    format!(",\n  \"{SEAL_KEY}\": \"")
}

/// `body`, the pretty JSON text of a non-empty object (ending in `\n}`), with a last field
/// [`SEAL_KEY`] holding the SHA-256 of `body`: any later change of the text is found by
/// [`check_seal`], numbers included (a changed digit still parses), without re-serializing
/// anything (which could reformat a number). `None` if `body` is not such a text.
pub fn seal_json(body: &[u8]) -> Option<Vec<u8>> {
    let open = body.strip_suffix(b"\n}")?;
    if !body.starts_with(b"{") || open.len() < 2 {
        return None;
    }
    let mut sealed = open.to_vec();
    sealed.extend_from_slice(seal_prefix().as_bytes());
    sealed.extend_from_slice(sha256_hex(body).as_bytes());
    sealed.extend_from_slice(b"\"\n}");
    Some(sealed)
}

/// What [`check_seal`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seal {
    /// The seal is there and matches the text.
    Intact,
    /// There is no seal (a file of an earlier version, or one whose seal was destroyed).
    Absent,
}

/// Checks the seal of a JSON text written by [`seal_json`]; `Err` says why it does not match.
pub fn check_seal(text: &[u8]) -> Result<Seal, String> {
    let prefix = seal_prefix();
    let Some(at) = text
        .windows(prefix.len())
        .rposition(|w| w == prefix.as_bytes())
    else {
        return Ok(Seal::Absent);
    };
    let rest = &text[at + prefix.len()..];
    let recorded = rest
        .strip_suffix(b"\"\n}")
        .filter(|hex| hex.len() == 64 && hex.iter().all(u8::is_ascii_hexdigit))
        .ok_or("its seal is damaged")?;
    let mut body = text[..at].to_vec();
    body.extend_from_slice(b"\n}");
    if recorded == sha256_hex(&body).as_bytes() {
        Ok(Seal::Intact)
    } else {
        Err("its content changed since it was written (the seal does not match)".into())
    }
}

/// One digest that stands for the whole data set: SHA-256 over the four files' digests.
/// Recorded in every model's metadata.
pub fn dataset_sha256() -> String {
    let joined: String = MnistFile::ALL.iter().map(|f| f.sha256()).collect();
    sha256_hex(joined.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sealed_json_text_is_intact_until_any_byte_changes() {
        let body = b"{\n  \"error\": 0.0125,\n  \"name\": \"m\"\n}";
        let sealed = super::seal_json(body).unwrap();
        // SHA-256 of `body`, computed independently (`printf` of the text into `sha256sum`).
        let expected = "{\n  \"error\": 0.0125,\n  \"name\": \"m\",\n  \"content_sha256\": \
                        \"9c8c7d6c67cda2a92945c5dc30db5dd189c536d1dabb17b696c99309f5f94b18\"\n}";
        assert_eq!(String::from_utf8(sealed.clone()).unwrap(), expected);
        assert_eq!(super::check_seal(&sealed), Ok(super::Seal::Intact));
        for at in 0..sealed.len() {
            let mut changed = sealed.clone();
            changed[at] ^= 0x01;
            assert_ne!(
                super::check_seal(&changed),
                Ok(super::Seal::Intact),
                "byte {at}"
            );
        }
        assert_eq!(super::check_seal(body), Ok(super::Seal::Absent));
        assert_eq!(super::seal_json(b"[1]"), None);
        assert_eq!(super::seal_json(b"{\n}"), None);
    }

    use super::*;

    #[test]
    fn checksum_mismatch_is_a_typed_error() {
        let err = MnistFile::TestLabels.verify(b"not mnist").unwrap_err();
        match err {
            DataError::ChecksumMismatch { file, found, .. } => {
                assert_eq!(file, "t10k-labels-idx1-ubyte");
                assert_eq!(found, sha256_hex(b"not mnist"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn candidate_names_cover_dotted_and_gzipped() {
        let names = MnistFile::TrainImages.candidate_names();
        assert!(names.contains(&"train-images.idx3-ubyte".to_owned()));
        assert!(names.contains(&"train-images-idx3-ubyte.gz".to_owned()));
    }
}
