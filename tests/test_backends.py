"""Back-end robustness: SCIP retries after an LP-solver failure, HiGHS keeps big-M
complementarity tight, the dense LP/QP helper of the local methods."""

import contextlib

import numpy as np
import pytest
from scipy.optimize import linprog

import bilevel_mp as bmp
from bilevel_mp.backends import highs, scip
from bilevel_mp.library import classic
from bilevel_mp.library.random_lplp import random_lplp


def _fail_first_optimize(monkeypatch, message, times: int = 1):
    """Make the first ``times`` SCIP optimize() calls raise ``message`` (through the
    ``quiet`` context they run in); returns the list of calls."""
    calls = []
    real = scip.quiet

    @contextlib.contextmanager
    def failing_once(flag):
        calls.append(flag)
        if len(calls) <= times:
            raise RuntimeError(message)
        with real(flag):
            yield

    monkeypatch.setattr(scip, "quiet", failing_once)
    return calls


def test_scip_retries_after_lp_failure(monkeypatch):
    """The first optimize() raises as SCIP does on "error in LP solver"; the retry with
    the next LP settings must still give the known optimum (Bard1984a, F* = 3.1111)."""
    calls = _fail_first_optimize(monkeypatch, "SCIP: error in LP solver")
    r = bmp.solve(classic.bolib("Bard1984a"), method="kkt", mode="sos1", solver="scip")
    assert len(calls) >= 2
    assert r.status == "optimal" and r.F == pytest.approx(3.111111, abs=1e-5)


def test_scip_succeeding_on_its_last_retry_reports_it(monkeypatch):
    """Three failures (the first setting, its retry without Ipopt's options file, the second
    LP setting), then the last LP setting solves: the known optimum, and the message names
    the setting that worked (it raised IndexError before)."""
    calls = _fail_first_optimize(monkeypatch, "SCIP: error in LP solver", times=3)
    out = scip.solve(_kkt_model(classic.bolib("Bard1984a")))
    assert len(calls) == 4 and out.status == "optimal"
    assert "after 3 LP failure(s)" in out.message and "lp/checkstability" in out.message


def _kkt_model(problem):
    from bilevel_mp.reformulations.kkt import KKT
    from bilevel_mp.structure import detect

    return KKT().apply(problem, detect(problem)).slm


def test_scip_gives_error_when_every_retry_fails(monkeypatch):
    @contextlib.contextmanager
    def always_failing(flag):
        raise RuntimeError("SCIP: error in LP solver")
        yield  # pragma: no cover

    monkeypatch.setattr(scip, "quiet", always_failing)
    r = bmp.solve(classic.bolib("Bard1984a"), method="kkt", mode="sos1", solver="scip")
    assert r.status == "error" and r.F is None


def test_bigm_with_large_dual_bound_stays_exact():
    """random_lplp(8, seed 2) with dual_bound 1e5 gave an uncertified wrong point while
    HiGHS's integrality tolerance was 1e-6 (1e-6 · 1e5 leaked through the pairs)."""
    p = random_lplp(8, 2)
    r = bmp.solve(p, method="kkt", mode="bigm", dual_bound=1e5, time_limit=60)
    ref = bmp.solve(p, method="complementarity_bb", time_limit=60)
    assert ref.status == "optimal"
    assert r.certified and r.F == pytest.approx(ref.F, rel=1e-6)


def test_solve_arrays_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(5):
        A = rng.normal(size=(4, 6))
        b = np.abs(rng.normal(size=4)) + 1
        c = rng.normal(size=6)
        status, z, obj, _ = highs.solve_arrays(c, A, np.full(4, -np.inf), b, -np.ones(6), np.ones(6))
        ref = linprog(c, A_ub=A, b_ub=b, bounds=[(-1, 1)] * 6, method="highs")
        assert status == "optimal" and obj == pytest.approx(ref.fun, abs=1e-8)
    assert highs.solve_arrays([1.0], [[1.0]], [2.0], [3.0], [0.0], [1.0])[0] == "infeasible"


def test_scip_models_give_ipopt_the_amd_ordering():
    """SCIP's NLP heuristics run Ipopt; with MUMPS on METIS ordering the process was aborted
    by a corrupted free() (strong duality on a 14x14 toll grid, too slow to run here), so every
    SCIP model points Ipopt to the shipped options file, which selects AMD ordering."""
    import pyomo.environ as pyo

    from bilevel_mp.backends.single_level import SingleLevelModel

    slm = SingleLevelModel("tiny")
    slm.m.z = pyo.Var(bounds=(0, 1))
    slm.add(slm.m.z * slm.m.z >= 0.25)
    slm.minimize(slm.m.z)
    model = scip._build(slm, 5.0, 1e-9, None, False, {})[0]
    path = model.getParam("nlpi/ipopt/optfile")
    assert path == str(scip.IPOPT_OPTIONS) and scip.IPOPT_OPTIONS.read_text().split() == ["mumps_pivot_order", "0"]
    assert scip.solve(slm, time_limit=10).objective == pytest.approx(0.5, abs=1e-6)


def test_scip_retries_once_without_the_ipopt_options_file(monkeypatch):
    """An Ipopt that refuses an option fails the whole SCIP solve: after a first failure the
    same settings are tried once without the options file, then the LP fallbacks as before."""
    seen = []
    real = scip._prepare

    def recording(slm, left, gap, feastol, verbose, params, setup, watch):
        built = real(slm, left, gap, feastol, verbose, params, setup, watch)
        seen.append(built[0].getParam("nlpi/ipopt/optfile"))
        return built

    monkeypatch.setattr(scip, "_prepare", recording)
    _fail_first_optimize(monkeypatch, "SCIP: unspecified error!")
    r = bmp.solve(classic.bolib("Bard1984a"), method="kkt", mode="sos1", solver="scip")
    assert seen[:2] == [str(scip.IPOPT_OPTIONS), ""]
    assert r.status == "optimal" and r.F == pytest.approx(3.111111, abs=1e-5)
