"""``method="descent"``: auxiliary-LP/QP descent on a problem with continuous x (a local
method). From x0, each iteration solves the auxiliary program of
``algorithms.descent`` at (x, y*(x)) for (dx, dy), searches the step on
F(x + t·dx, y*(x + t·dx)) with the follower re-solved exactly, and enlarges the trust
region after a full step or shrinks it after a failed one. Stops when the program
predicts no decrease (a stationary point of the relaxation: converged), when the region
collapses, or at ``max_iter`` / the time limit."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..algorithms.descent import RadiusRule, trust_region_step
from ..algorithms.local_model import LocalRun, build_local_model
from ..core.context import Context
from ..core.finish import Claim
from ..core.starts import leader_start
from ..errors import BilevelInputError
from ..problem import BilevelProblem
from ..reformulations.kkt import reject_integer_follower
from ..result import Iteration
from ..structure import Structure
from .settings import count, flag, one_of, positive

NAME = "descent"
LOCAL = True


@dataclass
class DescentIteration(Iteration):
    """One iteration: trust radius, predicted decrease, accepted step (0: rejected) and
    the stationarity residual of the auxiliary program."""

    radius: float = 0.0
    predicted: float = 0.0
    step: float = 0.0
    residual: float = 0.0


@dataclass
class LocalSettings:
    """What every trust-region local method takes: x0: leader start
    (``core.starts.leader_start``); radius: first trust radius; max_iter; tol: relative
    predicted decrease that counts as none; min_radius: the region collapses below it;
    verbose: one line per iteration."""

    x0: object = None
    radius: float = 1.0
    max_iter: int = 100
    tol: float = 1e-9
    min_radius: float = 1e-7
    verbose: bool = False

    def __post_init__(self):
        positive("radius", self.radius)
        count("max_iter", self.max_iter, 1)
        positive("tol", self.tol)
        positive("min_radius", self.min_radius)
        flag("verbose", self.verbose)


@dataclass
class Settings(LocalSettings):
    """x0, radius, max_iter, tol, min_radius, verbose (see ``LocalSettings``); delta:
    stationarity band δ; norm: "inf" (box, LP) or "2" (proximal QP); line_search:
    "backtracking" or "golden"."""

    delta: float = 1e-6
    norm: str = "inf"
    line_search: str = "backtracking"

    def __post_init__(self):
        super().__post_init__()
        positive("delta", self.delta)
        one_of("norm", self.norm, ("inf", "2"))
        one_of("line_search", self.line_search, ("backtracking", "golden"))


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    reject_integer_follower(problem, NAME)  # its program linearises the follower's KKT system
    if structure.x_integer:
        raise BilevelInputError(f"{NAME} moves x continuously: integer leader variables need a "
                                "global method (method='kkt' or 'auto')")
    leader_start(problem, settings.x0)


def start(ctx: Context, name: str, x0, solver: str) -> tuple[LocalRun, Claim | None]:
    """The local run from x0, and the claim to return at once when it has no start
    (``None`` otherwise)."""
    loc = LocalRun(ctx.problem, name, x0, ctx.hpr, deadline=ctx.search_end())
    if not loc.failed:
        return loc, None
    return loc, Claim(local=True, solver=solver, message=loc.failed, assumptions=loc.assumptions,
                      verdict=loc.verdict)


def local_claim(run: LocalRun, converged: bool, reason: str, history: list, solver: str,
                limit_hit: bool) -> Claim:
    """The claim of a local run that ended at (run.x, run.y)."""
    return Claim(x=run.x, y=run.y, local=True, converged=converged, limit_hit=limit_hit,
                 solver=solver, history=history, assumptions=list(run.assumptions),
                 message=f"{len(history)} iterations; stopped: {reason}")


def run(ctx: Context, settings: Settings) -> Claim:
    s = settings
    loc, failed = start(ctx, NAME, s.x0, "highs")
    if failed is not None:
        return failed
    deriv, x, y, F = loc.deriv, loc.x, loc.y, loc.F
    rule = RadiusRule(s.radius, s.min_radius)
    history, converged, reason, limit_hit = [], False, "max_iter", False
    for k in range(s.max_iter):
        if ctx.out_of_time():
            reason, limit_hit = "time_limit", True
            break
        t_it = time.perf_counter()
        lm = build_local_model(deriv, x, y, radius=rule.radius)
        # the band is never tighter than the current residual (the least-squares
        # multipliers leave r0 ≠ 0 when y is optimal only to the solver's tolerance)
        band = max(s.delta, float(np.abs(lm.program.r0).max(initial=0.0)))
        trial: dict = {}

        def merit(t, d):
            v, yt = loc.merit(x + t * d.dx)
            trial[t] = yt
            return v

        step = trust_region_step(lm.program, rule, band, merit, F, s.norm, s.tol, s.line_search)
        d = step.direction
        if d.status != "optimal":
            if step.collapsed:
                reason = f"auxiliary program {d.status}"
                break
            continue
        if step.stationary:
            converged, reason = not d.elastic, "no descent direction" + (
                " (elastic program: stationarity band not met)" if d.elastic else "")
            break
        history.append(DescentIteration(k, loc.problem.sense_sign * F, time.perf_counter() - t_it, step.radius, d.predicted,
                                        step.t, d.residual))
        if s.verbose:
            print(f"it {k:3d}  F {F:.8g}  radius {step.radius:.3g}  pred {d.predicted:.3g}  step {step.t:.3g}")
        if step.t > 0:
            x, y, F = x + step.t * d.dx, trial[step.t], step.search.value
        elif step.collapsed:
            converged, reason = loc.collapsed(x, y, F)
            break
    loc.x, loc.y = x, y
    return local_claim(loc, converged, reason, history, "highs", limit_hit)
