"""A follower whose problem has no optimum is reported as such, never as an infeasible
bilevel problem (SCIP answers "optimal" at -1e20 for some unbounded nonlinear followers)."""

import pytest

import bilevel_mp as bmp


def _cubic(upper_y=None):
    p = bmp.BilevelProblem(1, 1, name="cubic", x_bounds=[(0, 1)])
    x, y = p.x[0], p.y[0]
    p.set_upper(x + y, [])
    rows = [y - x >= 0] + ([upper_y - y >= 0] if upper_y is not None else [])
    p.set_lower(-y ** 3, rows)
    return p


@pytest.mark.parametrize("method", ["auto", "value_function"])
def test_unbounded_nonlinear_follower_is_lower_level_unbounded(method):
    r = bmp.solve(_cubic(), method=method, time_limit=30)
    assert r.status == "lower_level_unbounded", r.summary()


def test_the_bounded_version_is_solved():
    r = bmp.solve(_cubic(upper_y=5.0), time_limit=60)   # y = 5 at every x: F = x + 5, x = 0
    assert r.status == "optimal" and r.F == pytest.approx(5.0, abs=1e-6)
