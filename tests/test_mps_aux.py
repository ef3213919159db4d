"""MPS + AUX instance files (MibS / BOBILib): reading both AUX dialects, writing,
round trips, solving the fixtures to independently verified optima, the CLI, bad input.

The fixtures' optima (tests/data/mps_aux/optima.json) are re-derived here by brute
force from the textbook statements written out below (not from the files), with
scipy's linprog for continuous followers and enumeration for integer ones."""

import json
import math
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from scipy.optimize import linprog

import bilevel_mp as bmp
from bilevel_mp.cli import main
from bilevel_mp.errors import BilevelInputError, UnsupportedStructureError
from bilevel_mp.frontends.expr import load_problems, problem_from_dict, problem_to_dict
from bilevel_mp.frontends.mps_aux import find_aux, read_aux, read_mps_aux, write_mps_aux
from bilevel_mp.library.classic import bolib_entries, get
from bilevel_mp.library.random_lplp import random_lplp

DATA = Path(__file__).parent / "data" / "mps_aux"
MANIFEST = json.loads((DATA / "optima.json").read_text())
INF = math.inf


@dataclass
class Textbook:
    """min/max cx·x + cy·y  s.t. upper rows;  y in argmin/argmax dy·y s.t. lower rows.
    rows: (ax, ay, op, rhs, level) with op in <=, >=, ==; level "G" or "g"."""

    cx: list
    cy: list
    upper_sense: str
    dy: list
    lower_sense: str
    rows: list
    xb: list
    yb: list
    y_integer: bool
    x_points: list  # where the leader is enumerated
    y_points: list | None = None  # integer follower: where the follower is enumerated


def _mb_rows():
    return [([-25], [20], "<=", 30, "g"), ([1], [2], "<=", 10, "g"), ([2], [-1], "<=", 15, "g"),
            ([2], [10], ">=", 15, "g")]


TEXTBOOK = {
    # Moore & Bard (1990) Example 1; x <= 8 is implied by the follower's rows (HPR)
    "moore_bard_int.mps": Textbook([-1], [-10], "min", [1], "min", _mb_rows(), [(0, INF)], [(0, INF)],
                                   True, [[v] for v in range(0, 9)], [[v] for v in range(0, 11)]),
    "moore_bard_cont.mps": Textbook([-1], [-10], "min", [1], "min", _mb_rows(), [(0, INF)], [(0, INF)],
                                    False, [[v] for v in range(0, 9)]),
    # BilevelJuMP README: x continuous in [0, 8] -> a fine grid plus the claimed point
    "bilevel_jump_readme.mps": Textbook(
        [1], [3], "min", [-1], "min",
        [([1], [1], "<=", 8, "g"), ([1], [4], ">=", 8, "g"), ([1], [2], "<=", 13, "g"),
         ([-7], [2], "<=", 0, "g")],
        [(0, 8)], [(-INF, 5)], False, [[v] for v in np.linspace(0, 8, 401)]),
    "integer_leader_max.mps": Textbook(
        [2, -1], [3, 1], "max", [-1, -2], "max",
        [([1, 1], [0, 0], "<=", 6, "G"), ([0, 0], [1, 1], ">=", 1, "g"), ([-1, 0], [1, 0], "<=", 1.5, "g"),
         ([0, 1], [0, 1], ">=", 2, "g"), ([0, -1], [2, 1], "<=", 2, "g")],
        [(0, 4), (0, 4)], [(0, INF), (0, INF)], False,
        [[a, b] for a in range(5) for b in range(5)]),
    "mibs_general_example.mps": Textbook(
        [-1], [-7], "min", [1], "min",
        [([-3], [2], "<=", 12, "G"), ([1], [2], "<=", 20, "G"), ([2], [-1], "<=", 7, "g"),
         ([-2], [4], "<=", 16, "g")],
        [(0, 10)], [(0, 5)], True, [[v] for v in range(0, 11)], [[v] for v in range(0, 6)]),
}


