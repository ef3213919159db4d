"""``method="complementarity_bb"``: branch-and-bound on the follower's complementarity
pairs over warm-started HiGHS LPs, with conflict learning (continuous LP-LP only; see
``bilevel_mp.algorithms.complementarity_bb``). ``optimal`` when the tree is exhausted
with every pruning proven by an LP; the bound is then ``F* - rel_gap·|F*|``."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from .. import progress as progress_report
from ..algorithms.complementarity_bb import ComplementarityBB
from ..algorithms.lplp_data import check_lplp, extract
from ..core.context import Context
from ..core.finish import Claim
from ..errors import BilevelInputError
from ..problem import BilevelProblem
from ..reformulations.kkt import reject_integer_follower
from ..result import Iteration
from ..structure import Structure
from .reformulate import bound_hint
from .settings import count, flag, nonnegative, positive

NAME = "complementarity_bb"
LOCAL = False
EXPERIMENTAL = ("minimize", "polish", "targets", "active_first", "probe")
MAX_GAP = 1e-6  # the loosest relative gap a proof of optimality may have


@dataclass
class BBProgress(Iteration):
    """Every 200 nodes: incumbent F (user's sense, None before the first) and open bound."""

    bound: float | None = None


@dataclass
class Settings:
    """node_limit: stop after this many nodes; rel_gap: relative optimality gap;
    learn: conflict learning (nogoods); heuristic_every, dive_every, local_search: primal
    heuristics' frequency and effort; max_nogoods: nogood store size; activity_weight:
    branching boost of rows seen in conflicts; lazy_dual: reuse the parent's multipliers;
    experimental: measured-and-off search options ({"minimize", "polish", "targets",
    "active_first", "probe"}, see docs); verbose: print progress."""

    node_limit: int | None = None
    rel_gap: float = 1e-9
    learn: bool = True
    heuristic_every: int = 8
    dive_every: int = 50
    local_search: int = 20
    max_nogoods: int = 4000
    activity_weight: float = 5.0
    lazy_dual: bool = True
    experimental: dict = field(default_factory=dict)
    verbose: bool = False

    def __post_init__(self):
        count("node_limit", self.node_limit, 1, allow_none=True)
        positive("rel_gap", self.rel_gap)
        if self.rel_gap > MAX_GAP:  # "optimal" must stay a global optimum
            raise BilevelInputError(f"rel_gap must be at most {MAX_GAP:g} (a proof of optimality), "
                                    f"got {self.rel_gap!r}; use node_limit or time_limit to stop early")
        for name in ("heuristic_every", "max_nogoods"):
            count(name, getattr(self, name), 1)
        count("dive_every", self.dive_every, 0)
        count("local_search", self.local_search, 0)
        nonnegative("activity_weight", self.activity_weight)
        for name in ("learn", "lazy_dual", "verbose"):
            flag(name, getattr(self, name))
        bad = set(self.experimental) - set(EXPERIMENTAL)
        if not isinstance(self.experimental, dict) or bad:
            raise BilevelInputError(f"experimental takes the keys {list(EXPERIMENTAL)}, got {self.experimental!r}")


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    reject_integer_follower(problem, NAME)
    check_lplp(problem, structure)


def run(ctx: Context, settings: Settings) -> Claim:
    problem = ctx.problem
    data = extract(problem)
    sense = problem.sense_sign
    history = []
    t0 = time.perf_counter()
    reporter = progress_report.current()

    def progress(nodes, ub, bound):
        history.append(BBProgress(nodes, sense * ub if math.isfinite(ub) else None,
                                  time.perf_counter() - t0, sense * bound if math.isfinite(bound) else None))
        reporter.model(ub, bound)
        if settings.verbose:
            print(f"nodes {nodes:7d}  incumbent {ub:.8g}  bound {bound:.8g}")

    opts = {k: v for k, v in vars(settings).items() if k not in ("experimental", "verbose")}
    bb = ComplementarityBB(data, time_limit=ctx.left(), progress=progress, **opts,
                           **settings.experimental)
    out = bb.run()
    progress(out.nodes, out.value if out.value is not None else math.inf,
             out.bound if out.bound is not None else -math.inf)
    # a bound counts only when every pruning was proven by an LP (no failed LP dropped a node)
    claim = Claim(solver="highs", history=history, bound=out.bound if out.proven else None)
    stats = (f"{out.nodes} nodes, {out.lp_solves} LPs, {out.nogoods[0]}+{out.nogoods[1]} nogoods, "
             f"{out.seconds:.2f} s")
    claim.message = stats if not out.message else f"{out.message}; {stats}"
    claim.limit_hit = out.status in ("time_limit", "node_limit")
    if out.status == "follower_unbounded":
        claim.verdict = "lower_level_unbounded"
        claim.note(bound_hint(problem))
    elif out.status == "infeasible" and out.z is None:
        if out.proven:
            claim.verdict = "infeasible"
        else:
            claim.note("some LPs failed, infeasibility not proven")
    if out.z is None:
        return claim
    claim.x, claim.y = out.z[: data.n_x], out.z[data.n_x:]
    claim.duals = {name: float(v) for name, v in zip(data.names, out.lam)}
    claim.duals.update({name: float(v) for name, v in zip(data.E_names, out.mu)})
    claim.proven = out.status == "optimal" and out.proven
    return claim
