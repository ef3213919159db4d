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

Measured and left off by default (options of ``ComplementarityBB``): ``probe`` (look-ahead
on the ``s_k = 0`` children: half the nodes, as many LPs), ``minimize`` (deletion-filter
minimal nogoods: -25 % nodes, +80 % LPs), ``polish`` (move to the least-violated point of
the node's optimal face first), ``targets`` (search phases with a rising objective target:
2-4x slower) and ``active_first`` (explore ``s_k = 0`` children first: instance dependent).

Stronger node relaxations were tried first and do not move the bound on the random
instances of ``bilevel_mp.library.random_lplp``: the first-level RLT products of the KKT
system (which contain the primal-dual inequality of Kleinert, Labbé, Plein & Schmidt
2021, a combination of its rows) give exactly the HPR bound at n = 10 for seeds 0-2, and
300 rounds of intersection cuts on the follower's value function leave it unchanged at
n = 20, seed 1. The HPR's optimal face is large in x and y: any single follower row can
be made active at no cost, so only combinations of active rows raise the bound, which is
what the branching and the learned nogoods work on.
"""

from __future__ import annotations

import heapq
import math
import time

import numpy as np

from ..backends import highs
from ..backends.highs import ArrayLP
from ..errors import SolverUnavailableError
from .lplp_data import LPLPData

INF = math.inf


class _NogoodDB:
    """Learned sets over the follower's inequality rows, as 0/1 rows of a matrix (a ring
    buffer of ``cap`` rows), so a node checks all of them with one matrix-vector product."""

    def __init__(self, m: int, cap: int):
        self.M = np.zeros((max(1, cap), max(1, m)), dtype=np.float32)
        self.level = np.full(max(1, cap), INF)  # a set is valid while the cutoff <= its level
        self.cap = max(1, cap)
        self.n = 0
        self.next = 0
        self.min_level = INF

    def add(self, members: np.ndarray, level: float = INF):
        row = self.next
        self.M[row] = 0.0
        self.M[row, members] = 1.0
        self.level[row] = level
        self.min_level = min(self.min_level, level)
        self.next = (row + 1) % self.cap
        self.n = min(self.n + 1, self.cap)

    def unit(self, outside: np.ndarray, cutoff: float = -INF):
        """For the rows of the set ``outside`` (bool): (refuted?, indices forced).
        A stored set S is refuted when S has no member outside, and forces its one
        member when exactly one is outside. Sets whose level is below ``cutoff`` (learned
        under a tighter objective cut) are ignored."""
        if self.n == 0:
            return False, None
        M = self.M[: self.n]
        miss = M @ outside.astype(np.float32)
        if cutoff > self.min_level:
            miss[self.level[: self.n] < cutoff] = np.inf
        if miss.min() < 0.5:
            return True, None
        units = np.flatnonzero(miss < 1.5)
        if units.size == 0:
            return False, None
        forced = (M[units] * outside).argmax(axis=1)
        return False, np.unique(forced)

    def __len__(self):
        return self.n


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


class ComplementarityBB:
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
        self.pnog = _NogoodDB(m, max_nogoods)  # rows that cannot all be active (F <= cutoff)
        self.dnog = _NogoodDB(m, max_nogoods + ny)  # multipliers that cannot all be zero
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

    def _seed_primal_nogoods(self):
        """Pairs of follower rows that are opposite bounds of one expression (e.g. the two
        bounds of a y_j with l_j < u_j): they cannot both be active."""
        d = self.d
        G = np.hstack([d.A, d.D])
        seen = {}
        for k in range(self.m):
            nrm = float(np.abs(G[k]).max()) if G.shape[1] else 0.0
            if nrm == 0:
                continue
            key = tuple(np.round(G[k] / nrm, 12))
            neg = tuple(np.round(-G[k] / nrm, 12))
            if neg in seen:
                k2, r2 = seen[neg]
                # g_k = G_k z + r_k >= 0 and g_k2 = -a G_k z + r_k2 >= 0, a = nrm2/nrm
                if d.r[k] / nrm + r2 > 1e-9:  # both zero would need r_k/nrm = -r2
                    self.pnog.add(np.array([k, k2]))
            seen[key] = (k, d.r[k] / nrm)

    def _seed_dual_nogoods(self):
        """Blocking sets of the coordinate directions -sign(c_j) e_j (y_j in no equality)."""
        d = self.d
        in_eq = np.zeros(self.ny, bool)
        if self.p:
            in_eq = np.abs(d.E_D).sum(axis=0) > 0
        for j in range(self.ny):
            if d.c[j] == 0 or in_eq[j]:
                continue
            w = -np.sign(d.c[j])
            blockers = np.flatnonzero(w * d.D[:, j] < 0)
            self.dnog.add(blockers)

    # ----------------------------------------------------------------- propagation
    def propagate(self, f1: np.ndarray, f0: np.ndarray):
        """Unit propagation of the nogoods; None if the node is refuted. Returns new
        arrays (the inputs are not modified) and whether F1 grew."""
        f1_grew = False
        f1, f0 = f1.copy(), f0.copy()
        for _ in range(4 * self.m + 2):
            refuted, forced = self.pnog.unit(~f1, self.cutoff())
            if refuted:
                return None
            changed = False
            if forced is not None:
                new = forced[~f0[forced]]
                if new.size:
                    f0[new] = True
                    changed = True
                    self.stats["props"] += int(new.size)
            refuted, forced = self.dnog.unit(~f0)
            if refuted:
                return None
            if forced is not None:
                new = forced[~f1[forced]]
                if new.size:
                    f1[new] = True
                    changed = f1_grew = True
                    self.stats["props"] += int(new.size)
            if not changed:
                break
        return f1, f0, f1_grew

    def _remember(self, store: _NogoodDB, members: np.ndarray, level: float = INF):
        store.add(members, level)
        self.activity *= 0.98
        self.activity[members] += 1.0

    # ----------------------------------------------------------------- LPs
    def solve_primal(self, f1: np.ndarray, learn: bool = True):
        """(bound, z) of the node's primal LP, or None (infeasible; learns a nogood)."""
        ok = self._set_f1(f1)
        self._set_cut()
        st = self.P.run() if ok else "infeasible"
        if st == "optimal":
            return self.P.value() + self.d.F_0, self.P.primal()
        if st == "infeasible":
            self.stats["pinf"] += 1
            if self.learn and learn and f1.any():
                self._learn_primal(f1)
            return None
        if st == "unbounded":
            return "unbounded"
        self.stats["unsafe"] += 1  # LP failed: the node is dropped without proof
        return None

    def _conflict(self, f1: np.ndarray):
        """The active rows the primal LP's Farkas ray uses (a subset of F1), or None."""
        if not self._cur_ok:  # some y_j fixed at two bounds: those rows are the conflict
            C = np.zeros(self.m, bool)
            for j in self.ycols:
                rows = self.bound_rows[(self.bcol[self.bound_rows] == j) & f1[self.bound_rows]]
                vals = self.bval[rows]
                sides = self.bside[rows]
                lo = max([self.z_lb[j]] + [v for v, sd in zip(vals, sides) if sd < 0])
                hi = min([self.z_ub[j]] + [v for v, sd in zip(vals, sides) if sd > 0])
                if lo > hi:
                    C[rows] = True
            return C
        ray = self.P.dual_ray()
        if ray is None or ray.size != self.P.nrows:
            return None
        scale = max(1e-300, float(np.abs(ray).max()))
        C = np.zeros(self.m, bool)
        C[self.gen_rows] = f1[self.gen_rows] & (ray[self.k_rows] < -1e-9 * scale)
        if self.bound_rows.size:
            r = self.rows.T @ ray  # reduced ray: column j uses its upper bound if r_j > 0
            for k in self.bound_rows[f1[self.bound_rows]]:
                rj = r[self.bcol[k]]
                if (self.bside[k] > 0 and rj > 1e-9 * scale) or (self.bside[k] < 0 and rj < -1e-9 * scale):
                    C[k] = True
        return C

    def _infeasible(self, f1: np.ndarray) -> bool:
        ok = self._set_f1(f1)
        return (not ok) or self.P.run() == "infeasible"

    def _learn_primal(self, f1: np.ndarray):
        C = self._conflict(f1)
        if C is None:
            C = f1
        elif C.sum() < f1.sum() and not self._infeasible(C):  # check the smaller set
            C = f1
        if self.minimize:
            C = C.copy()
            for k in np.flatnonzero(C):
                if not C[k]:
                    continue
                C[k] = False
                if not self._infeasible(C):
                    C[k] = True
                    continue
                sub = self._conflict(C)
                if sub is not None and sub.sum() < C.sum() and self._infeasible(sub):
                    C = sub
        self._remember(self.pnog, np.flatnonzero(C), self.cutoff())

    def solve_dual(self, f0: np.ndarray, x: np.ndarray, learn: bool = True):
        """The relaxed follower's dual at x: (lam, mu, value), or None if D(F0) is empty."""
        self._set_f0(f0)
        d = self.d
        b = -(d.A @ x + d.r)
        if self.p:
            b = np.concatenate([b, -(d.E_A @ x + d.E_r)])
        self.Df.h.changeColsCost(self.m + self.p, np.arange(self.m + self.p, dtype=np.int32), b)
        st = self.Df.run()
        if st == "optimal":
            sol = self.Df.primal()
            return sol[: self.m], sol[self.m:], self.Df.value()
        if st == "infeasible":
            self.stats["dinf"] += 1
            if self.learn and learn:
                self._learn_dual(f0)
            return None
        return "unknown"

    def _learn_dual(self, f0: np.ndarray):
        ray = self.Df.dual_ray()
        B = f0
        if ray is not None and ray.size == self.ny:
            q = self.Q @ ray
            if self.d.c @ ray < 0:
                ray, q = -ray, -q
            zero = f0
            tol = 1e-9 * max(1.0, float(np.abs(q).max()))
            ok = self.d.c @ ray > tol and np.all(q[: self.m][~zero] <= tol) and \
                np.all(np.abs(q[self.m:]) <= tol)
            if ok:
                B = zero & (q[: self.m] > tol)
                if B.sum() < f0.sum():
                    self._set_f0(B)
                    self.Df.h.changeColsCost(self.m + self.p, np.arange(self.m + self.p, dtype=np.int32),
                                             np.zeros(self.m + self.p))
                    if self.Df.run() != "infeasible":
                        B = f0
        if self.minimize:
            B = B.copy()
            self.Df.h.changeColsCost(self.m + self.p, np.arange(self.m + self.p, dtype=np.int32),
                                     np.zeros(self.m + self.p))
            for k in np.flatnonzero(B):
                B[k] = False
                self._set_f0(B)
                if self.Df.run() != "infeasible":
                    B[k] = True
        self._remember(self.dnog, np.flatnonzero(B))

    def _polish(self, f1, lam, bound):
        """A point of the node's optimal face with the least complementarity violation
        against ``lam`` (one LP), or None."""
        w = lam @ np.hstack([self.d.A, self.d.D])
        ok = self._set_f1(f1)
        if not ok:
            return None
        top = bound + 1e-9 * max(1.0, abs(bound)) - self.d.F_0
        self.P.row_bounds(np.array([self.cut_row]), np.array([-INF]), np.array([top]))
        n = self.nx + self.ny
        self.P.h.changeColsCost(n, np.arange(n, dtype=np.int32), w)
        st = self.P.run()
        z = self.P.primal() if st == "optimal" else None
        self.P.h.changeColsCost(n, np.arange(n, dtype=np.int32), self.cost)
        return z

    def heuristic(self, support: np.ndarray, f1: np.ndarray):
        """min F over HPR with ``support`` (a dual's support) and F1 active: bilevel feasible."""
        self.stats["heur"] += 1
        act = f1.copy()
        act[support] = True
        ok = self._set_f1(act)
        self._set_cut()
        if not ok or self.P.run() != "optimal":
            return None
        return self.P.value() + self.d.F_0, self.P.primal()

    # ----------------------------------------------------------------- search
    def _accept(self, value: float, z: np.ndarray, lam: np.ndarray, mu: np.ndarray):
        if value < self.UB:
            self.UB = value
            self.best = z.copy()
            self.best_lam = (lam.copy(), mu.copy())
            if self.local_search and not self._in_ls:
                self._improve()

    def _dive(self, f1, f0, lam, s):
        """A heuristic dive from a node: make the most violated pair's row active, re-solve,
        repeat, until the point is bilevel feasible or the LP infeasible. Nothing is
        branched: the dive only looks for incumbents."""
        d, nx = self.d, self.nx
        f1 = f1.copy()
        for _ in range(self.m):
            free = ~(f1 | f0)
            viol = np.where(free, lam * np.maximum(s, 0.0), -1.0)
            k = int(np.argmax(viol))
            if viol[k] <= 0:
                return
            f1[k] = True
            res = self.solve_primal(f1)
            if not isinstance(res, tuple):
                return
            bound, z = res
            x, y = z[:nx], z[nx:]
            dual = self.solve_dual(f0, x, learn=False)
            if not isinstance(dual, tuple):
                return
            lam, mu, val = dual
            if float(d.c @ y) - val <= 1e-9 * max(1.0, abs(val), abs(float(d.c @ y))):
                self.stats["dive_found"] = self.stats.get("dive_found", 0) + 1
                self._accept(bound, z, lam, mu)
                return
            s = d.A @ x + d.D @ y + d.r

    def _improve(self):
        """Local search around the incumbent over the follower's optimal supports: drop one
        row of the incumbent's certifying support, re-solve the leader's LP, and repair the
        point with the support of the follower's optimal dual there (every repaired point
        is bilevel feasible). Repeats while the incumbent improves."""
        self._in_ls = True
        m, nx = self.m, self.nx
        none = np.zeros(m, bool)
        try:
            improved = True
            rounds = 0
            while improved and rounds < self.local_search:
                improved = False
                rounds += 1
                lam = self.best_lam[0]
                T = np.flatnonzero(lam > 1e-9 * max(1.0, float(np.abs(lam).max())))
                for k in T[np.argsort(lam[T])]:
                    act = none.copy()
                    act[T] = True
                    act[k] = False
                    res = self.solve_primal(act, learn=False)
                    if not isinstance(res, tuple):
                        continue
                    self.stats["ls_lps"] = self.stats.get("ls_lps", 0) + 1
                    z = res[1]
                    dual = self.solve_dual(none, z[:nx], learn=False)
                    if not isinstance(dual, tuple):
                        continue
                    lam2, mu2, _ = dual
                    T2 = np.flatnonzero(lam2 > 1e-9 * max(1.0, float(np.abs(lam2).max())))
                    h = self.heuristic(T2, none)
                    if h is not None and h[0] < self.UB:
                        self.stats["ls_improved"] = self.stats.get("ls_improved", 0) + 1
                        self.UB = h[0]
                        self.best = h[1].copy()
                        self.best_lam = (lam2.copy(), mu2.copy())
                        improved = True
                        break
        finally:
            self._in_ls = False

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
            if self.time_limit is not None and time.perf_counter() - t0 > self.time_limit:
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
            support = np.flatnonzero(lam > 1e-9 * max(1.0, float(np.abs(lam).max())))
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
