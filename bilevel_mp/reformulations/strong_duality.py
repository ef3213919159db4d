"""Strong-duality reformulation for LP and convex-QP followers (and second-order cone
followers for the Slater check's own model, see ``StrongDuality``).

For a follower  min ½ yᵀQy + c(x)ᵀy + d(x)  s.t.  g(x, y) = A(x) y + r(x) >= 0 (or = 0),
primal feasibility, dual feasibility (the stationarity rows Qy + c(x) = A(x)ᵀλ, λ >= 0
on inequalities) and "primal value <= dual value" together are equivalent to
optimality. With d(x) = f(x, 0) and r(x) = g(x, 0) the gap condition reads

    f(x, y) - f(x, 0) + ½ yᵀQy + Σ_j λ_j g_j(x, 0) <= 0            (form "dual_objective")

bilinear in (λ, x) when r depends on x. Given stationarity the left side equals
Σ_j λ_j g_j(x, y), so the same condition can be written over slack variables
s_j = g_j(x, y) in [0, proven bound] as  Σ_j λ_j s_j <= 0              (form "gap").

Numerics (measured on 60 random LP-LP instances, n = 3..8, ``library.random_lplp``):
the dual-objective row alone, solved by SCIP's spatial branch-and-bound, failed on 34 of
them ("SCIP: error in LP solver", time limits, or points the certificate rejects), the
gap row alone on 11: the multipliers have no finite bounds, so branching on them builds
McCormick rows with huge coefficients. By default (``sos1=True``) each pair {s_j, λ_j} is therefore also given to
SCIP as an SOS1 set: SCIP then branches on the complementarity that the gap row
implies, and the row acts as a cut. With it all 60 instances agree with the KKT modes.
``StrongDuality(sos1=False)`` gives the pure formulation. No big-M is used either way.
"""

from __future__ import annotations

import math

import pyomo.environ as pyo

from ..core.lifted import HPR, Lifted, lift
from ..cones import follower_cones
from ..errors import UnsupportedStructureError
from ..problem import BilevelProblem
from ..backends import scip
from ..backends.single_level import Substitution
from ..structure import Structure, degree, fixed, y_hessian
from .stationarity import add_stationarity


