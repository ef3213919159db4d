"""Shared by ``kkt`` and ``strong_duality``: apply a single-level reduction, solve the
model with a back end, and map the solution back into a ``Claim``."""

from __future__ import annotations

import numpy as np

from ..clock import MIN_SOLVE_SECONDS
from ..core.bounds import share
from .. import progress
from ..backends import solve_single_level
from ..backends.single_level import SOLVER_INFINITY
from ..core.certify import follower_status, solve_follower
from ..core.context import Context
from ..core.finish import Claim
from ..core.lifted import Lifted

UNBOUNDED = "the leader's objective is unbounded over the inducible region (solver's verdict)"
HPR_INFEASIBLE = ("the high-point relaxation is infeasible (LP proof): no (x, y) satisfies "
                  "G and g together")


def solve_reduction(ctx: Context, reduction, solver: str | None = None,
                    verbose: bool = False) -> Claim:
    """``reduction.apply`` (KKT or StrongDuality) → back end → ``Lifted.invert``.

    The claim is ``proven`` when the back end reports optimal and the model is exact (no
    assumed dual bound, follower proven convex); its bound counts only then."""
    problem = ctx.problem
    lifted = reduction.apply(problem, ctx.structure, time_limit=ctx.left(), cache=ctx.hpr)
    claim = Claim(mode=reduction.mode_label, solver="highs",
                  assumptions=list(lifted.assumptions) + list(lifted.slm.notes))
    if lifted.hpr.get("infeasible"):
        claim.verdict, claim.message = "infeasible", HPR_INFEASIBLE
        return claim
    unbounded = follower_unbounded(ctx, lifted)
    if unbounded is not None:
        claim.verdict, claim.message = "lower_level_unbounded", unbounded
        return claim
    feastol = reduction.feastol
    outcome = solve_single_level(lifted.slm, time_limit=ctx.left(), solver=solver, verbose=verbose,
                                 feastol=feastol, watch=progress.watcher())
    if feastol is not None and outcome.status == "infeasible":
        # a tight tolerance can make a thin feasible set look empty: no verdict from it
        outcome = solve_single_level(lifted.slm, time_limit=ctx.left(), solver=solver, verbose=verbose,
                                     watch=progress.watcher())
    claim.solver = outcome.solver
    claim.limit_hit = outcome.status == "time_limit"
    if outcome.status != "optimal":
        claim.message = outcome.message
    if outcome.status == "unbounded" and outcome.has_solution and not all(
            abs(v) < SOLVER_INFINITY for v in outcome.values.values()):
        outcome.values = {}  # a point at the solver's infinity (SCIP's 1e20) is no point
    if not outcome.has_solution:
        if outcome.status == "infeasible" and lifted.complete:
            claim.verdict = "infeasible"
            if not lifted.exact:
                claim.message = ("the single-level model is infeasible (method not exact: no proof "
                                 "of bilevel infeasibility; see the assumptions)")
        elif outcome.status == "infeasible":  # no verdict: the model may have lost feasible points
            claim.message = ("the single-level model is infeasible, but it may have lost follower optima "
                             "(see the assumptions): no proof that the bilevel problem is infeasible")
        elif outcome.status == "unbounded":
            claim.verdict = "unbounded"
            claim.message = UNBOUNDED
        return claim
    claim.x, claim.y, claim.duals = lifted.invert(outcome)
    if outcome.bound is not None and lifted.exact:
        claim.bound = outcome.bound
    claim.proven = outcome.status == "optimal" and lifted.exact
    claim.local = claim.converged = outcome.status == "locally_optimal"
    if outcome.status == "unbounded":
        claim.verdict = "unbounded"
        claim.message = UNBOUNDED
    return claim


def follower_unbounded(ctx: Context, lifted: Lifted) -> str | None:
    """A message if the follower's problem is unbounded at a point of the high-point
    relaxation (checked before any reformulation is solved), else None. Solved once per
    solve: the answer is kept on the HPR cache for the later stages."""
    problem = ctx.problem
    x0 = lifted.hpr.get("point")
    if x0 is None or problem.coupled:  # a game's followers are not one problem to re-solve
        return None
    done = ctx.hpr.follower_check
    if done is not None and np.array_equal(done[0], x0):
        return done[1]
    seconds = min(10.0, ctx.certify_time_limit)
    left = ctx.left()
    if left is not None:  # a check, not the search: a share of what is left
        seconds = max(MIN_SOLVE_SECONDS, min(seconds, share(left)))
    out, _, _ = solve_follower(problem, x0, time_limit=seconds)
    message = None
    if follower_status(out) == "unbounded":  # SCIP's "optimal" at -1e20 included
        message = (f"the follower's problem is unbounded at x = {np.round(x0, 6).tolist()}: its "
                   f"optimum does not exist, so the bilevel problem is ill-posed. {bound_hint(problem)}")
    ctx.hpr.follower_check = (np.array(x0, dtype=float), message)
    return message


def bound_hint(problem) -> str:
    """What to do about an unbounded follower: the follower variables left unbounded."""
    free = [problem.y_names[j] for j in range(problem.n_y)
            if problem.y[j].lb is None or problem.y[j].ub is None]
    named = ", ".join(free[:6]) or "all are bounded: check the constraints"
    return f"Bound the follower variables ({named}) or add follower constraints."
