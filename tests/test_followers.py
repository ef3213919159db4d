"""Several followers under one leader (``BilevelProblem.add_follower``): a Nash game among
them, checked against closed forms and an enumeration of the game's equilibria."""

import itertools

import numpy as np
import pytest

import bilevel_mp as bmp
from bilevel_mp import BilevelProblem
from bilevel_mp.core.certify import certify
from bilevel_mp.errors import BilevelInputError, UnsupportedStructureError


def stackelberg_cournot(a=10.0, c0=1.0, c1=1.0, c2=1.0):
    """A leader and two followers sell one good at price a - (x + y1 + y2); each follower
    maximises its profit given the other's quantity (Cournot), the leader its own."""
    p = BilevelProblem(n_x=1, n_y=2, x_bounds=[(0, 10)], y_bounds=[(0, 10), (0, 10)])
    x, (y1, y2) = p.x[0], p.y
    price = a - x - y1 - y2
    p.add_follower([y1], (price - c1) * y1, sense="max")
    p.add_follower([y2], (price - c2) * y2, sense="max")
    p.set_upper((price - c0) * x, sense="max")
    return p


def cournot_by_hand(a, c0, c1, c2):
    """Given x the followers' equilibrium is y_i = (a - x - 2 c_i + c_j) / 3, so the price is
    (a - x + c1 + c2) / 3 and the leader's best x is (a + c1 + c2 - 3 c0) / 2 (all interior
    for the costs tested)."""
    x = (a + c1 + c2 - 3 * c0) / 2
    y = [(a - x - 2 * c1 + c2) / 3, (a - x - 2 * c2 + c1) / 3]
    return x, y, ((a - x + c1 + c2) / 3 - c0) * x


@pytest.mark.parametrize("costs", [(1.0, 1.0, 1.0), (1.0, 1.0, 2.0), (2.0, 0.5, 1.5)])
def test_stackelberg_cournot_matches_the_closed_form(costs):
    c0, c1, c2 = costs
    p = stackelberg_cournot(10.0, c0, c1, c2)
    assert p.coupled and bmp.detect(p).lower_convex and bmp.detect(p).nash
    r = bmp.solve(p)
    x, y, F = cournot_by_hand(10.0, c0, c1, c2)
    assert r.status == "optimal", r.message
    assert r.F == pytest.approx(F, abs=1e-6)
    assert r.x[0] == pytest.approx(x, abs=1e-3)
    assert r.y == pytest.approx(y, abs=1e-3)
    assert set(r.certificate.follower_gaps) == {"L1", "L2"}
    assert sum(r.y) == pytest.approx((2 * (10.0 - x) - c1 - c2) / 3, abs=1e-3)


def test_the_game_is_not_the_followers_joint_optimum():
    # one follower maximising the two profits together sells the monopoly quantity
    # (a - x - c) / 2 instead; at x = 4.5 that is 2.25, against the Cournot 3
    game = bmp.solve(stackelberg_cournot())
    p = BilevelProblem(n_x=1, n_y=2, x_bounds=[(0, 10)], y_bounds=[(0, 10), (0, 10)])
    x, (y1, y2) = p.x[0], p.y
    price = 10.0 - x - y1 - y2
    p.set_lower((price - 1) * (y1 + y2), sense="max")
    p.set_upper((price - 1) * x, sense="max")
    joint = bmp.solve(p)
    assert joint.status == "optimal"
    assert sum(game.y) == pytest.approx(3.0, abs=1e-3)
    assert sum(joint.y) == pytest.approx((9.0 - joint.x[0]) / 2, abs=1e-3)
    assert abs(joint.F - game.F) > 1.0


def test_the_certificate_rejects_a_point_that_is_no_equilibrium():
    p = stackelberg_cournot()
    x, y, _ = cournot_by_hand(10.0, 1.0, 1.0, 1.0)
    assert certify(p, [x], y).certified
    cert = certify(p, [x], [y[0] + 0.5, y[1]])  # follower 1 off its best response
    assert not cert.certified and "better response" in cert.message
    # by hand at x = 4.5, y = (2, 1.5): L1's best reply 1.5 earns 2.25 against 2; L2's best
    # reply to y1 = 2 is 1.25, earning 1.5625 against 1.5
    assert cert.follower_gaps["L1"] == pytest.approx(0.25, abs=1e-6)
    assert cert.follower_gaps["L2"] == pytest.approx(0.0625, abs=1e-6)


