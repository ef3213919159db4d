"""MibS's own instances through the MPS+AUX front end: read as MibS reads them.

- every instance of the MibS data set in ``../shared/mibs`` (or ``$BILEVEL_MP_MIBS_DIR``;
  these tests skip without it) is read, with MibS's sizes (``optima.jsonl``);
- four small ones copied into ``tests/data/mps_aux/mibs`` (README there) are solved by
  brute force here, independently of the package's methods, to MibS's objective; so
  are the ten 10-item knapsack-interdiction instances when the data set is present;
- the interdiction model (``IC``/``IB``), name-based ``LC``/``LR``, Windows line ends,
  CoinMpsIO's bound conventions, and one-line errors for bad interdiction data.

The brute force (``brute_force``) enumerates every integer x in its box and, for each,
every integer y (pruned by interval bounds of the rows), takes the follower's optimum
and, among the follower's optimal y, the best for the leader (optimistic), then the best
x. It needs the problem's objectives and rows as numpy arrays: ``affine`` reads them off
``problem.evaluate`` (F, f) and the rows' values at the origin and the unit points, and
checks them against ``problem.evaluate`` at random points; the two tiniest instances are
also brute-forced with ``problem.evaluate`` alone.
"""

import itertools
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from bilevel_mp.cli import main
from bilevel_mp.errors import BilevelInputError
from bilevel_mp.frontends.mps_aux import find_aux, read_aux, read_mps_aux

DATA = Path(__file__).parent / "data" / "mps_aux" / "mibs"
COPIED = json.loads((DATA / "optima.json").read_text())
MIBS_DIR = Path(os.environ.get("BILEVEL_MP_MIBS_DIR")
                or Path(__file__).resolve().parents[2] / "shared" / "mibs")
SHARED = ([json.loads(line) for line in (MIBS_DIR / "optima.jsonl").read_text().splitlines() if line.strip()]
          if (MIBS_DIR / "optima.jsonl").is_file() else [])
needs_shared = pytest.mark.skipif(not SHARED, reason=f"the MibS data set is not at {MIBS_DIR} "
                                                     "(set BILEVEL_MP_MIBS_DIR)")
TOL = 1e-6


def _copied(name):
    e = next(e for e in COPIED if e["name"] == name)
    return DATA / e["mps"], DATA / e["aux"], e


def _sizes(p):
    return p.n_x, p.n_y, len(p.meta["upper_rows"]), len(p.meta["lower_rows"])


def _mibs_sizes(e):
    return e["n_upper_cols"], e["n_lower_cols"], e["n_upper_rows"], e["n_lower_rows"]


# ------------------------------------------------------------------ brute force
def affine(p, rng=None, checks=40):
    """(lo, hi, integer, c, A, kind): the leader's and the follower's objectives in
    minimisation form as rows 0 and 1 of ``c + A v`` (v = x then y), the rows of G then
    g after them (``kind`` "ge" body >= 0 or "eq"), read off the problem at the origin and
    the unit points, then checked against ``problem.evaluate`` at random points."""
    nx, n = p.n_x, p.n_x + p.n_y
    rows = p.G + p.g
    fsign = -1.0 if p.lower_sense == "max" else 1.0
    variables = list(p.x.values()) + list(p.y.values())
    lo = np.array([v.lb for v in variables], float)
    hi = np.array([v.ub for v in variables], float)
    assert np.isfinite(lo).all() and np.isfinite(hi).all(), "brute force needs a bounded box"

    def at(v):
        ev = p.evaluate(v[:nx], v[nx:])
        return np.array([p.sense_sign * ev["F"], fsign * ev["f"], *(c.value() for c in rows)]), ev

    c, _ = at(np.zeros(n))
    A = np.column_stack([at(np.eye(n)[j])[0] - c for j in range(n)]) if n else np.zeros((len(c), 0))
    kind = np.array(["ge", "ge"] + [r.kind for r in rows])
    rng = rng or np.random.default_rng(0)
    nG = len(p.G)
    for _ in range(checks):  # affine, and the same F, f and violations as evaluate
        v = rng.integers(lo, hi + 1).astype(float)
        got, ev = at(v)
        assert np.allclose(got, c + A @ v, atol=1e-9)
        viol = np.where(kind == "eq", np.abs(got), np.maximum(0.0, -got))
        assert ev["G_violation"] == pytest.approx(max(viol[2:2 + nG], default=0.0), abs=1e-9)
        assert ev["g_violation"] == pytest.approx(max(viol[2 + nG:], default=0.0), abs=1e-9)
    integer = np.array([not v.is_continuous() for v in variables])
    return lo, hi, integer, c, A, kind, nG


