"""``method="auto"`` (the default): a portfolio of the other methods that never loses a point.

Stages by structure:

* continuous LP-LP: ``complementarity_bb`` (the exact method that scales furthest here),
  then ``kkt`` only if it ended early without a verdict;
* other followers proven convex: ``kkt`` (SOS1 unless ``mode``/``modes``/``dual_bound``
  say otherwise);
* nonconvex followers: ``value_function``;
* followers with integer variables: ``value_function`` alone, with the whole budget (its
  integer cuts and branch-and-cut are exact; the local stage needs a continuous follower);

then, while no stage has a proof and time is left, the local ``regularized`` multi-start.
The branch-and-bound keeps the whole budget, as it would alone: on LP-LP its gap is what
closes, and its heuristics give it an incumbent early (the other stages run only when it
ends early without a verdict). The other global stages get ``GLOBAL_SHARE`` of the budget
so that the local stage can still find a point when they end without one; an integer
follower has no local stage, so ``value_function`` gets the whole budget.

Every stage's point is certified (``core.finish.settle``); the best certified point is
returned with the best proven bound of any stage, and it is ``optimal`` when its F meets
that bound. ``result.found_by`` names the stage; ``result.history`` lists the stages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..backends import nlp
from ..errors import BilevelInputError
from ..core.context import Context
from ..core.certify import is_tight
from ..core.finish import Claim, settle
from ..problem import BilevelProblem
from ..result import Iteration
from ..structure import Structure
from . import complementarity_bb, kkt, regularized, value_function

NAME = "auto"
LOCAL = False
GLOBAL_SHARE = 0.7  # share of the time limit for a global stage other than the B&B
TIE = 1e-6  # a later stage must beat the incumbent by this (relative) to replace it
BELOW_BOUND = 1e-6  # F this far (relative) below a proven lower bound: inconsistent, not a proof
PROOF_GAP = 1e-9  # incumbent within this (relative) of a proven bound: optimal (the solvers' gap)


@dataclass
class Stage(Iteration):
    """One stage of the portfolio: the method, its claim in short, its proven bound."""

    method: str = ""
    status: str = ""
    bound: float | None = None


@dataclass
class Settings(kkt.Settings):
    """The KKT stage's settings (``mode``, ``modes``, ``dual_bound``, ``solver``,
    ``verbose``); asking for anything but the default SOS1 model skips the LP-LP
    branch-and-bound so that the KKT model you describe is the one solved."""


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    why = "integer follower" if structure.y_integer else "follower not proven convex"
    if settings.customised and "kkt" not in plan(structure, settings):
        raise BilevelInputError(
            f"auto solves {problem.name} ({structure.label}, {why}) by "
            "value_function, which has no KKT model: mode, modes, dual_bound and solver apply to "
            "method='kkt' only")
    if not structure.y_integer:
        kkt.accepts(problem, structure, settings)


def plan(structure: Structure, settings: Settings) -> list[str]:
    """The stages, in order."""
    if structure.y_integer:
        return ["value_function"]  # the local stage needs a continuous follower
    if structure.is_continuous_lplp and not settings.customised:
        first = ["complementarity_bb", "kkt"]
    elif structure.lower_convex:
        first = ["kkt"]
    else:
        first = ["value_function"]
    return first + ["regularized"]


def _key(problem, claim: Claim):
    return claim.F_min(problem) if claim.certified else None


def _better(problem, best: Claim | None, new: Claim, bound) -> bool:
    """``new`` replaces ``best``: certified, and lower F by more than the tie tolerance
    (an earlier, exact stage's point wins ties: a local point can undercut an exact one
    only by exploiting the follower's tolerance), or within the tie and proven where
    ``best`` is not."""
    f_new = _key(problem, new)
    if f_new is None:
        return False
    f_best = None if best is None else _key(problem, best)
    if f_best is None or f_new < f_best - TIE * max(1.0, abs(f_best)):
        return True
    return f_new <= f_best + TIE * max(1.0, abs(f_best)) and _proven(problem, new, bound) \
        and not _proven(problem, best, bound)


def run(ctx: Context, settings: Settings) -> Claim:
    problem = ctx.problem
    best: Claim | None = None  # the best certified claim
    first: Claim | None = None  # the first stage's claim (returned when nothing certifies)
    bound = None  # best proven bound (min form)
    stages = []
    stages_planned = plan(ctx.structure, settings)
    for name in stages_planned:
        left = ctx.left()
        if name == "regularized" and (not nlp.available() or (left is not None and left < 1.0)):
            break
        if name == "kkt" and first is not None and (first.limit_hit or left is not None and left < 1.0):
            continue  # the B&B used its time: no second global stage
        if left is None:
            budget = None
        elif name in ("complementarity_bb", "regularized") or len(stages_planned) == 1:
            budget = left  # the B&B, the last stage, or the only one: everything left
        else:
            budget = GLOBAL_SHARE * left if first is None else left
        t0 = time.perf_counter()
        claim = _stage(ctx, name, settings, budget)
        claim.found_by = name
        settle(problem, claim, ctx.certify_limit)
        if claim.bound is not None:
            bound = claim.bound if bound is None else max(bound, claim.bound)
        sign = problem.sense_sign
        F = claim.F_min(problem)
        stages.append(Stage(len(stages), None if F is None else sign * F, time.perf_counter() - t0,
                            name, _summary(claim), None if claim.bound is None else sign * claim.bound))
        if first is None:
            first = claim
        if claim.verdict is not None and best is None:
            claim.history = stages
            return claim  # a proven verdict: infeasible, unbounded, follower unbounded
        if claim.verdict is not None:  # a certified point is held: it stands, the verdict is noted
            best.note(f"{name} concluded {claim.verdict}: {claim.message}")
            break
        if _better(problem, best, claim, bound):
            best = claim
        if best is not None and _proven(problem, best, bound):
            break
    chosen = best if best is not None else first
    if chosen is not first and first is not None and first.message:
        chosen.note(f"{first.found_by} ended without a better certified point ({first.message})")
    chosen.bound = bound
    chosen.proven = best is not None and _proven(problem, best, bound)
    if chosen.proven:
        chosen.limit_hit = False
    chosen.history = stages
    return chosen


def _proven(problem, claim: Claim, bound) -> bool:
    """The claim is a global optimum: its own proof, or its F meets a proven bound."""
    cert = claim.certificate
    if cert is None or not (claim.certified and cert.exact and is_tight(cert)):
        return False
    if claim.proven and not claim.limit_hit:
        return True
    F = claim.F_min(problem)
    if bound is None or F is None:
        return False
    scale = max(1.0, abs(bound))
    # F below a proven lower bound means the point or the bound rests on a tolerance: no proof
    return bound - BELOW_BOUND * scale <= F <= bound + PROOF_GAP * scale


def _summary(claim: Claim) -> str:
    if claim.x is None:
        return claim.verdict or ("time_limit" if claim.limit_hit else "no point")
    return ("proven" if claim.proven else "certified" if claim.certified else "not certified") + \
        (", limit hit" if claim.limit_hit else "")


def _stage(ctx: Context, name: str, settings: Settings, budget) -> Claim:
    sub = ctx.stage(budget)
    if name == "complementarity_bb":
        return complementarity_bb.run(sub, complementarity_bb.Settings(verbose=settings.verbose))
    if name == "kkt":
        return kkt.run(sub, settings)
    if name == "value_function":
        return value_function.run(sub, value_function.Settings(verbose=settings.verbose))
    return regularized.run(sub, regularized.Settings())
