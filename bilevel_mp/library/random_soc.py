"""Random bilevel problems with second-order cone followers (strongly convex, Slater).

    min_x  (x − x0)² + aᵀy                          x in [−1, 1]
    min_y  ½‖y‖² + cᵀy + x·dᵀy   s.t.  ‖A_k y + b_k x + e_k‖ <= 1 + h_kᵀy,  k = 1..K
                                       −box <= y <= box     (box None: y free)

A_k: (2, n) normal; b_k, e_k: small (|·| <= 0.25, 0.2), so y = 0 meets every cone with
margin at least 0.55 for every x (Slater); h_k: 0.3·normal. The follower is strongly
convex: its response y(x) is unique and continuous, so F(x, y(x)) can be checked on a
grid of x with any conic solver: ``scs_value`` and ``grid_optimum`` do it with SCS through
CVXPY, independently of this package's solve path (``benchmarks/soc_followers.py``,
``tests/test_cones.py``).
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from ..problem import BilevelProblem


def random_soc_data(seed: int, n: int = 3, cones: int = 2) -> dict:
    """The data of one instance (see module docstring)."""
    rng = np.random.default_rng(seed)
    c, d, a = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    x0 = float(rng.uniform(-1, 1))
    rows = []
    for _ in range(cones):
        A = rng.normal(size=(2, n))
        b = rng.uniform(-0.25, 0.25, 2)
        e = rng.uniform(-0.2, 0.2, 2)
        h = 0.3 * rng.normal(size=n)
        rows.append((A, b, e, h))
    return {"c": c, "d": d, "a": a, "x0": x0, "cones": rows}


def random_soc(seed: int, n: int = 3, cones: int = 2, box: float | None = 3.0) -> BilevelProblem:
    """One instance as a ``BilevelProblem``; its data is ``problem.meta["data"]``."""
    data = random_soc_data(seed, n, cones)
    bounds = None if box is None else [(-box, box)] * n
    p = BilevelProblem(n_x=1, n_y=n, x_bounds=[(-1, 1)], y_bounds=bounds, name=f"soc{n}x{cones}-{seed}")
    x, y = p.x[0], [p.y[j] for j in range(n)]
    rows = []
    for A, b, e, h in data["cones"]:
        u = [sum(float(A[i, j]) * y[j] for j in range(n)) + float(b[i]) * x + float(e[i])
             for i in range(A.shape[0])]
        rows.append(pyo.sqrt(sum(ui * ui for ui in u)) <= 1 + sum(float(h[j]) * y[j] for j in range(n)))
    c, d, a = data["c"], data["d"], data["a"]
    p.set_upper((x - data["x0"]) ** 2 + sum(float(a[j]) * y[j] for j in range(n)))
    p.set_lower(0.5 * sum(v * v for v in y) + sum(float(c[j]) * y[j] for j in range(n))
                + x * sum(float(d[j]) * y[j] for j in range(n)), rows)
    p.meta = {"data": data, "box": box}
    return p


def scs_value(p: BilevelProblem, x: float) -> float:
    """F(x, y(x)) with the follower solved by SCS (CVXPY, eps 1e-10; Clarabel at tight
    tolerances was seen "optimal_inaccurate", 1e-5 off, on these instances)."""
    import cvxpy as cp

    data, box = p.meta["data"], p.meta["box"]
    y = cp.Variable(len(data["c"]))
    cons = [cp.norm(A @ y + b * x + e) <= 1 + h @ y for A, b, e, h in data["cones"]]
    cons += [] if box is None else [cp.abs(y) <= box]
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(y) + (data["c"] + x * data["d"]) @ y), cons).solve(
        solver="SCS", eps=1e-10, max_iters=200000)
    return float((x - data["x0"]) ** 2 + data["a"] @ y.value)


def grid_optimum(p: BilevelProblem, points: int = 41) -> float:
    """min over x in [−1, 1] of ``scs_value``: a grid, refined by a bounded scalar search
    between the best grid point's neighbours (an upper bound on the optimum, tight when
    the best x lies in that bracket)."""
    from scipy.optimize import minimize_scalar

    grid = np.linspace(-1, 1, points)
    vals = [scs_value(p, xv) for xv in grid]
    k = int(np.argmin(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, points - 1)]
    ref = minimize_scalar(lambda xv: scs_value(p, xv), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-7})
    return min(min(vals), float(ref.fun))
