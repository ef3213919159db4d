"""Every example runs from a fresh clone and its printed answers are the known ones: each
value is parsed from the line that reports the result and compared numerically with a
truth derived here (never with an "expected" value the example prints itself). The runs
(``run_example`` in conftest.py: an empty working folder and TMPDIR) are shared with
tests/test_no_writes.py, which checks what they wrote."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NUM = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


@pytest.fixture
def _run(run_example):
    """``_run(name) -> stdout`` of the example run without arguments."""
    return lambda name: run_example(name).stdout


def _values(pattern: str, text: str) -> list[float]:
    found = [float(v) for v in re.findall(pattern, text, flags=re.M)]
    assert found, (pattern, text[-2000:])
    return found


def test_quickstart(_run):
    out = _run("quickstart.py")
    assert "LP-LP" in out
    # Bard (1984): F* = 28/9 at x = 1 + 1/9 ... ; every result line reports it
    for F in _values(rf"^\s+F = {NUM}\s", out):
        assert F == pytest.approx(28 / 9, abs=1e-4)
    assert "NOT certified" not in out


def test_pyomo_example(_run):
    out = _run("pyomo_example.py")
    price, q1, q2, revenue = [float(v) for v in re.search(
        rf"^price {NUM}, q1 {NUM}, q2 {NUM}, revenue {NUM}", out, flags=re.M).groups()]
    assert (price, q1, q2) == pytest.approx((7, 3, 1), abs=1e-4)
    assert revenue == pytest.approx(price * q1, abs=1e-3)  # the leader earns p·q1
    cap = float(re.search(rf"capacity shadow price {NUM}", out).group(1))
    assert cap == pytest.approx(5, abs=1e-4)


def test_cvxpy_example(_run):
    out = _run("cvxpy_example.py")
    # BilevelJuMP's README problem: x = 3.5 * 8/15, y = 8/15, F = 3x + y
    F = float(re.search(rf"^\s+F = {NUM}\s+\(expected", out, flags=re.M).group(1))
    assert F == pytest.approx(3 * 3.5 * 8 / 15 + 8 / 15, abs=1e-5)
    # toll = 3 makes the toll arc (1 + t) tie with the detour (4): revenue t * flow = 3
    revenue = float(re.search(rf"revenue = {NUM}", out).group(1))
    assert revenue == pytest.approx(3.0, abs=1e-4)


def test_local_methods_example(_run):
    out = _run("local_methods.py")
    # F = (x-3)² + (y-2)², y = min(x, 1): F* = 1 at x = 3 (derived in the example's docstring)
    rows = re.findall(rf"^(descent|trust_region|penalty|auto)\s+(\w+)\s+{NUM}\s+{NUM}\s+(\d+)\s+(True|False)$",
                      out, flags=re.M)
    assert {r[0] for r in rows} == {"descent", "trust_region", "penalty", "auto"}
    for method, status, F, x, _, certified in rows:
        assert certified == "True" and float(F) == pytest.approx(1.0, abs=1e-5)
        assert float(x) == pytest.approx(3.0, abs=1e-3)
        assert status == ("optimal" if method == "auto" else "locally_optimal")


def test_method_settings_example(_run):
    out = _run("method_settings.py")
    for name in ("auto", "kkt", "descent", "cbb"):  # Bard1984a: F* = 28/9 by every method
        F = float(re.search(rf"^{name}\s+-> status \w+, F = {NUM}", out, flags=re.M).group(1))
        assert F == pytest.approx(28 / 9, abs=1e-5)
    assert re.search(r"^auto\s+-> status optimal, .*found by complementarity_bb on highs", out, flags=re.M)
    assert "has no setting 'mode'" in out


@pytest.mark.slow
def test_nas_quickstart(run_example):
    pytest.importorskip("torch")
    run = run_example("nas_quickstart.py", "--out", "{out}")
    runs = re.findall(rf"^(\w+): .*\(budget met: (True|False)\), test accuracy {NUM} -> (.*)$",
                      run.stdout, flags=re.M)
    assert {r[0] for r in runs} == {"darts2", "random"}
    for method, met, acc, folder in runs:  # two moons is separable to > 90 % by any sensible cell
        assert met == "True" and float(acc) >= 0.9, (method, acc)
        assert Path(folder) == run.out / method and (run.out / method / "losses.png").is_file()



def test_nas_own_network(run_example):
    """The user-defined CNN example: each method's architecture is one of the model's own
    space, its printed parameter count is that of the network rebuilt here from the printed
    genotype and within the example's budget (12000), and it learns the digits."""
    pytest.importorskip("torch")
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("nas_own_network",
                                                  ROOT / "examples" / "nas_own_network.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    from nas_frontend.module_space import ModuleSpace

    space = ModuleSpace(ex.DigitsCNN(), torch.zeros(2, 1, 8, 8))
    out = run_example("nas_own_network.py").stdout
    rows = re.findall(rf"^(\w+)\s+((?:\w+=\w+ ?)+)\s+params\s+(\d+)\s+val acc {NUM}\s+"
                      rf"test acc {NUM}", out, flags=re.M)
    assert {r[0] for r in rows} == {"mp", "darts2", "random"}, out
    for method, geno, params, _, test_acc in rows:
        g = dict(kv.split("=") for kv in geno.split())
        net = space.make_net(space.validate(g))
        assert int(params) == sum(p.numel() for p in net.parameters()) <= 12000, method
        assert float(test_acc) >= 0.8, (method, test_acc)   # chance is 0.1


def _solve_line(out: str) -> tuple[str, float]:
    m = re.search(rf"^solve: status (\w+), F = {NUM}", out, flags=re.M)
    assert m, out[-2000:]
    return m.group(1), float(m.group(2))


def test_knapsack_interdiction_example(_run):
    """Truth: every interdiction set within budget, each follower knapsack by a dynamic
    program over the capacity (the example's instance rebuilt from its constants)."""
    import itertools

    import numpy as np

    from bilevel_mp.library import knapsack_interdiction
    sys.path.insert(0, str(ROOT / "examples"))
    import knapsack_interdiction as ex  # noqa: E402  (the example's N_ITEMS, SEED)

    d = knapsack_interdiction(ex.N_ITEMS, seed=ex.SEED).meta["knapsack_interdiction"]
    best = None
    for xs in itertools.product([0, 1], repeat=ex.N_ITEMS):
        if np.dot(d.interdiction_costs, xs) > d.budget:
            continue
        dp = np.zeros(int(d.capacity) + 1)
        for p_, w, out_ in zip(d.profits, d.weights, xs):
            if not out_:
                w = int(w)
                dp[w:] = np.maximum(dp[w:], dp[:len(dp) - w] + p_)
        best = dp[-1] if best is None else min(best, dp[-1])
    status, F = _solve_line(_run("knapsack_interdiction.py"))
    assert status == "optimal" and F == pytest.approx(best, abs=1e-6)


def test_assignment_interdiction_example(_run):
    """Truth: every interdiction set within budget, each follower assignment by scipy's
    Hungarian method with interdicted arcs priced out."""
    import itertools

    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from bilevel_mp.library import assignment_interdiction
    sys.path.insert(0, str(ROOT / "examples"))
    import assignment_interdiction as ex  # noqa: E402

    d = assignment_interdiction(ex.N, seed=ex.SEED).meta["assignment_interdiction"]
    cost, icost = np.array(d.costs, float), np.array(d.interdiction_costs, float)
    best = None
    for xs in itertools.product([0, 1], repeat=ex.N * ex.N):
        x = np.array(xs, float).reshape(ex.N, ex.N)
        if (icost * x).sum() > d.budget:
            continue
        c = np.where(x > 0, 1e6, cost)
        r, k = linear_sum_assignment(c)
        value = c[r, k].sum()
        best = value if best is None else max(best, value)
    status, F = _solve_line(_run("assignment_interdiction.py"))
    assert status == "optimal" and F == pytest.approx(best, abs=1e-6)


def test_strategic_bidding_example(_run):
    out = _run("strategic_bidding.py")
    bid, profit, *prices = [float(v) for v in re.search(
        rf"^bid {NUM}, profit {NUM}, prices {NUM} {NUM} {NUM}", out, flags=re.M).groups()]
    # derived in the example's docstring: the leader bids up to the peaker's offer 15 and
    # earns (15 - 2) on the 1 + 3 + 5 MW it runs
    assert bid == pytest.approx(15.0, abs=1e-4)
    assert profit == pytest.approx(13 * 9, abs=1e-4)
    assert prices == pytest.approx([15.0] * 3, abs=1e-4)
    assert "status optimal" in out


def test_stackelberg_cournot_example(_run):
    out = _run("stackelberg_cournot.py")
    x, y1, y2, F = [float(v) for v in re.search(
        rf"^Cournot followers: status optimal, x {NUM}, y1 {NUM}, y2 {NUM}, profit {NUM}",
        out, flags=re.M).groups()]
    # costs 1, 1, 2: x = 5, y = (5/3, 2/3), profit 25/3 (closed form, tests/test_followers.py)
    assert (x, y1, y2) == pytest.approx((5.0, 5 / 3, 2 / 3), abs=1e-3)
    assert F == pytest.approx(25 / 3, abs=1e-4)
    # one firm with costs 1 and 2 runs only the cheaper plant: y1 = (9 - x) / 2, x = 4.5
    one = [float(v) for v in re.search(
        rf"^one firm instead: status optimal, x {NUM}, y1 {NUM}, y2 {NUM}, profit {NUM}",
        out, flags=re.M).groups()]
    assert one == pytest.approx([4.5, 2.25, 0.0, 10.125], abs=2e-3)


def test_conic_follower_example(_run):
    out = _run("conic_follower.py")
    x, F = [float(v) for v in re.search(
        rf"^disk follower \(QP-SOCP\): status optimal, x {NUM}, F {NUM}", out, flags=re.M).groups()]
    # derived in the example's docstring: x = 1/(2√2), F = 2(1 − x)²
    xs = 1 / (2 * 2 ** 0.5)
    assert x == pytest.approx(xs, abs=1e-3)
    assert F == pytest.approx(2 * (1 - xs) ** 2, abs=1e-6)
    x, d, F = [float(v) for v in re.search(
        rf"^Chi et al. 3.1 \(LP-SOCP\): status optimal, x {NUM}, y1 - y2 {NUM}, F {NUM}",
        out, flags=re.M).groups()]
    # published optimum (Chi, Wan & Hao 2014; BilevelJuMP's example): x = 6, y1 − y2 = 2, F = 12
    assert (x, d, F) == pytest.approx((6.0, 2.0, 12.0), abs=1e-5)
