//! The catalogue of the paper's MNIST models (Tables 1 and 3) with their hyper-parameters, the
//! paper's reported errors, and our training recipes at each scale.

use std::fmt;
use std::str::FromStr;

use blindspot_data::{IMAGE_PIXELS, NUM_CLASSES, Split};
use serde::{Deserialize, Serialize};

use crate::any::Architecture;
use crate::autoencoder::AutoencoderConfig;
use crate::conv::ConvNetConfig;
use crate::error::{ModelError, Result};
use crate::mlp::{Activation, MlpConfig};
use crate::train::{Optimizer, TrainConfig};

/// How much compute a run spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Minutes on 2 cores: small subsets, few epochs. Checks the pipeline, not the science.
    Smoke,
    /// The honest CPU run on full MNIST.
    Default,
    /// The paper's scale: longer training.
    Paper,
}

impl Scale {
    /// Every scale.
    pub const ALL: [Scale; 3] = [Scale::Smoke, Scale::Default, Scale::Paper];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Default => "default",
            Scale::Paper => "paper",
        }
    }

    /// Training examples used at this scale (`None`: the whole split).
    pub fn train_subset(self) -> Option<usize> {
        match self {
            Scale::Smoke => Some(2_000),
            _ => None,
        }
    }

    /// Test examples used at this scale (`None`: all 10,000).
    pub fn test_subset(self) -> Option<usize> {
        match self {
            Scale::Smoke => Some(1_000),
            _ => None,
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scale {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        Scale::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                ModelError::InvalidConfig(format!("unknown scale `{s}` (smoke, default, paper)"))
            })
    }
}

/// Errors the paper reports for a model (fractions), where it reports them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PaperErrors {
    /// Error on the model's own training set.
    pub train: f64,
    /// Error on the test set.
    pub test: f64,
}

/// One of the paper's MNIST models.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// Identifier used on the command line and in file names (`n100-100-10`).
    pub name: &'static str,
    /// One line for listings and reports.
    pub description: &'static str,
    /// The architecture and its weight decay.
    pub architecture: Architecture,
    /// What the paper reports on the full training set (Table 1), if anything.
    pub paper: Option<PaperErrors>,
    /// The test error a model trained on the full training set must not exceed.
    pub target_test_error: f64,
}

const SIGMOID_DECAY: [f64; 3] = [1e-5, 1e-5, 1e-6];

fn softmax(lambda: f64) -> Architecture {
    Architecture::Mlp(MlpConfig::new(
        IMAGE_PIXELS,
        vec![],
        NUM_CLASSES,
        Activation::Sigmoid,
        vec![lambda],
    ))
}

fn mlp(hidden: [usize; 2], activation: Activation) -> Architecture {
    Architecture::Mlp(MlpConfig::new(
        IMAGE_PIXELS,
        hidden.to_vec(),
        NUM_CLASSES,
        activation,
        SIGMOID_DECAY.to_vec(),
    ))
}

