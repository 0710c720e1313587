//! The crate's error type.

/// Everything that can go wrong while computing frame bounds or certificates.
#[derive(Debug, thiserror::Error)]
pub enum SpectralError {
    /// A weight tensor or input does not have the shape the computation needs.
    #[error("invalid shape: {0}")]
    Shape(String),
    /// A value that the computation cannot use (a non-finite weight, a non-positive standard
    /// deviation, a negative Lipschitz constant).
    #[error("invalid value: {0}")]
    Value(String),
    /// A layer configuration the bounds do not cover (unequal strides of a convolution).
    #[error("{layer}: unsupported: {reason}")]
    Unsupported {
        /// The layer.
        layer: String,
        /// What is not covered.
        reason: String,
    },
    /// An attack's perturbation shorter than the certified radius of its image: the
    /// certificate says no perturbation that short changes the class, so the bound or the
    /// attack is wrong ([`crate::CertifiedBatch::check`]).
    #[error(
        "problem {problem} (image {image}): the attack changed the class at L2 {l2}, inside the certified radius {radius}"
    )]
    InsideRadius {
        /// The attack's problem.
        problem: usize,
        /// Its image (the certificate's index).
        image: usize,
        /// The L2 norm of its perturbation.
        l2: f64,
        /// The certified radius of its image.
        radius: f64,
    },
    /// An eigenvalue computation did not converge.
    #[error("eigenvalue computation did not converge for a {0}×{0} matrix")]
    NoConvergence(usize),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, SpectralError>;
