"""The Python API cannot silently build a different model: sum() over variables,
whole-vector arithmetic, out-of-range indices, NaN/inf numbers and bad bounds."""

import json
import math
import re

import numpy as np
import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp.errors import BilevelInputError
from bilevel_mp.frontends.expr import problem_from_dict


def test_sum_over_variables_adds_the_variables_not_their_indices():
    p = bmp.BilevelProblem(1, 3, x_bounds=[(0, 2)], y_bounds=[(0, None)] * 3)
    p.set_point(x=[0.0], y=[1.0, 2.0, 4.0])
    assert pyo.value(sum(p.y)) == 7.0
    assert pyo.value(sum(c * v for c, v in zip([1, 10, 100], p.y))) == 421.0
    assert pyo.value(np.dot([1, 10, 100], list(p.y))) == 421.0
    assert [v.value for v in p.y] == [1.0, 2.0, 4.0] and len(p.y) == 3
    assert p.y[-1] is p.y[2] and p.y[1:] == [p.y[1], p.y[2]]
    # follower answers y_j = x, so F = 3x - 2x = x: the optimum is x = 0, F = 0
    # (sum over the indices would give the constant 0 + 1 + 2 and F = 3 - 2x -> -1 at x = 2)
    p.set_upper(sum(p.y) - 2 * p.x[0])
    p.set_lower(sum(p.y), [v >= p.x[0] for v in p.y])
    r = bmp.solve(p)
    assert r.status == "optimal" and r.F == pytest.approx(0.0, abs=1e-7)
    assert r.x[0] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("build", [
    lambda p: p.y + 1, lambda p: 2 * p.y, lambda p: p.y * p.x, lambda p: -p.y,
    lambda p: p.y <= 1, lambda p: 1 >= p.x, lambda p: p.y ** 2, lambda p: p.x / 2,
    lambda p: float(p.x),
])
def test_whole_vector_arithmetic_raises_naming_the_vector(build):
    p = bmp.BilevelProblem(2, 2)
    with pytest.raises(BilevelInputError, match="whole vector"):
        build(p)


@pytest.mark.parametrize("index, needle", [(2, "out of range"), (-3, "out of range"),
                                            ("a", "must be an integer"), (1.0, "must be an integer")])
def test_bad_index_is_named(index, needle):
    p = bmp.BilevelProblem(1, 2)
    with pytest.raises(BilevelInputError, match=needle):
        p.y[index]


BAD_NUMBERS = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("bad", BAD_NUMBERS)
@pytest.mark.parametrize("where, build", [
    ("upper-level objective", lambda p, b: p.set_upper(b * p.x[0] + p.y[0])),
    ("lower-level objective", lambda p, b: p.set_lower(p.y[0] + b)),
    ("G[0]", lambda p, b: p.set_upper(p.x[0], [p.x[0] <= b * p.y[0]])),
    ("g[1]", lambda p, b: p.set_lower(p.y[0], [p.y[0] >= 0, p.y[0] ** b <= 2])),
])
def test_non_finite_numbers_are_rejected_naming_the_expression(where, build, bad):
    p = bmp.BilevelProblem(1, 1)
    with pytest.raises(BilevelInputError, match=re.escape(where) + ".* must be finite"):
        build(p, bad)


@pytest.mark.parametrize("bounds, needle", [
    ([(math.nan, 1)], r"y_bounds\[0\]: lower bound nan"),
    ([(0, math.nan)], r"y_bounds\[0\]: upper bound nan"),
    ([(math.inf, None)], r"lower bound inf is not allowed"),
    ([(None, -math.inf)], r"upper bound -inf is not allowed"),
    ([("a", 1)], r"lower bound 'a' is not a number"),
    ([(0, 1, 2)], r"must be a pair"),
    ([3], r"must be a pair"),
])
def test_bad_bounds_are_named(bounds, needle):
    with pytest.raises(BilevelInputError, match=needle):
        bmp.BilevelProblem(1, 1, y_bounds=bounds)


def test_infinite_bound_of_the_right_sign_means_no_bound():
    p = bmp.BilevelProblem(1, 1, x_bounds=[(-math.inf, math.inf)], y_bounds=[(0, math.inf)])
    assert p.x[0].lb is None and p.x[0].ub is None and p.y[0].ub is None


@pytest.mark.parametrize("text", ['{"name": "n", "n_x": 1, "n_y": 1, "F": "x[0] + NaN * y[0]", '
                                  '"f": "y[0]"}',
                                  '{"name": "n", "n_x": 1, "n_y": 1, "F": "x[0]", "f": "y[0]", '
                                  '"y_bounds": [[NaN, 1]]}',
                                  '{"name": "n", "n_x": 1, "n_y": 1, "F": "x[0]", "f": "y[0]", '
                                  '"g": ["y[0] - Infinity"]}'])
def test_json_with_nan_or_infinity_is_rejected(text):
    with pytest.raises(BilevelInputError):
        problem_from_dict(json.loads(text))


def test_cli_reports_non_finite_input_in_one_line(tmp_path, capsys):
    from bilevel_mp.cli import main
    path = tmp_path / "nan.json"
    path.write_text('{"name": "n", "n_x": 1, "n_y": 1, "F": "x[0]", "f": "y[0]", '
                    '"y_bounds": [[NaN, 1]]}')
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bilevel-mp: error:") and "\n" not in err and "nan" in err


@pytest.mark.parametrize("argv, needle", [
    (["solve", "{tmp}"], "is a directory"),
    (["solve", "{tmp}/empty.json"], "holds no problems"),
    (["bench", "{tmp}/empty.json"], "holds no problems"),
    (["bench", "{tmp}/one.json", "--filter", "zzz"], "--filter 'zzz' matches none of the 1 problems"),
    (["solve", "{tmp}/missing.json"], "no such file"),
])
def test_cli_file_errors_are_one_line_exit_2(tmp_path, capsys, argv, needle):
    from bilevel_mp.cli import main
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "one.json").write_text('[{"name": "a", "n_x": 1, "n_y": 1, "F": "x[0]", "f": "y[0]"}]')
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bilevel-mp: error:") and "\n" not in err and needle in err


def test_lplp_follower_with_only_equality_rows_and_free_y():
    # y0 + y1 = x, y0 - y1 = 1 fix y = ((x+1)/2, (x-1)/2): F = x + 1, least at x = 0
    p = bmp.BilevelProblem(1, 2, x_bounds=[(0, 4)])
    x, y = p.x, p.y
    p.set_upper(x[0] + y[0] - y[1]).set_lower(y[0] + y[1], [y[0] + y[1] == x[0], y[0] - y[1] == 1])
    for method in ("auto", "complementarity_bb", "kkt", "strong_duality", "value_function"):
        r = bmp.solve(p, method=method)
        assert r.status == "optimal" and r.F == pytest.approx(1.0, abs=1e-6), method
