//! Picking the device at run time: `--backend flex|ndarray|wgpu|cuda`.
//!
//! A backend is a cargo feature of this crate; asking for one that was not compiled in is an
//! error that names the feature, never a silent fallback.

use burn::tensor::Device;

/// The compute backends blindspot knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Burn's pure-Rust CPU backend (default).
    Flex,
    /// The NdArray CPU backend (deprecated in Burn 0.22, kept while Burn ships it).
    Ndarray,
    /// GPUs through wgpu (Vulkan, Metal, DX12, WebGPU).
    Wgpu,
    /// NVIDIA GPUs through CUDA.
    Cuda,
}

impl Backend {
    /// The lower-case name, which is also the cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether the backend computes on the CPU.
    pub fn is_cpu(self) -> bool {
        matches!(self, Backend::Flex | Backend::Ndarray)
    }

    /// Whether this binary was built with the backend.
    pub fn compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The device of this backend (without autodiff), or an error naming the missing feature.
    pub fn device(self) -> anyhow::Result<Device> {
        if !self.compiled() {
            anyhow::bail!(
                "backend `{0}` was not compiled into this binary: rebuild with `--features {0}` \
                 (e.g. `cargo run --release -p blindspot-cli --features {0} -- …`, or \
                 `cargo xtask reproduce --backend {0}`)",
                self.name()
            );
        }
        Ok(self.device_unchecked())
    }

    #[allow(unreachable_code, deprecated)]
    fn device_unchecked(self) -> Device {
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            Backend::Ndarray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu(Default::default()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Device::cuda(0),
            #[allow(unreachable_patterns)]
            other => unreachable!("{} is checked by `compiled`", other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_backend_is_a_clear_error_naming_the_feature() {
        for backend in [
            Backend::Flex,
            Backend::Ndarray,
            Backend::Wgpu,
            Backend::Cuda,
        ] {
            if backend.compiled() {
                assert!(backend.device().is_ok());
            } else {
                let msg = backend.device().unwrap_err().to_string();
                assert!(
                    msg.contains(&format!("--features {}", backend.name())),
                    "{msg}"
                );
            }
        }
    }
}
