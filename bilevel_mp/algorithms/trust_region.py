"""Trust-region method for bilevel programs, after Colson, Marcotte & Savard (2005,
Comput. Optim. Appl. 30:211–227).

At an iterate (x_k, y_k = y*(x_k)) it builds a linear–quadratic *bilevel* model

    min_{x,y}  ∇F·(x − x_k, y − y_k)
    s.t.       G linearised >= 0,   ‖x − x_k‖_∞ <= Δ
               y ∈ argmin_y'  ∇_y f·s + ½ s^T H⁺_yy s + s^T H_yx (x − x_k),  s = y' − y_k
                              s.t. g linearised >= 0

(H⁺_yy: the follower Hessian of the Lagrangian projected onto the PSD cone, so the
model's follower is a convex QP), solves the model *exactly* with the core's KKT
reformulation (SOS1 complementarity, SCIP), then evaluates the true F at the
model's x with the follower re-solved. The step is accepted by the ratio of actual
to predicted decrease and the radius Δ updated. On LP-LP problems the model is the
problem itself restricted to the box, so each step is a global move within it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..derivatives import Derivatives
from ..errors import BilevelInputError
from ..problem import BilevelProblem
from ..result import BilevelResult
from .local_model import LocalRun, build_local_model


@dataclass
class TrustRegionIteration:
    k: int
    F: float
    radius: float
    predicted: float
    actual: float
    ratio: float
    accepted: bool
    seconds: float


def _psd(H: np.ndarray) -> np.ndarray:
    if H.size == 0:
        return H
    w, Q = np.linalg.eigh(0.5 * (H + H.T))
    return (Q * np.maximum(w, 0.0)) @ Q.T


def _lin(coefs, vars_, const=0.0):
    return const + sum(float(a) * v for a, v in zip(coefs, vars_) if a != 0.0)


def model_problem(deriv: Derivatives, x, y, radius: float) -> tuple[BilevelProblem, np.ndarray]:
    """The linear–quadratic bilevel model at (x, y) with box radius ``radius``, and ∇F
    there (the model's objective)."""
    p = deriv.problem
    n, m = p.n_x, p.n_y
    lm = build_local_model(deriv, x, y)
    pt = lm.point
    q = BilevelProblem(n_x=n, n_y=m, name=f"{p.name}:tr-model")
    X = [q.x[i] for i in range(n)]
    Y = [q.y[j] for j in range(m)]
    for i in range(n):
        lo, hi = x[i] - radius, x[i] + radius
        v = p.x[i]
        lo = lo if v.lb is None else max(lo, v.lb)
        hi = hi if v.ub is None else min(hi, v.ub)
        q.x[i].setlb(min(lo, x[i]))
        q.x[i].setub(max(hi, x[i]))
    dX = [X[i] - float(x[i]) for i in range(n)]
    dY = [Y[j] - float(y[j]) for j in range(m)]
    d = dX + dY
    upper = [(_lin(pt.dG[r], d, pt.G[r]), pt.G_eq[r]) for r in range(len(pt.G))]
    G = [(e == 0) if eq else (e >= 0) for e, eq in upper if not isinstance(e, float)]
    q.set_upper(_lin(pt.dF, d), G)
    Hyy = _psd(lm.program.H_yy)
    Hyx = lm.program.H_yx
    quad = 0.5 * sum(Hyy[a, b] * dY[a] * dY[b] for a in range(m) for b in range(m) if Hyy[a, b] != 0.0)
    cross = sum(Hyx[a, b] * dY[a] * dX[b] for a in range(m) for b in range(n) if Hyx[a, b] != 0.0)
    lower_rows = []
    for r in range(len(pt.g)):
        e = _lin(pt.dg[r], d, pt.g[r])
        if not isinstance(e, float):
            lower_rows.append((e == 0) if pt.g_eq[r] else (e >= 0))
    q.set_lower(_lin(pt.df[n:], dY) + quad + cross, lower_rows)
    return q, pt.dF


def solve_trust_region(problem: BilevelProblem, x0=None, radius: float = 1.0, eta: float = 0.1,
                       max_iter: int = 50, tol: float = 1e-8, min_radius: float = 1e-7,
                       time_limit: float | None = None, verbose: bool = False) -> BilevelResult:
    """Colson–Marcotte–Savard trust region from x0 (default: the problem's ``xy_init``).

    Each model is solved exactly (``bilevel_mp.solve(method="kkt")``). Accepts a step
    when actual/predicted decrease > ``eta``; doubles Δ after a good step that reaches
    the boundary (ratio > 0.75), quarters it after a rejected one. Returns a certified
    ``BilevelResult`` ("locally_optimal" when the model predicts no decrease) with the
    iteration log in ``history``."""
    from ..solve import solve

    if not radius > 0:
        raise BilevelInputError(f"radius must be > 0, got {radius}")
    run = LocalRun(problem, "trust_region", x0)
    if run.failed:
        return run.failed
    deriv, x, y, F = run.deriv, run.x, run.y, run.F
    history, converged, reason = [], False, "max_iter"
    for k in range(max_iter):
        left = None if time_limit is None else time_limit - run.elapsed()
        if left is not None and left <= 0:
            reason = "time_limit"
            break
        t_it = time.perf_counter()
        model, dF = model_problem(deriv, x, y, radius)
        mres = solve(model, method="kkt", mode="sos1", time_limit=left, certify_time_limit=left)
        if mres.x is None:
            radius /= 4
            if radius < min_radius:
                reason = f"model not solved ({mres.status}: {mres.message})"
                break
            continue
        x_new = np.asarray(mres.x, dtype=float)
        predicted = -float(dF @ np.concatenate([x_new - x, mres.y - y]))  # model decrease
        if predicted <= tol * max(1.0, abs(F)):
            converged, reason = True, "model predicts no decrease"
            history.append(TrustRegionIteration(k, F, radius, predicted, 0.0, math.nan, False,
                                                 time.perf_counter() - t_it))
            break
        F_new, y_new = run.merit(x_new)
        actual = F - F_new
        ratio = actual / predicted
        accepted = ratio > eta
        history.append(TrustRegionIteration(k, F, radius, predicted, actual, ratio, accepted,
                                            time.perf_counter() - t_it))
        if verbose:
            print(f"it {k:3d}  F {F:.8g}  radius {radius:.3g}  pred {predicted:.3g}  ratio {ratio:.3g}")
        step = float(np.abs(x_new - x).max(initial=0.0))
        if accepted:
            x, y, F = x_new, y_new, F_new
            if ratio > 0.75 and step >= 0.99 * radius:
                radius *= 2
        else:
            radius = (min(step, radius) if step > 0 else radius) / 4
            if radius < min_radius:
                converged, reason = run.collapsed(x, y, F)
                break
    run.x, run.y = x, y
    return run.finish(converged, reason, history, "scip (KKT model)")
