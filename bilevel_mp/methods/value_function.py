"""Value-function cutting planes for followers that are nonconvex in y.

For a nonconvex follower a KKT point need not be follower-optimal, so the KKT
reformulation alone is not exact. This method (after Mitsos, Lemonidis & Barton 2008,
"Global solution of bilevel programs with a nonconvex inner program", J. Glob. Optim.
41:1) solves a sequence of relaxations globally with SCIP:

    min F(x, y)  s.t.  G, g,  [KKT of the follower, when its constraints are linear
                                in y, so that every follower optimum is a KKT point],
                       f(x, y) <= f(x, ŷ_k)   for each cut point ŷ_k

Every bilevel-feasible (x, y) satisfies each cut as long as ŷ_k is feasible for the
follower at x, so the relaxation's optimum is a valid lower bound. Its solution x* is
certified by a global follower solve; if y* is not follower-optimal, the follower's
global optimum ŷ at x* becomes a new cut point and (x*, optimistic response at x*) a
certified incumbent. The loop stops when the relaxation's solution is certified
(optimal), when bound and incumbent meet, or at the time / iteration limit.

Where ŷ_k is feasible for the follower at *every* x of the tightened high-point box
(interval arithmetic), the plain cut is added. Where the follower's feasible set moves
with x, the cut point is moved strictly inside the follower's set at x* (constraints
tightened by ε) and the cut becomes a disjunction, "f(x, y) <= f(x, ŷ) or some
g_j(x, ŷ) <= 0", written with indicator constraints: still valid for every
bilevel-feasible point, and it cuts off (x*, y*).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr

from ..backends import scip
from ..backends.single_level import Indicator, substitute
from ..core.certify import certify, is_tight, optimistic_response, solve_follower
from ..core.context import Context
from ..core.finish import Claim
from ..core.lifted import lift
from ..errors import BilevelInputError
from ..problem import BilevelProblem, split_lower
from ..reformulations.kkt import KKT, reject_integer_follower
from ..result import Iteration
from ..structure import Structure, degree, fixed
from .reformulate import follower_unbounded
from .settings import count, flag, positive

NAME = "value_function"
LOCAL = False


@dataclass
class Settings:
    """max_iter: relaxations solved at most; tol: relative gap between incumbent and bound
    that ends the loop; verbose: print one line per relaxation."""

    max_iter: int = 200
    tol: float = 1e-6
    verbose: bool = False

    def __post_init__(self):
        count("max_iter", self.max_iter, 1)
        positive("tol", self.tol)
        if self.tol > 1e-6:  # "optimal" must stay a global optimum
            raise BilevelInputError(f"tol must be at most 1e-06 (a proof of optimality), got {self.tol!r}; "
                                    "use max_iter or time_limit to stop early")
        flag("verbose", self.verbose)


@dataclass
class Cut(Iteration):
    """One relaxation: its bound (min form), the incumbent F (user's sense) and the cut added."""

    bound: float | None = None
    cut: str = ""


def accepts(problem: BilevelProblem, structure: Structure, settings: Settings) -> None:
    reject_integer_follower(problem, NAME)


def _constraints_linear_in_y(problem, lower) -> bool:
    with fixed(problem.x):
        return all(degree(c.body) is not None and degree(c.body) <= 1 for c in lower)


def _cut_valid_everywhere(lifted, y_hat) -> bool:
    """ŷ feasible for the follower at every x in the model's (tightened) x box."""
    problem = lifted.problem
    mapping = {id(problem.y[j]): float(y_hat[j]) for j in range(problem.n_y)}
    mapping.update({id(problem.x[i]): lifted.slm.m.x[i] for i in range(problem.n_x)})
    for c in lifted.lower:
        body = substitute(c.body, mapping)
        if isinstance(body, (int, float)):
            lo = hi = float(body)
        else:
            lo, hi = compute_bounds_on_expr(body)
        tol = 1e-9 * max(1.0, abs(lo or 0.0))
        if c.kind == "ge" and (lo is None or lo < -tol):
            return False
        if c.kind == "eq" and (lo is None or hi is None or abs(lo) > tol or abs(hi) > tol):
            return False
    return True


def run(ctx: Context, settings: Settings) -> Claim:
    """Global method for nonconvex followers (see module docstring)."""
    problem, structure = ctx.problem, ctx.structure
    max_iter, tol = settings.max_iter, settings.tol
    t0 = time.perf_counter()
    time_limit = ctx.left()
    linear_y = _constraints_linear_in_y(problem, split_lower(problem)[0])
    if linear_y:
        lifted = KKT(mode="sos1").apply(problem, structure, time_limit=time_limit, cache=ctx.hpr)
        lifted.assumptions = [a for a in lifted.assumptions if "not proven convex" not in a]
        relaxation = "HPR + follower KKT (necessary: linear follower constraints) + value-function cuts"
    else:
        lifted = lift(problem, "value_function", "value_function", time_limit=time_limit, cache=ctx.hpr)
        relaxation = "HPR + value-function cuts"
    lifted.method = "value_function"
    unbounded = follower_unbounded(ctx, lifted)
    if unbounded is not None:
        return Claim(solver="scip", verdict="lower_level_unbounded", message=unbounded)
    m = lifted.slm.m
    m.vf_cuts = pyo.ConstraintList()
    f_model = lifted.sub(problem.f)
    best = None  # (F_min_form, x, y, cert)
    bound = None
    message = ""
    status_hint = "time_limit"
    it = 0
    history = []
    seeded = _seed_cut(lifted, problem, f_model, ctx.certify_limit(), time_limit)
    feastol, last_x = None, None  # SCIP's default feasibility tolerance until a cut fails to bite
    for it in range(1, max_iter + 1):
        remaining = ctx.left()
        if remaining is not None and remaining <= 0.5:
            break
        out = scip.solve(lifted.slm, time_limit=remaining, feastol=feastol)
        if out.status == "infeasible" and not out.has_solution:
            status_hint = "infeasible" if best is None else "optimal_by_bound"
            if best is not None:
                bound = best[0]
            break
        if not out.has_solution:
            status_hint = out.status
            message = out.message
            break
        if out.status == "optimal" and out.bound is not None:
            bound = out.bound if bound is None else max(bound, out.bound)
        history.append(Cut(it, None if best is None else problem.sense_sign * best[0], time.perf_counter() - t0,
                           bound))
        if settings.verbose:
            print(f"relaxation {it:3d}  bound {bound}  incumbent {None if best is None else best[0]}")
        x, y, _ = lifted.invert(out)
        if any(problem.x_is_integer()):
            x = np.where(problem.x_is_integer(), np.round(x), x)
        if last_x is not None and np.array_equal(x, last_x):
            # the last cut was met within SCIP's feasibility tolerance, not cut off
            if feastol == scip.TIGHT_FEASTOL:
                message = "the relaxation returns the same x after a cut at the tightest tolerance"
                status_hint = "no_cut"
                break
            feastol = scip.TIGHT_FEASTOL
            continue
        last_x = x
        cert = certify(problem, x, y, time_limit=ctx.certify_limit())
        if cert.certified and is_tight(cert):
            best = _better(problem, best, x, y, cert)
            status_hint = "optimal" if out.status == "optimal" else "time_limit"
            break
        if cert.y_best is None or cert.ll_optimal_value is None:
            message = f"follower re-solve failed at x = {np.round(x, 6).tolist()}: {cert.message}"
            status_hint = "error"
            break
        y_resp = optimistic_response(problem, x, cert.ll_optimal_value, time_limit=ctx.certify_limit(),
                                     feastol=scip.TIGHT_FEASTOL)
        if y_resp is not None:
            c2 = certify(problem, x, y_resp, time_limit=ctx.certify_limit())
            if c2.certified and is_tight(c2):  # a loose response could buy F with its gap
                best = _better(problem, best, x, y_resp, c2)
        if best is not None and bound is not None and best[0] - bound <= tol * max(1.0, abs(best[0])):
            status_hint = "optimal_by_bound"
            break
        y_hat = np.asarray(cert.y_best, dtype=float)
        if _cut_valid_everywhere(lifted, y_hat):
            _add_cut(lifted, y_hat, f_model)
            history[-1].cut = "value-function cut"
            continue
        # the follower's feasible set moves with x: cut with a point strictly inside the
        # follower's set at x*, valid wherever that point stays feasible (a disjunction)
        y_in = _interior_cut_point(problem, x, cert, time_limit=ctx.certify_limit())
        if y_in is None:
            message = ("no strictly feasible cut point for the follower at x = "
                       f"{np.round(x, 6).tolist()}: best certified point returned")
            status_hint = "no_cut"
            break
        _add_disjunctive_cut(lifted, y_in, f_model, len(m.vf_cuts) + it)
        history[-1].cut = "disjunctive cut"

    claim = Claim(solver="scip", history=history, message=message,
                  assumptions=[f"relaxation: {relaxation}", f"iterations: {it}"
                               + (" (after a seed cut at the starting x)" if seeded else "")]
                  + lifted.slm.notes)
    if bound is not None:
        claim.bound = bound
    if best is None:
        claim.limit_hit = status_hint == "time_limit"
        if status_hint == "infeasible":
            claim.verdict = "infeasible"
        claim.message = message or f"no certified point ({status_hint})"
        return claim
    _, claim.x, claim.y, claim.certificate = best
    claim.proven = status_hint in ("optimal", "optimal_by_bound")
    claim.limit_hit = status_hint == "time_limit"
    return claim


def _seed_cut(lifted, problem, f_model, certify_time_limit, time_limit) -> bool:
    """Before the first relaxation, cut with the follower's global optimum at the
    starting x (``xy_init`` or the high-point point): one follower solve that often
    saves the most expensive relaxation solve. Returns whether a cut was added."""
    x0 = [problem.x[i].value for i in range(problem.n_x)]
    if any(v is None for v in x0):
        x0 = lifted.hpr.get("point")
    if x0 is None:
        return False
    budget = 10.0 if time_limit is None else max(1.0, 0.2 * time_limit)
    out, _, slm = solve_follower(problem, np.asarray(x0, float), time_limit=budget)
    if not out.has_solution:
        return False
    y0 = np.array([out.values[id(slm.m.y[j])] for j in range(problem.n_y)])
    if _cut_valid_everywhere(lifted, y0):
        _add_cut(lifted, y0, f_model)
        return True
    return False


def _add_cut(lifted, y_hat, f_model) -> None:
    """f(x, y) <= f(x, ŷ): valid at every x (ŷ feasible everywhere)."""
    lifted.slm.m.vf_cuts.add(f_model <= substitute(lifted.problem.f, _at(lifted, y_hat)))


def _at(lifted, y_hat) -> dict:
    problem, m = lifted.problem, lifted.slm.m
    mapping = {id(problem.x[i]): m.x[i] for i in range(problem.n_x)}
    mapping.update({id(problem.y[j]): float(y_hat[j]) for j in range(problem.n_y)})
    return mapping


def _add_disjunctive_cut(lifted, y_in, f_model, k: int) -> None:
    """[f(x, y) <= f(x, ŷ)]  or  [g_j(x, ŷ) <= 0 for some j that can fail]: every
    bilevel-feasible point satisfies one of them (if ŷ is infeasible at x, some
    g_j(x, ŷ) < 0), so the relaxation stays valid; at x* the point ŷ is strictly
    feasible, so only the first term can hold there and (x*, y*) is cut off."""
    problem, slm, m = lifted.problem, lifted.slm, lifted.slm.m
    mapping = _at(lifted, y_in)
    terms = []
    for c in lifted.lower:
        body = substitute(c.body, mapping)
        if isinstance(body, (int, float)):
            continue
        lo, hi = compute_bounds_on_expr(body)
        if c.kind == "ge" and (lo is None or lo < 0):
            terms.append((body, 1.0))
        elif c.kind == "eq":
            terms += [(body, 1.0), (body, -1.0)]  # ŷ infeasible: body > 0 or body < 0
    if not hasattr(m, "vf_z"):
        m.vf_z = pyo.Var(pyo.Any, dense=False, domain=pyo.Binary)
        m.vf_pick = pyo.ConstraintList()
    z_cut = m.vf_z[(k, -1)]
    slm.indicators.append(Indicator(z_cut, 1, f_model - substitute(problem.f, mapping), "le"))
    zs = [z_cut]
    for j, (body, sign) in enumerate(terms):
        z = m.vf_z[(k, j)]
        slm.indicators.append(Indicator(z, 1, sign * body, "le"))
        zs.append(z)
    m.vf_pick.add(sum(zs) >= 1)


def _interior_cut_point(problem, x, cert, time_limit=None):
    """A follower point strictly feasible at x (constraints tightened by ε) whose value
    is still below f(x, y*): a cut point that excludes (x*, y*). None if none found."""
    f_here = cert.ll_value
    f_star = cert.ll_optimal_value
    scale = max(1.0, float(np.abs(x).max(initial=0.0)))
    for eps in (1e-3, 1e-4, 1e-5, 1e-6):
        out, _, slm = solve_follower(problem, x, time_limit=time_limit, relax=-eps * scale)
        if out.has_solution and out.objective is not None:
            if out.objective < f_here - 0.5 * (f_here - f_star):
                return np.array([out.values[id(slm.m.y[j])] for j in range(problem.n_y)])
    return None


def _better(problem, best, x, y, cert):
    """The better (lower F, min form) of the incumbent ``best`` and the point (x, y)."""
    F = problem.evaluate(x, y)["F"]
    F_min = problem.sense_sign * F
    if best is None or F_min < best[0]:
        return (F_min, np.array(x, float), np.array(y, float), cert)
    return best
