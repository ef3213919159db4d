"""Second-order cone followers: written as ``sqrt(...) <= t`` (core API, Pyomo) or with
``cp.norm`` / ``cp.SOC`` (CVXPY), solved by their conic KKT conditions after the solver
has proven Slater's condition, and certified by re-solving the follower at x.

1. A leader steers a follower who minimises y0 + y1 over the unit disk centred at (x, 0):
   by hand y(x) = (x − 1/√2, −1/√2), and the leader's (x−1)² + (y0+1)² is least at
   x = 1/(2√2), F = 2(1 − 1/(2√2))² = 0.835786...
2. Chi, Wan & Hao (2014), Example 3.1, BilevelJuMP's SOC example, in CVXPY: the follower
   maximises y1 − y2 over y in the cone K² = {y1 >= |y2|} and three rows moving with x;
   the published optimum is F = 12 at x = 6.

Run: python examples/conic_follower.py
"""

from __future__ import annotations

import math

import cvxpy as cp
import pyomo.environ as pyo

import bilevel_mp as bmp
from bilevel_mp.frontends.cvxpy import from_cvxpy


def disk_problem() -> bmp.BilevelProblem:
    p = bmp.BilevelProblem(n_x=1, n_y=2, name="disk")
    x, y = p.x, p.y
    p.set_upper((x[0] - 1) ** 2 + (y[0] + 1) ** 2)
    p.set_lower(y[0] + y[1], [pyo.sqrt((y[0] - x[0]) ** 2 + y[1] ** 2) <= 1])
    return p


def chi_problem():
    x, y = cp.Variable(name="x"), cp.Variable(2, name="y")
    leader = cp.Problem(cp.Minimize(x + 3 * (y[0] - y[1])), [x >= 2, x <= 6])
    follower = cp.Problem(cp.Minimize(-(y[0] - y[1])),
                          [y >= 0, x + y[0] - y[1] <= 8, x + 4 * (y[0] - y[1]) >= 8,
                           x + 2 * (y[0] - y[1]) <= 12, cp.SOC(y[0], y[1:])])
    return from_cvxpy(leader, follower, [y]), x, y


def main() -> None:
    r = bmp.solve(disk_problem())
    hand = 2 * (1 - 1 / (2 * math.sqrt(2))) ** 2
    print(f"disk follower ({r.structure}): status {r.status}, x {r.x[0]:.6f}, F {r.F:.8f} "
          f"(hand {hand:.8f}), {r.certificate.solver} re-solve gap {r.certificate.ll_gap:.1e}")
    bp, x, y = chi_problem()
    r = bmp.solve(bp)
    print(f"Chi et al. 3.1 ({r.structure}): status {r.status}, x {float(x.value):.6f}, "
          f"y1 - y2 {float(y.value[0] - y.value[1]):.6f}, F {r.F:.6f} (published 12)")


if __name__ == "__main__":
    main()
