//! [`Pool`]: a fixed-capacity store of adversarial examples on the host, a random subset of
//! which is replaced by fresh examples now and then and from which every minibatch draws.

use rand::Rng;
use rand::seq::index::sample;

use crate::error::{AdvTrainError, Result};

/// Examples `[len, dim]` with their true labels; at most `capacity` of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    dim: usize,
    capacity: usize,
    x: Vec<f32>,
    labels: Vec<u32>,
}

impl Pool {
    /// An empty pool of examples of `dim` values.
    pub fn new(dim: usize, capacity: usize) -> Result<Self> {
        if dim == 0 || capacity == 0 {
            return Err(AdvTrainError::InvalidConfig(format!(
                "a pool needs positive width and capacity (got {dim} and {capacity})"
            )));
        }
        Ok(Self {
            dim,
            capacity,
            x: Vec::new(),
            labels: Vec::new(),
        })
    }

    /// Examples held.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the pool holds nothing yet.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Width of an example.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Maximum number of examples.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The labels held, in storage order.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// Example `i`.
    pub fn example(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// Adds fresh examples `x` `[k, dim]` with `labels` `[k]`: they fill free room first, then
    /// replace a uniformly random subset of the old ones (without repetition). Of more than
    /// `capacity` fresh examples only the first `capacity` are kept.
    pub fn refresh(&mut self, x: &[f32], labels: &[u32], rng: &mut impl Rng) -> Result<()> {
        let k = labels.len();
        if x.len() != k * self.dim {
            return Err(AdvTrainError::Shape {
                what: "pool examples",
                expected: k * self.dim,
                found: x.len(),
            });
        }
        let k = k.min(self.capacity);
        let free = (self.capacity - self.len()).min(k);
        self.x.extend_from_slice(&x[..free * self.dim]);
        self.labels.extend_from_slice(&labels[..free]);
        let replace = k - free;
        if replace > 0 {
            for (j, slot) in sample(rng, self.len(), replace).into_iter().enumerate() {
                let src = free + j;
                self.x[slot * self.dim..(slot + 1) * self.dim]
                    .copy_from_slice(&x[src * self.dim..(src + 1) * self.dim]);
                self.labels[slot] = labels[src];
            }
        }
        Ok(())
    }

    /// `k` examples drawn uniformly with replacement (empty if the pool is empty).
    pub fn draw(&self, k: usize, rng: &mut impl Rng) -> (Vec<f32>, Vec<u32>) {
        if self.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let mut x = Vec::with_capacity(k * self.dim);
        let mut labels = Vec::with_capacity(k);
        for _ in 0..k {
            let i = rng.random_range(0..self.len());
            x.extend_from_slice(self.example(i));
            labels.push(self.labels[i]);
        }
        (x, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Rows whose every value is their label, so that a row and its label can be checked.
    fn rows(labels: &[u32], dim: usize) -> Vec<f32> {
        labels
            .iter()
            .flat_map(|&l| std::iter::repeat_n(l as f32, dim))
            .collect()
    }

    #[test]
    fn refresh_fills_then_replaces_and_keeps_rows_with_their_labels() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut pool = Pool::new(3, 5).unwrap();
        pool.refresh(&rows(&[1, 2, 3], 3), &[1, 2, 3], &mut rng)
            .unwrap();
        assert_eq!(pool.len(), 3);
        pool.refresh(&rows(&[4, 5, 6, 7], 3), &[4, 5, 6, 7], &mut rng)
            .unwrap();
        assert_eq!(pool.len(), 5);
        // 4 and 5 filled the free room; 6 and 7 replaced two of the five.
        assert!(pool.labels().contains(&6) && pool.labels().contains(&7));
        assert_eq!(pool.labels().iter().filter(|&&l| l >= 6).count(), 2);
        for i in 0..pool.len() {
            assert!(
                pool.example(i)
                    .iter()
                    .all(|&v| v == pool.labels()[i] as f32)
            );
        }
        let (x, labels) = pool.draw(50, &mut rng);
        assert_eq!((x.len(), labels.len()), (150, 50));
        for (row, l) in x.chunks(3).zip(&labels) {
            assert!(row.iter().all(|&v| v == *l as f32));
            assert!(pool.labels().contains(l));
        }
        assert!(pool.refresh(&[0.0; 4], &[1], &mut rng).is_err());
        assert!(Pool::new(0, 3).is_err());
        assert_eq!(Pool::new(2, 2).unwrap().draw(4, &mut rng).1.len(), 0);
    }

    #[test]
    fn labels_beyond_255_are_kept() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut pool = Pool::new(2, 3).unwrap();
        let labels = [999, 256, 70_000];
        pool.refresh(&rows(&labels, 2), &labels, &mut rng).unwrap();
        assert_eq!(pool.labels(), &labels);
        let (x, drawn) = pool.draw(20, &mut rng);
        for (row, l) in x.chunks(2).zip(&drawn) {
            assert!(labels.contains(l));
            assert!(row.iter().all(|&v| v == *l as f32));
        }
    }
}
