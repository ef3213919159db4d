"""Follower duals as leader variables (``BilevelProblem.dual_of``, Pyomo ``DualOf``),
checked against hand-solved markets and the certificate's own stationarity check."""

import numpy as np
import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp import BilevelProblem
from bilevel_mp.core.certify import certify
from bilevel_mp.errors import BilevelInputError, UnsupportedStructureError
from bilevel_mp.frontends.pyomo import DualOf, LowerLevel


def bidding(bid_cap=20.0, price_cap=None):
    """A strategic generator (cost 2, capacity 6) bids ``x``; the market operator
    dispatches it and a rival (offer 5, capacity 7) to meet demand 10 at least cost; the
    market price is the balance row's dual. By hand: with x <= 5 the generator runs at 6
    and the rival sets the price 5 (profit 18); with x > 5 the rival runs at 7, the
    generator at 3 sets the price x (profit 3 (x - 2)); a cap on x or on the price caps it."""
    p = BilevelProblem(n_x=1, n_y=2, name="bidding", x_bounds=[(0, bid_cap)], y_bounds=[(0, 6), (0, 7)])
    x, (q1, q2) = p.x[0], p.y
    p.set_lower(x * q1 + 5 * q2, [q1 + q2 == 10])
    price = p.dual_of("g[0]")
    p.set_upper((price - 2) * q1, [] if price_cap is None else [price <= price_cap], sense="max")
    return p, price


def by_hand(bid_cap, price_cap=None):
    top = min(bid_cap, price_cap if price_cap is not None else bid_cap)
    return max(18.0, 3 * (top - 2) if top > 5 else 18.0)


@pytest.mark.parametrize("bid_cap, price_cap", [(20.0, None), (4.0, None), (20.0, 12.0), (9.0, None)])
@pytest.mark.parametrize("method", ["auto", "kkt", "strong_duality"])
def test_bidding_matches_the_hand_solution(bid_cap, price_cap, method):
    p, price = bidding(bid_cap, price_cap)
    r = bmp.solve(p, method=method)
    assert r.status == "optimal", r.message
    assert r.F == pytest.approx(by_hand(bid_cap, price_cap), abs=1e-6)
    # the price is the follower's own marginal cost at the dispatch returned
    q1, q2 = r.y
    marginal = r.x[0] if 1e-6 < q1 < 6 - 1e-6 else 5.0
    assert r.duals["g[0]"] == pytest.approx(marginal, abs=1e-6)
    assert price.value == pytest.approx(r.duals["g[0]"])
    assert r.certificate.dual_residual is not None and r.certificate.dual_residual <= 1e-6