def _extend(states, part, j, lo, hi, A, rows, kind):
    """Extend integer points ``states`` (k x j) by column j, keeping those that can still
    satisfy ``rows`` with the later columns anywhere in their box (interval bounds)."""
    vals = np.arange(lo[j], hi[j] + 1)
    states = np.column_stack([np.repeat(states, len(vals), axis=0), np.tile(vals, len(states))])
    part = np.repeat(part, len(vals), axis=0) + np.outer(np.tile(vals, len(part)), A[rows, j])
    later = A[rows, j + 1:]
    top = np.maximum(later * lo[j + 1:], later * hi[j + 1:]).sum(axis=1)
    bottom = np.minimum(later * lo[j + 1:], later * hi[j + 1:]).sum(axis=1)
    ok = (part + top >= -TOL).all(axis=1)
    eq = kind[rows] == "eq"
    if eq.any():
        ok &= (part[:, eq] + bottom[eq] <= TOL).all(axis=1)
    return states[ok], part[ok]


def brute_force(p, max_pairs=2 ** 21):
    """The optimistic bilevel optimum of an all-integer bounded ``p`` in minimisation form
    (the leader's F times ``p.sense_sign``), with its x, y and the number of pairs tried."""
    lo, hi, integer, c, A, kind, nG = affine(p)
    assert integer.all(), "brute force enumerates integer variables only"
    nx, n = p.n_x, p.n_x + p.n_y
    every, lower = np.arange(2, len(c)), np.arange(2 + nG, len(c))
    states, part = np.zeros((1, 0)), c[every][None, :]
    for j in range(nx):  # leader: rows of both levels, y anywhere in its box
        states, part = _extend(states, part, j, lo, hi, A, every, kind)
    part = part[:, nG:]  # the follower: its own rows only (its choice ignores G)
    for j in range(nx, n):
        states, part = _extend(states, part, j, lo, hi, A, lower, kind)
        assert len(states) <= max_pairs, "enumeration too large"
    if not len(states):
        return None
    vals = c + states @ A.T
    _, group = np.unique(states[:, :nx], axis=0, return_inverse=True)
    group = group.ravel()
    fstar = np.full(group.max() + 1, np.inf)
    np.minimum.at(fstar, group, vals[:, 1])
    upper = vals[:, 2:2 + nG]
    g_ok = np.where(kind[2:2 + nG] == "eq", np.abs(upper) <= TOL, upper >= -TOL).all(axis=1)
    candidate = (vals[:, 1] <= fstar[group] + TOL) & g_ok
    if not candidate.any():
        return None
    k = np.flatnonzero(candidate)[np.argmin(vals[candidate, 0])]
    return float(vals[k, 0]), states[k, :nx], states[k, nx:], len(states)


def brute_force_by_evaluate(p):
    """The same optimum with ``problem.evaluate`` alone, over the whole integer box."""
    box = [range(int(v.lb), int(v.ub) + 1) for v in list(p.x.values()) + list(p.y.values())]
    fsign = -1.0 if p.lower_sense == "max" else 1.0
    xs = list(itertools.product(*box[:p.n_x]))
    ys = list(itertools.product(*box[p.n_x:]))
    best = None
    for x in xs:
        evs = [(y, p.evaluate(x, y)) for y in ys]
        evs = [(y, ev) for y, ev in evs if ev["g_violation"] <= TOL]
        if not evs:
            continue
        fstar = min(fsign * ev["f"] for _, ev in evs)
        for y, ev in evs:
            if fsign * ev["f"] <= fstar + TOL and ev["G_violation"] <= TOL:
                val = p.sense_sign * ev["F"]
                if best is None or val < best[0]:
                    best = (val, x, y)
    return best


@pytest.mark.parametrize("entry", COPIED, ids=[e["name"] for e in COPIED])
def test_copied_instance_is_brute_forced_to_mibs_objective(entry):
    p = read_mps_aux(DATA / entry["mps"], DATA / entry["aux"])
    assert _sizes(p) == _mibs_sizes(entry)
    best, x, y, pairs = brute_force(p)
    assert best == pytest.approx(entry["objective"], abs=1e-6)
    ev = p.evaluate(x, y)  # the optimum found is a feasible point of the problem read
    assert p.sense_sign * ev["F"] == pytest.approx(best) and ev["G_violation"] <= TOL >= ev["g_violation"]
    assert pairs <= 2 ** 21


