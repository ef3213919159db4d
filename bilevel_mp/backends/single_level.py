"""The single-level program a reformulation produces, and the outcome of solving it.

A ``SingleLevelModel`` is an ordinary Pyomo model (variables, constraints, a
minimised objective) plus the two constraint kinds Pyomo has no portable form for:
SOS1 pairs and indicator constraints. Back ends (``bilevel_mp.backends``) turn it into
solver calls; reformulations only ever build one of these.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pyomo.environ as pyo
from pyomo.core.expr.visitor import ExpressionReplacementVisitor


@dataclass
class Indicator:
    """``binary == active`` implies ``body <= 0`` (kind "le") or ``body == 0`` ("eq")."""

    binary: object
    active: int
    body: object
    kind: str = "le"


class SingleLevelModel:
    """Pyomo model + SOS1 sets + indicator constraints, minimised."""

    def __init__(self, name: str = "single_level"):
        self.m = m = pyo.ConcreteModel(name=name)
        m.cons = pyo.ConstraintList()
        self.sos1: list[list] = []
        self.indicators: list[Indicator] = []
        self.objective = None
        self.notes: list[str] = []
        # the model has big-M rows (or other products of a binary and a large number), in
        # which an integrality tolerance is multiplied: HiGHS then keeps integers to 1e-9.
        # A model without them (a dualised follower) leaves HiGHS its default.
        self.big_m = True
        self._degrees: dict = {}  # id(expression) -> (expression, polynomial degree)

    def degree(self, expr):
        """Polynomial degree of ``expr`` (None: not a polynomial), cached per expression
        object: a model re-solved many times (a cutting-plane loop) is not walked again."""
        if isinstance(expr, (int, float)):
            return 0
        hit = self._degrees.get(id(expr))
        if hit is not None and hit[0] is expr:
            return hit[1]
        d = expr.polynomial_degree()
        self._degrees[id(expr)] = (expr, d)
        return d

    def add(self, relation):
        """Add a Pyomo relational expression; returns the constraint."""
        return self.m.cons.add(relation)

    def minimize(self, expr) -> None:
        self.objective = expr
        self.m.obj = pyo.Objective(expr=expr, sense=pyo.minimize)

    @property
    def has_discrete_structure(self) -> bool:
        return bool(self.sos1 or self.indicators) or any(
            not v.is_continuous() for v in self.m.component_data_objects(pyo.Var)
        )


_LAST = threading.local()  # this thread's last mapping and its visitor


def substitute(expr, mapping: dict):
    """Rewrite ``expr`` with variables replaced; ``mapping`` maps id(var) -> new. Called
    again with the same mapping object (a loop over rows), it reuses the last visitor
    (``Substitution``), which reads the mapping by reference."""
    if isinstance(expr, (int, float)):
        return expr
    last = getattr(_LAST, "sub", None)
    if last is None or last.mapping is not mapping:
        last = _LAST.sub = Substitution(mapping)
    return last(expr)


class Substitution:
    """``substitute(expr, mapping)`` for many expressions with one mapping: one Pyomo
    replacement visitor, built once (building one inspects its callbacks' signatures, which
    dominated the KKT model's construction on large followers)."""

    def __init__(self, mapping: dict):
        self.mapping = mapping
        self._visitor = ExpressionReplacementVisitor(substitute=mapping,
                                                     descend_into_named_expressions=True,
                                                     remove_named_expressions=True)

    def __call__(self, expr):
        if isinstance(expr, (int, float)):
            return expr
        return self._visitor.walk_expression(expr)


SOLVER_INFINITY = 1e19  # a value at or beyond this is a solver's infinity (SCIP's is 1e20)


@dataclass
class SolveOutcome:
    """What a back end returns. ``values`` maps id(pyomo var) -> value."""

    status: str  # optimal | locally_optimal | feasible | infeasible | unbounded | time_limit | error
    values: dict = field(default_factory=dict)
    objective: float | None = None
    bound: float | None = None
    solver: str = ""
    message: str = ""
    seconds: float = 0.0
    row_duals: dict = field(default_factory=dict)  # id(constraint) -> dual (LPs only)

    @property
    def has_solution(self) -> bool:
        return bool(self.values)

    def value(self, var) -> float:
        return self.values[id(var)]
