"""The fixed training recipe used for the NAS ground-truth tables.

Recipe: 20 epochs (the ground-truth tables' setting), AdamW (lr 3e-3, weight decay 1e-4),
batch 128, cosine learning-rate decay to 0 over all steps, cross-entropy; weights
initialised under ``torch.manual_seed(seed)``, minibatch order from a generator seeded
with ``seed``. Metrics are computed after the
last epoch in eval mode on the full train / val / test splits. Deterministic for a fixed
seed on one thread (run ``torch.set_num_threads(1)``; the table builder does).
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn
import torch.nn.functional as F

from .spaces import make_net

RECIPE = {"epochs": 20, "optimizer": "AdamW", "lr": 3e-3, "weight_decay": 1e-4, "batch_size": 128,
          "schedule": "cosine to 0 per step", "loss": "cross-entropy"}


@torch.no_grad()
def evaluate(net: nn.Module, x: torch.Tensor, y: torch.Tensor,
             batch_size: int = 4096) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``net`` in eval mode."""
    was_training = net.training
    net.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        out = net(x[i:i + batch_size])
        loss += F.cross_entropy(out, y[i:i + batch_size], reduction="sum").item()
        correct += (out.argmax(dim=1) == y[i:i + batch_size]).sum().item()
    net.train(was_training)
    return correct / len(y), loss / len(y)


def train(genotype_or_net, data: dict, epochs: int = RECIPE["epochs"], seed: int = 0,
          space: str | None = None, batch_size: int = RECIPE["batch_size"],
          lr: float = RECIPE["lr"], weight_decay: float = RECIPE["weight_decay"],
          **net_kwargs) -> dict:
    """Train a network with the fixed recipe and return its metrics.

    ``genotype_or_net``: a genotype of ``space`` (built with ``models.spaces.make_net``
    under ``torch.manual_seed(seed)``) or an ``nn.Module`` (trained as given; only the
    minibatch order is seeded). ``data`` is a dict from :func:`models.data.load`.

    Returns {train_acc, train_loss, val_acc, val_loss, test_acc, test_loss, seconds,
    params, epochs, seed}.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    t0 = time.perf_counter()
    if isinstance(genotype_or_net, nn.Module):
        net = genotype_or_net
    else:
        if space is None:
            raise ValueError("train(genotype, ...) needs space= ('cell3', 'cell4' or 'mlp')")
        torch.manual_seed(seed)
        net = make_net(space, genotype_or_net, n_features=data["n_features"],
                       n_classes=data["n_classes"], **net_kwargs)
    x, y = data["x_train"], data["y_train"]
    n = len(y)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    total = max(1, epochs * steps_per_epoch)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total)))
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            if len(idx) < 2:      # batch norm needs two samples
                continue
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    out = {"epochs": epochs, "seed": seed,
           "params": sum(p.numel() for p in net.parameters() if p.requires_grad)}
    for split in ("train", "val", "test"):
        acc, ce = evaluate(net, data[f"x_{split}"], data[f"y_{split}"])
        out[f"{split}_acc"], out[f"{split}_loss"] = acc, ce
    out["seconds"] = time.perf_counter() - t0
    return out
