"""Penalty methods: the follower's duality gap moved into the leader's objective.

For a convex follower, stationarity of its Lagrangian plus multipliers lambda >= 0 make
the complementarity gap lambda . g(x, y) >= 0 its Lagrangian duality gap: y is
follower-optimal at x exactly when the gap is zero (y is ``gap``-optimal otherwise).
Both variants below solve, for an increasing penalty parameter rho_k = rho0 * growth^k,

    min  F(x, y) + rho_k * gap      s.t.  G >= 0,  g >= 0,  follower stationarity, lambda >= 0

each subproblem warm-started from the last, until the gap at the subproblem's answer is
below ``tol * max(1, |f|)`` (LP-LP: ``|c y|`` in place of ``|f|``). Both are local methods: a converged point is a local
(partial) optimum of a penalised problem, certified bilevel feasible by re-solving the
follower, and reported ``locally_optimal`` at best, never ``optimal``.

* **LP-LP** (continuous, leader and follower linear): White & Anandalingam (1993,
  J. Global Optim. 3:397-419). With the follower  min_y c y  s.t.  A x + D y + r >= 0,
  E_A x + E_D y + E_r = 0 (``lplp_data``), its dual polyhedron is
  U = {lambda >= 0, mu : D' lambda + E_D' mu = c} and the gap is bilinear,

      pi(x, y, u) = c y + lambda . (A x + r) + mu . (E_A x + E_r) >= 0,

  so for fixed rho the penalised problem is a *disjoint bilinear program* over the
  polyhedron Z of (x, y) (the high-point relaxation) and U. It is solved to a partial
  optimum by alternating HiGHS LPs: u fixed -> an LP over Z; (x, y) fixed -> an LP over U
  (the follower's dual at x, after which pi = c y - phi(x), the follower's true gap).
  Neither step increases the penalised objective. White & Anandalingam show an exact
  penalty: some finite rho makes the penalised global optimum bilevel optimal (the
  proof was corrected by Campelo, Dantas & Scheimberg 2000, J. Global Optim. 16); they
  reach the global optimum of each bilinear program by cutting planes, which is not
  done here: only the partial optimum, hence a local method.
* **Convex followers** (LP or convex QP follower, any leader): the KKT system of
  ``reformulations.scholtes.ScholtesMPEC`` with its relaxed complementarity rows
  switched off and the objective F + rho * sum_j lambda_j g_j; each subproblem is one
  solve of the local NLP solver (ripopt, ``backends.nlp``), the first from
  ``problem.meta["xy_init"]``. Integer leader variables are relaxed and rounded at the end.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from ..clock import seconds_to
from ..backends.highs import ArrayLP
from ..core.lifted import HPR
from ..errors import UnsupportedStructureError
from ..problem import BilevelProblem
from ..reformulations.scholtes import (
    COLD_OPTIONS,
    MAX_COLD_FAILURES,
    STAGE_TIME_LIMIT,
    WARM_OPTIONS,
    ScholtesMPEC,
    nlp_solve,
)
from ..structure import Structure
from .lplp_data import LPLPData

RHO0 = 1.0  # first penalty parameter
GROWTH = 10.0  # rho <- rho * GROWTH per outer iteration
TOL = 1e-6  # converged when gap <= TOL * max(1, |f|)
MAX_OUTER = 10  # outer iterations (penalty parameters) at most
MAX_ALTERNATIONS = 200  # LP pairs per penalty parameter (LP-LP variant)
DESCENT_TOL = 1e-9  # a pair of LPs must lower the penalised objective by this (relative)


@dataclass
class OuterStep:
    """One penalty parameter: the subproblem's answer and its follower gap."""

    rho: float
    gap: float  # follower duality gap at the answer (inf when no answer yet)
    F: float  # leader objective (min form) at the answer
    penalised: float  # F + rho * gap
    solves: int  # LPs (LP-LP variant) or NLP solves (1) spent on this rho
    status: str  # "optimal"/"locally_optimal", or why the subproblem failed
    trace: list = field(default_factory=list)  # penalised objective after each LP
    seconds: float = 0.0  # since the path started


