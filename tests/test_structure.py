"""Structure detection drives method choice; the LP-LP path must be recognised."""

import pytest

import bilevel_mp as bmp
from bilevel_mp.library import classic
from bilevel_mp.library.random_lplp import random_lplp


@pytest.mark.parametrize("name,label", [
    ("Bard1984a", "LP-LP"),
    ("FrankeEtal2018Ex53", "QP-QP"),
    ("AiyoshiShimizu1984Ex2", "LP-QP"),
    ("MitsosBarton2006Ex35", "LP-NLP"),
    ("AnEtal2009", "QP-NCQP"),
    ("MooreBard1990Cont", "MILP-LP"),
    ("Colson2002BIPA3", "NLP-NLP"),
])
def test_labels(name, label):
    assert bmp.detect(classic.get(name)).label == label


def test_random_lplp_is_linear_jointly():
    s = bmp.detect(random_lplp(6, 0))
    assert s.label == "LP-LP" and s.lower_linear_in_xy and s.lower_y_matrix_constant


def test_x_dependent_hessian_is_not_called_convex():
    p = bmp.BilevelProblem(1, 1, x_bounds=[(-1, 1)])
    p.set_upper(p.x[0]).set_lower(p.x[0] * p.y[0] ** 2, [p.y[0] >= -1, p.y[0] <= 1])
    s = bmp.detect(p)
    assert not s.lower_convex and s.lower == "nonlinear"


def test_leader_use_of_y_and_follower_dual_routing():
    """How the leader sees y decides auto's first stage: y-free leaders and max-min leaders
    whose follower rows move with binary x only go to follower_dual; Bard1984a's F = -f - 4x
    is max-min, but its rows move with a continuous x, so follower_dual refuses it."""
    import bilevel_mp as bmp
    from bilevel_mp.errors import UnsupportedStructureError
    from bilevel_mp.library import classic
    from bilevel_mp.library.interdiction import (grid_interdiction_network, grid_max_flow_network,
                                                 max_flow_interdiction, shortest_path_interdiction)
    from bilevel_mp.library.random_lplp import random_lplp
    from bilevel_mp.methods.auto import Settings, plan
    from bilevel_mp.structure import detect

    arcs, s, t = grid_interdiction_network(3)
    linear = detect(shortest_path_interdiction(arcs, s, t, 2))
    bilinear = detect(shortest_path_interdiction(arcs, s, t, 2, formulation="bilinear"))
    arcs, s, t, hit = grid_max_flow_network(3)
    flow = detect(max_flow_interdiction(arcs, s, t, 2, interdictable=hit))
    bard = classic.get("Bard1984a")
    assert (linear.leader_y, bilinear.leader_y, flow.leader_y) == ("y_free", "minus_follower", "minus_follower")
    assert detect(bard).leader_y == "minus_follower" and not detect(bard).lower_rows_x_binary
    assert detect(random_lplp(5, 0)).leader_y == "general"
    for st in (linear, bilinear, flow):
        assert plan(st, Settings())[0] == "follower_dual"
    assert plan(detect(bard), Settings())[0] == "complementarity_bb"
    with pytest.raises(UnsupportedStructureError, match="continuous x"):
        bmp.solve(bard, method="follower_dual")


