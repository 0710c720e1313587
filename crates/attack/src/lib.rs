//! Adversarial examples by box-constrained L-BFGS (Szegedy et al., ICLR 2014, section 4.1), on
//! Burn 0.22, batched on any autodiff device.
//!
//! - [`lbfgsb`]: a batched projected L-BFGS over `[B, D]` tensors, every row its own problem
//!   with its own history, step and termination. It knows nothing about networks.
//! - [`attack`]: the attack `c‖r‖² + loss_f(x + r, l)` with the per-example search over `c`,
//!   refinement and verification; [`goal`]: what to reach; [`loss`]: the classification term.
//! - [`oracle`]: the exact optimum for linear (softmax) models, to certify attacks.
//! - [`distortion`]: the paper's RMS distortion. [`files`]: results as safetensors + JSON.
//!
//! ```no_run
//! use blindspot_attack::{AttackConfig, Goal, LbfgsAttack, Quiet};
//! use blindspot_models::{Classifier, checkpoint};
//! use burn::module::Module;
//! # fn demo(images: burn::tensor::Tensor<2>, labels: &[usize]) -> Result<(), Box<dyn std::error::Error>> {
//! let device = burn::tensor::Device::default();
//! let (model, _) = checkpoint::load("results/models/softmax1".as_ref(), &device)?;
//! let attack = LbfgsAttack::new(AttackConfig { goal: Goal::Untargeted, ..Default::default() });
//! let result = attack.run(&model, images, labels, &mut Quiet)?;
//! println!("success {:.1}%", 100.0 * result.success_rate());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod attack;
pub mod distortion;
pub mod error;
pub mod files;
pub mod goal;
mod host;
pub mod lbfgsb;
pub mod loss;
pub mod oracle;

pub use attack::{AttackConfig, AttackObserver, AttackResult, LbfgsAttack, Quiet, cpu_workers};
pub use error::{AttackError, Result};
pub use goal::{Goal, Problem};
pub use lbfgsb::{BatchObjective, LbfgsbConfig, Solution, Termination, minimize};
pub use loss::TargetedLoss;
pub use oracle::{LinearModel, Optimum};
