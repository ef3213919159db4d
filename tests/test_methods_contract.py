"""What every registered method promises through ``bmp.solve``: its name comes back, the
solver is a back-end name, settings are declared (an unknown or misplaced one is an error
naming the valid ones), iterative methods log their iterations, and a status means the
same whichever method meets the situation."""

import dataclasses

import pytest

import bilevel_mp as bmp
from bilevel_mp.errors import BilevelInputError
from bilevel_mp.library import classic
from bilevel_mp.library.random_lplp import random_lplp

METHODS = list(bmp.METHODS)
ITERATIVE = ("auto", "value_function", "complementarity_bb", "regularized", "descent", "trust_region",
             "penalty")


@pytest.fixture(scope="module")
def bard_results():
    """Bard1984a (LP-LP, F* = 28/9) by every method, solved once."""
    return {m: bmp.solve(classic.get("Bard1984a"), method=m, time_limit=30) for m in METHODS}


@pytest.mark.parametrize("method", METHODS)
def test_result_names_the_method_and_a_backend(bard_results, method):
    r = bard_results[method]
    assert r.method == method
    assert r.found_by in bmp.METHODS
    assert r.solver in bmp.BACKENDS
    assert r.status in bmp.STATUSES
    # every method reaches Bard1984a's optimum (local ones from its xy_init) and certifies it
    assert r.certified and r.F == pytest.approx(28 / 9, abs=1e-5)
    # a replay of the result's own names is accepted
    again = bmp.solve(classic.get("Bard1984a"), method=r.method, **({"mode": r.mode} if r.mode else {}))
    assert again.F == pytest.approx(r.F, abs=1e-5)


@pytest.mark.parametrize("method", ITERATIVE)
def test_iterative_methods_fill_history(bard_results, method):
    hist = bard_results[method].history
    assert hist, f"{method} left result.history empty"
    assert all(hasattr(h, "seconds") for h in hist)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_setting_names_the_valid_ones(method):
    valid = [f.name for f in dataclasses.fields(bmp.METHODS[method].Settings)]
    with pytest.raises(BilevelInputError) as err:
        bmp.solve(classic.get("Bard1984a"), method=method, no_such_setting=1)
    msg = str(err.value)
    assert "no_such_setting" in msg and method in msg
    assert all(v in msg for v in valid)


def test_misplaced_and_misspelt_settings_are_errors():
    with pytest.raises(BilevelInputError, match="descent.*mode"):
        bmp.solve(classic.get("Bard1984a"), method="descent", mode="indicator")
    with pytest.raises(BilevelInputError, match="did you mean 'n_starts'"):
        bmp.solve(classic.get("Bard1984a"), method="regularized", n_start=3)
    with pytest.raises(BilevelInputError, match="unknown method"):
        bmp.solve(classic.get("Bard1984a"), method="kkt-sos1")
    with pytest.raises(BilevelInputError, match="radius"):
        bmp.solve(classic.get("Bard1984a"), method="descent", radius=-1.0)
    with pytest.raises(BilevelInputError, match="x0"):
        bmp.solve(classic.get("Bard1984a"), method="penalty", x0=[1.0, 2.0])


def test_settings_are_honoured():
    p = classic.get("Bard1984a")
    # a start and a setting reach the local methods
    r = bmp.solve(p, method="penalty", x0=[4.0], max_iter=2)
    assert r.certified and len(r.history) <= 2
    # the branch-and-bound's node limit is reached through solve()
    r = bmp.solve(random_lplp(18, 2), method="complementarity_bb", node_limit=5)
    assert r.status == "time_limit" and r.history[-1].k <= 5 + 1
    # the solver is honoured by the KKT model (a big-M MILP on HiGHS), and reported
    r = bmp.solve(p, method="kkt", mode="bigm", dual_bound=1e3, solver="highs")
    assert r.solver == "highs" and r.mode == "bigm" and r.status == "feasible"
    # and a KKT setting given to auto skips the branch-and-bound
    r = bmp.solve(p, mode="indicator")
    assert r.found_by == "kkt" and r.mode == "indicator" and r.status == "optimal"


def _unbounded_follower():
    p = bmp.BilevelProblem(1, 1, name="unb", x_bounds=[(0, 1)])
    p.set_upper(p.x[0] + p.y[0]).set_lower(-p.y[0], [p.y[0] >= p.x[0]])
    return p


def _infeasible():
    p = bmp.BilevelProblem(1, 1, name="inf", x_bounds=[(0, 1)], y_bounds=[(0, 1)])
    p.set_upper(p.x[0] + p.y[0], [p.x[0] + p.y[0] >= 3]).set_lower(p.y[0])
    return p


@pytest.mark.parametrize("method", METHODS)
def test_unbounded_follower_status_is_the_same_for_every_method(method):
    r = bmp.solve(_unbounded_follower(), method=method, time_limit=20)
    assert r.status == "lower_level_unbounded", r.summary()
    assert not r.certified


@pytest.mark.parametrize("method", METHODS)
def test_infeasible_status_is_the_same_for_every_method(method):
    r = bmp.solve(_infeasible(), method=method, time_limit=20)
    assert r.status == "infeasible", r.summary()


@pytest.mark.parametrize("method", METHODS)
def test_time_limit_status_is_the_same_for_every_method(method):
    """A 0.3 s limit on an LP-LP instance no method solves that fast: every method that is
    still running at the limit says ``time_limit`` (one that stops by its own rule first
    may say anything else)."""
    limit = 0.3
    r = bmp.solve(random_lplp(30, 1), method=method, time_limit=limit)
    own_stop = method == "penalty" and r.message.startswith("converged after")  # its alternating
    if r.seconds >= limit and not own_stop:                # LPs can converge within 0.3 s here
        assert r.status == "time_limit", r.summary()
    assert r.status != "optimal"


@pytest.mark.parametrize("method", METHODS)
def test_every_setting_is_documented(method):
    module = bmp.METHODS[method]
    assert module.__doc__ and module.NAME == method
    doc = module.Settings.__doc__ or ""
    missing = [f.name for f in dataclasses.fields(module.Settings) if f.name not in doc]
    assert not missing, f"{method}.Settings does not document {missing}"
