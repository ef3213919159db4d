"""``method="strong_duality"``: primal and dual feasibility of the follower plus
"primal objective <= dual objective" (LP and convex-QP followers), solved by SCIP."""

from __future__ import annotations

from dataclasses import dataclass

from ..backends import check_solver
from ..core.context import Context
from ..core.finish import Claim
from ..errors import UnsupportedStructureError
from ..problem import BilevelProblem
from ..reformulations.kkt import reject_integer_follower
from ..reformulations.strong_duality import StrongDuality
from ..structure import Structure
from .reformulate import solve_reduction
from .settings import flag, one_of

NAME = "strong_duality"
LOCAL = False
LINKED_DUALS = True  # serves BilevelProblem.dual_of: its model holds the follower multipliers


@dataclass
class Settings:
    """form: "dual_objective" (default) or "gap"; sos1: also state complementarity as
    SOS1 sets; solver: force a back end; verbose: print the solver's log."""

    form: str = "dual_objective"
    sos1: bool = True
    solver: str | None = None
    verbose: bool = False

    def __post_init__(self):
        one_of("form", self.form, ("dual_objective", "gap"))
        flag("sos1", self.sos1)
        check_solver(self.solver)
        flag("verbose", self.verbose)


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    reject_integer_follower(problem, NAME)
    if not StrongDuality().accepts(structure):
        raise UnsupportedStructureError(
            f"strong duality needs an LP or convex-QP follower; {problem.name} has a "
            f"{structure.lower.replace('_', ' ')} follower (use method='kkt')")


def reduction(settings: Settings) -> StrongDuality:
    """The single-level reduction this method solves (``bilevel_mp.export`` writes it)."""
    return StrongDuality(settings.form, settings.sos1)


def run(ctx: Context, settings: Settings) -> Claim:
    return solve_reduction(ctx, reduction(settings), settings.solver, settings.verbose)
