"""Value-function cuts for followers with integer variables (used by ``value_function``).

For a follower point ŷ, every bilevel-feasible (x, y) satisfies

    f(x, y) <= f(x, ŷ)    or    ŷ is infeasible for the follower at x,

and "ŷ infeasible at x" means "g_j(x, ŷ) < 0 for some row j" (for an equality row,
"body != 0"). The strict inequality is what a MILP cannot state; two cases make it exact:

* an **integer-linking row** — linear, its x entries integer with integer coefficients —
  reads s + k with s = a·x an integer and k the constant (ŷ's entries included, of any
  kind), so "< 0" is exactly "s <= ceil(-k) - 1", i.e. "body <= -δ" with
  δ = 1 - (ceil(-k) + k) in (0, 1] (δ = 1 for integer k; "!= 0" is "<= -1 or >= 1"):
  the disjunctive cut of DeNegre & Ralphs (2009) and the response cut of Zeng & An (2014)
  / Yue, Gao, Zeng & You (2019), here for mixed-integer followers too;
* any other row is met by ŷ with slack ``eps > 0`` at the relaxation's x*: "<= 0" is then
  valid (a bilevel point where ŷ fails the row has the row below 0) and still false at x*.

With every row that can fail integer-linking, the cut at x* with the follower's optimum
ŷ there leaves no y worse for the follower than ŷ at x*, so each x* is cut at most once
and the loop ends after finitely many relaxations (x bounded). Otherwise the cut point is
moved strictly inside the other rows (``strict_cut_point``) and the loop is a
cutting-plane method whose bound and certified incumbent meet in the limit.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr
from pyomo.core.expr.visitor import identify_variables
from pyomo.repn import generate_standard_repn

from ..backends import solve_single_level
from ..backends.single_level import Indicator, substitute
from ..core.certify import follower_model
from ..problem import BilevelProblem

INTEGRAL_TOL = 1e-9  # a coefficient within this of an integer counts as integer
FEASIBLE_EVERYWHERE = 1e-9  # a row this close to holding over the whole x box needs no term
SNAP_TOL = 1e-7  # a row constant this close (relative) to an integer is that integer (0.4999999995 is 0.5)
CUTS_OFF = 1e-9  # a cut point must beat y* for the follower by this (relative) to cut it off


def integer_linking_rows(problem: BilevelProblem, rows) -> set[str]:
    """Names of the rows (``problem.Constraint`` objects) that are linear with every x
    entry integer and its coefficient an integer (y entries may be anything)."""
    x_ids = {id(problem.x[i]) for i in range(problem.n_x)}
    out = set()
    for c in rows:
        repn = generate_standard_repn(c.body, quadratic=False)
        if repn.nonlinear_expr is not None or repn.quadratic_vars:
            continue
        if all(not v.is_continuous() and abs(a - round(a)) <= INTEGRAL_TOL
               for v, a in zip(repn.linear_vars, map(float, repn.linear_coefs)) if id(v) in x_ids):
            out.add(c.name)
    return out


def strict_rows(problem: BilevelProblem, linking: set[str]) -> list[str]:
    """Follower rows with x and y that are not integer-linking: their cut points must be
    moved strictly inside (``strict_cut_point``), and the loop converges only in the limit."""
    y_ids = {id(v) for v in problem.y}
    return [c.name for c in problem.g if c.name not in linking and _moves_with_x(problem, c)
            and _ids(c.body) & y_ids]


def _strict_step(body) -> float:
    """δ of the module docstring for an integer-linking row's body with ŷ fixed."""
    k = float(generate_standard_repn(body, quadratic=False).constant)
    if abs(k - round(k)) <= SNAP_TOL * max(1.0, abs(k)):  # a continuous ŷ entry's LP noise
        return 1.0
    return 1.0 - (math.ceil(-k) + k)


def round_integers(problem: BilevelProblem, y) -> np.ndarray:
    """``y`` inside its bounds, integer entries rounded (a solver's 0.9999999 is 1)."""
    y = np.asarray(y, dtype=float).copy()
    for j in range(problem.n_y):
        v = problem.y[j]
        if not v.is_continuous():
            y[j] = round(y[j])
        y[j] = min(max(y[j], -math.inf if v.lb is None else v.lb), math.inf if v.ub is None else v.ub)
    return y


