"""``method="follower_dual"``: for a leader that sees y only through −f (F and G free of
y, or a max–min F = −f + h(x)) and a follower linear in y, the follower's LP dual
replaces its optimality conditions: no complementarity, no big-M (see
``reformulations.follower_dual``). A MILP for HiGHS when the follower's rows do not move
with x; SCIP otherwise. ``auto`` picks it for these structures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backends import check_solver
from ..core.certify import solve_follower
from ..core.context import Context
from ..core.finish import Claim
from ..errors import UnsupportedStructureError
from ..problem import BilevelProblem
from ..reformulations.follower_dual import FollowerDual
from ..reformulations.kkt import reject_integer_follower
from ..structure import Structure
from .reformulate import solve_reduction
from .settings import flag

NAME = "follower_dual"
LOCAL = False


@dataclass
class Settings:
    """solver: force a back end ("highs", "scip"); verbose: print the solver's log."""

    solver: str | None = None
    verbose: bool = False

    def __post_init__(self):
        check_solver(self.solver)
        flag("verbose", self.verbose)


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    reject_integer_follower(problem, NAME)
    if not FollowerDual().accepts(structure):
        why = (f"the follower is {structure.lower.replace('_', ' ')} in y" if structure.lower != "linear"
               else "the leader's F or G uses y other than through -f" if structure.leader_y == "general"
               else "the follower's rows move with a continuous x (multiplier-times-x products)")
        raise UnsupportedStructureError(
            f"follower_dual needs a follower linear in y and a leader that sees y only through -f "
            f"(F and G free of y, or F = -f + h(x)); in {problem.name} {why} (use method='kkt')")


def reduction(settings: Settings) -> FollowerDual:
    """The single-level reduction this method solves (``bilevel_mp.export`` writes it)."""
    return FollowerDual()


def run(ctx: Context, settings: Settings) -> Claim:
    claim = solve_reduction(ctx, reduction(settings), settings.solver, settings.verbose)
    if claim.x is not None:
        respond(ctx, claim)
    return claim


def respond(ctx: Context, claim: Claim) -> None:
    """Replace the model's y (follower-feasible only) by the follower's optimum at x.
    Every optimal response gives the leader the same F (F free of y, or F = -f + h), so
    no optimistic tie-break is needed (and none may trade the follower's tolerance for F)."""
    problem = ctx.problem
    x = np.asarray(claim.x, dtype=float).ravel()
    ints = problem.x_is_integer()
    if any(ints):
        x = np.where(ints, np.round(x), x)
    out, _, slm = solve_follower(problem, x, time_limit=ctx.certify_limit())
    if out.status != "optimal" or out.objective is None:
        claim.proven = False
        claim.note(f"the follower's re-solve at x ended {out.status}: no optimal response to report")
        return
    claim.x = x
    claim.y = np.array([out.values[id(slm.m.y[j])] for j in range(problem.n_y)])
