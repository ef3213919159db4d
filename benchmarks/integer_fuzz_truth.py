"""The independent truth of ``benchmarks/integer_fuzz.py``: an instance's data as numpy
arrays (objectives in minimisation form), the references (enumeration, enumeration +
``linprog``, a grid over a continuous leader) and the check of a returned point. No code
of the solver's methods is used."""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import linprog

FEAS = 1e-6  # violation allowed to a returned point
EXACT = 1e-9  # violation allowed to the follower's alternatives and to references
GRID = 20001


# ========================================================================= independent numpy / LP evaluation
class Data:
    """An instance's data as arrays, objectives in minimisation form."""

    def __init__(self, inst: dict):
        self.inst = inst
        self.n_x, self.n_y = inst["n_x"], inst["n_y"]
        self.xb, self.yb = np.array(inst["xb"], float), np.array(inst["yb"], float)
        self.x_int, self.y_int = np.array(inst["x_int"]), np.array(inst["y_int"])
        sF = -1.0 if inst["upper_sense"] == "max" else 1.0
        sf = -1.0 if inst["lower_sense"] == "max" else 1.0
        self.sF, self.sf = sF, sf
        self.Fx, self.Fy, self.F0 = (sF * np.array(inst["F"][0], float), sF * np.array(inst["F"][1], float),
                                     sF * float(inst["F"][2]))
        self.fx, self.fy, self.f0 = (sf * np.array(inst["f"][0], float), sf * np.array(inst["f"][1], float),
                                     sf * float(inst["f"][2]))

        def mats(rs):
            if not rs:
                return (np.zeros((0, self.n_x)), np.zeros((0, self.n_y)), np.zeros(0), np.zeros(0, bool))
            return (np.array([r[0] for r in rs], float).reshape(len(rs), self.n_x),
                    np.array([r[1] for r in rs], float).reshape(len(rs), self.n_y),
                    np.array([r[2] for r in rs], float), np.array([r[3] == "eq" for r in rs]))

        on_y = lambda r: any(a != 0 for a in r[1])  # noqa: E731
        self.x_rows = mats([r for r in inst["G"] + inst["g"] if not on_y(r)])
        self.g_rows = mats([r for r in inst["g"] if on_y(r)])
        self.G_rows = mats([r for r in inst["G"] if on_y(r)])
        self.all_G, self.all_g = mats(inst["G"]), mats(inst["g"])
        self.pure = bool(self.y_int.all())

    # ---- points
    @staticmethod
    def box_points(box, integer) -> np.ndarray:
        axes = [np.arange(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1, dtype=float) for lo, hi in box]
        if not axes:
            return np.zeros((1, 0))
        return np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, len(axes))

    def x_points(self) -> np.ndarray:
        return self.box_points(self.xb, True)

    def y_int_points(self) -> np.ndarray:
        return self.box_points(self.yb[self.y_int], True)

    @staticmethod
    def rows_hold(rows, X, Y, tol) -> np.ndarray:
        """(len(X), len(Y)) mask: every row holds at (x, y)."""
        Ax, Ay, b, eq = rows
        if len(b) == 0:
            return np.ones((len(X), len(Y)), bool)
        V = (X @ Ax.T - b)[:, None, :] + (Y @ Ay.T)[None, :, :]
        return np.where(eq, np.abs(V) <= tol, V <= tol).all(axis=2)

    def x_allowed(self, X, tol=EXACT) -> np.ndarray:
        return self.rows_hold(self.x_rows, X, np.zeros((1, self.n_y)), tol)[:, 0]

    # ---- pure-integer follower: enumeration
    def optimistic_pure(self, X, tol=EXACT):
        """For each x of X (already allowed): follower optimum phi, optimistic F (min form,
        inf if none) and the index of its y in ``Y``."""
        Y = self.box_points(self.yb, True)
        chunk = max(1, 2 ** 22 // max(1, len(Y) * max(1, len(self.g_rows[2]) + len(self.G_rows[2]))))
        phi, best, arg = (np.full(len(X), math.inf), np.full(len(X), math.inf), np.full(len(X), -1))
        fY, FY = Y @ self.fy, Y @ self.Fy
        for s in range(0, len(X), chunk):
            Xc = X[s:s + chunk]
            feas = self.rows_hold(self.g_rows, Xc, Y, tol)
            fv = np.where(feas, (Xc @ self.fx)[:, None] + fY[None, :] + self.f0, math.inf)
            ph = fv.min(axis=1)
            cand = feas & (fv <= ph[:, None] + 1e-9 * (1 + np.abs(ph[:, None]))) & \
                self.rows_hold(self.G_rows, Xc, Y, tol)
            Fv = np.where(cand, (Xc @ self.Fx)[:, None] + FY[None, :] + self.F0, math.inf)
            j = Fv.argmin(axis=1)
            phi[s:s + chunk], best[s:s + chunk] = ph, Fv[np.arange(len(Xc)), j]
            arg[s:s + chunk] = np.where(np.isfinite(best[s:s + chunk]), j, -1)
        return phi, best, arg, Y

    def truth_pure(self):
        X = self.x_points()
        X = X[self.x_allowed(X)]
        if len(X) == 0:
            return None
        phi, best, arg, Y = self.optimistic_pure(X)
        i = int(best.argmin())
        if not np.isfinite(best[i]):
            return None
        return float(self.sF * best[i]), X[i], Y[arg[i]]

    # ---- mixed follower: enumeration of y_I, linprog on y_C
    def _lp_parts(self, x, yI):
        """Follower rows at (x, y_I) as linprog data in y_C."""
        Ax, Ay, b, eq = self.g_rows
        I, C = self.y_int, ~self.y_int
        rhs = b - Ax @ x - Ay[:, I] @ yI
        A = Ay[:, C]
        return A[~eq], rhs[~eq], A[eq], rhs[eq]

    def follower_value_mixed(self, x, yI):
        """min f over y_C at (x, y_I), or None if infeasible."""
        A_ub, b_ub, A_eq, b_eq = self._lp_parts(x, yI)
        C = ~self.y_int
        lp = linprog(self.fy[C], A_ub=A_ub if len(b_ub) else None, b_ub=b_ub if len(b_ub) else None,
                     A_eq=A_eq if len(b_eq) else None, b_eq=b_eq if len(b_eq) else None,
                     bounds=[tuple(b) for b in self.yb[C]], method="highs")
        if lp.status != 0:
            return None
        return float(self.fx @ x + self.fy[self.y_int] @ yI + lp.fun + self.f0)

    def phi_mixed(self, x):
        vals = []
        for yI in self.y_int_points():
            v = self.follower_value_mixed(x, yI)
            if v is not None:
                vals.append((v, yI))
        if not vals:
            return None, []
        return min(v for v, _ in vals), vals

    def optimistic_mixed(self, x):
        """(phi, best F in min form or None, y) at an integer x."""
        phi, vals = self.phi_mixed(x)
        if phi is None:
            return None, None, None
        C = ~self.y_int
        best = None
        for v, yI in vals:
            if v > phi + 1e-9 * (1 + abs(phi)):
                continue
            A_ub, b_ub, A_eq, b_eq = self._lp_parts(x, yI)
            value_row = self.fy[C][None, :]
            value_rhs = phi - self.fx @ x - self.fy[self.y_int] @ yI - self.f0 + 1e-9 * (1 + abs(phi))
            GAx, GAy, Gb, Geq = self.G_rows
            Grhs = Gb - GAx @ x - GAy[:, self.y_int] @ yI
            GA = GAy[:, C]
            A_ub = np.vstack([A_ub, value_row, GA[~Geq]])
            b_ub = np.concatenate([b_ub, [value_rhs], Grhs[~Geq]])
            A_eq2 = np.vstack([A_eq, GA[Geq]])
            b_eq2 = np.concatenate([b_eq, Grhs[Geq]])
            lp = linprog(self.Fy[C], A_ub=A_ub, b_ub=b_ub, A_eq=A_eq2 if len(b_eq2) else None,
                         b_eq=b_eq2 if len(b_eq2) else None, bounds=[tuple(b) for b in self.yb[C]],
                         method="highs")
            if lp.status == 0:
                F = float(self.Fx @ x + self.Fy[self.y_int] @ yI + lp.fun + self.F0)
                if best is None or F < best[0]:
                    y = np.zeros(self.n_y)
                    y[self.y_int], y[C] = yI, lp.x
                    best = (F, y)
        if best is None:
            return phi, None, None
        return phi, best[0], best[1]

    def truth_mixed(self):
        out = None
        for x in self.x_points():
            if not self.x_allowed(x[None, :])[0]:
                continue
            _, F, y = self.optimistic_mixed(x)
            if F is not None and (out is None or F < out[0]):
                out = (F, x, y)
        return None if out is None else (float(self.sF * out[0]), out[1], out[2])

    # ---- helpers of the infeasible family
    def follower_optima(self):
        """(x, y with continuous entries zeroed) of every follower optimum at every allowed x."""
        out = []
        X = self.x_points()
        X = X[self.x_allowed(X)]
        if self.pure:
            Y = self.box_points(self.yb, True)
            for x in X:
                feas = self.rows_hold(self.g_rows, x[None, :], Y, EXACT)[0]
                if not feas.any():
                    continue
                fv = Y @ self.fy
                ph = fv[feas].min()
                for y in Y[feas & (fv <= ph + 1e-9 * (1 + abs(ph)))]:
                    out.append((x, y))
        else:
            for x in X:
                phi, vals = self.phi_mixed(x)
                for v, yI in vals:
                    if v <= phi + 1e-9 * (1 + abs(phi)):
                        y = np.zeros(self.n_y)
                        y[self.y_int] = yI
                        out.append((x, y))
        return out

    def hpr_feasible_with(self, row) -> bool:
        """Some allowed x and follower-feasible y meet G (the extra row included): integer y
        enumerated, continuous y_C by an LP feasibility problem."""
        X = self.x_points()
        X = X[self.x_allowed(X)]
        extra = (np.array([row[0]], float), np.array([row[1]], float), np.array([row[2]], float),
                 np.array([False]))
        rows = tuple(np.concatenate([a, b]) for a, b in zip(self.G_rows, extra))
        if self.pure:
            Y = self.box_points(self.yb, True)
            return bool((self.rows_hold(self.g_rows, X, Y, EXACT) & self.rows_hold(rows, X, Y, EXACT)).any())
        C = ~self.y_int
        for x in X:
            for yI in self.y_int_points():
                Ax = np.concatenate([self.g_rows[0], rows[0]])
                Ay = np.concatenate([self.g_rows[1], rows[1]])
                b = np.concatenate([self.g_rows[2], rows[2]])
                eq = np.concatenate([self.g_rows[3], rows[3]])
                rhs = b - Ax @ x - Ay[:, self.y_int] @ yI
                A = Ay[:, C]
                lp = linprog(np.zeros(C.sum()), A_ub=A[~eq] if (~eq).any() else None,
                             b_ub=rhs[~eq] if (~eq).any() else None, A_eq=A[eq] if eq.any() else None,
                             b_eq=rhs[eq] if eq.any() else None, bounds=[tuple(bb) for bb in self.yb[C]],
                             method="highs")
                if lp.status == 0:
                    return True
        return False

    # ---- continuous leader: grid
    def grid(self) -> np.ndarray:
        lo, hi = self.xb[0]
        pts = [np.linspace(lo, hi, GRID)]
        Y = self.box_points(self.yb, True)
        for Ax, Ay, b, _ in (self.all_g, self.all_G):
            for k in range(len(b)):
                if Ax[k, 0] != 0:
                    bp = (b[k] - Y @ Ay[k]) / Ax[k, 0]
                    pts.append(bp[(bp >= lo) & (bp <= hi)])
        return np.unique(np.concatenate(pts))

    def truth_grid(self):
        """(F_grid in the user's sense or None, x, y, number of grid points)."""
        X = self.grid()[:, None]
        n = len(X)
        X = X[self.x_allowed(X)]
        if len(X) == 0:
            return None, None, None, n
        phi, best, arg, Y = self.optimistic_pure(X)
        i = int(best.argmin())
        if not np.isfinite(best[i]):
            return None, None, None, n
        return float(self.sF * best[i]), X[i], Y[arg[i]], n

    # ---- the independent check of a returned point
    def check(self, x, y) -> dict:
        """Is (x, y) bilevel feasible (module docstring)? With the follower's gap and F(x, y)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        out = {"ok": True, "reasons": []}

        def bad(msg):
            out["ok"] = False
            out["reasons"].append(msg)

        if len(x) != self.n_x or len(y) != self.n_y:
            bad(f"wrong lengths x {len(x)} y {len(y)}")
            return out
        for v, box, integer, what in ((x, self.xb, self.x_int, "x"), (y, self.yb, self.y_int, "y")):
            viol = np.maximum(box[:, 0] - v, v - box[:, 1]).max(initial=0.0)
            if viol > FEAS:
                bad(f"{what} outside its box by {viol:.2e}")
            frac = np.abs(v[integer] - np.round(v[integer])).max(initial=0.0)
            if frac > FEAS:
                bad(f"{what} not integral (by {frac:.2e})")
        xr = np.where(self.x_int, np.round(x), x)
        yr = np.where(self.y_int, np.round(y), y)
        out["F"] = float(self.sF * (self.Fx @ xr + self.Fy @ yr + self.F0))

        def viol(rows):
            Ax, Ay, b, eq = rows
            if len(b) == 0:
                return 0.0
            v = Ax @ xr + Ay @ yr - b
            return float(np.where(eq, np.abs(v), np.maximum(v, 0.0)).max())

        out["G_violation"], out["g_violation"] = viol(self.all_G), viol(self.all_g)
        if out["G_violation"] > FEAS * (1 + np.abs(self.all_G[2]).max(initial=0.0)):
            bad(f"G violated by {out['G_violation']:.2e}")
        if out["g_violation"] > FEAS * (1 + np.abs(self.all_g[2]).max(initial=0.0)):
            bad(f"g violated by {out['g_violation']:.2e}")
        f_here = float(self.fx @ xr + self.fy @ yr + self.f0)
        if self.pure:
            Y = self.box_points(self.yb, True)
            feas = self.rows_hold(self.g_rows, xr[None, :], Y, EXACT)[0]
            phi = float((self.fx @ xr + Y @ self.fy + self.f0)[feas].min()) if feas.any() else None
            y_best = Y[feas][int(np.argmin((Y @ self.fy)[feas]))] if feas.any() else None
        else:
            phi, vals = self.phi_mixed(xr)
            y_best = None if phi is None else min(vals, key=lambda t: t[0])[1]
        if phi is None:
            # no follower point feasible to 1e-9 at x: the returned y is feasible to 1e-6 only
            # (x on a breakpoint up to the tolerance); accepted, and noted
            out["ll_gap"] = None
            out["tolerance_only"] = True
        else:
            out["ll_gap"] = f_here - phi
            if f_here - phi > FEAS * (1 + abs(phi)):
                bad(f"y not follower-optimal: f = {self.sf * f_here:.10g}, the follower's optimum "
                    f"{self.sf * phi:.10g} (e.g. y_I = {np.asarray(y_best).tolist()})")
        return out


