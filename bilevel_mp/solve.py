"""``bilevel_mp.solve``: the one entry point for every front end and method."""

from __future__ import annotations

import time

from . import progress
from .clock import catch_interrupt, interrupted
from .core.context import CERTIFY_TIME_LIMIT, Context
from .core.finish import finish
from .errors import BilevelInputError
from .frontends import as_problem
from .methods import METHODS, check_accepts, get_method, settings_for
from .methods.settings import flag, positive, setting_names
from .result import BilevelResult
from .structure import detect


def solve(problem, method: str = "auto", *, time_limit: float | None = None,
          certify_time_limit: float | None = None, verbose: bool = False,
          solver_log: bool = False, **settings) -> BilevelResult:
    """Solve a bilevel problem and certify the answer.

    Parameters
    ----------
    problem : BilevelProblem, Pyomo model, dict or converted model
        A ``BilevelProblem``, a Pyomo model with a ``LowerLevel`` block, a BOLIB dict,
        or ``frontends.cvxpy.from_cvxpy(...)``.
    method : str, default "auto"
        A key of ``bilevel_mp.METHODS``: "auto", "kkt", "strong_duality",
        "follower_dual", "value_function", "complementarity_bb" (global), "regularized",
        "descent", "trust_region", "penalty" (local).
    time_limit : float or None, default None
        Wall-clock seconds for the method's search, from the call on (structure
        detection, bound tightening, model building and solves); None: no limit. When it
        runs out the best point found is returned with status ``time_limit``. The whole
        call, the certificate included, returns within ``bilevel_mp.clock.with_grace``
        (time_limit + 5% + 2 s). A first Ctrl-C ends the search the same way (the note
        says interrupted); a second raises ``KeyboardInterrupt``.
    certify_time_limit : float or None, default None
        Seconds for each follower re-solve of the certificate (None: 60).
    verbose : bool, default False
        Show a live progress line on stderr while the solve runs (stage, incumbent,
        bound, gap, seconds; ``bilevel_mp.progress``). Quiet by default.
    solver_log : bool, default False
        Pass the solvers' own logs (HiGHS, SCIP, the branch-and-bound's node log) through
        to stdout, for the methods that have one.
    **settings
        The chosen method's settings, e.g. ``mode="indicator"`` (kkt, auto),
        ``x0=[0.0]`` (descent, trust_region, penalty), ``n_starts=5`` (regularized),
        ``node_limit=1000`` (complementarity_bb); ``bilevel_mp.METHODS[m].Settings``
        documents each.

    Returns
    -------
    BilevelResult
        ``method`` is the name asked for, ``found_by`` the method whose point it is,
        ``solver`` a back-end name. Statuses mean the same for every method (table in
        ``bilevel_mp.core.finish``): ``optimal`` only for a proven global optimum whose
        certificate is exact. With a Pyomo model the solution is also loaded back into
        its variables and the follower's multipliers into its ``dual`` suffix.

    Raises
    ------
    BilevelInputError
        Unknown method or setting, bad value, malformed problem.
    UnsupportedStructureError
        The method cannot treat this problem class.
    SolverUnavailableError
        A back end the method needs is not installed.
    """
    t0 = time.perf_counter()
    problem, write_back = as_problem(problem)
    problem.validate()
    module = get_method(method)
    positive("time_limit", time_limit, allow_none=True)
    if certify_time_limit is None:
        certify_time_limit = CERTIFY_TIME_LIMIT
    elif isinstance(certify_time_limit, bool) or not isinstance(certify_time_limit, (int, float)) \
            or not certify_time_limit > 0:
        raise BilevelInputError(f"certify_time_limit must be a positive number of seconds, "
                                f"got {certify_time_limit!r}")
    flag("verbose", verbose)
    flag("solver_log", solver_log)
    if solver_log:
        if "verbose" not in setting_names(module.Settings):
            raise BilevelInputError(f"method {method!r} has no solver log (solver_log=True)")
        settings = {**settings, "verbose": True}
    chosen = settings_for(method, settings)
    structure = detect(problem)
    check_accepts(method, problem, structure, chosen)
    ctx = Context(problem, structure, time_limit, float(certify_time_limit), t0=t0)
    reporter = progress.Live() if verbose else progress.Progress()
    with catch_interrupt(), progress.reporting(reporter):
        reporter.begin(problem.name, method, problem.sense_sign, time_limit)
        result = None
        try:
            reporter.stage(method)
            claim = module.run(ctx, chosen)
            if interrupted():
                claim.limit_hit = True
                claim.note("interrupted by the user (Ctrl-C): the best point found so far")
            with progress.muted():
                result = finish(problem, structure, method, claim, ctx.certify_limit)
            reporter.point(sign_min(result.F, problem), sign_min(result.bound, problem))
        finally:
            reporter.end(None if result is None else result.status)
    result.seconds = time.perf_counter() - t0
    if write_back is not None and result.x is not None:
        write_back(result)
    return result


def sign_min(value, problem):
    """A user-sense objective value in minimisation form (None stays None)."""
    return None if value is None else problem.sense_sign * value


__all__ = ["solve", "METHODS"]
