"""Branch-and-bound on the follower's complementarity pairs over HiGHS LPs (LP-LP only).

For an LP follower the KKT system splits into two independent linear systems joined
only by complementarity ``s_k * lambda_k = 0`` (s: follower slacks, lambda: multipliers):

* primal: the high-point relaxation (HPR) with the rows of ``F1`` held active (s_k = 0)
  and the objective cut ``F <= incumbent``; follower rows that bound a single y_j are
  column bounds of this LP, and making one active fixes y_j;
* dual: ``{lambda >= 0, mu : D^T lambda + E_D^T mu = c}`` with ``lambda_k = 0`` on ``F0``.

A node ``(F1, F0)`` is pruned when either system is infeasible; its bound is the primal
LP value. At the primal optimum (x*, y*) the dual LP is solved with the objective of the
follower's dual at x* (the *relaxed follower*: the follower without the rows in F0). If
``c y*`` equals its value, y* is follower-optimal at x* and the node is solved; otherwise
the optimal multipliers ``lambda_hat`` say which pairs the follower really violates, and
the pair with the largest ``lambda_hat_k * s_k`` (times a conflict-activity boost) is
branched on: children ``s_k = 0`` and ``lambda_k = 0``. A ``lambda_k = 0`` child has its
parent's primal LP, so the parent's solution is reused and only the dual LP runs; an
``s_k = 0`` child reuses its parent's multipliers (still dual feasible there): if they
certify its y* the node is solved, otherwise it is branched on with them, no dual LP.

Conflict learning: when a node's primal LP is infeasible, the Farkas ray names the
active rows it needs, a set C (a *primal nogood*: the rows of C cannot all be active in
a point better than the incumbent); when the dual LP is infeasible, the ray names a set B
of zeroed multipliers that cannot all be zero. Every learned set smaller than the node's
is re-checked by an LP before it is stored. Nogoods propagate like clauses: if all of C
but k are active, k must be inactive, hence lambda_k = 0; if all of B but k are zero,
lambda_k = 0 is impossible, hence s_k = 0. The initial dual nogoods are the blocking sets
of the coordinate directions (Hansen, Jaumard & Savard 1992): a follower variable with
c_j != 0 needs one of the rows that stop it moving against c_j to be active; the initial
primal ones are pairs of parallel rows that cannot both be tight (the two bounds of a y_j).

Primal heuristics (on the measured instances finding the optimum took most of the time,
not proving it): (1) the LP over HPR with the support of ``lambda_hat`` active, whose
every point is bilevel feasible; (2) every 50 nodes a dive that keeps making the most
violated row active; (3) after each new incumbent, a local search over the follower's
optimal supports (drop one row of the incumbent's certifying support, re-solve, repair).

Everything proven rests on LP statuses from HiGHS (within its tolerances). No dual
bound (big-M) is used. The returned point goes through ``bilevel_mp.certify.certify``.

What was measured and left off by default, and the stronger node relaxations tried
first, are recorded in ``docs/design/complementarity_bb.md``.
"""

from __future__ import annotations

import heapq
import math
import time

import numpy as np

from ..clock import interrupted
from ..backends import highs
from ..backends.highs import ArrayLP
from ..errors import SolverUnavailableError
from .complementarity_heuristics import PrimalHeuristics, positive_support
from .complementarity_nogoods import NogoodDB, NogoodLearning
from .lplp_data import LPLPData

INF = math.inf


class BBOutcome:
    """What the search ends with (arrays in the canonical min form)."""

    def __init__(self):
        self.status = "error"  # optimal | infeasible | time_limit | node_limit | unbounded_hpr | follower_unbounded | error
        self.z = None  # best (x, y)
        self.value = None  # its F (min form, with constant)
        self.bound = None  # proven lower bound on F (min form)
        self.lam = None  # follower multipliers certifying z (inequality rows), mu (equality rows)
        self.mu = None
        self.nodes = 0
        self.lp_solves = 0
        self.nogoods = (0, 0)
        self.proven = True
        self.message = ""
        self.seconds = 0.0


