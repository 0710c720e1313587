//! Runnable examples of blindspot on a user's own Burn models; the code is in `examples/`:
//!
//! - `mnist_cnn`: a CNN on `[B, 1, 28, 28]` trained a short while on real MNIST, attacked
//!   (both goals), its examples transferred to a second model, certified radii from its layer
//!   chain, and a unit analysis of its hidden layer.
//! - `rgb_normalized`: a 10-class CNN on `[B, 3, 32, 32]` with per-channel normalization,
//!   trained for a few seconds on synthetic images, attacked (untargeted and random targets),
//!   its examples saved with their shape and drawn as an RGB Figure-5 grid.
//!
//! `cargo run --release -p blindspot-examples --example mnist_cnn` and
//! `cargo run --release -p blindspot-examples --example rgb_normalized -- <out dir>`
