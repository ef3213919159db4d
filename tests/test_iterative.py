"""Local iterative methods: the auxiliary descent program and its driver, the
trust-region method. Known optima are derived by hand in each test's docstring."""

import numpy as np
import pytest

import bilevel_mp as bmp
from bilevel_mp.algorithms.descent import DescentProgram, line_search, solve_direction
from bilevel_mp.errors import BilevelInputError
from bilevel_mp.library import classic

def solve_descent(p, **kw):
    return bmp.solve(p, method='descent', **kw)

def solve_trust_region(p, **kw):
    return bmp.solve(p, method='trust_region', **kw)

def lq_unconstrained():
    """F = (x-1)² + (y-2)², follower min (y-x)² ⇒ y = x, F = (x-1)² + (x-2)²,
    minimised at x = 1.5 with F = 0.5."""
    p = bmp.BilevelProblem(n_x=1, n_y=1, name="lq1")
    x, y = p.x[0], p.y[0]
    p.set_upper((x - 1) ** 2 + (y - 2) ** 2, [x >= -10, x <= 10])
    p.set_lower((y - x) ** 2)
    return p

def lq_kink():
    """F = (x-3)² + (y-2)², follower min (y-x)² s.t. y <= 1 ⇒ y = min(x, 1).
    For x >= 1: F = (x-3)² + 1, minimised at x = 3 (F = 1); for x <= 1, F >= 5.
    Starting at x = 0 the path crosses the kink at x = 1."""
    p = bmp.BilevelProblem(n_x=1, n_y=1, name="lq-kink")
    x, y = p.x[0], p.y[0]
    p.set_upper((x - 3) ** 2 + (y - 2) ** 2, [x >= -10, x <= 10])
    p.set_lower((y - x) ** 2, [1 - y >= 0])
    return p

def lq_two():
    """Two leaders, two followers: follower min ½‖y‖² - y·x s.t. y >= 0 ⇒ y = max(x, 0);
    F = (x1-1)² + (x2+1)² + (y1-2)² + (y2-1)². For y = max(x,0): coordinate 1 gives
    (x-1)² + (x-2)² → x1 = 1.5 (0.5); coordinate 2 gives (x+1)² + (max(x,0)-1)², which
    is 2x² + 2 >= 2 for x >= 0 and (x+1)² + 1, minimised at x = -1 (value 1), for x <= 0.
    So F* = 1.5 at x = (1.5, -1); from x2 = 2 the path crosses the kink at 0."""
    p = bmp.BilevelProblem(n_x=2, n_y=2, name="lq2")
    x, y = p.x, p.y
    p.set_upper((x[0] - 1) ** 2 + (x[1] + 1) ** 2 + (y[0] - 2) ** 2 + (y[1] - 1) ** 2,
                [x[0] >= -5, x[0] <= 5, x[1] >= -5, x[1] <= 5])
    p.set_lower(0.5 * (y[0] ** 2 + y[1] ** 2) - y[0] * x[0] - y[1] * x[1], [y[0] >= 0, y[1] >= 0])
    return p

@pytest.mark.parametrize("build,x0,x_star,F_star", [
    (lq_unconstrained, [0.0], [1.5], 0.5),
    (lq_kink, [0.0], [3.0], 1.0),
    (lq_two, [-2.0, 2.0], [1.5, -1.0], 1.5),
])
@pytest.mark.parametrize("method", ["descent", "trust_region"])
def test_local_methods_reach_known_optima(build, x0, x_star, F_star, method):
    p = build()
    fn = solve_descent if method == "descent" else solve_trust_region
    r = fn(p, x0=x0, max_iter=100)
    assert r.certified, r.certificate.message
    assert r.status == "locally_optimal", r.message
    assert r.F == pytest.approx(F_star, abs=1e-5)
    assert np.allclose(r.x, x_star, atol=1e-3)
    Fs = [it.F for it in r.history]
    assert all(b <= a + 1e-12 for a, b in zip(Fs, Fs[1:])), "F must decrease monotonically"

@pytest.mark.parametrize("name", ["Bard1984a", "Bard1984b", "Bard1988Ex2", "HendersonQuandt1958",
                                  "Outrata1990Ex1d"])
