"""Bilevel programs written as two CVXPY problems that share Variables.

Run with ``python examples/cvxpy_example.py``.

1. The example of BilevelJuMP's README (there the follower's variable is called x and
   the leader's y): known optimum F = 3 * (3.5 * 8/15) + 8/15 = 6.1333.
2. A toll-setting problem: the leader's revenue t * flow is bilinear, and the
   follower's cost (t + 1) * flow depends on the leader's toll.
"""

import cvxpy as cp

import bilevel_mp
from bilevel_mp.frontends.cvxpy import from_cvxpy


def bileveljump_readme():
    x = cp.Variable(name="x")  # follower
    y = cp.Variable(name="y")  # leader
    leader = cp.Problem(cp.Minimize(3 * x + y), [x <= 5, y <= 8, y >= 0])
    follower = cp.Problem(cp.Minimize(-x), [
        x + y <= 8,
        4 * x + y >= 8,
        2 * x + y <= 13,
        2 * x - 7 * y <= 0,
    ])
    result = bilevel_mp.solve(from_cvxpy(leader, follower, lower_vars=[x], name="BilevelJuMP README"))
    print(result.summary())
    print("  (result.x holds the leader's variables: here the user's y)")
    print(f"  x.value = {float(x.value):.6f}   (expected 3.5 * 8/15 = {3.5 * 8 / 15:.6f})")
    print(f"  y.value = {float(y.value):.6f}   (expected 8/15 = {8 / 15:.6f})")
    print(f"  F = {result.F:.6f}   (expected {3 * (3.5 * 8 / 15) + 8 / 15:.6f})")
    for i, c in enumerate(follower.constraints):
        print(f"  follower[{i}]  {str(c):<28} dual = {c.dual_value:g}")
    print()


def toll_setting():
    t = cp.Variable(name="toll", nonneg=True)  # leader
    flow = cp.Variable(name="flow")  # follower: one unit of demand, toll arc or a detour
    leader = cp.Problem(cp.Maximize(t * flow), [t <= 10])
    follower = cp.Problem(cp.Minimize((t + 1) * flow + 4 * (1 - flow)), [flow >= 0, flow <= 1])
    result = bilevel_mp.solve(from_cvxpy(leader, follower, lower_vars=[flow], name="toll setting"))
    print(result.summary())
    print(f"  toll = {float(t.value):.4f}, flow = {float(flow.value):.4f}, revenue = {result.F:.4f}")


if __name__ == "__main__":
    bileveljump_readme()
    toll_setting()