@pytest.mark.parametrize("name", ["moore90WithName", "knapsack"])
def test_tiny_instances_by_evaluate_alone(name):
    mps, aux, entry = _copied(name)
    p = read_mps_aux(mps, aux)
    assert brute_force_by_evaluate(p)[0] == pytest.approx(entry["objective"])


KNAPSACK_10 = [e for e in SHARED if "10_ITEMS_1000" in e["mps"]]


@needs_shared
@pytest.mark.parametrize("entry", KNAPSACK_10, ids=[e["name"] for e in KNAPSACK_10])
def test_ten_item_knapsack_interdiction_is_brute_forced_to_mibs_objective(entry):
    p = read_mps_aux(MIBS_DIR / entry["mps"], MIBS_DIR / entry["aux"])
    assert brute_force(p)[0] == pytest.approx(entry["objective"], abs=1e-6)


# ------------------------------------------------------------------ the whole data set
@needs_shared
@pytest.mark.parametrize("entry", SHARED, ids=[e["name"] for e in SHARED])
def test_every_mibs_instance_reads_with_mibs_sizes(entry):
    """Sizes are counted as MibS counts them: columns, and rows of the MPS file (or of
    MibS's interdiction model). The constraint lists G and g may hold another number:
    an empty row is left out (p0033's ZBESTROW) and a ranged row gives two."""
    p = read_mps_aux(MIBS_DIR / entry["mps"], MIBS_DIR / entry["aux"])
    assert _sizes(p) == _mibs_sizes(entry)
    base = {c.name.removesuffix(".lo").removesuffix(".hi") for c in p.G + p.g}
    assert {c.name.removesuffix(".lo").removesuffix(".hi") for c in p.G} <= set(p.meta["upper_rows"])
    assert {c.name.removesuffix(".lo").removesuffix(".hi") for c in p.g} <= set(p.meta["lower_rows"])
    assert set(p.meta["upper_rows"] + p.meta["lower_rows"]) - base <= {"ZBESTROW"}  # p0033's, empty
    assert all(p.meta["y_integer"]) and entry["follower_type"] == "integer"
    assert p.meta["mibs_conventions"] and p.meta["dialect"] == "legacy"
    interdiction = read_aux(MIBS_DIR / entry["aux"]).interdiction  # the README: these sets and p0033
    assert interdiction == (entry["mps"].startswith("interdiction/") or entry["name"] == "p0033")
    if interdiction:
        assert p.meta["mibs_interdiction"]["budget"] >= 0 and all(p.x_is_integer())


@needs_shared
def test_copied_files_are_unchanged_copies():
    for e in COPIED:
        src = next(s for s in SHARED if s["name"] == e["name"])
        for key in ("mps", "aux"):
            assert (DATA / e[key]).read_bytes() == (MIBS_DIR / src[key]).read_bytes()
        assert src["objective"] == e["objective"] and _mibs_sizes(src) == _mibs_sizes(e)


# ------------------------------------------------------------------ the interdiction model
def test_interdiction_file_builds_mibs_interdiction_model():
    """F5010W01: x_j binary interdicts item j; budget row sum IC x <= IB is the leader's
    only row; the follower keeps its knapsack row and y_j <= u_j (1 - x_j); the leader
    minimises minus the MPS objective (the follower's profit)."""
    mps, aux, _ = _copied("F5010W01.KNP")
    p = read_mps_aux(mps, aux)
    cols = [f"C000000{j}" for j in range(10)]
    assert p.x_names == [f"interdict[{c}]" for c in cols] and p.y_names == cols
    assert all(v.lb == 0 and v.ub == 1 and v.is_integer() for v in list(p.x.values()) + list(p.y.values()))
    assert p.meta["upper_rows"] == ["interdiction_budget"]
    assert p.meta["lower_rows"] == ["R0000000"] + [f"interdict[{c}]" for c in cols]
    costs = [280, 235, 278, 37, 214, 155, 216, 69, 261, 202]
    profit = [86, 129, 32, 230, 165, 260, 83, 138, 236, 95]
    assert p.meta["mibs_interdiction"] == {"costs": costs, "budget": 1461, "columns": cols}
    assert any("interdiction model" in n for n in p.meta["notes"])
    zero, e = np.zeros(10), np.eye(10)
    for j in range(10):
        ev = p.evaluate(zero, e[j])
        assert (ev["F"], ev["f"], ev["G_violation"], ev["g_violation"]) == (profit[j], -profit[j], 0, 0)
        assert p.evaluate(e[j], e[j])["g_violation"] == 1  # an interdicted item cannot be taken
        assert p.evaluate(e[j], e[(j + 1) % 10])["g_violation"] == 0
    assert p.evaluate(np.ones(10), zero)["G_violation"] == sum(costs) - 1461
    weights = [112, 14, 156, 175, 82, 221, 44, 94, 292, 223]
    assert p.evaluate(zero, np.ones(10))["g_violation"] == sum(weights) - 706