def test_trust_region_on_bolib(name):
    """From BOLIB's xy_init the trust region reaches the best known value (these five are
    smooth: LP and convex-QP followers)."""
    p = classic.bolib(name)
    best = classic.bolib_entries()[name]["F_best"]
    r = solve_trust_region(p, max_iter=60)
    assert r.certified
    assert r.F == pytest.approx(best, rel=1e-4, abs=1e-4)

def _random_program(rng, n=3, m=5, p=2):
    A = rng.normal(size=(m, m))
    H = A @ A.T + np.eye(m)
    return dict(grad_x=rng.normal(size=n), grad_y=rng.normal(size=m), H_yy=H,
                H_yx=rng.normal(size=(m, n)), A_x=rng.normal(size=(p, n)), A_y=rng.normal(size=(p, m)),
                mu=np.array([1.0, 0.0]), strong=np.array([True, False]))

def test_direction_decreases_model_and_meets_stationarity_band():
    rng = np.random.default_rng(0)
    for _ in range(10):
        data = _random_program(rng)
        prog = DescentProgram(**data)
        for norm in ("inf", "2"):
            d = solve_direction(prog, radius=0.5, delta=1e-6, norm=norm)
            assert d.status == "optimal" and not d.elastic
            assert d.predicted < 0  # d = 0 is feasible with value 0; the gradient is nonzero
            assert d.residual <= 1e-6 + 1e-9
            # recompute the residual independently
            r = data["H_yy"] @ d.dy + data["H_yx"] @ d.dx - data["A_y"].T @ d.dmu
            assert np.abs(r).max() <= 1e-6 + 1e-9
            assert abs(data["A_x"][0] @ d.dx + data["A_y"][0] @ d.dy) <= 1e-7  # strongly active kept
            assert data["A_x"][1] @ d.dx + data["A_y"][1] @ d.dy >= -1e-7  # weakly active: stays feasible
            if norm == "inf":
                assert np.abs(np.concatenate([d.dx, d.dy])).max() <= 0.5 + 1e-9

def test_matrix_free_equals_dense():
    """Same program given as arrays and as products: same direction (QP: unique) and
    same optimal value (LP); also with an explicit all-rows subsample."""
    rng = np.random.default_rng(1)
    for _ in range(5):
        data = _random_program(rng)
        H, B = data["H_yy"], data["H_yx"]
        dense = DescentProgram(**data)
        mf = DescentProgram(**{k: v for k, v in data.items() if k not in ("H_yy", "H_yx")},
                            hvp_yy=lambda v: H @ v, mvp_xy=lambda v: B.T @ v)
        mf2 = DescentProgram(**{k: v for k, v in data.items() if k not in ("H_yy", "H_yx")},
                             hvp_yy=lambda v: H @ v, mvp_yx=lambda u: B @ u, test=np.arange(5))
        d1 = solve_direction(dense, 0.3, norm="2")
        for other in (mf, mf2):
            d2 = solve_direction(other, 0.3, norm="2")
            assert np.allclose(d1.dx, d2.dx, atol=1e-5) and np.allclose(d1.dy, d2.dy, atol=1e-5)
            assert solve_direction(other, 0.3).predicted == pytest.approx(
                solve_direction(dense, 0.3).predicted, rel=1e-7, abs=1e-9)

def test_reduced_basis_direction_lies_in_basis():
    rng = np.random.default_rng(2)
    data = _random_program(rng, m=6)
    V = np.linalg.qr(rng.normal(size=(6, 2)))[0]
    d = solve_direction(DescentProgram(**data, basis=V, test=V), 0.5)
    assert d.status == "optimal"
    assert np.allclose(V @ (V.T @ d.dy), d.dy, atol=1e-9)

def test_elastic_when_band_unreachable():
    """Residual r0 = 1 with H = I, |dy| <= 0.1: the band |dy + r0| <= δ cannot be met."""
    prog = DescentProgram(grad_x=[1.0], grad_y=[0.0], H_yy=[[1.0]], H_yx=[[0.0]], r0=[1.0])
    d = solve_direction(prog, 0.1)
    assert d.status == "optimal" and d.elastic
    assert d.dy[0] == pytest.approx(-0.1)  # moves as far towards stationarity as allowed