def test_the_leader_gets_its_favourite_multiplier_where_there_are_several():
    # follower min y s.t. y >= x, y >= 1: at x = 1 both rows bind and λ0 + λ1 = 1 with any
    # split; the leader, paid λ0, takes λ0 = 1 there (anywhere else λ0 ∈ {0, 1} and
    # (x - 1)² > 0), so the optimum is F = -1 at x = 1
    p = BilevelProblem(n_x=1, n_y=1, x_bounds=[(0, 2)])
    x, y = p.x[0], p.y[0]
    p.set_lower(y, [y >= x, y >= 1])
    lam0 = p.dual_of("g[0]")
    p.set_upper((x - 1) ** 2 - lam0)
    r = bmp.solve(p)
    assert r.status == "optimal", r.message
    assert r.F == pytest.approx(-1.0, abs=1e-6)
    assert r.x[0] == pytest.approx(1.0, abs=1e-4)
    assert r.duals["g[0]"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("wrong", [19.0, 4.0, 0.0])
def test_the_certificate_rejects_a_price_the_follower_does_not_have(wrong):
    p, price = bidding()
    x, y = np.array([20.0]), np.array([3.0, 7.0])
    price.set_value(20.0)
    assert certify(p, x, y).certified
    price.set_value(wrong)
    cert = certify(p, x, y)
    assert not cert.certified
    assert "multiplier" in cert.message


def test_the_certificate_rejects_a_negative_or_slack_inequality_dual():
    p = BilevelProblem(n_x=1, n_y=1, x_bounds=[(0, 2)])
    x, y = p.x[0], p.y[0]
    p.set_lower(y, [y >= x, y >= -5])
    lam = p.dual_of("g[1]")  # the slack row y >= -5
    p.set_upper(x - lam)
    lam.set_value(0.5)  # at x = 1, y = 1 the row is slack: its multiplier must be 0
    cert = certify(p, [1.0], [1.0])
    assert not cert.certified and "complementarity" in cert.message
    lam.set_value(0.0)
    assert certify(p, [1.0], [1.0]).certified
    assert bmp.solve(p).F == pytest.approx(0.0, abs=1e-6)


def pyomo_bidding(cap_as_bound: bool):
    """``bidding`` in Pyomo with the price capped at 12, by a leader row or by a bound."""
    m = pyo.ConcreteModel()
    m.bid = pyo.Var(bounds=(0, 20))
    m.L = LowerLevel()
    m.L.q1 = pyo.Var(bounds=(0, 6))
    m.L.q2 = pyo.Var(bounds=(0, 7))
    m.L.obj = pyo.Objective(expr=m.bid * m.L.q1 + 5 * m.L.q2)
    m.L.balance = pyo.Constraint(expr=m.L.q1 + m.L.q2 == 10)
    m.price = DualOf(m.L.balance)
    if cap_as_bound:
        m.price.setub(12)
    else:
        m.cap = pyo.Constraint(expr=m.price <= 12)
    m.obj = pyo.Objective(expr=(m.price - 2) * m.L.q1, sense=pyo.maximize)
    return m


def test_pyomo_dualof_writes_the_price_back():
    m = pyomo_bidding(cap_as_bound=False)
    r = bmp.solve(m)
    assert r.status == "optimal"
    assert r.F == pytest.approx(30.0, abs=1e-6)
    assert m.price.value == pytest.approx(12.0, abs=1e-6)
    assert m.bid.value == pytest.approx(12.0, abs=1e-6)
    assert r.x.shape == (1,)  # the price is no leader decision


def test_pyomo_dualof_bad_uses():
    def model(con_kind):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(bounds=(0, 5))
        m.L = LowerLevel()
        m.L.y = pyo.Var(bounds=(0, 10))
        m.L.obj = pyo.Objective(expr=m.L.y)
        m.L.c = pyo.Constraint(expr=(1, m.L.y + m.x, 8)) if con_kind == "ranged" else \
            pyo.Constraint(expr=m.L.y >= m.x)
        m.other = pyo.Constraint(expr=m.x <= 4)
        return m
    m = model("ranged")
    m.d = DualOf(m.L.c)
    m.obj = pyo.Objective(expr=m.x + m.d)
    with pytest.raises(BilevelInputError, match="ranged"):
        bmp.solve(m)
    m = model("plain")
    m.d = DualOf(m.other)
    m.obj = pyo.Objective(expr=m.x + m.d)
    with pytest.raises(BilevelInputError, match="lower-level block"):
        bmp.solve(m)


def test_bad_inputs_are_refused_with_their_reason():
    p = BilevelProblem(n_x=1, n_y=1, x_bounds=[(0, 2)])
    x, y = p.x[0], p.y[0]
    with pytest.raises(BilevelInputError, match="set_lower"):
        p.dual_of("g[0]")
    p.set_lower(y, [y >= x, x <= 1.5])
    with pytest.raises(BilevelInputError, match="no follower constraint named"):
        p.dual_of("g[7]")
    with pytest.raises(BilevelInputError, match="does not involve y"):
        p.dual_of("g[1]")
    with pytest.raises(BilevelInputError, match="name"):
        p.dual_of(0)
    lam = p.dual_of("g[0]")
    assert p.dual_of("g[0]") is lam
    with pytest.raises(BilevelInputError, match="leader's objective and constraints only"):
        p.set_lower(y + lam, [y >= x])
    p.set_upper(x - lam)
    for method in ("value_function", "complementarity_bb", "descent", "regularized", "follower_dual"):
        with pytest.raises(UnsupportedStructureError, match="follower duals"):
            bmp.solve(p, method=method)
    p.set_lower(y, [y >= 0])  # g[0] is now another row: the link must not follow it silently
    with pytest.raises(BilevelInputError, match="changed"):
        p.validate()
    assert p.dual_of("g[0]") is lam  # linked again, on purpose
    p.validate()


def test_an_integer_follower_has_no_duals_to_link():
    p = BilevelProblem(n_x=1, n_y=1, x_bounds=[(0, 2)], y_bounds=[(0, 3)], y_integer=True)
    x, y = p.x[0], p.y[0]
    p.set_lower(y, [y >= x])
    lam = p.dual_of("g[0]")
    p.set_upper(x - lam)
    with pytest.raises(UnsupportedStructureError, match="integer"):
        bmp.solve(p)


def random_priced_lp(seed):
    """A random LP follower whose first row's multiplier the leader is paid for."""
    rng = np.random.default_rng(seed)
    nx, ny, m = 2, 3, 3
    A, B = rng.uniform(0.5, 2, (m, ny)), rng.uniform(-1, 1, (m, nx))
    b, c = rng.uniform(2, 5, m), -rng.uniform(0.5, 2, ny)
    d, e = rng.normal(size=nx), rng.normal(size=ny)
    p = BilevelProblem(n_x=nx, n_y=ny, x_bounds=[(0, 2)] * nx, y_bounds=[(0, 10)] * ny)
    x, y = list(p.x), list(p.y)
    p.set_lower(sum(c[j] * y[j] for j in range(ny)),
                [sum(A[i, j] * y[j] for j in range(ny)) <= b[i] + sum(B[i, k] * x[k] for k in range(nx))
                 for i in range(m)])
    lam = p.dual_of("g[0]")
    p.set_upper(sum(d[k] * x[k] for k in range(nx)) + sum(e[j] * y[j] for j in range(ny))
                - 0.7 * lam + 0.3 * lam * x[0])
    return p


@pytest.mark.parametrize("seed", [300, 301, 303, 305, 310])
def test_kkt_and_strong_duality_agree_on_random_priced_followers(seed):
    # two independent single-level models of the same problem (complementarity against
    # the duality gap row) must reach the same proven optimum
    r_kkt = bmp.solve(random_priced_lp(seed))
    r_sd = bmp.solve(random_priced_lp(seed), method="strong_duality")
    assert r_kkt.status == r_sd.status == "optimal"
    assert r_kkt.F == pytest.approx(r_sd.F, abs=1e-6)


def test_a_bound_on_the_dual_variable_is_a_price_cap():
    # the cap written as a bound must act as the cap written as a leader row (F = 30)
    p, price = bidding()
    price.setub(12)
    r = bmp.solve(p)
    assert r.status == "optimal" and r.F == pytest.approx(30.0, abs=1e-6)
    assert r.duals["g[0]"] <= 12 + 1e-9
    m = pyomo_bidding(cap_as_bound=True)
    assert bmp.solve(m).F == pytest.approx(30.0, abs=1e-6)
    assert m.price.value == pytest.approx(12.0, abs=1e-6)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_the_reported_duals_are_one_multiplier_vector(k):
    # at x = 1 rows y >= x, y >= 1, 2y >= x + 1 all bind: every multiplier vector has
    # λ0 + λ1 + 2 λ2 = 1; the leader paid λk takes λk as large as it can (1, 1, 1/2)
    p = BilevelProblem(n_x=1, n_y=1, x_bounds=[(0, 2)])
    x, y = p.x[0], p.y[0]
    p.set_lower(y, [y >= x, y >= 1, 2 * y >= x + 1])
    lam = p.dual_of(f"g[{k}]")
    p.set_upper((x - 1) ** 2 - lam)
    r = bmp.solve(p)
    d = r.duals
    assert r.status == "optimal" and r.F == pytest.approx(-1.0 if k < 2 else -0.5, abs=1e-6)
    assert d["g[0]"] + d["g[1]"] + 2 * d["g[2]"] == pytest.approx(1.0, abs=1e-6)
    assert min(d["g[0]"], d["g[1]"], d["g[2]"]) >= -1e-9


def test_linking_a_name_two_rows_share_is_refused():
    p = BilevelProblem(n_x=1, n_y=1, x_bounds=[(0, 2)])
    x, y = p.x[0], p.y[0]
    p.set_lower(y, [bmp.Constraint("row", y - x), bmp.Constraint("row", y - 1)])
    with pytest.raises(BilevelInputError, match="named 'row'"):
        p.dual_of("row")


def test_dual_of_inside_a_generator_of_leader_rows():
    """Rows given as a generator that links duals as it yields (the problem checks a batch
    of rows against its variables once, after the generator has run)."""
    p = bmp.BilevelProblem(1, 2, x_bounds=[(0, 1)])
    x, y = p.x, p.y
    p.set_lower(y[0] + y[1], [y[0] >= x[0], y[1] >= 0, y[0] <= 2, y[1] <= 2])
    p.set_upper(x[0] + y[0], (p.dual_of(f"g[{k}]") <= 5 for k in range(2)))
    assert len(p.G) == 2 and set(p.dual_links) == {"g[0]", "g[1]"}