def _rows(tb, level, x):
    """Follower rows at x as A_ub y <= b_ub, A_eq y = b_eq (or all rows of a level)."""
    A_ub, b_ub, A_eq, b_eq = [], [], [], []
    for ax, ay, op, rhs, lev in tb.rows:
        if lev != level:
            continue
        r = rhs - float(np.dot(ax, x))
        if op == "<=":
            A_ub.append(ay), b_ub.append(r)
        elif op == ">=":
            A_ub.append([-a for a in ay]), b_ub.append(-r)
        else:
            A_eq.append(ay), b_eq.append(r)
    return A_ub, b_ub, A_eq, b_eq


def _holds(tb, level, x, y, tol=1e-7):
    A_ub, b_ub, A_eq, b_eq = _rows(tb, level, x)
    return all(np.dot(a, y) <= b + tol for a, b in zip(A_ub, b_ub)) and \
        all(abs(np.dot(a, y) - b) <= tol for a, b in zip(A_eq, b_eq))


def _F(tb, x, y):
    return float(np.dot(tb.cx, x) + np.dot(tb.cy, y))


def brute_force(tb):
    """Optimistic bilevel optimum (user's sense) by enumerating the leader (and an
    integer follower); continuous followers by two linprog solves (f*, then best F)."""
    sF = 1 if tb.upper_sense == "min" else -1
    sf = 1 if tb.lower_sense == "min" else -1
    best = None
    for x in tb.x_points:
        if not all(lo - 1e-9 <= v <= hi + 1e-9 for v, (lo, hi) in zip(x, tb.xb)):
            continue
        if tb.y_integer:
            ys = [y for y in tb.y_points if _holds(tb, "g", x, y)
                  and all(lo <= v <= hi for v, (lo, hi) in zip(y, tb.yb))]
            if not ys:
                continue
            fstar = min(sf * np.dot(tb.dy, y) for y in ys)
            ys = [y for y in ys if sf * np.dot(tb.dy, y) <= fstar + 1e-9 and _holds(tb, "G", x, y)]
            cand = [(sF * _F(tb, x, y), y) for y in ys]
        else:
            A_ub, b_ub, A_eq, b_eq = _rows(tb, "g", x)
            bounds = [(None if lo == -INF else lo, None if hi == INF else hi) for lo, hi in tb.yb]
            kw = dict(A_eq=A_eq or None, b_eq=b_eq or None, bounds=bounds, method="highs")
            r = linprog(sf * np.array(tb.dy, float), A_ub=A_ub or None, b_ub=b_ub or None, **kw)
            if r.status != 0:
                continue
            GA, Gb, _, _ = _rows(tb, "G", x)  # upper rows in y at this x, plus f <= f*
            A2 = A_ub + GA + [list(sf * np.array(tb.dy, float))]
            b2 = b_ub + Gb + [r.fun + 1e-9 * max(1, abs(r.fun))]
            r2 = linprog(sF * np.array(tb.cy, float), A_ub=A2, b_ub=b2, **kw)
            if r2.status != 0:
                continue
            cand = [(sF * _F(tb, x, r2.x), list(r2.x))]
        for val, y in cand:
            if best is None or val < best[0]:
                best = (val, list(x), list(y))
    return sF * best[0], best[1], best[2]


def _sample(bounds, rng, n):
    lo = np.array([-3.0 if b[0] == -INF else b[0] for b in bounds])
    hi = np.array([lo_ + 10.0 if b[1] == INF else b[1] for lo_, b in zip(lo, bounds)])
    return [rng.uniform(lo, hi) for _ in range(n)]


def _violations(tb, level, x, y):
    A_ub, b_ub, A_eq, b_eq = _rows(tb, level, x)
    v = [max(0.0, np.dot(a, y) - b) for a, b in zip(A_ub, b_ub)] + \
        [abs(np.dot(a, y) - b) for a, b in zip(A_eq, b_eq)]
    return max(v, default=0.0)


