"""Interdiction cuts: a value-function cut valid at every x, for followers the leader can
only switch off.

The structure (``blocking_structure``): every follower variable has lower bound 0 and
y ≥ 0 only moves rows towards feasibility when lowered ("packing" rows a'y <= b, a >= 0,
without x), and the leader enters the follower's problem only through blocking rows
``y_j <= u_j (1 - x_i)`` with x_i binary (one row per y_j at most); the follower's
objective is linear with no x-y products. Knapsack, assignment-free packing and
facility-closing interdiction games have it (Fischetti, Ljubić, Monaci & Sinnl 2019,
"Interdiction games and monotonicity").

For a follower point ŷ feasible at some x̂, the point z(x) = ŷ with every blocked entry
set to 0 (``z_j = ŷ_j (1 - x_i)``) is feasible for the follower at every x, so

    f(x, y) <= f(x, z(x)) = c'x + Σ_j d_j ŷ_j (1 - x_i(j)) + Σ_unblocked d_j ŷ_j + f0

holds at every bilevel-feasible point: a linear cut (no binaries) that equals the plain
value-function cut wherever ŷ itself is feasible, and is still a bound where it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyomo.repn import generate_standard_repn

from ..problem import BilevelProblem

TOL = 1e-12


@dataclass(frozen=True)
class Blocking:
    """``blocked[j]`` is the leader index i whose x_i = 1 forces y_j = 0 (None: unblocked);
    ``d`` the follower objective's y coefficients (min form)."""

    blocked: tuple
    d: np.ndarray

    def cut(self, y_hat) -> tuple[dict, float]:
        """The interdiction cut of ``y_hat`` as ``d·y + Σ_i a_i x_i <= rhs``: returns
        ({i: a_i}, rhs) — f(x, y) <= f(x, z(x)) with f's x terms cancelled on both sides."""
        x_coefs: dict = {}
        for j, i in enumerate(self.blocked):
            coef = float(self.d[j] * y_hat[j])
            if i is not None and coef != 0.0:
                x_coefs[i] = x_coefs.get(i, 0.0) + coef
        return x_coefs, float(self.d @ np.asarray(y_hat, dtype=float))


def blocking_structure(problem: BilevelProblem) -> Blocking | None:
    """The structure of the module docstring, or None when the follower does not have it."""
    y_ids = {id(problem.y[j]): j for j in range(problem.n_y)}
    x_ids = {id(problem.x[i]): i for i in range(problem.n_x)}
    if any(problem.y[j].lb != 0 for j in range(problem.n_y)):
        return None
    d = _linear_y(problem.f, y_ids, x_ids)
    if d is None:
        return None
    blocked: list = [None] * problem.n_y
    for c in problem.g:
        repn = generate_standard_repn(c.body, quadratic=False)
        if repn.nonlinear_expr is not None or c.kind != "ge":
            return None
        ys = [(y_ids[id(v)], a) for v, a in zip(repn.linear_vars, repn.linear_coefs) if id(v) in y_ids]
        xs = [(x_ids[id(v)], a) for v, a in zip(repn.linear_vars, repn.linear_coefs) if id(v) in x_ids]
        if not xs:
            if any(a > TOL for _, a in ys):  # raising nothing may break the row when lowered
                return None
            continue
        if not ys:
            continue  # a row on x alone restricts the leader
        if len(xs) != 1 or len(ys) != 1:
            return None
        (i, beta), (j, gamma) = xs[0], ys[0]
        alpha = float(repn.constant)
        xi = problem.x[i]
        binary = not xi.is_continuous() and xi.lb == 0 and xi.ub == 1
        # alpha + beta x_i + gamma y_j >= 0 is y_j <= (alpha / -gamma)(1 - x_i)
        if not (binary and gamma < -TOL and alpha >= 0 and abs(alpha + beta) <= TOL * max(1.0, alpha)):
            return None
        if blocked[j] is not None:
            return None
        blocked[j] = i
    if all(b is None for b in blocked):
        return None
    return Blocking(tuple(blocked), d)


def _linear_y(f, y_ids, x_ids) -> np.ndarray | None:
    """y coefficients of a linear f with no x-y products, else None."""
    repn = generate_standard_repn(f, quadratic=False)
    if repn.nonlinear_expr is not None:
        return None
    d = np.zeros(len(y_ids))
    for v, a in zip(repn.linear_vars, repn.linear_coefs):
        if id(v) in y_ids:
            d[y_ids[id(v)]] += float(a)
        elif id(v) not in x_ids:
            return None
    return d


def add_interdiction_cut(lifted, blocking: Blocking, y_hat) -> str:
    """Add f(x, y) <= f(x, z(x)) (module docstring) to the relaxation; returns its label."""
    m = lifted.slm.m
    x_coefs, rhs = blocking.cut(y_hat)
    d = blocking.d
    m.vf_cuts.add(sum(float(d[j]) * m.y[j] for j in range(len(d)) if d[j] != 0.0)
                  + sum(a * m.x[i] for i, a in x_coefs.items()) <= rhs)
    return "interdiction cut"