def shared_capacity_game():
    """Two followers each maximise their own use y_i of a capacity 2 + x they share
    (y1 + y2 <= 2 + x in each one's problem, y_i in [0, 2]): at each x every split of the
    capacity is an equilibrium, and the leader picks the one it likes."""
    p = BilevelProblem(n_x=1, n_y=2, x_bounds=[(0, 2)], y_bounds=[(0, 2), (0, 2)])
    x, (y1, y2) = p.x[0], p.y
    p.add_follower([y1], y1, [y1 + y2 <= 2 + x], sense="max")
    p.add_follower([y2], y2, [y1 + y2 <= 2 + x], sense="max")
    p.set_upper(3 * y1 - 2 * y2 - x + 0.5 * x * x, [y1 >= 0.25 + 0.5 * x])
    return p


def equilibria_on_grid(step=0.125):
    """Every (x, y1, y2) on the grid where each y_i is the best response min(2, 2 + x - y_j)."""
    grid = np.arange(0.0, 2.0 + 1e-9, step)
    for x, y1, y2 in itertools.product(grid, grid, grid):
        if abs(y1 - min(2.0, 2 + x - y2)) < 1e-9 and abs(y2 - min(2.0, 2 + x - y1)) < 1e-9:
            yield x, y1, y2


def test_shared_capacity_game_against_an_enumeration_of_its_equilibria():
    best = min(3 * y1 - 2 * y2 - x + 0.5 * x * x
               for x, y1, y2 in equilibria_on_grid() if y1 >= 0.25 + 0.5 * x - 1e-12)
    p = shared_capacity_game()
    r = bmp.solve(p)
    assert r.status == "optimal", r.message
    # the optimum lies on the grid: x = 0.25 at the leader's row y1 = 0.25 + x / 2
    assert r.F == pytest.approx(best, abs=1e-6)
    x, (y1, y2) = r.x[0], r.y
    assert y1 + y2 == pytest.approx(2 + x, abs=1e-6)  # an equilibrium uses all the capacity


def separable(as_game: bool):
    p = BilevelProblem(n_x=2, n_y=2, x_bounds=[(0, 4), (0, 4)], y_bounds=[(0, None), (0, None)])
    (x1, x2), (y1, y2) = p.x, p.y
    rows1, rows2 = [y1 >= 3 - x1, y1 <= 6 - x2], [y2 >= x1 - 1, y2 <= 5]
    if as_game:
        p.add_follower([y1], y1, rows1)
        p.add_follower([y2], -y2 + 0.5 * x2 * y2, rows2)
    else:
        p.set_lower(y1 - y2 + 0.5 * x2 * y2, rows1 + rows2)
    p.set_upper(x1 + 2 * x2 - 3 * y1 - y2)
    return p


@pytest.mark.parametrize("method", ["auto", "kkt", "value_function"])
def test_separable_followers_are_one_follower_for_every_method(method):
    game, one = separable(True), separable(False)
    assert not game.coupled
    r_game, r_one = bmp.solve(game, method=method), bmp.solve(one, method=method)
    assert r_game.status == r_one.status == "optimal"
    assert r_game.F == pytest.approx(r_one.F, abs=1e-6)
    assert r_game.certificate.certified


def test_bad_inputs_are_refused_with_their_reason():
    p = BilevelProblem(n_x=1, n_y=3, x_bounds=[(0, 2)], y_bounds=[(0, 2)] * 3)
    x, (y1, y2, y3) = p.x[0], p.y
    other = BilevelProblem(n_x=1, n_y=1)
    with pytest.raises(BilevelInputError, match="not one of this problem's y"):
        p.add_follower([other.y[0]], other.y[0])
    with pytest.raises(BilevelInputError, match="not one of this problem's y"):
        p.add_follower([x], y1)
    with pytest.raises(BilevelInputError, match="at least one"):
        p.add_follower([], y1)
    p.add_follower([y1], -y1, [y1 + y2 <= 2 + x])
    with pytest.raises(BilevelInputError, match="already belong"):
        p.add_follower([y1, y2], y2)
    with pytest.raises(BilevelInputError, match="exists"):
        p.add_follower([y2], y2, name="L1")
    p.add_follower([1], -y2, [y1 + y2 <= 2 + x])  # by index
    p.set_upper(y1 - y2)
    with pytest.raises(BilevelInputError, match="belong to no follower"):
        bmp.solve(p)
    p.add_follower([y3], y3)
    assert p.coupled
    for method in ("value_function", "strong_duality", "complementarity_bb", "regularized"):
        with pytest.raises(UnsupportedStructureError, match="coupled game"):
            bmp.solve(p, method=method)
    assert bmp.solve(p).status == "optimal"


