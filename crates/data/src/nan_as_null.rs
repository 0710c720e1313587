//! NaN as JSON `null` and back, for `#[serde(with = "blindspot_data::nan_as_null")]` on an
//! `f64` field. A mean over nothing (an attack without a success, a table cell without
//! examples) is NaN; `serde_json` writes NaN as `null` but cannot read `null` into an `f64`, so
//! a result file holding one could never be read again (and a stage would redo it forever).

use serde::{Deserialize, Deserializer, Serializer};

/// Writes NaN as `null`, any other value as itself.
pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_none()
    } else {
        serializer.serialize_f64(*value)
    }
}

/// Reads `null` as NaN, a number as itself.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Cell {
        #[serde(with = "super")]
        mean: f64,
    }

    #[test]
    fn nan_is_written_as_null_and_read_back_as_nan_and_numbers_are_kept() {
        let json = serde_json::to_string(&Cell { mean: f64::NAN }).unwrap();
        assert_eq!(json, r#"{"mean":null}"#);
        assert!(serde_json::from_str::<Cell>(&json).unwrap().mean.is_nan());
        let json = serde_json::to_string(&Cell { mean: 0.25 }).unwrap();
        assert_eq!(json, r#"{"mean":0.25}"#);
        assert_eq!(serde_json::from_str::<Cell>(&json).unwrap().mean, 0.25);
    }
}
