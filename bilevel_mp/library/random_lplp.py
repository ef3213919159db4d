"""Random LP-LP bilevel instances, built as BilevelJuMP's ``benchmarks/rand.jl`` builds them.

    min_x  c_uᵀ x            s.t.  S_u (A_u x + B_u y) <= S_u b_u,   -1000 <= x <= 1000
    min_y  c_lᵀ y            s.t.  S_l (A_l x + B_l y) <= S_l b_l,   -1000 <= y <= 1000

A, B: sparse (density 0.5), nonzeros ±U[15, 45] (+ with probability 0.75); b: U[0, 50];
S: diagonal signs (+1 with probability 0.8); c: sparse (density 0.5), U[-20, 20];
rows = columns = n. Seeds go through numpy's PCG64, so instances are reproducible here
(not bit-identical to Julia's MersenneTwister draws).
"""

from __future__ import annotations

import numpy as np

from ..problem import BilevelProblem


def random_lplp_data(n: int, seed: int, density: float = 0.5) -> dict:
    """The matrices of one instance (see module docstring)."""
    rng = np.random.default_rng(seed)

    def sparse_matrix():
        mask = rng.random((n, n)) < density
        sign = np.where(rng.random((n, n)) > 0.25, 1.0, -1.0)
        return np.round(mask * sign * (15 + 30 * rng.random((n, n))), 6)

    A_l, A_u, B_l, B_u = (sparse_matrix() for _ in range(4))
    b_l = np.round(50 * rng.random(n), 6)
    b_u = np.round(50 * rng.random(n), 6)
    s_l = np.where(rng.random(n) > 0.2, 1.0, -1.0)
    s_u = np.where(rng.random(n) > 0.2, 1.0, -1.0)

    def sparse_vector():
        return np.round((rng.random(n) < 0.5) * 40 * (rng.random(n) - 0.5), 6)

    c_l, c_u = sparse_vector(), sparse_vector()
    return dict(A_u=s_u[:, None] * A_u, B_u=s_u[:, None] * B_u, b_u=s_u * b_u,
                A_l=s_l[:, None] * A_l, B_l=s_l[:, None] * B_l, b_l=s_l * b_l,
                c_u=c_u, c_l=c_l, bound=1000.0)


def _row(A, B, b, i, x, y):
    """b_i - A_i x - B_i y (the row ``A x + B y <= b`` as ``expr >= 0``)."""
    terms = [float(b[i])]
    terms += [-float(A[i, j]) * x[j] for j in np.flatnonzero(A[i])]
    terms += [-float(B[i, j]) * y[j] for j in np.flatnonzero(B[i])]
    return sum(terms)


def random_lplp(n: int, seed: int, density: float = 0.5) -> BilevelProblem:
    """A random LP-LP ``BilevelProblem`` of size n (n leader, n follower variables,
    n leader rows, n follower rows)."""
    d = random_lplp_data(n, seed, density)
    U = d["bound"]
    p = BilevelProblem(n, n, name=f"rand_lplp_n{n}_s{seed}", x_bounds=[(-U, U)] * n,
                       y_bounds=[(-U, U)] * n)
    x, y = p.x, p.y
    p.set_upper(sum(float(d["c_u"][j]) * x[j] for j in range(n)) + 0.0,
                [_row(d["A_u"], d["B_u"], d["b_u"], i, x, y) for i in range(n)])
    p.set_lower(sum(float(d["c_l"][j]) * y[j] for j in range(n)) + 0.0,
                [_row(d["A_l"], d["B_l"], d["b_l"], i, x, y) for i in range(n)])
    p.source = "random LP-LP after BilevelJuMP benchmarks/rand.jl"
    return p
