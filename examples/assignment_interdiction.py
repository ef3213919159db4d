"""Assignment interdiction: a leader removes arcs, a follower assigns at least cost.

    max_x  sum_ij d_ij y_ij       s.t.  sum_ij c_ij x_ij <= B,  x binary
           y in argmin_y { sum_ij d_ij y_ij : each row and each column assigned once,
                                              y_ij <= 1 - x_ij,  y binary }

The leader's objective is the follower's assignment cost, maximised; the follower
minimises it (as in MibS's 2AP assignment-interdiction instances). The budget is below
the cost of interdicting the n cheapest arcs, so a perfect matching always survives.
``bilevel_mp.solve`` is checked against brute-force enumeration.

Run: python examples/assignment_interdiction.py
"""

import numpy as np

import bilevel_mp as bmp
from bilevel_mp.library import assignment_interdiction, solve_by_enumeration

N, SEED = 3, 2


def arcs(v, n):
    """(row, column) of the entries of a 0/1 vector over the n x n arcs that are 1."""
    return [divmod(int(k), n) for k in np.flatnonzero(np.asarray(v) > 0.5)]


if __name__ == "__main__":
    p = assignment_interdiction(N, seed=SEED)
    d = p.meta["assignment_interdiction"]
    print(f"{N} x {N} assignment, costs:\n{np.array(d.costs, dtype=int)}")
    print(f"interdiction costs:\n{np.array(d.interdiction_costs, dtype=int)}\nbudget {d.budget:g}")

    res = bmp.solve(p, time_limit=20)
    print(res)
    print(f"solve: status {res.status}, F = {res.F:g}, interdict arcs {arcs(res.x, N)}, "
          f"the follower assigns {arcs(res.y, N)}")

    truth = solve_by_enumeration(p)
    print(f"enumeration: F* = {truth.F_star:g} over {truth.points_visited} points, "
          f"interdict arcs {arcs(truth.x, N)}")
    print("agree" if abs(res.F - truth.F_star) <= 1e-6 else "DISAGREE")
