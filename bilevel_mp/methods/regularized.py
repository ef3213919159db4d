"""``method="regularized"``: the local method on the Scholtes-regularised KKT model
(``reformulations.scholtes``): continuation t = 1, 0.1, ..., 1e-8, 0 from ``xy_init``
and sampled starts, each end point certified, value-function cuts for nonconvex
followers; the best certified point is returned. ``locally_optimal`` at best."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..clock import interrupted
from ..core.certify import GAP_TOL, certify, certify_and_polish
from ..core.context import Context
from ..core.finish import Claim
from ..problem import BilevelProblem
from ..reformulations.kkt import reject_integer_follower
from ..reformulations.scholtes import (MAX_COLD_FAILURES, STAGE_TIME_LIMIT, T0, Run, ScholtesMPEC,
                                       follower_y, schedule, starts)
from ..result import Certificate, Iteration
from ..structure import Structure
from .reformulate import HPR_INFEASIBLE, follower_unbounded
from .settings import count

NAME = "regularized"
LOCAL = True
PATIENCE = 3  # starts without improvement, after a certified point, before stopping
FOLLOWER_TIME = 2.0  # seconds for the follower's response at a sampled x
SAME_X = 1e-7  # end points closer than this (relative, inf-norm) are not re-certified
MAX_VALUE_CUTS = 10  # value-function cuts added (nonconvex followers, see add_value_cut)
VALUE_CUT_SLACK = 1e-9
#: how the k-th sampled start is used, cycling: (y0, first t). y0 "sampled" keeps the
#: sampled y; "follower" replaces it by the follower's optimal response at the sampled x.
SAMPLE_STRATEGIES = [("sampled", 1e-2), ("follower", 1e-2), ("sampled", 1.0)]


@dataclass
class Settings:
    """n_starts: sampled starts after ``xy_init`` (at most); seed: their random seed."""

    n_starts: int = 10
    seed: int = 0

    def __post_init__(self):
        count("n_starts", self.n_starts, 0)
        count("seed", self.seed, 0)


@dataclass
class Start(Iteration):
    """One continuation run: its start, last relaxation t and complementarity residual;
    F is the best certified F so far (user's sense)."""

    start: str = ""
    t: float | None = None
    residual: float | None = None


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    reject_integer_follower(problem, NAME)


def certify_point(problem: BilevelProblem, x, y, time_limit):
    """Certificate of (x, y); y replaced by the optimistic follower response at x when
    that is certified and better (``core.certify.certify_and_polish``). Returns (y, cert, cleaned,
    y_hat), y_hat the follower's response at x when it beats y beyond the certificate's
    tolerance (the KKT point was not follower-optimal), else None."""
    first = certify(problem, x, y, time_limit=time_limit)
    y_hat = None
    if first.ll_gap is not None and first.y_best is not None and \
            first.ll_gap > GAP_TOL * max(1.0, abs(first.ll_value or 0.0)):
        y_hat = np.array(first.y_best, dtype=float)
    y, cert, replaced = certify_and_polish(problem, x, y, time_limit=time_limit, cert=first)
    return y, cert, replaced, y_hat


@dataclass
class _Candidate:
    x: np.ndarray
    y: np.ndarray
    F: float  # min form
    cert: Certificate
    cleaned: bool
    run: Run

    @property
    def key(self):
        """Certified first, then lower F, then smaller violation."""
        viol = max(self.cert.upper_violation, self.cert.lower_violation)
        return (0 if self.cert.certified else 1, self.F if self.cert.certified else viol, self.F)


def run(ctx: Context, settings: Settings) -> Claim:
    """Local method: Scholtes-regularised KKT reformulation, multi-start, certified.

    The continuation t = 1, 0.1, ..., 1e-8, 0 of ``ScholtesMPEC`` runs with the local
    NLP solver from ``problem.meta["xy_init"]`` (else the values held by ``problem.x``
    and ``problem.y``), then from up to ``n_starts`` points drawn uniformly (seeded by
    ``seed``) within the variables' bounds after bound tightening, or around the first
    start where unbounded (see ``SAMPLE_STRATEGIES`` for how they are used). Each end
    point is certified by re-solving the follower at its x. The search stops once
    ``PATIENCE`` starts in a row fail to improve a certified point, or at
    ``time_limit`` seconds; each certification gets at most ``certify_time_limit``.

    The claim is local and converged (``locally_optimal`` once certified) when the
    follower is proven convex; never proven: nothing here proves global optimality."""
    problem, structure = ctx.problem, ctx.structure
    n_starts, seed, certify_time_limit = settings.n_starts, settings.seed, ctx.certify_time_limit
    time_limit = ctx.left()
    t_start = time.perf_counter()
    deadline = math.inf if time_limit is None else t_start + float(time_limit)
    mpec = ScholtesMPEC(problem, time_limit=time_limit, cache=ctx.hpr)
    claim = Claim(local=True, solver="nlp", assumptions=_assumptions(mpec, structure))
    if mpec.infeasible:
        claim.verdict, claim.solver, claim.message = "infeasible", "highs", HPR_INFEASIBLE
        return claim
    unbounded = follower_unbounded(ctx, mpec.lifted)
    if unbounded is not None:
        claim.verdict, claim.solver, claim.message = "lower_level_unbounded", "highs", unbounded
        return claim

    # certification gets a reserve at the end of the time budget
    reserve = 0.0 if time_limit is None else min(certify_time_limit, 0.2 * float(time_limit))
    rng = np.random.default_rng(seed)
    best: _Candidate | None = None
    seen: list[np.ndarray] = []
    since_improvement = 0
    n_runs = 0
    unbounded_msg = None
    stage_limit = math.inf if time_limit is None else max(STAGE_TIME_LIMIT, time_limit / 4)
    n_cuts = 0
    cuts_on = mpec.cuts_valid and not structure.lower_convex
    start_points = starts(mpec, n_starts, rng)
    history = []
    rerun = None  # a start to run again after a value-function cut
    n_samples = 0
    while time.perf_counter() < deadline - reserve and not interrupted():
        after_cut = rerun is not None
        if after_cut:
            (base, x0, y0, t0), rerun = rerun, None
            label = f"{base} [{n_cuts} value cut(s)]"
        else:
            nxt = next(start_points, None)
            if nxt is None:
                break
            label, x0, y0 = nxt
            t0 = T0
            if label != "xy_init":
                how, t0 = SAMPLE_STRATEGIES[n_samples % len(SAMPLE_STRATEGIES)]
                n_samples += 1
                if how == "follower":
                    left = deadline - reserve - time.perf_counter()
                    y0 = follower_y(problem, x0, y0, max(0.1, min(FOLLOWER_TIME, left)))
                    label += " (follower's y)"
            base = label
        mpec.set_start(x0, y0)
        run = mpec.continuation(schedule(t0=t0), deadline=deadline - reserve, label=label,
                                max_cold_failures=1 if after_cut else MAX_COLD_FAILURES,
                                stage_time_limit=stage_limit)
        n_runs += 1
        if after_cut and run.values is None:
            # the cuts made the NLP unsolvable from here (they can leave the feasible
            # set without interior): drop them
            mpec.model.value_cuts.deactivate()
            cuts_on = False
        improved = False
        if run.values is not None:
            x, y = mpec.xy(run.values)
            if mpec.relaxed_integers:
                x = np.where(problem.x_is_integer(), np.round(x), x)
            if not any(_close(x, s) for s in seen):
                seen.append(x)
                left = deadline - time.perf_counter()
                if left > 0.05:
                    y, cert, cleaned, y_hat = certify_point(problem, x, y,
                                                             min(certify_time_limit, left))
                    # the KKT point was not follower-optimal: cut it off (when the cut
                    # is valid) and run this start again
                    if y_hat is not None and cuts_on and n_cuts < MAX_VALUE_CUTS:
                        if mpec.add_value_cut(y_hat, VALUE_CUT_SLACK):
                            n_cuts += 1
                            rerun = (base, x0, y0, t0)
                    ev = problem.evaluate(x, y)
                    F_min = problem.sense_sign * ev["F"]
                    cand = _Candidate(x, y, F_min, cert, cleaned, run)
                    if cert.ll_status == "unbounded":
                        unbounded_msg = cert.message
                    if best is None or cand.key < best.key:
                        improved = best is None or not best.cert.certified or \
                            cand.F < best.F - 1e-6 * max(1.0, abs(best.F))
                        best = cand
        history.append(Start(n_runs, None if best is None else problem.sense_sign * best.F,
                             time.perf_counter() - t_start, run.start, run.t, run.residual))
        if best is not None and best.cert.certified and rerun is None:
            since_improvement = 0 if improved else since_improvement + 1
            if since_improvement >= PATIENCE:
                break

    tried = f"{n_runs} run(s)" + (f", {n_cuts} value-function cut(s)" if n_cuts else "")
    claim.history = history
    out_of_time = time.perf_counter() >= deadline - reserve
    if best is None:
        claim.limit_hit = out_of_time
        claim.message = f"no start converged ({tried})" + ("" if not unbounded_msg else f"; {unbounded_msg}")
        return claim
    claim.x, claim.y, claim.certificate = best.x, best.y, best.cert
    claim.duals = _duals(mpec, best)
    claim.converged = structure.lower_convex
    claim.limit_hit = out_of_time and not best.cert.certified
    notes = [f"best of {tried}: {best.run.start}, relaxation t = {best.run.t:g}, "
             f"complementarity residual {best.run.residual:.2g}"]
    if best.cleaned:
        notes.append("y replaced by the exact optimistic follower response at x")
    if unbounded_msg and best.cert.ll_status == "unbounded":
        notes.append(unbounded_msg)
    claim.message = "; ".join(notes)
    return claim


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    return bool(np.max(np.abs(a - b), initial=0.0) <= SAME_X * scale)


def _assumptions(mpec: ScholtesMPEC, structure: Structure) -> list[str]:
    out = ["local method (Scholtes-regularised KKT, multi-start): no global optimality claim"]
    if not structure.lower_convex:
        out.append("follower problem not proven convex in y: KKT points may not be "
                   "follower-optimal (the certificate checks the returned point)")
    if mpec.relaxed_integers:
        out.append("integer leader variables relaxed in the NLP and rounded afterwards")
    out += list(mpec.lifted.assumptions) + list(mpec.lifted.slm.notes)
    return out


def _duals(mpec: ScholtesMPEC, best: _Candidate) -> dict:
    """Follower multipliers: the re-solve's duals (linear followers), else the NLP's."""
    if best.cert.duals:
        return dict(best.cert.duals)
    vals = best.run.values or {}
    return {name: float(vals[id(v)]) for name, v in mpec.lifted.duals.items()
            if vals.get(id(v)) is not None}
