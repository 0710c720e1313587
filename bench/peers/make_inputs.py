#!/usr/bin/env python3
"""Write an attack-inputs file for run_peers.py from the MNIST test set.

The file has the same layout as the one our Rust attack writes (all F32):
  x      [N, 784]  images, pixels byte/255 in [0, 1]
  label  [N]       true class
  target [N]       a random wrong class (uniform over the 9 others, seeded)

Images are the first N test images (or a seeded random subset with
--shuffle). Needs numpy and safetensors (the peers venv has both).

  python make_inputs.py --n 100 --seed 0 --out /tmp/inputs-100.safetensors
"""

import argparse
import os
import struct
import sys

import numpy as np


def read_idx(path):
    """Read a raw (uncompressed) idx file into a numpy array."""
    with open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    payload = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(dims)):
        raise ValueError(f"{path}: payload size {payload.size} != {dims}")
    return payload.reshape(dims)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mnist-dir", default=os.path.expanduser("~/.cache/blindspot/mnist"),
                    help="directory with t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte")
    ap.add_argument("--n", type=int, default=100, help="number of test images (default 100)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random targets (default 0)")
    ap.add_argument("--shuffle", action="store_true",
                    help="take a seeded random subset of the test set instead of the first N")
    ap.add_argument("--out", required=True, help="output .safetensors file")
    args = ap.parse_args(argv)

    from safetensors.numpy import save_file

    images = read_idx(os.path.join(args.mnist_dir, "t10k-images-idx3-ubyte"))
    labels = read_idx(os.path.join(args.mnist_dir, "t10k-labels-idx1-ubyte"))
    if images.shape[0] != labels.shape[0]:
        sys.exit("image and label counts differ")
    if not 0 < args.n <= images.shape[0]:
        sys.exit(f"--n must be in 1..={images.shape[0]}")

    rng = np.random.default_rng(args.seed)
    if args.shuffle:
        idx = np.sort(rng.choice(images.shape[0], size=args.n, replace=False))
    else:
        idx = np.arange(args.n)
    x = images[idx].reshape(args.n, -1).astype(np.float32) / np.float32(255.0)
    label = labels[idx].astype(np.int64)
    # Uniform over the 9 wrong classes: draw 0..8 and skip the true label.
    r = rng.integers(0, 9, size=args.n)
    target = r + (r >= label)
    assert np.all(target != label) and np.all((target >= 0) & (target <= 9))

    save_file(
        {
            "x": np.ascontiguousarray(x),
            "label": label.astype(np.float32),
            "target": target.astype(np.float32),
        },
        args.out,
        metadata={"source": "bench/peers/make_inputs.py", "seed": str(args.seed),
                  "indices": "shuffled" if args.shuffle else f"0..{args.n}"},
    )
    print(f"wrote {args.out}: {args.n} images, seed {args.seed}, "
          f"targets {np.bincount(target, minlength=10).tolist()}")


if __name__ == "__main__":
    main()
