"""The lifted primal model every single-level reformulation starts from, and the map back.

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

from ..backends import highs
from ..backends.single_level import SingleLevelModel, SolveOutcome, Substitution
from ..problem import BilevelProblem, Constraint, split_lower
from .bounds import share, slack_upper_bounds, tighten_variable_bounds


@dataclass
class Lifted:
    """A single-level model plus the map from its variables back to the problem."""

    slm: SingleLevelModel
    problem: BilevelProblem
    method: str
    lower: list[Constraint]  # lower-level constraints with y (incl. y bounds), problem vars
    mapping: dict  # id(problem var) -> model var
    duals: dict = field(default_factory=dict)  # lower constraint name -> model dual var
    rows: dict = field(default_factory=dict)  # follower row name -> its model constraint
    # the leader's linked duals (``BilevelProblem.dual_of``) are model variables
    # ``m.dual_link[name]`` in F and G; ``stationarity.add_stationarity`` equates them to ``duals``
    exact: bool = True  # optimum of the model is the bilevel optimum (no guessed bounds)
    # every follower optimum has a point in the model: its infeasibility proves the bilevel
    # problem's (a KKT model without a constraint qualification may lose points)
    complete: bool = True
    assumptions: list[str] = field(default_factory=list)
    hpr: dict = field(default_factory=dict)  # bound tightening: infeasible, unbounded vars, point
    cache: HPR | None = None  # shared with the other models lifted in the same solve
    _sub: Substitution | None = field(default=None, repr=False, compare=False)

    def sub(self, expr):
        """Rewrite a problem expression over the model's variables."""
        if self._sub is None or self._sub.mapping is not self.mapping:
            self._sub = Substitution(self.mapping)
        return self._sub(expr)

    def invert(self, outcome: SolveOutcome):
        """x, y (numpy arrays) and lower-level multipliers (name -> value) of a solution."""
        m = self.slm.m
        x = np.array([outcome.values.get(id(m.x[i]), m.x[i].value or 0.0) for i in range(self.problem.n_x)])
        y = np.array([outcome.values.get(id(m.y[j]), m.y[j].value or 0.0) for j in range(self.problem.n_y)])
        duals = {name: outcome.values[id(v)] for name, v in self.duals.items() if id(v) in outcome.values}
        return x, y, duals

    def slack_bounds(self, time_limit: float | None = None) -> dict[str, float]:
        """Proven upper bounds on the follower's slacks (``bounds.slack_upper_bounds``)
        over this model's high-point relaxation, computed once per ``HPR`` cache."""
        ge = [c for c in self.lower if c.kind == "ge"]
        names = tuple(c.name for c in ge)
        cache = self.cache
        if cache is not None and cache.slacks is not None and cache.slacks[0] == names:
            return dict(cache.slacks[1])
        out = slack_upper_bounds(self.slm, [self.sub(c.body) for c in ge], list(names), share(time_limit))
        if cache is not None:
            cache.slacks = (names, dict(out))
        return out


@dataclass
class HPR:
    """What the high-point relaxation of one problem tells, computed once per solve and
    shared by every model lifted from it: tightened variable bounds (x then y), whether
    it is infeasible, which variables stay unbounded, one of its x points, and the
    follower slack bounds."""

    bounds: list | None = None  # [(lb, ub)] for x then y
    infeasible: bool = False
    unbounded: list = field(default_factory=list)
    point: np.ndarray | None = None
    slacks: tuple | None = None  # (constraint names, {name: bound})
    follower_check: tuple | None = None  # (x checked, message if the follower is unbounded there)

    def as_dict(self) -> dict:
        return {"infeasible": self.infeasible, "unbounded": list(self.unbounded), "point": self.point}


def lift(problem: BilevelProblem, name: str, method: str, upper_objective: bool = True,
         time_limit: float | None = None, cache: HPR | None = None, missing_only: bool = False,
         tighten: bool = True) -> Lifted:
    """The high-point relaxation over copies of x and y: G, g and bounds, objective F,
    with x and y bounds tightened over it (``bounds.tighten_variable_bounds``; with
    ``missing_only`` only the variables that lack a finite bound, for a method that needs
    bounds to exist but gains nothing from tighter ones; with ``tighten=False`` none, for
    a model that needs no bounds: only one point of the relaxation is sought). With a
    filled ``cache`` the tightening is read from it instead of solved again; an empty one
    is filled (not without tightening)."""
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
    if problem.dual_links:  # tied to the multipliers by stationarity.add_stationarity
        m.dual_link = pyo.Var(list(problem.dual_links), dense=True)
        for name, v in problem.dual_links.items():
            m.dual_link[name].domain = v.domain
            m.dual_link[name].setlb(v.lb)  # a bound the user put on the dual (a price cap)
            m.dual_link[name].setub(v.ub)
            mapping[id(v)] = m.dual_link[name]
    lower, x_only = split_lower(problem)
    lifted = Lifted(slm, problem, method, lower, mapping, cache=cache)
    for c in list(problem.G) + x_only:
        _add(slm, lifted.sub(c.body), c.kind)
    for c in problem.g:
        if c in x_only:
            continue
        lifted.rows[c.name] = _add(slm, lifted.sub(c.body), c.kind)
    if x_only:
        slm.notes.append(
            "follower constraints on x alone treated as leader constraints: "
            + ", ".join(c.name for c in x_only)
        )
    if upper_objective:
        slm.minimize(lifted.sub(problem.F))
    variables = [m.x[i] for i in m.x] + [m.y[j] for j in m.y]
    if cache is not None and cache.bounds is not None:
        for v, (lb, ub) in zip(variables, cache.bounds):
            v.setlb(lb)
            v.setub(ub)
        lifted.hpr = cache.as_dict()
        return lifted
    names = problem.x_names + problem.y_names
    if not tighten:
        lifted.hpr = {"infeasible": False, "point": _hpr_point(lifted),
                      "unbounded": [names[k] for k, v in enumerate(variables) if v.lb is None or v.ub is None]}
        return lifted
    if missing_only:
        pick = [k for k, v in enumerate(variables) if v.lb is None or v.ub is None]
        info = tighten_variable_bounds(slm, [variables[k] for k in pick], [names[k] for k in pick],
                                       share(time_limit))
    else:
        info = tighten_variable_bounds(slm, variables, names, share(time_limit))
    info["point"] = _hpr_point(lifted) if not info["infeasible"] else None
    lifted.hpr = info
    if cache is not None:
        cache.bounds = [(v.lb, v.ub) for v in variables]
        cache.infeasible, cache.unbounded, cache.point = info["infeasible"], info["unbounded"], info["point"]
    return lifted


def _hpr_point(lifted: Lifted):
    """Some x of the high-point relaxation (linear relaxations only), else None."""
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


def _add(slm: SingleLevelModel, body, kind: str):
    if isinstance(body, (int, float)):
        return None
    return slm.add(body == 0 if kind == "eq" else body >= 0)
