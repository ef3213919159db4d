"""Value-function cuts for followers with integer variables (used by ``value_function``).

For a follower point ŷ, every bilevel-feasible (x, y) satisfies

    f(x, y) <= f(x, ŷ)    or    ŷ is infeasible for the follower at x,

and "ŷ infeasible at x" means "g_j(x, ŷ) < 0 for some row j" (for an equality row,
"body != 0"). The strict inequality is what a MILP cannot state; two cases make it exact:

* an **integral row** — every variable in it integer with an integer coefficient, and an
  integer constant — takes integer values once ŷ's integer entries are fixed, so "< 0" is
  exactly "<= -1" (and "!= 0" is "<= -1 or >= 1"): the disjunctive cut of DeNegre &
  Ralphs (2009) and the response cut of Zeng & An (2014) / Yue, Gao, Zeng & You (2019);
* any other row is met by ŷ with slack ``eps > 0`` at the relaxation's x*: "<= 0" is then
  valid (a bilevel point where ŷ fails the row has the row below 0) and still false at x*.

With every row that can fail integral, each response ŷ (the follower's optimum at some x*)
is cut at most once: once cut, no x where ŷ is feasible can carry a y worse for the
follower than ŷ, so the loop ends after finitely many cuts. Otherwise the cut point is
moved strictly inside the non-integral rows (``strict_cut_point``) and the loop is a
cutting-plane method whose bound and certified incumbent meet in the limit.
"""

from __future__ import annotations

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


def has_integer_follower(problem: BilevelProblem) -> bool:
    """Some follower variable is integer."""
    return any(not problem.y[j].is_continuous() for j in range(problem.n_y))


def integral_rows(problem: BilevelProblem, rows) -> set[str]:
    """Names of the rows (``problem.Constraint`` objects) whose body is linear with only
    integer variables, integer coefficients and an integer constant."""
    out = set()
    for c in rows:
        repn = generate_standard_repn(c.body, quadratic=False)
        if repn.nonlinear_expr is not None or repn.quadratic_vars:
            continue
        numbers = [float(repn.constant)] + [float(a) for a in repn.linear_coefs]
        if all(not v.is_continuous() for v in repn.linear_vars) and \
                all(abs(a - round(a)) <= INTEGRAL_TOL for a in numbers):
            out.add(c.name)
    return out


def round_integers(problem: BilevelProblem, y) -> np.ndarray:
    """``y`` with its integer entries rounded (a solver's 0.9999999 is 1)."""
    y = np.asarray(y, dtype=float).copy()
    for j in range(problem.n_y):
        if not problem.y[j].is_continuous():
            y[j] = round(y[j])
    return y


def _at(lifted, y_hat) -> dict:
    problem, m = lifted.problem, lifted.slm.m
    mapping = {id(problem.x[i]): m.x[i] for i in range(problem.n_x)}
    mapping.update({id(problem.y[j]): float(y_hat[j]) for j in range(problem.n_y)})
    return mapping


def add_response_cut(lifted, y_hat, f_model, integral: set[str], k: int) -> str:
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
        step = 1.0 if c.name in integral else 0.0  # "< 0" as "<= -1" on an integral row
        if c.kind == "ge" and (lo is None or lo < -tol):
            terms.append(body + step)  # body + step <= 0
        elif c.kind == "eq" and (lo is None or hi is None or abs(lo) > tol or abs(hi) > tol):
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


def strict_cut_point(problem: BilevelProblem, x, y_hat, integral: set[str], f_here: float,
                     f_star: float, time_limit=None):
    """A cut point for the relaxation's (x*, y*): ``y_hat`` (the follower's optimum at x*)
    when it meets every non-integral row that involves x with slack; else a follower
    point at x* that does (those rows tightened by eps) and is still better for the
    follower than y* by half the gap; None if there is none."""
    scale = max(1.0, float(np.abs(np.asarray(x, float)).max(initial=0.0)))
    problem.set_point(x, y_hat)
    loose = [c for c in problem.g if c.name not in integral and _moves_with_x(problem, c)]
    if all(c.kind == "ge" and pyo.value(c.body) >= 1e-6 * scale for c in loose):
        return y_hat
    for eps in (1e-3, 1e-4, 1e-5, 1e-6):
        slm, rows = follower_model(problem, x)
        tighten = {c.name for c in loose if c.kind == "ge"}
        for name, con in rows:
            if name in tighten:
                con.set_value((eps * scale, con.body, None))
        out = solve_single_level(slm, time_limit=time_limit)
        if out.has_solution and out.objective is not None and \
                out.objective < f_here - 0.5 * (f_here - f_star):
            return round_integers(problem, [out.values[id(slm.m.y[j])] for j in range(problem.n_y)])
    return None


def _ids(expr) -> set[int]:
    return {id(v) for v in identify_variables(expr, include_fixed=False)}


def _moves_with_x(problem, c) -> bool:
    return bool(_ids(c.body) & {id(problem.x[i]) for i in range(problem.n_x)})


__all__ = ["has_integer_follower", "integral_rows", "round_integers", "add_response_cut",
           "strict_cut_point"]
