"""Training and evaluating a user's network on DataLoaders with the fixed recipe of
:mod:`models.train` (AdamW lr 3e-3, weight decay 1e-4, cosine decay to 0 over all steps),
the loss of the search (default cross-entropy). Used by the sampling searchers' oracle and
by :func:`nas_frontend.search` to retrain the model it returns."""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from models.train import RECIPE


def move_batch(batch, device=None):
    """``(x, y)`` of a loader's batch, moved to ``device`` (as it is when None); ValueError
    unless the batch is an (inputs, targets) pair."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise ValueError("a DataLoader for search must yield (inputs, targets) pairs, got "
                         f"{type(batch).__name__}")
    x, y = batch
    return (x, y) if device is None else (x.to(device), y.to(device))


@torch.no_grad()
def evaluate_loader(net: nn.Module, loader, loss_fn=None, device=None) -> dict:
    """``{"loss": mean loss, "acc": accuracy or None}`` of ``net`` in eval mode over one
    pass of ``loader``; accuracy when the outputs are class scores (2-D) and the targets
    integer labels."""
    loss_fn = loss_fn or F.cross_entropy
    was = net.training
    net.eval()
    total = correct = n = 0
    classify = True
    try:
        for batch in loader:
            x, y = move_batch(batch, device)
            out = net(x)
            total += float(loss_fn(out, y)) * len(y)
            n += len(y)
            classify = classify and out.dim() == 2 and not torch.is_floating_point(y)
            if classify:
                correct += int((out.argmax(dim=1) == y).sum())
    finally:
        net.train(was)
    if n == 0:
        raise ValueError("the validation DataLoader is empty")
    return {"loss": total / n, "acc": correct / n if classify else None}


def fit_loader(net: nn.Module, train, val, epochs: int, seed: int = 0, loss_fn=None,
                 device=None, lr: float = RECIPE["lr"],
                 weight_decay: float = RECIPE["weight_decay"]) -> dict:
    """Train ``net`` (in place) for ``epochs`` passes over the ``train`` loader; returns
    {train_loss, train_acc, val_loss, val_acc, seconds, params, epochs, seed}. The
    loader's order is its own; ``seed`` seeds torch (dropout and the like)."""
    loss_fn = loss_fn or F.cross_entropy
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    if device is not None:
        net.to(device)
    total = max(1, epochs * len(train))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, total) / total)))
    net.train()
    for _ in range(epochs):
        for batch in train:
            x, y = move_batch(batch, device)
            if len(y) < 2:            # batch norm needs two samples
                continue
            loss = loss_fn(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    tr, va = evaluate_loader(net, train, loss_fn, device), evaluate_loader(net, val, loss_fn, device)
    return {"epochs": epochs, "seed": seed,
            "params": sum(p.numel() for p in net.parameters() if p.requires_grad),
            "train_loss": tr["loss"], "train_acc": tr["acc"], "val_loss": va["loss"],
            "val_acc": va["acc"], "seconds": time.perf_counter() - t0}
