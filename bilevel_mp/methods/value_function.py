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

Followers with integer variables (mixed-integer bilevel linear programs, or any follower
SCIP solves globally) have no KKT system: the relaxation is the high-point relaxation with
the integrality of x and y, and the cuts are those of ``algorithms.integer_cuts``. They
are exact on integer-linking rows (x entries integer, integer coefficients): with only
such rows each x is cut at most once and the loop ends after finitely many relaxations;
rows with a continuous or fractional x entry get cut points moved strictly inside, and
the loop converges in the limit (``result.assumptions`` says which case holds). A
pure-integer follower the leader can only switch off (knapsack-type interdiction,
``algorithms.interdiction_cuts``) is solved instead in one SCIP tree by branch-and-cut
(``algorithms.integer_branch_and_cut``). The certificate re-solves the follower's MILP at
x to a proven gap; ``optimal`` needs both that and the bound.

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

from .. import progress
from ..backends import scip, solve_single_level
from ..algorithms.integer_cuts import (add_response_cut, integer_linking_rows,
                                       round_integers, strict_cut_point, strict_rows)
from ..algorithms.integer_branch_and_cut import branch_and_cut
from ..algorithms.interdiction_cuts import add_interdiction_cut, blocking_structure
from ..backends.single_level import substitute
from ..core.certify import (beats_optimum, certify, follower_status, is_tight, optimistic_response,
                            solve_follower)
from ..core.context import Context
from ..core.finish import Claim
from ..core.lifted import lift
from ..errors import BilevelInputError
from ..problem import BilevelProblem, split_lower
from ..reformulations.kkt import KKT
from ..result import Iteration
from ..structure import Structure, degree, fixed
from .reformulate import follower_unbounded
from .settings import count, flag, positive

NAME = "value_function"
LOCAL = False


