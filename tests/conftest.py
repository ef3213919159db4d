import warnings

import numpy as np
import pytest
from scipy.optimize import linprog

from contextlib import contextmanager


@contextmanager
def fixed(var):
    """Fix an indexed Var at its current values (for reading a follower's LP data)."""
    for v in var.values():
        v.fix()
    try:
        yield
    finally:
        for v in var.values():
            v.unfix()


@pytest.fixture(autouse=True)
def _quiet_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def linear_follower_lp(problem, x):
    """Independent re-solve of a linear follower at x with scipy's HiGHS-free path
    (``linprog`` method 'highs-ds' is HiGHS too, so use interior point 'highs-ipm'
    and cross-check): returns (f*, y*) or (None, None) if infeasible."""
    from pyomo.repn import generate_standard_repn

    problem.set_point(x=x)
    n = problem.n_y
    index = {id(problem.y[j]): j for j in range(n)}
    with fixed(problem.x):
        repn = generate_standard_repn(problem.f, compute_values=True)
        c = np.zeros(n)
        for v, a in zip(repn.linear_vars, repn.linear_coefs):
            c[index[id(v)]] += a
        const = repn.constant
        A_ub, b_ub, A_eq, b_eq = [], [], [], []
        for con in problem.g:
            r = generate_standard_repn(con.body, compute_values=True)
            row = np.zeros(n)
            for v, a in zip(r.linear_vars, r.linear_coefs):
                row[index[id(v)]] += a
            if con.kind == "eq":
                A_eq.append(row)
                b_eq.append(-r.constant)
            else:  # row·y + k >= 0  ->  -row·y <= k
                A_ub.append(-row)
                b_ub.append(r.constant)
    bounds = [(problem.y[j].lb, problem.y[j].ub) for j in range(n)]
    res = linprog(c, A_ub=np.array(A_ub) if A_ub else None, b_ub=b_ub or None,
                  A_eq=np.array(A_eq) if A_eq else None, b_eq=b_eq or None, bounds=bounds,
                  method="highs-ipm")
    if res.status != 0:
        return None, None
    return res.fun + const, res.x