def test_a_game_with_integer_followers_is_refused():
    p = BilevelProblem(n_x=1, n_y=2, x_bounds=[(0, 2)], y_bounds=[(0, 2)] * 2, y_integer=True)
    x, (y1, y2) = p.x[0], p.y
    p.add_follower([y1], -y1, [y1 + y2 <= 2 + x])
    p.add_follower([y2], -y2, [y1 + y2 <= 2 + x])
    p.set_upper(y1 - y2)
    with pytest.raises(UnsupportedStructureError, match="integer"):
        bmp.solve(p)


def test_pyomo_blocks_are_followers_of_one_game():
    import pyomo.environ as pyo
    from bilevel_mp.frontends.pyomo import LowerLevel

    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.A = LowerLevel()
    m.A.q = pyo.Var(bounds=(0, 10))
    m.B = LowerLevel()
    m.B.q = pyo.Var(bounds=(0, 10))
    price = 10 - m.x - m.A.q - m.B.q
    m.A.obj = pyo.Objective(expr=(price - 1) * m.A.q, sense=pyo.maximize)
    m.B.obj = pyo.Objective(expr=(price - 2) * m.B.q, sense=pyo.maximize)
    m.B.cap = pyo.Constraint(expr=m.B.q <= 4)  # slack at the equilibrium
    m.obj = pyo.Objective(expr=(price - 1) * m.x, sense=pyo.maximize)
    r = bmp.solve(m)
    x, y, F = cournot_by_hand(10.0, 1.0, 1.0, 2.0)
    assert r.status == "optimal", r.message
    assert r.F == pytest.approx(F, abs=1e-6)
    assert (m.x.value, m.A.q.value, m.B.q.value) == pytest.approx((x, *y), abs=1e-3)
    assert set(r.certificate.follower_gaps) == {"A", "B"}
    assert m.B.dual[m.B.cap] == pytest.approx(0.0, abs=1e-6)
    m.C = LowerLevel()  # a follower block without variables
    m.C.obj = pyo.Objective(expr=m.x)
    with pytest.raises(BilevelInputError, match="declares no follower variables"):
        bmp.solve(m)


def test_export_refuses_a_game_where_solve_does(tmp_path):
    with pytest.raises(UnsupportedStructureError, match="coupled game"):
        bmp.export(stackelberg_cournot(), tmp_path / "game.lp", method="strong_duality")
    info = bmp.export(stackelberg_cournot(), tmp_path / "game.lp", method="kkt")
    assert info.exact and (tmp_path / "game.lp").exists()


def test_rows_shared_by_name_and_set_lower_mixes_are_refused():
    # each row's owner is found by its name: one Constraint object given to two followers
    # would lose its owner, so the names must be unique
    p = BilevelProblem(n_x=1, n_y=2, x_bounds=[(0, 2)], y_bounds=[(0, 2), (0, 2)])
    x, (y1, y2) = p.x[0], p.y
    cap = bmp.Constraint("cap", 2 + x - y1 - y2)
    p.add_follower([y1], y1, [cap], sense="max")
    with pytest.raises(BilevelInputError, match="more than one follower row"):
        p.add_follower([y2], y2, [cap], sense="max")
    q = BilevelProblem(n_x=1, n_y=2)
    q.set_lower(q.y[0] + q.y[1], [q.y[0] + q.y[1] <= q.x[0]])
    with pytest.raises(BilevelInputError, match="set_lower"):
        q.add_follower([q.y[0]], -q.y[0])
