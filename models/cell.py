"""DARTS-like cell search spaces for 1-D signals (e.g. MNIST-1D, length 40).

Network: stem Conv1d(in_channels, C, 3) + BatchNorm -> ``n_cells`` stacked cells that
share one genotype -> global average pooling -> Linear(C, num_classes).

Cell: node 0 is the cell input; each intermediate node j is the sum over its incoming
edges (i -> j) of op_e(node i); the cell output is the sum of the intermediate nodes.
Every edge picks one op of :data:`models.ops.OP_NAMES`.

Spaces (:data:`CELL_SPACES`):

* ``cell3``: nodes 1, 2; edges 0->1, 0->2, 1->2 (5**3 = 125 architectures).
* ``cell4``: nodes 1, 2, 3; edges 0->1, 0->2, 1->2, 2->3 (5**4 = 625). It extends
  ``cell3`` by a chain node: with edge 2->3 = ``none`` the cell computes exactly the
  ``cell3`` cell, so ``cell3`` is embedded in ``cell4``; the chain also allows three
  convolutions in sequence (depth 3) while keeping the node-sum output.

A genotype is a tuple of op names, one per edge in the space's edge order (the string
form ``"conv3|skip|none"`` is accepted everywhere a genotype is).

The supernet :class:`CellSupernet` relaxes each edge to a MixedOp weighted by
softmax(alpha[e]); ``alpha`` is one ``nn.Parameter`` of shape (edges, ops), shared by all
cells. Its batch norms use batch statistics by default (``track_running_stats=False``), so
``torch.func.functional_call`` + ``torch.func.grad`` work in train and eval mode alike.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .ops import CONV_OPS, OP_NAMES, AlphaSplit, check_op, flops as op_flops, make_op, param_count


@dataclass(frozen=True)
class CellSpace:
    """A cell DAG: ``n_nodes`` intermediate nodes (1..n_nodes) and directed ``edges``."""

    name: str
    n_nodes: int
    edges: tuple[tuple[int, int], ...]
    ops: tuple[str, ...] = OP_NAMES

    def __post_init__(self):
        for i, j in self.edges:
            if not (0 <= i < j <= self.n_nodes):
                raise ValueError(f"space {self.name}: bad edge {i}->{j} (need 0 <= i < j <= "
                                 f"{self.n_nodes})")
        for j in range(1, self.n_nodes + 1):
            if not any(d == j for _, d in self.edges):
                raise ValueError(f"space {self.name}: node {j} has no incoming edge")

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @property
    def n_ops(self) -> int:
        return len(self.ops)

    def edge_label(self, e: int) -> str:
        i, j = self.edges[e]
        return f"edge {e} ({i}->{j})"


CELL_SPACES: dict[str, CellSpace] = {
    "cell3": CellSpace("cell3", 2, ((0, 1), (0, 2), (1, 2))),
    "cell4": CellSpace("cell4", 3, ((0, 1), (0, 2), (1, 2), (2, 3))),
}


def get_cell_space(space: str | CellSpace) -> CellSpace:
    """Look up a cell space by name (or pass a :class:`CellSpace` through)."""
    if isinstance(space, CellSpace):
        return space
    if space not in CELL_SPACES:
        raise ValueError(f"unknown cell space {space!r}; choose one of {', '.join(CELL_SPACES)}")
    return CELL_SPACES[space]


def validate_genotype(genotype: Sequence[str] | str, space: str | CellSpace = "cell3"
                      ) -> tuple[str, ...]:
    """Check a genotype against a space and return it as a tuple of op names."""
    sp = get_cell_space(space)
    if isinstance(genotype, str):
        genotype = genotype.split("|")
    genotype = tuple(genotype)
    if len(genotype) != sp.n_edges:
        raise ValueError(f"genotype {genotype!r} has {len(genotype)} ops; space {sp.name} has "
                         f"{sp.n_edges} edges {['%d->%d' % e for e in sp.edges]}")
    for e, name in enumerate(genotype):
        check_op(name, sp.edge_label(e))
    return genotype


def all_genotypes(space: str | CellSpace = "cell3") -> list[tuple[str, ...]]:
    """Every genotype of the space (ops**edges of them), in lexicographic op-index order."""
    sp = get_cell_space(space)
    return [tuple(g) for g in itertools.product(sp.ops, repeat=sp.n_edges)]


def is_parameter_free(genotype: Sequence[str] | str) -> bool:
    """Collapse detector: True when no edge holds a convolution."""
    if isinstance(genotype, str):
        genotype = genotype.split("|")
    for name in genotype:
        check_op(name)
    return not any(name in CONV_OPS for name in genotype)


def is_dead(genotype: Sequence[str] | str, space: str | CellSpace = "cell3") -> bool:
    """True when the cell output is identically zero (no path of non-``none`` edges)."""
    sp = get_cell_space(space)
    g = validate_genotype(genotype, sp)
    alive = [True] + [False] * sp.n_nodes
    for (i, j), name in sorted(zip(sp.edges, g), key=lambda t: t[0][1]):
        if name != "none" and alive[i]:
            alive[j] = True
    return not any(alive[1:])


def effective_genotype(genotype: Sequence[str] | str, space: str | CellSpace = "cell3"
                       ) -> tuple[str, ...]:
    """The genotype with every op on an edge leaving a structurally zero node replaced by
    ``none``: the same function (e.g. ``none|skip|conv3`` -> ``none|skip|none``).
    ``is_parameter_free(effective_genotype(g))`` detects cells whose convolutions all sit
    on dead paths."""
    sp = get_cell_space(space)
    g = list(validate_genotype(genotype, sp))
    alive = [True] + [False] * sp.n_nodes
    for e, (i, j) in sorted(enumerate(sp.edges), key=lambda t: t[1][1]):
        if not alive[i]:
            g[e] = "none"
        elif g[e] != "none":
            alive[j] = True
    return tuple(g)


def resource_coefficients(kind: str = "params", space: str | CellSpace = "cell3", C: int = 16,
                          n_cells: int = 2, in_channels: int = 1, num_classes: int = 10,
                          length: int = 40) -> tuple[float, np.ndarray]:
    """(const, coef) with cost(genotype) = const + sum_e coef[e, op_e]; coef is (edges, ops).

    ``kind`` is ``"params"`` (trainable parameters) or ``"flops"`` (multiply-accumulates per
    sample, see :mod:`models.ops`). The expected cost under per-edge op probabilities P is
    const + sum(coef * P), linear in P.
    """
    sp = get_cell_space(space)
    if kind == "params":
        const = 3 * in_channels * C + 2 * C + C * num_classes + num_classes
        per_op = [param_count(o, C) for o in sp.ops]
    elif kind == "flops":
        const = 3 * in_channels * C * length + C * length + C * num_classes
        per_op = [op_flops(o, C, length) for o in sp.ops]
    else:
        raise ValueError(f"unknown resource kind {kind!r}; choose 'params' or 'flops'")
    coef = np.tile(np.asarray(per_op, dtype=np.float64) * n_cells, (sp.n_edges, 1))
    return float(const), coef


def genotype_params(genotype: Sequence[str] | str, space: str | CellSpace = "cell3",
                    C: int = 16, n_cells: int = 2, in_channels: int = 1,
                    num_classes: int = 10) -> int:
    """Exact trainable parameter count of ``CellNet(genotype, ...)``."""
    sp = get_cell_space(space)
    g = validate_genotype(genotype, sp)
    const, coef = resource_coefficients("params", sp, C, n_cells, in_channels, num_classes)
    return int(round(const + sum(coef[e, sp.ops.index(o)] for e, o in enumerate(g))))


def genotype_flops(genotype: Sequence[str] | str, space: str | CellSpace = "cell3",
                   C: int = 16, n_cells: int = 2, in_channels: int = 1, num_classes: int = 10,
                   length: int = 40) -> int:
    """Exact multiply-accumulates per sample of ``CellNet(genotype, ...)`` at input length."""
    sp = get_cell_space(space)
    g = validate_genotype(genotype, sp)
    const, coef = resource_coefficients("flops", sp, C, n_cells, in_channels, num_classes, length)
    return int(round(const + sum(coef[e, sp.ops.index(o)] for e, o in enumerate(g))))


def _as_signal(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 2:
        return x.unsqueeze(1)
    if x.dim() != 3:
        raise ValueError(f"expected input (N, L) or (N, C_in, L), got shape {tuple(x.shape)}")
    return x


def _cell_forward(sp: CellSpace, x: torch.Tensor, edge_fn) -> torch.Tensor:
    nodes = [x] + [None] * sp.n_nodes
    for e, (i, j) in sorted(enumerate(sp.edges), key=lambda t: t[1][1]):
        if nodes[i] is None:    # a structurally zero node: every op maps zeros to zeros
            continue
        out = edge_fn(e, nodes[i])
        if out is not None:
            nodes[j] = out if nodes[j] is None else nodes[j] + out
    total = None
    for h in nodes[1:]:
        if h is not None:
            total = h if total is None else total + h
    return torch.zeros_like(x) if total is None else total


class _Base(nn.Module):
    def __init__(self, space, C, n_cells, in_channels, num_classes, length, track_running_stats):
        super().__init__()
        self.space = get_cell_space(space)
        self.C, self.n_cells, self.in_channels = C, n_cells, in_channels
        self.num_classes, self.length = num_classes, length
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels, C, 3, padding=1, bias=False),
            nn.BatchNorm1d(C, track_running_stats=track_running_stats),
        )
        self.classifier = nn.Linear(C, num_classes)

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        return self.classifier(h.mean(dim=2))

    def resource_coefficients(self, kind: str = "params", length: int | None = None):
        """(const, coef) of :func:`resource_coefficients` for this network's sizes."""
        return resource_coefficients(kind, self.space, self.C, self.n_cells, self.in_channels,
                                     self.num_classes, self.length if length is None else length)


