"""Prices as follower duals: a strategic generator bids into a market cleared at least cost.

The leader is a generator (capacity 6 MW, true cost 2 per MWh) that offers one price x
for three hours of demand 8, 10 and 12 MW. The follower is the market operator: it
dispatches the leader, a rival (7 MW offered at 5) and a peaker (10 MW at 15) to meet
each hour's demand at the least *offered* cost. The market price of an hour is the dual
of its balance row, and the leader is paid that price, not its bid: its profit is
Σ_t (price_t - 2) · q_t with price_t = DualOf(balance_t) (BilevelJuMP's ``DualOf``).

By hand: below 5 the leader runs at 6 MW but the rival sets the price 5 (profit 54);
between 5 and 15 the rival runs first and the leader, running 1, 3 and 5 MW, sets the
price x (profit 9 (x - 2)); above 15 the peaker displaces it. At x = 15 the operator is
indifferent between the leader and the peaker, and the optimistic convention (the leader's
favourite among the operator's optimal dispatches) gives profit 9 · 13 = 117, every hour
priced at 15.

Run: python examples/strategic_bidding.py
"""

import pyomo.environ as pyo

import bilevel_mp as bmp
from bilevel_mp.frontends.pyomo import DualOf, LowerLevel

HOURS = {"h1": 8.0, "h2": 10.0, "h3": 12.0}
COST, CAPACITY = 2.0, 6.0
RIVALS = {"rival": (5.0, 7.0), "peaker": (15.0, 10.0)}  # offer, capacity


def build():
    m = pyo.ConcreteModel("strategic_bidding")
    m.bid = pyo.Var(bounds=(0, 30))  # the market's offer cap is 30
    m.M = LowerLevel()
    m.M.q = pyo.Var(HOURS, bounds=(0, CAPACITY))
    m.M.r = pyo.Var(RIVALS, HOURS, bounds=lambda _, g, t: (0, RIVALS[g][1]))
    m.M.cost = pyo.Objective(expr=sum(m.bid * m.M.q[t] + sum(RIVALS[g][0] * m.M.r[g, t] for g in RIVALS)
                                      for t in HOURS))
    m.M.balance = pyo.Constraint(list(HOURS), rule=lambda b, t: b.q[t] + sum(b.r[g, t] for g in RIVALS)
                                 == HOURS[t])
    for t in HOURS:  # one price variable per hour: the balance row's dual
        m.add_component(f"price_{t}", DualOf(m.M.balance[t]))
    m.profit = pyo.Objective(expr=sum((getattr(m, f"price_{t}") - COST) * m.M.q[t] for t in HOURS),
                             sense=pyo.maximize)
    return m


def main():
    m = build()
    r = bmp.solve(m)
    prices = [pyo.value(getattr(m, f"price_{t}")) for t in HOURS]
    print(f"status {r.status} (found by {r.found_by}), certificate: follower re-solved, "
          f"prices checked as its multipliers (residual {r.certificate.dual_residual:.1g})")
    print(f"bid {pyo.value(m.bid):.4f}, profit {r.F:.4f}, prices " + " ".join(f"{p:.4f}" for p in prices))
    print("dispatch " + ", ".join(f"{t}: {pyo.value(m.M.q[t]):.3f} MW" for t in HOURS))
    print("by hand: bid 15, profit 117, every hour priced at 15")


if __name__ == "__main__":
    main()
