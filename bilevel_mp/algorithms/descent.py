"""Auxiliary LP/QP descent for bilevel programs (and the engine of the NAS front end).

At an iterate (x, y) with y optimal for the follower, a small program gives a
direction (dx, dy) that decreases the linearised upper objective while keeping the
follower's optimality conditions satisfied to first order:

    min   ∇_x F·dx + ∇_y F·dy
    s.t.  | W^T ( H_yy dy + H_yx dx − A_y^T dμ + r0 ) | <= δ      linearised stationarity
          A_x dx + A_y dy  = −g_a      strongly active follower rows (μ > 0, or equalities)
          A_x dx + A_y dy >= −g_a,  dμ >= −μ     weakly active rows (μ ≈ 0)
          C_x dx + C_y dy <= c          linearised upper constraints, inactive follower rows
          ‖(dx, dz)‖_∞ <= r  (LP, HiGHS)   or   + ‖(dx, dz)‖²/(2r) in the objective (QP)

with dy = V dz in a basis V of the follower's space (identity by default; a Krylov
subspace for the NAS case) and W the rows of stationarity that are kept (all by
default; a row subsample or V itself for a Galerkin projection). H = ∇² of the
follower's Lagrangian f − μ·g. The relaxation of the weakly active rows (either
branch allowed) is that of Savard & Gauvin (1994), whose steepest-descent problem is
itself bilevel; the LP is the "hyper local search" of Sinha & Gunwal (2025, ORL
61:107287).

Two interfaces: ``DescentProgram`` holds dense arrays or matrix-free callables
(Hessian-vector ``hvp_yy(v)``, mixed products ``mvp_yx(u)`` = H_yx u and
``mvp_xy(v)`` = H_yx^T v); ``solve_direction`` reduces it to a small dense LP with
k = dim V products. ``methods.descent`` runs the whole method on a ``BilevelProblem``:
the step length comes from ``line_search`` on F with the follower re-solved exactly at
each trial x.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..backends import highs

Matrix = "np.ndarray | Callable[[np.ndarray], np.ndarray]"


@dataclass
class DescentProgram:
    """The data of one auxiliary program at an iterate (see module docstring).

    ``H_yy`` (m×m) and ``H_yx`` (m×n) are arrays, or give ``hvp_yy`` and ``mvp_yx`` /
    ``mvp_xy`` callables instead. Follower constraint rows (``A_x``, ``A_y``, values
    ``g_a``, multipliers ``mu``, ``strong`` mask) are the active ones, in g >= 0 form.
    ``C_x``, ``C_y``, ``c``: other linear rows C_x dx + C_y dy <= c (upper constraints,
    resource budgets, simplex rows). ``dx_lb``/``dx_ub``: bounds on dx (e.g. keep x in
    its box). ``basis`` V (m×k) and ``test`` W (m×q, or an index array of kept rows)."""

    grad_x: np.ndarray
    grad_y: np.ndarray
    H_yy: np.ndarray | None = None
    H_yx: np.ndarray | None = None
    hvp_yy: Callable | None = None
    mvp_yx: Callable | None = None
    mvp_xy: Callable | None = None
    r0: np.ndarray | None = None
    A_x: np.ndarray | None = None
    A_y: np.ndarray | None = None
    g_a: np.ndarray | None = None
    mu: np.ndarray | None = None
    strong: np.ndarray | None = None
    eq_rows: np.ndarray | None = None
    C_x: np.ndarray | None = None
    C_y: np.ndarray | None = None
    c: np.ndarray | None = None
    E_x: np.ndarray | None = None
    E_y: np.ndarray | None = None
    e: np.ndarray | None = None
    dx_lb: np.ndarray | None = None
    dx_ub: np.ndarray | None = None
    basis: np.ndarray | None = None
    test: np.ndarray | None = None

    def __post_init__(self):
        self.grad_x = np.asarray(self.grad_x, dtype=float).ravel()
        self.grad_y = np.asarray(self.grad_y, dtype=float).ravel()
        n, m = self.n, self.m
        if self.H_yy is None and self.hvp_yy is None:
            raise ValueError("give H_yy (array) or hvp_yy (callable)")
        if self.H_yx is None and self.mvp_yx is None and self.mvp_xy is None:
            raise ValueError("give H_yx (array) or mvp_yx / mvp_xy (callables)")
        if self.H_yy is not None:
            self.H_yy = np.asarray(self.H_yy, dtype=float)
            if self.H_yy.shape != (m, m):
                raise ValueError(f"H_yy has shape {self.H_yy.shape}, expected {(m, m)}")
        if self.H_yx is not None:
            self.H_yx = np.asarray(self.H_yx, dtype=float).reshape(m, n)
        self.r0 = np.zeros(m) if self.r0 is None else np.asarray(self.r0, dtype=float).ravel()
        if self.r0.shape != (m,):
            raise ValueError(f"r0 has {self.r0.size} entries, expected m = {m}")
        p = 0 if self.A_y is None else np.asarray(self.A_y).shape[0]
        self.A_y = np.zeros((0, m)) if self.A_y is None else np.asarray(self.A_y, float).reshape(p, m)
        self.A_x = np.zeros((p, n)) if self.A_x is None else np.asarray(self.A_x, float).reshape(p, n)
        self.g_a = np.zeros(p) if self.g_a is None else np.asarray(self.g_a, float).ravel()
        self.mu = np.zeros(p) if self.mu is None else np.asarray(self.mu, float).ravel()
        self.strong = np.zeros(p, bool) if self.strong is None else np.asarray(self.strong, bool)
        self.eq_rows = np.zeros(p, bool) if self.eq_rows is None else np.asarray(self.eq_rows, bool)
        self.C_x, self.C_y, self.c = _rows(self.C_x, self.C_y, self.c, n, m, "C")
        self.E_x, self.E_y, self.e = _rows(self.E_x, self.E_y, self.e, n, m, "E")
        if self.basis is not None:
            self.basis = np.asarray(self.basis, dtype=float).reshape(m, -1)

    @property
    def n(self) -> int:
        return self.grad_x.size

    @property
    def m(self) -> int:
        return self.grad_y.size

    # -- products, whichever form was given -------------------------------------------
    def Hyy_times(self, V: np.ndarray) -> np.ndarray:
        if self.H_yy is not None:
            return self.H_yy @ V
        return np.column_stack([np.asarray(self.hvp_yy(V[:, j]), float) for j in range(V.shape[1])]) \
            if V.shape[1] else np.zeros((self.m, 0))

    def Hyx_projected(self, W: np.ndarray) -> np.ndarray:
        """W^T H_yx (q×n), with min(q, n) products when matrix-free."""
        if self.H_yx is not None:
            return W.T @ self.H_yx
        q, n = W.shape[1], self.n
        if self.mvp_xy is not None and (q <= n or self.mvp_yx is None):
            return np.array([np.asarray(self.mvp_xy(W[:, i]), float) for i in range(q)]).reshape(q, n)
        cols = [np.asarray(self.mvp_yx(np.eye(n)[:, j]), float) for j in range(n)]
        return W.T @ np.column_stack(cols) if cols else np.zeros((q, 0))


def _rows(Ax, Ay, b, n, m, label):
    if b is None:
        return np.zeros((0, n)), np.zeros((0, m)), np.zeros(0)
    b = np.asarray(b, dtype=float).ravel()
    k = b.size
    Ax = np.zeros((k, n)) if Ax is None else np.asarray(Ax, float).reshape(k, n)
    Ay = np.zeros((k, m)) if Ay is None else np.asarray(Ay, float).reshape(k, m)
    return Ax, Ay, b


@dataclass
class Direction:
    """A solution of the auxiliary program. ``predicted`` = linearised change of F;
    ``residual`` = max |W^T (linearised stationarity)| at the direction."""

    status: str
    dx: np.ndarray | None = None
    dy: np.ndarray | None = None
    dmu: np.ndarray | None = None
    predicted: float = 0.0
    residual: float = math.nan
    elastic: bool = False
    fallback_lp: bool = False  # norm="2" asked, the QP failed, the box LP answered
    seconds_products: float = 0.0
    seconds_solver: float = 0.0


def _test_matrix(prog: DescentProgram, V: np.ndarray) -> np.ndarray:
    m = prog.m
    if prog.test is None:
        return np.eye(m)
    T = np.asarray(prog.test)
    if T.ndim == 1:  # row subsample given as indices
        W = np.zeros((m, T.size))
        W[T.astype(int), np.arange(T.size)] = 1.0
        return W
    return T.reshape(m, -1)


def solve_direction(prog: DescentProgram, radius: float, delta: float = 1e-6, norm: str = "inf",
                    time_limit: float | None = None) -> Direction:
    """Build and solve the auxiliary program of ``prog`` with trust-region ``radius``.

    ``norm="inf"``: box trust region, an LP (HiGHS). ``norm="2"``: the proximal form of
    the 2-norm region, objective + ‖(dx, dz)‖²/(2·radius), a convex QP (HiGHS). If the
    stationarity band cannot be met inside the region, it is made elastic (penalised
    slack) and the direction says ``elastic=True``."""
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    if norm not in ("inf", "2"):
        raise ValueError(f"norm must be 'inf' or '2', got {norm!r}")
    if delta < 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    t0 = time.perf_counter()
    n, m = prog.n, prog.m
    V = np.eye(m) if prog.basis is None else prog.basis
    k = V.shape[1]
    W = _test_matrix(prog, V)
    # stationarity rows: S_x dx + S_z dz + S_mu dmu ∈ [-δ - W^T r0, δ - W^T r0]
    S_z = W.T @ prog.Hyy_times(V)
    S_x = prog.Hyx_projected(W)
    S_mu = -(W.T @ prog.A_y.T)
    w_r0 = W.T @ prog.r0
    t_products = time.perf_counter() - t0

    p = prog.A_y.shape[0]
    nv = n + k + p
    blocks, lo, hi = [], [], []

    def add(Mx, Mz, Mmu, l, h):
        blocks.append(np.hstack([Mx, Mz, Mmu]))
        lo.append(np.broadcast_to(l, (Mx.shape[0],)))
        hi.append(np.broadcast_to(h, (Mx.shape[0],)))

    add(S_x, S_z, S_mu, -delta - w_r0, delta - w_r0)
    if p:
        Ay_z = prog.A_y @ V
        tight = prog.strong | prog.eq_rows
        add(prog.A_x, Ay_z, np.zeros((p, p)), -prog.g_a, np.where(tight, -prog.g_a, np.inf))
    if prog.c.size:
        add(prog.C_x, prog.C_y @ V, np.zeros((prog.c.size, p)), -np.inf, prog.c)
    if prog.e.size:
        add(prog.E_x, prog.E_y @ V, np.zeros((prog.e.size, p)), prog.e, prog.e)
    A = np.vstack(blocks)
    row_lo, row_hi = np.concatenate(lo), np.concatenate(hi)

    cost = np.concatenate([prog.grad_x, V.T @ prog.grad_y, np.zeros(p)])
    box = radius if norm == "inf" else np.inf
    lb = np.concatenate([np.full(n + k, -box), np.where(prog.eq_rows | prog.strong, -np.inf, -prog.mu)])
    ub = np.concatenate([np.full(n + k, box), np.full(p, np.inf)])
    if prog.dx_lb is not None:
        lb[:n] = np.maximum(lb[:n], prog.dx_lb)
    if prog.dx_ub is not None:
        ub[:n] = np.minimum(ub[:n], prog.dx_ub)
    hdiag = None
    if norm == "2":
        hdiag = np.concatenate([np.full(n + k, 1.0 / radius), np.full(p, 1e-9)])
    status, z, obj, _ = highs.solve_arrays(cost, A, row_lo, row_hi, lb, ub, hdiag, time_limit)
    fallback_lp = False
    if status == "error" and hdiag is not None:
        # HiGHS's QP solver can end in "solve error" on tight stationarity bands (δ ~ 1e-6)
        # where the LP solves: take the box-region LP direction instead, and say so
        lb[:n + k] = np.maximum(lb[:n + k], -radius)
        ub[:n + k] = np.minimum(ub[:n + k], radius)
        hdiag, fallback_lp = None, True
        status, z, obj, _ = highs.solve_arrays(cost, A, row_lo, row_hi, lb, ub, None, time_limit)
    elastic = False
    if status == "infeasible":
        # elastic stationarity band: slack s >= 0 on both sides, penalised
        q = S_x.shape[0]
        pen = 1e3 * max(1.0, float(np.abs(cost).max(initial=0.0)))
        A2 = np.hstack([A, np.zeros((A.shape[0], 2 * q))])
        A2[:q, nv:nv + q] = np.eye(q)
        A2[:q, nv + q:] = -np.eye(q)
        cost2 = np.concatenate([cost, np.full(2 * q, pen)])
        lb2, ub2 = np.concatenate([lb, np.zeros(2 * q)]), np.concatenate([ub, np.full(2 * q, np.inf)])
        h2 = None if hdiag is None else np.concatenate([hdiag, np.full(2 * q, 1e-9)])
        status, z, obj, _ = highs.solve_arrays(cost2, A2, row_lo, row_hi, lb2, ub2, h2, time_limit)
        elastic = True
        z = None if z is None else z[:nv]
    t_solver = time.perf_counter() - t0 - t_products
    if status != "optimal":
        return Direction(status, seconds_products=t_products, seconds_solver=t_solver)
    dx, dz, dmu = z[:n], z[n:n + k], z[n + k:]
    res = S_x @ dx + S_z @ dz + S_mu @ dmu + w_r0
    return Direction("optimal", dx=dx, dy=V @ dz, dmu=dmu,
                     predicted=float(prog.grad_x @ dx + prog.grad_y @ (V @ dz)),
                     residual=float(np.abs(res).max(initial=0.0)), elastic=elastic, fallback_lp=fallback_lp,
                     seconds_products=t_products, seconds_solver=t_solver)


# -- line search -----------------------------------------------------------------------

@dataclass
class LineSearchResult:
    t: float
    value: float
    evaluations: int
    improved: bool


def line_search(phi: Callable[[float], float], phi0: float, slope: float, t_max: float = 1.0,
                method: str = "backtracking", c1: float = 1e-4, max_evals: int = 30) -> LineSearchResult:
    """Step length along a direction: ``phi(t)`` is the merit (F with the follower
    re-solved, or the validation loss), ``phi0`` its value at t = 0, ``slope`` the
    predicted (linearised) derivative, negative for a descent direction.

    ``backtracking``: Armijo, halving from ``t_max``. ``golden``: doubling from
    ``t_max``/4 while phi decreases (up to ``t_max``), then golden-section search on
    the bracket. ``phi`` may return inf/nan for infeasible trial points."""
    if method not in ("backtracking", "golden"):
        raise ValueError(f"line search method must be 'backtracking' or 'golden', got {method!r}")
    cache: dict[float, float] = {}

    def f(t):
        if t not in cache:
            v = float(phi(t))
            cache[t] = v if math.isfinite(v) else math.inf
        return cache[t]

    def best():
        t = min(cache, key=cache.get)
        return LineSearchResult(t, cache[t], len(cache), cache[t] < phi0 - 1e-12 * max(1.0, abs(phi0)))

    if method == "backtracking":
        t = t_max
        while len(cache) < max_evals:
            if f(t) <= phi0 + c1 * t * min(slope, 0.0) and f(t) < phi0:
                return LineSearchResult(t, f(t), len(cache), True)
            t *= 0.5
        return best()
    # doubling then golden section
    a, t = 0.0, t_max / 4
    fa = phi0
    while f(t) < fa and t < t_max and len(cache) < max_evals:
        a, fa = t, f(t)
        t = min(2 * t, t_max)
    lo_, hi_ = max(0.0, a / 2 if a else 0.0), t
    g = (math.sqrt(5) - 1) / 2
    c, d = hi_ - g * (hi_ - lo_), lo_ + g * (hi_ - lo_)
    while hi_ - lo_ > 1e-6 * t_max and len(cache) < max_evals:
        if f(c) <= f(d):
            hi_, d = d, c
            c = hi_ - g * (hi_ - lo_)
        else:
            lo_, c = c, d
            d = lo_ + g * (hi_ - lo_)
    if not cache:
        f(t_max)
    return best()


@dataclass
class RadiusRule:
    """The one trust-region radius rule of the auxiliary-program methods (the bilevel
    ``descent`` method, hyperparameter fine-tuning, MP-NAS): after a step of t times the
    radius, double it when t >= 1 (up to ``max_radius``), else shrink it to t·radius (not
    below ``min_radius``); after no step (failed program or line search) divide it by 4.
    With ``floor`` it never drops below ``min_radius`` (stochastic objectives go on);
    otherwise the region has collapsed once it is below ``min_radius``."""

    radius: float
    min_radius: float = 1e-7
    max_radius: float = math.inf
    floor: bool = False

    def update(self, t: float) -> bool:
        """Apply the rule after a step of ``t`` (0: none); True when the region collapsed."""
        if t >= 1.0:
            self.radius = min(2 * self.radius, self.max_radius)
        elif t > 0:
            self.radius = max(t * self.radius, self.min_radius)
        else:
            self.radius /= 4
            if self.floor:
                self.radius = max(self.radius, self.min_radius)
            else:
                return self.radius < self.min_radius
        return False


@dataclass
class Step:
    """One trust-region step: the direction, the line search (None when the program
    failed or predicts no decrease), the radius it used and whether the region collapsed."""

    direction: Direction
    search: LineSearchResult | None
    radius: float
    collapsed: bool

    @property
    def stationary(self) -> bool:
        """The program was solved and predicts no decrease."""
        return self.search is None and self.direction.status == "optimal"

    @property
    def t(self) -> float:
        """The accepted step length, 0 when none."""
        return self.search.t if self.search is not None and self.search.improved else 0.0


def trust_region_step(program: DescentProgram, rule: RadiusRule, band: float,
                      merit: Callable[[float, Direction], float], value: float, norm: str = "inf",
                      tol: float | None = None, method: str = "backtracking",
                      max_evals: int = 30) -> Step:
    """The body every auxiliary-program method iterates: solve the program in the current
    radius, stop if it predicts a decrease below ``tol``·max(1, |value|) (None: never),
    line-search ``merit(t, direction)`` from ``value`` along it, update the radius by
    ``rule``. The caller moves to the trial point at ``step.t`` when it is positive."""
    used = rule.radius
    d = solve_direction(program, used, band, norm)
    if d.status != "optimal":
        return Step(d, None, used, rule.update(0.0))
    if tol is not None and d.predicted >= -tol * max(1.0, abs(value)):
        return Step(d, None, used, False)
    ls = line_search(lambda t: merit(t, d), value, d.predicted, 1.0, method, max_evals=max_evals)
    return Step(d, ls, used, rule.update(ls.t if ls.improved else 0.0))
