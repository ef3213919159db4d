"""One level's variables as a sequence (``BilevelProblem.x`` / ``.y``) and the input
checks the problem's builders share: finite numbers, bound pairs, entry counts, names."""

from __future__ import annotations

import math

from .errors import BilevelInputError


class Variables:
    """One level's variables as a sequence of Pyomo variables.

    ``v[i]`` (negative ``i`` counts from the end, a slice gives a list), ``len(v)``, and
    iteration over the variables themselves, so ``sum(p.y)``, ``zip(c, p.x)`` and
    ``numpy.dot(c, list(p.x))`` build the expressions they read as. (Iterating the Pyomo
    ``IndexedVar`` underneath yields its indices, so ``sum`` over it silently adds
    0 + 1 + ...). Arithmetic or comparison on the whole vector raises
    ``BilevelInputError``: a bilevel objective or constraint is a scalar. ``values()``,
    ``items()``, ``keys()`` and ``component`` reach the ``IndexedVar``."""

    __slots__ = ("component", "_label")

    def __init__(self, component, label: str):
        self.component = component
        self._label = label

    def __len__(self) -> int:
        return len(self.component)

    def __iter__(self):
        return iter(self.component.values())

    def __getitem__(self, i):
        if type(i) is int and i >= 0:  # the common case, kept fast
            try:
                return self.component[i]
            except KeyError:
                pass
        n = len(self.component)
        if isinstance(i, slice):
            return [self.component[k] for k in range(n)[i]]
        if isinstance(i, bool) or not hasattr(i, "__index__"):
            raise BilevelInputError(f"{self._label}[{i!r}]: an index must be an integer")
        k = i.__index__()
        if not -n <= k < n:
            raise BilevelInputError(f"{self._label}[{k}] is out of range: {self._label} has {n} entries")
        return self.component[k % n]

    def values(self):
        return self.component.values()

    def items(self):
        return self.component.items()

    def keys(self):
        return self.component.keys()

    def __repr__(self) -> str:
        return f"<{len(self)} {self._label} variables>"

    def _whole(self, *_):
        raise BilevelInputError(
            f"arithmetic or comparison on the whole vector {self._label} ({len(self)} variables): "
            f"use its entries, e.g. {self._label}[0], sum({self._label}) or "
            f"sum(c * v for c, v in zip(coefficients, {self._label}))"
        )

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _whole
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = _whole
    __neg__ = __pos__ = __abs__ = __le__ = __ge__ = __lt__ = __gt__ = _whole
    __float__ = __int__ = _whole


def check_finite(expr, where: str) -> None:
    """Raise ``BilevelInputError`` naming ``where`` if ``expr`` holds a NaN or infinite
    number (a coefficient, constant or exponent); such a model has no meaningful answer."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            if not math.isfinite(node):
                raise BilevelInputError(f"{where} contains the number {node!r}: "
                                        "every coefficient and constant must be finite")
        elif getattr(node, "is_expression_type", lambda: False)():
            stack.extend(node.args)


def bound_pair(pair, where: str) -> tuple[float | None, float | None]:
    """(lo, hi) as floats or None for no bound; NaN, an infinite bound on the wrong
    side, or a non-number raise ``BilevelInputError``."""
    try:
        lo, hi = pair
    except (TypeError, ValueError):
        raise BilevelInputError(f"{where} must be a pair (lower, upper), got {pair!r}") from None
    out = []
    for value, side, none_at in ((lo, "lower", -math.inf), (hi, "upper", math.inf)):
        if value is None:
            out.append(None)
            continue
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise BilevelInputError(f"{where}: {side} bound {value!r} is not a number") from None
        if math.isnan(v) or v == -none_at:
            raise BilevelInputError(f"{where}: {side} bound {value!r} is not allowed "
                                    "(use None or an infinity of the bound's own sign for no bound)")
        out.append(None if v == none_at else v)
    return out[0], out[1]


def entries(values, n: int, label: str) -> list:
    """``values`` as a list of exactly ``n`` entries, else ``BilevelInputError``."""
    try:
        values = list(values)
    except TypeError:
        raise BilevelInputError(f"{label} must be a list of {n} entries, got {values!r}") from None
    if len(values) != n:
        raise BilevelInputError(f"{label} has {len(values)} entries, expected {n}")
    return values


def level_names(names, n, prefix):
    """``names`` as ``n`` strings (default ``prefix[i]``), else ``BilevelInputError``."""
    if names is None:
        return [f"{prefix}[{i}]" for i in range(n)]
    names = [str(s) for s in names]
    if len(names) != n:
        raise BilevelInputError(f"{prefix}_names has {len(names)} entries, expected {n}")
    return names


def bound_violation(var) -> float:
    """The largest amount by which a value of the indexed Var ``var`` leaves its bounds."""
    worst = 0.0
    for v in var.values():
        val = v.value
        if val is None:
            continue
        if v.lb is not None:
            worst = max(worst, v.lb - val)
        if v.ub is not None:
            worst = max(worst, val - v.ub)
    return worst
