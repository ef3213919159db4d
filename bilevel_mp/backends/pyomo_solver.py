"""The user's own solver: any solver Pyomo's ``SolverFactory`` has installed (Gurobi,
CPLEX, Xpress, CBC, ``appsi_highs``, ``scip_direct``, ...) for the single-level models.

``solver="gurobi_direct"`` (any name that is not a built-in back end) sends the method's
model here: SOS1 sets become Pyomo ``SOSConstraint`` components, the time limit goes
through the solver's own option name where it is known, and the termination condition
is mapped to the package's statuses. What it can serve is checked before the solve:

* linear models (LP, MILP): every solver;
* SOS1 sets: solvers that take them (Pyomo raises for the others; the error names it);
* indicator constraints: refused (kkt ``mode="sos1"`` or ``"bigm"`` instead);
* quadratic or other nonlinear terms: only the global solvers of ``GLOBAL_SOLVERS``, with
  Gurobi told ``NonConvex=2`` — a local NLP solver's "optimal" is not a proof.

The certificate does not change: the follower is still re-solved by the package's own
back ends at the returned x.
"""

from __future__ import annotations

import time

import pyomo.environ as pyo
from pyomo.opt import SolverStatus, TerminationCondition as TC

from ..errors import BilevelInputError, SolverUnavailableError, UnsupportedStructureError
from .single_level import SOLVER_INFINITY, SingleLevelModel, SolveOutcome

TIME_LIMIT_OPTION = {  # family prefix -> the solver's option name for seconds
    "gurobi": "TimeLimit", "cplex": "timelimit", "xpress": "maxtime", "cbc": "seconds",
    "glpk": "tmlim", "scip": "limits/time", "highs": "time_limit", "appsi_highs": "time_limit",
    "appsi_gurobi": "TimeLimit", "appsi_cplex": "timelimit", "baron": "MaxTime",
}
GLOBAL_SOLVERS = ("gurobi", "scip", "baron", "appsi_gurobi", "couenne", "antigone")
GAP_OPTION = {"gurobi": ("MIPGap", 1e-9), "appsi_gurobi": ("MIPGap", 1e-9), "cplex": ("mipgap", 1e-9),
              "scip": ("limits/gap", 1e-9), "highs": ("mip_rel_gap", 1e-9),
              "appsi_highs": ("mip_rel_gap", 1e-9), "cbc": ("ratioGap", 1e-9)}


def family(name: str) -> str:
    """``gurobi_direct`` -> ``gurobi``; ``appsi_highs`` stays (its options differ)."""
    if name.startswith("appsi_"):
        return name
    return name.split("_")[0]


def available(name: str) -> bool:
    """Pyomo has a solver of this name installed (never raises)."""
    try:
        return bool(pyo.SolverFactory(name).available(exception_flag=False))
    except Exception:  # an unknown name, a broken plugin
        return False


def check(slm: SingleLevelModel, name: str) -> None:
    """Raise with the reason when solver ``name`` cannot serve ``slm``'s class."""
    if slm.indicators:
        raise UnsupportedStructureError(
            f"the model has {len(slm.indicators)} indicator constraint(s), which this package passes "
            f"only to its scip back end: use solver='scip', or mode='sos1' / 'bigm' with {name!r}")
    linear = _linear_objective(slm) and all(
        _linear(slm, c.body) for c in slm.m.component_data_objects(pyo.Constraint, active=True))
    if not linear and family(name) not in GLOBAL_SOLVERS:
        raise UnsupportedStructureError(
            f"the model has quadratic or nonlinear terms and {name!r} is not known to solve them "
            f"to global optimality ({', '.join(GLOBAL_SOLVERS)} are): use solver='scip'")


def solve(slm: SingleLevelModel, name: str, time_limit: float | None = None,
          verbose: bool = False, gap: float = 1e-9) -> SolveOutcome:
    """Solve ``slm`` with Pyomo's solver ``name`` (see module docstring)."""
    if not available(name):
        raise SolverUnavailableError(f"Pyomo has no available solver {name!r}")
    check(slm, name)
    m = slm.m
    opt = pyo.SolverFactory(name)
    fam = family(name)
    options = {}
    if time_limit is not None and fam in TIME_LIMIT_OPTION:
        options[TIME_LIMIT_OPTION[fam]] = max(1e-3, float(time_limit))
    if fam in GAP_OPTION:
        options[GAP_OPTION[fam][0]] = gap
    if fam in ("gurobi", "appsi_gurobi") and not _linear_objective(slm):
        options["NonConvex"] = 2
    groups = list(slm.sos1)
    if groups:
        m.user_solver_sos1 = pyo.SOSConstraint(range(len(groups)), rule=lambda _, k: groups[k], sos=1)
    t0 = time.perf_counter()
    try:
        for key, value in options.items():
            opt.options[key] = value
        try:
            results = opt.solve(m, tee=verbose, load_solutions=False)
        except (ValueError, RuntimeError, TypeError, NotImplementedError) as exc:
            raise UnsupportedStructureError(f"solver {name!r} could not take the model: {exc}") from None
    finally:
        if groups:
            m.del_component("user_solver_sos1")
    out = SolveOutcome(_status(results), solver=name, seconds=time.perf_counter() - t0,
                       message=str(results.solver.termination_condition))
    if len(results.solution) > 0 and out.status in ("optimal", "time_limit"):
        m.solutions.load_from(results)
        out.values = {id(v): float(v.value) for v in m.component_data_objects(pyo.Var)
                      if not v.fixed and v.value is not None}
        out.objective = float(pyo.value(slm.objective)) if slm.objective is not None else 0.0
    lower = getattr(results.problem, "lower_bound", None)
    try:
        lower = float(lower)
        out.bound = lower if abs(lower) < SOLVER_INFINITY else None
    except (TypeError, ValueError):
        out.bound = None
    if out.status == "optimal" and out.bound is None:
        out.bound = out.objective
    return out


def _linear(slm: SingleLevelModel, expr) -> bool:
    d = slm.degree(expr)
    return d is not None and d <= 1


def _linear_objective(slm: SingleLevelModel) -> bool:
    return slm.objective is None or _linear(slm, slm.objective)


def _status(results) -> str:
    tc = results.solver.termination_condition
    if tc in (TC.optimal, TC.globallyOptimal):
        return "optimal"
    if tc == TC.infeasible:
        return "infeasible"
    if tc == TC.unbounded:
        return "unbounded"  # infeasibleOrUnbounded is no verdict: "error" below
    if tc in (TC.maxTimeLimit, TC.maxIterations, TC.maxEvaluations, TC.userInterrupt):
        return "time_limit"
    if results.solver.status == SolverStatus.ok and tc == TC.feasible:
        return "time_limit"
    return "error"


def check_name(name: str) -> None:
    """An unknown or unavailable Pyomo solver name raises ``BilevelInputError``."""
    if not isinstance(name, str) or not name:
        raise BilevelInputError(f"solver must be a name, got {name!r}")
    if not available(name):
        raise SolverUnavailableError(
            f"{name!r} is neither a built-in back end (highs, scip, nlp) nor a solver Pyomo has "
            "installed (pyo.SolverFactory(name).available() is False)")
