"""Knapsack interdiction: a leader removes items, a follower packs what is left.

    min_x  sum_i p_i y_i          s.t.  sum_i c_i x_i <= B,  x binary
           y in argmax_y { sum_i p_i y_i : sum_i w_i y_i <= C,  y_i <= 1 - x_i,  y binary }

The leader's objective is the follower's profit, minimised; the follower maximises it
(DeNegre 2011; random data as in MibS's knapsack-interdiction instances). Both levels
are integer, so ``bilevel_mp.solve`` uses its integer-follower method; the answer is
checked against brute-force enumeration of all 2^n x 2^n points.

Run: python examples/knapsack_interdiction.py
"""

import numpy as np

import bilevel_mp as bmp
from bilevel_mp.library import knapsack_interdiction, solve_by_enumeration

N_ITEMS, SEED = 9, 4

if __name__ == "__main__":
    p = knapsack_interdiction(N_ITEMS, seed=SEED)
    d = p.meta["knapsack_interdiction"]
    print(f"{N_ITEMS} items: profits {[int(v) for v in d.profits]}, weights {[int(v) for v in d.weights]}, "
          f"capacity {d.capacity:g}")
    print(f"interdiction costs {[int(v) for v in d.interdiction_costs]}, budget {d.budget:g}")

    res = bmp.solve(p, time_limit=20)
    print(res)
    removed = np.flatnonzero(res.x > 0.5).tolist()
    packed = np.flatnonzero(res.y > 0.5).tolist()
    print(f"solve: status {res.status}, F = {res.F:g}, interdict items {removed}, "
          f"the follower packs {packed}")

    truth = solve_by_enumeration(p)
    print(f"enumeration: F* = {truth.F_star:g} over {truth.points_visited} points, "
          f"interdict items {np.flatnonzero(truth.x > 0.5).tolist()}")
    print("agree" if abs(res.F - truth.F_star) <= 1e-6 else "DISAGREE")
