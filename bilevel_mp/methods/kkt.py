"""``method="kkt"``: the follower replaced by its KKT conditions, complementarity written
by a mode (SOS1 by default), solved globally (SCIP; HiGHS for big-M MILPs).

Exact, and so ``optimal`` when proven, for followers proven convex in y; a result resting
on a user-given ``dual_bound`` (big-M) is never ``optimal``."""

from __future__ import annotations

from dataclasses import dataclass

from ..backends import check_solver
from ..core.context import Context
from ..core.finish import Claim
from ..errors import BilevelInputError
from ..problem import BilevelProblem
from ..reformulations.complementarity import get_mode
from ..reformulations.kkt import KKT, reject_integer_follower
from ..structure import Structure
from .reformulate import solve_reduction
from .settings import flag

NAME = "kkt"
LOCAL = False
LINKED_DUALS = True  # serves BilevelProblem.dual_of: its model holds the follower multipliers
NASH = True  # serves coupled followers (add_follower): each follower's KKT system in its own y


@dataclass
class Settings:
    """mode: complementarity for every pair ("sos1", "indicator", "bigm", "product");
    modes: per follower constraint name, a mode; dual_bound: multiplier bound for big-M
    pairs (float or name -> float), the user's assumption; solver: force a back end
    ("highs", "scip"); verbose: print the solver's log."""

    mode: object = "sos1"
    modes: dict | None = None
    dual_bound: object = None
    solver: str | None = None
    verbose: bool = False

    def __post_init__(self):
        get_mode(self.mode)
        if self.modes is not None:
            if not isinstance(self.modes, dict):
                raise BilevelInputError(f"modes must be a dict (constraint name -> mode), got {self.modes!r}")
            for v in self.modes.values():
                get_mode(v)
        check_solver(self.solver)
        flag("verbose", self.verbose)

    def reduction(self) -> KKT:
        return KKT(mode=self.mode, modes=self.modes, dual_bound=self.dual_bound)

    @property
    def customised(self) -> bool:
        """Anything other than the default SOS1 model was asked for."""
        return not (isinstance(self.mode, str) and self.mode == "sos1") or bool(self.modes) \
            or self.dual_bound is not None or self.solver is not None


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    reject_integer_follower(problem, NAME)


def reduction(settings: Settings) -> KKT:
    """The single-level reduction this method solves (``bilevel_mp.export`` writes it)."""
    return settings.reduction()


def run(ctx: Context, settings: Settings) -> Claim:
    return solve_reduction(ctx, reduction(settings), settings.solver, settings.verbose)
