"""Branch-and-cut for interdiction-type integer followers, in one SCIP tree.

The high-point relaxation (G, g, bounds, integrality of x and y; objective F) is solved by
SCIP with one more constraint handler, "the follower is optimal": at every candidate
point (x*, y*) that SCIP's integrality is satisfied at — an integral LP optimum, a
pseudo-solution or a heuristic's solution — the follower is re-solved at x*
(``FollowerMILP``, cached); the candidate is accepted only if c·y* <= c·ŷ(x*). Otherwise
the handler adds the interdiction cut of ``interdiction_cuts`` for ŷ(x*), which is valid
for every bilevel-feasible point and violated by the candidate, and SCIP goes on in the
same tree: no relaxation is solved twice, unlike the cutting-plane loop of
``value_function``.

Needs a pure-integer linear follower with the blocking structure (``blocking_structure``):
a cut then always exists. Dual presolve reductions and symmetry handling are off, since
SCIP would apply them to the relaxation without knowing the follower's optimality.
The dual bound SCIP reports is a valid bound on the bilevel optimum: every constraint
added is valid for the bilevel-feasible set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import progress
from ..backends import scip
from .follower_milp import FollowerMILP
from .interdiction_cuts import Blocking
from .interdiction_search import SwitchSearch

REL_TOL = 1e-9  # c·y* above c·ŷ by more than this (relative): the follower is not optimal
LAST = -9_999_999  # enforcement and check priority: after every other handler, so the cuts added
# (linear constraints) are enforced by SCIP's own handlers before a candidate reaches this one


@dataclass
class BranchAndCutOutcome:
    """``status`` is the SCIP outcome's ("optimal", "infeasible", "time_limit", ...),
    ``x``/``y`` its best bilevel-feasible point (None without one), ``bound`` its dual bound
    (min form), ``cuts`` the interdiction cuts added, ``follower_solves`` the re-solves."""

    status: str
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    bound: float | None = None
    cuts: int = 0
    follower_solves: int = 0
    message: str = ""
    seconds: float = 0.0
    errors: list = field(default_factory=list)


def _plugin_classes():
    from pyscipopt import SCIP_HEURTIMING, SCIP_RESULT, Conshdlr, Heur, quicksum

    class FollowerOptimal(Conshdlr):
        """Accept a candidate only if y is the follower's optimum at its x; else cut."""

        def __init__(self, follower: FollowerMILP, blocking: Blocking, xs, ys):
            self.follower, self.blocking, self.xs, self.ys = follower, blocking, xs, ys
            self.pending: list = []  # (x, ŷ) points for ``OfferResponses`` to try
            self.offered = 0
            self.queued: list = []  # ŷ met in checks, cut at the next enforcement
            self.seen: set = set()
            self.cuts = 0
            self.errors: list = []

        def _point(self, sol):
            x = np.array([self.model.getSolVal(sol, v) for v in self.xs])
            y = np.array([self.model.getSolVal(sol, v) for v in self.ys])
            return x, np.round(y)

        def _violated(self, sol):
            """(violated, ŷ): the follower's optimum ŷ at the candidate's x beats its y."""
            x, y = self._point(sol)
            status, value, y_hat = self.follower.solve(x)
            if status != "optimal":
                self.errors.append(f"follower re-solve {status} at x = {np.round(x, 6).tolist()}")
                return True, None
            if self.follower.solves > self.offered:  # a new x: (x, ŷ) is bilevel feasible
                self.offered = self.follower.solves
                self.pending.append((x, y_hat))
            here = float(self.follower.c @ y)
            return here > value + REL_TOL * max(1.0, abs(value)), y_hat

        def conscheck(self, constraints, solution, checkintegrality, checklprows, printreason, completely):
            try:
                violated, y_hat = self._violated(solution)
            except Exception as exc:  # an exception must not cross SCIP's callback
                self.errors.append(f"follower check failed: {exc!r}")
                return {"result": SCIP_RESULT.INFEASIBLE}
            if violated and y_hat is not None:
                self.queued.append(y_hat)  # cut at the next enforcement: the re-solve is paid
            return {"result": SCIP_RESULT.INFEASIBLE if violated else SCIP_RESULT.FEASIBLE}

        def _enforce(self):
            try:
                return self._enforce_here()
            except Exception as exc:  # an exception must not cross SCIP's callback; "error" follows
                self.errors.append(f"follower enforcement failed: {exc!r}")
                return {"result": SCIP_RESULT.CUTOFF}

        def _enforce_here(self):
            violated, y_hat = self._violated(None)
            if not violated:
                return {"result": SCIP_RESULT.FEASIBLE}
            if y_hat is None:  # no follower optimum: drop the node; the outcome is "error"
                return {"result": SCIP_RESULT.CUTOFF}
            if tuple(y_hat) in self.seen:  # its cut is in and met to SCIP's tolerance only
                self.errors.append("an interdiction cut was met only to SCIP's tolerance; the node "
                                   "was dropped, so the bound is not a proof")
                return {"result": SCIP_RESULT.CUTOFF}
            for y_cut in [y_hat] + self.queued:
                self._cut(y_cut)
            self.queued = []
            return {"result": SCIP_RESULT.CONSADDED}

        def _cut(self, y_hat) -> None:
            """Add the interdiction cut of ŷ (once per ŷ)."""
            key = tuple(y_hat)
            if key in self.seen:
                return
            self.seen.add(key)
            d = self.blocking.d
            x_coefs, rhs = self.blocking.cut(y_hat)
            lhs = quicksum(float(d[j]) * self.ys[j] for j in range(len(self.ys)) if d[j] != 0.0)
            lhs += quicksum(a * self.xs[i] for i, a in x_coefs.items())
            self.model.addCons(lhs <= rhs, name=f"interdiction_{self.cuts}", removable=False)
            self.cuts += 1

        def consenfolp(self, constraints, nusefulconss, solinfeasible):
            return self._enforce()

        def consenfops(self, constraints, nusefulconss, solinfeasible, objinfeasible):
            return self._enforce()

        def consenforelax(self, solution, constraints, nusefulconss, solinfeasible):
            return self._enforce()

        def conslock(self, constraint, locktype, nlockspos, nlocksneg):
            pass  # no constraints of its own; dual reductions are switched off instead

    class OfferResponses(Heur):
        """After each node, offer SCIP the points (x*, ŷ(x*)) the handler met: bilevel
        feasible whenever they meet the leader's constraints (SCIP checks them), so the
        incumbent, and with it the pruning, does not wait for the tree to find them."""

        def __init__(self, handler, search: SwitchSearch):
            self.handler, self.search = handler, search
            self.searched = np.inf  # the incumbent value the last local search started from

        def _offer(self, x, y) -> bool:
            """Try (x, y) as a solution; False where SCIP refuses it (e.g. a value off a
            variable that presolve or a restart has fixed: the point is cut off anyway)."""
            variables = self.handler.xs + self.handler.ys
            values = [float(np.round(v)) if var.vtype() != "CONTINUOUS" else float(v)
                      for var, v in zip(variables, list(x) + list(y))]
            for var, val in zip(variables, values):
                lo, hi = var.getLbGlobal(), var.getUbGlobal()
                if val < lo - 1e-9 or val > hi + 1e-9:
                    return False
            sol = self.model.createSol(self)
            try:
                for var, val in zip(variables, values):
                    self.model.setSolVal(sol, var, val)
                return bool(self.model.trySol(sol))
            except Exception:  # an exception must not cross SCIP's callback
                return False

        def heurexec(self, heurtiming, nodeinfeasible):
            found = False
            while self.handler.pending:
                found = self._offer(*self.handler.pending.pop()) or found
            if self.model.getNSols() > 0:  # a better incumbent: search around it (once per value)
                best = self.model.getBestSol()
                value = self.model.getSolObjVal(best)
                if value < self.searched - 1e-9 * max(1.0, abs(value)):
                    self.searched = value
                    x = np.array([self.model.getSolVal(best, v) for v in self.handler.xs])
                    got = self.search.improve(x)
                    if got is not None and got[0] < value - 1e-9 * max(1.0, abs(value)):
                        found = self._offer(got[1], got[2]) or found
            return {"result": SCIP_RESULT.FOUNDSOL if found else SCIP_RESULT.DIDNOTFIND}

    return FollowerOptimal, OfferResponses, SCIP_HEURTIMING


