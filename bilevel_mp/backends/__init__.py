"""Solver back ends: each turns a ``SingleLevelModel`` into a ``SolveOutcome``.

- LP / MILP without SOS1 or indicators: HiGHS (``highspy``).
- Anything with SOS1, indicators, quadratic or nonlinear terms: SCIP (``pyscipopt``),
  which solves MIQP, MINLP and nonconvex products to global optimality.
- Local NLP (regularised MPECs, penalty subproblems): ripopt / ipopt through Pyomo.

``BACKENDS`` keys are the names results report in ``result.solver`` and ``solve(solver=)``
accepts; any other name is taken as a solver of Pyomo's ``SolverFactory`` (the user's own:
Gurobi, CPLEX, Xpress, CBC, ...; ``pyomo_solver``).
"""

from __future__ import annotations

from ..errors import BilevelInputError, SolverUnavailableError
from . import highs, nlp, pyomo_solver, scip
from .single_level import SingleLevelModel, SolveOutcome

BACKENDS = {"highs": highs, "scip": scip, "nlp": nlp}


def available_solvers() -> dict[str, bool]:
    """Availability of each back end, e.g. ``{"highs": True, "scip": True, "nlp": True}``."""
    return {name: mod.available() for name, mod in BACKENDS.items()}


def check_solver(solver: str | None) -> None:
    """Raise ``BilevelInputError`` for an unknown back-end name, ``SolverUnavailableError``
    for one that is not installed; None passes."""
    if solver is None:
        return
    if not isinstance(solver, str):
        raise BilevelInputError(f"solver must be a name, got {solver!r}")
    if solver not in BACKENDS:
        pyomo_solver.check_name(solver)  # the user's own solver, through Pyomo
        return
    if not BACKENDS[solver].available():
        raise SolverUnavailableError(f"solver {solver!r} is not installed")


def pick(slm: SingleLevelModel, solver: str | None = None) -> str:
    """Name of the back end for ``slm``: the user's choice, or the class default."""
    if solver is not None:
        check_solver(solver)
        return solver
    if highs.available() and highs.accepts(slm):
        return "highs"
    if scip.available():
        return "scip"
    raise SolverUnavailableError(
        "this model needs SCIP (SOS1, indicators or nonlinear terms): pip install pyscipopt"
    )


def solve_single_level(slm: SingleLevelModel, time_limit: float | None = None,
                       solver: str | None = None, verbose: bool = False,
                       feastol: float | None = None, watch=None) -> SolveOutcome:
    """Solve a single-level model with the right back end; ``feastol``: SCIP's feasibility
    tolerance (None: its default 1e-6; HiGHS's LPs keep theirs); ``watch(primal, dual)``:
    the running MIP's incumbent and bound, reported while HiGHS or SCIP solves."""
    name = pick(slm, solver)
    if name not in BACKENDS:
        out = pyomo_solver.solve(slm, name, time_limit=time_limit, verbose=verbose)
        out.solver = name
        return out
    extra = {"feastol": feastol} if feastol is not None and name == "scip" else {}
    if watch is not None and name in ("highs", "scip"):
        extra["watch"] = watch
    out = BACKENDS[name].solve(slm, time_limit=time_limit, verbose=verbose, **extra)
    out.solver = name
    return out
