"""The local model of a ``BilevelProblem`` at an iterate (x, y), shared by the local
methods: the follower's response and multipliers at x, and the ``DescentProgram``
data (gradients, Lagrangian Hessian blocks, active and inactive rows).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from scipy.optimize import lsq_linear

from ..clock import MIN_SOLVE_SECONDS, seconds_to
from ..backends import nlp, solve_single_level
from ..core.certify import optimistic_response, solve_follower
from ..core.derivatives import Derivatives, PointDerivatives
from ..core.lifted import HPR, lift
from ..core.starts import leader_start
from ..errors import BilevelInputError
from ..problem import BilevelProblem
from .descent import DescentProgram, solve_direction


def follower_response(problem: BilevelProblem, x, time_limit: float | None = 30.0):
    """The follower's optimal response at x, or None when the follower is infeasible or
    unbounded there. Linear followers: exact (HiGHS), ties broken in the leader's
    favour. Others: the global solve (SCIP, objective exact only to its tolerances)
    polished by a local NLP solve from its point, so that a local method cannot
    exploit the follower's tolerance to lower F."""
    out, _, slm = solve_follower(problem, x, time_limit)
    if out.status in ("infeasible", "unbounded"):
        return None
    ys = [slm.m.y[j] for j in range(problem.n_y)]
    y = np.array([out.values[id(v)] for v in ys]) if out.values else None
    if out.solver == "highs":
        if out.status != "optimal":
            return None
        y_opt = optimistic_response(problem, x, out.objective, time_limit=time_limit)
        return y if y_opt is None else y_opt
    # SCIP: polish its point locally, or (SCIP failed) take a local solution; the final
    # certificate re-solves globally and judges it
    if nlp.available():
        f_global = math.inf
        if y is not None:
            for v, val in zip(ys, y):
                v.set_value(float(val), skip_validation=True)
            f_global = float(pyo.value(slm.objective))  # at SCIP's y (its objective may be an epigraph bound)
        pol = nlp.solve(slm, time_limit=time_limit)
        if pol.has_solution and pol.objective is not None and pol.objective <= f_global + 1e-12:
            y2 = np.array([pol.values[id(v)] for v in ys])
            ev = problem.evaluate(x, y2)
            if max(ev["g_violation"], ev["y_bound_violation"]) <= 1e-9:
                return y2
    return y if out.status == "optimal" else None


@dataclass
class LocalModel:
    """Values at (x, y) and the descent program built from them."""

    point: PointDerivatives
    program: DescentProgram
    mu: np.ndarray  # multipliers of all follower rows (0 on inactive ones)
    active: np.ndarray


