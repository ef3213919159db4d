"""``bilevel_mp.solve``: one entry point for every front end and method."""

from __future__ import annotations

import time

import numpy as np

from .certify import certify_and_polish, solve_follower
from .errors import BilevelError, BilevelInputError, UnsupportedStructureError
from .problem import BilevelProblem
from .reformulations.complementarity import get_mode
from .reformulations.kkt import KKT, reject_integer_follower
from .reformulations.strong_duality import StrongDuality
from .result import BilevelResult
from .single_level import SolveOutcome
from .solvers import solve_single_level
from .structure import Structure, detect

METHODS = ("auto", "kkt", "strong_duality", "value_function", "regularized", "complementarity_bb",
           "descent", "trust_region", "penalty")
LOCAL_METHODS = ("descent", "trust_region", "penalty")
GLOBAL_SHARE = 0.7  # share of an auto time limit for the global method; the rest for the local one


def choose_method(structure: Structure) -> str:
    """``method="auto"``'s first choice: KKT with SOS1 complementarity (exact, no big-M)
    when the follower is proven convex in y; value-function cutting planes (global
    follower solves) otherwise. ``auto`` then escalates, see ``_auto``."""
    return "kkt" if structure.lower_convex else "value_function"


def _is_continuous_lplp(problem, structure: Structure) -> bool:
    return (structure.lower_linear_in_xy and structure.upper == "linear" and not structure.x_integer)


def _better(a: BilevelResult | None, b: BilevelResult | None, problem) -> BilevelResult | None:
    """The better of two results: certified first, then lower F (user's sense); ``a``
    (the global method's) on ties within 1e-6 relative (solver tolerance: a local point can
    undercut an exact one by exploiting the follower's tolerance)."""
    def key(r):
        if r is None or r.F is None or not r.certified:
            return (1, 0.0)
        return (0, -r.F if problem.upper_sense == "max" else r.F)
    ka, kb = key(a), key(b)
    if ka[0] == kb[0] == 0 and ka[1] - kb[1] <= 1e-6 * max(1.0, abs(ka[1])):
        return a
    return a if ka <= kb else b


def solve(problem, method: str = "auto", mode="sos1", modes: dict | None = None,
          dual_bound=None, time_limit: float | None = None, solver: str | None = None,
          certify_time_limit: float | None = 60.0, verbose: bool = False,
          **options) -> BilevelResult:
    """Solve a bilevel problem and certify the answer.

    Parameters
    ----------
    problem : BilevelProblem, Pyomo model (with a ``LowerLevel`` block), or BOLIB dict
    method : "auto" | "kkt" | "strong_duality" | "value_function" | "complementarity_bb"
        (global) | "regularized" | "descent" | "trust_region" | "penalty" (local)
    mode, modes, dual_bound : complementarity settings of the KKT method
        (see ``bilevel_mp.reformulations.kkt.KKT``).
    time_limit : seconds for the single-level solve; the best point found is
        returned with status ``time_limit``.
    solver : force a back end ("highs", "scip").
    **options : passed to the local methods (e.g. ``x0``, ``radius``, ``max_iter``; see
        ``algorithms.descent.solve_descent``, ``algorithms.trust_region.solve_trust_region``,
        ``algorithms.penalty.solve_penalty``).

    Returns a ``BilevelResult``; with a Pyomo model the solution is also loaded back
    into the model's variables and the follower's multipliers into its suffix.
    """
    from .frontends import as_problem

    problem, write_back = as_problem(problem)
    t0 = time.perf_counter()
    result = _solve(problem, method, mode, modes, dual_bound, time_limit, solver,
                    certify_time_limit, verbose, options)
    result.seconds = time.perf_counter() - t0
    if write_back is not None and result.x is not None:
        write_back(result)
    return result


