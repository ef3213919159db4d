"""Differential test on random LP-LP instances: every exact way of solving the same
problem must give the same answer, and each answer must pass the certificate.

Modes compared (all through ``bilevel_mp.solve`` except the last):

* KKT + SOS1, KKT + indicator, strong duality: exact, status ``optimal``;
* KKT + big-M with a generous guessed dual bound: status ``feasible`` by design (the
  dual bound is the user's claim, never a proof);
* ``bilevel_mp.algorithms.complementarity_bb``: exact, status ``optimal``.

Infeasible instances must be infeasible in every mode. Independently of ``bilevel_mp``'s
own certificate, answers are re-checked with ``scipy.optimize.linprog`` (the follower's
LP re-solved at the returned x, constraints evaluated on the raw matrices), and for
n = 3 the bilevel optimum itself is recomputed by brute force over the follower's dual
supports (scipy only).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

import bilevel_mp as bmp
from bilevel_mp.library.random_lplp import random_lplp, random_lplp_data

def solve_complementarity_bb(p, **kw):
    return bmp.solve(p, method='complementarity_bb', **kw)

INSTANCES = [(n, seed) for n in range(3, 9) for seed in range(10)]  # 60 instances
DUAL_BOUND = 1e4  # "generous": the largest multiplier on these instances is below 200
TIME = 60.0

def _modes():
    return {
        "sos1": lambda p: bmp.solve(p, method="kkt", mode="sos1", time_limit=TIME),
        "indicator": lambda p: bmp.solve(p, method="kkt", mode="indicator", time_limit=TIME),
        "bigm": lambda p: bmp.solve(p, method="kkt", mode="bigm", dual_bound=DUAL_BOUND, time_limit=TIME),
        "strong_duality": lambda p: bmp.solve(p, method="strong_duality", time_limit=TIME),
        "complementarity_bb": lambda p: solve_complementarity_bb(p, time_limit=TIME),
    }

EXPECTED_STATUS = {"sos1": "optimal", "indicator": "optimal", "bigm": "feasible",
                   "strong_duality": "optimal", "complementarity_bb": "optimal"}

def _scipy_check(n, seed, x, y, F, tol=1e-6):
    """Re-check (x, y) on the raw data with scipy: bounds, leader and follower rows,
    F, and follower optimality by re-solving the follower's LP at x."""
    d = random_lplp_data(n, seed)
    U = d["bound"]
    x, y = np.asarray(x, float), np.asarray(y, float)
    scale = max(1.0, np.abs(np.concatenate([x, y])).max())
    assert np.all(np.abs(x) <= U + tol * scale) and np.all(np.abs(y) <= U + tol * scale)
    assert np.all(d["A_u"] @ x + d["B_u"] @ y <= d["b_u"] + tol * scale * 50)
    assert np.all(d["A_l"] @ x + d["B_l"] @ y <= d["b_l"] + tol * scale * 50)
    assert d["c_u"] @ x == pytest.approx(F, rel=1e-9, abs=1e-6)
    res = linprog(d["c_l"], A_ub=d["B_l"], b_ub=d["b_l"] - d["A_l"] @ x, bounds=[(-U, U)] * n,
                  method="highs")
    assert res.status == 0
    assert d["c_l"] @ y <= res.fun + 1e-6 * max(1.0, abs(res.fun))

def _brute_force(n, seed):
    """The bilevel optimum by enumeration (scipy only): y is follower-optimal at x iff
    some dual-feasible multiplier vector is supported on rows active at (x, y); minimal
    supports have at most n_y rows. Returns F* or None (infeasible)."""
    d = random_lplp_data(n, seed)
    U = d["bound"]
    # follower rows in <= form over (x, y): A_l x + B_l y <= b_l, y <= U, -y <= U
    Ax = np.vstack([d["A_l"], np.zeros((2 * n, n))])
    Ay = np.vstack([d["B_l"], np.eye(n), -np.eye(n)])
    b = np.concatenate([d["b_l"], np.full(2 * n, U)])
    m = Ax.shape[0]
    # stationarity for min c_l y s.t. Ay y <= b - Ax x:  c_l + Ay^T lam = 0, lam >= 0
    hpr_A = np.vstack([np.hstack([d["A_u"], d["B_u"]]), np.hstack([Ax, Ay])])
    hpr_b = np.concatenate([d["b_u"], b])
    best = None
    for size in range(0, n + 1):
        for T in itertools.combinations(range(m), size):
            T = list(T)
            if T:
                dual = linprog(np.zeros(len(T)), A_eq=Ay[T].T, b_eq=-d["c_l"],
                               bounds=[(0, None)] * len(T), method="highs")
                if dual.status != 0:
                    continue
            elif np.any(d["c_l"] != 0):
                continue
            lp = linprog(np.concatenate([d["c_u"], np.zeros(n)]), A_ub=hpr_A, b_ub=hpr_b,
                         A_eq=np.hstack([Ax[T], Ay[T]]) if T else None, b_eq=b[T] if T else None,
                         bounds=[(-U, U)] * (2 * n), method="highs")
            if lp.status == 0 and (best is None or lp.fun < best):
                best = lp.fun
    return best

@pytest.mark.parametrize("n,seed", INSTANCES, ids=[f"n{n}-s{s}" for n, s in INSTANCES])
def test_modes_agree(n, seed):
    results = {name: run(random_lplp(n, seed)) for name, run in _modes().items()}
    statuses = {name: r.status for name, r in results.items()}
    if any(s == "infeasible" for s in statuses.values()):
        assert all(s == "infeasible" for s in statuses.values()), statuses
        if n == 3:
            assert _brute_force(n, seed) is None
        return
    for name, r in results.items():
        assert r.status == EXPECTED_STATUS[name], (name, r.status, r.message)
        assert r.certified, (name, r.certificate.message)
    Fs = {name: r.F for name, r in results.items()}
    ref = results["sos1"].F
    for name, F in Fs.items():
        assert abs(F - ref) <= 1e-6 * max(1.0, abs(ref)), Fs
    # big-M's bound is a guess; check it was not binding anywhere near (generosity)
    lam = [abs(v) for v in results["sos1"].duals.values()]
    assert max(lam, default=0.0) < DUAL_BOUND / 10
    if seed % 3 == 0:  # independent re-check of some answers with scipy
        for name in ("sos1", "complementarity_bb", "bigm"):
            r = results[name]
            _scipy_check(n, seed, r.x, r.y, r.F)
    if n == 3:
        assert _brute_force(n, seed) == pytest.approx(ref, rel=1e-6, abs=1e-6)

def test_enough_feasible_and_infeasible_instances():
    """The instance set exercises both outcomes."""
    feasible = 0
    for n, seed in INSTANCES:
        r = solve_complementarity_bb(random_lplp(n, seed), time_limit=TIME)
        feasible += r.status == "optimal"
    assert 40 <= feasible < len(INSTANCES)