def build_local_model(deriv: Derivatives, x, y, active_tol: float = 1e-7,
                      strong_tol: float = 1e-7, radius: float = 0.0) -> LocalModel:
    """Linearise ``deriv.problem`` at (x, y): multipliers by bounded least squares on the
    active follower rows, the Lagrangian's Hessian, the rows of ``DescentProgram``.

    Follower rows that a step of ∞-norm ``radius`` could make active (g <= radius·‖∇g‖₁)
    enter the program as weakly active ones (μ = 0, may become active), so that a
    nearly active row does not shrink the step to its distance from the boundary."""
    p = deriv.problem
    n, m = p.n_x, p.n_y
    pt = deriv.at(x, y)
    scale = max(1.0, float(np.abs(np.concatenate([x, y])).max(initial=0.0)))
    active = pt.g_eq | (np.abs(pt.g) <= active_tol * scale)
    near = ~active & (pt.g <= radius * np.abs(pt.dg).sum(axis=1))
    Ay_all = pt.dg[:, n:]
    idx = np.flatnonzero(active)
    mu = np.zeros(len(pt.g))
    if idx.size:
        lb = np.where(pt.g_eq[idx], -np.inf, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            sol = lsq_linear(Ay_all[idx].T, pt.df[n:], bounds=(lb, np.full(idx.size, np.inf)))
        mu[idx] = sol.x
    r0 = pt.df[n:] - Ay_all.T @ mu
    H = pt.Hf - np.tensordot(mu, pt.Hg, axes=1) if len(mu) else pt.Hf
    mu_scale = max(1.0, float(np.abs(mu).max(initial=0.0)))
    strong = mu[idx] > strong_tol * mu_scale
    idx_all = np.flatnonzero(active | near)
    g_a = np.where(active[idx_all], 0.0, pt.g[idx_all])  # active rows: kept active
    strong_all = np.zeros(idx_all.size, bool)
    strong_all[np.searchsorted(idx_all, idx)] = strong
    inactive = np.flatnonzero(~(active | near))
    G_ineq = np.flatnonzero(~pt.G_eq)
    G_eq = np.flatnonzero(pt.G_eq)
    C = np.vstack([-pt.dG[G_ineq], -pt.dg[inactive]]) if (G_ineq.size + inactive.size) else np.zeros((0, n + m))
    c = np.maximum(np.concatenate([pt.G[G_ineq], pt.g[inactive]]), 0.0)  # rounding-level violations: stay put
    prog = DescentProgram(
        grad_x=pt.dF[:n], grad_y=pt.dF[n:], H_yy=H[n:, n:], H_yx=H[n:, :n], r0=r0,
        A_x=pt.dg[idx_all, :n], A_y=pt.dg[idx_all, n:], g_a=g_a, mu=mu[idx_all], strong=strong_all,
        eq_rows=pt.g_eq[idx_all],
        C_x=C[:, :n], C_y=C[:, n:], c=c,
        E_x=pt.dG[G_eq, :n], E_y=pt.dG[G_eq, n:], e=np.zeros(G_eq.size),
    )
    return LocalModel(pt, prog, mu, active)


def nearest_hpr_x(problem: BilevelProblem, x0, time_limit: float = 10.0, cache: HPR | None = None):
    """The x of the high-point relaxation (G, g, bounds) nearest to ``x0`` in 2-norm,
    solved globally (SCIP); None when the relaxation is infeasible (``cache.infeasible``
    then says so) or unsolved."""
    lifted = lift(problem, "nearest-start", "start", upper_objective=False, time_limit=time_limit,
                  cache=cache)
    if lifted.hpr.get("infeasible"):
        return None
    m = lifted.slm.m
    lifted.slm.minimize(sum((m.x[i] - float(x0[i])) ** 2 for i in range(problem.n_x)))
    out = solve_single_level(lifted.slm, time_limit=time_limit)
    if not out.has_solution:
        return None
    return np.array([out.values[id(m.x[i])] for i in range(problem.n_x)])


def stationarity_measure(deriv: Derivatives, x, y, delta: float = 1e-6) -> float:
    """χ = −(best linearised decrease of F in the unit ∞-box) of the auxiliary program at
    (x, y). Its directions are a relaxation of the follower-feasible ones (weakly active
    rows may go either way), so χ ≈ 0 means no first-order descent direction at all."""
    prog = build_local_model(deriv, x, y, radius=1.0).program
    band = max(delta, float(np.abs(prog.r0).max(initial=0.0)))
    d = solve_direction(prog, 1.0, band)
    return math.inf if d.status != "optimal" or d.elastic else max(0.0, -d.predicted)


# χ <= this · max(1, |F|): a stationary point. F at trial points carries the follower
# re-solve's tolerance (~1e-9 relative), so a line search cannot resolve decreases below
# that: on a smooth F, χ ~ distance to the stationary point, resolvable to ~sqrt(1e-9).
STATIONARITY_TOL = 1e-5


FOLLOWER_SECONDS = 30.0  # one follower re-solve of the local methods, at most
UPPER_TOL = 1e-7  # feasibility of G at trial points (relative to max(1, ‖x‖∞))


class LocalRun:
    """Start and merit shared by the local methods (descent, trust region).

    Checks the input (continuous x), builds the derivatives, finds the follower's
    response at the start point; ``failed`` is a message when there is none, and
    ``verdict`` says why when that is a proof ("lower_level_unbounded": the follower is
    unbounded at the start; "infeasible": the high-point relaxation is).
    ``merit(x)`` = (F(x, y*(x)), y*(x)) with the follower re-solved, inf when the
    follower has no solution or G is violated, or once ``deadline`` (a
    ``time.perf_counter()`` instant) has passed: the follower's re-solves are cut to it."""

    def __init__(self, problem: BilevelProblem, method: str, x0=None, cache: HPR | None = None,
                 deadline: float = math.inf):
        self.t_start = time.perf_counter()
        self.deadline = deadline
        ints = [problem.x_names[i] for i, b in enumerate(problem.x_is_integer()) if b]
        if ints:
            raise BilevelInputError(f"{method} moves x continuously: integer leader variables {ints} "
                                    "need a global method (method='kkt' or 'auto')")
        self.problem = problem
        self.deriv = Derivatives(problem)
        self.x = leader_start(problem, x0)
        self.assumptions: list[str] = []
        self.verdict = None
        cache = cache if cache is not None else HPR()
        self.y = follower_response(problem, self.x, self.follower_seconds())
        if self.y is None and solve_follower(problem, self.x, self.follower_seconds())[0].status == "unbounded":
            self.verdict = "lower_level_unbounded"
            self.failed = f"the follower's problem is unbounded at the start x = {self.x.tolist()}"
            return
        if self.y is None or not math.isfinite(self.merit(self.x)[0]):
            # the follower is infeasible at x0, or G fails there: start from the nearest HPR point
            x_near = nearest_hpr_x(problem, self.x, cache=cache)
            if cache.infeasible:
                self.verdict = "infeasible"
                self.failed = "the high-point relaxation is infeasible (LP proof)"
                return
            if x_near is not None:
                self.assumptions.append(f"start moved from x0 = {self.x.tolist()} (infeasible "
                                        f"there) to the nearest HPR point")
                self.x, self.y = x_near, follower_response(problem, x_near, self.follower_seconds())
        self.failed = None
        if self.y is None:
            self.failed = f"the follower's problem has no optimal solution at the start x = {self.x.tolist()}"
        else:
            self.F = self.deriv.at(self.x, self.y).F

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    def follower_seconds(self) -> float:
        """Seconds for one follower re-solve: 30, cut to the deadline."""
        return min(FOLLOWER_SECONDS, max(MIN_SOLVE_SECONDS, seconds_to(self.deadline)))

    def merit(self, x):
        if seconds_to(self.deadline) <= 0:
            return math.inf, None
        y = follower_response(self.problem, x, self.follower_seconds())
        if y is None:
            return math.inf, None
        F, G, eq = self.deriv.upper_values(x, y)
        tol = UPPER_TOL * max(1.0, float(np.abs(x).max(initial=0.0)))
        viol = np.concatenate([np.minimum(G[~eq], 0.0), np.abs(G[eq])])
        if viol.size and np.abs(viol).max() > tol:
            return math.inf, None
        return F, y

    def collapsed(self, x, y, F) -> tuple[bool, str]:
        """Trust region below its minimum: stationary (converged) only when the
        stationarity measure at unit radius says so."""
        chi = stationarity_measure(self.deriv, x, y)
        if chi <= STATIONARITY_TOL * max(1.0, abs(F)):
            return True, f"trust region collapsed at a stationary point (χ = {chi:.2g})"
        return False, f"trust region collapsed: predicted decrease not realised (χ = {chi:.2g})"