def test_line_search():
    phi = lambda t: (t - 0.3) ** 2  # noqa: E731
    g = line_search(phi, phi(0), slope=-0.6, t_max=1.0, method="golden")
    assert g.improved and g.t == pytest.approx(0.3, abs=1e-3)
    b = line_search(phi, phi(0), slope=-0.6, t_max=1.0, method="backtracking")
    assert b.improved and phi(b.t) <= phi(0) + 1e-4 * b.t * -0.6
    none = line_search(lambda t: 1.0 + t, 1.0, slope=1.0)
    assert not none.improved

@pytest.mark.parametrize("kwargs,match", [
    (dict(radius=0.0), "radius"), (dict(radius=1.0, norm="1"), "norm"), (dict(radius=1.0, delta=-1), "delta"),
])
def test_direction_bad_input(kwargs, match):
    prog = DescentProgram(grad_x=[1.0], grad_y=[0.0], H_yy=[[1.0]], H_yx=[[0.0]])
    with pytest.raises(ValueError, match=match):
        solve_direction(prog, **kwargs)

def test_program_bad_input():
    with pytest.raises(ValueError, match="H_yy"):
        DescentProgram(grad_x=[1.0], grad_y=[0.0, 1.0], H_yy=[[1.0]], H_yx=[[0.0], [0.0]])
    with pytest.raises(ValueError, match="hvp_yy"):
        DescentProgram(grad_x=[1.0], grad_y=[0.0], H_yx=[[0.0]])
    with pytest.raises(ValueError, match="line search"):
        line_search(lambda t: t, 0.0, -1.0, method="wolfe")

def test_integer_leader_rejected():
    p = classic.get("IntegerLeaderLP")
    for fn in (solve_descent, solve_trust_region):
        with pytest.raises(BilevelInputError, match="integer"):
            fn(p)
    with pytest.raises(BilevelInputError, match="x0"):
        solve_descent(lq_unconstrained(), x0=[1.0, 2.0])

def test_qp_failure_falls_back_to_lp(monkeypatch):
    """F = 0.5·(x1 + x2) + y1 − 2·y2, follower stationarity H_yy dy + H_yx dx = dy − dx
    (y = x), band δ = 1e-8, radius r = 1, dx2 <= 0.5. The 2-norm QP (objective + ‖z‖²/2r,
    dy = dx = t) gives t = −r·(1.5, −1.5)/2 = (−0.75, 0.75), clipped to (−0.75, 0.5). When
    HiGHS fails on the QP, the box LP must answer: min 1.5·t1 − 1.5·t2 over |t| <= r,
    t2 <= 0.5, i.e. dx = (−1, 0.5), dy = dx up to δ, predicted −2.25."""
    prog = DescentProgram(grad_x=[0.5, 0.5], grad_y=[1.0, -2.0], H_yy=np.eye(2), H_yx=-np.eye(2),
                          dx_ub=[np.inf, 0.5])
    qp = solve_direction(prog, 1.0, 1e-8, "2")
    assert qp.status == "optimal" and not qp.fallback_lp
    assert np.allclose(qp.dx, [-0.75, 0.5], atol=1e-5) and np.allclose(qp.dy, qp.dx, atol=1e-6)

    target = "bilevel_mp.algorithms.descent.highs.solve_arrays"  # HiGHS as the descent program calls it
    real, calls = bmp.algorithms.descent.highs.solve_arrays, []

    def qp_fails(c, A, row_lo, row_hi, lb, ub, hessian_diag=None, time_limit=None):
        calls.append((hessian_diag is not None, np.array(lb), np.array(ub)))
        if hessian_diag is not None:
            return "error", None, None, None
        return real(c, A, row_lo, row_hi, lb, ub, None, time_limit)

    monkeypatch.setattr(target, qp_fails)
    d = solve_direction(prog, 1.0, 1e-8, "2")
    assert [is_qp for is_qp, _, _ in calls] == [True, False]  # the QP, then the LP
    _, lb, ub = calls[1]
    assert np.array_equal(lb, [-1.0] * 4) and np.array_equal(ub, [1.0, 0.5, 1.0, 1.0])
    assert d.status == "optimal" and d.fallback_lp and not d.elastic
    assert np.allclose(d.dx, [-1.0, 0.5], atol=1e-7)
    assert np.allclose(d.dy, [-1.0, 0.5], atol=1e-7)
    assert d.residual <= 1e-8 + 1e-12
    assert d.predicted == pytest.approx(-2.25, abs=1e-7)
