"""MLP search space for flat inputs: depth 1-3, width and activation per hidden layer.

Network: stem Linear(in_features, D) -> 1 to 3 residual blocks -> Linear(D, num_classes),
with a trunk of width D = 64. A block ``"<act><w>"`` is h + Linear(w, D)(act(Linear(D, w)(h)))
with act in {relu, tanh} and hidden width w in {16, 32, 64}: 6 block types, so
6 + 36 + 216 = 258 architectures.

Why residual blocks on a fixed trunk rather than a plain chain of layers: a plain MLP's
parameter count has products of consecutive widths (w_l * w_{l+1}), so an expected count
under independent per-layer choices is bilinear in the probabilities. Here every block
reads and writes the D-wide trunk, so the count is a sum over layers -- exactly linear in
the per-layer probabilities, usable as a linear constraint in a math program -- and an
absent layer is exactly the identity (the skip of the supernet).

A genotype is a tuple of 1-3 block names, e.g. ``("relu32", "tanh64")`` (string form
``"relu32|tanh64"``). The supernet has 3 slots; each slot mixes the 6 blocks and
``skip`` (slot 0 cannot skip, so depth >= 1) with softmax(alpha[slot]) weights; a genotype
with skips, e.g. ``("relu32", "skip", "tanh64")``, means the same network as the one
with the skips removed.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .ops import AlphaSplit

ACTIVATIONS = ("relu", "tanh")
WIDTHS = (16, 32, 64)
BLOCK_NAMES: tuple[str, ...] = tuple(f"{a}{w}" for a in ACTIVATIONS for w in WIDTHS)
"""The 6 block types: relu16, relu32, relu64, tanh16, tanh32, tanh64."""
SLOT_OPS: tuple[str, ...] = ("skip",) + BLOCK_NAMES
"""Supernet slot choices (the column order of the MLP alpha tensor)."""
MAX_DEPTH = 3
TRUNK = 64


def _parse_block(name: str, where: str = "") -> tuple[str, int]:
    if not isinstance(name, str) or name not in BLOCK_NAMES:
        at = f" at {where}" if where else ""
        raise ValueError(f"unknown MLP layer {name!r}{at}; choose one of "
                         f"{', '.join(SLOT_OPS)}")
    act = name.rstrip("0123456789")
    return act, int(name[len(act):])


def validate_genotype(genotype: Sequence[str] | str) -> tuple[str, ...]:
    """Check an MLP genotype (1-3 layer names, ``skip`` allowed and dropped) and return the
    canonical tuple of block names."""
    if isinstance(genotype, str):
        genotype = genotype.split("|")
    genotype = tuple(genotype)
    if not 1 <= len(genotype) <= MAX_DEPTH:
        raise ValueError(f"MLP genotype {genotype!r} has {len(genotype)} layers; need 1 to "
                         f"{MAX_DEPTH}")
    for i, name in enumerate(genotype):
        if name != "skip":
            _parse_block(name, f"layer {i}")
    canon = tuple(n for n in genotype if n != "skip")
    if not canon:
        raise ValueError(f"MLP genotype {genotype!r} has no layer (all skip); depth must be >= 1")
    return canon


def all_genotypes() -> list[tuple[str, ...]]:
    """All 258 canonical MLP genotypes, by depth then lexicographic block order."""
    return [g for d in range(1, MAX_DEPTH + 1)
            for g in itertools.product(BLOCK_NAMES, repeat=d)]


def block_params(name: str, D: int = TRUNK) -> int:
    """Trainable parameters of one block (skip: 0)."""
    if name == "skip":
        return 0
    _, w = _parse_block(name)
    return D * w + w + w * D + D


def block_flops(name: str, D: int = TRUNK) -> int:
    """Multiply-accumulates per sample of one block (skip: 0)."""
    if name == "skip":
        return 0
    _, w = _parse_block(name)
    return 2 * D * w


def resource_coefficients(kind: str = "params", in_features: int = 40, num_classes: int = 10,
                          D: int = TRUNK) -> tuple[float, np.ndarray]:
    """(const, coef) with cost = const + sum_s coef[s, op_s]; coef is (slots, SLOT_OPS)."""
    if kind == "params":
        const = in_features * D + D + D * num_classes + num_classes
        row = [block_params(o, D) for o in SLOT_OPS]
    elif kind == "flops":
        const = in_features * D + D * num_classes
        row = [block_flops(o, D) for o in SLOT_OPS]
    else:
        raise ValueError(f"unknown resource kind {kind!r}; choose 'params' or 'flops'")
    return float(const), np.tile(np.asarray(row, dtype=np.float64), (MAX_DEPTH, 1))


def genotype_params(genotype, in_features: int = 40, num_classes: int = 10,
                    D: int = TRUNK) -> int:
    """Exact trainable parameter count of ``MLPNet(genotype, ...)``."""
    g = validate_genotype(genotype)
    const, _ = resource_coefficients("params", in_features, num_classes, D)
    return int(const) + sum(block_params(n, D) for n in g)


def genotype_flops(genotype, in_features: int = 40, num_classes: int = 10,
                   D: int = TRUNK) -> int:
    """Exact multiply-accumulates per sample of ``MLPNet(genotype, ...)``."""
    g = validate_genotype(genotype)
    const, _ = resource_coefficients("flops", in_features, num_classes, D)
    return int(const) + sum(block_flops(n, D) for n in g)


class Block(nn.Module):
    """Residual block body: Linear(D, w) -> act -> Linear(w, D) (the caller adds h)."""

    def __init__(self, name: str, D: int = TRUNK):
        super().__init__()
        act, w = _parse_block(name)
        self.name = name
        self.fc1 = nn.Linear(D, w)
        self.act = nn.ReLU() if act == "relu" else nn.Tanh()
        self.fc2 = nn.Linear(w, D)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(h)))


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


class MLPNet(nn.Module):
    """Discrete residual MLP for one genotype (1-3 block names)."""

    def __init__(self, genotype: Sequence[str] | str, in_features: int = 40,
                 num_classes: int = 10, D: int = TRUNK):
        super().__init__()
        self.genotype = validate_genotype(genotype)
        self.in_features, self.num_classes, self.D = in_features, num_classes, D
        self.stem = nn.Linear(in_features, D)
        self.blocks = nn.ModuleList(Block(n, D) for n in self.genotype)
        self.classifier = nn.Linear(D, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(_flat(x))
        for b in self.blocks:
            h = h + b(h)
        return self.classifier(h)

    def num_params(self) -> int:
        """Trainable parameters (equals :func:`genotype_params`)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def flops(self) -> int:
        """Multiply-accumulates per sample (equals :func:`genotype_flops`)."""
        return genotype_flops(self.genotype, self.in_features, self.num_classes, self.D)