/// The trainable MNIST models of the paper, in the order of Table 1, then `n123-456-10` (Table 3),
/// `fc` and `conv`. AlexNet (Table 5) is not trained here: see [`crate::alexnet`].
pub fn paper_models() -> Vec<ModelSpec> {
    let paper = |train, test| Some(PaperErrors { train, test });
    vec![
        ModelSpec {
            name: "softmax1",
            description: "Softmax with λ = 1e-4",
            architecture: softmax(1e-4),
            paper: paper(0.067, 0.074),
            target_test_error: 0.080,
        },
        ModelSpec {
            name: "softmax2",
            description: "Softmax with λ = 1e-2",
            architecture: softmax(1e-2),
            paper: paper(0.10, 0.094),
            target_test_error: 0.100,
        },
        ModelSpec {
            name: "softmax3",
            description: "Softmax with λ = 1",
            architecture: softmax(1.0),
            paper: paper(0.212, 0.20),
            target_test_error: 0.21,
        },
        ModelSpec {
            name: "n100-100-10",
            description: "Sigmoid network λ = 1e-5, 1e-5, 1e-6",
            architecture: mlp([100, 100], Activation::Sigmoid),
            paper: paper(0.0, 0.0164),
            target_test_error: 0.019,
        },
        ModelSpec {
            name: "n200-200-10",
            description: "Sigmoid network λ = 1e-5, 1e-5, 1e-6",
            architecture: mlp([200, 200], Activation::Sigmoid),
            paper: paper(0.0, 0.0154),
            target_test_error: 0.018,
        },
        ModelSpec {
            name: "ae400-10",
            description: "Autoencoder with softmax λ = 1e-6",
            architecture: Architecture::Autoencoder(AutoencoderConfig::new()),
            paper: paper(0.0057, 0.019),
            target_test_error: 0.023,
        },
        ModelSpec {
            name: "n123-456-10",
            description: "Sigmoid network 123-456-10 (M1′ of Table 3 when trained on P1)",
            architecture: mlp([123, 456], Activation::Sigmoid),
            paper: None,
            target_test_error: 0.026,
        },
        ModelSpec {
            name: "fc",
            description: "FC: ReLU network 400-400-10, λ = 1e-5, 1e-5, 1e-6",
            architecture: mlp([400, 400], Activation::Relu),
            paper: None,
            target_test_error: 0.020,
        },
        ModelSpec {
            name: "conv",
            description: "Conv: conv 32×5×5, max pool, FC 256, dropout, softmax",
            architecture: Architecture::Conv(ConvNetConfig::new()),
            paper: None,
            target_test_error: 0.012,
        },
    ]
}

