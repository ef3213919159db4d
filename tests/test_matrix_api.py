"""The matrix API (``bmp.linear_bilevel``) builds the same problem as the row API: the
same values of F, f, G and g at random points, and the same optima on random LP-LPs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import bilevel_mp as bmp
from bilevel_mp.library.random_lplp import random_lplp, random_lplp_data


def _from_data(d, sparse=False):
    n = len(d["c_u"])
    U = d["bound"]
    wrap = sp.csr_matrix if sparse else (lambda a: a)
    return bmp.linear_bilevel(d["c_u"], np.zeros(n), d["c_l"],
                              A_ub=wrap(d["A_u"]), B_ub=wrap(d["B_u"]), b_ub=d["b_u"],
                              C_ub=wrap(d["A_l"]), D_ub=wrap(d["B_l"]), e_ub=d["b_l"],
                              x_bounds=(-U, U), y_bounds=(-U, U))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_values_as_the_row_api(seed, sparse):
    n = 12
    rows = random_lplp(n, seed)
    mats = _from_data(random_lplp_data(n, seed), sparse)
    rng = np.random.default_rng(100 + seed)
    for _ in range(5):
        x, y = rng.uniform(-50, 50, n), rng.uniform(-50, 50, n)
        a, b = rows.evaluate(x, y), mats.evaluate(x, y)
        for key in ("F", "f", "G_violation", "g_violation"):
            assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-9), key


@pytest.mark.parametrize("seed", [21, 22, 23, 24])
def test_same_optimum_as_the_row_api(seed):
    n = 6
    r_rows = bmp.solve(random_lplp(n, seed))
    r_mats = bmp.solve(_from_data(random_lplp_data(n, seed)))
    assert r_rows.status == r_mats.status
    if r_rows.F is not None:
        assert r_mats.F == pytest.approx(r_rows.F, rel=1e-7, abs=1e-7)


def test_bard_1984a_from_matrices():
    # min x + y  s.t. x >= 0;  min -5x - y  s.t. -x - y/2 <= -2, -x/4 + y <= 2, x + y/2 <= 8,
    # x - 2y <= 4, y >= 0: the known optimum F = 3.1111 (BOLIB)
    p = bmp.linear_bilevel([1.0], [1.0], [-1.0], d_x=[-5.0],
                           C_ub=[[-1], [-0.25], [1], [1]], D_ub=[[-0.5], [1], [0.5], [-2]],
                           e_ub=[-2, 2, 8, 4], name="Bard1984a")
    r = bmp.solve(p)
    assert r.status == "optimal" and r.F == pytest.approx(28 / 9, rel=1e-7)


def test_equalities_integrality_and_senses():
    # max x + y  s.t. y ∈ argmax { y : y <= x, y + x == 4 ... } written with equalities
    p = bmp.linear_bilevel([1.0], [1.0], [1.0], C_ub=[[-1.0]], D_ub=[[1.0]], e_ub=[0.0],
                           A_eq=[[1.0]], B_eq=[[0.0]], b_eq=[3.0], x_bounds=(0, 5),
                           y_bounds=(0, 10), x_integer=True, sense="max", lower_sense="max")
    r = bmp.solve(p)
    assert r.status == "optimal" and r.F == pytest.approx(6.0) and r.x[0] == pytest.approx(3.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(C_ub=[[1.0, 2.0]], D_ub=[[1.0]], e_ub=[1.0]), r"C_ub must have shape \(1, 1\)"),
    (dict(C_ub=[[1.0]], D_ub=[[1.0]]), "without their right-hand side e_ub"),
    (dict(C_ub=[[np.nan]], D_ub=[[1.0]], e_ub=[1.0]), "NaN"),
    (dict(C_ub=[[0.0]], D_ub=[[0.0]], e_ub=[1.0]), "no nonzero"),
    (dict(x_bounds=[(0, 1), (0, 2)]), "x_bounds must be one"),
])
def test_bad_matrices_raise(kwargs, match):
    with pytest.raises(bmp.BilevelInputError, match=match):
        bmp.linear_bilevel([1.0], [1.0], [1.0], **kwargs)