def _solve(problem: BilevelProblem, method, mode, modes, dual_bound, time_limit, solver,
           certify_time_limit, verbose, options=None) -> BilevelResult:
    problem.validate()
    if method not in METHODS:
        raise BilevelInputError(f"unknown method {method!r}; choose one of {METHODS}")
    if time_limit is not None and not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise BilevelInputError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    reject_integer_follower(problem)
    get_mode(mode)  # an unknown mode is an error whatever the method
    structure = detect(problem)
    options = options or {}
    if options and method not in LOCAL_METHODS:
        raise BilevelInputError(f"options {sorted(options)} are only for the local methods "
                                f"{sorted(LOCAL_METHODS)}, not method={method!r}")
    if method == "descent":
        from .algorithms.descent import solve_descent

        return solve_descent(problem, time_limit=time_limit, **options)
    if method == "trust_region":
        from .algorithms.trust_region import solve_trust_region

        return solve_trust_region(problem, time_limit=time_limit, **options)
    if method == "penalty":
        from .algorithms.penalty import solve_penalty

        return solve_penalty(problem, time_limit=time_limit, certify_time_limit=certify_time_limit or 30.0,
                             **options)
    if method == "auto":
        return _auto(problem, structure, mode, modes, dual_bound, time_limit, certify_time_limit, verbose)
    if method == "value_function":
        from .reformulations.value_function import solve_value_function

        return solve_value_function(problem, time_limit=time_limit, certify_time_limit=certify_time_limit)
    if method == "complementarity_bb":
        from .algorithms import solve_complementarity_bb

        return solve_complementarity_bb(problem, time_limit=time_limit, certify_time_limit=certify_time_limit)
    if method == "regularized":
        from .reformulations.regularized import solve_regularized

        return solve_regularized(problem, time_limit=time_limit, certify_time_limit=certify_time_limit or 30.0)
    return _reformulate_and_solve(problem, structure, method, mode, modes, dual_bound, time_limit,
                                  solver, certify_time_limit, verbose)


def _auto(problem, structure, mode, modes, dual_bound, time_limit, certify_time_limit,
          verbose) -> BilevelResult:
    """Pick by structure, then escalate: when the global method (given 70% of the time
    limit) ends without a proof (time limit, or a point it could not certify), a local
    regularised-MPEC multi-start runs with the time left and the better certified
    answer is returned."""
    t0 = time.perf_counter()
    first = choose_method(structure)
    # the global method gets most of the budget; the rest is kept for the local fallback
    budget = None if time_limit is None else GLOBAL_SHARE * time_limit
    kkt_settings_given = not (isinstance(mode, str) and mode == "sos1") or modes or dual_bound is not None
    if first == "kkt" and _is_continuous_lplp(problem, structure) and not kkt_settings_given:
        # LP-LP: complementarity branch-and-bound over HiGHS LPs, no big-M; the KKT
        # model below runs only if it ends without a verdict
        from .algorithms import solve_complementarity_bb

        res = solve_complementarity_bb(problem, time_limit=budget, certify_time_limit=certify_time_limit)
        if res.status in ("optimal", "infeasible"):
            return res
        if budget is not None:
            budget = max(1.0, budget - (time.perf_counter() - t0))
    if first == "kkt":
        res = _reformulate_and_solve(problem, structure, "kkt", mode, modes, dual_bound, budget,
                                     None, certify_time_limit, verbose)
    else:
        from .reformulations.value_function import solve_value_function

        res = solve_value_function(problem, time_limit=budget, certify_time_limit=certify_time_limit)
    if res.status in ("optimal", "infeasible", "unbounded", "lower_level_unbounded"):
        return res
    left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
    if left is not None and left < 1.0:
        return res
    try:
        from .reformulations.regularized import solve_regularized
    except ImportError:  # pragma: no cover
        return res
    local = solve_regularized(problem, time_limit=left, certify_time_limit=certify_time_limit or 30.0)
    best = _better(res, local, problem)
    if best is local:
        local.bound = res.bound
        local.message = (f"{res.method} ended with status {res.status}; the local method found a better "
                         f"certified point. " + local.message).strip()
    return best