def _at(lifted, y_hat) -> dict:
    problem, m = lifted.problem, lifted.slm.m
    mapping = {id(problem.x[i]): m.x[i] for i in range(problem.n_x)}
    mapping.update({id(problem.y[j]): float(y_hat[j]) for j in range(problem.n_y)})
    return mapping


def add_response_cut(lifted, y_hat, f_model, linking: set[str], k: int) -> str:
    """Add "f(x, y) <= f(x, ŷ) or ŷ infeasible at x" to the relaxation (module
    docstring); rows that cannot fail anywhere in the model's x box need no term, and with
    none left the plain cut is added. Returns "value-function cut" or "disjunctive cut"."""
    problem, slm, m = lifted.problem, lifted.slm, lifted.slm.m
    mapping = _at(lifted, y_hat)
    terms = []
    for c in lifted.lower:
        body = substitute(c.body, mapping)
        if isinstance(body, (int, float)):
            continue
        lo, hi = compute_bounds_on_expr(body)
        tol = FEASIBLE_EVERYWHERE * max(1.0, abs(lo or 0.0))
        if c.kind == "ge" and (lo is None or lo < -tol):
            step = _strict_step(body) if c.name in linking else 0.0  # "< 0" as "<= -δ"
            terms.append(body + step)  # body + step <= 0
        elif c.kind == "eq" and (lo is None or hi is None or abs(lo) > tol or abs(hi) > tol):
            step = 1.0 if c.name in linking else 0.0
            terms += [body + step, step - body]
    if not hasattr(m, "vf_cuts"):
        m.vf_cuts = pyo.ConstraintList()
    f_hat = substitute(problem.f, mapping)
    if not terms:
        m.vf_cuts.add(f_model <= f_hat)
        return "value-function cut"
    if not hasattr(m, "vf_z"):
        m.vf_z = pyo.Var(pyo.Any, dense=False, domain=pyo.Binary)
        m.vf_pick = pyo.ConstraintList()
    zs = [m.vf_z[(k, -1)]]
    slm.indicators.append(Indicator(zs[0], 1, f_model - f_hat, "le"))
    for j, body in enumerate(terms):
        zs.append(m.vf_z[(k, j)])
        slm.indicators.append(Indicator(zs[-1], 1, body, "le"))
    m.vf_pick.add(sum(zs) >= 1)
    return "disjunctive cut"


def strict_cut_point(problem: BilevelProblem, x, y_hat, linking: set[str], f_here: float,
                     f_star: float, time_limit=None):
    """A cut point for the relaxation's (x*, y*): ``y_hat`` (the follower's optimum at x*)
    when it meets every non-linking row that involves x with slack; else a follower
    point at x* that does (those rows tightened by eps): the first, from the largest eps
    down, better for the follower than y* by half the gap, else the best one better than
    y* at all (it still cuts y* off); None if there is none."""
    scale = max(1.0, float(np.abs(np.asarray(x, float)).max(initial=0.0)))
    problem.set_point(x, y_hat)
    names = set(strict_rows(problem, linking))
    loose = [c for c in problem.g if c.name in names]
    if all(c.kind == "ge" and pyo.value(c.body) >= 1e-6 * scale for c in loose):
        return y_hat
    fallback = None  # (objective, point) of the best point that cuts y* off by less
    for eps in (1e-3, 1e-4, 1e-5, 1e-6):
        slm, rows = follower_model(problem, x)
        tighten = {c.name for c in loose if c.kind == "ge"}
        for name, con in rows:
            if name in tighten:
                con.set_value((eps * scale, con.body, None))
        out = solve_single_level(slm, time_limit=time_limit)
        if not (out.has_solution and out.objective is not None):
            continue
        point = round_integers(problem, [out.values[id(slm.m.y[j])] for j in range(problem.n_y)])
        if out.objective < f_here - 0.5 * (f_here - f_star):
            return point
        if out.objective < f_here - CUTS_OFF * max(1.0, abs(f_here)) and \
                (fallback is None or out.objective < fallback[0]):
            fallback = (out.objective, point)
    return None if fallback is None else fallback[1]


def _ids(expr) -> set[int]:
    return {id(v) for v in identify_variables(expr, include_fixed=False)}


def _moves_with_x(problem, c) -> bool:
    return bool(_ids(c.body) & {id(problem.x[i]) for i in range(problem.n_x)})


__all__ = ["integer_linking_rows", "strict_rows", "round_integers", "add_response_cut",
           "strict_cut_point"]
