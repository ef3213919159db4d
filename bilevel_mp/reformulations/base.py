"""What every single-level reformulation shares: the lifted primal model and the map back.

Each reformulation is a two-way map in the style of CVXPY's reductions:
``apply(problem) -> Lifted`` builds a ``SingleLevelModel`` holding copies of x and y,
the leader's constraints, the follower's constraints and whatever optimality system
the reformulation adds; ``Lifted.invert(outcome)`` reads x, y and the lower-level
multipliers back in the problem's own terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables

from ..problem import BilevelProblem, Constraint
from ..single_level import SingleLevelModel, SolveOutcome, substitute


@dataclass
class Lifted:
    """A single-level model plus the map from its variables back to the problem."""

    slm: SingleLevelModel
    problem: BilevelProblem
    method: str
    lower: list[Constraint]  # lower-level constraints with y (incl. y bounds), problem vars
    mapping: dict  # id(problem var) -> model var
    duals: dict = field(default_factory=dict)  # lower constraint name -> model dual var
    exact: bool = True  # optimum of the model is the bilevel optimum (no guessed bounds)
    assumptions: list[str] = field(default_factory=list)
    hpr: dict = field(default_factory=dict)  # bound tightening: infeasible, unbounded vars

    def sub(self, expr):
        """Rewrite a problem expression over the model's variables."""
        return substitute(expr, self.mapping)

    def invert(self, outcome: SolveOutcome):
        """x, y (numpy arrays) and lower-level multipliers (name -> value) of a solution."""
        m = self.slm.m
        x = np.array([outcome.values.get(id(m.x[i]), m.x[i].value or 0.0) for i in range(self.problem.n_x)])
        y = np.array([outcome.values.get(id(m.y[j]), m.y[j].value or 0.0) for j in range(self.problem.n_y)])
        duals = {name: outcome.values[id(v)] for name, v in self.duals.items() if id(v) in outcome.values}
        return x, y, duals


def involves(expr, var) -> bool:
    """True when ``expr`` references any component of the indexed Var ``var``."""
    if isinstance(expr, (int, float)):
        return False
    ids = {id(v) for v in var.values()}
    return any(id(v) in ids for v in identify_variables(expr, include_fixed=True))


def split_lower(problem: BilevelProblem):
    """Lower-level constraints that involve y (plus y bounds), and those that do not:
    a follower constraint on x alone restricts the leader, so it joins G."""
    with_y, x_only = [], []
    for c in problem.g:
        (with_y if involves(c.body, problem.y) else x_only).append(c)
    return with_y + problem.y_bound_constraints(), x_only


def lift(problem: BilevelProblem, name: str, method: str, upper_objective: bool = True,
         time_limit: float | None = None) -> Lifted:
    """The high-point relaxation over copies of x and y: G, g and bounds, objective F,
    with x and y bounds tightened over it (``bounds.tighten_variable_bounds``)."""
    problem.validate()
    slm = SingleLevelModel(f"{problem.name}:{name}")
    m = slm.m
    m.x = pyo.Var(range(problem.n_x), dense=True)
    m.y = pyo.Var(range(problem.n_y), dense=True)
    mapping = {}
    for src, dst in ((problem.x, m.x), (problem.y, m.y)):
        for i, v in src.items():
            dst[i].domain = v.domain
            dst[i].setlb(v.lb)
            dst[i].setub(v.ub)
            if v.value is not None:
                dst[i].set_value(v.value, skip_validation=True)
            mapping[id(v)] = dst[i]
    lower, x_only = split_lower(problem)
    lifted = Lifted(slm, problem, method, lower, mapping)
    for c in list(problem.G) + x_only:
        _add(slm, lifted.sub(c.body), c.kind)
    for c in problem.g:
        if c in x_only:
            continue
        _add(slm, lifted.sub(c.body), c.kind)
    if x_only:
        slm.notes.append(
            "follower constraints on x alone treated as leader constraints: "
            + ", ".join(c.name for c in x_only)
        )
    if upper_objective:
        slm.minimize(lifted.sub(problem.F))
    from ..bounds import tighten_variable_bounds

    lifted.hpr = tighten_variable_bounds(lifted, time_limit)
    lifted.hpr["point"] = _hpr_point(lifted) if not lifted.hpr["infeasible"] else None
    return lifted


def _hpr_point(lifted: Lifted):
    """Some x of the high-point relaxation (linear relaxations only), else None."""
    from ..backends import highs

    slm = lifted.slm
    if not (highs.available() and highs.accepts(slm)):
        return None
    objective, slm.objective = slm.objective, None
    try:
        out = highs.solve(slm, time_limit=10.0)
    finally:
        slm.objective = objective
    if not out.has_solution:
        return None
    return np.array([out.values[id(slm.m.x[i])] for i in range(lifted.problem.n_x)])


def _add(slm: SingleLevelModel, body, kind: str) -> None:
    if isinstance(body, (int, float)):
        return
    slm.add(body == 0 if kind == "eq" else body >= 0)