class MLPSupernet(AlphaSplit, nn.Module):
    """Continuous relaxation: slot s maps h -> h + sum_k p[s, k] * block_k(h), with
    p = softmax(alpha) over :data:`SLOT_OPS` (``skip`` contributes 0; masked in slot 0).

    ``alpha`` (slots x len(SLOT_OPS)) is the only architecture parameter.
    """

    def __init__(self, in_features: int = 40, num_classes: int = 10, D: int = TRUNK,
                 alpha_init_std: float = 0.0):
        super().__init__()
        self.in_features, self.num_classes, self.D = in_features, num_classes, D
        self.stem = nn.Linear(in_features, D)
        self.slots = nn.ModuleList(
            nn.ModuleDict({n: Block(n, D) for n in BLOCK_NAMES}) for _ in range(MAX_DEPTH))
        self.classifier = nn.Linear(D, num_classes)
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(MAX_DEPTH, len(SLOT_OPS)))
        mask = torch.zeros(MAX_DEPTH, len(SLOT_OPS), dtype=torch.bool)
        mask[0, 0] = True                     # slot 0 may not skip: depth >= 1
        self._mask = mask

    def probabilities(self, alpha: torch.Tensor | None = None) -> torch.Tensor:
        """Per-slot probabilities (slots, SLOT_OPS): softmax with slot 0's skip masked to 0."""
        a = self.alpha if alpha is None else alpha
        return torch.softmax(a.masked_fill(self._mask.to(a.device), float("-inf")), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.probabilities()
        h = self.stem(_flat(x))
        for s, slot in enumerate(self.slots):
            mix = None
            for k, name in enumerate(SLOT_OPS):
                if name == "skip":
                    continue
                term = p[s, k] * slot[name](h)
                mix = term if mix is None else mix + term
            h = h + mix
        return self.classifier(h)


    def derive_slots(self, alpha: torch.Tensor | None = None) -> tuple[str, ...]:
        """Argmax choice per slot (may contain ``skip``; slot 0 never does)."""
        p = self.probabilities(alpha if alpha is None else torch.as_tensor(alpha))
        return tuple(SLOT_OPS[k] for k in p.detach().argmax(dim=-1).tolist())

    def derive(self, alpha: torch.Tensor | None = None) -> tuple[str, ...]:
        """Canonical genotype: per-slot argmax with the skips removed."""
        return validate_genotype(self.derive_slots(alpha))

    def resource_coefficients(self, kind: str = "params") -> tuple[float, np.ndarray]:
        """(const, coef) of :func:`resource_coefficients` for this network's sizes."""
        return resource_coefficients(kind, self.in_features, self.num_classes, self.D)

    def _expected(self, kind, probs):
        shape, want = tuple(np.shape(probs)), (MAX_DEPTH, len(SLOT_OPS))
        if shape != want:
            raise ValueError(f"probs has shape {shape}, expected (slots, ops) = {want}")
        const, coef = self.resource_coefficients(kind)
        return self.linear_cost(const, coef, probs)

    def expected_params(self, probs):
        """Expected parameter count, const + sum(coef * probs): linear in ``probs``
        (slots x ops, e.g. ``self.probabilities()``); exact at a one-hot ``probs``."""
        return self._expected("params", probs)

    def expected_flops(self, probs):
        """Expected multiply-accumulates per sample, linear in ``probs``."""
        return self._expected("flops", probs)

    def genotype_params(self, genotype) -> int:
        """Exact parameter count of the discrete net for ``genotype``."""
        return genotype_params(genotype, self.in_features, self.num_classes, self.D)

    def genotype_flops(self, genotype) -> int:
        """Exact multiply-accumulates per sample of the discrete net for ``genotype``."""
        return genotype_flops(genotype, self.in_features, self.num_classes, self.D)

    def extract(self, genotype: Sequence[str] | str | None = None) -> MLPNet:
        """Discrete :class:`MLPNet` with copies of this supernet's weights (weight sharing).

        ``genotype`` may give one choice per slot (with skips, e.g. from derive_slots();
        the default) or a canonical genotype, whose blocks then come from the first slots.
        """
        slots = self.derive_slots() if genotype is None else genotype
        if isinstance(slots, str):
            slots = slots.split("|")
        slots = tuple(slots)
        canon = validate_genotype(slots)
        net = MLPNet(canon, self.in_features, self.num_classes, self.D)
        net.stem.load_state_dict(self.stem.state_dict())
        net.classifier.load_state_dict(self.classifier.state_dict())
        used = [s for s, n in enumerate(slots) if n != "skip"]
        for blk, s in zip(net.blocks, used):
            blk.load_state_dict(self.slots[s][blk.name].state_dict())
        return net.to(self.alpha.device)
