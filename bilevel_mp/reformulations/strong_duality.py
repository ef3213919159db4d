"""Strong-duality reformulation for LP and convex-QP followers.

For a follower  min ½ yᵀQy + c(x)ᵀy + d(x)  s.t.  g(x, y) = A(x) y + r(x) >= 0 (or = 0),
primal feasibility, dual feasibility (the stationarity rows Qy + c(x) = A(x)ᵀλ, λ >= 0
on inequalities) and "primal value <= dual value" together are equivalent to
optimality. With d(x) = f(x, 0) and r(x) = g(x, 0) the gap condition reads

    f(x, y) - f(x, 0) + ½ yᵀQy + Σ_j λ_j g_j(x, 0) <= 0,

bilinear in (λ, x) when r depends on x: a nonconvex constraint that SCIP solves
globally. No complementarity and no big-M are needed.
"""

from __future__ import annotations

import pyomo.environ as pyo

from ..errors import UnsupportedStructureError
from ..problem import BilevelProblem
from ..single_level import substitute
from ..structure import Structure, degree, detect, fixed, y_hessian
from .base import Lifted, lift
from .kkt import add_stationarity


class StrongDuality:
    """Primal feasibility + dual feasibility + (primal objective <= dual objective)."""

    name = "strong_duality"

    def accepts(self, structure: Structure) -> bool:
        return structure.lower in ("linear", "convex_quadratic")

    def apply(self, problem: BilevelProblem, structure: Structure | None = None,
              time_limit: float | None = None) -> Lifted:
        structure = structure or detect(problem)
        if not self.accepts(structure):
            raise UnsupportedStructureError(
                f"strong duality needs an LP or convex-QP follower; this one is {structure.lower}"
            )
        lifted = lift(problem, "strong_duality", "strong_duality", time_limit=time_limit)
        with fixed(problem.x):
            for c in lifted.lower:
                if degree(c.body) is None or degree(c.body) > 1:
                    raise UnsupportedStructureError(
                        f"strong duality needs follower constraints linear in y; {c.name} is not"
                    )
        if degree(problem.f) is None or degree(problem.f) > 2:
            raise UnsupportedStructureError(
                "strong duality needs a follower objective whose Hessian in y is constant"
            )
        ge, eq = add_stationarity(lifted)
        m = lifted.slm.m
        zero_y = {id(problem.y[j]): 0.0 for j in range(problem.n_y)}
        Q = y_hessian(problem.f, problem)
        ys = [m.y[j] for j in range(problem.n_y)]
        quad = 0.5 * sum(Q[i, j] * ys[i] * ys[j] for i in range(len(ys)) for j in range(len(ys)) if Q[i, j])
        dual_terms = [m.lam[k] * lifted.sub(substitute(c.body, zero_y)) for k, c in enumerate(ge)]
        dual_terms += [m.mu[k] * lifted.sub(substitute(c.body, zero_y)) for k, c in enumerate(eq)]
        gap = lifted.sub(problem.f) - lifted.sub(substitute(problem.f, zero_y)) + quad + sum(dual_terms)
        m.strong_duality = pyo.Constraint(expr=gap <= 0)
        return lifted
