"""Primal heuristics for ``ComplementarityBB``: the support LP, the polish LP, the dive
and the local search over the follower's optimal supports (see
``bilevel_mp.algorithms.complementarity_bb``). Every point they hand to ``_accept`` is
bilevel feasible."""

from __future__ import annotations

import math

import numpy as np

INF = math.inf


def positive_support(lam: np.ndarray) -> np.ndarray:
    """Indices of the multipliers that are positive relative to the largest (an empty
    array when the follower has no inequality rows)."""
    return np.flatnonzero(lam > 1e-9 * max(1.0, float(np.abs(lam).max(initial=0.0))))


class PrimalHeuristics:
    """The incumbent-finding half of ``ComplementarityBB`` (a mixin: it uses the LPs and
    the incumbent that ``ComplementarityBB`` holds, and its ``solve_primal``,
    ``solve_dual`` and ``_accept``)."""

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
                T = positive_support(lam)
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
                    T2 = positive_support(lam2)
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
