"""Slater's condition for a convex follower with curved rows, over every leader x.

The KKT conditions of a convex follower characterise its optima only under a
constraint qualification. Affine rows need none; a curved row (a second-order cone, a
concave quadratic) needs a point where it holds strictly (Slater). Without one the
follower's optimum can have no multipliers — ``min −y s.t. y² <= x`` at x = 0 — and the
KKT model silently drops that x: its optimum, or its "infeasible", is then not the
bilevel problem's.

The check is about the margin

    m(x) = max_{y, ε}  ε   s.t.  affine rows of g,  curved rows >= ε,  ε <= 1

whose follower satisfies Slater at every x where it is feasible (ε can go down), so its
optimality conditions are exact. Slater holds at every leader-feasible x when a proven
lower bound on m over them is positive (``MARGIN``). When every follower row is jointly
concave in (x, y), m is concave in x and its least value on the high-point relaxation's
x box is at a vertex (``vertex_margin``: one convex solve per vertex). Otherwise
``margin_problem`` builds the bilevel problem

    min_x m(x)   over that box and the leader's rows in x alone,

solved exactly by an exact reduction (``kkt.exact_check``). A bound that does not come
(time limit, unbounded x) proves nothing. ``multiplier_bound`` turns the margin into a
bound on the curved rows' multipliers.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr, fbbt
from pyomo.core.expr.visitor import identify_variables

from ..backends import solve_single_level
from ..backends.single_level import SOLVER_INFINITY, SingleLevelModel, substitute
from ..cones import soc_row
from ..core.bounds import share
from ..core.certify import solve_follower
from ..problem import BilevelProblem, Constraint, split_lower
from ..structure import curved_rows, degree, detect, is_psd, joint_hessian

MARGIN = 1e-6  # the proven margin a curved row must have at every x


def margin_problem(problem: BilevelProblem, x_box: list | None = None) -> BilevelProblem:
    """The check of the module docstring as a ``BilevelProblem`` (y = the problem's y,
    then ε): leader min ε, follower max ε; ``x_box``: bounds on x (default x's own) that
    hold every bilevel-feasible x (the high-point relaxation's)."""
    curved = {c.name for c in curved_rows(problem)}
    xs, ys = problem.model.x, problem.model.y
    check = BilevelProblem(
        problem.n_x, problem.n_y + 1, name=f"{problem.name}:slater",
        x_bounds=x_box or [(v.lb, v.ub) for v in xs.values()],
        y_bounds=[(v.lb, v.ub) for v in ys.values()] + [(None, 1.0)],
        x_integer=problem.x_is_integer(), x_names=problem.x_names,
        y_names=list(problem.y_names) + ["slater.margin"])
    mapping = {id(v): check.x[i] for i, v in enumerate(xs.values())}
    mapping.update({id(v): check.y[j] for j, v in enumerate(ys.values())})
    eps = check.y[problem.n_y]
    _, x_only = split_lower(problem)
    rows = []
    for c in problem.g:
        if c in x_only:
            continue
        body = substitute(c.body, mapping)
        rows.append(_relation(body - eps if c.name in curved else body, c.kind))
    check.set_upper(eps, [_relation(substitute(c.body, mapping), c.kind) for c in _x_rows(problem) + x_only])
    check.set_lower(eps, rows, sense="max")
    return check


def _relation(body, kind: str):
    return body == 0 if kind == "eq" else body >= 0


def _x_rows(problem: BilevelProblem) -> list[Constraint]:
    """The leader's rows in x alone (they bound the x the check must cover)."""
    x_ids = {id(v) for v in problem.model.x.values()}
    return [c for c in problem.G if all(id(v) in x_ids for v in identify_variables(c.body))]


def slater_margin(problem: BilevelProblem, time_limit: float | None, reduction_for,
                  x_box: list | None = None):
    """``(margin, None)`` when the follower's curved rows hold with a proven ``margin`` >
    ``MARGIN`` at every leader x (``margin`` None: there are no curved rows, or no x has a
    feasible follower), else ``(None, why)``: a model built on the follower's optimality
    conditions may then miss follower optima. ``reduction_for(structure)``: an exact
    single-level reduction (one that does not check Slater itself) for ``margin_problem``;
    ``x_box``: bounds holding every bilevel-feasible x. Where the follower's rows are
    jointly concave in (x, y) the margin is concave in x, so on a box its minimum is at a
    vertex: a few convex solves (``vertex_margin``) replace the bilevel check."""
    rows = curved_rows(problem)
    if not rows:
        return None, None
    names = ", ".join(c.name for c in rows[:4]) + (", ..." if len(rows) > 4 else "")
    if problem.coupled:
        return None, (f"Slater's condition is not checked for a game with curved follower rows ({names}): "
                      "the KKT model may miss follower optima")
    check = margin_problem(problem, x_box)
    budget = SLATER_SECONDS if time_limit is None else max(1.0, min(SLATER_SECONDS, share(time_limit)))
    t0 = time.perf_counter()
    at_vertices = vertex_margin(problem, check, x_box, budget)
    if at_vertices is not None and at_vertices > MARGIN:
        return min(at_vertices, 1.0), None
    budget = max(1.0, budget - (time.perf_counter() - t0))  # the bilevel check gets what is left
    structure = detect(check)
    reduction = reduction_for(structure)
    lifted = reduction.apply(check, structure, time_limit=budget)
    if lifted.hpr.get("infeasible"):
        return None, None  # no x has a feasible follower: nothing for the KKT model to miss
    out = solve_single_level(lifted.slm, time_limit=budget, feastol=reduction.feastol)
    if out.status == "infeasible":
        return None, None
    bound = out.bound if out.bound is not None else (out.objective if out.status == "optimal" else None)
    if bound is not None and bound > MARGIN:
        return min(bound, 1.0), None
    at = "" if out.status != "optimal" else f" (the margin is {out.objective:.3g} at some x)"
    return None, (f"Slater's condition not proven for the curved follower rows ({names}){at}: where it "
                  "fails the follower's optimum can have no KKT multipliers, so the KKT model may miss it")


SLATER_SECONDS = 30.0  # the Slater check's budget without a time limit
MAX_VERTICES = 64  # the most box vertices ``vertex_margin`` solves at
VERTEX_SECONDS = 2.0  # per vertex
BOX_SECONDS = 5.0  # at most this long for the follower's box (``follower_box``)


def vertex_margin(problem: BilevelProblem, check: BilevelProblem, x_box: list | None,
                  budget: float = SLATER_SECONDS) -> float | None:
    """The least margin over the vertices of ``x_box`` (a lower bound on the margin at
    every x in the box), or None where that does not hold or is not known: a row not
    jointly concave in (x, y), an unbounded x, too many vertices, or a vertex where the
    follower is infeasible (the bilevel check then decides). All solves together take at
    most ``budget`` seconds."""
    box = x_box or [(v.lb, v.ub) for v in problem.model.x.values()]
    if any(lo is None or hi is None for lo, hi in box) or 2 ** len(box) > MAX_VERTICES:
        return None
    if not all(_jointly_concave(c, problem) for c in problem.g):
        return None
    vertices = list(itertools.product(*[sorted({float(lo), float(hi)}) for lo, hi in box]))
    seconds = min(VERTEX_SECONDS, budget / len(vertices))
    least = math.inf
    for vertex in vertices:
        out, _, _ = solve_follower(check, np.array(vertex), time_limit=seconds)
        if not out.has_solution or out.objective is None:
            return None  # any point found proves a margin: no proof of optimality is needed
        least = min(least, -out.objective - MARGIN)  # a Slater point found there, less a tolerance
    return least


def _jointly_concave(c: Constraint, problem: BilevelProblem) -> bool:
    """``c.body`` is affine, or concave quadratic, or a cone, jointly in (x, y)."""
    d = degree(c.body)
    if d is not None and d <= 1:
        return True
    if c.kind == "eq":
        return False
    cone = soc_row(c)
    if cone is not None:
        dt = degree(cone.t)
        return dt is not None and dt <= 1
    if d == 2:
        return is_psd(-joint_hessian(c.body, problem))
    return False


def multiplier_bound(problem: BilevelProblem, margin: float, time_limit: float | None):
    """``(bound, box)``: a bound on the sum of the curved rows' multipliers at every
    follower optimum, and a box (per y: (lo, hi)) holding the follower's feasible set for
    every leader x; ``(None, box or None)`` when the set has no finite box.

    Slater's point ȳ (every curved row >= ``margin``) gives, for any KKT multipliers at
    an optimum y*, ``margin·Σσ <= f(ȳ) − f(y*)`` (the Lagrangian is minimised at y*), and
    both points lie in the follower's feasible set: f's range over the box bounds it."""
    slm, mapping = _follower_set(problem)
    box = follower_box(problem, slm, time_limit)
    if box is None:
        return None, None
    for j, (lo, hi) in enumerate(box):
        slm.m.y[j].setlb(lo)
        slm.m.y[j].setub(hi)
    lo, hi = compute_bounds_on_expr(substitute(problem.f, mapping))
    if lo is None or hi is None:
        return None, box
    return (hi - lo) / margin * (1 + 1e-6) + 1e-9, box


def follower_box(problem: BilevelProblem, slm: SingleLevelModel, time_limit: float | None) -> list | None:
    """Per y, (lo, hi) over ``slm`` (``_follower_set``: the union of the follower's feasible
    sets for x in its bounds and the leader's rows in x alone; FBBT, then SCIP's proven
    bounds widened by a hair), or None when some y is unbounded there (or time runs out)."""
    try:
        fbbt(slm.m, deactivate_satisfied_constraints=False)
    except Exception:  # FBBT refuses some models (e.g. infeasible bounds): SCIP decides below
        pass
    budget = min(BOX_SECONDS, SLATER_SECONDS if time_limit is None else time_limit)
    seconds = budget / max(1, 2 * problem.n_y)
    box = []
    for j in range(problem.n_y):
        v = slm.m.y[j]
        if v.lb is not None and v.ub is not None:
            box.append((float(v.lb), float(v.ub)))
            continue
        ends = []
        for sign in (1.0, -1.0):
            slm.minimize(sign * v)
            out = solve_single_level(slm, time_limit=seconds)
            slm.m.del_component(slm.m.obj)
            if out.status == "infeasible":
                return None
            if out.bound is None or abs(out.bound) >= SOLVER_INFINITY:
                return None
            ends.append(sign * out.bound)
        lo, hi = ends
        pad = 1e-6 * max(1.0, abs(lo), abs(hi))
        box.append((lo - pad, hi + pad))
    return box


def _follower_set(problem: BilevelProblem):
    """A model of {(x, y): x in its bounds and the leader's rows in x alone, g(x, y)}."""
    slm = SingleLevelModel(f"{problem.name}:follower_set")
    m = slm.m
    m.x = pyo.Var(range(problem.n_x), dense=True)
    m.y = pyo.Var(range(problem.n_y), dense=True)
    mapping = {}
    for src, dst in ((problem.model.x, m.x), (problem.model.y, m.y)):
        for i, v in src.items():
            dst[i].setlb(v.lb)
            dst[i].setub(v.ub)
            mapping[id(v)] = dst[i]
    for c in _x_rows(problem) + list(problem.g):
        body = substitute(c.body, mapping)
        if not isinstance(body, (int, float)):
            slm.add(_relation(body, c.kind))
    return slm, mapping