/// Looks a model up by name.
pub fn model_spec(name: &str) -> Result<ModelSpec> {
    paper_models()
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| ModelError::UnknownModel {
            name: name.to_owned(),
            known: paper_models()
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A model trained on a split: the unit that `train` produces and later stages consume.
#[derive(Debug, Clone)]
pub struct ModelRun {
    /// The model.
    pub spec: ModelSpec,
    /// The training split.
    pub split: Split,
}

impl ModelRun {
    /// Directory name of the run: the model name, suffixed with the split unless it is `train`
    /// (`n100-100-10`, `n100-100-10-p1`).
    pub fn id(&self) -> String {
        match self.split {
            Split::Train => self.spec.name.to_owned(),
            split => format!("{}-{split}", self.spec.name),
        }
    }

    /// The models of Table 1 and Table 3 and the conv net, as `reproduce` trains them.
    pub fn reproduction_set() -> Vec<ModelRun> {
        let run = |name: &str, split| ModelRun {
            spec: model_spec(name).expect("catalogue names are valid"),
            split,
        };
        let mut runs: Vec<ModelRun> = paper_models()
            .into_iter()
            .filter(|m| m.name != "n123-456-10")
            .map(|spec| ModelRun {
                spec,
                split: Split::Train,
            })
            .collect();
        runs.push(run("n100-100-10", Split::P1));
        runs.push(run("n123-456-10", Split::P1));
        runs.push(run("n100-100-10", Split::P2));
        runs
    }

    /// The training recipe of this run at `scale`, seeded with `seed`.
    ///
    /// - softmax models: Adam, learning rate 1e-3, batch 128 (a convex problem: any good
    ///   optimizer reaches the same optimum);
    /// - hidden-layer MLPs: SGD with Nesterov momentum 0.9, learning rate 0.05, batch 16 —
    ///   on these sigmoid nets it generalized better than Adam in our runs (1.8–1.9% vs 2.0–2.1%
    ///   test error for n100-100-10), which is what Table 1 compares. Batch 16 rather than 32:
    ///   on the full set the two are the same within the spread of seeds (n100-100-10, seeds
    ///   0/1/2: batch 32 1.81/2.01/2.05%, batch 16 1.94/2.03/1.96%; n200-200-10 seed 0: 1.95% vs
    ///   1.81%), on the halves batch 16 is better (M2: 2.79% and, with 80 epochs, 2.72% at
    ///   batch 32; 2.62% at batch 16, 2.62% at batch 8). Neither a learning rate of 0.1 or 0.02,
    ///   80 epochs, Glorot initialization, averaging the weights of the last 20 epochs, nor a 4×
    ///   larger λ moved n100/n200 out of 1.8–2.0%: the seed matters more. Seeds 0/1/2 at
    ///   default scale: this recipe n100-100-10 1.94/2.03/1.96%, n200-200-10 1.81/1.68/1.96%;
    ///   n100-100-10 at batch 8 2.11/2.03/1.88%, at learning rate 0.1 1.96/2.11/1.87%. Only a
    ///   stronger decay than the paper's moves it: λ·Σw² without the /k (100× on the hidden
    ///   layers, 10× on the output) 1.88/1.84/1.92%, 1000× (1e-4 per hidden weight)
    ///   1.74/1.69/1.75% at 0.3% training error (Table 1: 0%). PyTorch with this recipe
    ///   (`bench/peers/train_torch.py --optimizer sgd --learning-rate 0.05 --batch-size 16
    ///   --epochs 40 --threads 1 --evaluate`, seed 0) gives 2.09%, so the gap to the paper's
    ///   1.64% is not in our training code. The halves P1 and P2 get twice the epochs, i.e. as
    ///   many steps as the full set (M2 2.60%). Full-batch L-BFGS, the paper's method
    ///   ([`Optimizer::Lbfgs`]), fits the training set long before it generalizes: 160
    ///   iterations 0.01% training and 2.96% test error, 300 iterations (the report's L-BFGS
    ///   stage) 0% and 2.6–2.7%;
    /// - conv net: Adam 1e-3, batch 128;
    /// - autoencoder: Adam 1e-3 for the unsupervised stage, then Adam 0.01 for the softmax on
    ///   the frozen code (a linear problem on small-valued sparse features, which converges
    ///   slowly at 1e-3; at 0.03 for 100 epochs it overfits: 1.2% train, 3.0% test error).
    ///   Longer pre-training gives better codes: with the configuration's (λ, β) = (0.2, 1),
    ///   30 epochs 2.32%, 45 epochs 2.01% test error.
    ///
    /// Every stage decays its learning rate with a cosine to 1% of the start. At `smoke` scale
    /// every run is 2 epochs (1 of pre-training) on 2,000 examples.
    pub fn train_config(&self, scale: Scale, seed: u64) -> TrainConfig {
        use Optimizer::{Adam, Sgd};
        let pick = |smoke, default, paper| match scale {
            Scale::Smoke => smoke,
            Scale::Default => default,
            Scale::Paper => paper,
        };
        let base = TrainConfig::new().with_seed(seed);
        // The halves hold half the images: twice the epochs make as many steps.
        let passes = match self.split {
            Split::P1 | Split::P2 => 2,
            _ => 1,
        };
        match &self.spec.architecture {
            Architecture::Mlp(c) if c.hidden.is_empty() => {
                base.with_optimizer(Adam).with_epochs(pick(2, 15, 40))
            }
            Architecture::Mlp(_) => base
                .with_optimizer(Sgd)
                .with_learning_rate(0.05)
                .with_batch_size(16)
                .with_epochs(pick(2, 40 * passes, 80 * passes)),
            Architecture::Conv(_) => base.with_optimizer(Adam).with_epochs(pick(2, 10, 30)),
            Architecture::Autoencoder(_) => base
                .with_optimizer(Adam)
                .with_pretrain_learning_rate(1e-3)
                .with_pretrain_epochs(pick(1, 45, 60))
                .with_learning_rate(0.01)
                .with_epochs(pick(2, 30, 60)),
        }
    }

    /// The test error a model of this run must not exceed: Table 1's target on the full training
    /// set, 2.6% for the halves (Table 3).
    pub fn target_test_error(&self) -> f64 {
        match self.split {
            Split::P1 | Split::P2 => 0.026,
            _ => self.spec.target_test_error,
        }
    }
}
