#!/usr/bin/env bash
# Set up the Python environment for the peer attack benchmark
# (bench/peers/run_peers.py): CPU-run PyTorch, advertorch, Foolbox 2.4.0,
# numpy, scipy and safetensors in ONE virtual environment outside the repo.
#
# advertorch and Foolbox 2.4.0 do not conflict (advertorch declares no
# dependencies; Foolbox 2.4.0 wants numpy, scipy, setuptools, requests,
# GitPython), so one venv serves both.
#
#   bash bench/peers/setup.sh     # prints the venv's python at the end
#
# Environment:
#   BLINDSPOT_PEERS_VENV   base directory (default ~/.cache/blindspot/peers);
#                          the venv is "$BLINDSPOT_PEERS_VENV/venv".
#   BLINDSPOT_PEERS_TORCH  where torch comes from:
#     pypi   (default) the standard torch wheel from the package registry,
#            pinned below. On Linux x86_64 that wheel is a CUDA build that
#            cannot even be imported without its nvidia-* runtime packages
#            (torch/__init__.py preloads libcublas, libcudnn, ...;
#            libtorch_cuda.so lists them as NEEDED), so they are installed
#            too: about 3 GB downloaded, 5.6 GB on disk. No GPU is used:
#            run_peers.py runs everything on the CPU.
#     debian Debian's CPU-only python3-torch (1.13.1 on bookworm, about
#            190 MB of .debs) with python3-torchvision and python3-scipy,
#            installed with apt-get (needs root), and a venv on
#            /usr/bin/python3 with --system-site-packages; numpy/scipy stay
#            Debian's (torch 1.13 is built against numpy 1.x).
#   BLINDSPOT_PEERS_WHEELS wheel directory (default ~/.cache/blindspot/wheels).
#            The package registry's responses are not kept by pip's HTTP
#            cache here, so for the pypi flavour every wheel is first
#            fetched into this directory (`pip wheel`, which skips files it
#            already has) and then installed from it with --no-index:
#            rebuilding the venv does not download torch again.
#   BLINDSPOT_PEERS_FORCE=1  rebuild the venv even if it already works.
#
# Idempotent: when the venv exists, its marker file names the same flavour
# and the import check passes, nothing is done.
#
# A second venv, "$BLINDSPOT_PEERS_VENV/venv-fb3", holds Foolbox 3 (its L2
# DDN and L2 DeepFool, for the untargeted benchmark) and torchattacks (FAB):
# Foolbox 3 and Foolbox 2.4.0 are the same package name, so they cannot
# share a venv. Same flavour, same torch/numpy/scipy pins, same wheel
# directory (torch is not downloaded again), its own marker and import
# check. torchattacks 3.5.1 pins requests~=2.25.1 (and so idna<3,
# urllib3<1.27), which its attacks never import; it is installed with
# --no-deps and its real run-time needs (torch, torchvision, scipy, numpy,
# tqdm) are installed explicitly.
#
# advertorch: the package registry's newest release is 0.2.3. The upstream
# source tree calls itself 0.2.4 (VERSION bumped in July 2021, never
# released); its LBFGSAttack (advertorch/attacks/lbfgs.py) differs from
# 0.2.3 only in whitespace, and its one change that matters on current
# torch (a local replacement for the removed
# torch.autograd.gradcheck.zero_gradients) is applied by run_peers.py as a
# shim. So 0.2.3 + that shim runs the 0.2.4 LBFGSAttack code. advertorch
# imports torchvision and PIL at import time (its JPEG defense), hence
# torchvision below.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BASE="${BLINDSPOT_PEERS_VENV:-$HOME/.cache/blindspot/peers}"
FLAVOUR="${BLINDSPOT_PEERS_TORCH:-pypi}"
WHEELS="${BLINDSPOT_PEERS_WHEELS:-$HOME/.cache/blindspot/wheels}"
VENV="$BASE/venv"
MARKER="$VENV/.blindspot-peers-ok"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/blindspot/pip}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Pinned versions (the ones the numbers in README.md were measured with).
PEERS=(advertorch==0.2.3 foolbox==2.4.0 safetensors==0.8.0)
PEERS_FB3=(foolbox==3.3.4 eagerpy==0.30.0 tqdm==4.70.1 safetensors==0.8.0)
PEERS_FB3_NODEPS=(torchattacks==3.5.1)
PYPI_STACK=(torch==2.15.0 torchvision==0.29.2 numpy==2.4.6 scipy==1.17.1)
DEBIAN_PKGS=(python3-torch python3-torchvision python3-scipy python3-venv python3-pip)

case "$FLAVOUR" in
  pypi|debian) ;;
  *) echo "setup.sh: BLINDSPOT_PEERS_TORCH must be 'pypi' or 'debian', not '$FLAVOUR'" >&2; exit 2 ;;
esac

check() {
  PEERS_DIR="$HERE" "$VENV/bin/python" - <<'EOF'
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repo
sys.path.insert(0, os.environ["PEERS_DIR"])
import run_peers
run_peers.apply_shims()  # advertorch 0.2.3 cannot be imported on current torch without it
import advertorch, foolbox, numpy, safetensors, scipy, torch
from advertorch.attacks import LBFGSAttack
from foolbox.v1.attacks import LBFGSAttack
x = torch.ones(3, requires_grad=True)
(x * x).sum().backward()
assert x.grad.tolist() == [2.0, 2.0, 2.0]
print("torch", torch.__version__, "| advertorch", advertorch.__version__,
      "| foolbox", foolbox.__version__, "| numpy", numpy.__version__,
      "| scipy", scipy.__version__, "| safetensors", safetensors.__version__)
EOF
}