def _reformulate_and_solve(problem, structure, method, mode, modes, dual_bound, time_limit,
                           solver, certify_time_limit, verbose) -> BilevelResult:
    reform = KKT(mode=mode, modes=modes, dual_bound=dual_bound) if method == "kkt" else StrongDuality()
    if method == "strong_duality" and not reform.accepts(structure):
        raise UnsupportedStructureError(
            f"strong duality needs an LP or convex-QP follower; {problem.name} has a "
            f"{structure.lower.replace('_', ' ')} follower (use method='kkt')"
        )
    lifted = reform.apply(problem, structure, time_limit=time_limit)
    if lifted.hpr.get("infeasible"):
        return BilevelResult(name=problem.name, status="infeasible", method=lifted.method,
                             structure=structure.label, solver="highs",
                             message="the high-point relaxation is infeasible (LP proof): "
                                     "no (x, y) satisfies G and g together")
    unbounded = _follower_unbounded(problem, lifted)
    if unbounded is not None:
        return BilevelResult(name=problem.name, status="lower_level_unbounded", method=lifted.method,
                             structure=structure.label, solver="highs", message=unbounded)
    outcome = solve_single_level(lifted.slm, time_limit=time_limit, solver=solver, verbose=verbose)
    return _result(problem, structure, lifted, outcome, certify_time_limit)


def _follower_unbounded(problem, lifted) -> str | None:
    """A message if the follower's problem is unbounded at a point of the high-point
    relaxation (checked before any reformulation is solved), else None."""
    x0 = lifted.hpr.get("point")
    if x0 is None:
        return None
    out, _, _ = solve_follower(problem, x0, time_limit=10.0)
    if out.status != "unbounded":
        return None
    free = [problem.y_names[j] for j in range(problem.n_y)
            if problem.y[j].lb is None or problem.y[j].ub is None]
    return (f"the follower's problem is unbounded at x = {np.round(x0, 6).tolist()}: its optimum "
            f"does not exist, so the bilevel problem is ill-posed. Bound the follower variables "
            f"({', '.join(free[:6]) or 'all are bounded: check the constraints'}) or add follower "
            f"constraints.")


def _result(problem, structure, lifted, outcome: SolveOutcome, certify_time_limit) -> BilevelResult:
    res = BilevelResult(
        name=problem.name,
        status="error",
        method=lifted.method,
        structure=structure.label,
        solver=outcome.solver,
        assumptions=list(lifted.assumptions) + list(lifted.slm.notes),
        message=outcome.message if outcome.status not in ("optimal",) else "",
    )
    if not outcome.has_solution:
        res.status = {"infeasible": "infeasible", "unbounded": "unbounded",
                      "time_limit": "time_limit"}.get(outcome.status, "error")
        if res.status == "infeasible" and not lifted.exact:
            res.message = "the single-level model is infeasible (method not exact: no proof of bilevel infeasibility)"
        return res
    x, y, duals = lifted.invert(outcome)
    if any(problem.x_is_integer()):
        x = np.where(problem.x_is_integer(), np.round(x), x)
    y, cert, replaced = certify_and_polish(problem, x, y, time_limit=certify_time_limit)
    if replaced:
        res.message = (res.message + "; " if res.message else "") + \
            "y replaced by the exact optimistic follower response at x"
    if cert.duals:
        duals = {**duals, **cert.duals}
    ev = problem.evaluate(x, y)
    res.x, res.y, res.F, res.f, res.duals, res.certificate = x, y, ev["F"], ev["f"], duals, cert
    if outcome.bound is not None and lifted.exact:
        res.bound = -outcome.bound if problem.upper_sense == "max" else outcome.bound
    if outcome.status == "unbounded":
        res.status = "unbounded"
        res.message = "the leader's objective is unbounded over the inducible region (solver's verdict)"
    elif outcome.status == "time_limit":
        res.status = "time_limit"
    elif not cert.certified:
        res.status = "error"
        res.message = (res.message + "; " if res.message else "") + \
            f"returned point not certified: {cert.message}"
    elif outcome.status == "optimal" and lifted.exact and cert.exact:
        res.status = "optimal"
    elif outcome.status in ("optimal", "locally_optimal"):
        res.status = "feasible" if outcome.status == "optimal" else "locally_optimal"
    else:
        res.status = "feasible"
    return res


__all__ = ["solve", "BilevelError"]
