"""``bilevel_mp.solve``: the one entry point for every front end and method."""

from __future__ import annotations

import time

from .clock import catch_interrupt, interrupted
from .core.context import CERTIFY_TIME_LIMIT, Context
from .core.finish import finish
from .errors import BilevelInputError
from .frontends import as_problem
from .methods import METHODS, get_method, settings_for
from .methods.settings import positive
from .result import BilevelResult
from .structure import detect


def solve(problem, method: str = "auto", *, time_limit: float | None = None,
          certify_time_limit: float | None = None, **settings) -> BilevelResult:
    """Solve a bilevel problem and certify the answer.

    Parameters
    ----------
    problem : BilevelProblem, Pyomo model (with a ``LowerLevel`` block), BOLIB dict, or
        ``frontends.cvxpy.from_cvxpy(...)``.
    method : a key of ``bilevel_mp.METHODS``: "auto" (default), "kkt", "strong_duality",
        "value_function", "complementarity_bb" (global), "regularized", "descent",
        "trust_region", "penalty" (local).
    time_limit : wall-clock seconds for the method's search, from the call on (structure
        detection, bound tightening, model building and solves); None: no limit. When it
        runs out the best point found is returned with status ``time_limit``. The whole
        call, the certificate included, returns within ``bilevel_mp.clock.with_grace``
        (time_limit + 5% + 2 s). A first Ctrl-C ends the search the same way (the note
        says interrupted); a second raises ``KeyboardInterrupt``.
    certify_time_limit : seconds for each follower re-solve of the certificate
        (default 60).
    **settings : the chosen method's settings, e.g. ``mode="indicator"`` (kkt, auto),
        ``x0=[0.0]`` (descent, trust_region, penalty), ``n_starts=5`` (regularized),
        ``node_limit=1000`` (complementarity_bb); ``bilevel_mp.methods.METHODS[m].Settings``
        documents each.

    Returns
    -------
    BilevelResult. ``method`` is the name asked for, ``found_by`` the method whose point it
    is, ``solver`` a back-end name. Statuses mean the same for every method (table in
    ``bilevel_mp.core.finish``): ``optimal`` only for a proven global optimum whose
    certificate is exact. With a Pyomo model the solution is also loaded back into its
    variables and the follower's multipliers into its ``dual`` suffix.

    Raises
    ------
    BilevelInputError : unknown method or setting, bad value, malformed problem.
    UnsupportedStructureError : the method cannot treat this problem class.
    SolverUnavailableError : a back end the method needs is not installed.
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
    chosen = settings_for(method, settings)
    structure = detect(problem)
    module.accepts(problem, structure, chosen)
    ctx = Context(problem, structure, time_limit, float(certify_time_limit), t0=t0)
    with catch_interrupt():
        claim = module.run(ctx, chosen)
        if interrupted():
            claim.limit_hit = True
            claim.note("interrupted by the user (Ctrl-C): the best point found so far")
        result = finish(problem, structure, method, claim, ctx.certify_limit)
    result.seconds = time.perf_counter() - t0
    if write_back is not None and result.x is not None:
        write_back(result)
    return result


__all__ = ["solve", "METHODS"]
