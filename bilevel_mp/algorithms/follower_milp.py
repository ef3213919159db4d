"""A linear follower (integer or continuous y) as arrays, re-solved by HiGHS at many x.

Built once from ``lplp_data.extract``; each ``solve(x)`` only moves the row bounds of one
kept-alive HiGHS model and is cached by x, so a branch-and-cut can ask for the
follower's optimum at every candidate point without building a model each time.
"""

from __future__ import annotations

import numpy as np

from ..backends.highs import ArrayLP
from ..problem import BilevelProblem
from .lplp_data import extract


class FollowerMILP:
    """min c·y  s.t.  D y >= -(A x + r),  E_D y = -(E_A x + E_r),  y_lb <= y <= y_ub,
    y_j integer where the problem says so (the follower of ``problem``, without f's
    terms in x alone, which every comparison at one x cancels)."""

    def __init__(self, problem: BilevelProblem, time_limit: float | None = 60.0):
        d = extract(problem)
        self.data = d
        self.c = d.c
        rows = np.vstack([d.D, d.E_D]) if d.p else d.D
        self.m = d.m
        lo, hi = self._bounds(np.zeros(problem.n_x))
        self.lp = ArrayLP(d.c, d.y_lb, d.y_ub, rows, lo, hi, time_limit=time_limit, presolve=True)
        self.integer = np.array(problem.y_is_integer())
        self.lp.integrality(self.integer)
        A = np.vstack([d.A, d.E_A]) if d.p else d.A
        self.linking = np.flatnonzero(np.abs(A).sum(axis=0) > 0)  # x entries the follower sees
        self.cache: dict = {}
        self.solves = 0

    def _bounds(self, x):
        d = self.data
        lo = -(d.A @ x + d.r)
        hi = np.full(d.m, np.inf)
        if d.p:
            e = -(d.E_A @ x + d.E_r)
            lo, hi = np.concatenate([lo, e]), np.concatenate([hi, e])
        return lo, hi

    def solve(self, x) -> tuple[str, float | None, np.ndarray | None]:
        """(status, c·ŷ, ŷ) of the follower at ``x``; status "optimal", "infeasible",
        "unbounded" or "other" (time limit, numerical trouble). ŷ's integer entries are
        rounded."""
        x = np.asarray(x, dtype=float)
        key = tuple(np.round(x[self.linking], 9))
        if key in self.cache:
            return self.cache[key]
        lo, hi = self._bounds(x)
        self.lp.row_bounds(np.arange(lo.size), lo, hi)
        if self.integer.any():
            # a kept-alive HiGHS MIP carries its last solve's incumbent and bound into the next
            # one: after the rows move it can stop at the old point as "optimal" (seen: -47 at
            # an x whose optimum is -75), so every solve starts from scratch
            self.lp.h.clearSolver()
        status = self.lp.run()
        self.solves += 1
        out = (status, None, None)
        if status == "optimal":
            y = self.lp.primal()
            y = np.where(self.integer, np.round(y), y)
            out = (status, float(self.c @ y), y)
        self.cache[key] = out
        return out
