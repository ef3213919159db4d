"""The certificate's check of the follower duals the leader uses (``BilevelProblem.dual_of``).

At the returned (x, y), with y certified follower-optimal, the linked values must be part
of a multiplier vector of the follower's KKT system:

    ∇_y f(x, y) = Σ_j λ_j ∇_y g_j(x, y) + Σ_k μ_k ∇_y h_k(x, y),   λ >= 0,
    λ_j = 0 where g_j(x, y) > 0 (inactive),   λ_j, μ_k = the linked values where linked.

The multipliers that are not linked are free (the leader never sees them): an LP over them
minimises the stationarity residual ‖r‖₁, and the check passes when ‖r‖∞ and the linked
multipliers' complementarity ``λ_j · g_j`` are within ``tol`` of the problem's scale.
With followers in a coupled game each follower's rows and objective enter the rows of its
own variables only.
For a convex follower these multipliers are exactly its optimal duals, so a passing check
means the leader's prices are prices the follower's problem really has at x.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.calculus.derivatives import Modes, differentiate
from scipy.optimize import linprog

from ..problem import BilevelProblem, split_lower


def _gradient(expr, ys) -> np.ndarray:
    if isinstance(expr, (int, float)):
        return np.zeros(len(ys))
    return np.array([float(d) for d in differentiate(expr, wrt_list=ys, mode=Modes.reverse_numeric)])


def check_linked_duals(problem: BilevelProblem, x, y, tol: float) -> tuple[float, str, dict]:
    """(worst violation relative to scale, message, multipliers); the message is empty when
    the worst violation is within ``tol``, and the multipliers (constraint name -> value,
    the linked ones included) are then one vector of the follower's KKT system at (x, y).
    The linked values are those held by ``problem.dual_links``, every one set (``certify``
    refuses a point before that)."""
    values = problem.dual_values()
    problem.set_point(x, y)
    ys = list(problem.y)
    lower, _ = split_lower(problem)
    grad_f = _gradient(problem.f, ys)
    owner_of_y = row_owner = None
    if problem.coupled:  # a game: each follower's stationarity in its own variables
        owner_of_y, row_owner = np.array(problem.y_owners()), problem.row_owners()
        for fol in problem.followers:
            own = list(fol.y)
            grad_f[own] = _gradient(fol.f, ys)[own]
    rows, bounds, compl = [], [], 0.0
    xy_scale = max(1.0, float(np.abs(np.concatenate([np.ravel(x), np.ravel(y)])).max(initial=0.0)))
    scale = max(1.0, float(np.abs(grad_f).max(initial=0.0)))
    for c in lower:
        grad = _gradient(c.body, ys)
        if row_owner is not None:
            grad = np.where(owner_of_y == row_owner[c.name], grad, 0.0)
        slack = float(pyo.value(c.body))
        inactive = c.kind == "ge" and slack > tol * xy_scale
        if c.name in values:
            v = float(values[c.name])
            scale = max(scale, abs(v) * float(np.abs(grad).max(initial=0.0)))
            if c.kind == "ge" and v < 0:
                compl = max(compl, -v)
            if inactive:
                compl = max(compl, abs(v) * slack / max(1.0, abs(float(pyo.value(problem.f)))))
            bounds.append((v, v))
        elif inactive:
            bounds.append((0.0, 0.0))
        else:
            bounds.append((0.0, None) if c.kind == "ge" else (None, None))
        rows.append(grad)
    n, m = len(ys), len(rows)
    A = np.array(rows).T if m else np.zeros((n, 0))
    # A λ + r⁺ - r⁻ = ∇f, minimise Σ r⁺ + r⁻
    A_eq = np.hstack([A, np.eye(n), -np.eye(n)])
    cost = np.concatenate([np.zeros(m), np.ones(2 * n)])
    out = linprog(cost, A_eq=A_eq, b_eq=grad_f, bounds=bounds + [(0.0, None)] * (2 * n), method="highs")
    if out.status != 0:
        return float("inf"), f"the stationarity check of the linked duals failed ({out.message})", {}
    residual = float(np.abs(A @ out.x[:m] - grad_f).max(initial=0.0)) / scale
    worst = max(residual, compl)
    if worst <= tol:
        return worst, "", {c.name: float(v) + 0.0 for c, v in zip(lower, out.x[:m])}
    if compl > residual:
        return worst, (f"the linked duals violate the follower's complementarity or sign by {compl:.3g}: "
                       "they are not the follower's multipliers at this (x, y)"), {}
    return worst, (f"no follower multiplier vector holds the linked duals: stationarity residual "
                   f"{residual:.3g} (relative)"), {}
