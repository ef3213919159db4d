"""1-D candidate operations for cell search spaces on signals of shape (N, C, L).

Every op keeps the channel count C and the length L. Conv ops are ReLU-Conv-BN with
``affine=False`` batch norm (as in the DARTS search phase), so their only parameters are
the convolution weights; this makes the parameter count of a cell a plain sum over its
edges.

Cost conventions (``param_count``, ``flops``): parameters are trainable scalars; flops
are multiply-accumulates per sample (conv k: k*C*C*L; avgpool3: 3*C*L additions);
ReLU, batch norm and node sums are not counted.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OP_NAMES: tuple[str, ...] = ("none", "skip", "conv3", "conv5", "avgpool3")
"""Candidate op names in a fixed order (the column order of every alpha tensor)."""

CONV_OPS = frozenset({"conv3", "conv5"})
"""The ops with parameters (a cell without any of them is parameter-free)."""


class Zero(nn.Module):
    """The ``none`` op: outputs zeros of the input's shape (the edge is absent)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class Identity(nn.Module):
    """The ``skip`` op."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ReLUConvBN(nn.Module):
    """ReLU, Conv1d(C, C, k, padding=k//2, no bias), BatchNorm1d(C, affine=False)."""

    def __init__(self, C: int, kernel_size: int, track_running_stats: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv1d(C, C, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm1d(C, affine=False, track_running_stats=track_running_stats),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class AvgPool3(nn.Module):
    """Average pooling, window 3, stride 1, padding 1, padding not counted (the same as
    ``nn.AvgPool1d(3, 1, 1, count_include_pad=False)``, written with shifts: about 4x
    faster on small CPU tensors)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        L = x.shape[-1]
        if L < 2:
            return x
        s = x + F.pad(x[..., :-1], (1, 0)) + F.pad(x[..., 1:], (0, 1))
        cnt = torch.full((L,), 3.0, dtype=x.dtype, device=x.device)
        cnt[0] = cnt[-1] = 2.0
        return s / cnt


OPS = {
    "none": lambda C, track_running_stats=True: Zero(),
    "skip": lambda C, track_running_stats=True: Identity(),
    "conv3": lambda C, track_running_stats=True: ReLUConvBN(C, 3, track_running_stats),
    "conv5": lambda C, track_running_stats=True: ReLUConvBN(C, 5, track_running_stats),
    "avgpool3": lambda C, track_running_stats=True: AvgPool3(),
}
"""Registry: ``OPS[name](C, track_running_stats=True)`` builds the op as an nn.Module."""

_KERNEL = {"conv3": 3, "conv5": 5}


def check_op(name: str, where: str = "") -> str:
    """Return ``name`` if it is a known op, else raise ValueError naming the choices."""
    if not isinstance(name, str) or name not in OPS:
        at = f" at {where}" if where else ""
        raise ValueError(f"unknown op {name!r}{at}; choose one of {', '.join(OP_NAMES)}")
    return name


def make_op(name: str, C: int, track_running_stats: bool = True) -> nn.Module:
    """Build op ``name`` for C channels."""
    return OPS[check_op(name)](C, track_running_stats=track_running_stats)


def param_count(op: str, C: int) -> int:
    """Trainable parameters of op ``op`` at C channels (conv k: k*C*C, others 0)."""
    check_op(op)
    return _KERNEL[op] * C * C if op in _KERNEL else 0


def flops(op: str, C: int, L: int) -> int:
    """Multiply-accumulates per sample of op ``op`` on a (C, L) signal."""
    check_op(op)
    if op in _KERNEL:
        return _KERNEL[op] * C * C * L
    if op == "avgpool3":
        return 3 * C * L
    return 0


class AlphaSplit:
    """Mixin for supernets whose only architecture parameter is ``self.alpha``: the
    parameter groups the searchers and ``torch.func.functional_call`` use, and the
    linear resource model."""

    @staticmethod
    def linear_cost(const: float, coef, probs):
        """const + Σ coef·probs: a tensor (differentiable) for a tensor, else a float."""
        if isinstance(probs, torch.Tensor):
            return const + (torch.as_tensor(coef, dtype=probs.dtype) * probs).sum()
        return const + float((coef * np.asarray(probs, dtype=np.float64)).sum())

    def arch_parameters(self) -> list[nn.Parameter]:
        """[alpha]: the architecture parameters."""
        return [self.alpha]

    def weight_parameters(self) -> list[nn.Parameter]:
        """All parameters except alpha."""
        return [p for n, p in self.named_parameters() if n != "alpha"]

    def named_weight_parameters(self) -> dict[str, nn.Parameter]:
        """{name: parameter} for all weights (the dict to pass to functional_call)."""
        return {n: p for n, p in self.named_parameters() if n != "alpha"}
