"""Conflict learning for ``ComplementarityBB``: the nogood store, the seeded nogoods,
unit propagation, and the node LPs whose infeasibility proofs are learned.

A *primal nogood* is a set C of follower rows that cannot all be active in a point
better than the incumbent (from the primal LP's Farkas ray); a *dual nogood* is a set B
of multipliers that cannot all be zero (from the dual LP's ray). Both propagate like
clauses (see ``bilevel_mp.algorithms.complementarity_bb``).
"""

from __future__ import annotations

import math

import numpy as np

INF = math.inf


class NogoodDB:
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


class NogoodLearning:
    """The learning half of ``ComplementarityBB`` (a mixin: it uses the LPs, row maps and
    stores that ``ComplementarityBB.__init__`` sets up: ``P``, ``Df``, ``pnog``, ``dnog``,
    ``activity``, ``stats``, ...)."""

    # ----------------------------------------------------------------- seeds
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

    def _remember(self, store: NogoodDB, members: np.ndarray, level: float = INF):
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
            tol = 1e-9 * max(1.0, float(np.abs(q).max(initial=0.0)))
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
