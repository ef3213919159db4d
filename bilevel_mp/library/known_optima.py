"""Bilevel problems whose optimistic optimum is known by an independent computation.

For fuzz and differential testing (``benchmarks/fuzz_campaign.py``). ``generate(family,
seed)`` returns ``(BilevelProblem, Reference)``, seeded by ``default_rng([seed, family
number])``; the reference comes from the data by numpy/scipy only (HiGHS LPs through
``linprog``), never by this package's methods. Objectives in minimisation form (the
problem presents them as ``max`` at times):

    F = c_x·x + c_y·y + ½ Σ h_i x_i² + c_yy y_0²,   G: A_G x + B_G y <= b_G,  x in box
    f = ½ yᵀQy + (d + E x)·y + Σ_k p_k y_0^k,       g: A x + B y <= b,        y in box

``FAMILIES`` and their references: ``lplp`` (continuous LP-LP): dual-vertex enumeration;
``lp_param`` (LP follower with costs d + Ex) and ``qp`` (PSD, possibly singular Q):
enumeration of the follower's multiplier supports, one LP each; ``milp_lp``, ``miqp``
(integer x, LP / strictly convex QP follower): enumeration of x; ``nonconvex`` (integer x,
one y, polynomial follower): x enumerated, the follower's global minima from the real
roots of f' (Newton-polished) checked against a 2001-point grid; ``infeasible``: four
constructions without a bilevel-feasible point.

Tolerance: y is follower-optimal when f(x, y) <= φ(x) + TIE·(1 + |φ(x)|), TIE = 1e-9;
multipliers are nonzero above 1e-9. Every box is bounded, so the optimum exists.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import linprog

from ..problem import BilevelProblem

TIE = SUPPORT_TOL = 1e-9  # follower-optimality tolerance (relative, 1 + |φ|); multipliers


@dataclass
class Reference:
    """The independently computed optimistic optimum: ``status`` "optimal" (then ``F`` in
    the user's sense and an optimal ``x``, ``y``) or "infeasible" (``F`` is None)."""

    status: str
    F: float | None = None
    x: list | None = None
    y: list | None = None
    how: str = ""


@dataclass
class Data:
    """The arrays of one instance (module docstring); objectives in minimisation form."""

    name: str
    x_lo: np.ndarray
    x_hi: np.ndarray
    y_lo: np.ndarray
    y_hi: np.ndarray
    c_x: np.ndarray
    c_y: np.ndarray
    A_G: np.ndarray
    B_G: np.ndarray
    b_G: np.ndarray
    d: np.ndarray
    A: np.ndarray
    B: np.ndarray
    b: np.ndarray
    E: np.ndarray | None = None
    Q: np.ndarray | None = None
    h: np.ndarray | None = None
    c_yy: float = 0.0
    poly: dict = field(default_factory=dict)  # {k: p_k}, k >= 2, y_0 only (n_y == 1)
    x_integer: bool = False
    upper_sense: str = "min"
    lower_sense: str = "min"

    n_x = property(lambda self: len(self.x_lo))
    n_y = property(lambda self: len(self.y_lo))
    sign = property(lambda self: 1.0 if self.upper_sense == "min" else -1.0)

    def cost(self, x) -> np.ndarray:  # the follower's linear cost d + E x
        return self.d + (self.E @ x if self.E is not None else 0.0)

    def F(self, x, y) -> float:
        v = self.c_x @ x + self.c_y @ y + self.c_yy * y[0] ** 2
        return float(v + (0.5 * self.h @ (x * x) if self.h is not None else 0.0))

    def f(self, x, y) -> float:
        v = self.cost(x) @ y + sum(p * y[0] ** k for k, p in self.poly.items())
        return float(v + (0.5 * y @ self.Q @ y if self.Q is not None else 0.0))


def _lin(coefs, var):
    return sum(float(a) * var[i] for i, a in enumerate(coefs) if a != 0)


def to_problem(data: Data) -> BilevelProblem:
    """The ``BilevelProblem`` of ``data``, built through the public API."""
    box = lambda lo, hi: [(float(a), float(b)) for a, b in zip(lo, hi)]  # noqa: E731
    p = BilevelProblem(data.n_x, data.n_y, name=data.name, x_bounds=box(data.x_lo, data.x_hi),
                       y_bounds=box(data.y_lo, data.y_hi), x_integer=[data.x_integer] * data.n_x)
    x, y = p.x, p.y
    F = _lin(data.c_x, x) + _lin(data.c_y, y) + (float(data.c_yy) * y[0] ** 2 if data.c_yy else 0)
    F = F + sum(0.5 * float(hi) * x[i] ** 2 for i, hi in enumerate(data.h if data.h is not None else []) if hi)
    pairs = lambda M, u, v: sum(float(M[j, i]) * u[i] * v[j] for j in range(M.shape[0])  # noqa: E731
                                for i in range(M.shape[1]) if M[j, i] != 0) if M is not None else 0
    f = _lin(data.d, y) + pairs(data.E, x, y) + pairs(None if data.Q is None else data.Q / 2, y, y)
    f = f + sum(float(pk) * y[0] ** k for k, pk in data.poly.items() if pk != 0)
    G = [_lin(data.A_G[i], x) + _lin(data.B_G[i], y) <= float(data.b_G[i]) for i in range(len(data.b_G))]
    g = [_lin(data.A[i], x) + _lin(data.B[i], y) <= float(data.b[i]) for i in range(len(data.b))]
    p.set_upper(data.sign * F, G, sense=data.upper_sense)
    p.set_lower((1.0 if data.lower_sense == "min" else -1.0) * f, g, sense=data.lower_sense)
    p.source = f"bilevel_mp.library.known_optima ({data.name})"
    return p


def _lp(c, A_ub, b_ub, A_eq=None, b_eq=None, bounds=None):
    """``linprog`` (HiGHS); (value, z) or None when infeasible."""
    res = linprog(c, A_ub=A_ub if len(b_ub) else None, b_ub=b_ub if len(b_ub) else None,
                  A_eq=A_eq if A_eq is not None and len(b_eq) else None,
                  b_eq=b_eq if A_eq is not None and len(b_eq) else None, bounds=bounds, method="highs")
    if res.status not in (0, 2):
        raise RuntimeError(f"reference LP failed: {res.message}")
    return (float(res.fun), res.x) if res.status == 0 else None


def _rows(data: Data):
    """Follower rows with the y box: M y <= r0 - R x (R: x coefficients)."""
    return (np.vstack([data.B, eye := np.eye(data.n_y), -eye]), np.vstack([data.A, np.zeros((2 * data.n_y, data.n_x))]),
            np.concatenate([data.b, data.y_hi, -data.y_lo]))


def _answer(data: Data, best, how: str) -> Reference:
    if best is None:
        return Reference("infeasible", how=how)
    _, x, y = best
    return Reference("optimal", data.sign * data.F(x, y), [float(v) for v in x], [float(v) for v in y], how)


def _keep(best, val, x, y):  # the better of two (value, x, y)
    return (val, x, y) if best is None or val < best[0] else best


def dual_vertex_reference(data: Data) -> Reference:
    """LP-LP (continuous x, Q = E = 0, no poly, F linear): each vertex u of the follower's
    dual polyhedron {u >= 0 : Mᵀu = -d} (from every basis of n_y independent rows) gives,
    with support T = {u_i > 0}, the leader LP over G, g, and rows T active; F* is the least
    value of those LPs (y is follower-optimal at x iff some dual vertex's support is active)."""
    (M, R, r0), nx, ny, supports, best = _rows(data), data.n_x, data.n_y, set(), None
    for S in map(list, itertools.combinations(range(len(M)), ny)):
        if abs(np.linalg.det(M[S])) >= 1e-9 and np.all((u := np.linalg.solve(M[S].T, -data.d)) >= -SUPPORT_TOL):
            supports.add(tuple(i for i, ui in zip(S, u) if ui > SUPPORT_TOL))
    A_ub, b_ub = np.vstack([np.hstack([data.A_G, data.B_G]), np.hstack([R, M])]), np.concatenate([data.b_G, r0])
    for T in map(list, supports):
        out = _lp(np.concatenate([data.c_x, data.c_y]), A_ub, b_ub, np.hstack([R[T], M[T]]).reshape(
            len(T), nx + ny), r0[T], list(zip(data.x_lo, data.x_hi)) + list(zip(data.y_lo, data.y_hi)))
        if out is not None:
            best = _keep(best, out[0], out[1][:nx], out[1][nx:])
    return _answer(data, best, f"dual-vertex enumeration ({len(supports)} supports)")


def kkt_support_reference(data: Data) -> Reference:
    """Continuous x, LP or convex-QP follower (Q PSD, E any, F linear): for every set S of
    at most n_y follower rows (y bounds included), the LP over (x, y, u_S) of G, g, rows S
    active, u_S >= 0 and stationarity Qy + d + Ex + M_Sᵀu_S = 0. The union of these
    polyhedra is the follower's KKT set (a multiplier vertex has at most n_y nonzeros), so
    the least LP value is F*."""
    (M, R, r0), nx, ny, mf = _rows(data), data.n_x, data.n_y, len(data.b)
    Q = data.Q if data.Q is not None else np.zeros((ny, ny))
    E = data.E if data.E is not None else np.zeros((ny, nx))
    best, count = None, 0
    for S in (list(S) for k in range(ny + 1) for S in itertools.combinations(range(len(M)), k)):
        if any(mf + j in S and mf + ny + j in S and data.y_lo[j] < data.y_hi[j] for j in range(ny)):
            continue  # both bounds of y_j active
        k, count = len(S), count + 1
        A_ub = np.vstack([np.hstack([data.A_G, data.B_G, np.zeros((len(data.b_G), k))]),
                          np.hstack([R, M, np.zeros((len(M), k))])])
        A_eq = np.vstack([np.hstack([E, Q, M[S].T.reshape(ny, k)]),
                          np.hstack([R[S], M[S], np.zeros((k, k))]).reshape(k, nx + ny + k)])
        bounds = list(zip(data.x_lo, data.x_hi)) + list(zip(data.y_lo, data.y_hi)) + [(0, None)] * k
        out = _lp(np.concatenate([data.c_x, data.c_y, np.zeros(k)]), A_ub, np.concatenate([data.b_G, r0]),
                  A_eq, np.concatenate([-data.d, r0[S]]), bounds)
        if out is not None:
            best = _keep(best, out[0], out[1][:nx], out[1][nx:nx + ny])
    return _answer(data, best, f"KKT-support enumeration ({count} LPs)")


def _qp_follower(data: Data, x):
    """Convex QP follower at x: (φ, y) or None. Positive definite Q: active-set
    enumeration (numpy); singular Q: a KKT point from ``kkt_support_reference`` at x."""
    if np.linalg.eigvalsh(data.Q).min() <= 1e-9:
        ref = kkt_support_reference(replace(data, x_lo=x, x_hi=x, c_x=0 * x, c_y=0 * data.c_y, A_G=data.A_G[:0],
                                            B_G=data.B_G[:0], b_G=data.b_G[:0], h=None, c_yy=0.0))
        return None if ref.y is None else (data.f(x, np.array(ref.y)), np.array(ref.y))
    (M, R, r0), ny = _rows(data), data.n_y
    r = r0 - R @ x
    for S in (list(S) for k in range(ny + 1) for S in itertools.combinations(range(len(M)), k)):
        K = np.block([[data.Q, M[S].T.reshape(ny, len(S))], [M[S], np.zeros((len(S), len(S)))]])
        if np.linalg.matrix_rank(K) == ny + len(S):
            z = np.linalg.solve(K, np.concatenate([-data.cost(x), r[S]]))
            if np.all(z[ny:] >= -1e-10) and np.all(M @ z[:ny] <= r + 1e-9 * (1 + np.abs(r))):
                return data.f(x, z[:ny]), z[:ny]
    return None


def _poly_follower(data: Data, x):
    """One-variable polynomial follower at x: every global minimiser (real roots of f'
    polished by Newton, plus the interval ends), checked against a 2001-point grid.
    (φ, [y minimisers]) or None when the follower is infeasible."""
    s, col = data.b - data.A @ x, data.B[:, 0]
    hi = min([float(data.y_hi[0])] + list(s[col > 0] / col[col > 0]))
    lo = max([float(data.y_lo[0])] + list(s[col < 0] / col[col < 0]))
    if lo > hi + 1e-12:
        return None
    q = data.poly.get(2, 0.0) + (0.5 * data.Q[0, 0] if data.Q is not None else 0.0)
    P = np.polynomial.Polynomial([0.0, data.cost(x)[0], q, data.poly.get(3, 0.0), data.poly.get(4, 0.0)])
    dP, d2P, cands = P.deriv(), P.deriv(2), [lo, hi]
    for z in dP.roots() if dP.degree() > 0 else []:
        t = z.real
        for _ in range(5 if abs(z.imag) <= 1e-7 * (1 + abs(z)) else 0):
            t -= dP(t) / d2P(t) if d2P(t) != 0 else 0.0
        if abs(z.imag) <= 1e-7 * (1 + abs(z)) and lo <= t <= hi:
            cands.append(t)
    fv = lambda t: data.f(x, np.array([t]))  # noqa: E731
    phi = min(fv(t) for t in cands)
    if P(np.linspace(lo, hi, 2001)).min() < phi - 1e-9 * (1 + abs(phi)):
        raise RuntimeError(f"{data.name}: stationary points missed a grid minimum at x={x}")
    return phi, [t for t in cands if fv(t) <= phi + TIE * (1 + abs(phi))]


def follower_optimum(data: Data, x):
    """φ(x) and one optimal y (a list of all minimisers for the polynomial family), or None
    when the follower is infeasible at x. LP: linprog; QP: active sets; polynomial: roots."""
    x = np.asarray(x, float)
    if data.poly:
        return _poly_follower(data, x)
    if data.Q is not None and np.any(data.Q):
        return _qp_follower(data, x)
    return _lp(data.cost(x), data.B, data.b - data.A @ x, bounds=list(zip(data.y_lo, data.y_hi)))


def _best_at(data: Data, x):
    """(F, x, y) of the optimistic follower response at x that meets G, or None: the best
    of ŷ (the follower's own optimum) and the leader's LP over the follower's optimal set,
    for an LP the face f <= φ + TIE·(1 + |φ|), for a convex QP ŷ + N z with Q N = 0 and
    (d + Ex)·N z = 0 (Mangasarian; no thin slab that an LP solver could call empty)."""
    if (opt := follower_optimum(data, x)) is None:
        return None
    phi, yy = opt
    cands = [np.array([t]) for t in yy] if data.poly else [yy]
    A_ub, b_ub = np.vstack([data.B_G, data.B]), np.concatenate([data.b_G - data.A_G @ x, data.b - data.A @ x])
    if data.Q is not None and np.any(data.Q) and not data.poly:
        w, V = np.linalg.eigh(data.Q)
        if (N := V[:, w <= 1e-9 * max(1.0, w.max())]).shape[1]:
            out = _lp(data.c_y @ N, np.vstack([A_ub @ N, N, -N]), np.concatenate(
                [b_ub - A_ub @ yy, data.y_hi - yy, yy - data.y_lo]) + 1e-9, (data.cost(x) @ N)[None, :],
                np.zeros(1), [(None, None)] * N.shape[1])
            cands += [] if out is None else [yy + N @ out[1]]
    elif not data.poly:
        out = _lp(data.c_y, np.vstack([A_ub, data.cost(x)[None, :]]), np.append(b_ub, phi + TIE * (1 + abs(phi))),
                  bounds=list(zip(data.y_lo, data.y_hi)))
        cands += [] if out is None else [out[1]]
    ok = [(data.F(x, y), x, y) for y in cands if np.all(data.A_G @ x + data.B_G @ y <= data.b_G + 1e-7)]
    return min(ok, key=lambda t: t[0]) if ok else None


def enumeration_reference(data: Data, xs=None) -> Reference:
    """Min over x in ``xs`` (default: every integer point of the x box) of the optimistic
    response's F (x with an infeasible follower, or no optimal y meeting G, are skipped).
    On a grid of a continuous box it is the brute-force upper estimate of F*."""
    if xs is None:
        xs = itertools.product(*[range(int(lo), int(hi) + 1) for lo, hi in zip(data.x_lo, data.x_hi)])
    best, count = None, 0
    for count, x in enumerate(xs, 1):
        if (out := _best_at(data, np.asarray(x, float))) is not None:
            best = _keep(best, *out)
    return _answer(data, best, f"enumeration of {count} leader points")


def reference(data: Data) -> Reference:
    """The reference of ``data`` by the method that fits its class."""
    if data.x_integer:
        return enumeration_reference(data)
    if data.E is None and (data.Q is None or not np.any(data.Q)) and not data.poly:
        return dual_vertex_reference(data)
    return kkt_support_reference(data)


def check_point(data: Data, x, y) -> dict:
    """Independent check of a point (e.g. a solver's answer): F (user's sense), follower
    gap f(x, y) - φ(x) (None if the follower is infeasible at x; min over the polynomial
    family's minimisers), and the worst violations of G, g and the boxes."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    opt = follower_optimum(data, x)
    viol = lambda v: float(max(0.0, np.max(v, initial=0.0)))  # noqa: E731
    box = max(viol(data.x_lo - x), viol(x - data.x_hi), viol(data.y_lo - y), viol(y - data.y_hi))
    return {"F": data.sign * data.F(x, y),
            "ll_gap": None if opt is None else data.f(x, y) - opt[0],
            "G_violation": viol(data.A_G @ x + data.B_G @ y - data.b_G),
            "g_violation": viol(data.A @ x + data.B @ y - data.b), "box_violation": box,
            "integer_violation": float(np.max(np.abs(x - np.round(x)))) if data.x_integer else 0.0}


def _ints(rng, lo, hi, shape, nonzero=False):
    a = rng.integers(lo, hi + 1, size=shape).astype(float)
    while nonzero and a.ndim == 2 and np.any(~a.any(axis=1)):
        bad = ~a.any(axis=1)
        a[bad] = rng.integers(lo, hi + 1, size=(int(bad.sum()), a.shape[1]))
    return a


def _linear_data(rng, name, nx, ny, x_integer=False, x_width=(4, 10)) -> Data:
    """Random integer data around an anchor point, so that g (and the HPR) is feasible."""
    x_lo, y_lo = _ints(rng, -5, 0, nx), _ints(rng, -5, 0, ny)
    x_hi, y_hi = x_lo + _ints(rng, *x_width, nx), y_lo + _ints(rng, 2, 10, ny)
    x0 = np.round(rng.uniform(x_lo, x_hi)) if x_integer else np.round(2 * rng.uniform(x_lo, x_hi)) / 2
    y0 = np.round(2 * rng.uniform(y_lo, y_hi)) / 2
    m, mG = int(rng.integers(2, 7)), int(rng.integers(0, 3))
    A, B = _ints(rng, -4, 4, (m, nx)), _ints(rng, -4, 4, (m, ny), nonzero=True)
    A_G, B_G = _ints(rng, -3, 3, (mG, nx), nonzero=True), _ints(rng, -3, 3, (mG, ny))
    return Data(name, x_lo, x_hi, y_lo, y_hi, _ints(rng, -5, 5, nx), _ints(rng, -5, 5, ny),
                A_G, B_G, A_G @ x0 + B_G @ y0 + _ints(rng, 0, 4, mG), _ints(rng, -5, 5, ny),
                A, B, A @ x0 + B @ y0 + _ints(rng, 0, 4, m), x_integer=x_integer,
                upper_sense="max" if rng.random() < 0.25 else "min",
                lower_sense="max" if rng.random() < 0.25 else "min")


def _sizes(rng, nx_max=3, ny_max=3):
    return int(rng.integers(1, nx_max + 1)), int(rng.integers(1, ny_max + 1))


def _psd(rng, n, rank, shift=0.0):
    return (L := _ints(rng, -2, 2, (n, rank))) @ L.T + shift * np.eye(n)


def _finish(data: Data) -> Data:
    if not np.any(data.c_x) and not np.any(data.c_y) and data.h is None:
        data.c_y[0] = 1.0  # F must involve a variable
    if not (np.any(data.d) or data.poly or (data.Q is not None and np.any(data.Q))
            or (data.E is not None and np.any(data.E))):
        data.d[0] = 1.0  # so must f
    return data


def lplp(seed: int) -> Data:
    """Continuous LP-LP: n_x, n_y in 1..3, 2..6 follower rows, 0..2 leader rows, boxes."""
    rng = np.random.default_rng([seed, 0])
    return _linear_data(rng, f"lplp_s{seed}", *_sizes(rng))


def lp_param(seed: int) -> Data:
    """Continuous x, LP follower whose costs depend on x (f = (d + E x)·y)."""
    rng = np.random.default_rng([seed, 1])
    nx, ny = _sizes(rng, 2, 2)
    return replace(_linear_data(rng, f"lp_param_s{seed}", nx, ny), E=_ints(rng, -2, 2, (ny, nx)))


def qp(seed: int) -> Data:
    """Continuous x, convex QP follower (Q PSD of random rank, so ties occur)."""
    rng = np.random.default_rng([seed, 2])
    nx, ny = _sizes(rng, 2, 3)
    data = _linear_data(rng, f"qp_s{seed}", nx, ny)
    data.Q = _psd(rng, ny, int(rng.integers(1, ny + 1)))
    data.E = _ints(rng, -2, 2, (ny, nx)) if rng.random() < 0.5 else None
    return data


def milp_lp(seed: int) -> Data:
    """Integer x (at most 200 points), LP follower, x-dependent costs half the time."""
    rng = np.random.default_rng([seed, 3])
    nx, ny = _sizes(rng, 3, 3)
    data = _linear_data(rng, f"milp_lp_s{seed}", nx, ny, True, {1: (4, 12), 2: (3, 9), 3: (2, 4)}[nx])
    data.E = _ints(rng, -2, 2, (ny, nx)) if rng.random() < 0.5 else None
    return data


def miqp(seed: int) -> Data:
    """Integer x, strictly convex QP follower, leader quadratic in x half the time."""
    rng = np.random.default_rng([seed, 4])
    nx, ny = _sizes(rng, 2, 3)
    data = _linear_data(rng, f"miqp_s{seed}", nx, ny, True, {1: (4, 12), 2: (3, 9)}[nx])
    data.Q = _psd(rng, ny, ny, shift=1.0)
    data.E = _ints(rng, -2, 2, (ny, nx)) if rng.random() < 0.5 else None
    data.h = _ints(rng, 0, 2, nx) if rng.random() < 0.5 else None
    return data


def nonconvex(seed: int) -> Data:
    """Integer x (n_x 1..2, at most 16 points), one y in [-2, 2], f a double well, a cubic
    or a concave quadratic in y with an x-dependent tilt (exact ties where the tilt is 0)."""
    rng = np.random.default_rng([seed, 5])
    nx = int(rng.integers(1, 3))
    data = _linear_data(rng, f"nonconvex_s{seed}", nx, 1, True, (2, 7) if nx == 1 else (1, 3))
    data.y_lo, data.y_hi = np.array([-2.0]), np.array([2.0])
    data.A, data.B, data.b = data.A[:1], data.B[:1], data.b[:1] + 8.0  # one loose-ish row
    data.d, data.E = _ints(rng, -2, 2, 1), _ints(rng, -1, 1, (1, nx))
    data.poly = [{4: 1.0, 2: -2.0}, {3: 1.0, 2: float(rng.integers(-1, 2))}, {2: -1.0}][int(rng.integers(0, 3))]
    data.c_yy = float(rng.integers(-1, 2)) if rng.random() < 0.5 else 0.0
    return data


def infeasible(seed: int) -> Data:
    """No bilevel-feasible point; variant ``seed % 4``: (0) G asks for x where the follower
    is infeasible; (1) the follower's unique response y = y_lo violates G though the HPR is
    feasible; (2) G admits no integer x; (3) the tilted double-well follower always answers
    y < 0, G wants y >= 0.5."""
    v, nx, ny = seed % 4, *_sizes(rng := np.random.default_rng([seed, 6]), 2, 2)
    data = _linear_data(rng, f"infeasible{v}_s{seed}", nx, ny, v in (2, 3))
    data.A_G, data.B_G = np.zeros((1, nx)), np.zeros((1, ny))
    if v == 0:  # follower row x_0 + y_0 <= x_lo_0 + y_lo_0 + 1; G: x_0 >= x_lo_0 + 2
        data.A, data.B, data.b = (np.vstack([data.A, np.eye(1, nx)]), np.vstack([data.B, np.eye(1, ny)]),
                                  np.append(data.b, data.x_lo[0] + data.y_lo[0] + 1))
        data.A_G[0, 0], data.b_G = -1.0, np.array([-(data.x_lo[0] + 2)])
    elif v == 1:  # f = w·y, w > 0, B >= 0, rows slack at y_lo for every x; G: y_0 >= y_lo_0 + 1
        data.d, data.B = _ints(rng, 1, 4, ny), np.abs(data.B)
        worst = np.maximum(data.A * data.x_lo, data.A * data.x_hi).sum(axis=1)
        data.b = worst + data.B @ data.y_lo + _ints(rng, 0, 3, len(data.b))
        data.B_G[0, 0], data.b_G = -1.0, np.array([-(data.y_lo[0] + 1)])
    elif v == 2:  # G: x_0 in [x_lo_0 + 0.1, x_lo_0 + 0.9]
        data.A_G, data.B_G = np.vstack([np.eye(1, nx) * 10, -np.eye(1, nx) * 10]), np.zeros((2, ny))
        data.b_G = np.array([10 * data.x_lo[0] + 9, -(10 * data.x_lo[0] + 1)])
    else:  # f = y^4 - 2 y^2 + y on [-2, 2]: global minimiser near -1.1 for every x
        data = replace(data, c_y=data.c_y[:1], y_lo=np.array([-2.0]), y_hi=np.array([2.0]),
                       B_G=np.array([[-1.0]]), b_G=np.array([-0.5]), A=np.zeros((0, nx)),
                       B=np.zeros((0, 1)), b=np.zeros(0), d=np.array([1.0]), poly={4: 1.0, 2: -2.0})
    return data


FAMILIES = {"lplp": lplp, "lp_param": lp_param, "qp": qp, "milp_lp": milp_lp, "miqp": miqp,
            "nonconvex": nonconvex, "infeasible": infeasible}


def instance(family: str, seed: int) -> Data:
    """The ``Data`` of ``family`` (a key of ``FAMILIES``) and ``seed`` (cheap: no reference)."""
    if family in FAMILIES:
        return _finish(FAMILIES[family](seed))
    raise KeyError(f"unknown family {family!r}; choose one of {list(FAMILIES)}")


def build(family: str, seed: int) -> BilevelProblem:
    """The ``BilevelProblem`` of ``instance(family, seed)``, without its reference."""
    return to_problem(instance(family, seed))


def generate(family: str, seed: int) -> tuple[BilevelProblem, Reference]:
    """``(problem, reference)`` of ``family`` and ``seed``; ``AssertionError`` if an
    ``infeasible`` construction turns out to have a point."""
    ref = reference(data := instance(family, seed))
    if family == "infeasible" and ref.status != "infeasible":
        raise AssertionError(f"{data.name}: the infeasible construction has a point ({ref})")
    return to_problem(data), ref
