"""torchvision's ImageNet evaluation transform on generated photos, to check blindspot's
(crates/imagenet/src/resize.rs) against PIL and torchvision level for level.

Writes into OUT (the CI fixture lives in crates/imagenet/tests/fixtures/):
  landscape.png           a 301 x 200 RGB photo (odd width: the crop offset rounds half to even)
  landscape-224.png       Resize(256) + CenterCrop(224) of it, by torchvision on the PIL image
  portrait-grey.png       a 150 x 211 grey photo
  portrait-grey-224.png   the same transform after PIL's convert("RGB")
  landscape.jpg           landscape.png as a JPEG (quality 90)
  landscape-jpg-rgb.png   PIL's decoding of that JPEG (a different decoder: within a level or two)

  python bench/peers/preprocess_fixture.py --out crates/imagenet/tests/fixtures
"""

import argparse
import os

import numpy as np
from PIL import Image
from torchvision import transforms


def photo(width, height, channels):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    layers = []
    for c in range(channels):
        v = 0.5 + 0.3 * np.sin(x / (9.0 + 4 * c) + y / 23.0 + c) + 0.15 * np.cos(y / (5.0 + c))
        for k in range(4):
            cy, cx, r = height * (0.2 + 0.2 * k), width * (0.15 + 0.22 * k), 6 + 5 * k
            v = np.where((y - cy) ** 2 + (x - cx) ** 2 < r * r, (k + c) % 2, v)
        # A few one-pixel lines: the filter's taps must line up exactly.
        v[::17, :] = 1.0 - v[::17, :]
        layers.append(v)
    a = np.clip(np.stack(layers, axis=-1) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(a[..., 0] if channels == 1 else a, "L" if channels == 1 else "RGB")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    transform = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    landscape = photo(301, 200, 3)
    landscape.save(os.path.join(args.out, "landscape.png"))
    transform(landscape).save(os.path.join(args.out, "landscape-224.png"))
    grey = photo(150, 211, 1)
    grey.save(os.path.join(args.out, "portrait-grey.png"))
    transform(grey.convert("RGB")).save(os.path.join(args.out, "portrait-grey-224.png"))
    jpg = os.path.join(args.out, "landscape.jpg")
    landscape.save(jpg, quality=90)
    Image.open(jpg).convert("RGB").save(os.path.join(args.out, "landscape-jpg-rgb.png"))
    for name in sorted(os.listdir(args.out)):
        print(f"{name}: {os.path.getsize(os.path.join(args.out, name))} bytes")


if __name__ == "__main__":
    main()
