"""The LP-LP complementarity branch-and-bound (``bilevel_mp.algorithms.complementarity_bb``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bilevel_mp as bmp
from bilevel_mp import BilevelProblem, UnsupportedStructureError
from bilevel_mp.algorithms.complementarity_bb import ComplementarityBB
from bilevel_mp.algorithms.lplp_data import extract
from bilevel_mp.library.random_lplp import random_lplp

def solve_complementarity_bb(p, **kw):
    return bmp.solve(p, method='complementarity_bb', **kw)

def _bard1984():
    # Bard (1984) example 1 (BASBLib b_1984_01): F* = 3.111, x* = 0.889, y* = 2.222
    p = BilevelProblem(1, 1, name="b_1984_01", x_bounds=[(0, 10)], y_bounds=[(0, 10)])
    x, y = p.x[0], p.y[0]
    p.set_upper(x + y)
    p.set_lower(-5 * x - y, [-x - 0.5 * y + 2 <= 0, -0.25 * x + y - 2 <= 0,
                             x + 0.5 * y - 8 <= 0, x - 2 * y - 2 <= 0])
    return p

def test_known_optimum():
    r = solve_complementarity_bb(_bard1984())
    assert r.status == "optimal" and r.certified
    assert r.F == pytest.approx(28 / 9, abs=1e-6)
    assert r.x[0] == pytest.approx(8 / 9, abs=1e-6)
    assert r.y[0] == pytest.approx(20 / 9, abs=1e-6)
    assert r.bound <= r.F + 1e-9
    assert r.method == "complementarity_bb" and r.structure == "LP-LP"

def test_senses_equalities_and_leader_rows_in_follower():
    """max senses, an equality row in the follower, a follower row in x only (it joins
    the leader), and y in the leader's objective: same answer as KKT + SOS1."""
    p = BilevelProblem(2, 3, name="mixed", x_bounds=[(0, 4), (-2, 3)], y_bounds=[(0, 5)] * 3)
    x, y = p.x, p.y
    p.set_upper(3 * x[0] - x[1] + 2 * y[0] - y[2] + 1, [x[0] + y[1] <= 6], sense="max")
    p.set_lower(y[0] + 2 * y[1] - y[2],
                [y[0] + y[1] + y[2] == 4 + 0.5 * x[1], y[0] - y[1] <= x[0], x[0] + x[1] <= 5,
                 y[2] <= 2 + x[0]], sense="max")
    r = solve_complementarity_bb(p)
    ref = bmp.solve(p, method="kkt", mode="sos1")
    assert ref.status == "optimal"
    assert r.status == "optimal" and r.certified
    assert r.F == pytest.approx(ref.F, rel=1e-7, abs=1e-7)
    assert r.bound >= r.F - 1e-6 * max(1, abs(r.F))  # max problem: bound is an upper bound
    assert set(r.duals) >= {"g[0]", "g[1]", "g[3]"}

def test_random_agrees_with_sos1_larger():
    for n, seed in [(10, 0), (12, 1), (15, 2)]:
        a = solve_complementarity_bb(random_lplp(n, seed), time_limit=60)
        b = bmp.solve(random_lplp(n, seed), method="kkt", mode="sos1", time_limit=60)
        assert a.status == b.status == "optimal"
        assert a.F == pytest.approx(b.F, rel=1e-7)

def test_infeasible_and_unbounded_follower():
    p = BilevelProblem(1, 1, name="hpr_infeasible", x_bounds=[(0, 1)], y_bounds=[(0, 1)])
    p.set_upper(p.x[0], [p.x[0] + p.y[0] >= 3])
    p.set_lower(p.y[0], [p.y[0] >= 0])
    assert solve_complementarity_bb(p).status == "infeasible"

    q = BilevelProblem(1, 1, name="follower_unbounded", x_bounds=[(0, 1)])
    q.set_upper(q.x[0] + q.y[0], [q.y[0] <= 10])  # leader bounds y, the follower does not
    q.set_lower(-q.y[0], [q.y[0] >= q.x[0]])
    assert solve_complementarity_bb(q).status == "lower_level_unbounded"

def test_rejects_non_lplp():
    p = BilevelProblem(1, 1, name="qp", x_bounds=[(0, 1)], y_bounds=[(0, 1)])
    p.set_upper(p.x[0] ** 2 + p.y[0])
    p.set_lower(p.y[0], [p.y[0] >= p.x[0]])
    with pytest.raises(UnsupportedStructureError):
        solve_complementarity_bb(p)
    q = BilevelProblem(1, 1, name="int", x_bounds=[(0, 3)], y_bounds=[(0, 1)], x_integer=True)
    q.set_upper(q.x[0] + q.y[0])
    q.set_lower(q.y[0], [q.y[0] >= q.x[0] - 2])
    with pytest.raises(UnsupportedStructureError):
        solve_complementarity_bb(q)

def test_node_limit_gives_valid_bound_and_incumbent():
    opt = solve_complementarity_bb(random_lplp(18, 2), time_limit=120)
    assert opt.status == "optimal"
    r = solve_complementarity_bb(random_lplp(18, 2), node_limit=50)
    assert r.status == "time_limit"
    assert r.bound is not None and r.bound <= opt.F + 1e-6 * abs(opt.F)
    if r.F is not None:
        assert r.certified and r.F >= opt.F - 1e-6 * abs(opt.F)

def test_learned_nogoods_are_valid():
    """Every learned primal nogood is infeasible as a set of active rows under the final
    cutoff, and every dual nogood leaves the multipliers no feasible point."""
    data = extract(random_lplp(12, 0))
    bb = ComplementarityBB(data)
    out = bb.run()
    assert out.status == "optimal"
    P = bb.pnog.M[: bb.pnog.n] > 0.5
    D = bb.dnog.M[: bb.dnog.n] > 0.5
    bb._set_cut()
    for row in P[:40]:
        assert bb._infeasible(row)
    bb.Df.h.changeColsCost(bb.m + bb.p, np.arange(bb.m + bb.p, dtype=np.int32), np.zeros(bb.m + bb.p))
    for row in D[:40]:
        bb._set_f0(row)
        assert bb.Df.run() == "infeasible"

def test_bolib_json_roundtrip(tmp_path):
    """Instances written as BOLIB JSON (as benchmarks/lplp_scaling.py --write-json does)
    solve to the same optimum."""
    from bilevel_mp.frontends.expr import load_problems, problem_to_dict

    p = random_lplp(6, 4)
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(problem_to_dict(p)))
    (q,) = load_problems(path)
    a = solve_complementarity_bb(p)
    b = solve_complementarity_bb(q)
    assert a.status == b.status == "optimal"
    assert a.F == pytest.approx(b.F, rel=1e-9)
