"""BilevelResult prints and serialises cleanly: no -0, package statuses, a short repr."""

import json
import math
import re

import numpy as np

import bilevel_mp as bmp
from bilevel_mp.result import LL_STATUSES, BilevelResult, Certificate, Iteration


def _negative_zero_result():
    z = -0.0
    cert = Certificate(ll_value=z, ll_optimal_value=z, ll_gap=z, ll_status="optimal",
                       solver_status="Optimal", exact=True, solver="highs", upper_violation=z,
                       lower_violation=z, certified=True, duals={"g[0]": z})
    return BilevelResult(name="z", status="optimal", method="auto", x=np.array([z, 1.5]),
                         y=np.array([z]), F=z, f=z, bound=z, duals={"g[0]": z, "g[1]": 2.0},
                         certificate=cert, structure="LP-LP", values={"x": np.array([z, 1.5])},
                         history=[Iteration(k, z, 0.1) for k in range(1000)])


def floats(v):
    """Every float in nested dicts, lists and tuples (a JSON record)."""
    if isinstance(v, float):
        yield v
    elif isinstance(v, dict):
        for w in v.values():
            yield from floats(w)
    elif isinstance(v, (list, tuple)):
        for w in v:
            yield from floats(w)


def test_summary_str_and_to_dict_print_no_negative_zero():
    r = _negative_zero_result()
    for text in (r.summary(), str(r)):
        tokens = re.findall(r"(?<![\w.])-[0-9][0-9.]*(?:e[+-]?[0-9]+)?", text)
        assert tokens == [], (tokens, text)
        assert "F = 0   f = 0   bound = 0" in text and "x = [0.  1.5]" in text
    d = r.to_dict()
    json.dumps(d)  # serialisable, values included
    zeros = [v for v in floats(d) if v == 0]
    assert len(zeros) >= 10 and all(math.copysign(1.0, v) > 0 for v in zeros)
    assert d["values"] == {"x": [0.0, 1.5]} and d["certificate"]["solver_status"] == "Optimal"


def test_repr_is_one_short_line_whatever_the_history():
    r = _negative_zero_result()
    text = repr(r)
    assert "\n" not in text and len(text) < 200
    assert "status='optimal'" in text and "F=0," in text and "certified=True" in text


def test_statuses_come_from_the_package_vocabulary():
    # an optimum, an unbounded follower and an infeasible problem: result and certificate
    # statuses are the package's words
    unb = bmp.BilevelProblem(1, 1, name="unb", x_bounds=[(0, 1)])
    unb.set_upper(unb.x[0] + unb.y[0]).set_lower(-unb.y[0], [unb.y[0] >= unb.x[0]])
    inf = bmp.BilevelProblem(1, 1, name="inf", x_bounds=[(0, 1)], y_bounds=[(0, 1)])
    inf.set_upper(inf.x[0] + inf.y[0], [inf.x[0] + inf.y[0] >= 3]).set_lower(inf.y[0])
    from bilevel_mp.library import classic

    seen = set()
    for p in (classic.get("Bard1984a"), unb, inf):
        r = bmp.solve(p, time_limit=20)
        assert r.status in bmp.STATUSES and r.certificate.ll_status in LL_STATUSES
        assert r.to_dict()["certificate"]["ll_status"] == r.certificate.ll_status
        seen.add((r.status, r.certificate.ll_status))
    assert {s for s, _ in seen} == {"optimal", "lower_level_unbounded", "infeasible"}
    assert ("optimal", "optimal") in seen