def test_name_based_legacy_file_is_moore_and_bard():
    """moore90WithName gives LC/LR by name (MibS's -MibS_inputFormat nameBased): the
    Moore & Bard example, as the keyword fixture tests/data/mps_aux/moore_bard_int."""
    mps, aux, _ = _copied("moore90WithName")
    p = read_mps_aux(mps, aux)
    assert read_aux(aux).lower_vars == ["LV"] and read_aux(aux).lower_rows == ["R1", "R2", "R3", "R4"]
    assert (p.x_names, p.y_names, p.meta["upper_rows"]) == (["UV"], ["LV"], [])
    q = read_mps_aux(DATA.parent / "moore_bard_int.mps")
    for x, y in itertools.product(range(11), range(6)):
        a, b = p.evaluate([x], [y]), q.evaluate([x], [y])
        assert (a["F"], a["f"], a["g_violation"]) == (b["F"], b["f"], b["g_violation"])


# ------------------------------------------------------------------ line ends
def _same_model(p, q, points=30):
    assert (p.x_names, p.y_names, p.meta["upper_rows"], p.meta["lower_rows"]) == \
        (q.x_names, q.y_names, q.meta["upper_rows"], q.meta["lower_rows"])
    assert [(v.lb, v.ub) for v in p.y.values()] == [(v.lb, v.ub) for v in q.y.values()]
    rng = np.random.default_rng(1)
    for _ in range(points):
        x, y = rng.integers(0, 3, p.n_x), rng.integers(0, 3, p.n_y)
        assert p.evaluate(x, y) == q.evaluate(x, y)


@pytest.mark.parametrize("mps,aux", [("moore_bard_cont.mps", "moore_bard_cont.aux"),
                                     ("moore_bard_int.mps", "moore_bard_int.aux"),
                                     ("mibs/knapsack.mps", "mibs/knapsack.txt")])
@pytest.mark.parametrize("mps_end,aux_end", [("\r\n", "\r\n"), ("\n", "\r\r\n"), ("\r\n", "\n")])
def test_windows_line_ends_read_the_same_model(tmp_path, mps, aux, mps_end, aux_end):
    base = DATA.parent
    texts = [(base / f).read_bytes().decode().replace("\r", "").split("\n") for f in (mps, aux)]
    (tmp_path / "u.mps").write_bytes("\n".join(texts[0]).encode())
    (tmp_path / "u.aux").write_bytes("\n".join(texts[1]).encode())
    (tmp_path / "w.mps").write_bytes(mps_end.join(texts[0]).encode())
    (tmp_path / "w.aux").write_bytes(aux_end.join(texts[1]).encode())
    assert b"\r" not in (tmp_path / "u.mps").read_bytes() + (tmp_path / "u.aux").read_bytes()
    _same_model(read_mps_aux(tmp_path / "u.mps", tmp_path / "u.aux"),
                read_mps_aux(tmp_path / "w.mps", tmp_path / "w.aux"))


# ------------------------------------------------------------------ CoinMpsIO's conventions
CONV_MPS = """NAME conv
ROWS
 N obj
 L c1
COLUMNS
 M1 'MARKER' 'INTORG'
 a obj 1 c1 1
 b obj 1 c1 1
 d obj 1 c1 1
 M2 'MARKER' 'INTEND'
 e obj 1 c1 1
RHS
 rhs c1 10
BOUNDS
 UP bnd b 4.999999
 LO bnd d 0
{extra}ENDATA
"""
LEGACY_AUX = "N 1\nM 1\nLC 0\nLR 0\nLO 1\nOS 1\n"
KEYWORD_AUX = "@NUMVARS\n1\n@NUMCONSTRS\n1\n@VARSBEGIN\na 1\n@VARSEND\n@CONSTRSBEGIN\nc1\n@CONSTRSEND\n"


