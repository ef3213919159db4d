"""``method="penalty"``: the follower's duality gap moved into the leader's objective with a
growing weight (``bilevel_mp.algorithms.penalty``). Continuous LP-LP problems use White &
Anandalingam's alternating HiGHS LPs; other problems whose follower is proven convex the
penalised KKT NLP (local NLP solver). A local method: ``locally_optimal`` at best (NLP
variant, converged, no rounded integers), ``feasible`` for the LP-LP variant, whose
alternating LPs stop at a partial optimum that can be a saddle point."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..algorithms.lplp_data import extract
from ..algorithms.penalty import GROWTH, MAX_OUTER, RHO0, TOL, LPLPPenalty, PenaltyNLP, PenaltyPath, choose_variant
from ..core.context import Context
from ..core.finish import Claim
from ..core.starts import leader_start
from ..errors import BilevelInputError
from ..problem import BilevelProblem
from ..reformulations.scholtes import STAGE_TIME_LIMIT, starts
from ..structure import Structure
from .reformulate import HPR_INFEASIBLE
from .settings import count, positive

NAME = "penalty"
LOCAL = True


@dataclass
class Settings:
    """x0: the leader's start (default: ``core.starts.leader_start``); rho0: first
    penalty weight; growth: its factor per outer iteration (> 1); tol: the relative gap
    that counts as converged; max_iter: penalty weights tried at most."""

    x0: object = None
    rho0: float = RHO0
    growth: float = GROWTH
    tol: float = TOL
    max_iter: int = MAX_OUTER

    def __post_init__(self):
        positive("rho0", self.rho0)
        positive("growth", self.growth)
        if not self.growth > 1:
            raise BilevelInputError(f"growth must be a finite number > 1, got {self.growth!r}")
        positive("tol", self.tol)
        count("max_iter", self.max_iter, 1)


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    choose_variant(problem, structure)
    leader_start(problem, settings.x0)


def run(ctx: Context, settings: Settings) -> Claim:
    problem, structure = ctx.problem, ctx.structure
    time_limit = ctx.left()
    variant = choose_variant(problem, structure)
    t_start = time.perf_counter()
    deadline = math.inf if time_limit is None else t_start + float(time_limit)
    reserve = 0.0 if time_limit is None else min(ctx.certify_time_limit, 0.2 * float(time_limit))
    claim = Claim(local=True)
    rounded = False
    args = (settings.rho0, settings.growth, settings.tol, settings.max_iter)
    if variant == "lplp":
        claim.assumptions = ["local method (White & Anandalingam 1993 duality-gap penalty, disjoint "
                             "bilinear subproblems solved to a partial optimum by alternating LPs): "
                             "no global optimality claim"]
        path = LPLPPenalty(extract(problem)).run(leader_start(problem, settings.x0), *args,
                                                 deadline - reserve)
    else:
        mpec = PenaltyNLP(problem, time_limit=time_limit, cache=ctx.hpr)
        claim.assumptions = ["local method (complementarity-gap penalty on the follower's KKT system, "
                             "local NLP solves): no global optimality claim"]
        if mpec.relaxed_integers:
            claim.assumptions.append("integer leader variables relaxed in the NLP and rounded afterwards")
        claim.assumptions += list(mpec.lifted.assumptions) + list(mpec.lifted.slm.notes)
        if mpec.infeasible:
            path = PenaltyPath("nlp", status="infeasible", solver="highs", message=HPR_INFEASIBLE)
        else:
            _, x0, y0 = next(starts(mpec, 0, np.random.default_rng(0)))
            if settings.x0 is not None:
                x0 = leader_start(problem, settings.x0)
            stage = STAGE_TIME_LIMIT if time_limit is None else max(STAGE_TIME_LIMIT, time_limit / 4)
            path = mpec.run(x0, y0, *args, deadline - reserve, stage)
            if mpec.relaxed_integers and path.x is not None:
                path.x = np.where(problem.x_is_integer(), np.round(path.x), path.x)
                rounded = True
    claim.solver = "highs" if variant == "lplp" or path.status == "infeasible" else "nlp"
    claim.message = path.describe()
    claim.history = list(path.steps)
    claim.limit_hit = path.status == "time_limit"
    if path.x is None:
        if path.status in ("infeasible", "lower_level_unbounded"):
            claim.verdict = path.status
        return claim
    claim.x, claim.y, claim.duals = path.x, path.y, dict(path.duals)
    claim.converged = path.converged and not rounded and variant == "nlp"
    return claim
