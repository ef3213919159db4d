"""The bilevel problem every front end produces and every method consumes.

    min_{x,y}  F(x, y)   s.t.  G(x, y) >= 0 (or == 0),  x in X
               y in argmin_{y'} { f(x, y') : g(x, y') >= 0 (or == 0), y' in Y }

Expressions are Pyomo expressions over the problem's own variables ``problem.x`` and
``problem.y`` (indexed ``Var`` components of ``problem.model``). Objectives are kept
in minimisation form; the user's sense is remembered to report values as given.
Variable bounds on y belong to the follower and become lower-level constraints in the
reformulations; bounds on x belong to the leader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import pyomo.environ as pyo
from pyomo.core.expr.relational_expr import (
    EqualityExpression,
    InequalityExpression,
    RangedExpression,
)
from pyomo.core.expr.visitor import identify_variables

from .errors import BilevelInputError

SENSES = ("min", "max")


@dataclass(frozen=True)
class Constraint:
    """One constraint ``body >= 0`` (kind ``"ge"``) or ``body == 0`` (kind ``"eq"``)."""

    name: str
    body: object
    kind: str = "ge"

    def value(self) -> float:
        return float(pyo.value(self.body))

    def violation(self) -> float:
        v = self.value()
        return abs(v) if self.kind == "eq" else max(0.0, -v)


def normalize_constraint(c, name: str) -> list[Constraint]:
    """Turn a Pyomo relation (``<=``, ``>=``, ``==``, ranged) or a bare expression
    (meaning ``expr >= 0``, as in BOLIB) into ``Constraint`` objects."""
    if isinstance(c, Constraint):
        return [c]
    if isinstance(c, bool) or c is None:
        raise BilevelInputError(
            f"constraint {name!r} evaluated to {c!r}: it does not involve any variable"
        )
    if isinstance(c, RangedExpression):
        lo, body, hi = c.args
        out = []
        if lo is not None:
            out.append(Constraint(f"{name}.lo", body - lo, "ge"))
        if hi is not None:
            out.append(Constraint(f"{name}.hi", hi - body, "ge"))
        return out
    if isinstance(c, InequalityExpression):
        lhs, rhs = c.args
        return [Constraint(name, rhs - lhs, "ge")]
    if isinstance(c, EqualityExpression):
        lhs, rhs = c.args
        return [Constraint(name, lhs - rhs, "eq")]
    return [Constraint(name, c, "ge")]


class BilevelProblem:
    """A bilevel program with leader variables ``x`` and follower variables ``y``.

    Build it by hand::

        p = BilevelProblem(n_x=1, n_y=1, name="Bard1984a")
        x, y = p.x, p.y
        p.set_upper(x[0] + y[0], [x[0] >= 0])
        p.set_lower(-5 * x[0] - y[0], [x[0] + y[0] / 2 <= 2, y[0] >= 0])

    or through a front end (``bilevel_mp.frontends``). Integer leader variables are
    declared with ``x_integer``, integer follower variables with ``y_integer`` (the methods
    built on the follower's KKT conditions or duality refuse those, naming why).
    """

    def __init__(
        self,
        n_x: int,
        n_y: int,
        name: str = "bilevel",
        x_bounds: Sequence[tuple[float | None, float | None]] | None = None,
        y_bounds: Sequence[tuple[float | None, float | None]] | None = None,
        x_integer: Sequence[bool] | bool = False,
        x_names: Sequence[str] | None = None,
        y_names: Sequence[str] | None = None,
        y_integer: Sequence[bool] | bool = False,
    ):
        for label, n in (("n_x", n_x), ("n_y", n_y)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise BilevelInputError(f"{label} must be a non-negative integer, got {n!r}")
        if n_y == 0:
            raise BilevelInputError("the lower level has no variables (n_y = 0)")
        self.name = name
        self.model = m = pyo.ConcreteModel(name=name)
        m.x = pyo.Var(range(n_x), dense=True)
        m.y = pyo.Var(range(n_y), dense=True)
        self._x, self._y = Variables(m.x, "x"), Variables(m.y, "y")
        self.x_names = _names(x_names, n_x, "x")
        self.y_names = _names(y_names, n_y, "y")
        self._set_bounds(m.x, x_bounds, "x_bounds")
        self._set_bounds(m.y, y_bounds, "y_bounds")
        for var, flags, n, label in ((m.x, x_integer, n_x, "x_integer"), (m.y, y_integer, n_y, "y_integer")):
            flags = [flags] * n if isinstance(flags, bool) else list(flags)
            if len(flags) != n:
                raise BilevelInputError(f"{label} has {len(flags)} entries, expected {n}")
            for i, is_int in enumerate(flags):
                if isinstance(is_int, str) or is_int not in (True, False):
                    raise BilevelInputError(f"{label}[{i}] must be true or false, got {is_int!r}")
                if is_int:
                    var[i].domain = pyo.Integers
        self.F = None
        self.f = None
        self.upper_sense = "min"
        self.lower_sense = "min"
        self.G: list[Constraint] = []
        self.g: list[Constraint] = []
        self.known_F: float | None = None
        self.known_f: float | None = None
        self.source: str = ""
        self.meta: dict = {}

    # ------------------------------------------------------------------ build
    @property
    def x(self) -> "Variables":
        """The leader's variables: ``p.x[i]``, ``len(p.x)``, ``sum(p.x)``, ``zip(c, p.x)``."""
        return self._x

    @property
    def y(self) -> "Variables":
        """The follower's variables, as ``x``."""
        return self._y

    @property
    def n_x(self) -> int:
        return len(self.model.x)

    @property
    def n_y(self) -> int:
        return len(self.model.y)

    def set_upper(self, objective, constraints: Iterable = (), sense: str = "min"):
        """Leader objective F (minimised unless ``sense="max"``) and constraints G."""
        self.F, self.upper_sense = self._objective(objective, sense, "upper")
        self.G = self._constraints(constraints, "G")
        return self

    def set_lower(self, objective, constraints: Iterable = (), sense: str = "min"):
        """Follower objective f (minimised unless ``sense="max"``) and constraints g."""
        self.f, self.lower_sense = self._objective(objective, sense, "lower")
        self.g = self._constraints(constraints, "g")
        return self

    def _objective(self, expr, sense, level):
        if sense not in SENSES:
            raise BilevelInputError(f"{level}-level sense must be 'min' or 'max', got {sense!r}")
        if expr is None:
            raise BilevelInputError(f"the {level}-level objective is missing")
        where = f"{level}-level objective"
        self._check_own_vars(expr, where)
        check_finite(expr, where)
        return (-expr if sense == "max" else expr), sense

    def _constraints(self, cons, prefix):
        out: list[Constraint] = []
        for k, c in enumerate(cons):
            for con in normalize_constraint(c, f"{prefix}[{k}]"):
                self._check_own_vars(con.body, con.name)
                check_finite(con.body, con.name)
                out.append(con)
        return out

    def _check_own_vars(self, expr, where):
        own = {id(v) for v in self.model.x.values()} | {id(v) for v in self.model.y.values()}
        for v in identify_variables(expr, include_fixed=True):
            if id(v) not in own:
                raise BilevelInputError(
                    f"{where} uses variable {v.name!r}, which is not one of this problem's x or y"
                )

    def _set_bounds(self, var, bounds, label):
        if bounds is None:
            return
        for i, pair in enumerate(_entries(bounds, len(var), label)):
            lo, hi = _bound_pair(pair, f"{label}[{i}]")
            if lo is not None and hi is not None and lo > hi:
                raise BilevelInputError(f"{label}[{i}]: lower bound {lo} exceeds upper bound {hi}")
            var[i].setlb(lo)
            var[i].setub(hi)

    # ------------------------------------------------------------------ query
    def validate(self) -> None:
        """Raise ``BilevelInputError`` if the problem is incomplete."""
        if self.F is None:
            raise BilevelInputError(f"problem {self.name!r}: the upper-level objective F is missing")
        if self.f is None:
            raise BilevelInputError(f"problem {self.name!r}: the lower-level objective f is missing")

    @property
    def sense_sign(self) -> float:
        """-1 for a maximised F, else +1: multiplies F (or a bound on it) between the user's
        sense and the minimisation form the methods work in, either way."""
        return -1.0 if self.upper_sense == "max" else 1.0

    def x_is_integer(self) -> list[bool]:
        return [not self.model.x[i].is_continuous() for i in range(self.n_x)]

    def y_is_integer(self) -> list[bool]:
        return [not self.model.y[j].is_continuous() for j in range(self.n_y)]

    def y_bound_constraints(self) -> list[Constraint]:
        """The follower's variable bounds written as lower-level constraints."""
        out = []
        for j in range(self.n_y):
            v = self.model.y[j]
            if v.lb is not None:
                out.append(Constraint(f"{self.y_names[j]} >= {v.lb:g}", v - v.lb, "ge"))
            if v.ub is not None:
                out.append(Constraint(f"{self.y_names[j]} <= {v.ub:g}", v.ub - v, "ge"))
        return out

    def set_point(self, x=None, y=None) -> None:
        """Load values into ``problem.x`` / ``problem.y`` (for evaluation)."""
        for var, vals, label in ((self.model.x, x, "x"), (self.model.y, y, "y")):
            if vals is None:
                continue
            for i, v in enumerate(_entries(vals, len(var), label)):
                var[i].set_value(float(v), skip_validation=True)

    def evaluate(self, x, y) -> dict:
        """F, f in the user's senses, and the worst violations of G and g at (x, y)."""
        self.set_point(x, y)
        F = float(pyo.value(self.F))
        f = float(pyo.value(self.f))
        return {
            "F": self.sense_sign * F,
            "f": -f if self.lower_sense == "max" else f,
            "G_violation": max((c.violation() for c in self.G), default=0.0),
            "g_violation": max((c.violation() for c in self.g), default=0.0),
            "x_bound_violation": _bound_violation(self.model.x),
            "y_bound_violation": _bound_violation(self.model.y),
        }

    def __repr__(self) -> str:
        return (
            f"BilevelProblem({self.name!r}, n_x={self.n_x}, n_y={self.n_y}, "
            f"|G|={len(self.G)}, |g|={len(self.g)})"
        )


def involves(expr, var) -> bool:
    """True when ``expr`` references any component of the indexed Var ``var``."""
    if isinstance(expr, (int, float)):
        return False
    ids = {id(v) for v in var.values()}
    return any(id(v) in ids for v in identify_variables(expr, include_fixed=True))


def split_lower(problem: BilevelProblem) -> tuple[list[Constraint], list[Constraint]]:
    """Lower-level constraints that involve y (plus y bounds), and those that do not:
    a follower constraint on x alone restricts the leader, so it joins G."""
    with_y, x_only = [], []
    for c in problem.g:
        (with_y if involves(c.body, problem.y) else x_only).append(c)
    return with_y + problem.y_bound_constraints(), x_only


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


def _bound_pair(pair, where: str) -> tuple[float | None, float | None]:
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


def _entries(values, n: int, label: str) -> list:
    """``values`` as a list of exactly ``n`` entries, else ``BilevelInputError``."""
    try:
        values = list(values)
    except TypeError:
        raise BilevelInputError(f"{label} must be a list of {n} entries, got {values!r}") from None
    if len(values) != n:
        raise BilevelInputError(f"{label} has {len(values)} entries, expected {n}")
    return values


def _names(names, n, prefix):
    if names is None:
        return [f"{prefix}[{i}]" for i in range(n)]
    names = [str(s) for s in names]
    if len(names) != n:
        raise BilevelInputError(f"{prefix}_names has {len(names)} entries, expected {n}")
    return names


def _bound_violation(var) -> float:
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
