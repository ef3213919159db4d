"""``method="trust_region"``: Colson–Marcotte–Savard trust region (a local method). Each
iteration builds the linear–quadratic bilevel model of ``algorithms.trust_region`` in a
box of radius Δ, solves it exactly with the KKT method (SOS1, SCIP), and accepts the step
when actual/predicted decrease > ``eta``; Δ doubles after a good step that reaches the
boundary (ratio > 0.75) and is quartered after a rejected one. Converged when the model
predicts no decrease."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..algorithms.trust_region import TrustRegionIteration, model_problem
from ..core.context import Context
from ..core.finish import Claim, settle
from ..structure import detect
from . import kkt
from .descent import accepts as descent_accepts
from .descent import LocalSettings, local_claim, start
from .settings import positive

NAME = "trust_region"
LOCAL = True


@dataclass
class Settings(LocalSettings):
    """x0, radius (the first Δ), max_iter, tol, min_radius, verbose (see
    ``methods.descent.LocalSettings``); eta: acceptance ratio of actual to predicted
    decrease."""

    max_iter: int = 50
    tol: float = 1e-8
    eta: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        positive("eta", self.eta)


accepts = descent_accepts


def solve_model(ctx: Context, model) -> Claim:
    """The model solved exactly by the KKT method (SOS1), its point certified."""
    mctx = Context(model, detect(model), ctx.left(), ctx.certify_time_limit, deadline=ctx.deadline)
    return settle(model, kkt.run(mctx, kkt.Settings()), mctx.certify_limit)


def run(ctx: Context, settings: Settings) -> Claim:
    s = settings
    loc, failed = start(ctx, NAME, s.x0, "scip")
    if failed is not None:
        return failed
    deriv, x, y, F, radius = loc.deriv, loc.x, loc.y, loc.F, s.radius
    history, converged, reason, limit_hit = [], False, "max_iter", False
    for k in range(s.max_iter):
        if ctx.out_of_time():
            reason, limit_hit = "time_limit", True
            break
        t_it = time.perf_counter()
        model, dF = model_problem(deriv, x, y, radius)
        mres = solve_model(ctx, model)
        if mres.x is None:
            radius /= 4
            if radius < s.min_radius:
                reason = f"model not solved ({mres.message})"
                break
            continue
        x_new = np.asarray(mres.x, dtype=float)
        predicted = -float(dF @ np.concatenate([x_new - x, mres.y - y]))  # model decrease
        if predicted <= s.tol * max(1.0, abs(F)):
            converged, reason = True, "model predicts no decrease"
            history.append(TrustRegionIteration(k, loc.problem.sense_sign * F, time.perf_counter() - t_it, radius, predicted, 0.0))
            break
        F_new, y_new = loc.merit(x_new)
        actual = F - F_new
        ratio = actual / predicted
        accepted = ratio > s.eta
        history.append(TrustRegionIteration(k, loc.problem.sense_sign * F, time.perf_counter() - t_it, radius, predicted, actual,
                                            ratio, accepted))
        if s.verbose:
            print(f"it {k:3d}  F {F:.8g}  radius {radius:.3g}  pred {predicted:.3g}  ratio {ratio:.3g}")
        step = float(np.abs(x_new - x).max(initial=0.0))
        if accepted:
            x, y, F = x_new, y_new, F_new
            if ratio > 0.75 and step >= 0.99 * radius:
                radius *= 2
        else:
            radius = (min(step, radius) if step > 0 else radius) / 4
            if radius < s.min_radius:
                converged, reason = loc.collapsed(x, y, F)
                break
    loc.x, loc.y = x, y
    return local_claim(loc, converged, reason, history, "scip", limit_hit)


__all__ = ["NAME", "LOCAL", "Settings", "accepts", "run"]