def test_follower_dual_leaves_out_a_primal_block_that_does_not_move_with_x():
    """Rows free of x: one LP checks they have a point, then y and its rows leave the model
    (the answer is unchanged: checked against enumeration of the interdiction sets); rows
    with no point keep the block, so the model, and the bilevel problem, are infeasible."""
    from itertools import combinations

    import numpy as np

    from bilevel_mp.library.interdiction import grid_interdiction_network, shortest_path_interdiction
    from bilevel_mp.reformulations.follower_dual import FollowerDual
    from bilevel_mp.structure import detect

    arcs, s, t = grid_interdiction_network(3, seed=4)
    p = shortest_path_interdiction(arcs, s, t, 2, formulation="bilinear")
    lifted = FollowerDual().apply(p, detect(p))
    assert any("primal block is left out" in n for n in lifted.slm.notes)
    assert all(not row.active for row in lifted.rows.values() if row is not None)
    r = bmp.solve(p, method="follower_dual")
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    nodes = sorted({a[0] for a in arcs} | {a[1] for a in arcs})
    idx = {v: n for n, v in enumerate(nodes)}
    assert p.n_x == len(arcs)  # every arc interdictable, in the given order
    best = -np.inf
    for hit in combinations(range(len(arcs)), 2):  # every interdiction of 2 arcs
        w = [c + (d if a in hit else 0) for a, (_, _, c, d) in enumerate(arcs)]
        g = csr_matrix((w, ([idx[a[0]] for a in arcs], [idx[a[1]] for a in arcs])), shape=(len(nodes),) * 2)
        best = max(best, dijkstra(g, indices=idx[s])[idx[t]])
    assert r.status == "optimal" and r.certified and r.f == pytest.approx(best, rel=1e-9)

    q = bmp.BilevelProblem(1, 1, x_bounds=[(0, 1)], x_integer=[True])
    q.set_upper(q.x[0]).set_lower(q.y[0], [q.y[0] >= 1, q.y[0] <= 0])
    lifted = FollowerDual().apply(q, detect(q))
    assert not any("primal block" in n for n in lifted.slm.notes)
    assert bmp.solve(q, method="follower_dual").status == "infeasible"


def test_follower_dual_leaves_out_the_dual_block_only_when_every_y_is_bounded():
    """A leader free of y needs the follower to have an optimum at x. With every y bounded a
    feasible follower LP has one, so no multipliers enter the model (SPI's default formulation,
    answer checked against enumeration of the interdiction sets); with an unbounded y the dual
    block stays and keeps out the x where the follower is unbounded."""
    from itertools import combinations

    import numpy as np

    from bilevel_mp.library.interdiction import grid_interdiction_network, shortest_path_interdiction
    from bilevel_mp.reformulations.follower_dual import FollowerDual
    from bilevel_mp.structure import detect

    arcs, s, t = grid_interdiction_network(3, seed=5)
    p = shortest_path_interdiction(arcs, s, t, 2)  # leader-held labels: F and G free of y
    st = detect(p)
    assert st.leader_y == "y_free"
    lifted = FollowerDual().apply(p, st)
    assert not hasattr(lifted.slm.m, "lam") and any("dual block is left out" in n for n in lifted.slm.notes)
    r = bmp.solve(p)
    assert r.method == "auto" and "follower_dual" in r.found_by
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    nodes = sorted({a[0] for a in arcs} | {a[1] for a in arcs})
    idx = {v: n for n, v in enumerate(nodes)}
    best = -np.inf
    for hit in combinations(range(len(arcs)), 2):
        w = [c + (d if a in hit else 0) for a, (_, _, c, d) in enumerate(arcs)]
        g = csr_matrix((w, ([idx[a[0]] for a in arcs], [idx[a[1]] for a in arcs])), shape=(len(nodes),) * 2)
        best = max(best, dijkstra(g, indices=idx[s])[idx[t]])
    assert r.status == "optimal" and r.certified and r.F == pytest.approx(best, rel=1e-9)

    q = bmp.BilevelProblem(1, 1, x_bounds=[(0, 1)], x_integer=[True])
    q.set_upper(-q.x[0]).set_lower((1 - 2 * q.x[0]) * q.y[0], [q.y[0] >= 0])  # unbounded at x = 1
    lifted = FollowerDual().apply(q, detect(q))
    assert hasattr(lifted.slm.m, "lam")
    r = bmp.solve(q, method="follower_dual")
    assert r.status == "optimal" and r.x[0] == 0 and r.F == pytest.approx(0.0)
