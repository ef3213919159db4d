"""A NAS-Bench-201-style cell space for 1-D signals, written with the search-space API
(:class:`models.choice.Choice`): one cell of 4 nodes and 6 edges (i -> j for
0 <= i < j <= 3), each edge one of 5 ops -- ``none``, ``skip``, ``conv1``, ``conv3``
(ReLU-Conv-BN, as NAS-Bench-201's nor_conv) and ``avgpool3`` -- so 5**6 = 15,625 cells.
Node j is the sum of its incoming edges; the cell's output is node 3 (as in NAS-Bench-201,
not the concatenation or sum of all nodes of DARTS). Network: stem Conv1d(1, C, 3) + BN,
the cell, global average pooling, a linear classifier.

    net = NB201Net(C=16, num_classes=10)          # an nn.Module with 6 Choices e1_0 ... e3_2
    found = nas_frontend.search(net, train_loader, val_loader, method="mp", budget_epochs=20)

Batch norms use batch statistics (``track_running_stats=False``, as the built-in cell
supernets), so a network's output does not depend on running averages.
"""

from __future__ import annotations

import torch
from torch import nn

from .choice import Choice, Zero

from .ops import AvgPool3, ReLUConvBN

NB201_OPS = ("none", "skip", "conv1", "conv3", "avgpool3")
"""The candidate ops of every edge, in column order."""
NB201_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""Edges (i, j) in genotype order (NAS-Bench-201's order of the arch string)."""


def edge_choice(C: int, i: int, j: int) -> Choice:
    """The Choice of edge i -> j (named ``e{j}_{i}``)."""
    return Choice({"none": Zero(), "skip": nn.Identity(),
                   "conv1": ReLUConvBN(C, 1, track_running_stats=False),
                   "conv3": ReLUConvBN(C, 3, track_running_stats=False),
                   "avgpool3": AvgPool3()}, name=f"e{j}_{i}")


class NB201Net(nn.Module):
    """Stem, one NAS-Bench-201-style cell of :func:`edge_choice` edges, pooled head."""

    def __init__(self, C: int = 16, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(in_channels, C, 3, padding=1, bias=False),
                                  nn.BatchNorm1d(C, track_running_stats=False))
        self.edges = nn.ModuleList(edge_choice(C, i, j) for i, j in NB201_EDGES)
        self.classifier = nn.Linear(C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        nodes = [self.stem(x), None, None, None]
        for (i, j), edge in zip(NB201_EDGES, self.edges):
            out = edge(nodes[i])
            nodes[j] = out if nodes[j] is None else nodes[j] + out
        return self.classifier(nodes[3].mean(dim=2))