@dataclass
class Settings:
    """max_iter: relaxations solved at most (None: 200 for a continuous follower; no cap
    for an integer one, whose loop is finite); tol: relative gap between incumbent and
    bound that ends the loop; verbose: print one line per relaxation."""

    max_iter: int | None = None
    tol: float = 1e-6
    verbose: bool = False

    def __post_init__(self):
        if self.max_iter is not None:
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
    """Every follower SCIP can solve globally is accepted (integer ones included)."""


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
    """Global method for nonconvex and integer followers (see module docstring)."""
    problem, structure = ctx.problem, ctx.structure
    integer = structure.y_integer
    max_iter, tol = settings.max_iter, settings.tol
    if max_iter is None:
        max_iter = 10 ** 9 if integer else 200
    t0 = time.perf_counter()
    time_limit = ctx.left()
    linear_y = _constraints_linear_in_y(problem, split_lower(problem)[0])
    if integer:  # no KKT system, so no big-M or multiplier bounds: tighten only the missing bounds
        lifted = lift(problem, "value_function", "value_function", time_limit=time_limit, cache=ctx.hpr,
                      missing_only=True)
        relaxation = "HPR with integrality + integer value-function cuts"
    elif linear_y:
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
    linking = integer_linking_rows(problem, lifted.lower) if integer else set()
    blocking = blocking_structure(problem) if integer else None
    if integer:
        moving = strict_rows(problem, linking)
        relaxation += (f"; rows {', '.join(moving[:5])}{' ...' if len(moving) > 5 else ''} have continuous "
                       "or fractional x entries: cut points moved strictly inside, convergence in the limit"
                       if moving else "; every row with x is integer-linking: finitely many cuts")
    if blocking is not None:
        relaxation += " (interdiction cuts: the leader only switches follower variables off)"
        if all(problem.y_is_integer()) and structure.upper == "linear":
            return _branch_and_cut(ctx, lifted, blocking, settings)
    best = None  # (F_min_form, x, y, cert)
    bound = None
    message = ""
    status_hint = "time_limit"
    it = 0
    history = []
    seeded = _seed_cut(lifted, problem, f_model, linking, blocking, time_limit)
    feastol, last_x, last_cut, master_solver = None, None, None, "scip"  # SCIP's default feasibility tolerance until a cut fails to bite
    for it in range(1, max_iter + 1):
        remaining = ctx.left()
        if remaining is not None and remaining <= 0.5:
            break
        out = solve_single_level(lifted.slm, time_limit=remaining, feastol=feastol,
                                 watch=progress.watcher(bound_only=True))
        master_solver = out.solver
        if out.status == "infeasible" and not out.has_solution:
            status_hint = "infeasible" if best is None else "optimal_by_bound"
            if best is not None:
                bound = best[0]
            break
        if out.status == "unbounded":  # a relaxation: the bilevel problem need not be unbounded
            status_hint = "unbounded_relaxation"
            message = ("the relaxation (high-point relaxation with the cuts so far) is unbounded, so no "
                       "bound or point follows; bound the leader's variables")
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
        if _met(best, bound, tol):
            status_hint = "optimal_by_bound"
            break
        x, y, _ = lifted.invert(out)
        if any(problem.x_is_integer()):
            x = np.where(problem.x_is_integer(), np.round(x), x)
        cert = certify(problem, x, y, time_limit=ctx.certify_limit())
        exploits = integer and beats_optimum(cert)  # y feasible only by the relaxation's tolerance
        if cert.certified and is_tight(cert) and not exploits:
            best = _better(problem, best, x, y, cert)
            status_hint = "optimal" if out.status == "optimal" else "time_limit"
            break
        same_x = last_x is not None and np.array_equal(x, last_x)
        if (exploits or same_x) and feastol != scip.TIGHT_FEASTOL:
            # y feasible only by the relaxation's tolerance, or the last cut met to it only:
            # re-solve the relaxation at SCIP's tight tolerance
            feastol = scip.TIGHT_FEASTOL
            continue
        last_x = x
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
        if _met(best, bound, tol):
            status_hint = "optimal_by_bound"
            break
        y_hat = np.asarray(cert.y_best, dtype=float)
        if blocking is not None:  # the interdiction cut is valid at every x: no strict point needed
            y_cut = round_integers(problem, y_hat)
        elif integer:
            y_cut = strict_cut_point(problem, x, round_integers(problem, y_hat), linking, cert.ll_value,
                                     cert.ll_optimal_value, time_limit=ctx.certify_limit())
        elif _cut_valid_everywhere(lifted, y_hat):
            y_cut = y_hat
        else:
            # the follower's feasible set moves with x: cut with a point strictly inside the
            # follower's set at x*, valid wherever that point stays feasible (a disjunction)
            y_cut = _interior_cut_point(problem, x, cert, time_limit=ctx.certify_limit())
        if y_cut is None:
            message = ("no strictly feasible cut point for the follower at x = "
                       f"{np.round(x, 6).tolist()}: best certified point returned")
            status_hint = "no_cut"
            break
        if same_x and last_cut is not None and np.array_equal(y_cut, last_cut):
            # the same x and the same cut at the tightest tolerance: the loop cannot move
            message = "the relaxation returns the same x after a cut at the tightest tolerance"
            status_hint = "no_cut"
            break
        last_cut = y_cut
        history[-1].cut = add_interdiction_cut(lifted, blocking, y_cut) if blocking is not None \
            else add_response_cut(lifted, y_cut, f_model, linking, it)

    claim = Claim(solver=master_solver, history=history, message=message,
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


def _branch_and_cut(ctx: Context, lifted, blocking, settings: Settings) -> Claim:
    """A pure-integer follower the leader only switches off: one SCIP tree with the
    follower's optimality enforced by interdiction cuts (``integer_branch_and_cut``)."""
    out = branch_and_cut(lifted, blocking, ctx.left(), follower_time_limit=ctx.certify_limit(),
                         verbose=settings.verbose)
    claim = Claim(solver="scip", message=out.message if out.status not in ("optimal", "infeasible") else "",
                  assumptions=["relaxation: HPR with integrality, branch-and-cut with interdiction cuts "
                               "(the leader only switches follower variables off)",
                               f"cuts: {out.cuts}, follower re-solves: {out.follower_solves}"]
                  + lifted.slm.notes)
    claim.bound = out.bound
    claim.limit_hit = out.status == "time_limit"
    if out.x is None:
        if out.status == "infeasible":
            claim.verdict = "infeasible"
        claim.message = claim.message or f"no bilevel-feasible point ({out.status})"
        return claim
    claim.x, claim.y = out.x, round_integers(ctx.problem, out.y)
    claim.proven = out.status == "optimal"
    return claim


def _seed_cut(lifted, problem, f_model, linking, blocking, time_limit) -> bool:
    """Before the first relaxation, cut with the follower's global optimum at the
    starting x (``xy_init`` or the high-point point): one follower solve that often
    saves the most expensive relaxation solve. Returns whether a cut was added (a
    continuous follower's only where that optimum is feasible at every x; an integer
    follower's always, as a disjunction where needed)."""
    x0 = [problem.x[i].value for i in range(problem.n_x)]
    if any(v is None for v in x0):
        x0 = lifted.hpr.get("point")
    if x0 is None:
        return False
    budget = 10.0 if time_limit is None else max(1.0, 0.2 * time_limit)
    out, _, slm = solve_follower(problem, np.asarray(x0, float), time_limit=budget)
    if not out.has_solution or follower_status(out) != "optimal":  # no cut from an unbounded follower
        return False
    y0 = np.array([out.values[id(slm.m.y[j])] for j in range(problem.n_y)])
    if blocking is not None:
        add_interdiction_cut(lifted, blocking, round_integers(problem, y0))
        return True
    if any(problem.y_is_integer()):
        add_response_cut(lifted, round_integers(problem, y0), f_model, linking, 0)
        return True
    if _cut_valid_everywhere(lifted, y0):
        add_response_cut(lifted, y0, f_model, linking, 0)
        return True
    return False


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


def _met(best, bound, tol) -> bool:
    """The incumbent's F (min form) is within ``tol`` (relative) of the proven bound."""
    return best is not None and bound is not None and best[0] - bound <= tol * max(1.0, abs(best[0]))


def _better(problem, best, x, y, cert):
    """The better (lower F, min form) of the incumbent ``best`` and the point (x, y)."""
    F = problem.evaluate(x, y)["F"]
    F_min = problem.sense_sign * F
    if best is None or F_min < best[0]:
        return (F_min, np.array(x, float), np.array(y, float), cert)
    return best
