"""Certified means certified: no answer may buy F with the certificate's tolerance.

The class under test: a point whose y is follower-optimal only up to the certificate's
gap tolerance (GAP_TOL), in a direction that lowers F, presented as proven. Through the
one exit (``core.finish``) such a point is never ``optimal`` at a better F than the
follower's exact response allows; and knife-edge problems (two follower optima that tie
only at one x) solved by the default path return points whose y an independent grid
search confirms."""

import numpy as np
import pytest
from scipy.optimize import linprog

import bilevel_mp as bmp
import bilevel_mp.core.certify as certify_module
from bilevel_mp.core.certify import GAP_TOL
from bilevel_mp.core.finish import Claim, finish
from bilevel_mp.structure import detect


def _lp_follower_problem(seed):
    """Leader's x fixed at x0; follower min d.y s.t. A y <= b + B x0, 0 <= y <= 10;
    F = -(w - y*).y pulls y from the follower's optimum y* towards a feasible point w."""
    rng = np.random.default_rng(seed)
    n_y, m = int(rng.integers(2, 4)), int(rng.integers(2, 5))
    A = rng.uniform(-1, 2, (m, n_y))
    b = rng.uniform(2, 6, m)
    B = rng.uniform(-1, 1, m)
    d = rng.uniform(-2, 1, n_y)
    x0 = float(rng.uniform(0, 1))
    rhs = b + B * x0
    box = [(0, 10)] * n_y
    low = linprog(d, A_ub=A, b_ub=rhs, bounds=box, method="highs")
    high = linprog(-d, A_ub=A, b_ub=rhs, bounds=box, method="highs")
    assert low.status == 0 and high.status == 0
    y_star, w, phi = low.x, high.x, low.fun
    c = -(w - y_star)
    p = bmp.BilevelProblem(1, n_y, x_bounds=[(x0, x0)], y_bounds=box, name=f"lp_tol_{seed}")
    x, y = p.x[0], p.y
    p.set_upper(sum(float(c[j]) * y[j] for j in range(n_y)))
    p.set_lower(sum(float(d[j]) * y[j] for j in range(n_y)),
                [sum(float(A[i, j]) * y[j] for j in range(n_y)) <= float(b[i]) + float(B[i]) * x
                 for i in range(m)])
    # the optimistic optimum, independently: min c.y over the follower's optimal face
    face = linprog(c, A_ub=np.vstack([A, d]), b_ub=np.append(rhs, phi + 1e-9 * max(1, abs(phi))),
                   bounds=box, method="highs")
    # y on the segment y* -> w with follower gap 0.99 * GAP_TOL * max(1, |f|)
    rise = float(d @ (w - y_star))
    t = 0.99 * GAP_TOL * max(1.0, abs(phi)) / rise if rise > 1e-6 else 0.0
    t = min(t, 1.0)
    return p, x0, y_star + t * (w - y_star), face.fun, t


@pytest.mark.parametrize("polish", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_a_proven_claim_at_the_tolerance_is_never_a_wrong_optimal(seed, polish, monkeypatch):
    p, x0, y_edge, F_true, t = _lp_follower_problem(seed)
    if t == 0.0:
        pytest.skip("the follower's objective is constant on the segment")
    if not polish:  # the optimistic response cannot be computed: the proof must not stand
        monkeypatch.setattr(certify_module, "optimistic_response", lambda *a, **k: None)
    F_edge = p.evaluate([x0], y_edge)["F"]
    claim = Claim(x=np.array([x0]), y=y_edge, proven=True, bound=F_edge, solver="test")
    r = finish(p, detect(p), "test", claim, certify_time_limit=10)
    assert r.certificate.certified  # within GAP_TOL: a feasible answer ...
    if r.status == "optimal":  # ... but optimal only at the exact optimistic value
        assert r.F == pytest.approx(F_true, abs=1e-6 * (1 + abs(F_true)))
    if not polish:  # the re-solve's own optimum stands in, or no tight y: no proof either way
        assert r.status != "optimal" and "proof does not cover it" in r.message


def _knife(c, a, b):
    """F = (x - c)^2 + b y^2 + a y; follower min y^3/3 - x^2 y over y in [-1, 1]: its two
    minimisers y = |x| and y = -1 tie only at |x| = 1/2, where F jumps."""
    p = bmp.BilevelProblem(1, 1, x_bounds=[(-1, 1)], y_bounds=[(-1, 1)], name=f"knife_{c}_{a}_{b}")
    x, y = p.x[0], p.y[0]
    p.set_upper((x - c) ** 2 + b * y ** 2 + a * y)
    p.set_lower(y ** 3 / 3 - x ** 2 * y)
    return p


@pytest.mark.parametrize("c, a, b", [(0.25, 0, 1), (-0.3, 0, 1), (0.6, 0, 1), (0.1, 0, 1),
                                     (0.25, 0.5, 1), (0.0, -0.3, 2), (0.4, 0.2, 3)])
def test_knife_edge_answers_survive_an_independent_follower_check(c, a, b):
    p = _knife(c, a, b)
    r = bmp.solve(p, time_limit=60)
    assert r.certificate is not None and r.certificate.certified
    x = float(r.x[0])
    grid = np.linspace(-1, 1, 400001)
    phi = float(np.min(grid ** 3 / 3 - x ** 2 * grid))  # independent: dense grid (+ the ends)
    gap = r.f - phi
    if r.status == "optimal":
        assert gap <= 1e-7, f"y = {r.y[0]} is not the follower's response at x = {x} (gap {gap:.2e})"
        # and the value is the true optimum: the better of the two branches' minima
        xs = np.linspace(-1, 1, 4001)
        best = min(((xv - c) ** 2 + b * yv ** 2 + a * yv)
                   for xv in xs for yv in ([abs(xv)] if abs(xv) >= 0.5 else []) + ([-1.0] if abs(xv) <= 0.5 else []))
        assert best - 1e-3 <= r.F <= best + 1e-4  # the grid's spacing is 5e-4
