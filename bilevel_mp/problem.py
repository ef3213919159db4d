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
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import pyomo.environ as pyo
from pyomo.core.expr.relational_expr import (
    EqualityExpression,
    InequalityExpression,
    RangedExpression,
)
from pyomo.core.expr.visitor import identify_variables

from .errors import BilevelInputError, UnsupportedStructureError
from .variables import Variables, bound_pair, bound_violation, check_finite, entries, level_names

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


@dataclass(frozen=True)
class Follower:
    """One of several followers (``BilevelProblem.add_follower``): its variables (indices
    into ``problem.y``), objective in minimisation form, constraints and sense."""

    name: str
    y: tuple
    f: object
    g: tuple
    sense: str = "min"


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
        self.x_names = level_names(x_names, n_x, "x")
        self.y_names = level_names(y_names, n_y, "y")
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
        self.followers: list[Follower] = []  # several followers (add_follower); empty: one, set_lower
        self.coupled = False  # some follower's objective or rows use another follower's y
        self.dual_links: dict[str, object] = {}  # follower constraint name -> leader-side Var
        self._dual_rows: dict[str, Constraint] = {}  # the constraint each link was made for

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
        """Follower objective f (minimised unless ``sense="max"``) and constraints g (one
        follower owning all of y; replaces any ``add_follower``)."""
        self.f, self.lower_sense = self._objective(objective, sense, "lower")
        self.g = self._constraints(constraints, "g")
        self.followers, self.coupled = [], False
        return self

    def add_follower(self, variables, objective, constraints: Iterable = (), sense: str = "min",
                     name: str | None = None):
        """Add one of several followers: it chooses ``variables`` (entries of ``p.y`` or
        their indices) to minimise (``sense="max"``: maximise) ``objective`` subject to
        ``constraints``, with x and the other followers' variables as data. The followers
        play a Nash game: the leader gets the equilibrium it likes best (optimistic).
        Every y belongs to exactly one follower; every row and y has its own name (rows are
        named ``"<name>.g[k]"``, name default ``"L1"``, ``"L2"``, ...). A problem whose
        follower came from ``set_lower`` refuses ``add_follower``.

        When no follower's objective or constraints use another follower's variables the
        game is separable: its equilibria are the optima of one follower minimising the
        sum of the objectives over all the rows, and every method solves it. Otherwise
        (``coupled``) the KKT method does, each follower's stationarity taken in its own
        variables, and the certificate re-solves each follower at x and the others' y."""
        index = {id(v): j for j, v in enumerate(self.model.y.values())}
        try:
            items = list(variables)
        except TypeError:
            items = [variables]
        own = []
        for v in items:
            j = v if isinstance(v, int) and not isinstance(v, bool) else index.get(id(v))
            if j is None or not 0 <= j < self.n_y:
                raise BilevelInputError(f"add_follower: {v!r} is not one of this problem's y variables")
            own.append(j)
        if not own:
            raise BilevelInputError("add_follower: a follower needs at least one variable")
        taken = {j: fol.name for fol in self.followers for j in fol.y}
        clash = [self.y_names[j] for j in own if j in taken]
        if clash or len(set(own)) != len(own):
            raise BilevelInputError(f"add_follower: {clash or own} already belong to a follower")
        if self.f is not None and not self.followers:
            raise BilevelInputError("add_follower: this problem's follower was set by set_lower; build "
                                    "every follower with add_follower (set_lower replaces them all)")
        name = name or f"L{len(self.followers) + 1}"
        if any(fol.name == name for fol in self.followers):
            raise BilevelInputError(f"add_follower: a follower named {name!r} exists")
        f, sense = self._objective(objective, sense, f"follower {name}")
        g = self._constraints(constraints, f"{name}.g")
        followers = self.followers + [Follower(name, tuple(own), f, tuple(g), sense)]
        rows = [c.name for fol in followers for c in fol.g] + [c.name for c in self.y_bound_constraints()]
        twice = sorted(r for r, n in Counter(rows).items() if n > 1)
        if twice:  # each row's owner and multiplier are found by its name
            raise BilevelInputError(f"add_follower: the names {twice} are used by more than one follower "
                                    "row or y bound; give every row (and every y) its own name")
        self.f, self.lower_sense = sum(fol.f for fol in followers), "min"  # the sum, min form
        self.g = [c for fol in followers for c in fol.g]
        self.followers = followers
        self.coupled = any(_uses_others(self, fol) for fol in followers)
        return self

    def y_owners(self) -> list[int]:
        """For each y, the index into ``followers`` of the follower that chooses it (0 for a
        y no follower has claimed yet, and for every y of a single follower)."""
        owner = [0] * self.n_y
        for k, fol in enumerate(self.followers):
            for j in fol.y:
                owner[j] = k
        return owner

    def row_owners(self) -> dict[str, int]:
        """Follower constraint name (y bounds included) -> index into ``followers``."""
        owner_of_y = self.y_owners()
        out = {c.name: k for k, fol in enumerate(self.followers) for c in fol.g}
        for c, j in self._y_bound_rows():
            out[c.name] = owner_of_y[j]
        return out

    def dual_of(self, constraint: str):
        """A variable the leader may use in F and G that equals the follower's multiplier of
        the follower constraint named ``constraint`` (BilevelJuMP's ``DualOf``): e.g.
        ``"g[0]"`` for the first constraint given to ``set_lower`` (``"g[0].lo"`` /
        ``"g[0].hi"`` for a ranged one) or ``"y[1] >= 0"`` for a bound on y.

        The sign is the Lagrangian's ``f - Σ λ g`` with ``g >= 0`` (``f`` in minimisation
        form): for an inequality λ >= 0 is how much the follower's objective worsens per
        unit the constraint is tightened; for an equality ``lhs == rhs``, μ is how much it
        worsens per unit ``rhs`` rises (the market price of a balance row). Where the
        follower has several multipliers at its optimum, the leader gets the one it likes
        best (the optimistic convention, as for y). Methods built on the follower's KKT
        conditions or duality (``kkt``, ``strong_duality``; ``auto`` picks ``kkt``) solve
        such problems, the others refuse them; the certificate checks the returned
        multipliers against the follower's stationarity at the returned (x, y)."""
        if self.f is None:
            raise BilevelInputError("dual_of: set the follower (set_lower) before asking for its duals")
        if not isinstance(constraint, str):
            raise BilevelInputError(f"dual_of takes a follower constraint's name (e.g. 'g[0]'), got {constraint!r}")
        found = self._follower_constraint(constraint)
        self._dual_rows[constraint] = found
        if constraint not in self.dual_links:
            m = self.model
            if not hasattr(m, "dual"):
                m.dual = pyo.Var(pyo.Any, dense=False)
            var = m.dual[constraint]
            var.domain = pyo.NonNegativeReals if found.kind == "ge" else pyo.Reals
            self.dual_links[constraint] = var
        return self.dual_links[constraint]

    def _follower_constraint(self, name: str) -> Constraint:
        """The follower constraint (with y) or y bound named ``name``, else an error
        listing the names there are."""
        with_y, x_only = split_lower(self)
        found = [c for c in with_y if c.name == name]
        if len(found) > 1:
            raise BilevelInputError(f"{len(found)} follower constraints are named {name!r}: give them "
                                    "distinct names to link one's dual")
        if found:
            return found[0]
        if any(c.name == name for c in x_only):
            raise BilevelInputError(
                f"follower constraint {name!r} does not involve y: it restricts the leader and "
                "has no follower multiplier")
        raise BilevelInputError(f"no follower constraint named {name!r}; known: {[c.name for c in with_y]}")

    def dual_values(self) -> dict[str, float | None]:
        """The current values of the linked duals (``dual_of``), by constraint name."""
        return {name: var.value for name, var in self.dual_links.items()}

    def set_duals(self, duals: dict | None) -> None:
        """Load values into the linked dual variables from ``duals`` (constraint name ->
        value); names without a link are ignored."""
        for name, var in self.dual_links.items():
            if duals is not None and name in duals:
                var.set_value(float(duals[name]), skip_validation=True)

    def _objective(self, expr, sense, level):
        kind = f"{level}-level" if level in ("upper", "lower") else level
        if sense not in SENSES:
            raise BilevelInputError(f"{kind} sense must be 'min' or 'max', got {sense!r}")
        if expr is None:
            raise BilevelInputError(f"the {kind} objective is missing")
        where = f"{kind} objective"
        self._check_own_vars(expr, where, duals=level == "upper")
        check_finite(expr, where)
        return (-expr if sense == "max" else expr), sense

    def _constraints(self, cons, prefix):
        out: list[Constraint] = []
        cons = list(cons)  # a generator may link duals (dual_of) as it yields
        ids = self._own_ids()  # once for all the rows (per row it was quadratic in the size)
        for k, c in enumerate(cons):
            for con in normalize_constraint(c, f"{prefix}[{k}]"):
                self._check_own_vars(con.body, con.name, duals=prefix == "G", ids=ids)
                check_finite(con.body, con.name)
                out.append(con)
        return out

    def _own_ids(self):
        """(ids of x and y, ids of the linked duals)."""
        own = {id(v) for v in self.model.x.values()} | {id(v) for v in self.model.y.values()}
        return own, {id(v) for v in self.dual_links.values()}

    def _check_own_vars(self, expr, where, duals: bool = False, ids=None):
        own, linked = self._own_ids() if ids is None else ids
        for v in identify_variables(expr, include_fixed=True):
            if id(v) in linked and not duals:
                raise BilevelInputError(
                    f"{where} uses the follower dual {v.name!r}: a follower multiplier may appear "
                    "in the leader's objective and constraints only")
            if id(v) not in own and id(v) not in linked:
                raise BilevelInputError(
                    f"{where} uses variable {v.name!r}, which is not one of this problem's x or y"
                )

    def _set_bounds(self, var, bounds, label):
        if bounds is None:
            return
        for i, pair in enumerate(entries(bounds, len(var), label)):
            lo, hi = bound_pair(pair, f"{label}[{i}]")
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
        if self.followers:
            owned = {j for fol in self.followers for j in fol.y}
            orphans = [self.y_names[j] for j in range(self.n_y) if j not in owned]
            if orphans:
                raise BilevelInputError(f"problem {self.name!r}: {orphans} belong to no follower "
                                        "(add_follower)")
        for name in self.dual_links:  # set_lower may have been called again since dual_of
            row = self._follower_constraint(name)  # a y bound's name holds its value
            if row is not self._dual_rows[name] and any(c is row for c in self.g):
                raise BilevelInputError(
                    f"the follower constraint {name!r} changed (set_lower was called again) after "
                    f"dual_of({name!r}): call dual_of({name!r}) again to link the new one")

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
        return [c for c, _ in self._y_bound_rows()]

    def _y_bound_rows(self) -> list[tuple[Constraint, int]]:
        out = []
        for j in range(self.n_y):
            v = self.model.y[j]
            if v.lb is not None:
                out.append((Constraint(f"{self.y_names[j]} >= {v.lb:g}", v - v.lb, "ge"), j))
            if v.ub is not None:
                out.append((Constraint(f"{self.y_names[j]} <= {v.ub:g}", v.ub - v, "ge"), j))
        return out

    def set_point(self, x=None, y=None, duals: dict | None = None) -> None:
        """Load values into ``problem.x`` / ``problem.y`` and the linked duals (for
        evaluation)."""
        self.set_duals(duals)
        for var, vals, label in ((self.model.x, x, "x"), (self.model.y, y, "y")):
            if vals is None:
                continue
            for i, v in enumerate(entries(vals, len(var), label)):
                var[i].set_value(float(v), skip_validation=True)

    def leader_value(self, x, y, duals: dict | None = None) -> float:
        """F at (x, y) in the user's sense (``evaluate``'s ``"F"`` without the violations)."""
        self.set_point(x, y, duals)
        return self.sense_sign * float(pyo.value(self.F))

    def evaluate(self, x, y, duals: dict | None = None) -> dict:
        """F, f in the user's senses, and the worst violations of G and g at (x, y) (with
        the linked duals at ``duals`` where given, else at their current values)."""
        self.set_point(x, y, duals)
        F = float(pyo.value(self.F))
        f = float(pyo.value(self.f))
        return {
            "F": self.sense_sign * F,
            "f": -f if self.lower_sense == "max" else f,
            "G_violation": max([c.violation() for c in self.G]
                               + ([bound_violation(self.model.dual)] if self.dual_links else []), default=0.0),
            "g_violation": max((c.violation() for c in self.g), default=0.0),
            "x_bound_violation": bound_violation(self.model.x),
            "y_bound_violation": bound_violation(self.model.y),
        }

    def __repr__(self) -> str:
        return (
            f"BilevelProblem({self.name!r}, n_x={self.n_x}, n_y={self.n_y}, "
            f"|G|={len(self.G)}, |g|={len(self.g)})"
        )


