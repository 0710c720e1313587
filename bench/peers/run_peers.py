#!/usr/bin/env python3
"""Run a peer library's L-BFGS attack on one of our checkpoints and measure it.

  python run_peers.py --model-dir results/models/softmax1 \
      --inputs inputs.safetensors --attack advertorch-lbfgs \
      [--goal random|untargeted] [--n N] [--threads 2] [--json OUT] [--exact]

--model-dir holds our checkpoint (model.safetensors + model.json); kind
  "mlp": Linear layers `layers.{i}.weight` [out, in] / `layers.{i}.bias`
  [out], the config's activation (sigmoid or relu) after every hidden layer,
  logits out of the last one; kind "conv": the paper's conv net (load_conv),
  on flat [N, 784] inputs like the MLPs.
--inputs is a safetensors file (all F32) with x [N, 784] in [0, 1],
  label [N] and target [N] (written by our Rust attack, or by
  make_inputs.py); the first --n rows are attacked, towards `target`.
--attack
  advertorch-lbfgs  advertorch LBFGSAttack(num_classes=10, batch_size=N,
                    binary_search_steps=9, max_iterations=100,
                    initial_const=1e-2, clip_min=0, clip_max=1,
                    targeted=True).perturb(x, target): ONE L-BFGS-B problem
                    over the whole batch (N*784 variables), 9 times.
  foolbox2-lbfgs    Foolbox 2.4.0 LBFGSAttack (in 2.4.0 it lives in
                    foolbox.v1.attacks; foolbox.attacks has no LBFGS) with
                    PyTorchModel(bounds=(0, 1), num_classes=10) and criterion
                    TargetClass(target), one image at a time, default
                    parameters: distance MSE, epsilon=1e-5 (binary-search
                    tolerance on c), maxiter=150, L-BFGS-B memory m=15.
  --- untargeted attacks (--goal untargeted: any wrong class) ---
  foolbox3-ddn      Foolbox 3 DDNAttack(steps=100) (defaults init_epsilon=1,
                    gamma=0.05), epsilons=None (minimal adversarial),
                    criterion Misclassification(label), the whole batch at once.
                    --steps S sets its steps (the frontier bench).
  foolbox3-fmn      Foolbox 3 L2FMNAttack(steps=100) (defaults), as DDN;
                    --steps S likewise.
  foolbox3-deepfool Foolbox 3 L2DeepFoolAttack() (defaults steps=50,
                    candidates=10, overshoot=0.02, loss="logits"), as above.
  advertorch-fab    advertorch L2FABAttack (defaults n_restarts=1,
                    n_iter=100, alpha_max=0.1, eta=1.05, beta=0.9), batch.
  torchattacks-fab  torchattacks FAB(norm="L2", steps=100, n_restarts=1,
                    eps=100 (only the radius of random restarts, and the
                    threshold above which torchattacks discards a result:
                    made large so that it keeps the minimal one), seed=0),
                    other parameters its defaults (alpha_max=0.1, eta=1.05,
                    beta=0.9), batch.
  foolbox2-lbfgs    with --goal untargeted: criterion Misclassification().
  advertorch-lbfgs  targeted only (its LBFGSAttack minimises the cross-entropy
                    of a target); with --goal untargeted it attacks random
                    targets (from --inputs, or drawn as make_inputs.py does
                    with --target-seed when the inputs have none) and is
                    scored as untargeted.
  blindspot         not an attack: scores OUR attack's output
                    (--adversarial DIR: adversarial.safetensors and
                    summary.json of `blindspot attack --dir DIR`) with the
                    same success check and distortion as every peer; time
                    and evaluations come from its summary.json.
  exact             (softmax models only) the exact optimum as an "attack"
                    row: for --goal untargeted the minimum over the wrong
                    classes j of the exact projection of x onto the halfspace
                    z_j >= z_label + 1e-6 intersected with the box (exact_pair,
                    float64); that minimum is the exact untargeted optimum.
--exact  (softmax models only, i.e. no hidden layer) also compute the exact
  minimum box-constrained L2 perturbation for the same targets (see
  exact_softmax below), or, with --goal untargeted, the exact untargeted
  optimum (see exact_untargeted), and the attack's ratio to it; may be used
  without --attack.

Goals. random (the default): success = argmax of the clipped adversarial ==
target. untargeted: success = argmax of the clipped adversarial != label,
with ties resolved for the label (some wrong logit strictly above the
label's, float32 torch forward on the clipped adversarial);
images the model already misclassifies are EXCLUDED from success rate and
distortions (for every attack alike; every attack still gets all --n images,
so its time covers the same work).

Reported (and written as JSON with --json): success rate (argmax == target,
re-checked here on the clipped adversarials), the paper's distortion
sqrt(sum((x_adv - x)^2) / 784) per successful example (mean and median),
wall-clock seconds of the whole attack, seconds per example, examples per
second, and model forward evaluations per example (rows pushed through the
model divided by N; a forward+backward counts once), and backward passes per
example (rows of gradients pulled back through the model's output divided
by N: FAB pulls back one per class per forward, DeepFool one per candidate).
"""