# ------------------------------------------------------------------ fixtures
@pytest.mark.parametrize("entry", MANIFEST, ids=[e["mps"] for e in MANIFEST])
def test_fixture_reads_like_its_textbook_statement(entry):
    tb = TEXTBOOK[entry["mps"]]
    p = read_mps_aux(DATA / entry["mps"])  # AUX found next to the MPS file
    assert p.meta["dialect"] == entry["dialect"]
    assert (p.n_x, p.n_y) == (len(tb.cx), len(tb.cy))
    assert p.upper_sense == tb.upper_sense and p.lower_sense == tb.lower_sense
    assert [(v.lb if v.lb is not None else -INF, v.ub if v.ub is not None else INF)
            for v in p.x.values()] == [tuple(map(float, b)) for b in tb.xb]
    assert [(v.lb if v.lb is not None else -INF, v.ub if v.ub is not None else INF)
            for v in p.y.values()] == [tuple(map(float, b)) for b in tb.yb]
    assert all(p.x_is_integer()) == (entry["mps"] != "bilevel_jump_readme.mps")
    assert p.meta["y_integer"] == [tb.y_integer] * p.n_y
    assert [not v.is_continuous() for v in p.y.values()] == [tb.y_integer] * p.n_y
    rng = np.random.default_rng(7)
    for x, y in zip(_sample(tb.xb, rng, 20), _sample(tb.yb, rng, 20)):
        ev = p.evaluate(x, y)
        assert ev["F"] == pytest.approx(_F(tb, x, y), abs=1e-9)
        assert ev["f"] == pytest.approx(float(np.dot(tb.dy, y)), abs=1e-9)
        assert ev["g_violation"] == pytest.approx(_violations(tb, "g", x, y), abs=1e-9)
        assert ev["G_violation"] == pytest.approx(_violations(tb, "G", x, y), abs=1e-9)


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["mps"] for e in MANIFEST])
def test_fixture_optimum_is_verified_by_brute_force(entry):
    tb = TEXTBOOK[entry["mps"]]
    F_star, x_star, y_star = brute_force(tb)
    if entry["mps"] == "bilevel_jump_readme.mps":
        # continuous leader: the grid bounds F* from above; the claimed point must be
        # bilevel feasible with the claimed value and no grid point may beat it
        x0, y0 = entry["x_best"], entry["y_best"]
        assert _holds(tb, "g", x0, y0) and y0[0] <= 5
        yr = linprog([-1], A_ub=_rows(tb, "g", x0)[0], b_ub=_rows(tb, "g", x0)[1],
                     bounds=[(None, 5)], method="highs")
        assert yr.x[0] == pytest.approx(y0[0], abs=1e-9)
        assert _F(tb, x0, y0) == pytest.approx(entry["F_best"], abs=1e-9)
        assert entry["F_best"] <= F_star + 1e-9 and F_star - entry["F_best"] < 0.25  # slope <= 11.5, step 0.02
    else:
        assert F_star == pytest.approx(entry["F_best"], abs=1e-9)
        assert _F(tb, entry["x_best"], entry["y_best"]) == pytest.approx(F_star, abs=1e-9)


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["follower"] == "continuous"],
                         ids=lambda e: e["mps"])
def test_fixture_solves_to_its_optimum_with_certificate(entry):
    p = read_mps_aux(DATA / entry["mps"], DATA / entry["aux"])
    r = bmp.solve(p, time_limit=30)
    assert r.status == "optimal" and r.certified
    F_star = brute_force(TEXTBOOK[entry["mps"]])[0] if entry["mps"] != "bilevel_jump_readme.mps" \
        else entry["F_best"]  # checked against the grid in the test above
    assert r.F == pytest.approx(F_star, abs=1e-6)


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["follower"] == "integer"],
                         ids=lambda e: e["mps"])
def test_integer_follower_is_kept_solved_by_auto_and_refused_clearly_by_kkt(entry):
    p = read_mps_aux(DATA / entry["mps"])
    ev = p.evaluate(entry["x_best"], entry["y_best"])
    assert ev["F"] == entry["F_best"] and ev["g_violation"] == 0 and ev["G_violation"] == 0
    with pytest.raises(UnsupportedStructureError, match=rf"follower variable {p.y_names[0]} is integer"):
        bmp.solve(p, method="kkt", time_limit=10)
    r = bmp.solve(p, time_limit=30)
    assert r.status == "optimal" and r.certified and r.found_by == "value_function"
    assert r.F == pytest.approx(brute_force(TEXTBOOK[entry["mps"]])[0], abs=1e-9)


