"""Logits of AlexNet in PyTorch, to prove that blindspot imports torchvision's weights exactly.

Writes two safetensors files into OUT:
  <name>.safetensors     the state dict, torchvision's names (features.0.weight, ...,
                         classifier.6.bias)
  <name>-io.safetensors  `images` [N, 3, 224, 224] (pixels in [0, 1], generated) and `logits`
                         [N, classes], the model's output on them after ImageNet's normalization
                         (torchvision's transforms.Normalize), in evaluation mode

--width narrow (the CI fixture, crates/models/tests/fixtures/): the same layer structure and
names as torchvision.models.AlexNet with filters 16/48/96/64/64, dense widths 64/64 and 1,000
classes, about 2 MB. --width full: torchvision.models.alexnet(weights=None) itself (random
initialisation, 244 MB; outside CI: `cargo run --release -p blindspot-examples --example
alexnet_logits -- OUT/alexnet-full.safetensors OUT/alexnet-full-io.safetensors`).

Both draw the weights from torch.manual_seed(SEED) and the images from a fixed formula: smooth
colour gradients with a few discs, quantised to 8 bits as photos are.

  python bench/peers/alexnet_fixture.py --width narrow --out crates/models/tests/fixtures
"""

import argparse
import os

import torch
from torch import nn
from safetensors.torch import save_file

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class NarrowAlexNet(nn.Module):
    """torchvision.models.AlexNet's modules and names, with narrower layers."""

    def __init__(self, filters=(16, 48, 96, 64, 64), hidden=(64, 64), classes=1000):
        super().__init__()
        f = filters
        self.features = nn.Sequential(
            nn.Conv2d(3, f[0], kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(f[0], f[1], kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(f[1], f[2], kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(f[2], f[3], kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(f[3], f[4], kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Linear(f[4] * 6 * 6, hidden[0]),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(hidden[0], hidden[1]),
            nn.ReLU(inplace=True),
            nn.Linear(hidden[1], classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def images(n, side=224):
    """n generated 8-bit RGB images in [0, 1], [n, 3, side, side]."""
    h = torch.arange(side, dtype=torch.float64).view(side, 1) / side
    w = torch.arange(side, dtype=torch.float64).view(1, side) / side
    out = []
    for i in range(n):
        channels = []
        for c in range(3):
            base = 0.5 + 0.35 * torch.sin(6.0 * (h * (c + 1) + w * (i + 1)) + c + i)
            for k in range(3):
                cy, cx = 0.2 + 0.3 * k, 0.3 + 0.2 * ((i + k + c) % 3)
                disc = ((h - cy) ** 2 + (w - cx) ** 2) < (0.08 + 0.02 * k) ** 2
                base = torch.where(disc, torch.full_like(base, (k + c + i) % 2), base)
            channels.append(base)
        out.append(torch.stack(channels))
    x = torch.stack(out).clamp(0, 1)
    return (torch.round(x * 255) / 255).float()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", choices=["narrow", "full"], default="narrow")
    p.add_argument("--out", required=True)
    p.add_argument("--images", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    if args.width == "full":
        import torchvision

        model = torchvision.models.alexnet()
        name = "alexnet-full"
    else:
        model = NarrowAlexNet()
        name = "alexnet-narrow"
    model.eval()
    x = images(args.images)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = model((x - mean) / std)
    os.makedirs(args.out, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(args.out, f"{name}.safetensors"), metadata={"format": "pt"})
    save_file(
        {"images": x.contiguous(), "logits": logits.contiguous()},
        os.path.join(args.out, f"{name}-io.safetensors"),
        metadata={"producer": f"bench/peers/alexnet_fixture.py --width {args.width} --seed {args.seed}",
                  "torch": torch.__version__},
    )
    print(f"{name}: {sum(v.numel() for v in state.values())} parameters, logits {tuple(logits.shape)}, "
          f"max |logit| {logits.abs().max().item():.4f}, argmax {logits.argmax(1).tolist()}")


if __name__ == "__main__":
    main()
