"""Live progress (``bilevel_mp.progress``): quiet by default, a line per event with
``verbose=True``, and the solvers' running bounds bracket the proven optimum."""

from __future__ import annotations

import io

import pytest

import bilevel_mp as bmp
from bilevel_mp import progress
from bilevel_mp.library import knapsack_interdiction, solve_by_enumeration
from bilevel_mp.library.classic import get
from bilevel_mp.library.toll import grid_network, toll_setting


class Recorder(progress.Progress):
    """Keeps every event (a reporter as a solve sees it)."""

    active = True

    def __init__(self):
        self.events = []

    def begin(self, name, method, sign=1.0, time_limit=None):
        self.events.append(("begin", name, method, sign))

    def stage(self, name):
        self.events.append(("stage", name))

    def model(self, primal, dual):
        self.events.append(("model", primal, dual))

    def point(self, F, bound):
        self.events.append(("point", F, bound))

    def end(self, status=None):
        self.events.append(("end", status))


def _assert_bracketed(recorder, opt):
    """Every reported incumbent is >= the optimum ``opt`` and every bound <= it (min form)."""
    models = [e for e in recorder.events if e[0] == "model"]
    assert models, "the solver reported nothing"
    tol = 1e-6 * max(1.0, abs(opt))
    for _, primal, dual in models:
        if primal is not None and abs(primal) < 1e19:
            assert primal >= opt - tol
        if dual is not None and abs(dual) < 1e19:
            assert dual <= opt + tol


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(progress, "Live", lambda: rec)
    return rec


def test_quiet_by_default(capsys):
    r = bmp.solve(get("Bard1984a"))
    assert r.status == "optimal"
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_verbose_writes_progress_lines_to_stderr(capsys):
    r = bmp.solve(get("Bard1984a"), verbose=True)
    out = capsys.readouterr()
    assert out.out == ""
    lines = [s for s in out.err.splitlines() if s.strip()]
    assert lines, "verbose=True printed nothing"
    last = lines[-1]
    assert "Bard1984a" in last and "complementarity_bb" in last and "optimal" in last
    assert f"incumbent {r.F:.6g}" in last and "gap 0.00%" in last


def test_stages_and_points_follow_auto(recorder):
    a, tolled, commodities = grid_network(4, seed=0)
    p = toll_setting(a, commodities, tolled)       # a maximised F: the sign is reported
    r = bmp.solve(p, verbose=True)
    kinds = [e[0] for e in recorder.events]
    assert kinds[0] == "begin" and recorder.events[0][3] == -1.0 and kinds[-1] == "end"
    stages = [e[1] for e in recorder.events if e[0] == "stage"]
    assert stages[0] == "auto" and [s.method for s in r.history] == stages[1:]
    assert recorder.events[-1] == ("end", r.status)
    points = [e for e in recorder.events if e[0] == "point" and e[1] is not None]
    assert points and points[-1][1] == pytest.approx(-r.F)


@pytest.mark.parametrize("method", ["kkt", "strong_duality"])
def test_solver_bounds_bracket_the_optimum(recorder, method):
    """SCIP's reported incumbents and bounds (minimisation form) stay on their side of the
    proven optimum."""
    a, tolled, commodities = grid_network(5, seed=1)
    p = toll_setting(a, commodities, tolled)
    r = bmp.solve(p, method=method, verbose=True, time_limit=60)
    assert r.status == "optimal"
    _assert_bracketed(recorder, -r.F)


def test_highs_and_branch_and_cut_report_bounds(recorder):
    p = knapsack_interdiction(10, seed=2)
    r = bmp.solve(p, verbose=True)
    truth = solve_by_enumeration(p).F_star
    assert r.status == "optimal" and r.F == pytest.approx(truth)
    duals = [e[2] for e in recorder.events if e[0] == "model" and e[2] is not None]
    assert duals and max(duals) <= truth + 1e-6


def test_plain_log_when_not_a_terminal():
    stream = io.StringIO()
    live = progress.Live(stream)
    live.begin("demo", "auto", sign=-1.0, time_limit=10)
    live.stage("kkt")
    live.model(-12.0, -15.0)
    live.point(-12.0, -13.0)
    live.end("feasible")
    text = stream.getvalue()
    assert "demo · auto · kkt" in text
    last = text.strip().splitlines()[-1]
    # user's sense (max): incumbent 12, best bound min(15, 13) = 13, gap 1/12
    assert "incumbent 12 " in last and "bound 13 " in last and "gap 8.33%" in last
    assert last.endswith("feasible")


def test_bad_flags_raise():
    with pytest.raises(bmp.BilevelInputError, match="verbose"):
        bmp.solve(get("Bard1984a"), verbose="yes")
    with pytest.raises(bmp.BilevelInputError, match="solver log"):
        bmp.solve(get("Bard1984a"), method="penalty", solver_log=True)


def test_solver_log_passes_the_log_through(capfd):
    bmp.solve(get("Bard1984a"), method="kkt", solver_log=True)
    out = capfd.readouterr().out
    assert "SCIP" in out or "HiGHS" in out or "presolv" in out.lower()


def test_highs_milp_reports_bounds(recorder):
    """follower_dual's MILP runs on HiGHS: its callbacks' bounds bracket the optimum."""
    from bilevel_mp.library.interdiction import grid_interdiction_network, shortest_path_interdiction

    arcs, s, t = grid_interdiction_network(6, seed=3)
    p = shortest_path_interdiction(arcs, s, t, budget=3)
    r = bmp.solve(p, method="follower_dual", verbose=True)
    assert r.status == "optimal" and r.solver == "highs"
    _assert_bracketed(recorder, -r.F)
