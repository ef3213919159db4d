"""Trust-region method for bilevel programs, after Colson, Marcotte & Savard (2005,
Comput. Optim. Appl. 30:211–227).

At an iterate (x_k, y_k = y*(x_k)) it builds a linear–quadratic *bilevel* model

    min_{x,y}  ∇F·(x − x_k, y − y_k)
    s.t.       G linearised >= 0,   ‖x − x_k‖_∞ <= Δ
               y ∈ argmin_y'  ∇_y f·s + ½ s^T H⁺_yy s + s^T H_yx (x − x_k),  s = y' − y_k
                              s.t. g linearised >= 0

(H⁺_yy: the follower Hessian of the Lagrangian projected onto the PSD cone, so the
model's follower is a convex QP), solves the model *exactly* with the core's KKT
reformulation (SOS1 complementarity, SCIP; ``methods.trust_region``), then evaluates the true F at the
model's x with the follower re-solved. The step is accepted by the ratio of actual
to predicted decrease and the radius Δ updated. On LP-LP problems the model is the
problem itself restricted to the box, so each step is a global move within it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.derivatives import Derivatives
from ..problem import BilevelProblem
from ..result import Iteration
from .local_model import build_local_model


@dataclass
class TrustRegionIteration(Iteration):
    """One model solve: radius, predicted and actual decrease, their ratio, accepted?"""

    radius: float = 0.0
    predicted: float = 0.0
    actual: float = 0.0
    ratio: float = math.nan
    accepted: bool = False


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
