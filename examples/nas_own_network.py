"""NAS on your own network: a small CNN with its own Choice points, searched on its own
DataLoaders (scikit-learn's 8x8 digits) by MP, DARTS (2nd order) and random search at the
same budget and under the same parameter budget; each architecture found is retrained with
the same recipe and scored on a test split no search saw.

    python examples/nas_own_network.py [--budget-epochs 12] [--max-params 12000] [--seed 0]

Prints one line per method: the genotype ({choice: op}), its parameter count and the
retrained validation and test accuracy. Runs in well under a minute on one CPU core.
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nas_frontend as nf
from nas_frontend.loader_train import evaluate_loader


def conv_block(channels: int, name: str) -> nf.Choice:
    """One searched layer: a 3x3 or 5x5 convolution, a skip connection, or nothing."""
    return nf.Choice({
        "conv3": nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()),
        "conv5": nn.Sequential(nn.Conv2d(channels, channels, 5, padding=2), nn.ReLU()),
        "skip": nn.Identity(),
        "none": nf.Zero(),
    }, name=name)


class DigitsCNN(nn.Module):
    """stem -> two searched layers (the second with a residual) -> pooled, searched-width head."""

    def __init__(self, channels: int = 8, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU())
        self.layer1 = conv_block(channels, "layer1")
        self.layer2 = conv_block(channels, "layer2")
        self.pool = nn.AvgPool2d(2)
        self.head = nf.Choice.widths(lambda w: nn.Sequential(
            nn.Flatten(), nn.Linear(channels * 16, w), nn.ReLU(), nn.Linear(w, classes)),
            [16, 64], name="head")

    def forward(self, x):
        h = self.layer1(self.stem(x))
        h = h + self.layer2(h)
        return self.head(self.pool(h))


def digits_loaders(seed: int = 0, batch_size: int = 64):
    """Train / validation / test loaders over a fixed shuffled split of the 1797 digits."""
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    y = torch.tensor(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(1234))
    X, y = X[perm], y[perm]
    parts = (slice(0, 1000), slice(1000, 1400), slice(1400, None))
    sets = [TensorDataset(X[s], y[s]) for s in parts]
    return (DataLoader(sets[0], batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed)),
            DataLoader(sets[1], batch_size=256), DataLoader(sets[2], batch_size=256))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-epochs", type=float, default=12.0)
    ap.add_argument("--max-params", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--retrain-epochs", type=int, default=15)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    train, val, test = digits_loaders(args.seed)
    print(f"search space: {nf.ModuleSpace(DigitsCNN(), torch.zeros(2, 1, 8, 8)).size} "
          f"architectures; budget {args.budget_epochs:g} epochs, at most {args.max_params} "
          "parameters")
    for method in ("mp", "darts2", "random"):
        extra = {"train_epochs": 2} if method == "random" else {}
        found = nf.search(DigitsCNN(), train, val, method=method,
                          budget_epochs=args.budget_epochs, resource={"params": args.max_params},
                          seed=args.seed, retrain_epochs=args.retrain_epochs, progress=False,
                          **extra)
        test_acc = evaluate_loader(found.model, test)["acc"]
        params = sum(p.numel() for p in found.model.parameters())
        geno = " ".join(f"{k}={v}" for k, v in found.genotype.items())
        print(f"{method:7s} {geno:45s} params {params:6d}  val acc "
              f"{found.retrain['val_acc']:.3f}  test acc {test_acc:.3f}  "
              f"({found.result.epochs_used:.1f} epochs, {found.result.seconds:.1f} s)")


if __name__ == "__main__":
    main()
