//! Adversarial examples by box-constrained L-BFGS (Szegedy et al., ICLR 2014, section 4.1), on
//! Burn 0.22, batched on any autodiff device.
//!
//! - [`lbfgsb`]: a batched projected L-BFGS over `[B, D]` tensors, every row its own problem
//!   with its own history, step and termination. It knows nothing about networks.
//! - [`lbfgs`]: the attack `c‖r‖² + loss_f(x + r, l)` with the per-example search over `c`
//!   and refinement; [`fgsm`] and [`pgd`]: ε-bounded attacks (one signed-gradient step;
//!   projected gradient descent under L∞ or L2); [`deepfool`], [`ddn`], [`fmn`] and [`cw`]:
//!   the minimum-norm attacks robustness papers compare with. All run on the same driver,
//!   which batches the problems, runs the workers and re-checks every result on the host.
//!   [`any`]: any of them with its settings as one value ([`AnyAttack`], what result files
//!   record); [`attack`]: the result every attack returns; [`goal`]: what to reach; [`loss`]:
//!   the classification term; [`robustness`]: accuracy under attack against ε.
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

pub mod any;
pub mod attack;
pub mod cw;
pub mod ddn;
pub mod deepfool;
pub mod distortion;
mod driver;
mod eps;
pub mod error;
pub mod fgsm;
pub mod files;
pub mod fmn;
pub mod goal;
mod host;
pub mod lbfgs;
pub mod lbfgsb;
pub mod loss;
pub mod oracle;
pub mod pgd;
pub mod robustness;
pub mod rows;

pub use any::{AnyAttack, Kind};
pub use attack::{AttackObserver, AttackResult, Quiet, cpu_workers};
pub use cw::{CwAttack, CwConfig};
pub use ddn::{DdnAttack, DdnConfig};
pub use deepfool::{DeepFoolAttack, DeepFoolConfig};
pub use eps::Norm;
pub use error::{AttackError, Result};
pub use fgsm::{FgsmAttack, FgsmConfig};
pub use fmn::{FmnAttack, FmnConfig};
pub use goal::{Goal, Problem};
pub use lbfgs::{AttackConfig, LbfgsAttack};
pub use lbfgsb::{BatchObjective, LbfgsbConfig, Solution, Termination, minimize};
pub use loss::TargetedLoss;
pub use oracle::{LinearModel, Optimum};
pub use pgd::{PgdAttack, PgdConfig};