class CellNet(_Base):
    """Discrete cell network for one genotype (a tuple of op names, one per edge)."""

    def __init__(self, genotype: Sequence[str] | str, space: str | CellSpace = "cell3",
                 C: int = 16, n_cells: int = 2, in_channels: int = 1, num_classes: int = 10,
                 length: int = 40, track_running_stats: bool = True):
        super().__init__(space, C, n_cells, in_channels, num_classes, length,
                         track_running_stats)
        self.genotype = validate_genotype(genotype, self.space)
        self.cells = nn.ModuleList()
        for _ in range(n_cells):
            cell = nn.Module()
            cell.edges = nn.ModuleList(make_op(o, C, track_running_stats) for o in self.genotype)
            self.cells.append(cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(_as_signal(x))
        for cell in self.cells:
            h = _cell_forward(self.space, h, lambda e, z, c=cell: (
                None if self.genotype[e] == "none" else c.edges[e](z)))
        return self._head(h)

    def num_params(self) -> int:
        """Trainable parameters (equals :func:`genotype_params`)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def flops(self, length: int | None = None) -> int:
        """Multiply-accumulates per sample (equals :func:`genotype_flops`)."""
        return genotype_flops(self.genotype, self.space, self.C, self.n_cells, self.in_channels,
                              self.num_classes, self.length if length is None else length)


class MixedOp(nn.Module):
    """All candidate ops of one edge; forward(x, w) = sum_k w[k] * op_k(x)."""

    def __init__(self, C: int, ops: Sequence[str], track_running_stats: bool = False):
        super().__init__()
        self.names = tuple(ops)
        self.ops = nn.ModuleDict({o: make_op(o, C, track_running_stats) for o in ops})

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = None
        for k, name in enumerate(self.names):
            if name == "none":          # contributes w_k * 0 (and zero gradient to w_k)
                continue
            term = w[k] * self.ops[name](x)
            out = term if out is None else out + term
        return torch.zeros_like(x) if out is None else out


class CellSupernet(AlphaSplit, _Base):
    """Continuous relaxation: edge e outputs sum_k softmax(alpha[e])_k * op_k(input).

    ``alpha`` (edges x ops, column order :data:`models.ops.OP_NAMES`) is the only
    architecture parameter and is shared by all cells; everything else is a weight.
    """

    def __init__(self, space: str | CellSpace = "cell3", C: int = 16, n_cells: int = 2,
                 in_channels: int = 1, num_classes: int = 10, length: int = 40,
                 track_running_stats: bool = False, alpha_init_std: float = 0.0):
        super().__init__(space, C, n_cells, in_channels, num_classes, length,
                         track_running_stats)
        self.track_running_stats = track_running_stats
        self.cells = nn.ModuleList()
        for _ in range(n_cells):
            cell = nn.Module()
            cell.edges = nn.ModuleList(MixedOp(C, self.space.ops, track_running_stats)
                                       for _ in self.space.edges)
            self.cells.append(cell)
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(self.space.n_edges,
                                                               self.space.n_ops))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.alpha, dim=-1)
        h = self.stem(_as_signal(x))
        for cell in self.cells:
            h = _cell_forward(self.space, h, lambda e, z, c=cell: c.edges[e](z, w[e]))
        return self._head(h)

    # --- architecture -------------------------------------------------------------------
    def probabilities(self, alpha: torch.Tensor | None = None) -> torch.Tensor:
        """Per-edge op probabilities softmax(alpha, dim=-1), shape (edges, ops)."""
        return torch.softmax(self.alpha if alpha is None else alpha, dim=-1)

    def derive(self, alpha: torch.Tensor | None = None) -> tuple[str, ...]:
        """Genotype with the argmax op on every edge (of ``alpha`` or self.alpha)."""
        a = self.alpha if alpha is None else torch.as_tensor(alpha)
        self._check_shape(a, "alpha")
        return tuple(self.space.ops[k] for k in a.detach().argmax(dim=-1).tolist())

    def _check_shape(self, t, what):
        shape = tuple(np.shape(t))
        want = (self.space.n_edges, self.space.n_ops)
        if shape != want:
            raise ValueError(f"{what} has shape {shape}, expected (edges, ops) = {want}")

    def _expected(self, kind, probs, length=None):
        self._check_shape(probs, "probs")
        const, coef = self.resource_coefficients(kind, length)
        return self.linear_cost(const, coef, probs)

    def expected_params(self, probs):
        """Expected parameter count of the derived net, const + sum(coef * probs): linear.

        ``probs`` is (edges, ops), e.g. ``self.probabilities()``; a tensor gives a tensor
        (differentiable), an array gives a float. At a one-hot ``probs`` this equals
        :func:`genotype_params` of that genotype.
        """
        return self._expected("params", probs)

    def expected_flops(self, probs, length: int | None = None):
        """Expected multiply-accumulates per sample, linear in ``probs`` (see expected_params)."""
        return self._expected("flops", probs, length)

    def genotype_params(self, genotype) -> int:
        """Exact parameter count of the discrete net for ``genotype`` at these sizes."""
        return genotype_params(genotype, self.space, self.C, self.n_cells, self.in_channels,
                               self.num_classes)

    def genotype_flops(self, genotype, length: int | None = None) -> int:
        """Exact multiply-accumulates per sample of the discrete net for ``genotype``."""
        return genotype_flops(genotype, self.space, self.C, self.n_cells, self.in_channels,
                              self.num_classes, self.length if length is None else length)

    def extract(self, genotype: Sequence[str] | str | None = None,
                track_running_stats: bool | None = None) -> CellNet:
        """Discrete :class:`CellNet` for ``genotype`` (default: derive()) holding copies of
        this supernet's weights on the chosen ops (weight sharing)."""
        g = self.derive() if genotype is None else validate_genotype(genotype, self.space)
        trs = self.track_running_stats if track_running_stats is None else track_running_stats
        net = CellNet(g, self.space, self.C, self.n_cells, self.in_channels, self.num_classes,
                      self.length, track_running_stats=trs)
        net.stem.load_state_dict(self.stem.state_dict(), strict=False)
        net.classifier.load_state_dict(self.classifier.state_dict())
        for c_net, c_sup in zip(net.cells, self.cells):
            for e, name in enumerate(g):
                c_net.edges[e].load_state_dict(c_sup.edges[e].ops[name].state_dict(),
                                               strict=False)
        return net.to(self.alpha.device)


def genotype_str(genotype: Iterable[str]) -> str:
    """``"conv3|skip|none"`` form of a genotype."""
    return "|".join(genotype)
