//! The paper's tables as data, parsed from `assets/paper_tables.json` (embedded at build time).

use serde::Deserialize;

const PAPER_TABLES: &str = include_str!("../../../assets/paper_tables.json");

/// A row of Table 1.
#[derive(Debug, Clone, Deserialize)]
pub struct Table1Row {
    /// Model id (`softmax1`).
    pub model: String,
    /// The paper's description.
    pub description: String,
    /// Training error (fraction).
    pub train_error: f64,
    /// Test error (fraction).
    pub test_error: f64,
    /// Average minimum distortion.
    pub distortion: f64,
}

/// A row of Table 3.
#[derive(Debug, Clone, Deserialize)]
pub struct Table3Row {
    /// Run id (`n100-100-10-p1`).
    pub model: String,
    /// The paper's label (`M1: 100-100-10 trained on P1`).
    pub label: String,
    /// Error on P1.
    pub p1_error: f64,
    /// Error on P2.
    pub p2_error: f64,
    /// Error on the test set.
    pub test_error: f64,
    /// Minimum average distortion.
    pub distortion: f64,
}

/// A table with a caption and rows.
#[derive(Debug, Clone, Deserialize)]
pub struct Table<R> {
    /// The paper's caption.
    pub caption: String,
    /// The rows.
    pub rows: Vec<R>,
}

/// The tables of the paper that the report compares against.
#[derive(Debug, Clone, Deserialize)]
pub struct PaperTables {
    /// Table 1: the MNIST models.
    pub table1: Table<Table1Row>,
    /// Table 3: the models trained on P1 and P2.
    pub table3: Table<Table3Row>,
    /// The remaining tables, kept as JSON for the stages that use them.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl PaperTables {
    /// The embedded tables.
    pub fn load() -> Result<Self, serde_json::Error> {
        serde_json::from_str(PAPER_TABLES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_parse_and_hold_the_papers_numbers() {
        let t = PaperTables::load().unwrap();
        assert_eq!(t.table1.rows.len(), 6);
        assert_eq!(t.table1.rows[3].model, "n100-100-10");
        assert!((t.table1.rows[3].test_error - 0.0164).abs() < 1e-12);
        assert_eq!(t.table3.rows.len(), 3);
        assert!(t.other.contains_key("table2") && t.other.contains_key("table5"));
    }
}