@dataclass
class PenaltyPath:
    """What the outer loop did: its steps and the point it ended at."""

    variant: str  # "lplp" | "nlp"
    steps: list = field(default_factory=list)
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    duals: dict = field(default_factory=dict)
    converged: bool = False
    # converged | not_converged | infeasible | lower_level_unbounded | time_limit | error
    status: str = "error"
    message: str = ""
    solver: str = ""

    @property
    def rhos(self) -> list:
        return [s.rho for s in self.steps]

    @property
    def gaps(self) -> list:
        return [s.gap for s in self.steps]

    def describe(self) -> str:
        n = sum(s.solves for s in self.steps)
        kind = "LPs" if self.variant == "lplp" else "NLP solves"
        head = ("converged" if self.converged else "not converged") + \
            f" after {len(self.steps)} penalty parameter(s), {n} {kind}"
        path = ", ".join(f"{s.rho:.3g}:{s.gap:.2g}" for s in self.steps)
        return f"{head}; rho:gap path {path}" + (f"; {self.message}" if self.message else "")


def _small(gap: float, scale: float, tol: float) -> bool:
    return gap <= tol * max(1.0, abs(scale))


# ------------------------------------------------------------------------ LP-LP
class LPLPPenalty:
    """White & Anandalingam's penalty for an LP-LP problem over two warm-started HiGHS
    LPs: ``primal`` over Z (x, y) and ``dual`` over U (lambda, mu); see module docstring."""

    def __init__(self, data: LPLPData):
        self.d = d = data
        nz = d.n_x + d.n_y
        self.n_u = d.m + d.p
        rows = np.vstack([d.L.reshape(-1, nz), np.hstack([d.A, d.D]), np.hstack([d.E_A, d.E_D])])
        lo = np.concatenate([d.L_lo, -d.r, -d.E_r])
        hi = np.concatenate([d.L_hi, np.full(d.m, np.inf), -d.E_r])
        self.primal = ArrayLP(np.zeros(nz), np.concatenate([d.x_lb, d.y_lb]),
                          np.concatenate([d.x_ub, d.y_ub]), rows, lo, hi)
        self.dual = None
        if self.n_u:
            self.dual = ArrayLP(np.zeros(self.n_u), np.concatenate([np.zeros(d.m), np.full(d.p, -np.inf)]),
                            np.full(self.n_u, np.inf), np.hstack([d.D.T, d.E_D.T]), d.c, d.c)
        self.lps = 0

    # the two pieces of the penalised objective
    def F(self, z) -> float:
        d = self.d
        return float(d.F_x @ z[: d.n_x] + d.F_y @ z[d.n_x:] + d.F_0)

    def gap(self, z, u) -> float:
        """pi(x, y, u) = c y + lambda . (A x + r) + mu . (E_A x + E_r)."""
        d = self.d
        x, y = z[: d.n_x], z[d.n_x:]
        lam, mu = u[: d.m], u[d.m:]
        return float(d.c @ y + lam @ (d.A @ x + d.r) + mu @ (d.E_A @ x + d.E_r))

    def penalised(self, z, u, rho) -> float:
        return self.F(z) + rho * self.gap(z, u)

    def primal_step(self, u, rho):
        """argmin over Z of F + rho * pi(., u); u = None: of F alone (the HPR)."""
        d = self.d
        cost = np.concatenate([d.F_x, d.F_y])
        if u is not None:
            cost = cost + rho * np.concatenate([d.A.T @ u[: d.m] + d.E_A.T @ u[d.m:], d.c])
        return self._run(self.primal, cost)

    def dual_step(self, x):
        """argmin over U of pi((x, .), u): the follower's dual LP at x."""
        d = self.d
        if self.dual is None:  # no follower rows: U = {()} if c = 0, else empty
            return ("optimal", np.zeros(0)) if not np.any(d.c) else ("infeasible", None)
        return self._run(self.dual, np.concatenate([d.A @ x + d.r, d.E_A @ x + d.E_r]))

    def _run(self, lp, cost):
        lp.h.changeColsCost(lp.n, np.arange(lp.n, dtype=np.int32), np.asarray(cost, float))
        status = lp.run()
        self.lps += 1
        return status, (lp.primal() if status == "optimal" else None)

    def alternate(self, z, u, rho, deadline=math.inf):
        """Alternate the two LPs from u (z: the previous point, for the trace) to a
        partial optimum; returns (status, z, u, trace of the penalised objective after
        each LP, number of LPs)."""
        trace = [] if z is None else [self.penalised(z, u, rho)]
        before = self.lps
        for _ in range(MAX_ALTERNATIONS):
            status, z_new = self.primal_step(u, rho)
            if status != "optimal":
                return status, z, u, trace, self.lps - before
            z = z_new
            trace.append(self.penalised(z, u, rho))
            status, u_new = self.dual_step(z[: self.d.n_x])
            if status != "optimal":  # cannot happen for z in Z unless U is empty
                return status, z, u, trace, self.lps - before
            u = u_new
            trace.append(self.penalised(z, u, rho))
            if len(trace) >= 3 and trace[-3] - trace[-1] <= DESCENT_TOL * max(1.0, abs(trace[-1])):
                break
            if seconds_to(deadline) <= 0:
                break
        return "optimal", z, u, trace, self.lps - before

    def run(self, x0, rho0=RHO0, growth=GROWTH, tol=TOL, max_outer=MAX_OUTER,
            deadline=math.inf) -> PenaltyPath:
        """The outer loop from the leader's start ``x0`` (only the first u depends on it:
        the follower's dual at x0, or at the HPR optimum where the follower has none)."""
        t_run = time.perf_counter()
        d = self.d
        path = PenaltyPath("lplp", solver="highs")
        status, u = self.dual_step(np.asarray(x0, float))
        z = None
        if status != "optimal":  # x0 outside the follower's domain
            status, z = self.primal_step(None, 0.0)
            if status != "optimal":
                path.status = "infeasible" if status == "infeasible" else "error"
                path.message = {"infeasible": "the high-point relaxation is infeasible (LP proof)",
                                "unbounded": "F is unbounded below over the high-point relaxation "
                                             "(no bilevel conclusion)"}.get(status, f"HPR LP: {status}")
                return path
            status, u = self.dual_step(z[: d.n_x])
            if status != "optimal":
                path.status = "lower_level_unbounded" if status == "infeasible" else "error"
                path.message = ("the follower's dual is infeasible: its LP is unbounded wherever it is "
                                "feasible" if path.status != "error" else f"dual LP: {status}")
                return path
        rho = float(rho0)
        for _ in range(max_outer):
            status, z_new, u_new, trace, n = self.alternate(z, u, rho, deadline)
            if z_new is None:  # no point yet: the LP over Z failed
                path.steps.append(OuterStep(rho, math.inf, math.nan, math.nan, n, status, trace,
                                            time.perf_counter() - t_run))
                if status == "unbounded" and seconds_to(deadline) > 0:
                    rho *= growth  # a larger penalty may bound it
                    continue
                path.status = "infeasible" if status == "infeasible" else "error"
                path.message = {"infeasible": "the high-point relaxation is infeasible (LP proof)",
                                }.get(status, f"LP over (x, y): {status}")
                return path
            z, u = z_new, u_new
            g = max(0.0, self.gap(z, u))
            path.steps.append(OuterStep(rho, g, self.F(z), self.penalised(z, u, rho), n, status, trace,
                                        time.perf_counter() - t_run))
            if status != "optimal":
                path.message = f"LP over (x, y) {status} at rho = {rho:g}"
                if status == "unbounded":
                    rho *= growth  # a larger penalty may bound it
                    continue
                break
            if _small(g, d.c @ z[d.n_x:], tol):
                path.converged = True
                break
            if seconds_to(deadline) <= 0:
                path.status = "time_limit"
                break
            rho *= growth
        if z is None:
            path.status = "error"
            path.message = (f"the penalised LP is unbounded for every rho tried (up to {rho / growth:g}): "
                            "F + rho * gap decreases without bound over the high-point relaxation; "
                            "no bilevel conclusion")
            return path
        path.x, path.y = z[: d.n_x].copy(), z[d.n_x:].copy()
        path.duals = {name: float(v) for name, v in zip(d.names + d.E_names, u)}
        if path.status != "time_limit":
            path.status = "converged" if path.converged else "not_converged"
        return path


