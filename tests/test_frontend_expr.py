"""BOLIB-format parsing: safe, exact, with clear errors."""

import json
import math

import numpy as np
import pytest

import bilevel_mp as bmp
from bilevel_mp.errors import BilevelInputError
from bilevel_mp.frontends.expr import (
    from_callables,
    load_problems,
    problem_from_dict,
    problem_to_dict,
)
from bilevel_mp.library.classic import bolib_entries

BASE = {"name": "t", "n_x": 1, "n_y": 1, "F": "x[0] + y[0]", "f": "y[0]", "G": [], "g": ["y[0] - x[0]"]}


def entry(**kw):
    return {**BASE, **kw}


def test_expressions_evaluate_like_python():
    d = entry(F="exp(x[0]) * cos(y[0]) - abs(x[0] - 3) / 2 + pi * y[0]**2")
    p = problem_from_dict(d)
    ev = p.evaluate([0.7], [1.3])
    expected = math.exp(0.7) * math.cos(1.3) - abs(0.7 - 3) / 2 + math.pi * 1.3**2
    assert ev["F"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("bad,needle", [
    ("__import__('os').system('echo hi')", "not allowed"),
    ("x.__class__", "unsupported syntax"),
    ("(lambda: 1)()", "not allowed"),
    ("x[0] +", "malformed"),
    ("z[0]", r"only x\[i\] and y\[j\]"),
    ("x[5]", "out of range"),
    ("x", "must be indexed"),
    ("open('f')", "not allowed"),
    ("x[0] if y[0] else 1", "unsupported syntax"),
    ("'abc'", "not a number"),
    ("x[0] / 0", "division by zero"),
    ("x[y[0]]", "integer literal"),
])
def test_malformed_or_unsafe_expressions_are_refused(bad, needle):
    with pytest.raises(BilevelInputError, match=needle) as info:
        problem_from_dict(entry(F=bad))
    assert "problem 't', F" in str(info.value)


@pytest.mark.parametrize("field,value,needle", [
    ("n_y", 0, "no variables"),
    ("n_x", -1, "non-negative"),
    ("g", "y[0]", "must be a list"),
])
def test_bad_fields(field, value, needle):
    with pytest.raises(BilevelInputError, match=needle):
        problem_from_dict(entry(**{field: value}))


def test_missing_field():
    d = dict(BASE)
    del d["f"]
    with pytest.raises(BilevelInputError, match="missing field 'f'"):
        problem_from_dict(d)


def test_every_shipped_bolib_problem_parses_and_round_trips():
    for name, e in bolib_entries().items():
        p = problem_from_dict(e)
        q = problem_from_dict(problem_to_dict(p))
        init = e.get("xy_init") or [0.5] * (p.n_x + p.n_y)
        if len(init) != p.n_x + p.n_y:
            init = [0.5] * (p.n_x + p.n_y)
        x, y = init[: p.n_x], init[p.n_x:]
        try:
            a = p.evaluate(x, y)
        except (ZeroDivisionError, ValueError, OverflowError):
            continue
        b = q.evaluate(x, y)
        for k in ("F", "f", "G_violation", "g_violation"):
            assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-9), (name, k)


def test_load_problems_file(tmp_path):
    path = tmp_path / "probs.json"
    path.write_text(json.dumps([entry(name="a"), entry(name="b")]))
    probs = load_problems(path)
    assert [p.name for p in probs] == ["a", "b"]
    with pytest.raises(BilevelInputError, match="no such file"):
        load_problems(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BilevelInputError, match="not valid JSON"):
        load_problems(tmp_path / "bad.json")


def test_callables_front_end_solves_bard1984a():
    p = from_callables(
        1, 1, name="Bard1984a",
        F=lambda x, y: x[0] + y[0],
        G=lambda x, y: [x[0] >= 0],
        f=lambda x, y: -5 * x[0] - y[0],
        g=lambda x, y: [x[0] + y[0] / 2 >= 2, x[0] / 4 - y[0] + 2 >= 0, 8 - y[0] / 2 - x[0] >= 0,
                        2 * y[0] - x[0] + 4 >= 0, y[0] >= 0],
    )
    r = bmp.solve(p)
    assert r.status == "optimal" and r.certified
    assert r.F == pytest.approx(28 / 9, rel=1e-6)
    with pytest.raises(BilevelInputError, match=r"x\[3\] is out of range: x has 1 entries"):
        from_callables(1, 1, F=lambda x, y: x[3], f=lambda x, y: y[0])
    with pytest.raises(BilevelInputError, match="building the expressions failed"):
        from_callables(1, 1, F=lambda x, y: x[0] + "a", f=lambda x, y: y[0])


def test_extensions_equalities_bounds_integers():
    d = entry(G=[], g=[], g_eq=["y[0] - 2*x[0] + 1"], x_bounds=[[0, 3]], x_integer=[True],
              F="(x[0] - 2.4)**2 + y[0]")
    p = problem_from_dict(d)
    r = bmp.solve(p)
    # y = 2x - 1; F = (x - 2.4)^2 + 2x - 1 over x in {0..3}: x=1 -> 1.96+1 = 2.96, x=2 -> .16+3
    assert r.status == "optimal" and np.allclose(r.x, [1.0]) and r.F == pytest.approx(2.96)


def test_unknown_field_is_an_error_naming_the_nearest():
    """A typo must not silently build a different problem (x_integers would drop integrality)."""
    d = {"name": "t", "n_x": 1, "n_y": 1, "F": "x[0] - y[0]", "f": "y[0]", "G": ["2.5 - x[0]", "x[0]"],
         "g": ["x[0] - y[0]", "y[0]"], "x_integers": [True]}
    with pytest.raises(BilevelInputError, match="unknown field 'x_integers' \\(did you mean 'x_integer'\\?\\)"):
        problem_from_dict(d)


def test_y_integer_is_honoured_and_round_trips():
    d = {"name": "t", "n_x": 1, "n_y": 1, "F": "x[0] - y[0]", "f": "y[0]", "G": ["2.5 - x[0]", "x[0]"],
         "g": ["x[0] - y[0] + 0.5", "y[0]"], "y_integer": [True]}
    p = problem_from_dict(d)
    assert not p.y[0].is_continuous() and bmp.detect(p).y_integer
    assert problem_to_dict(p)["y_integer"] == [True]
    assert not problem_from_dict(problem_to_dict(p)).y[0].is_continuous()
    # the methods built on the follower's KKT conditions or duality refuse it by name, never relaxed
    for method in set(bmp.METHODS) - {"auto", "value_function"}:
        with pytest.raises(bmp.UnsupportedStructureError, match="integer"):
            bmp.solve(p, method=method)
    # follower max y s.t. y <= x + 0.5: y = floor(x + 0.5), F = x - floor(x + 0.5) >= -0.5 on [0, 2.5],
    # met at x = 0.5, 1.5, 2.5 (the continuous relaxation y = x + 0.5 would give -0.5 everywhere)
    r = bmp.solve(problem_from_dict({**d, "f": "-y[0]"}), time_limit=30)
    assert r.status == "optimal" and r.F == pytest.approx(-0.5, abs=1e-7)
    assert r.y[0] == np.floor(r.x[0] + 0.5)
    with pytest.raises(BilevelInputError, match="y_integer"):
        problem_from_dict({**d, "y_integer": ["yes"]})
