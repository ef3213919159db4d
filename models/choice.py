"""A point of a search space in any torch model: :class:`Choice` holds named candidate
modules, one of which the search keeps (re-exported as ``nas_frontend.Choice``; it lives
with the search spaces, so that :mod:`models` spaces such as :mod:`models.nb201` are written
with it).

    from torch import nn
    from nas_frontend import Choice, Zero

    block = Choice({"conv3": nn.Conv1d(8, 8, 3, padding=1),
                    "conv5": nn.Conv1d(8, 8, 5, padding=2),
                    "skip": nn.Identity(), "none": Zero()}, name="edge0")
    width = Choice.widths(lambda w: nn.Sequential(nn.Linear(32, w), nn.ReLU(),
                                                  nn.Linear(w, 10)), [16, 32, 64])
    depth = Choice.depths(lambda: nn.Sequential(nn.Linear(32, 32), nn.ReLU()), [0, 1, 2])

Place Choices anywhere in an ``nn.Module`` (as attributes, in ``nn.Sequential``,
``nn.ModuleList`` ...); :func:`nas_frontend.search` finds them. Every candidate of one
Choice takes the Choice's input and must return a tensor of one shape. During a supernet
search a Choice returns the mixture ``sum_k p_k op_k(x)`` with the probabilities the search
sets (:class:`~nas_frontend.module_space.ChoiceSupernet`); outside a search (e.g. to check
shapes) it returns the uniform mixture. The derived model has each Choice replaced by its
chosen op. A Choice inside another Choice's candidate is refused by the search (the genotype
would be conditional).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn


class Zero(nn.Module):
    """The ``none`` op of cell spaces: zeros shaped like the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class Choice(nn.Module):
    """Named candidate modules, ``ops`` (a mapping or a sequence of ``(name, module)``
    pairs, at least two, names without dots), of which a search keeps one.

    ``name`` labels the Choice in the genotype (default: its attribute path in the model).
    :meth:`widths` and :meth:`depths` build the common width and depth choices.
    """

    def __init__(self, ops: Mapping[str, nn.Module] | Sequence[tuple[str, nn.Module]],
                 name: str | None = None):
        super().__init__()
        items = list(ops.items()) if isinstance(ops, Mapping) else list(ops)
        if len(items) < 2:
            raise ValueError(f"a Choice needs at least two candidate ops, got {len(items)}")
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise ValueError(f"Choice ops: give a mapping name -> module or (name, module) "
                                 f"pairs, got {item!r}")
            key, op = item
            if not isinstance(key, str) or not key or "." in key:
                raise ValueError(f"Choice op names must be non-empty strings without dots, "
                                 f"got {key!r}")
            if not isinstance(op, nn.Module):
                raise ValueError(f"Choice op {key!r} is a {type(op).__name__}, not an nn.Module")
        if len({k for k, _ in items}) < len(items):
            raise ValueError(f"Choice op names repeat: {[k for k, _ in items]}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"a Choice name must be a non-empty string, got {name!r}")
        self.ops = nn.ModuleDict(items)
        self.label = name
        self.mixture: torch.Tensor | None = None   # set by the supernet for one forward

    @property
    def op_names(self) -> list[str]:
        """The candidates' names, in order."""
        return list(self.ops)

    def forward(self, *args, **kwargs):
        p = self.mixture
        ops = list(self.ops.values())
        if p is None:
            p = torch.full((len(ops),), 1.0 / len(ops))
        out = None
        for pk, op in zip(p, ops):
            term = pk * op(*args, **kwargs)
            out = term if out is None else out + term
        return out

    @classmethod
    def widths(cls, make: Callable[[int], nn.Module], widths: Sequence[int],
               name: str | None = None) -> "Choice":
        """A width choice: ``make(w)`` for each width ``w`` (ops named ``width<w>``); each
        module must map the same input to the same output shape."""
        ws = list(widths)
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in ws):
            raise ValueError(f"widths must be positive integers, got {ws}")
        return cls({f"width{w}": make(w) for w in ws}, name)

    @classmethod
    def depths(cls, make: Callable[[], nn.Module], depths: Sequence[int],
               name: str | None = None) -> "Choice":
        """A depth choice: ``d`` fresh blocks ``make()`` in sequence for each ``d`` (0: the
        identity; ops named ``depth<d>``); blocks must keep the shape of their input."""
        ds = list(depths)
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in ds):
            raise ValueError(f"depths must be integers >= 0, got {ds}")
        return cls({f"depth{d}": nn.Sequential(*[make() for _ in range(d)]) if d else nn.Identity()
                    for d in ds}, name)

    def extra_repr(self) -> str:
        return f"name={self.label!r}" if self.label else ""
