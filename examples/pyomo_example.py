"""A bilevel model inside an ordinary Pyomo model, with the follower's duals read back.

The leader sets a capacity price p; a follower (a firm) chooses production q1, q2 to
maximise profit under a shared capacity limit whose shadow price the leader reads.
Run: python examples/pyomo_example.py
"""

import pyomo.environ as pyo

import bilevel_mp as bmp
from bilevel_mp.frontends.pyomo import LowerLevel


def build():
    m = pyo.ConcreteModel("pricing")
    m.p = pyo.Var(bounds=(0, 10))                    # leader: unit price charged on q1
    m.F = LowerLevel()
    m.F.q1 = pyo.Var(bounds=(0, None))
    m.F.q2 = pyo.Var(bounds=(0, None))
    # leader: revenue p*q1 (maximised)
    m.revenue = pyo.Objective(expr=m.p * m.F.q1, sense=pyo.maximize)
    # follower: profit (12 - p) q1 + 5 q2 (maximised) under capacity and a market cap
    m.F.profit = pyo.Objective(expr=(12 - m.p) * m.F.q1 + 5 * m.F.q2, sense=pyo.maximize)
    m.F.capacity = pyo.Constraint(expr=m.F.q1 + m.F.q2 <= 4)
    m.F.market = pyo.Constraint(expr=m.F.q1 <= 3)
    return m


if __name__ == "__main__":
    m = build()
    result = bmp.solve(m)
    print(result)
    print(f"price {m.p.value:.4g}, q1 {m.F.q1.value:.4g}, q2 {m.F.q2.value:.4g}, revenue {pyo.value(m.revenue):.4g}")
    print(f"capacity shadow price {m.F.dual[m.F.capacity]:.4g}, market shadow price {m.F.dual[m.F.market]:.4g}")
