//! Directions in the activation space of a layer: the natural basis `e_i` (one unit) and
//! seeded random unit vectors.
//!
//! A random direction is `v = g / |g|` with `g ~ N(0, I_n)`, drawn from a `StdRng` seeded with
//! `seed` (Box–Muller on its uniforms), so that `v` is uniform on the unit sphere of `R^n` and
//! the same seed gives the same directions. `⟨φ(x), e_i⟩` is the activation of unit `i`, so a
//! natural direction projects by selecting a column; a random one by a matrix product.

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::{Result, UnitsError};

/// A set of directions in `R^width`, the activation space of one layer.
#[derive(Debug, Clone, PartialEq)]
pub enum Directions {
    /// Natural basis vectors `e_i`, one per listed unit.
    Natural {
        /// Width of the layer.
        width: usize,
        /// The units `i`, in order.
        units: Vec<usize>,
    },
    /// Random unit vectors.
    Random {
        /// Width of the layer.
        width: usize,
        /// The seed they were drawn from.
        seed: u64,
        /// `[count, width]`, row-major, each row of unit length.
        vectors: Vec<f32>,
    },
}

impl Directions {
    /// The natural basis vectors of the listed units.
    pub fn natural(width: usize, units: Vec<usize>) -> Result<Self> {
        if let Some(&unit) = units.iter().find(|&&u| u >= width) {
            return Err(UnitsError::NoSuchUnit { unit, width });
        }
        if units.is_empty() {
            return Err(UnitsError::InvalidParameter(
                "at least one unit is needed".into(),
            ));
        }
        Ok(Self::Natural { width, units })
    }

    /// Every unit of the layer, or, with `max = Some(m)` and `m < width`, `m` evenly spaced
    /// units `⌊j·width/m⌋` (so that a subset of a convolutional layer spans all its channels).
    pub fn units(width: usize, max: Option<usize>) -> Result<Self> {
        let units = match max {
            Some(m) if m < width => (0..m).map(|j| j * width / m).collect(),
            _ => (0..width).collect(),
        };
        Self::natural(width, units)
    }

    /// `count` random unit vectors of `R^width` drawn from `seed`.
    pub fn random(width: usize, count: usize, seed: u64) -> Result<Self> {
        if width == 0 || count == 0 {
            return Err(UnitsError::InvalidParameter(format!(
                "random directions need a positive width and count (width {width}, count {count})"
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut vectors = Vec::with_capacity(count * width);
        for _ in 0..count {
            let g: Vec<f64> = (0..width).map(|_| gaussian(&mut rng)).collect();
            let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
            // A zero Gaussian vector has probability 0; guard anyway.
            let norm = if norm > 0.0 { norm } else { 1.0 };
            vectors.extend(g.iter().map(|x| (x / norm) as f32));
        }
        Ok(Self::Random {
            width,
            seed,
            vectors,
        })
    }

    /// Width of the layer.
    pub fn width(&self) -> usize {
        match self {
            Self::Natural { width, .. } | Self::Random { width, .. } => *width,
        }
    }

    /// Number of directions.
    pub fn len(&self) -> usize {
        match self {
            Self::Natural { units, .. } => units.len(),
            Self::Random { width, vectors, .. } => vectors.len() / width,
        }
    }

    /// Whether there are no directions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `natural` or `random`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Natural { .. } => "natural",
            Self::Random { .. } => "random",
        }
    }

    /// Direction `j` as a dense vector of length `width`.
    pub fn vector(&self, j: usize) -> Option<Vec<f32>> {
        match self {
            Self::Natural { width, units } => units.get(j).map(|&u| {
                let mut v = vec![0.0; *width];
                v[u] = 1.0;
                v
            }),
            Self::Random { width, vectors, .. } => {
                vectors.get(j * width..(j + 1) * width).map(<[f32]>::to_vec)
            }
        }
    }

    /// The directions on `device`, ready to project activations.
    pub fn to_device(&self, device: &Device) -> Projection {
        match self {
            Self::Natural { units, .. } => {
                let units: Vec<i64> = units.iter().map(|&u| u as i64).collect();
                let n = units.len();
                Projection::Select(Tensor::from_data(TensorData::new(units, [n]), device))
            }
            Self::Random { width, vectors, .. } => {
                let count = vectors.len() / width;
                let v: Tensor<2> =
                    Tensor::from_data(TensorData::new(vectors.clone(), [count, *width]), device);
                Projection::Matmul(v.transpose())
            }
        }
    }
}

/// Directions on a device: `⟨φ(x), v⟩` for every row of a batch and every direction.
#[derive(Debug, Clone)]
pub enum Projection {
    /// The listed columns of `φ`, `[units]`.
    Select(Tensor<1, Int>),
    /// `φ V^T` with `V^T` of shape `[width, count]`.
    Matmul(Tensor<2>),
}

impl Projection {
    /// Projections of a batch of activations.
    ///
    /// # Shapes
    /// - `phi`: `[batch, width]`
    /// - output: `[batch, directions]`
    pub fn apply(&self, phi: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Select(units) => phi.select(1, units.clone()),
            Self::Matmul(vt) => phi.matmul(vt.clone()),
        }
    }
}

/// One standard normal draw (Box–Muller).
fn gaussian(rng: &mut StdRng) -> f64 {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
