//! Section 4.3, Table 5: frame bounds of each layer, ours beside the paper's, for AlexNet and
//! our MNIST models, and the certificate sandwich `certified radius ≤ minimal distortion ≤
//! attack's distortion` built from them.

use serde::{Deserialize, Serialize};

use crate::paper::PaperTables;

/// One layer's frame bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralLayerRow {
    /// Network (`alexnet`, `conv`, `n100-100-10`).
    pub network: String,
    /// Layer name (`Conv. 1`, `fc2`).
    pub layer: String,
    /// Size in the paper's notation (`3×11×11×96`).
    pub size: String,
    /// Grid side the conv bound was computed on (circular model); `None` for dense layers.
    pub grid: Option<usize>,
    /// Stride of a convolution.
    pub stride: Option<usize>,
    /// Smallest singular value.
    pub lower: f64,
    /// Largest singular value.
    pub upper: f64,
    /// Lipschitz constant of the nonlinearity after the layer.
    pub after: f64,
}

/// The certificate against the attack for one MNIST model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateRow {
    /// Run id.
    pub model: String,
    /// Upper bound on the logits' Lipschitz constant (product of the layers).
    pub lipschitz: f64,
    /// Examples compared (attacked successfully and correctly classified).
    pub examples: usize,
    /// Mean certified L2 radius.
    pub certified_mean: f64,
    /// Mean L2 distortion of the attack.
    pub attack_mean: f64,
    /// Mean over examples of certified radius / attack distortion.
    pub mean_ratio: f64,
    /// Largest ratio (≤ 1 when the sandwich holds).
    pub max_ratio: f64,
    /// Examples whose certified radius exceeds the attack's distortion (must be 0).
    pub violations: usize,
}

/// Everything the section shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SpectralResults {
    /// Where AlexNet's weights come from (`initialization (seed …)` or a file name).
    pub alexnet_origin: String,
    /// AlexNet's eight layers.
    pub alexnet: Vec<SpectralLayerRow>,
    /// Our MNIST models' layers.
    pub mnist: Vec<SpectralLayerRow>,
    /// The certificate sandwich per model.
    pub certificates: Vec<CertificateRow>,
    /// Seconds of the whole computation.
    pub seconds: f64,
}

fn num(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&x.abs()) {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

/// The Markdown section.
pub fn render_spectral_section(results: &SpectralResults, paper: &PaperTables) -> String {
    let mut out = String::from("## Section 4.3, Table 5: frame bounds and certified radii\n\n");
    out.push_str(
        "Lower and upper frame bounds (smallest and largest singular value) of each linear layer. Dense \
         layers: eigenvalues of the smaller Gram matrix in f64. Convolutions: the paper's Fourier formula \
         with circular padding on the layer's input grid (rounded up to a multiple of the stride), \
         `sup_ω ‖A(ω)‖/Δ` and `inf_ω σ_min(A(ω))/Δ`, checked in the tests against the SVD of the explicit \
         operator; a zero-padded layer's norm is at most the circular bound on its padded grid.\n\n",
    );
    let rows = paper.other.get("table5").and_then(|t| t.get("rows"));
    out.push_str(&format!(
        "### AlexNet (weights: {})\n\n",
        if results.alexnet_origin.is_empty() {
            "not computed"
        } else {
            &results.alexnet_origin
        }
    ));
    out.push_str(
        "| layer | size | grid / stride | paper lower | paper upper | ours lower | ours upper |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in &results.alexnet {
        let p = rows.and_then(|rows| rows.as_array()).and_then(|rows| {
            rows.iter()
                .find(|p| p.get("layer").and_then(|l| l.as_str()) == Some(&r.layer))
        });
        let pv = |k: &str| {
            p.and_then(|p| p.get(k))
                .and_then(|v| v.as_f64())
                .map_or("–".to_string(), num)
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.layer,
            r.size,
            grid(r),
            pv("lower"),
            pv("upper"),
            num(r.lower),
            num(r.upper)
        ));
    }
    out.push_str("\n### Our MNIST models\n\n");
    out.push_str("| model | layer | size | grid / stride | lower | upper | next Lipschitz |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in &results.mnist {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.network,
            r.layer,
            r.size,
            grid(r),
            num(r.lower),
            num(r.upper),
            num(r.after)
        ));
    }
    out.push_str(
        "\n### Certified radius ≤ minimal distortion ≤ attack's distortion\n\n\
         `L` is the product of the layers' upper bounds and the nonlinearities' constants (ReLU, max \
         pooling 1, sigmoid 1/4); no perturbation with L2 norm below `margin/(√2·L)` changes the class. \
         Distortions are L2 norms (the attack's RMS distortion × √784), over the examples the attack \
         fooled that the model classified correctly.\n\n",
    );
    out.push_str("| model | L | examples | mean certified | mean attack | mean ratio | max ratio | violations |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for c in &results.certificates {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.model,
            num(c.lipschitz),
            c.examples,
            num(c.certified_mean),
            num(c.attack_mean),
            num(c.mean_ratio),
            num(c.max_ratio),
            c.violations
        ));
    }
    out
}

fn grid(r: &SpectralLayerRow) -> String {
    match (r.grid, r.stride) {
        (Some(g), Some(s)) => format!("{g} / {s}"),
        _ => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_the_papers_values_beside_ours() {
        let paper = PaperTables::load().unwrap();
        let row = SpectralLayerRow {
            network: "alexnet".into(),
            layer: "Conv. 1".into(),
            size: "3×11×11×96".into(),
            grid: Some(228),
            stride: Some(4),
            lower: 0.5,
            upper: 3.25,
            after: 1.0,
        };
        let results = SpectralResults {
            alexnet_origin: "initialization".into(),
            alexnet: vec![row],
            ..Default::default()
        };
        let s = render_spectral_section(&results, &paper);
        assert!(
            s.contains("| Conv. 1 | 3×11×11×96 | 228 / 4 | 0.1000 | 20.0000 | 0.5000 | 3.2500 |"),
            "{s}"
        );
        assert!(s.contains("weights: initialization"));
    }
}
