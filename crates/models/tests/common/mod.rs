//! Shared helpers of the integration tests: the backends under test and synthetic data.

use blindspot_data::splits::ImageShape;
use blindspot_data::{Dataset, IMAGE_PIXELS};
use blindspot_testing::Lcg;
pub use blindspot_testing::test_devices;

/// A linearly separable 10-class set: class `c` lights pixel block `c` (78 pixels) at 0.9 and
/// leaves the rest at a seeded noise level ≤ 0.1.
pub fn separable(n: usize, seed: u64) -> Dataset {
    let mut lcg = Lcg::new(seed);
    let mut noise = || lcg.next() * 0.1;
    let mut images = Vec::with_capacity(n * IMAGE_PIXELS);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 10;
        for p in 0..IMAGE_PIXELS {
            let on = p / 78 == class;
            images.push(if on { 0.9 } else { noise() });
        }
        labels.push(class as u32);
    }
    Dataset::new(images, labels, ImageShape::MNIST).expect("sizes match")
}
