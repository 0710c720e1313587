//! The report of a blindspot run: our numbers beside those of *Intriguing properties of neural
//! networks* (Szegedy et al., ICLR 2014), as Markdown.
//!
//! - [`paper`]: the paper's tables as data (`assets/paper_tables.json`).
//! - [`models`]: Table 1's and Table 3's error columns for the trained models.
//! - [`distortion`]: Table 1's distortion column from the attack stage.
//! - [`figures`]: Figures 5 and 7 as PNG grids.
//! - [`transfer`]: Tables 2–4, error matrices of adversarial examples across models.
//! - [`advtrain`]: adversarial training against decay alone and dropout (section 4.2).
//! - [`units`]: units versus random directions (section 3, Figures 1–2), measured.
//! - [`spectral`]: Table 5's frame bounds and the certified-radius sandwich (section 4.3).
//! - [`robustness`]: accuracy under attack against ε, per attack and the best of all.
//! - [`provenance`]: what every table and figure was computed from, checked before a report.
//!
//! This crate has no Burn dependency: it formats numbers that the stages computed.
#![warn(missing_docs)]

pub mod advtrain;
pub mod distortion;
pub mod figures;
pub mod models;
pub mod paper;
pub mod provenance;
pub mod robustness;
pub mod spectral;
pub mod transfer;
pub mod units;

pub use advtrain::{AdvTrainResult, RobustAt, render_advtrain_section};
pub use distortion::{DistortionResult, render_distortion_section};
pub use models::{LbfgsResult, ModelResult, render_lbfgs_section, render_models_section};
pub use paper::PaperTables;
pub use provenance::render_provenance_section;
pub use robustness::{RobustnessTable, render_robustness_section};
pub use spectral::{CertificateRow, SpectralLayerRow, SpectralResults, render_spectral_section};
pub use transfer::{
    AttackTransferRow, TransferResults, TransferTable, render_attack_transfer_section,
    render_transfer_section,
};
pub use units::{UnitsResult, render_units_section};

/// Formats a fraction as a percentage with two decimals (`0.0164` → `1.64%`).
pub fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// The header of the report: what was run, where, and at which scale.
pub fn render_header(scale: &str, backend: &str, command: &str) -> String {
    format!(
        "# blindspot report\n\n\
         Reproduction of *Intriguing properties of neural networks* (Szegedy et al., ICLR 2014).\n\n\
         - scale: `{scale}`\n- backend: `{backend}`\n- command: `{command}`\n\n\
         Every cell shows **ours** beside *the paper's* value. Errors are percentages of \
         misclassified examples.\n"
    )
}
