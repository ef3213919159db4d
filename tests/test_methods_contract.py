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
    """Bard1984a (LP-LP, F* = 28/9) by every method, solved once; follower_dual (which
    needs a leader seeing y only through -f, binary x in the follower's rows) on a
    shortest-path interdiction instance instead."""
    from bilevel_mp.library.interdiction import grid_interdiction_network, shortest_path_interdiction

    out = {m: bmp.solve(classic.get("Bard1984a"), method=m, time_limit=30) for m in METHODS if m != "follower_dual"}
    out["follower_dual"] = bmp.solve(_spi(), method="follower_dual", time_limit=30)
    return out


def _spi(k=3):
    from bilevel_mp.library.interdiction import grid_interdiction_network, shortest_path_interdiction

    return shortest_path_interdiction(*grid_interdiction_network(k), budget=2)


@pytest.mark.parametrize("method", METHODS)
def test_result_names_the_method_and_a_backend(bard_results, method):
    r = bard_results[method]
    assert r.method == method
    assert r.found_by in bmp.METHODS
    assert r.solver in bmp.BACKENDS
    assert r.status in bmp.STATUSES
    # every method reaches Bard1984a's optimum (local ones from its xy_init) and certifies it;
    # follower_dual the interdiction optimum KKT+SOS1 proves independently
    problem = _spi() if method == "follower_dual" else classic.get("Bard1984a")
    expected = bmp.solve(problem, method="kkt").F if method == "follower_dual" else 28 / 9
    assert r.certified and r.F == pytest.approx(expected, abs=1e-5)
    # a replay of the result's own names is accepted
    again = bmp.solve(problem, method=r.method, **({"mode": r.mode} if r.mode else {}))
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


def _unbounded_follower(y_free=False):
    """y_free: the leader's F without y (the structure follower_dual needs)."""
    p = bmp.BilevelProblem(1, 1, name="unb", x_bounds=[(0, 1)])
    p.set_upper(p.x[0] + (0 if y_free else p.y[0])).set_lower(-p.y[0], [p.y[0] >= p.x[0]])
    return p


def _infeasible(y_free=False):
    p = bmp.BilevelProblem(1, 1, name="inf", x_bounds=[(0, 1)], y_bounds=[(0, 1)])
    if y_free:  # F and G without y (follower_dual); the follower's row makes it infeasible
        p.set_upper(p.x[0]).set_lower(p.y[0], [p.y[0] >= p.x[0] + 1.5])
    else:
        p.set_upper(p.x[0] + p.y[0], [p.x[0] + p.y[0] >= 3]).set_lower(p.y[0])
    return p


@pytest.mark.parametrize("method", METHODS)
def test_unbounded_follower_status_is_the_same_for_every_method(method):
    r = bmp.solve(_unbounded_follower(method == "follower_dual"), method=method, time_limit=20)
    assert r.status == "lower_level_unbounded", r.summary()
    assert not r.certified


@pytest.mark.parametrize("method", METHODS)
def test_infeasible_status_is_the_same_for_every_method(method):
    r = bmp.solve(_infeasible(method == "follower_dual"), method=method, time_limit=20)
    assert r.status == "infeasible", r.summary()


@pytest.mark.parametrize("method", METHODS)
def test_time_limit_status_is_the_same_for_every_method(method):
    """A 0.3 s limit on an LP-LP instance no method solves that fast: every method that is
    still running at the limit says ``time_limit`` (one that stops by its own rule first
    may say anything else)."""
    limit = 0.3
    problem = _spi(12) if method == "follower_dual" else random_lplp(30, 1)
    r = bmp.solve(problem, method=method, time_limit=limit)
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


def test_an_unproven_branch_and_bound_bound_proves_nothing(monkeypatch):
    """When an LP of the branch-and-bound fails and a node is dropped, its bound is no
    proof: neither the method alone nor auto may call the point optimal."""
    from bilevel_mp.algorithms.complementarity_bb import ComplementarityBB

    original = ComplementarityBB._finish

    def one_unsafe_prune(self, out, t0, exhausted, open_bound=float("inf")):
        self.stats["unsafe"] = self.stats.get("unsafe", 0) + 1
        return original(self, out, t0, exhausted, open_bound)

    monkeypatch.setattr(ComplementarityBB, "_finish", one_unsafe_prune)
    p = random_lplp(10, 1)
    alone = bmp.solve(p, method="complementarity_bb")
    assert alone.status == "feasible" and alone.bound is None and alone.certified
    r = bmp.solve(p)  # auto: the KKT stage must then prove it, or nothing is proven
    assert r.certified
    if r.status == "optimal":
        assert r.found_by == "kkt" or any(s.method == "kkt" and s.status.startswith("proven")
                                          for s in r.history)


def test_settings_that_would_weaken_a_proof_are_refused():
    p = classic.get("Bard1984a")
    with pytest.raises(BilevelInputError, match="rel_gap"):
        bmp.solve(p, method="complementarity_bb", rel_gap=0.1)
    with pytest.raises(BilevelInputError, match="tol"):
        bmp.solve(p, method="value_function", tol=0.1)
    # auto on a follower not proven convex has no KKT stage: KKT settings are an error
    with pytest.raises(BilevelInputError, match="method='kkt' only"):
        bmp.solve(classic.get("MitsosBarton2006Ex35"), mode="indicator")


def test_auto_history_is_in_the_users_sense():
    p = classic.get("Bard1984a")
    q = bmp.BilevelProblem(n_x=1, n_y=1, name="Bard1984a-max")
    x, y = q.x[0], q.y[0]
    q.set_upper(-(x + y), [x >= 0], sense="max")
    q.set_lower(-5 * x - y, [x + y / 2 >= 2, x / 4 - y + 2 >= 0, 8 - y / 2 - x >= 0,
                             2 * y - x + 4 >= 0, y >= 0])
    r_min, r_max = bmp.solve(p), bmp.solve(q)
    assert r_max.F == pytest.approx(-r_min.F, abs=1e-6) and r_max.bound >= r_max.F - 1e-6
    assert r_max.history[-1].F == pytest.approx(r_max.F, abs=1e-6)
    assert r_max.history[-1].bound == pytest.approx(r_max.bound, abs=1e-6)