class ComplementarityBB(NogoodLearning, PrimalHeuristics):
    """The search (see module docstring). ``run()`` returns a ``BBOutcome``."""

    def __init__(self, data: LPLPData, time_limit: float | None = None, node_limit: int | None = None,
                 rel_gap: float = 1e-9, learn: bool = True, heuristic_every: int = 8,
                 max_nogoods: int = 4000, activity_weight: float = 5.0, minimize: bool = False,
                 lazy_dual: bool = True, polish: int = 0,
                 targets=(), active_first: bool = False, local_search: int = 20, dive_every: int = 50,
                 probe: int = 0,
                 verbose: bool = False,
                 progress=None):
        if not highs.available():  # pragma: no cover
            raise SolverUnavailableError("HiGHS is not installed: pip install highspy")
        self.d = d = data
        self.time_limit = time_limit
        self.node_limit = node_limit
        self.rel_gap = rel_gap
        self.learn = learn
        self.heuristic_every = heuristic_every
        self.max_nogoods = max_nogoods
        self.activity_weight = activity_weight
        self.minimize = minimize
        self.lazy_dual = lazy_dual
        self.polish = polish
        self.targets = tuple(targets or ())
        self.active_first = active_first
        self.local_search = local_search
        self.dive_every = dive_every
        self.probe = probe
        self._in_ls = False
        self.verbose = verbose
        self.progress = progress
        nx, ny, m, p = d.n_x, d.n_y, d.m, d.p
        self.nx, self.ny, self.m, self.p = nx, ny, m, p
        nz = nx + ny
        self.cost = np.concatenate([d.F_x, d.F_y])
        # Follower rows that are bounds on one y_j (g = a y_j + r, no x) become column
        # bounds of the primal LP; making such a row active fixes y_j at that bound.
        # Primal LP rows: leader rows | other follower inequality rows | equalities | cut
        nL = d.L.shape[0]
        self.nL = nL
        is_bound = np.zeros(m, bool)
        self.bcol = np.full(m, -1)  # column of a bound row (index into z)
        self.bval = np.zeros(m)  # the bound value
        self.bside = np.zeros(m, int)  # +1: y_j >= value (lower), -1: y_j <= value (upper)
        z_lb = np.concatenate([d.x_lb, d.y_lb])
        z_ub = np.concatenate([d.x_ub, d.y_ub])
        for k in range(m):
            nzy = np.flatnonzero(d.D[k])
            if nzy.size == 1 and not np.any(d.A[k]):
                j = int(nzy[0])
                a = d.D[k, j]
                is_bound[k] = True
                self.bcol[k] = nx + j
                self.bval[k] = -d.r[k] / a
                self.bside[k] = 1 if a > 0 else -1
                if a > 0:
                    z_lb[nx + j] = max(z_lb[nx + j], self.bval[k])
                else:
                    z_ub[nx + j] = min(z_ub[nx + j], self.bval[k])
        self.is_bound = is_bound
        self.z_lb, self.z_ub = z_lb, z_ub
        self.bound_rows = np.flatnonzero(is_bound)
        self.gen_rows = np.flatnonzero(~is_bound)
        self.ycols = np.arange(nx, nz)
        fol = np.hstack([d.A, d.D])[self.gen_rows] if m else np.zeros((0, nz))
        eqs = np.hstack([d.E_A, d.E_D]) if p else np.zeros((0, nz))
        rows = np.vstack([d.L.reshape(nL, nz), fol.reshape(-1, nz), eqs.reshape(-1, nz), self.cost[None, :]])
        self.rows = rows
        self.k_lo = -d.r[self.gen_rows]
        ng = self.gen_rows.size
        lo = np.concatenate([d.L_lo, self.k_lo, -d.E_r if p else np.zeros(0), [-INF]])
        hi = np.concatenate([d.L_hi, np.full(ng, INF), -d.E_r if p else np.zeros(0), [INF]])
        self.P = ArrayLP(self.cost, z_lb, z_ub, rows, lo, hi)
        self.k_rows = np.arange(nL, nL + ng)
        self.cut_row = nL + ng + p
        # dual LP: columns lambda (m) then mu (p); rows: stationarity per y_j
        Dt = np.hstack([d.D.T, d.E_D.T]) if p else d.D.T.copy()
        self.Dt = Dt.reshape(ny, m + p)
        self.Q = self.Dt.T  # (m+p, ny): row k is the y-gradient of follower row k
        dlb = np.concatenate([np.zeros(m), np.full(p, -INF)])
        dub = np.full(m + p, INF)
        self.Df = ArrayLP(np.zeros(m + p), dlb, dub, self.Dt, d.c, d.c, maximize=True)
        self.lam_cols = np.arange(m)
        self.UB = INF
        self.best = None
        self.best_lam = None
        self.pnog = NogoodDB(m, max_nogoods)  # rows that cannot all be active (F <= cutoff)
        self.dnog = NogoodDB(m, max_nogoods + ny)  # multipliers that cannot all be zero
        self.activity = np.zeros(m)
        self.stats = dict(nodes=0, pinf=0, dinf=0, props=0, heur=0, heur_improved=0, feasible_nodes=0,
                          unsafe=0)
        self.target = INF
        self._cur_f1 = None
        self._cur_ok = True
        self._cur_f0 = None
        self._seed_dual_nogoods()
        self._seed_primal_nogoods()

    # ----------------------------------------------------------------- utilities
    def cutoff(self) -> float:
        """The objective cut of the current search: below the incumbent, and at most the
        target of the current phase."""
        cut = self.target
        if math.isfinite(self.UB):
            cut = min(cut, self.UB - self.rel_gap * max(1.0, abs(self.UB)))
        return cut

    def _set_f1(self, f1: np.ndarray) -> bool:
        """Load the activity pattern F1 into the primal LP; False if it fixes some y_j
        at two different bounds (then the node is infeasible without an LP)."""
        key = f1.tobytes()
        if key == self._cur_f1:
            return self._cur_ok
        g = f1[self.gen_rows]
        self.P.row_bounds(self.k_rows, self.k_lo, np.where(g, self.k_lo, INF))
        ok = True
        if self.bound_rows.size:
            lb, ub = self.z_lb.copy(), self.z_ub.copy()
            for k in self.bound_rows[f1[self.bound_rows]]:
                col, v = self.bcol[k], self.bval[k]
                if self.bside[k] > 0:
                    ub[col] = min(ub[col], v)
                else:
                    lb[col] = max(lb[col], v)
            bad = lb[self.ycols] > ub[self.ycols]
            if np.any(bad):
                ok = False
                mid = 0.5 * (lb[self.ycols] + ub[self.ycols])
                lb[self.ycols] = np.where(bad, mid, lb[self.ycols])
                ub[self.ycols] = np.where(bad, mid, ub[self.ycols])
            self.P.col_bounds(self.ycols, lb[self.ycols], ub[self.ycols])
        self._cur_f1 = key
        self._cur_ok = ok
        return ok

    def _set_f0(self, f0: np.ndarray):
        key = f0.tobytes()
        if key == self._cur_f0:
            return
        self.Df.col_bounds(self.lam_cols, np.zeros(self.m), np.where(f0, 0.0, INF))
        self._cur_f0 = key

    def _set_cut(self):
        cut = self.cutoff() - self.d.F_0
        self.P.row_bounds(np.array([self.cut_row]), np.array([-INF]), np.array([cut]))

    # ----------------------------------------------------------------- search
    def _accept(self, value: float, z: np.ndarray, lam: np.ndarray, mu: np.ndarray):
        if value < self.UB:
            self.UB = value
            self.best = z.copy()
            self.best_lam = (lam.copy(), mu.copy())
            if self.local_search and not self._in_ls:
                self._improve()

    def run(self) -> BBOutcome:
        t0 = time.perf_counter()
        out = BBOutcome()
        m = self.m
        pr = self.propagate(np.zeros(m, bool), np.zeros(m, bool))
        if pr is None:  # a seeded blocking set is empty: the follower's dual is infeasible
            if self.solve_primal(np.zeros(m, bool)) is None:
                out.status = "infeasible"
                out.message = "the high-point relaxation is infeasible"
            else:
                out.status = "follower_unbounded"
                out.message = ("the follower's dual has no feasible point: the follower's problem "
                               "is unbounded wherever it is feasible")
            return self._finish(out, t0, exhausted=True)
        f1, f0, _ = pr
        # root: the HPR bound, and the infeasible / unbounded cases
        res = self.solve_primal(f1)
        if res is None:
            out.status = "infeasible"
            out.message = "the high-point relaxation is infeasible"
            return self._finish(out, t0, exhausted=True)
        if res == "unbounded":
            out.status = "unbounded_hpr"
            out.message = ("the high-point relaxation is unbounded: complementarity_bb needs "
                           "bounds on the leader's objective (bound x and y)")
            return self._finish(out, t0, exhausted=False)
        self.root_bound = lower = res[0]
        # Phases: search for a point with F <= target, the target rising from the HPR
        # bound; an exhausted phase proves F* > target. The last phase has no target.
        steps = [lower + r * max(1.0, abs(lower)) for r in self.targets] + [INF]
        for target in steps:
            if math.isfinite(self.UB) and target >= self.UB:
                target = INF
            self.target = target
            exhausted, open_bound = self._search(t0, f1, f0, out)
            if out.status in ("unbounded_hpr", "follower_unbounded"):
                return self._finish(out, t0, exhausted=out.status == "follower_unbounded")
            if not exhausted:
                bound = max(lower, min(open_bound, target))
                return self._finish(out, t0, exhausted=False, open_bound=bound)
            if self.best is not None or not math.isfinite(target):
                break  # exhausted with the incumbent's cut: optimal (or infeasible)
            lower = target
            self.stats["phases"] = self.stats.get("phases", 0) + 1
        self.target = INF
        return self._finish(out, t0, exhausted=True)

    def _search(self, t0, f1, f0, out):
        """One tree search under ``self.cutoff()``; returns (exhausted, lowest open bound)."""
        d, m, nx = self.d, self.m, self.nx
        heap = [(-INF, 0, f1, f0, None, 0, None)]
        counter = 0
        root = True
        exhausted = False
        while True:
            if not heap:
                exhausted = True
                break
            if interrupted() or self.time_limit is not None and time.perf_counter() - t0 > self.time_limit:
                break
            if self.node_limit is not None and self.stats["nodes"] >= self.node_limit:
                break
            bound, _, f1, f0, cache, depth, pdual = heapq.heappop(heap)
            if bound >= self.cutoff():
                continue
            self.stats["nodes"] += 1
            if self.progress is not None and self.stats["nodes"] % 200 == 0:
                self.progress(self.stats["nodes"], self.UB, bound)
            pr = self.propagate(f1, f0)
            if pr is None:
                continue
            f1, f0, grew = pr
            if grew:
                cache = None
            if cache is None:
                res = self.solve_primal(f1)
                if res is None:
                    continue
                if res == "unbounded":
                    if root:
                        out.status = "unbounded_hpr"
                        out.message = ("the high-point relaxation is unbounded: complementarity_bb needs "
                                       "bounds on the leader's objective (bound x and y)")
                        return False, INF
                    self.stats["unsafe"] += 1
                    continue
                bound, z = res
                if bound >= self.cutoff():
                    continue
            else:
                bound, z = cache
            x, y = z[:nx], z[nx:]
            s = d.A @ x + d.D @ y + d.r
            fresh = True
            if self.lazy_dual and pdual is not None and cache is None and not np.any(pdual[0][f0] > 0):
                # the parent's multipliers are still dual feasible here: if they certify
                # y*, the node is solved; otherwise branch on them without a new LP
                lam, mu = pdual
                gap = float(lam @ np.maximum(s, 0.0))
                scale = max(1.0, abs(float(d.c @ y)))
                if gap <= 1e-9 * scale:
                    self.stats["feasible_nodes"] += 1
                    self._accept(bound, z, lam, mu)
                    continue
                fresh = False
                dual = (lam, mu, None)
            else:
                dual = self.solve_dual(f0, x)
            if dual is None:
                if root and not f0.any():
                    out.status = "follower_unbounded"
                    out.message = ("the follower's dual has no feasible point: the follower's problem "
                                   "is unbounded (or infeasible) wherever it is feasible")
                    return True, INF
                continue
            root = False
            if dual == "unknown":
                self.stats["unsafe"] += 1
                continue
            lam, mu, val = dual
            if fresh:
                fy = float(d.c @ y)
                if fy - val <= 1e-9 * max(1.0, abs(val), abs(fy)):
                    self.stats["feasible_nodes"] += 1
                    self._accept(bound, z, lam, mu)
                    continue
            if fresh and self.polish:
                solved = False
                for _ in range(self.polish):
                    z2 = self._polish(f1, lam, bound)
                    if z2 is None:
                        break
                    z = z2
                    x, y = z[:nx], z[nx:]
                    s = d.A @ x + d.D @ y + d.r
                    if float(lam @ np.maximum(s, 0.0)) <= 1e-9 * max(1.0, abs(float(d.c @ y))):
                        self.stats["feasible_nodes"] += 1
                        self._accept(bound, z, lam, mu)
                        solved = True
                        break
                    dual = self.solve_dual(f0, x)
                    if not isinstance(dual, tuple):
                        break
                    lam, mu, val = dual
                if solved:
                    continue
            support = positive_support(lam)
            if fresh and (not math.isfinite(self.UB) or depth < 3
                          or self.stats["nodes"] % self.heuristic_every == 0):
                h = self.heuristic(support, f1)
                if h is not None:
                    self.stats["heur_improved"] += h[0] < self.UB
                    self._accept(h[0], h[1], lam, mu)
                    if h[0] <= bound + self.rel_gap * max(1.0, abs(bound)):
                        continue
            if fresh and self.dive_every and self.stats["nodes"] % self.dive_every == 0:
                self._dive(f1, f0, lam, s)
                if bound >= self.cutoff():
                    continue
            free = ~(f1 | f0)
            viol = lam * np.maximum(s, 0.0)
            amax = float(self.activity.max()) if self.activity.size else 0.0
            boost = self.activity_weight * self.activity / amax if amax > 0 else 0.0
            score = np.where(free, viol * (1.0 + boost), -1.0)
            k = int(np.argmax(score)) if m else -1
            if self.probe and k >= 0 and score[k] > 0:
                # look ahead: an infeasible "row k active" child fixes lambda_k = 0 here
                order = np.argsort(-score)[: self.probe]
                fixed = []
                best_k, best_b = k, -INF
                for kk in order:
                    if score[kk] <= 0:
                        break
                    a1 = f1.copy()
                    a1[kk] = True
                    res = self.solve_primal(a1)
                    self.stats["probes"] = self.stats.get("probes", 0) + 1
                    if res is None:
                        fixed.append(int(kk))
                    elif isinstance(res, tuple) and res[0] > best_b:
                        best_b, best_k = res[0], int(kk)
                if fixed:
                    b0 = f0.copy()
                    b0[fixed] = True
                    counter += 1
                    heapq.heappush(heap, (bound, -counter, f1, b0, (bound, z), depth, None))
                    continue
                k = best_k
            if k < 0 or score[k] <= 0:
                cand = np.where(free, s, -1.0)
                if m == 0 or cand.max() <= 0:
                    # nothing left to branch on: complementarity holds up to tolerance
                    self.stats["feasible_nodes"] += 1
                    self._accept(bound, z, lam, mu)
                    continue
                k = int(np.argmax(cand))
            a1 = f1.copy()
            a1[k] = True
            b0 = f0.copy()
            b0[k] = True
            children = [(a1, f0, None, (lam, mu)), (f1, b0, (bound, z), None)]
            if self.active_first:
                children.reverse()  # the last pushed is popped first among equal bounds
            for c1, c0, cache_, pdual_ in children:
                counter += 1
                heapq.heappush(heap, (bound, -counter, c1, c0, cache_, depth + 1, pdual_))
        open_bound = min((h[0] for h in heap), default=INF)
        return exhausted, open_bound

    def _finish(self, out: BBOutcome, t0: float, exhausted: bool, open_bound: float = INF) -> BBOutcome:
        out.nodes = self.stats["nodes"]
        out.lp_solves = self.P.solves + self.Df.solves
        out.nogoods = (len(self.pnog), len(self.dnog))
        out.proven = self.stats["unsafe"] == 0
        if self.best is not None:
            out.z = self.best
            out.value = self.UB
            out.lam, out.mu = self.best_lam
        if out.status in ("unbounded_hpr", "follower_unbounded") or (out.status == "infeasible" and exhausted):
            out.seconds = time.perf_counter() - t0
            return out
        if exhausted:
            out.status = "optimal" if self.best is not None else "infeasible"
            out.bound = self.cutoff() if self.best is not None else None
        else:
            hit_nodes = self.node_limit is not None and self.stats["nodes"] >= self.node_limit
            out.status = "node_limit" if hit_nodes else "time_limit"
            out.bound = min(open_bound, self.UB) if math.isfinite(min(open_bound, self.UB)) else None
        out.seconds = time.perf_counter() - t0
        return out


__all__ = ["ComplementarityBB", "BBOutcome"]
