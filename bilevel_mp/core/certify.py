"""The certificate: re-solve the follower's problem at the returned x.

Linear followers are re-solved by HiGHS (exact LP, with duals); anything else by SCIP
to global optimality. The gap is measured against the solver's proven *lower bound*
on the follower's optimal value, so a re-solve stopped by its time limit can still
certify (or fail to) soundly. A point is certified when

    f(x, y) - min_y' f(x, y')  <=  gap_tol * max(1, |f(x, y)|)        (min form)

and G, g and the variable bounds hold to ``feas_tol * max(1, ‖(x, y)‖_∞)``. Where the
leader uses follower duals (``BilevelProblem.dual_of``), their values must also be
follower multipliers at (x, y) to ``feas_tol`` (``dual_check``).

``Certificate.ll_status`` says how the re-solve ended in the package's words
(``result.LL_STATUSES``, see ``follower_status``); the back end's own status is kept in
``Certificate.solver_status``. A solver that proves "infeasible or unbounded" without
saying which is asked once more with a zero objective (a feasibility problem).
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables

from ..backends import nlp, scip, solve_single_level
from ..cones import add_cone, follower_cones
from ..backends.single_level import SOLVER_INFINITY, SingleLevelModel, SolveOutcome, Substitution, substitute
from ..errors import BilevelInputError
from ..problem import BilevelProblem
from ..result import LL_STATUSES, Certificate
from .dual_check import check_linked_duals

GAP_TOL = 1e-4
FEAS_TOL = 1e-6
# the back ends' own words for "infeasible or unbounded" (SCIP's status, HiGHS's model status)
_INF_OR_UNBD = ("inforunbd", "infeasible or unbounded")


def follower_status(out: SolveOutcome) -> str:
    """The ``LL_STATUSES`` word for a follower re-solve's outcome. The back ends' statuses
    (``SolveOutcome.status``) are refined with their own words (``out.message``): SCIP's
    ``inforunbd`` and HiGHS's "Primal infeasible or unbounded", which the back ends report
    as ``unbounded``, become ``infeasible_or_unbounded``; an "optimal" value at a solver's
    infinity (``SOLVER_INFINITY``, SCIP's answer for some unbounded nonlinear followers)
    becomes ``unbounded``. A status outside the vocabulary (``locally_optimal`` of a local
    solver) becomes ``error``."""
    raw = (out.message or "").lower()
    if out.status in ("unbounded", "infeasible", "error") and any(w in raw for w in _INF_OR_UNBD):
        return "infeasible_or_unbounded"
    if out.status == "optimal" and out.objective is not None and out.objective <= -SOLVER_INFINITY:
        return "unbounded"
    return out.status if out.status in LL_STATUSES else "error"


def follower_model(problem: BilevelProblem, x, relax: float = 0.0, follower: int | None = None,
                   y=None) -> tuple[SingleLevelModel, list]:
    """The follower's problem with x fixed at ``x``, inequalities loosened by ``relax``
    (tightened when negative; equalities are loosened only); returns the model and its
    (constraint name, Pyomo constraint) rows. With ``follower`` (an index into
    ``problem.followers``) that follower's problem alone, the other followers' variables
    fixed at their entries of ``y``; its model's ``m.y`` is still indexed by all of y."""
    x = np.asarray(x, dtype=float).ravel()
    if x.shape != (problem.n_x,):
        raise BilevelInputError(f"x has {x.size} entries, expected n_x = {problem.n_x}")
    slm = SingleLevelModel(f"{problem.name}:follower")
    m = slm.m
    own = range(problem.n_y) if follower is None else problem.followers[follower].y
    m.y = pyo.Var(list(own), dense=True)
    mapping = {id(problem.x[i]): float(x[i]) for i in range(problem.n_x)}
    for j, v in problem.y.items():
        if j not in m.y:
            mapping[id(v)] = float(y[j])
            continue
        m.y[j].setlb(v.lb)
        m.y[j].setub(v.ub)
        m.y[j].domain = v.domain
        mapping[id(v)] = m.y[j]
    sub = Substitution(mapping)  # one visitor for every row
    rows = []
    own_ids = {id(problem.y[j]) for j in own}
    cones = follower_cones(problem)
    for c in (problem.g if follower is None else problem.followers[follower].g):
        if not any(id(v) in own_ids for v in identify_variables(c.body, include_fixed=True)):
            continue  # no own y: a leader row, or (in a game) data checked as g's violation
        if c.name in cones:  # as a cone on variables: SCIP's cone handler then takes it
            cone = cones[c.name]
            _, _, row = add_cone(slm, sub(cone.t) + relax / cone.scale,
                                 [sub(e) for e in cone.u])
            rows.append((c.name, row))
            continue
        body = sub(c.body)
        if c.kind == "eq":
            con = slm.add(body == 0) if relax <= 0 else slm.add((-relax, body, relax))
        else:
            con = slm.add(body >= -relax)
        rows.append((c.name, con))
    if follower is None:
        slm.minimize(sub(problem.f))
    else:  # + 0·y: an objective that the others' values made constant stays an expression
        slm.minimize(sub(problem.followers[follower].f) + 0.0 * m.y[own[0]])
    return slm, rows


def solve_follower(problem: BilevelProblem, x, time_limit: float | None = 60.0,
                   relax: float = 0.0, feastol: float | None = None, follower: int | None = None,
                   y=None) -> tuple[SolveOutcome, list, SingleLevelModel]:
    """Solve the follower's problem at ``x`` exactly (HiGHS for LPs, SCIP otherwise, at
    feasibility tolerance ``feastol``; None: SCIP's default); ``follower``, ``y``: one
    follower of a game (``follower_model``)."""
    slm, rows = follower_model(problem, x, relax, follower, y)
    return solve_single_level(slm, time_limit=time_limit, feastol=feastol), rows, slm


def certify(problem: BilevelProblem, x, y, time_limit: float | None = 60.0,
            gap_tol: float = GAP_TOL, feas_tol: float = FEAS_TOL) -> Certificate:
    """Re-solve the follower at ``x`` and compare with ``y`` (see module docstring)."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if y.shape != (problem.n_y,):
        raise BilevelInputError(f"y has {y.size} entries, expected n_y = {problem.n_y}")
    unset = [name for name, v in problem.dual_values().items() if v is None]
    if unset:
        return Certificate(message=f"no value for the linked duals {unset}")
    if problem.coupled:
        return certify_game(problem, x, y, time_limit, gap_tol, feas_tol)
    cert, scale = _violations(problem, x, y)
    f_here = float(pyo.value(problem.f)) + 0.0  # min form; + 0.0: no -0 in certificates
    cert.ll_value = f_here
    # If x sits on the edge of the follower's feasible set (empty up to rounding), the
    # re-solve loosens the follower's constraints by the feasibility tolerance: its
    # optimum is then a lower bound on the true one, so the gap is never understated.
    out, rows, slm = solve_follower(problem, x, time_limit, feastol=scip.TIGHT_FEASTOL)
    relax = 0.0
    if follower_status(out) == "infeasible":
        seen = max(cert.upper_violation, cert.lower_violation)
        relax = min(feas_tol * scale, max(1e-9 * scale, 2.0 * seen))
        out, rows, slm = solve_follower(problem, x, time_limit, relax=relax, feastol=scip.TIGHT_FEASTOL)
    cert.solver = out.solver
    cert.solver_status = out.message
    cert.ll_status = follower_status(out)
    if cert.ll_status == "infeasible_or_unbounded":
        cert.ll_status = _feasible_or_not(problem, x, time_limit, relax)
    if cert.ll_status == "infeasible":
        cert.message = "the follower's problem is infeasible at this x"
        return cert
    if cert.ll_status == "unbounded":
        cert.message = "the follower's problem is unbounded at this x"
        return cert
    if cert.ll_status == "infeasible_or_unbounded":
        cert.message = (f"the follower's problem is infeasible or unbounded at this x "
                        f"({out.solver}: {out.message})")
        return cert
    if out.objective is not None:
        cert.ll_optimal_value = float(out.objective) + 0.0
        cert.y_best = [out.values.get(id(slm.m.y[j]), math.nan) for j in range(problem.n_y)]
    lower = out.bound if out.bound is not None else (out.objective if out.status == "optimal" else None)
    cert.exact = out.status == "optimal"
    if out.row_duals:
        cert.duals = {name: float(out.row_duals.get(id(con), 0.0)) + 0.0 for name, con in rows}
    if lower is None:
        cert.message = f"follower re-solve gave no bound ({out.message})"
        return cert
    cert.ll_gap = f_here - (cert.ll_optimal_value if cert.exact else lower) + 0.0
    feasible = max(cert.upper_violation, cert.lower_violation) <= feas_tol * scale
    gap_ok = f_here - lower <= gap_tol * max(1.0, abs(f_here))
    return _conclude(cert, problem, x, y, feasible, scale, feas_tol,
                     "" if gap_ok else f"y is not follower-optimal: gap {f_here - lower:.4g}")


def _violations(problem: BilevelProblem, x, y) -> tuple[Certificate, float]:
    """A certificate holding the leader's and the follower's worst violations at (x, y)
    (left loaded into the problem's variables), and the scale ``max(1, ‖(x, y)‖∞)``."""
    ev = problem.evaluate(x, y)
    scale = max(1.0, float(np.abs(np.concatenate([x, y])).max(initial=0.0)))
    return Certificate(upper_violation=max(ev["G_violation"], ev["x_bound_violation"]),
                       lower_violation=max(ev["g_violation"], ev["y_bound_violation"])), scale


def _conclude(cert: Certificate, problem: BilevelProblem, x, y, feasible: bool, scale: float,
              feas_tol: float, not_optimal: str) -> Certificate:
    """Set ``certified`` and the message from feasibility and the optimality verdict
    (``not_optimal``: why y is not the follower's response, empty if it is), then check
    the linked duals."""
    cert.certified = bool(feasible and not not_optimal)
    if not feasible:
        cert.message = (f"constraint violation {max(cert.upper_violation, cert.lower_violation):.3g} "
                        f"exceeds {feas_tol * scale:.3g}")
    elif not_optimal:
        cert.message = not_optimal
    if cert.certified and problem.dual_links:
        cert.dual_residual, why, vector = check_linked_duals(problem, x, y, feas_tol)
        if why:
            cert.certified, cert.message = False, why
        # one multiplier vector holding the linked values, not the re-solve's own vertex
        cert.duals = vector
    return cert


def certify_game(problem: BilevelProblem, x, y, time_limit: float | None = 60.0,
                 gap_tol: float = GAP_TOL, feas_tol: float = FEAS_TOL) -> Certificate:
    """Followers in a coupled game: each one re-solved at x with the others' y fixed, each
    gap within ``gap_tol`` of its own objective (a Nash equilibrium at x). The
    certificate's values are sums over the followers (``ll_value`` is f, the sum), its
    ``follower_gaps`` the gaps one by one."""
    cert, scale = _violations(problem, x, y)
    cert.exact = True
    cert.ll_value, cert.ll_optimal_value, cert.ll_gap = float(pyo.value(problem.f)) + 0.0, 0.0, 0.0
    late = []
    for k, fol in enumerate(problem.followers):
        out, _, slm = solve_follower(problem, x, time_limit, feastol=scip.TIGHT_FEASTOL, follower=k, y=y)
        status = follower_status(out)
        cert.solver, cert.solver_status = out.solver, out.message
        if status not in ("optimal", "time_limit") or (out.bound is None and status != "optimal"):
            cert.ll_status = status
            cert.message = f"follower {fol.name}'s problem at this x and the others' y: {status} ({out.message})"
            return cert
        problem.set_point(x, y)
        f_here = float(pyo.value(fol.f))
        lower = out.objective if status == "optimal" else out.bound
        gap = f_here - lower + 0.0
        cert.follower_gaps[fol.name] = gap
        cert.exact = cert.exact and status == "optimal"
        cert.ll_optimal_value += float(out.objective if out.objective is not None else lower)
        cert.ll_gap += gap
        if gap > gap_tol * max(1.0, abs(f_here)):
            late.append(f"{fol.name} (gap {gap:.4g})")
    cert.ll_status = "optimal" if cert.exact else "time_limit"
    feasible = max(cert.upper_violation, cert.lower_violation) <= feas_tol * scale
    return _conclude(cert, problem, x, y, feasible, scale, feas_tol,
                     f"not an equilibrium: a better response exists for {', '.join(late)}" if late else "")


def _feasible_or_not(problem: BilevelProblem, x, time_limit, relax: float) -> str:
    """After an "infeasible or unbounded" re-solve: the follower's constraints at ``x``
    (loosened by ``relax``) with a zero objective. Feasible: the follower is
    ``unbounded``; infeasible: ``infeasible``; else still ``infeasible_or_unbounded``."""
    slm, _ = follower_model(problem, x, relax)
    slm.m.del_component(slm.m.obj)
    slm.minimize(0.0 * slm.m.y[0] if problem.n_y else 0.0)
    out = solve_single_level(slm, time_limit=time_limit, feastol=scip.TIGHT_FEASTOL)
    status = follower_status(out)
    if status == "optimal":
        return "unbounded"
    return "infeasible" if status == "infeasible" else "infeasible_or_unbounded"


def optimistic_response(problem: BilevelProblem, x, f_star: float, time_limit: float | None = 60.0,
                        slack: float = 1e-9, feastol: float | None = None):
    """The follower response the leader prefers among the follower's optimal ones:
    min F(x, y) s.t. g(x, y) >= 0, f(x, y) <= f*(x) + slack · max(1, |f*|). Returns y or
    None (tried again with a 1000× looser slack if the first model is infeasible).

    Used to clean a solver's y that is optimal only up to its own tolerances, and to
    break ties in the leader's favour (the optimistic convention)."""
    slm, _ = follower_model(problem, x)
    x = np.asarray(x, dtype=float).ravel()
    mapping = {id(problem.x[i]): float(x[i]) for i in range(problem.n_x)}
    mapping.update({id(problem.y[j]): slm.m.y[j] for j in range(problem.n_y)})
    mapping.update({id(v): float(v.value) for v in problem.dual_links.values()})  # held fixed
    cap = slm.add(substitute(problem.f, mapping) <= f_star + slack * max(1.0, abs(f_star)))
    slm.m.del_component(slm.m.obj)
    slm.minimize(substitute(problem.F, mapping))
    out = solve_single_level(slm, time_limit=time_limit, feastol=feastol)
    if not out.has_solution and slack < 1e-6:
        cap.set_value(substitute(problem.f, mapping) <= f_star + 1e3 * slack * max(1.0, abs(f_star)))
        out = solve_single_level(slm, time_limit=time_limit, feastol=feastol)
    if not out.has_solution:
        return None
    return np.array([out.values[id(slm.m.y[j])] for j in range(problem.n_y)])


POLISH_GAP = 1e-7  # follower gaps above this (relative) trigger the exact optimistic response
TIGHT_FEAS = 1e-9  # follower violations above this (absolute) trigger it too


def polish_locally(problem: BilevelProblem, x, y, time_limit: float | None = 30.0):
    """The follower's local optimum at ``x`` reached from ``y`` by a local NLP solve
    (tolerance 1e-12), when it is strictly better for the follower than ``y`` and inside
    its set to 1e-9; else None (also without an NLP solver). A global solver's y is
    optimal only to its tolerances, and along a smooth follower an error of ``gap`` in f
    lets y drift by ~sqrt(gap): enough to change F in the fourth digit. A y the local
    solve cannot improve is kept (an interior-point polish would only add its own bias
    near active constraints)."""
    if not nlp.available():
        return None
    slm, _ = follower_model(problem, x)
    ys = [slm.m.y[j] for j in range(problem.n_y)]
    lo = [-math.inf if v.lb is None else v.lb for v in ys]
    hi = [math.inf if v.ub is None else v.ub for v in ys]
    # compared inside the bounds: a y a hair outside them can be a hair cheaper
    for v, val in zip(ys, np.clip(np.asarray(y, dtype=float), lo, hi)):
        v.set_value(float(val), skip_validation=True)
    f_start = float(pyo.value(slm.objective))
    out = nlp.solve(slm, time_limit=time_limit, options={"tol": 1e-12})
    if not out.has_solution:
        return None
    y_loc = np.clip([out.values[id(v)] for v in ys], lo, hi)  # interior points relax bounds by ~1e-8
    problem.set_point(x, y_loc)
    f_loc = float(pyo.value(problem.f))
    ev = problem.evaluate(x, y_loc)
    inside = max(ev["g_violation"], ev["y_bound_violation"]) <= 1e-9 * max(1.0, float(np.abs(y_loc).max()))
    return y_loc if inside and f_loc < f_start - 1e-12 * max(1.0, abs(f_start)) else None


def is_tight(cert: Certificate) -> bool:
    """The follower gap of ``cert`` is within ``POLISH_GAP`` (relative): y is the
    follower's response to solver precision, not merely within the certificate's
    ``GAP_TOL``. Only a tight point can carry a proof of optimality: a y that is
    follower-optimal to 1e-4 can buy the leader far more than 1e-4 of F."""
    return cert.ll_gap is not None and cert.ll_gap <= POLISH_GAP * max(1.0, abs(cert.ll_value or 0.0))


def beats_optimum(cert: Certificate) -> bool:
    """y does better for the follower than the exact re-solve's optimum at x by more than
    ``POLISH_GAP`` (relative): it is follower-feasible only to the certificate's tolerance.
    With integer y that is not noise but a discrete gain (a y one unit too high, allowed by
    a row violated by 1e-7), so it can carry no proof."""
    return cert.ll_gap is not None and cert.ll_gap < -POLISH_GAP * max(1.0, abs(cert.ll_value or 0.0))


def per_solve(time_limit):
    """Seconds for each re-solve as a function: ``time_limit`` itself when it is one
    (``Context.certify_limit``), else a constant (a number or None)."""
    return time_limit if callable(time_limit) else (lambda: time_limit)


def certify_and_polish(problem: BilevelProblem, x, y, time_limit=60.0, cert=None):
    """Certify (x, y); if the certificate fails or the gap is above ``POLISH_GAP``, try the
    exact optimistic follower response at the same x instead (a solver's y is often
    follower-optimal only to its tolerances). ``time_limit``: seconds per re-solve, or a
    function giving them for the next one (``Context.certify_limit``: each re-solve is cut
    to the solve's deadline). ``cert``: the certificate of (x, y) if already computed.
    Returns (y, certificate, replaced)."""
    seconds = per_solve(time_limit)
    if cert is None:
        cert = certify(problem, x, y, time_limit=seconds())
    if problem.coupled:  # a game: the leader's pick among equilibria is no single re-solve
        return y, cert, False
    # a y outside the follower's set by the solver's tolerance can beat its optimum: polish too
    loose = not is_tight(cert) or cert.lower_violation > TIGHT_FEAS
    if (not cert.certified or loose) and cert.ll_optimal_value is not None:
        y2 = optimistic_response(problem, x, cert.ll_optimal_value, time_limit=seconds(),
                                 feastol=scip.TIGHT_FEASTOL)
        if y2 is None and cert.y_best is not None:  # the re-solve's own optimum, then
            y2 = np.asarray(cert.y_best, dtype=float)
        if y2 is not None:
            cert2 = certify(problem, x, y2, time_limit=seconds())
            better = not cert.certified or (is_tight(cert2) and not is_tight(cert)) \
                or (cert2.ll_gap is not None and cert.ll_gap is not None and cert2.ll_gap <= cert.ll_gap)
            if cert2.certified and better:
                return y2, cert2, True
    return y, cert, False