# The Foolbox 3 / torchattacks venv (see the header), built after the main one.
VENV_FB3="$BASE/venv-fb3"
MARKER_FB3="$VENV_FB3/.blindspot-peers-ok"

check_fb3() {
  "$VENV_FB3/bin/python" - <<'EOF'
import sys
sys.dont_write_bytecode = True
import eagerpy, foolbox, numpy, safetensors, scipy, torch, torchattacks
from foolbox.attacks import DDNAttack, L2DeepFoolAttack
from torchattacks import FAB
x = torch.ones(3, requires_grad=True)
(x * x).sum().backward()
assert x.grad.tolist() == [2.0, 2.0, 2.0]
print("torch", torch.__version__, "| foolbox", foolbox.__version__, "| eagerpy", eagerpy.__version__,
      "| torchattacks", torchattacks.__version__, "| numpy", numpy.__version__,
      "| scipy", scipy.__version__, "| safetensors", safetensors.__version__)
EOF
}

setup_fb3() {
  if [[ "${BLINDSPOT_PEERS_FORCE:-0}" != 1 && -f "$MARKER_FB3" ]] \
     && [[ "$(head -n1 "$MARKER_FB3")" == "$FLAVOUR" ]] && versions=$(check_fb3 2>/dev/null); then
    echo "setup.sh: $VENV_FB3 already set up ($FLAVOUR): $versions"
    echo "python: $VENV_FB3/bin/python"
    return 0
  fi
  local start_fb3
  start_fb3=$(date +%s)
  rm -rf "$VENV_FB3"
  if [[ "$FLAVOUR" == pypi ]]; then
    "${PYTHON:-python3}" -m venv "$VENV_FB3"
    mkdir -p "$WHEELS"
    "$VENV_FB3/bin/python" -m pip wheel -q -w "$WHEELS" "${PYPI_STACK[@]}" "${PEERS_FB3[@]}"
    "$VENV_FB3/bin/python" -m pip wheel -q --no-deps -w "$WHEELS" "${PEERS_FB3_NODEPS[@]}"
    "$VENV_FB3/bin/python" -m pip install -q --no-index --find-links "$WHEELS" \
      "${PYPI_STACK[@]}" "${PEERS_FB3[@]}"
    "$VENV_FB3/bin/python" -m pip install -q --no-index --find-links "$WHEELS" --no-deps \
      "${PEERS_FB3_NODEPS[@]}"
  else
    /usr/bin/python3 -m venv --system-site-packages "$VENV_FB3"
    cp "$VENV/constraints.txt" "$VENV_FB3/constraints.txt"
    "$VENV_FB3/bin/python" -m pip install -q -c "$VENV_FB3/constraints.txt" "${PEERS_FB3[@]}"
    "$VENV_FB3/bin/python" -m pip install -q --no-deps "${PEERS_FB3_NODEPS[@]}"
  fi
  versions=$(check_fb3)
  { echo "$FLAVOUR"; echo "$versions"; } >"$MARKER_FB3"
  echo "setup.sh: $VENV_FB3 done in $(( $(date +%s) - start_fb3 )) s ($FLAVOUR): $versions"
  echo "python: $VENV_FB3/bin/python"
}

if [[ "${BLINDSPOT_PEERS_FORCE:-0}" != 1 && -f "$MARKER" ]] \
   && [[ "$(head -n1 "$MARKER")" == "$FLAVOUR" ]] && versions=$(check 2>/dev/null); then
  echo "setup.sh: $VENV already set up ($FLAVOUR): $versions"
  echo "python: $VENV/bin/python"
  setup_fb3
  exit 0
fi

start=$(date +%s)
rm -rf "$VENV"
mkdir -p "$BASE"

if [[ "$FLAVOUR" == pypi ]]; then
  "${PYTHON:-python3}" -m venv "$VENV"
  mkdir -p "$WHEELS"
  "$VENV/bin/python" -m pip wheel -q -w "$WHEELS" "${PYPI_STACK[@]}" "${PEERS[@]}"
  "$VENV/bin/python" -m pip install -q --no-index --find-links "$WHEELS" \
    "${PYPI_STACK[@]}" "${PEERS[@]}"
else
  if [[ $(id -u) != 0 ]]; then
    echo "setup.sh: BLINDSPOT_PEERS_TORCH=debian needs root (apt-get)" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "${DEBIAN_PKGS[@]}" >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q "${DEBIAN_PKGS[@]}" >/dev/null
  fi
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  # Keep Debian's numpy/scipy/torch: pin them to the installed versions so
  # pip cannot replace them (foolbox asks for numpy and scipy).
  "$VENV/bin/python" - >"$VENV/constraints.txt" <<'EOF'
import numpy, scipy, torch
print(f"numpy=={numpy.__version__}\nscipy=={scipy.__version__}")
EOF
  "$VENV/bin/python" -m pip install -q -c "$VENV/constraints.txt" "${PEERS[@]}"
fi

versions=$(check)
{ echo "$FLAVOUR"; echo "$versions"; } >"$MARKER"
echo "setup.sh: done in $(( $(date +%s) - start )) s ($FLAVOUR): $versions"
echo "python: $VENV/bin/python"
setup_fb3