def _conv(tmp_path, aux, extra=""):
    (tmp_path / "c.mps").write_text(CONV_MPS.format(extra=extra))
    (tmp_path / "c.aux").write_text(aux)
    return read_mps_aux(tmp_path / "c.mps")


def test_legacy_files_follow_coinmpsio_bounds_and_say_so(tmp_path):
    p = _conv(tmp_path, LEGACY_AUX, " UP bnd e -2\n")
    bounds = {n: (v.lb, v.ub) for n, v in zip(p.x_names + p.y_names, list(p.x.values()) + list(p.y.values()))}
    # a: integer, no BOUNDS entry -> binary; b: integer, 4.999999 -> 5; d: LO 0 only -> [0, inf)
    # e: continuous, a negative UP first -> lower bound -inf
    assert bounds == {"a": (0, 1), "b": (0, 5), "d": (0, None), "e": (None, -2)}
    assert p.meta["mibs_conventions"] is True
    notes = " | ".join(p.meta["notes"])
    assert "CoinMpsIO's convention (MibS's reader" in notes and "binary [0, 1]: a" in notes
    assert "frees the lower bound (-inf): e" in notes and "rounded to it: b" in notes


def test_keyword_files_keep_highs_bounds_and_note_the_binary_default(tmp_path):
    p = _conv(tmp_path, KEYWORD_AUX)
    bounds = {n: (v.lb, v.ub) for n, v in zip(p.x_names + p.y_names, list(p.x.values()) + list(p.y.values()))}
    assert bounds == {"a": (0, 1), "b": (0, 4.999999), "d": (0, None), "e": (0, None)}
    assert p.meta["mibs_conventions"] is False
    assert p.meta["notes"] == ["the MPS convention (HiGHS, CPLEX, Gurobi, CoinMpsIO): integer columns with "
                               "no BOUNDS entry are binary [0, 1]: a"]
    with pytest.raises(BilevelInputError, match="an UP bound below 0 keeps the default lower bound 0"):
        _conv(tmp_path, KEYWORD_AUX, " UP bnd e -2\n")


def test_knapsack_integers_without_bounds_are_binary_as_in_mibs():
    """MibS's notInterdiction/knapsack.mps has no BOUNDS section: CoinMpsIO makes its 14
    integer columns binary (rows x_i + y_i <= 1 happen to imply it here)."""
    mps, aux, _ = _copied("knapsack")
    p = read_mps_aux(mps, aux)
    assert all((v.lb, v.ub) == (0, 1) and v.is_integer() for v in list(p.x.values()) + list(p.y.values()))
    assert p.meta["notes"] == ["CoinMpsIO's convention (MibS's reader; HiGHS, CPLEX and Gurobi agree): integer "
                               "columns with no BOUNDS entry are binary [0, 1]: C0001, C0002, C0003, C0004, "
                               "C0005, C0006, C0007, C0008, ... (14 columns)"]


def test_a_legacy_objective_constant_is_kept_and_noted(tmp_path):
    text = (DATA.parent / "moore_bard_cont.mps").read_text()
    (tmp_path / "k.mps").write_text(text.replace("    B         lower4    15\n",
                                                 "    B         lower4    15\n    B         upperobj  -4\n"))
    shutil.copy(DATA.parent / "moore_bard_cont.aux", tmp_path / "k.aux")
    p = read_mps_aux(tmp_path / "k.mps")
    assert p.evaluate([0], [0])["F"] == 4
    assert p.meta["notes"] == ["the objective constant 4 is kept; MibS drops it (its objective values differ by it)"]


def test_a_file_with_bounds_on_every_column_gets_no_note():
    p = read_mps_aux(DATA.parent / "mibs_general_example.mps")
    assert p.meta["notes"] == [] and p.meta["mibs_conventions"] is True
    q = read_mps_aux(DATA.parent / "integer_leader_max.mps")  # legacy, OBJSENSE MAX
    assert q.upper_sense == "max" and any("MibS (CoinMpsIO) ignores it" in n for n in q.meta["notes"])


