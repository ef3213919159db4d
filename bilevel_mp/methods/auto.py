"""``method="auto"`` (the default): a portfolio of the other methods that never loses a point.

Stages by structure:

* a follower linear in y and a leader that sees y only through −f (F and G free of y, or
  a max–min F = −f + h(x): interdiction): ``follower_dual``, the follower's LP dual in
  the leader's model, no complementarity;
* continuous LP-LP: ``complementarity_bb`` (the exact method that scales furthest here);
* a follower linear in y whose rows do not move with x, with x·y terms in its objective
  (pricing, toll setting): ``kkt`` for ``PROBE_SHARE`` of the budget, then
  ``strong_duality`` (its duality row has no λ·x products there) with the rest. Neither
  wins on both: on the library's toll grids strong duality reaches 12×12 where KKT stops
  at 8×8, on its pricing instances KKT proves 128 products in 3 s where strong duality
  times out;
* other followers proven convex: ``kkt`` (SOS1 unless ``mode``/``modes``/``dual_bound``
  say otherwise); with curved rows (cones, concave quadratics) then ``value_function``,
  which needs no constraint qualification, if KKT ends without a proof (Slater's condition
  unproven, ``reformulations.slater``);
* nonconvex followers: ``value_function``;
* followers with integer variables: ``value_function`` alone, with the whole budget (its
  integer cuts and branch-and-cut are exact; the local stage needs a continuous follower);
* a leader that uses follower multipliers (``BilevelProblem.dual_of``) or followers in a
  coupled game (``BilevelProblem.add_follower``): ``kkt`` alone;

the first two followed by ``kkt`` if they end early without a verdict; then, while no
stage has a proof and time is left, the local ``regularized`` multi-start.
``follower_dual``, ``complementarity_bb`` and ``strong_duality`` keep all the budget
left, as they would alone: their gap is what closes, and they find incumbents early (the
later stages run only when they end early without a verdict). ``kkt`` or
``value_function`` as the first stage gets ``GLOBAL_SHARE`` of the budget
so that the local stage can still find a point when they end without one; an integer
follower has no local stage, so ``value_function`` gets the whole budget.

Every stage's point is certified (``core.finish.settle``); the best certified point is
returned with the best proven bound of any stage, and it is ``optimal`` when its F meets
that bound. ``result.found_by`` names the stage; ``result.history`` lists the stages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .. import progress
from ..backends import nlp
from ..errors import BilevelInputError, UnsupportedStructureError
from ..core.context import Context
from ..core.certify import is_tight
from ..core.finish import Claim, settle
from ..problem import BilevelProblem
from ..reformulations.follower_dual import FollowerDual
from ..result import Iteration
from ..structure import Structure
from . import complementarity_bb, follower_dual, kkt, regularized, strong_duality, value_function

NAME = "auto"
LOCAL = False
LINKED_DUALS = True  # serves BilevelProblem.dual_of: its model holds the follower multipliers
NASH = True  # serves coupled followers (add_follower): each follower's KKT system in its own y
GLOBAL_SHARE = 0.7  # share of the time limit for a global stage other than the B&B
TIE = 1e-6  # a later stage must beat the incumbent by this (relative) to replace it
BELOW_BOUND = 1e-6  # F this far (relative) below a proven lower bound: inconsistent, not a proof
PROOF_GAP = 1e-9  # incumbent within this (relative) of a proven bound: optimal (the solvers' gap)
WHOLE_BUDGET = ("complementarity_bb", "follower_dual", "strong_duality")  # stages given all that is left
PROBE_SHARE = 0.15  # the KKT probe's share before strong duality (linear followers, rows free of x)


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
    if structure.y_integer and structure.dual_links:
        raise UnsupportedStructureError(
            f"the leader uses follower duals ({', '.join(problem.dual_links)}) but the follower has "
            "integer variables: an integer follower has no multipliers")
    if structure.y_integer and structure.nash:
        raise UnsupportedStructureError(
            "a coupled game among followers with integer variables: the KKT model of the game "
            "needs continuous followers, and no other method solves games")
    if not structure.y_integer:
        kkt.accepts(problem, structure, settings)


def plan(structure: Structure, settings: Settings) -> list[str]:
    """The stages, in order."""
    if structure.y_integer:
        return ["value_function"]  # the local stage needs a continuous follower
    if structure.dual_links or structure.nash:
        return ["kkt"]  # follower multipliers in the leader's model, or a game: KKT alone
    linear = structure.lower == "linear" and not settings.customised
    if not settings.customised and FollowerDual().accepts(structure):
        first = ["follower_dual", "kkt"]
    elif structure.is_continuous_lplp and not settings.customised:
        first = ["complementarity_bb", "kkt"]
    elif linear and structure.lower_rows_x_free and not structure.lower_linear_in_xy:
        first = ["kkt", "strong_duality"]
    elif structure.lower_convex and structure.lower_rows_curved:
        first = ["kkt", "value_function"]  # KKT is exact only where Slater holds; VF needs no CQ
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
    reporter = progress.current()
    for name in stages_planned:
        left = ctx.left()
        if name == "regularized" and (not nlp.available() or (left is not None and left < 1.0)):
            break
        if name == "kkt" and first is not None and (first.limit_hit or left is not None and left < 1.0):
            continue  # the first stage used its time: no second global stage
        budget = _budget(name, stages_planned, first is None, left)
        t0 = time.perf_counter()
        reporter.stage(name)
        claim = _stage(ctx, name, settings, budget)
        claim.found_by = name
        settle(problem, claim, ctx.certify_limit)
        if claim.bound is not None:
            bound = claim.bound if bound is None else max(bound, claim.bound)
        reporter.point(claim.F_min(problem) if claim.certified else None, bound)
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


def _budget(name: str, stages: list[str], is_first: bool, left: float | None) -> float | None:
    """Seconds for the next stage (None: no limit)."""
    if left is None:
        return None
    if name in WHOLE_BUDGET or name == "regularized" or len(stages) == 1:
        return left  # a stage chosen by structure, the last stage, or the only one
    if is_first and stages[1] == "strong_duality":
        return PROBE_SHARE * left
    return GLOBAL_SHARE * left if is_first else left


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
    if name == "follower_dual":
        return follower_dual.run(sub, follower_dual.Settings(verbose=settings.verbose))
    if name == "strong_duality":
        return strong_duality.run(sub, strong_duality.Settings(verbose=settings.verbose))
    if name == "kkt":
        return kkt.run(sub, settings)
    if name == "value_function":
        return value_function.run(sub, value_function.Settings(verbose=settings.verbose))
    return regularized.run(sub, regularized.Settings())