def involves(expr, var) -> bool:
    """True when ``expr`` references any component of the indexed Var ``var`` (or of a set
    of ``id``s of variables: pass one when asking for many expressions)."""
    if isinstance(expr, (int, float)):
        return False
    ids = var if isinstance(var, (set, frozenset)) else {id(v) for v in var.values()}
    return any(id(v) in ids for v in identify_variables(expr, include_fixed=True))


def _uses_others(problem: BilevelProblem, follower: Follower) -> bool:
    """The follower's objective or rows involve y it does not own."""
    own = set(follower.y)
    others = {id(v) for j, v in enumerate(problem.model.y.values()) if j not in own}
    return any(id(v) in others for e in [follower.f] + [c.body for c in follower.g]
               if not isinstance(e, (int, float)) for v in identify_variables(e, include_fixed=True))


def refuse_coupled_followers(problem: BilevelProblem, method: str) -> None:
    """Methods that treat the followers as one optimiser cannot solve a coupled game."""
    if problem.coupled:
        raise UnsupportedStructureError(
            f"the followers ({', '.join(f.name for f in problem.followers)}) play a coupled game (an "
            f"objective or row uses another follower's variables): method {method!r} treats them as "
            "one optimiser; use method='kkt' (the default 'auto' picks it)")


def refuse_linked_duals(problem: BilevelProblem, method: str) -> None:
    """Methods without the follower's multipliers in their model cannot serve ``dual_of``."""
    if problem.dual_links:
        raise UnsupportedStructureError(
            f"the leader uses follower duals ({', '.join(problem.dual_links)}): method {method!r} "
            "has no follower multipliers in its model; use method='kkt' or 'strong_duality' "
            "(the default 'auto' picks kkt)")


def split_lower(problem: BilevelProblem) -> tuple[list[Constraint], list[Constraint]]:
    """Lower-level constraints that involve y (plus y bounds), and those that do not:
    a follower constraint on x alone restricts the leader, so it joins G."""
    with_y, x_only = [], []
    ys = {id(v) for v in problem.y.values()}
    for c in problem.g:
        (with_y if involves(c.body, ys) else x_only).append(c)
    return with_y + problem.y_bound_constraints(), x_only
