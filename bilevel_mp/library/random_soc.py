"""Random bilevel problems with second-order cone followers (strongly convex, Slater).

    min_x  (x − x0)² + aᵀy                          x in [−1, 1]
    min_y  ½‖y‖² + cᵀy + x·dᵀy   s.t.  ‖A_k y + b_k x + e_k‖ <= 1 + h_kᵀy,  k = 1..K
                                       −box <= y <= box     (box None: y free)

A_k: (2, n) normal; b_k, e_k: small (|·| <= 0.25, 0.2), so y = 0 meets every cone with
margin at least 0.55 for every x (Slater); h_k: 0.3·normal. The follower is strongly
convex: its response y(x) is unique and continuous, and F(x, y(x)) can be checked on a
grid of x with any conic solver (``benchmarks/soc_followers.py``, ``tests/test_cones.py``).
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
