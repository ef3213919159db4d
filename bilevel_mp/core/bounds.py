"""Proven bounds for big-M values, never guessed.

A follower slack s_j = g_j(x, y) is bounded above by its maximum over the high-point
relaxation (leader and follower constraints together, no optimality): an LP when the
relaxation is linear, solved by HiGHS; interval arithmetic on the variable bounds
otherwise (Pyomo's FBBT). Both are valid upper bounds at every bilevel-feasible
point, so a big-M built on them cannot cut off the optimum.

Multipliers are different: the follower's dual polyhedron is unbounded in every
direction a box dual can compensate, and proving a bound is as hard as the bilevel
problem itself (Kleinert, Labbé, Plein & Schmidt 2020, "There's no free lunch").
So dual bounds are only ever taken from the user, and a model built on them is
flagged as resting on that assumption.
"""

from __future__ import annotations

import math
import time

from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr, fbbt

from ..backends import highs
from ..backends.single_level import SingleLevelModel


BOUND_SHARE = 0.25  # the share of a solve's time limit each bound-tightening pass may use


def share(time_limit: float | None) -> float | None:
    """Seconds for one bound-tightening pass of a solve with ``time_limit``."""
    return None if time_limit is None else BOUND_SHARE * time_limit


def slack_upper_bounds(slm: SingleLevelModel, bodies: list, names: list[str],
                       time_limit: float | None = None) -> dict[str, float]:
    """Upper bound on each follower slack ``bodies[k]`` (over ``slm``'s variables):
    name -> bound, ``inf`` when none.

    ``slm`` must hold the high-point relaxation only (before any optimality system is
    added): an LP over it when it is linear, interval arithmetic otherwise."""
    out = {n: _interval_ub(b) for n, b in zip(names, bodies)}
    if highs.available() and highs.accepts(slm) and all(_is_linear(b) for b in bodies):
        lp = highs.extreme_values(slm, bodies, time_limit=time_limit)
        for n, v in zip(names, lp):
            if v is None:  # relaxation infeasible: nothing to bound
                break
            out[n] = min(out[n], max(0.0, v))
    return out


def _interval_ub(expr) -> float:
    if isinstance(expr, (int, float)):
        return float(expr)
    _, ub = compute_bounds_on_expr(expr)
    return math.inf if ub is None else max(0.0, float(ub))


def _is_linear(expr) -> bool:
    if isinstance(expr, (int, float)):
        return True
    d = expr.polynomial_degree()
    return d is not None and d <= 1


def tighten_variable_bounds(slm: SingleLevelModel, variables: list, names: list[str],
                            time_limit: float | None = None) -> dict:
    """Shrink the bounds of ``variables`` (named ``names``) to their range over the
    high-point relaxation held by ``slm`` (every bilevel-feasible point lies in it, so
    nothing is cut off).

    Linear relaxations: one LP per bound (HiGHS), all within ``time_limit`` (bounds not
    reached in time stay as they were); others: Pyomo's FBBT. Bounds are widened by a
    hair (1e-7 relative) so solver tolerances cannot cut the optimum.
    Returns ``{"infeasible": bool, "unbounded": [names of variables left unbounded]}``."""
    m = slm.m
    info = {"infeasible": False, "unbounded": []}
    if not variables:
        return info
    if highs.available() and highs.accepts(slm):
        t0 = time.perf_counter()
        ups = highs.extreme_values(slm, variables, time_limit=time_limit)
        if ups and ups[0] is None:
            info["infeasible"] = True
            return info
        left = None if time_limit is None else max(0.0, time_limit - (time.perf_counter() - t0))
        downs = highs.extreme_values(slm, [-v for v in variables], time_limit=left)
        for v, up, down in zip(variables, ups, downs):
            if math.isfinite(up):
                hi = up + 1e-7 * max(1.0, abs(up))
                v.setub(hi if v.ub is None else min(v.ub, hi))
            if down is not None and math.isfinite(down):
                lo = -down - 1e-7 * max(1.0, abs(down))
                v.setlb(lo if v.lb is None else max(v.lb, lo))
    else:
        try:
            fbbt(m, deactivate_satisfied_constraints=False)
        except Exception:  # FBBT refuses some models (e.g. infeasible bounds); keep the originals
            pass
    info["unbounded"] = [n for n, v in zip(names, variables) if v.lb is None or v.ub is None]
    return info