class StrongDuality:
    """Primal feasibility + dual feasibility + (primal objective <= dual objective).

    form : "dual_objective" (default) or "gap" (see module docstring)
    sos1 : also state the complementarity as SOS1 sets (default True, see numerics note)
    cones : accept second-order cone followers. Only for the Slater check's own model
        (``slater.margin_problem``, whose leader minimises the follower's objective): the gap
        row holds y optimal to its tolerance only, and along a curved boundary y then drifts
        by √tol and moves another F by as much (measured: F 5e-5 below the optimum on a
        disk follower), so a user's cone follower goes to KKT, whose Jordan rows pin y.
    """

    name = "strong_duality"
    # SCIP's feasibility tolerance for the single-level model: at its default 1e-6 the
    # duality row of a QP follower lets (x, y) sit ~1e-5 off the optimum while "optimal"
    feastol = scip.TIGHT_FEASTOL

    def __init__(self, form: str = "dual_objective", sos1: bool = True, cones: bool = False):
        if form not in ("gap", "dual_objective"):
            raise ValueError(f"form must be 'gap' or 'dual_objective', got {form!r}")
        self.form = form
        self.sos1 = sos1
        self.cones = cones

    def accepts(self, structure: Structure) -> bool:
        if structure.lower_cones:  # a conic follower: its only curved rows are the cones
            return (self.cones and structure.lower_convex
                    and structure.lower_rows_curved == structure.lower_cones)
        return structure.lower in ("linear", "convex_quadratic")

    mode_label = None

    def apply(self, problem: BilevelProblem, structure: Structure,
              time_limit: float | None = None, cache: HPR | None = None) -> Lifted:
        if not self.accepts(structure):
            raise UnsupportedStructureError(
                f"strong duality needs an LP or convex-QP follower; this one is {structure.lower}"
            )
        lifted = lift(problem, "strong_duality", "strong_duality", time_limit=time_limit, cache=cache)
        cones = follower_cones(problem) if structure.lower_cones else {}
        with fixed(problem.x):
            for c in lifted.lower:
                if c.name not in cones and (degree(c.body) is None or degree(c.body) > 1):
                    raise UnsupportedStructureError(
                        f"strong duality needs follower constraints linear in y; {c.name} is not"
                    )
        if degree(problem.f) is None or degree(problem.f) > 2:
            raise UnsupportedStructureError(
                "strong duality needs a follower objective whose Hessian in y is constant"
            )
        slack_ub = lifted.slack_bounds(time_limit)
        ge, eq = add_stationarity(lifted, cones, cone_complementarity=False)
        cone_list = list(cones.values())
        m = lifted.slm.m
        if self.form == "dual_objective":
            at_zero_y = Substitution({id(problem.y[j]): 0.0 for j in range(problem.n_y)})
            Q = y_hessian(problem.f, problem)
            ys = [m.y[j] for j in range(problem.n_y)]
            quad = 0.5 * sum(Q[i, j] * ys[i] * ys[j] for i in range(len(ys)) for j in range(len(ys)) if Q[i, j])
            dual_terms = [m.lam[k] * lifted.sub(at_zero_y(c.body)) for k, c in enumerate(ge)]
            dual_terms += [m.mu[k] * lifted.sub(at_zero_y(c.body)) for k, c in enumerate(eq)]
            dual_terms += _cone_products(lifted, cone_list, at_zero_y)  # at y = 0
            gap = lifted.sub(problem.f) - lifted.sub(at_zero_y(problem.f)) + quad + sum(dual_terms)
            m.strong_duality = pyo.Constraint(expr=gap <= 0)
            if self.sos1:
                self._add_sos1(lifted, ge, slack_ub)
            return lifted
        return self._gap_form(lifted, ge, slack_ub, cone_list)

    def _add_sos1(self, lifted, ge, slack_ub):
        m = lifted.slm.m
        _bounded_slacks(lifted, ge, slack_ub)
        for k in range(len(ge)):
            lifted.slm.sos1.append([m.sd_slack[k], m.lam[k]])

    def _gap_form(self, lifted, ge, slack_ub, cones=()):
        m = lifted.slm.m
        # gap form: with stationarity, primal value - dual value = sum_k lam_k g_k(x, y)
        # (equality rows contribute mu_e h_e = 0); written over slack variables s_k =
        # g_k(x, y) in [0, proven bound], so every product is lam_k * s_k with s_k bounded
        _bounded_slacks(lifted, ge, slack_ub)
        products = [m.lam[k] * m.sd_slack[k] for k in range(len(ge))]
        products += _cone_products(lifted, cones, lambda e: e)  # each cone's term of the gap
        if products:
            m.strong_duality = pyo.Constraint(expr=sum(products) <= 0)
            if self.sos1:
                for k in range(len(ge)):
                    lifted.slm.sos1.append([m.sd_slack[k], m.lam[k]])
        return lifted


def _cone_products(lifted, cones, at) -> list:
    """The terms (scale·σ, w)·(t, u) of the cones, with t and u rewritten by ``at`` (the
    identity, or y set to 0) over the model's variables."""
    m = lifted.slm.m
    out = []
    for k, cone in enumerate(cones):
        out.append(cone.scale * m.cone_lam[k] * lifted.sub(at(cone.t)))
        out += [m.cone_w[k, i] * lifted.sub(at(e)) for i, e in enumerate(cone.u)]
    return out


def _bounded_slacks(lifted, ge, slack_ub) -> None:
    """Slack variables s_k = g_k(x, y) >= 0 (``m.sd_slack``), bounded above by the proven
    slack bounds (widened by a hair so tolerances cannot cut the optimum)."""
    m = lifted.slm.m
    m.sd_slack = pyo.Var(range(len(ge)), domain=pyo.NonNegativeReals)
    for k, c in enumerate(ge):
        ub = slack_ub.get(c.name)
        if ub is not None and math.isfinite(ub):
            m.sd_slack[k].setub(ub * (1 + 1e-7) + 1e-9)
        lifted.slm.add(m.sd_slack[k] == lifted.sub(c.body))
