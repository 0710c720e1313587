//! Shared helpers of the integration tests: the backends under test and synthetic data.

use blindspot_data::{Dataset, IMAGE_PIXELS};
use burn::tensor::Device;

/// Every CPU backend the tests run on: Flex (Burn's default) and NdArray (the project's design
/// names it; deprecated in Burn 0.22 but still shipped).
#[allow(deprecated)]
pub fn test_devices() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray())]
}

/// A linearly separable 10-class set: class `c` lights pixel block `c` (78 pixels) at 0.9 and
/// leaves the rest at a seeded noise level ≤ 0.1.
pub fn separable(n: usize, seed: u64) -> Dataset {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) * 0.1
    };
    let mut images = Vec::with_capacity(n * IMAGE_PIXELS);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 10;
        for p in 0..IMAGE_PIXELS {
            let on = p / 78 == class;
            images.push(if on { 0.9 } else { noise() });
        }
        labels.push(class as u8);
    }
    Dataset::new(images, labels).expect("sizes match")
}
