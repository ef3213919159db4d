"""Local NLP back end: IPOPT-type interior point through Pyomo's NL interface.

The default engine is ``ripopt`` (pip ``pyomo-ripopt``, an NL solver that Pyomo
drives like ipopt); a system ``ipopt`` executable is used when present instead.
Results are local: the status is ``locally_optimal`` at best.
"""

from __future__ import annotations

import functools
import logging
import time

import pyomo.environ as pyo
from pyomo.opt import TerminationCondition as TC

from ..errors import SolverUnavailableError
from .single_level import SingleLevelModel, SolveOutcome

_ENGINES = ("ripopt", "ipopt")


@functools.lru_cache(maxsize=None)  # available() runs the solver binary once per call
def _engine():
    try:
        import pyomo_ripopt  # noqa: F401  (registers the 'ripopt' solver)
    except ImportError:  # pragma: no cover
        pass
    for name in _ENGINES:
        opt = pyo.SolverFactory(name)
        try:
            if opt.available(exception_flag=False):
                return name, opt
        except Exception:  # pragma: no cover
            continue
    return None, None


def available() -> bool:
    return _engine()[0] is not None


def solve(slm: SingleLevelModel, time_limit: float | None = None, start: dict | None = None,
          options: dict | None = None, verbose: bool = False) -> SolveOutcome:
    """Solve ``slm`` locally from ``start`` (id(var) -> value) or current values."""
    name, opt = _engine()
    if opt is None:  # pragma: no cover
        raise SolverUnavailableError("no local NLP solver: pip install 'bilevel-mp[nlp]' (pyomo-ripopt)")
    t0 = time.perf_counter()
    variables = [v for v in slm.m.component_data_objects(pyo.Var) if not v.fixed]
    for v in variables:
        if start and id(v) in start:
            v.set_value(float(start[id(v)]), skip_validation=True)
        elif v.value is None:
            lo, hi = v.lb, v.ub
            v.set_value(0.0 if lo is None and hi is None else
                        (lo if hi is None else hi if lo is None else 0.5 * (lo + hi)),
                        skip_validation=True)
    opts = {"tol": 1e-9, "max_iter": 3000}
    if time_limit is not None:
        opts["max_wall_time"] = float(time_limit)
    opts.update(options or {})
    try:
        res = opt.solve(slm.m, tee=verbose, options=opts, load_solutions=False)
    except Exception as exc:  # solver crash or evaluation error
        return SolveOutcome("error", solver=name, message=str(exc)[:300],
                            seconds=time.perf_counter() - t0)
    tc = res.solver.termination_condition
    out = SolveOutcome("error", solver=name, message=str(tc))
    if tc in (TC.optimal, TC.locallyOptimal, TC.globallyOptimal):
        out.status = "locally_optimal"
    elif tc == TC.infeasible:  # Pyomo 6.10's TerminationCondition has no locally/globallyInfeasible
        out.status = "infeasible"
    elif tc == TC.unbounded:
        out.status = "unbounded"
    elif tc in (TC.maxTimeLimit, TC.maxIterations, TC.maxEvaluations):
        out.status = "time_limit"
    if len(res.solution) > 0:
        # Pyomo logs a warning when loading an "acceptable level" solution; the status
        # above already says what it is
        log = logging.getLogger("pyomo.core")
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            slm.m.solutions.load_from(res)
        finally:
            log.setLevel(level)
        out.values = {id(v): float(v.value) for v in variables if v.value is not None}
        out.objective = float(pyo.value(slm.objective)) if slm.objective is not None else 0.0
    out.seconds = time.perf_counter() - t0
    return out
