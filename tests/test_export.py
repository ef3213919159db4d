"""``bilevel_mp.export``: the written MPS/LP file, solved by another solver alone, gives
the optimum ``bmp.solve`` proves, and its point passes the follower re-solve."""

from __future__ import annotations

import highspy
import numpy as np
import pyscipopt
import pytest

import bilevel_mp as bmp
from bilevel_mp.backends.highs import MIP_FEASIBILITY_TOL
from bilevel_mp.core.certify import certify
from bilevel_mp.export import export
from bilevel_mp.library.classic import get
from bilevel_mp.library.interdiction import grid_interdiction_network, shortest_path_interdiction
from bilevel_mp.library.random_lplp import random_lplp


def _scip(path):
    s = pyscipopt.Model()
    s.hideOutput()
    s.readProblem(str(path))
    s.optimize()
    assert s.getStatus() == "optimal"
    values = {v.name: s.getVal(v) for v in s.getVars()}
    return s.getObjVal(), values


def _highs(path):
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_feasibility_tolerance", MIP_FEASIBILITY_TOL)  # as the back end: big-M rows
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.modelStatusToString(h.getModelStatus()) == "Optimal"
    lp = h.getLp()
    values = dict(zip(lp.col_names_, h.getSolution().col_value))
    return h.getInfo().objective_function_value, values


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("suffix", [".mps", ".lp"])
def test_kkt_sos1_file_solved_by_scip_alone(tmp_path, seed, suffix):
    p = random_lplp(6, seed=seed)
    r = bmp.solve(p)
    assert r.status == "optimal"
    info = export(p, tmp_path / f"kkt{suffix}", method="kkt")
    assert info.n_sos1 > 0 and info.exact
    obj, values = _scip(info.path)
    assert obj == pytest.approx(r.F, rel=1e-6, abs=1e-6)
    x = np.array([values[c] for c in info.x_columns])
    y = np.array([values[c] for c in info.y_columns])
    cert = certify(p, x, y)
    assert cert.certified
    assert p.evaluate(x, y)["F"] == pytest.approx(r.F, rel=1e-6, abs=1e-6)


def test_follower_dual_milp_solved_by_highs_alone(tmp_path):
    arcs, s, t = grid_interdiction_network(5, seed=7)
    p = shortest_path_interdiction(arcs, s, t, budget=2)
    r = bmp.solve(p)
    assert r.status == "optimal"
    info = export(p, tmp_path / "fd.mps", method="follower_dual")
    obj, values = _highs(info.path)
    assert -obj == pytest.approx(r.F, rel=1e-6)          # F is maximised: the file minimises -F
    x = np.array([values[c] for c in info.x_columns])
    assert np.allclose(x, np.round(x), atol=1e-6)       # binary interdictions
    # the follower's rows do not involve x: its primal block is left out (Israeli & Wood's
    # model), so y has no columns in the file
    assert info.y_columns == [None] * p.n_y
    assert info.n_columns == len(values)


def test_kkt_bigm_lp_solved_by_highs_alone(tmp_path):
    p = get("Bard1984a")
    info = export(p, tmp_path / "bigm.lp", method="kkt", mode="bigm", dual_bound=100.0)
    assert not info.exact and any("user-supplied" in a for a in info.assumptions)
    obj, _ = _highs(info.path)
    assert obj == pytest.approx(bmp.solve(p).F, rel=1e-7)


def test_bad_exports_raise(tmp_path):
    p = get("Bard1984a")
    with pytest.raises(bmp.BilevelInputError, match="suffix"):
        export(p, tmp_path / "model.txt")
    with pytest.raises(bmp.BilevelInputError, match="no single model"):
        export(p, tmp_path / "model.mps", method="descent")
    with pytest.raises(bmp.BilevelInputError, match="indicator"):
        export(p, tmp_path / "model.mps", method="kkt", mode="indicator")
    with pytest.raises(bmp.BilevelInputError, match="has no setting"):
        export(p, tmp_path / "model.mps", method="kkt", mdoe="sos1")
    assert not list(tmp_path.iterdir())                  # nothing half-written