# ------------------------------------------------------------------ round trips
def _mixed_problem():
    """Equalities, free and negative-bounded variables, integer x and y, max senses,
    an x term and a constant in f (dropped on writing), a constant in F."""
    p = bmp.BilevelProblem(2, 3, name="mixed case", x_bounds=[(None, None), (-2, 3)],
                           y_bounds=[(0, None), (-1, 4), (None, 7)], x_integer=[False, True],
                           x_names=["a b", "x2"])
    x, y = p.x, p.y
    p.y[1].domain = pyo.Integers
    p.set_upper(2 * x[0] - x[1] + 0.5 * y[0] - y[2] + 4, [x[0] + y[1] <= 10, x[0] - x[1] == 1], sense="max")
    p.set_lower(3 * y[0] - y[1] + 2 * y[2] + 5 * x[0] + 1,
                [y[0] + y[1] + y[2] >= 1, 2 * y[0] - x[1] == 3 * y[2], -y[0] + 4 * y[1] <= x[0] + 6],
                sense="max")
    return p


def _roundtrip_cases():
    return [random_lplp(6, 1), random_lplp(5, 2), get("IntegerLeaderLP"), get("BilevelJuMPReadme"),
            _mixed_problem()]


@pytest.mark.parametrize("dialect", ["keyword", "legacy"])
def test_round_trip_preserves_objectives_constraints_bounds_integrality(tmp_path, dialect):
    rng = np.random.default_rng(3)
    for k, p in enumerate(_roundtrip_cases()):
        mps, aux = tmp_path / f"p{k}.mps", tmp_path / f"p{k}.aux"
        with pytest.warns(UserWarning, match="constant for the follower") if p.name == "mixed case" \
                else _no_warning():
            write_mps_aux(p, mps, aux, dialect=dialect)
        q = read_mps_aux(mps, aux)
        assert (q.n_x, q.n_y) == (p.n_x, p.n_y)
        assert q.x_names + q.y_names == [s.replace(" ", "_") for s in p.x_names + p.y_names]
        assert q.x_is_integer() == p.x_is_integer()
        assert [v.is_continuous() for v in q.y.values()] == [v.is_continuous() for v in p.y.values()]
        for a, b in ((p.x, q.x), (p.y, q.y)):
            assert [(v.lb, v.ub) for v in a.values()] == [(v.lb, v.ub) for v in b.values()]
        assert [c.name.replace(" ", "_") for c in p.G] == [c.name for c in q.G]
        assert [c.name.replace(" ", "_") for c in p.g] == [c.name for c in q.g]
        assert [c.kind for c in p.G + p.g] == [c.kind for c in q.G + q.g]
        assert q.lower_sense == (p.lower_sense if dialect == "legacy" else "min")
        for _ in range(10):
            x, y = rng.uniform(-3, 3, p.n_x), rng.uniform(-3, 3, p.n_y)
            p.set_point(x, y), q.set_point(x, y)
            assert pyo.value(q.F) == pytest.approx(pyo.value(p.F), abs=1e-9)  # both in min form
            # f keeps its y terms only: f(x, y) - f(x, 0)
            fp = pyo.value(p.f)
            p.set_point(x, np.zeros(p.n_y))
            assert pyo.value(q.f) == pytest.approx(fp - pyo.value(p.f), abs=1e-9)
            p.set_point(x, y)
            for c, d in zip(p.G + p.g, q.G + q.g):
                assert d.value() == pytest.approx(c.value(), abs=1e-9)