# ------------------------------------------------------------------ finding and bad input
def test_find_aux_also_looks_for_mibs_txt(tmp_path):
    mps, aux, _ = _copied("moore90WithName")
    shutil.copy(mps, tmp_path / "m.mps")
    shutil.copy(aux, tmp_path / "m.txt")
    assert find_aux(tmp_path / "m.mps") == tmp_path / "m.txt"
    assert read_mps_aux(tmp_path / "m.mps").y_names == ["LV"]
    (tmp_path / "m.aux").write_text(LEGACY_AUX)
    assert find_aux(tmp_path / "m.mps") == tmp_path / "m.aux"


def _lines(path):
    return path.read_bytes().decode().replace("\r", "").splitlines()


def _drop(lines, start):
    k = next(i for i, ln in enumerate(lines) if ln.startswith(start))
    return lines[:k] + lines[k + 1:]


def _sub(lines, old, new):
    assert old in lines
    return [new if ln == old else ln for ln in lines]


AUX0 = _lines(DATA / "F5010W01.KNP.txt")
MPS0 = _lines(DATA / "F5010W01.KNP.mps")
BAD_INTERDICTION = [
    (_drop(AUX0, "IC"), MPS0, "mismatched counts: 9 IC lines (interdiction costs) but F.mps has 10 columns"),
    (_sub(AUX0, "IB 1461", "IB -5"), MPS0, "the interdiction budget IB -5 is negative"),
    (_drop(AUX0, "IB"), MPS0, "10 IC lines (interdiction costs) but no IB line"),
    (AUX0 + ["IB 7"], MPS0, "a second IB line (the budget is already given on line"),
    (_sub(AUX0, "IC 37", "IC -3"), MPS0, "the interdiction cost IC -3 is negative"),
    ([ln for ln in AUX0 if not ln.startswith("IC")], MPS0, "IB (the interdiction budget) without IC lines"),
    (_sub(AUX0, "IB 1461", "IB lots"), MPS0, "'lots' is not a number"),
    (_sub(AUX0, "LC 10", "LC C0000000"), MPS0, "an interdiction file gives LC as indices"),
    (_sub(AUX0, "LC 10", "LC 3"), MPS0, "LC 3 is an interdiction (leader) column"),
    (_sub(AUX0, "LC 10", "LC 20"), MPS0, "LC 20 is MibS's auxiliary column, in neither level"),
    (_sub(AUX0, "LC 10", "LC 25"), MPS0, "LC 25 is out of range"),
    (_drop(_drop(_sub(AUX0, "N 10", "N 9"), "LC 19"), "LO"), MPS0, "LC lists 9 of the 10 follower columns"),
    (_sub(AUX0, "LR 11", "LR 12"), MPS0, "LR 12 is out of range: MibS's interdiction model has 12 rows"),
    (AUX0, _drop(MPS0, " BV BOUND     C0000004"), "column 'C0000004' has no finite upper bound"),
    (AUX0, MPS0[:1] + ["OBJSENSE", "    MAX"] + MPS0[1:], "OBJSENSE MAX in an interdiction instance"),
    (AUX0, _sub(MPS0, "    RHS       R0000000  706.        ",
                "    RHS       R0000000  706.         OBJROW  5"), "the objective has a constant"),
]


@pytest.mark.parametrize("aux_lines,mps_lines,message", BAD_INTERDICTION,
                         ids=[m[:40] for _, _, m in BAD_INTERDICTION])
def test_bad_interdiction_data_gives_a_one_line_error(tmp_path, aux_lines, mps_lines, message):
    (tmp_path / "F.mps").write_text("\n".join(mps_lines) + "\n")
    (tmp_path / "F.txt").write_text("\r\n".join(aux_lines) + "\r\n")
    with pytest.raises(BilevelInputError) as exc:
        read_mps_aux(tmp_path / "F.mps")
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert str(exc.value).startswith(str(tmp_path))


def test_bad_interdiction_data_from_the_cli_exits_2(tmp_path, capsys):
    (tmp_path / "F.mps").write_text("\n".join(MPS0) + "\n")
    (tmp_path / "F.txt").write_text("\n".join(_drop(AUX0, "IB")) + "\n")
    assert main(["solve", str(tmp_path / "F.mps")]) == 2
    err = capsys.readouterr().err
    assert "no IB line" in err and "Traceback" not in err
