#!/usr/bin/env python3
"""Seconds per training epoch of n100-100-10 in PyTorch, the recipe of `blindspot bench`; with
--evaluate also its test error, as an independent check of our training (spec.rs).

  python train_torch.py [--epochs 2] [--batch-size 128] [--threads 2] [--json OUT]
  python train_torch.py --optimizer sgd --learning-rate 0.05 --batch-size 16 --epochs 40 \
                        --threads 1 --evaluate        # the n100-100-10 recipe of reproduce

The same training as crates/models (train.rs, decay.rs, spec.rs) for n100-100-10:
  model     784-100-100-10, sigmoid after each hidden layer, logits out; nn.Linear's
            default initialization (uniform ±1/sqrt(fan_in), the one Burn's
            LinearConfig reproduces)
  loss      mean cross-entropy + Σ_layers λ_l · Σ w² / k_l (connection weights only,
            k_l = the layer's output units), λ = 1e-5, 1e-5, 1e-6 (the paper's 4.2)
  optimizer Adam (β = 0.9, 0.999, ε = 1e-8), or with --optimizer sgd SGD with Nesterov
            momentum 0.9 (dampening 0, as ours); --learning-rate (default 1e-3) with a
            cosine decay to 1% of it over all steps (set before each step)
  data      the 60,000 MNIST training images (byte/255), held as one float32 tensor;
            each epoch a fresh permutation, minibatches of --batch-size (last one
            smaller), the misclassified count of each minibatch accumulated (as ours does)
Timed: each epoch's training pass (shuffle, gather, forward, backward, step), nothing
else (ours likewise excludes the evaluation after an epoch). torch.set_num_threads(threads).
--evaluate: after each epoch (untimed) the error on the 10,000 test images and on the whole
training set in evaluation mode, printed and kept in the JSON.
"""

import argparse
import json
import math
import os
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist-dir", default=os.path.expanduser("~/.cache/blindspot/mnist"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--evaluate", action="store_true", help="test and training error after each epoch")
    ap.add_argument("--json", help="write the result object here")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    # See run_peers.py: libgomp's spinning wait policy makes 2-thread torch ~10x slower on a
    # loaded machine; an OMP_WAIT_POLICY already set is kept, and recorded.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    import numpy as np
    import torch
    from torch import nn

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_inputs import read_idx

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = read_idx(os.path.join(args.mnist_dir, "train-images-idx3-ubyte"))
    labels = read_idx(os.path.join(args.mnist_dir, "train-labels-idx1-ubyte"))
    x = torch.from_numpy(images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0))
    y = torch.from_numpy(labels.astype(np.int64))
    n = x.shape[0]

    sizes, lambdas = [784, 100, 100, 10], [1e-5, 1e-5, 1e-6]
    linears = [nn.Linear(sizes[i], sizes[i + 1]) for i in range(3)]
    model = nn.Sequential(linears[0], nn.Sigmoid(), linears[1], nn.Sigmoid(), linears[2])
    model.train()
    lr0 = args.learning_rate
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=lr0, betas=(0.9, 0.999), eps=1e-8)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr0, momentum=0.9, dampening=0.0, nesterov=True)
    if args.evaluate:
        test_images = read_idx(os.path.join(args.mnist_dir, "t10k-images-idx3-ubyte"))
        test_labels = read_idx(os.path.join(args.mnist_dir, "t10k-labels-idx1-ubyte"))
        x_test = torch.from_numpy(test_images.reshape(test_images.shape[0], -1).astype(np.float32) / np.float32(255.0))
        y_test = torch.from_numpy(test_labels.astype(np.int64))

    def error(images, targets):
        with torch.no_grad():
            return float((model(images).argmax(1) != targets).float().mean())
    steps_per_epoch = math.ceil(n / args.batch_size)
    total = steps_per_epoch * args.epochs
    cross_entropy = nn.CrossEntropyLoss()

    def lr_at(step):
        progress = step / max(total, 1)
        return lr0 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))

    step = 0
    epochs = []
    load_start = os.getloadavg()[0]
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(n)
        wrong = torch.zeros((), dtype=torch.int64)
        loss_sum = torch.zeros(())
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x[idx], y[idx]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            logits = model(xb)
            decay = sum(lam * l.weight.pow(2).sum() / l.out_features for lam, l in zip(lambdas, linears))
            loss = cross_entropy(logits, yb) + decay
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                wrong += (logits.argmax(1) != yb).sum()
                loss_sum += loss.detach()
            step += 1
        mean_loss = float(loss_sum) / steps_per_epoch
        seconds = time.perf_counter() - start
        record = {"seconds": seconds, "loss": mean_loss, "train_error": int(wrong) / n}
        line = f"epoch {epoch + 1}: {seconds:.2f} s, loss {mean_loss:.4f}, train error {int(wrong) / n:.4f}"
        if args.evaluate:
            record["test_error"] = error(x_test, y_test)
            record["train_error_eval"] = error(x, y)
            line += f", test error {record['test_error']:.4f} (training set {record['train_error_eval']:.4f})"
        epochs.append(record)
        print(line, flush=True)

    seconds = [e["seconds"] for e in epochs]
    mean = sum(seconds) / len(seconds)
    print(f"n100-100-10 on PyTorch {torch.__version__} ({args.threads} threads): {mean:.2f} s per epoch "
          f"(batch {args.batch_size}, {n} examples; epochs: {[round(s, 2) for s in seconds]})")
    result = {"model": "n100-100-10", "backend": "pytorch", "torch_version": torch.__version__,
              "optimizer": args.optimizer, "learning_rate": args.learning_rate,
              "test_error": epochs[-1].get("test_error") if epochs else None,
              "batch_size": args.batch_size, "examples": n, "epoch_seconds": seconds,
              "mean_epoch_seconds": mean, "threads": args.threads, "epochs": epochs,
              "loadavg_1min_start": load_start, "loadavg_1min_end": os.getloadavg()[0],
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