class _no_warning:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("error", UserWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


LINEAR_BOLIB = ["Bard1984a", "Bard1984b", "GlackinEtal2009", "MershaDempe2006Ex2", "TuyEtal1993",
                "TuyEtal1994", "VisweswaranEtal1996", "WangJiaoLi2005", "MitsosBarton2006Ex31"]


def test_bolib_json_through_mps_aux_solves_to_the_same_F(tmp_path):
    for name in LINEAR_BOLIB:
        entry = bolib_entries()[name]
        src = tmp_path / f"{name}.json"
        src.write_text(json.dumps(entry))
        original = load_problems(src)[0]
        write_mps_aux(original, tmp_path / f"{name}.mps", tmp_path / f"{name}.aux")
        copy = load_problems(tmp_path / f"{name}.mps")[0]  # dispatch by extension, AUX next to it
        r1, r2 = bmp.solve(original, time_limit=20), bmp.solve(copy, time_limit=20)
        assert r1.status == r2.status == "optimal", name
        assert r1.certified and r2.certified, name
        assert r2.F == pytest.approx(r1.F, rel=1e-6, abs=1e-6), name


def test_writing_a_nonlinear_problem_names_the_expression(tmp_path):
    p = problem_from_dict({"name": "nl", "n_x": 1, "n_y": 1, "F": "x[0] + y[0]", "f": "y[0]",
                           "G": [], "g": ["y[0] - x[0]**2"]})
    with pytest.raises(BilevelInputError, match=r"constraint 'g\[0\]' is not linear"):
        write_mps_aux(p, tmp_path / "nl.mps", tmp_path / "nl.aux")
    q = problem_from_dict({"name": "nl2", "n_x": 1, "n_y": 1, "F": "x[0] * y[0]", "f": "y[0]"})
    with pytest.raises(BilevelInputError, match="upper-level objective F is not linear"):
        write_mps_aux(q, tmp_path / "nl2.mps")
    assert not (tmp_path / "nl2.aux").exists()


# ------------------------------------------------------------------ CLI
def test_cli_solves_mps_with_auto_detected_and_explicit_aux(tmp_path):
    out = tmp_path / "r.json"
    assert main(["solve", str(DATA / "integer_leader_max.mps"), "--time-limit", "30", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["status"] == "optimal" and rec["certified"]
    assert rec["F"] == pytest.approx(brute_force(TEXTBOOK["integer_leader_max.mps"])[0], abs=1e-6)
    # the AUX elsewhere, under another name
    mps = tmp_path / "inst.mps.gz"
    import gzip

    mps.write_bytes(gzip.compress((DATA / "moore_bard_cont.mps").read_bytes()))
    aux = tmp_path / "sub" / "legacy.txt"
    aux.parent.mkdir()
    shutil.copy(DATA / "moore_bard_cont.aux", aux)
    assert main(["solve", str(mps), "--aux", str(aux), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["F"] == pytest.approx(brute_force(TEXTBOOK["moore_bard_cont.mps"])[0])


def _bad(tmp_path, aux_text, mps="bilevel_jump_readme.mps"):
    shutil.copy(DATA / mps, tmp_path / "b.mps")
    (tmp_path / "b.aux").write_text(aux_text)
    return tmp_path / "b.mps"


BAD_AUX = [
    ("@NUMVARS\n1\n@NUMCONSTRS\n1\n@VARSBEGIN\nz 1\n@VARSEND\n@CONSTRSBEGIN\nl1\n@CONSTRSEND\n",
     "lower-level variable 'z' is not a column of b.mps"),
    ("@NUMVARS\n2\n@NUMCONSTRS\n1\n@VARSBEGIN\ny 1\n@VARSEND\n@CONSTRSBEGIN\nl1\n@CONSTRSEND\n",
     "mismatched counts: @NUMVARS says 2 but the file lists 1"),
    ("@NUMVARS\n1\n@NUMCONSTRS\n1\n@VARSBEGIN\ny 1\n@VARSEND\n@CONSTRSBEGIN\nl9\n@CONSTRSEND\n",
     "lower-level constraint 'l9' is not a row of b.mps"),
    ("@NUMVARS\n1\n@VARSBEGIN\ny 1\n@CONSTRSBEGIN\nl1\n@CONSTRSEND\n", "inside an open @VARSBEGIN"),
    ("@NUMVARS\n1\n@VARSBEGIN\ny\n@VARSEND\n", "expected 'variable_name coefficient'"),
    ("@NUMVARS\n1\n@BUDGET\n3\n", "unknown AUX keyword '@BUDGET'"),
    ("@NUMVARS\n2\n@VARSBEGIN\ny 1\n@VARSEND\n@VARSBEGIN\ny 2\n@VARSEND\n", "listed twice"),
    ("N 1\nM 1\nLC 5\nLR 0\nLO 1\nOS 1\n", "index 5 is out of range: b.mps has 2 columns"),
    ("N 2\nLC 1\nLC y\nLO 1\nLO 1\n", "column 'y' of b.mps is named twice"),
    ("N 1\nM 2\nLC 1\nLR 0\nLO 1\n", "mismatched counts: M says 2 but the file lists 1 LR lines"),
    ("N 1\nLC 1\nLO 1\nLO 2\n", "2 LO coefficients for 1 lower-level variables"),
    ("N 1\nLC 1\nLO 1\nOS 2\n", "OS must be 1 (min) or -1 (max)"),
    ("N 1\nLC 1\nLO 1\nIB 3\n", "interdiction data"),
    ("N 1\nLC\n", "has no value"),
]


@pytest.mark.parametrize("text,message", BAD_AUX, ids=[m[:30] for _, m in BAD_AUX])
def test_bad_aux_gives_a_clear_error(tmp_path, text, message):
    mps = _bad(tmp_path, text)
    with pytest.raises(BilevelInputError) as exc:
        read_mps_aux(mps)
    assert message in str(exc.value)


def test_bad_input_from_the_cli_exits_2_with_a_message(tmp_path, capsys):
    shutil.copy(DATA / "moore_bard_cont.mps", tmp_path / "alone.mps")
    assert main(["solve", str(tmp_path / "alone.mps")]) == 2
    assert "no AUX file for" in capsys.readouterr().err
    mps = _bad(tmp_path, BAD_AUX[0][0])
    assert main(["solve", str(mps)]) == 2
    assert "'z' is not a column" in capsys.readouterr().err
    assert main(["solve", str(mps), "--aux", str(tmp_path / "none.aux")]) == 2
    assert "no such AUX file" in capsys.readouterr().err
    json_file = tmp_path / "p.json"
    json_file.write_text(json.dumps(problem_to_dict(get("Bard1984a"))))
    assert main(["solve", str(json_file), "--aux", str(tmp_path / "b.aux")]) == 2
    assert "goes with an MPS/LP instance file" in capsys.readouterr().err
    # the real process: exit code 2, a one-line message, no traceback
    _bad(tmp_path, BAD_AUX[1][0])
    r = subprocess.run([sys.executable, "-m", "bilevel_mp.cli", "solve", str(tmp_path / "b.mps")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "mismatched counts" in r.stderr and "Traceback" not in r.stderr


def test_bad_mps_is_reported_not_dropped(tmp_path):
    text = (DATA / "moore_bard_int.mps").read_text().replace("    y         c_3       2",
                                                               "    y         c_9       2")
    (tmp_path / "m.mps").write_text(text)
    shutil.copy(DATA / "moore_bard_int.aux", tmp_path / "m.aux")
    with pytest.raises(BilevelInputError, match="c_9"):
        read_mps_aux(tmp_path / "m.mps")
    (tmp_path / "m.mps").write_text("this is not an MPS file\n")
    with pytest.raises(BilevelInputError, match="m.mps"):
        read_mps_aux(tmp_path / "m.mps")


def test_read_aux_dialects_and_find_aux(tmp_path):
    a = read_aux(DATA / "moore_bard_int.aux")  # MibS spellings @NUMCONSTR, @CONSTRBEGIN
    assert (a.dialect, a.lower_vars, a.lower_rows, a.name) == \
        ("keyword", ["y"], ["c_2", "c_3", "c_4", "c_5"], "moore-and-bard-int")
    b = read_aux(DATA / "integer_leader_max.aux")  # legacy with names and OS -1
    assert (b.dialect, b.lower_vars, b.lower_obj, b.sense) == ("legacy", ["y1", "y2"], [-1.0, -2.0], "max")
    c = read_aux(DATA / "moore_bard_cont.aux")  # legacy with indices
    assert (c.lower_vars, c.lower_rows) == ([1], [0, 1, 2, 3])
    (tmp_path / "i.mps.gz").write_bytes(b"")
    assert find_aux(tmp_path / "i.mps.gz") is None
    (tmp_path / "i.mps.aux").write_text("N 1\n")
    assert find_aux(tmp_path / "i.mps.gz") == tmp_path / "i.mps.aux"
    (tmp_path / "i.aux").write_text("N 1\n")
    assert find_aux(tmp_path / "i.mps.gz") == tmp_path / "i.aux"