import argparse
import json
import math
import os
import sys
import time


# --------------------------------------------------------------------------
# Shims for running the old peer libraries on current torch / numpy / scipy.
# They are applied before advertorch / foolbox are imported.
# --------------------------------------------------------------------------
def apply_shims():
    """Make advertorch 0.2.3 (registry) behave as 0.2.4 and keep Foolbox 2.4.0 importable.

    1. torch.autograd.gradcheck.zero_gradients was removed from torch (1.9+).
       advertorch 0.2.3 imports it at package import time
       (advertorch/attacks/fast_adaptive_boundary.py), so `import advertorch`
       fails. advertorch 0.2.4 (upstream source, never released to the
       package registry) replaced the import by this local function; we
       install the same function where 0.2.3 looks for it. LBFGSAttack does
       not call it; it is only needed for the import to succeed.
    2. numpy >= 1.24 removed the aliases np.int / np.float / np.bool /
       np.object. Foolbox 2.4.0 uses np.int (v1/adversarial.py
       forward_and_gradient, boundary attacks); the L-BFGS path here does not
       reach it, but we restore the aliases (to the builtins they always
       meant) so nothing in Foolbox 2.4.0 trips over them.
    3. Python 3.10 removed the ABC aliases collections.Iterable,
       collections.Mapping, ... (they live in collections.abc). Foolbox 2.4.0
       does `from collections import Iterable` in many attack modules that
       `import foolbox` loads (e.g. v1/attacks/gradient.py) and uses
       collections.Mapping in models/base.py; we put the aliases back.
    4. advertorch calls scipy.optimize.fmin_l_bfgs_b(..., iprint=0). On
       scipy < 1.15 that prints the Fortran L-BFGS-B report (dozens of lines
       per call) to stdout; on scipy >= 1.15 iprint is deprecated (and
       ignored). We wrap fmin_l_bfgs_b to drop the argument (scipy >= 1.15)
       or make it -1 (older scipy): output only, the numerics are unchanged.
       Foolbox does not pass iprint, so the wrapper changes nothing for it.
    No other scipy shim is needed: fmin_l_bfgs_b accepts advertorch's
    1-element arrays as the objective value.
    """
    import collections
    import collections.abc
    import importlib
    import warnings

    import numpy as np

    # `import torch.autograd.gradcheck as m` would give the gradcheck
    # *function* (torch.autograd re-exports it under the module's name).
    gradcheck = importlib.import_module("torch.autograd.gradcheck")

    if not hasattr(gradcheck, "zero_gradients"):
        def zero_gradients(x):  # advertorch 0.2.4 advertorch/attacks/utils.py
            import torch
            if isinstance(x, torch.Tensor):
                if x.grad is not None:
                    x.grad.detach_()
                    x.grad.zero_()
        gradcheck.zero_gradients = zero_gradients

    for name, value in (("int", int), ("float", float), ("bool", bool), ("object", object)):
        if name not in np.__dict__:
            setattr(np, name, value)

    for name in ("Iterable", "Mapping", "MutableMapping", "Sequence", "Callable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))

    import scipy
    import scipy.optimize

    if not getattr(scipy.optimize.fmin_l_bfgs_b, "_blindspot_shim", False):
        original = scipy.optimize.fmin_l_bfgs_b
        major, minor = (int(v) for v in scipy.__version__.split(".")[:2])

        def fmin_l_bfgs_b(*args, **kwargs):
            if "iprint" in kwargs:
                if (major, minor) >= (1, 15):
                    del kwargs["iprint"]
                else:
                    kwargs["iprint"] = -1
            return original(*args, **kwargs)

        fmin_l_bfgs_b._blindspot_shim = True
        scipy.optimize.fmin_l_bfgs_b = fmin_l_bfgs_b

    # scipy deprecation chatter from advertorch's iprint=0; harmless.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*iprint.*")


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------
def load_model(model_dir):
    """Build the torch nn.Sequential equivalent of our MLP checkpoint and load its weights."""
    import torch
    from safetensors.torch import load_file
    from torch import nn

    with open(os.path.join(model_dir, "model.json")) as f:
        meta = json.load(f)
    config = meta.get("config", {})
    kind = config.get("kind")
    name = meta.get("name") or meta.get("model") or os.path.basename(os.path.normpath(model_dir))
    if kind == "conv":
        return load_conv(model_dir, config), name, config
    if kind != "mlp":
        raise SystemExit(
            f"run_peers.py: model kind {kind!r} in {model_dir}/model.json is not supported "
            f"(only 'mlp': softmax models and fully connected sigmoid/relu networks, and 'conv')")
    activations = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}
    act = config.get("activation", "sigmoid")
    if act not in activations:
        raise SystemExit(f"run_peers.py: unsupported activation {act!r}")
    sizes = [int(config["input"]), *[int(h) for h in config.get("hidden", [])], int(config["classes"])]

    tensors = load_file(os.path.join(model_dir, "model.safetensors"))
    modules, state = [], {}
    for i in range(len(sizes) - 1):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        for part in ("weight", "bias"):
            key = f"layers.{i}.{part}"
            if key not in tensors:
                raise SystemExit(f"run_peers.py: {key} missing from model.safetensors")
            t = tensors.pop(key)
            if tuple(t.shape) != tuple(getattr(linear, part).shape):
                raise SystemExit(f"run_peers.py: {key} has shape {tuple(t.shape)}, "
                                 f"expected {tuple(getattr(linear, part).shape)}")
            state[f"{len(modules)}.{part}"] = t.to(torch.float32)
        modules.append(linear)
        if i < len(sizes) - 2:
            modules.append(activations[act]())
    if tensors:
        raise SystemExit(f"run_peers.py: unexpected tensors in model.safetensors: {sorted(tensors)}")
    model = nn.Sequential(*modules)
    model.load_state_dict(state, strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, name, config


def load_conv(model_dir, config):
    """The paper's conv net (crates/models/src/conv.rs) in torch, taking flat [N, 784] inputs:
    view [N, 1, 28, 28] -> Conv2d(1, filters, kernel) (valid, stride 1) -> ReLU ->
    MaxPool2d(pool) (stride pool) -> flatten (channel-major, as Burn's flatten(1, 3)) ->
    Linear(flat, hidden) -> ReLU -> (dropout: eval, identity) -> Linear(hidden, classes).
    Checkpoint names: conv.*, fc.*, classifier.* in PyTorch's layout."""
    import torch
    from safetensors.torch import load_file
    from torch import nn

    filters, kernel, pool = int(config["filters"]), int(config["kernel"]), int(config["pool"])
    hidden, classes = int(config["hidden"]), int(config["classes"])
    side = (28 + 1 - kernel) // pool

    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, filters, kernel)
            self.pool = nn.MaxPool2d(pool)
            self.fc = nn.Linear(filters * side * side, hidden)
            self.classifier = nn.Linear(hidden, classes)

        def forward(self, x):
            h = self.pool(torch.relu(self.conv(x.reshape(x.shape[0], 1, 28, 28))))
            return self.classifier(torch.relu(self.fc(h.flatten(1))))

    model = ConvNet()
    tensors = {k: v.to(torch.float32) for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    if got != expected:
        raise SystemExit(f"run_peers.py: conv checkpoint tensors {got} do not match {expected}")
    model.load_state_dict(tensors, strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def make_counted(model):
    """Wrap `model` so that every forward adds its batch size to `.rows` (and 1 to `.calls`),
    and every gradient pulled back through its output adds the batch size to `.backward_rows`."""
    import torch
    from torch import nn

    class Counted(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.rows = 0
            self.calls = 0

            self.backward_rows = 0

        def forward(self, x):
            self.calls += 1
            rows = int(x.shape[0]) if x.dim() > 1 else 1
            self.rows += rows
            if x.dtype != torch.float32:  # Foolbox 2's gradient step hands over float64
                x = x.float()
            out = self.inner(x)
            if out.requires_grad:
                def count(grad, rows=rows):
                    self.backward_rows += rows
                out.register_hook(count)
            return out

    return Counted(model).eval()


# --------------------------------------------------------------------------
# Attacks. Each returns (x_adv [n, 784] float32 numpy with NaN rows for
# failures, seconds, peer description).
# --------------------------------------------------------------------------
def run_advertorch(counted, x, target):
    import advertorch
    import torch
    from advertorch.attacks import LBFGSAttack

    n = x.shape[0]
    xt = torch.from_numpy(x)
    tt = torch.from_numpy(target).long()
    start = time.perf_counter()
    attack = LBFGSAttack(counted, num_classes=10, batch_size=n, binary_search_steps=9,
                         max_iterations=100, initial_const=1e-2, clip_min=0, clip_max=1,
                         targeted=True)
    adv = attack.perturb(xt, tt)
    seconds = time.perf_counter() - start
    peer = f"advertorch {advertorch.__version__} LBFGSAttack"
    if advertorch.__version__ == "0.2.3":
        peer += " (code identical to 0.2.4 LBFGSAttack)"
    return adv.detach().numpy().astype("float32"), seconds, peer


def run_foolbox2(counted, x, target, label):
    import foolbox
    import numpy as np
    from foolbox.criteria import TargetClass

    if hasattr(foolbox.attacks, "LBFGSAttack"):  # Foolbox 1.x layout
        LBFGSAttack = foolbox.attacks.LBFGSAttack
    else:  # Foolbox 2.x: the single-input (v1) attacks, incl. LBFGS, moved here
        LBFGSAttack = foolbox.v1.attacks.LBFGSAttack
    fmodel = foolbox.models.PyTorchModel(counted, bounds=(0, 1), num_classes=10, device="cpu")
    n = x.shape[0]
    out = np.full_like(x, np.nan)
    start = time.perf_counter()
    for i in range(n):
        attack = LBFGSAttack(model=fmodel, criterion=TargetClass(int(target[i])))
        adv = attack(x[i], label=int(label[i]))  # default epsilon=1e-5, maxiter=150
        if adv is not None:
            out[i] = adv
    seconds = time.perf_counter() - start
    return out, seconds, f"Foolbox {foolbox.__version__} LBFGSAttack"


def run_foolbox2_untargeted(counted, x, label):
    import foolbox
    import numpy as np
    from foolbox.criteria import Misclassification

    LBFGSAttack = foolbox.v1.attacks.LBFGSAttack
    fmodel = foolbox.models.PyTorchModel(counted, bounds=(0, 1), num_classes=10, device="cpu")
    out = np.full_like(x, np.nan)
    start = time.perf_counter()
    for i in range(x.shape[0]):
        attack = LBFGSAttack(model=fmodel, criterion=Misclassification())
        adv = attack(x[i], label=int(label[i]))  # default epsilon=1e-5, maxiter=150
        if adv is not None:
            out[i] = adv
    seconds = time.perf_counter() - start
    return out, seconds, f"Foolbox {foolbox.__version__} LBFGSAttack"


def run_foolbox3(counted, x, label, which, steps=None):
    import foolbox as fb
    import torch

    fmodel = fb.PyTorchModel(counted, bounds=(0, 1), device="cpu")
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(label).long()
    if which == "ddn":
        steps = steps or 100
        attack, name = fb.attacks.DDNAttack(steps=steps), f"DDNAttack(steps={steps})"
    elif which == "fmn":
        steps = steps or 100
        attack, name = fb.attacks.L2FMNAttack(steps=steps), f"L2FMNAttack(steps={steps})"
    else:
        attack, name = fb.attacks.L2DeepFoolAttack(), "L2DeepFoolAttack (steps=50, candidates=10, overshoot=0.02)"
    start = time.perf_counter()
    raw, clipped, success = attack(fmodel, xt, fb.criteria.Misclassification(yt), epsilons=None)
    seconds = time.perf_counter() - start
    return clipped.detach().numpy().astype("float32"), seconds, f"Foolbox {fb.__version__} {name}"


def run_advertorch_fab(counted, x, label):
    import advertorch
    import torch
    from advertorch.attacks import L2FABAttack

    start = time.perf_counter()
    attack = L2FABAttack(counted, n_restarts=1, n_iter=100)
    adv = attack.perturb(torch.from_numpy(x), torch.from_numpy(label).long())
    seconds = time.perf_counter() - start
    return (adv.detach().numpy().astype("float32"), seconds,
            f"advertorch {advertorch.__version__} L2FABAttack (n_iter=100)")


def run_torchattacks_fab(counted, x, label):
    import torch
    import torchattacks

    start = time.perf_counter()
    attack = torchattacks.FAB(counted, norm="L2", eps=100.0, steps=100, n_restarts=1, seed=0,
                              n_classes=10)
    adv = attack(torch.from_numpy(x), torch.from_numpy(label).long())
    seconds = time.perf_counter() - start
    return (adv.detach().numpy().astype("float32"), seconds,
            f"torchattacks {torchattacks.__version__} FAB L2 (steps=100)")


def load_blindspot(adv_dir, x):
    """Our attack's output in `adv_dir`: (x_adv [n, 784], seconds, evaluations/example, peer, summary)."""
    import numpy as np
    from safetensors.numpy import load_file

    t = load_file(os.path.join(adv_dir, "adversarial.safetensors"))
    with open(os.path.join(adv_dir, "summary.json")) as f:
        summary = json.load(f)
    n = x.shape[0]
    if t["x"].shape[0] < n or summary.get("problems") != summary.get("images"):
        raise SystemExit(f"run_peers.py: {adv_dir} does not hold one problem per image for {n} images")
    if not np.array_equal(t["x"][:n].reshape(n, -1), x):
        raise SystemExit(f"run_peers.py: {adv_dir} attacked other images than --inputs")
    if summary["images"] != n:
        raise SystemExit(f"run_peers.py: {adv_dir} attacked {summary['images']} images, not {n}")
    adv = t["x_adv"][:n].reshape(n, -1).astype(np.float32)
    config = summary.get("config") or {}
    solver = config.get("solver") or {}
    peer = (f"blindspot L-BFGS ({summary.get('backend', '?')}, {config.get('candidates', '?')} rival classes, "
            f"search over c {config.get('search_steps', '?')} runs × ≤ {solver.get('max_iterations', '?')} iterations, "
            f"memory {solver.get('memory', '?')}, f-tolerance {solver.get('f_tolerance', '?')}, "
            f"batches of {config.get('batch_size', '?')})")
    return adv, float(summary["seconds"]), float(summary["evaluations_per_problem"]), peer, summary, t


# --------------------------------------------------------------------------
# Exact minimum for softmax models (cross-check).
# --------------------------------------------------------------------------
def exact_pair(x, a, c):
    """Smallest ||x' - x|| with a.x' + c >= 0, x' in [0,1]^d (float64).

    The minimiser is x'(t) = clip(x + t a, 0, 1) for the smallest t >= 0 with
    g(t) = a.x'(t) + c >= 0. g is piecewise linear and nondecreasing in t, with
    breakpoints where coordinates hit the box; sweep them in order.
    """
    import numpy as np

    g0 = a @ x + c
    if g0 >= 0:
        return x.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(a > 0, (1 - x) / a, np.where(a < 0, -x / a, np.inf))
    order = np.argsort(bp)
    bp_sorted = bp[order]
    # slope of g on [0, first breakpoint): sum of a_i^2 over coordinates that can still move
    moving = np.isfinite(bp) & (bp > 0)
    slope = float(np.sum(a[moving] ** 2))
    g, t_prev = g0, 0.0
    for k, i in enumerate(order):
        t_i = bp_sorted[k]
        if not np.isfinite(t_i):
            break
        if t_i <= 0:
            continue
        g_next = g + slope * (t_i - t_prev)
        if g_next >= 0:
            t = t_prev + (-g) / slope
            return np.clip(x + t * a, 0, 1)
        g, t_prev = g_next, t_i
        slope -= a[i] ** 2
    if slope > 0:
        t = t_prev + (-g) / slope
        return np.clip(x + t * a, 0, 1)
    return None  # infeasible within the box


def exact_all(x, W, b, t, margin=1e-6):
    """Smallest ||x' - x|| with argmax(W x' + b) == t (z_t - z_j >= margin, all j != t), x' in [0,1]^d.

    Convex QP; solved through its 9-dimensional dual: for multipliers lam >= 0,
    x'(lam) = clip(x + A^T lam, 0, 1) with rows A_j = w_t - w_j, and the dual
    q(lam) = 1/2 ||x'-x||^2 - lam.(A x' + c) is concave with gradient -(A x' + c).
    Maximised with L-BFGS-B on lam >= 0 (float64, tight tolerances).
    """
    import numpy as np
    from scipy.optimize import minimize

    others = [j for j in range(W.shape[0]) if j != t]
    A = W[t][None, :] - W[others]
    c = b[t] - b[others] - margin

    def neg_dual(lam):
        xp = np.clip(x + A.T @ lam, 0, 1)
        d = xp - x
        s = A @ xp + c
        return -(0.5 * d @ d - lam @ s), s

    res = minimize(neg_dual, np.zeros(len(others)), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * len(others),
                   options={"maxiter": 10000, "ftol": 1e-15, "gtol": 1e-12})
    xp = np.clip(x + A.T @ res.x, 0, 1)
    return xp


def exact_softmax(model, x, target, label):
    import numpy as np
    import torch

    W, b = softmax_weights(model)
    pair, full, ok = [], [], []
    for i in range(x.shape[0]):
        xi = x[i].astype(np.float64)
        t, y = int(target[i]), int(label[i])
        xp = exact_pair(xi, W[t] - W[y], b[t] - b[y])
        pair.append(math.sqrt(np.sum((xp - xi) ** 2) / xi.size) if xp is not None else math.nan)
        xf = exact_all(xi, W, b, t)
        z = W @ xf + b
        ok.append(int(np.argmax(z)) == t)
        full.append(math.sqrt(np.sum((xf - xi) ** 2) / xi.size))
    return np.array(pair), np.array(full), np.array(ok)


def softmax_weights(model):
    import torch

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    if len(linears) != 1:
        raise SystemExit("run_peers.py: --exact needs a softmax model (no hidden layer)")
    return linears[0].weight.detach().double().numpy(), linears[0].bias.detach().double().numpy()


def exact_untargeted(model, x, label, margin=1e-6):
    """Exact minimum ||x' - x|| with argmax(W x' + b) != label, x' in [0,1]^d (float64).

    The feasible set is the union over j != y of the halfspaces z_j - z_y >= margin
    (intersected with the box), so the optimum is the smallest of the exact
    projections onto each of them (exact_pair). At that point some wrong class
    beats the label by the margin. Returns (rms [n], reaches [n] bool, class [n]).
    """
    import numpy as np

    W, b = softmax_weights(model)
    rms, ok, cls = [], [], []
    for i in range(x.shape[0]):
        xi = x[i].astype(np.float64)
        y = int(label[i])
        best, best_j, best_xp = math.inf, -1, None
        for j in range(W.shape[0]):
            if j == y:
                continue
            xp = exact_pair(xi, W[j] - W[y], b[j] - b[y] - margin)
            if xp is None:
                continue
            d = float(np.sum((xp - xi) ** 2))
            if d < best:
                best, best_j, best_xp = d, j, xp
        rms.append(math.sqrt(best / xi.size) if best_xp is not None else math.nan)
        ok.append(best_xp is not None and int(np.argmax(W @ best_xp + b)) != y)
        cls.append(best_j)
    return np.array(rms), np.array(ok), np.array(cls)


def random_targets(label, seed):
    """Uniform over the 9 wrong classes, drawn exactly as make_inputs.py does."""
    import numpy as np

    rng = np.random.default_rng(seed)
    r = rng.integers(0, 9, size=label.shape[0])
    return r + (r >= label)


# --------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--attack", choices=["advertorch-lbfgs", "foolbox2-lbfgs", "foolbox3-ddn",
                                         "foolbox3-fmn", "foolbox3-deepfool", "advertorch-fab", "torchattacks-fab",
                                         "blindspot", "exact"])
    ap.add_argument("--goal", choices=["random", "untargeted"], default="random",
                    help="random: success = argmax == target (default); untargeted: argmax != label")
    ap.add_argument("--n", type=int, default=None, help="attack the first N rows (default: all)")
    ap.add_argument("--steps", type=int, default=None,
                    help="foolbox3-ddn / foolbox3-fmn: the attack's steps (default 100)")
    ap.add_argument("--threads", type=int, default=2, help="torch (and BLAS) threads (default 2)")
    ap.add_argument("--json", help="write the result object here")
    ap.add_argument("--exact", action="store_true",
                    help="also compute the exact minimum perturbation (softmax models only)")
    ap.add_argument("--adversarial", help="for --attack blindspot: the directory our attack wrote")
    ap.add_argument("--target-seed", type=int, default=0,
                    help="advertorch-lbfgs with --goal untargeted and inputs without targets: "
                         "seed of the random targets (default 0)")
    args = ap.parse_args(argv)
    if args.attack is None and not args.exact:
        ap.error("give --attack and/or --exact")
    if args.attack == "blindspot" and not args.adversarial:
        ap.error("--attack blindspot needs --adversarial DIR")
    untargeted = args.goal == "untargeted"
    if args.steps is not None and args.attack not in ("foolbox3-ddn", "foolbox3-fmn"):
        ap.error("--steps is for foolbox3-ddn and foolbox3-fmn")
    if args.attack in ("foolbox3-ddn", "foolbox3-fmn", "foolbox3-deepfool", "advertorch-fab",
                       "torchattacks-fab") and not untargeted:
        ap.error(f"{args.attack} is untargeted: give --goal untargeted")

    # Thread counts must be fixed before numpy / torch load their pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    # libgomp's default (spinning) wait policy is catastrophic on a shared, loaded machine:
    # measured here, 2-thread torch trained n100-100-10 at 26 s/epoch with it and 1.8 s with
    # PASSIVE. An OMP_WAIT_POLICY already in the environment is kept; the JSON records it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    import numpy as np
    import torch
    from safetensors.numpy import load_file

    torch.set_num_threads(args.threads)
    apply_shims()

    model, model_name, _ = load_model(args.model_dir)
    inputs = load_file(args.inputs)
    for key in ("x", "label") + (() if untargeted else ("target",)):
        if key not in inputs:
            raise SystemExit(f"run_peers.py: {args.inputs} has no tensor {key!r}")
    n_all = inputs["x"].shape[0]
    n = n_all if args.n is None else min(args.n, n_all)
    x = np.ascontiguousarray(inputs["x"][:n].astype(np.float32).reshape(n, -1))
    label = inputs["label"][:n].astype(np.int64)
    target = inputs["target"][:n].astype(np.int64) if "target" in inputs else np.full(n, -1)
    target_note = None
    if untargeted and args.attack == "advertorch-lbfgs" and np.any(target < 0):
        target = random_targets(label, args.target_seed)
        target_note = f"random targets, numpy default_rng({args.target_seed}) as make_inputs.py"
    d = x.shape[1]

    with torch.no_grad():
        clean = model(torch.from_numpy(x)).argmax(1).numpy()
    # Untargeted: images the model already misclassifies are excluded from the statistics.
    scored = clean == label if untargeted else np.ones(n, dtype=bool)

    result = {"model": model_name, "goal": args.goal, "n": n, "n_scored": int(scored.sum()),
              "torch_threads": torch.get_num_threads(),
              "torch_version": torch.__version__, "inputs": os.path.abspath(args.inputs),
              "clean_accuracy": float(np.mean(clean == label)),
              "already_at_target": int(np.sum(clean == target))}
    if target_note:
        result["targets"] = target_note

    load_start = os.getloadavg()[0]
    success = None
    if args.attack == "exact":
        if not untargeted:
            raise SystemExit("run_peers.py: --attack exact is for --goal untargeted (use --exact otherwise)")
        start = time.perf_counter()
        full, reaches, _ = exact_untargeted(model, x, label)
        seconds = time.perf_counter() - start
        ok = scored & reaches
        result.update({
            "peer": "exact optimum (min over wrong classes of the projection onto halfspace and box, float64)",
            "attack": "exact", "success_rate": float(np.mean(ok[scored])), "n_success": int(ok.sum()),
            "mean_rms": float(full[ok].mean()), "median_rms": float(np.median(full[ok])),
            "seconds": seconds, "seconds_per_example": seconds / n, "examples_per_second": n / seconds,
            "evaluations_per_example": None, "backward_per_example": None,
        })
        print(f"{model_name} exact untargeted optimum: n={n} ({int(scored.sum())} scored) "
              f"mean RMS {result['mean_rms']:.4f} median {result['median_rms']:.4f}")
    elif args.attack:
        counted = make_counted(model)
        evaluations = backward = None
        if args.attack == "advertorch-lbfgs":
            adv, seconds, peer = run_advertorch(counted, x, target)
            if untargeted:
                peer += ", random target"
        elif args.attack == "foolbox2-lbfgs":
            if untargeted:
                adv, seconds, peer = run_foolbox2_untargeted(counted, x, label)
            else:
                adv, seconds, peer = run_foolbox2(counted, x, target, label)
        elif args.attack in ("foolbox3-ddn", "foolbox3-fmn", "foolbox3-deepfool"):
            adv, seconds, peer = run_foolbox3(counted, x, label, args.attack.split("-")[1],
                                              args.steps)
        elif args.attack == "advertorch-fab":
            adv, seconds, peer = run_advertorch_fab(counted, x, label)
        elif args.attack == "torchattacks-fab":
            adv, seconds, peer = run_torchattacks_fab(counted, x, label)
        else:  # blindspot: score our attack's output
            adv, seconds, evaluations, peer, summary, tensors = load_blindspot(args.adversarial, x)
            result["blindspot_summary"] = {k: summary.get(k) for k in (
                "backend", "success_rate", "misclassified", "mean_distortion", "median_distortion",
                "evaluations_per_problem", "seconds", "images_per_second")}
            result["blindspot_config"] = summary.get("config")
        if evaluations is None:
            evaluations = counted.rows / n
            backward = counted.backward_rows / n
        returned = ~np.isnan(adv).any(axis=1)
        adv = np.where(returned[:, None], np.clip(np.nan_to_num(adv), 0, 1), x).astype(np.float32)
        with torch.no_grad():
            logits = model(torch.from_numpy(adv)).numpy()
        pred = logits.argmax(1)
        if untargeted:
            # argmax != label with ties resolved for the label: some wrong class strictly above it.
            rival = np.where(np.arange(logits.shape[1])[None, :] == label[:, None], -np.inf, logits).max(1)
            success = returned & (rival > logits[np.arange(n), label]) & scored
        else:
            success = returned & (pred == target)
        if args.attack == "blindspot":
            ours = tensors["success"][:n] > 0.5
            result["blindspot_success_disagreements"] = int(np.sum(ours[scored] != success[scored]))
        rms = np.sqrt(np.sum((adv.astype(np.float64) - x) ** 2, axis=1) / d)
        ok_rms = rms[success]
        result.update({
            "peer": peer,
            "attack": args.attack,
            "success_rate": float(np.sum(success) / max(1, np.sum(scored))),
            "n_success": int(success.sum()),
            "n_returned": int(returned.sum()),
            "mean_rms": float(ok_rms.mean()) if ok_rms.size else None,
            "median_rms": float(np.median(ok_rms)) if ok_rms.size else None,
            "seconds": seconds,
            "seconds_per_example": seconds / n,
            "examples_per_second": n / seconds,
            "evaluations_per_example": evaluations,
            "backward_per_example": backward,
            "forward_calls": None if args.attack == "blindspot" else counted.calls,
            # Per image: the RMS of a successful example, None for a failure or an image not
            # scored (the frontier bench compares attacks on the images all of them broke).
            "rms_per_image": [float(r) if ok else None for r, ok in zip(rms, success)],
        })
        print(f"{model_name} {args.attack} ({peer}) {args.goal}: n={n} ({int(scored.sum())} scored) "
              f"success {result['success_rate']:.1%} "
              f"mean RMS {result['mean_rms'] if result['mean_rms'] is None else round(result['mean_rms'], 4)} "
              f"median RMS {result['median_rms'] if result['median_rms'] is None else round(result['median_rms'], 4)} "
              f"{seconds:.1f} s ({seconds / n:.3f} s/example, {n / seconds:.2f} ex/s) "
              f"{evaluations:.0f} evals/example, torch {torch.__version__}, {args.threads} threads, "
              f"load {load_start:.2f}")

    if args.exact and untargeted:
        full, reaches, _ = exact_untargeted(model, x, label)
        exact = {"mean_rms": float(np.mean(full[scored])), "median_rms": float(np.median(full[scored])),
                 "reaches_misclassification": float(np.mean(reaches[scored]))}
        if success is not None and success.any():
            # Ratio of the means over the images the attack succeeded on, and per-example ratios.
            exact["attack_over_exact_mean_of_means"] = float(rms[success].mean() / full[success].mean())
            ratio = rms[success] / np.maximum(full[success], 1e-12)
            exact["attack_over_exact_mean"] = float(np.mean(ratio))
            exact["attack_over_exact_median"] = float(np.median(ratio))
        result["exact"] = exact
        line = (f"{model_name} exact untargeted optimum: mean RMS {exact['mean_rms']:.4f} "
                f"median {exact['median_rms']:.4f}")
        if "attack_over_exact_mean" in exact:
            line += (f"; attack/exact: ratio of means {exact['attack_over_exact_mean_of_means']:.4f}, "
                     f"per example mean {exact['attack_over_exact_mean']:.4f}, "
                     f"median {exact['attack_over_exact_median']:.4f}")
        print(line)
    elif args.exact:
        pair, full, ok = exact_softmax(model, x, target, label)
        exact = {"mean_rms": float(np.mean(full)), "median_rms": float(np.median(full)),
                 "reaches_target": float(np.mean(ok)),
                 "pair_mean_rms": float(np.nanmean(pair)), "pair_median_rms": float(np.nanmedian(pair))}
        if success is not None and success.any():
            ratio = rms[success] / np.maximum(full[success], 1e-12)
            exact["attack_over_exact_mean"] = float(np.mean(ratio))
            exact["attack_over_exact_median"] = float(np.median(ratio))
        result["exact"] = exact
        line = (f"{model_name} exact minimum (argmax == target, box [0,1]): mean RMS {exact['mean_rms']:.4f} "
                f"median {exact['median_rms']:.4f} (target-vs-label halfspace only: mean "
                f"{exact['pair_mean_rms']:.4f}, median {exact['pair_median_rms']:.4f})")
        if "attack_over_exact_mean" in exact:
            line += (f"; attack/exact per example: mean {exact['attack_over_exact_mean']:.3f}, "
                     f"median {exact['attack_over_exact_median']:.3f}")
        print(line)

    # Other work on the machine distorts the timings (with 2 torch threads on
    # 2 busy cores, OpenMP threads wait on each other): keep the load average.
    result["loadavg_1min_start"] = load_start
    result["loadavg_1min_end"] = os.getloadavg()[0]
    result["cpu_count"] = os.cpu_count()
    result["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    order = ["peer", "attack", "goal", "model", "n", "n_scored", "success_rate", "mean_rms", "median_rms",
             "seconds", "seconds_per_example", "examples_per_second", "evaluations_per_example",
             "backward_per_example", "torch_threads", "torch_version"]
    result = {**{k: result[k] for k in order if k in result},
              **{k: v for k, v in result.items() if k not in order}}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