def branch_and_cut(lifted, blocking: Blocking, time_limit: float | None,
                   follower_time_limit: float | None = 60.0, verbose: bool = False) -> BranchAndCutOutcome:
    """Solve ``lifted`` (the high-point relaxation of a pure-integer follower with the
    blocking structure) by branch-and-cut (module docstring)."""
    problem, m = lifted.problem, lifted.slm.m
    follower = FollowerMILP(problem, time_limit=follower_time_limit)
    handlers = []

    def setup(model, varmap):
        model.setParam("misc/allowstrongdualreds", False)
        model.setParam("misc/allowweakdualreds", False)
        model.setParam("misc/usesymmetry", 0)
        xs = [varmap[id(m.x[i])] for i in range(problem.n_x)]
        ys = [varmap[id(m.y[j])] for j in range(problem.n_y)]
        for v in xs:  # branch on the leader's choices first: they decide the follower's
            model.chgVarBranchPriority(v, 10)
        handler_class, heur_class, timing = _plugin_classes()
        handler = handler_class(follower, blocking, xs, ys)
        model.includeConshdlr(handler, "follower_optimal", "the follower's response is optimal",
                              enfopriority=LAST, chckpriority=LAST, needscons=False)
        model.includeHeur(heur_class(handler, SwitchSearch(follower, blocking)), "follower_responses", "offer (x, follower optimum at x)",
                          "B", timingmask=timing.AFTERLPNODE | timing.AFTERPSEUDONODE | timing.BEFORENODE)
        handlers.append(handler)

    t0 = time.perf_counter()
    out = scip.solve(lifted.slm, time_limit=time_limit, verbose=verbose, setup=setup,
                     watch=progress.watcher())
    handler = handlers[-1] if handlers else None
    result = BranchAndCutOutcome(out.status, bound=out.bound, seconds=time.perf_counter() - t0,
                                 message=out.message, follower_solves=follower.solves)
    if handler is not None:
        result.cuts, result.errors = handler.cuts, handler.errors
        if handler.errors:
            result.status = "error"
            result.message = handler.errors[-1]
    if out.has_solution:
        result.x, result.y, _ = lifted.invert(out)
    return result