# -------------------------------------------------------------------------- NLP
class PenaltyNLP(ScholtesMPEC):
    """The KKT model of ``ScholtesMPEC`` without its relaxed complementarity rows,
    minimising F + rho * sum_j lambda_j g_j (``m.rho`` a mutable Param)."""

    def __init__(self, problem: BilevelProblem, time_limit: float | None = None,
                 cache: HPR | None = None):
        super().__init__(problem, time_limit=time_limit, cache=cache)
        if self.infeasible:
            return
        m, slm = self.model, self.lifted.slm
        m.scholtes.deactivate()
        m.obj.deactivate()
        m.rho = pyo.Param(mutable=True, initialize=RHO0, within=pyo.PositiveReals)
        self.gap_expr = sum((m.lam[k] * s for k, s in enumerate(self.slacks)), 0.0)
        self.f_expr = self.lifted.sub(problem.f)
        m.penalised = pyo.Objective(expr=self.lifted.sub(problem.F) + m.rho * self.gap_expr)
        slm.objective = m.penalised.expr
        self.F_expr = self.lifted.sub(problem.F)

    def _value(self, expr) -> float:
        try:
            return float(pyo.value(expr))
        except (ValueError, TypeError, ZeroDivisionError, OverflowError):
            return math.nan

    def run(self, x0, y0, rho0=RHO0, growth=GROWTH, tol=TOL, max_outer=MAX_OUTER,
            deadline=math.inf, stage_time_limit=STAGE_TIME_LIMIT) -> PenaltyPath:
        """The outer loop from (x0, y0), multipliers 0; a failed solve keeps the previous
        point and the next rho is tried."""
        t_run = time.perf_counter()
        m = self.model
        path = PenaltyPath("nlp")
        self.set_start(x0, y0)
        kept = None
        failures = 0
        rho = float(rho0)
        for _ in range(max_outer):
            left = seconds_to(deadline)
            if left <= 0.05:
                path.status = "time_limit"
                break
            m.rho.set_value(rho)
            opts = dict(COLD_OPTIONS if kept is None else WARM_OPTIONS)
            before = self.snapshot()
            limit = min(left, stage_time_limit)
            out = nlp_solve(self.lifted.slm, limit if math.isfinite(limit) else None, opts)
            path.solver = path.solver or out.solver
            ok = out.status == "locally_optimal" and out.has_solution
            if ok:
                kept, failures = self.snapshot(), 0
            else:
                self.restore(before)
                failures += 1
            g = max(0.0, self._value(self.gap_expr)) if kept is not None else math.inf
            F = self._value(self.F_expr)
            path.steps.append(OuterStep(rho, g, F, F + rho * g, 1, out.status, [], time.perf_counter() - t_run))
            if ok and _small(g, self._value(self.f_expr), tol):
                path.converged = True
                break
            if kept is None and failures >= MAX_COLD_FAILURES:
                break
            rho *= growth
        if kept is None:
            out_of_time = path.status == "time_limit" or (path.steps and path.steps[-1].status == "time_limit")
            path.status = "time_limit" if out_of_time else "error"
            path.message = "no penalised NLP converged" + (
                f" (last: {path.steps[-1].status})" if path.steps else "")
            return path
        path.x, path.y = self.xy(kept)
        path.duals = {name: float(kept[id(v)]) for name, v in self.lifted.duals.items()
                      if kept.get(id(v)) is not None}
        if path.status != "time_limit":
            path.status = "converged" if path.converged else "not_converged"
        return path


def choose_variant(problem: BilevelProblem, structure: Structure) -> str:
    """"lplp" (continuous LP-LP) or "nlp" (other convex followers); raises
    ``UnsupportedStructureError`` for integer or nonconvex followers."""
    for j in range(problem.n_y):
        if not problem.y[j].is_continuous():
            raise UnsupportedStructureError(
                f"follower variable {problem.y_names[j]} is integer: the penalty method needs a "
                "continuous follower (its gap is a duality gap); use method='value_function'")
    if not structure.lower_convex:
        raise UnsupportedStructureError(
            f"the penalty method needs a follower proven convex in y; {problem.name} has a "
            f"{structure.lower.replace('_', ' ')} follower ({structure.label}), for which a zero "
            "complementarity gap does not make y follower-optimal; use method='value_function' "
            "(global) or method='regularized' (local)")
    return "lplp" if structure.is_continuous_lplp else "nlp"


__all__ = ["choose_variant", "LPLPPenalty", "PenaltyNLP", "PenaltyPath", "OuterStep"]
