"""A bilevel block inside a larger Pyomo model: capacity planning under market dispatch.

A planner (the leader) decides how many modules of solar, wind and gas capacity to build
(integers, first stage) under an investment budget and a firm-capacity (reliability)
requirement. It pays the investment and cares about the *social* operating cost: fuel
plus a carbon damage cost on emissions, plus lost load. But it does not dispatch the
plants: in each period a market (the follower, an LP in a ``LowerLevel`` block) clears
demand at least *bid* cost, where bids are fuel costs only and ignore carbon. The market
runs the existing coal plant before gas, so the only lever the planner has on emissions
is what it builds. The bilevel answer differs from the plan a planner who could also
dispatch would choose (printed for comparison).

Run: python examples/capacity_market.py
"""

import pyomo.environ as pyo

import bilevel_mp as bmp
from bilevel_mp.frontends.pyomo import LowerLevel

DATA = {
    "periods": ["night", "morning", "noon", "evening"],
    "hours": {"night": 8, "morning": 5, "noon": 6, "evening": 5},      # per day
    "demand": {"night": 5.0, "morning": 8.0, "noon": 9.0, "evening": 10.0},  # GW
    "carbon_cost": 80.0,      # damage per tonne CO2, in cost units
    "voll": 1000.0,           # value of lost load per GWh
    "budget": 800.0,          # investment budget per day (annuitised)
    "max_modules": 6,         # modules per technology
    "firm_requirement": 8.0,  # GW of firm capacity (reliability standard)
    # new technologies: investment per module (per day), GW per module, fuel cost per
    # GWh, t CO2 per GWh, availability per period, firm-capacity credit
    "new": {
        "solar": dict(invest=90.0, size=1.0, fuel=0.0, emission=0.0, firm=0.1,
                      avail={"night": 0.0, "morning": 0.5, "noon": 0.9, "evening": 0.2}),
        "wind": dict(invest=110.0, size=1.0, fuel=0.0, emission=0.0, firm=0.3,
                     avail={"night": 0.7, "morning": 0.4, "noon": 0.3, "evening": 0.6}),
        "gas": dict(invest=120.0, size=1.0, fuel=60.0, emission=0.4, firm=0.95,
                    avail={"night": 1.0, "morning": 1.0, "noon": 1.0, "evening": 1.0}),
    },
    # existing plants: capacity (GW), fuel cost, emissions, firm credit
    "existing": {
        "coal": dict(capacity=6.0, fuel=30.0, emission=1.0, firm=0.9),
    },
}


def build(data=DATA, dispatch_by_planner: bool = False):
    """The Pyomo model. With ``dispatch_by_planner`` the market block is an ordinary
    block (single-level: the planner also dispatches), for comparison."""
    m = pyo.ConcreteModel("capacity_market")
    T, new, old = data["periods"], data["new"], data["existing"]
    m.build = pyo.Var(list(new), domain=pyo.Integers, bounds=(0, data["max_modules"]))
    m.M = pyo.Block() if dispatch_by_planner else LowerLevel()
    gens = list(new) + list(old)
    m.M.q = pyo.Var(gens, T, bounds=(0, None))          # dispatch, GW
    m.M.shed = pyo.Var(T, bounds=(0, None))             # lost load, GW

    def capacity(g):
        return new[g]["size"] * m.build[g] if g in new else old[g]["capacity"]

    def spec(g):
        return new[g] if g in new else old[g]

    # leader (first stage): budget and firm capacity
    m.budget = pyo.Constraint(expr=sum(new[g]["invest"] * m.build[g] for g in new) <= data["budget"])
    m.firm = pyo.Constraint(expr=sum(spec(g)["firm"] * capacity(g) for g in gens) >= data["firm_requirement"])

    # follower (market clearing in every period): least bid cost
    m.M.balance = pyo.Constraint(T, rule=lambda b, t: sum(b.q[g, t] for g in gens) + b.shed[t]
                                 == data["demand"][t])
    m.M.cap = pyo.Constraint(gens, T, rule=lambda b, g, t: b.q[g, t]
                             <= (new[g]["avail"][t] if g in new else 1.0) * capacity(g))
    bid_cost = sum(data["hours"][t] * (sum(spec(g)["fuel"] * m.M.q[g, t] for g in gens)
                                       + data["voll"] * m.M.shed[t]) for t in T)
    social_cost = sum(data["hours"][t] * (sum((spec(g)["fuel"] + data["carbon_cost"] * spec(g)["emission"])
                                              * m.M.q[g, t] for g in gens) + data["voll"] * m.M.shed[t])
                      for t in T)
    invest = sum(new[g]["invest"] * m.build[g] for g in new)
    if dispatch_by_planner:
        m.total = pyo.Objective(expr=invest + social_cost)
    else:
        m.M.market = pyo.Objective(expr=bid_cost)
        m.total = pyo.Objective(expr=invest + social_cost)
    m.emissions = pyo.Expression(expr=sum(data["hours"][t] * spec(g)["emission"] * m.M.q[g, t]
                                          for g in gens for t in T))
    return m


def _clean(v, tol=1e-7):
    return 0.0 if abs(v) < tol else v


def report(m, data=DATA):
    plan = {g: int(round(m.build[g].value)) for g in data["new"]}
    gens = list(data["new"]) + list(data["existing"])
    print(f"  build {plan}   total social cost {pyo.value(m.total):.1f}   emissions {pyo.value(m.emissions):.1f} t/day")
    for t in data["periods"]:
        row = ", ".join(f"{g} {_clean(m.M.q[g, t].value):.2f}" for g in gens)
        price = ""
        if hasattr(m.M, "dual") and m.M.balance[t] in m.M.dual:
            price = f"   clearing price {m.M.dual[m.M.balance[t]] / data['hours'][t]:.1f}"
        print(f"    {t:<8} {row}, shed {_clean(m.M.shed[t].value):.2f}{price}")
    return plan


if __name__ == "__main__":
    m = build()
    result = bmp.solve(m, time_limit=60)
    print(result)
    print("bilevel plan (market dispatches by bids, planner anticipates it):")
    report(m)
    single = build(dispatch_by_planner=True)
    pyo.SolverFactory("appsi_highs").solve(single)
    print("for comparison, a planner who could also dispatch (single level):")
    report(single)
    single_plan = {g: int(round(single.build[g].value)) for g in DATA["new"]}
    check = build()
    for g, n in single_plan.items():  # pin the plan by bounds (the leader keeps its variables)
        check.build[g].setlb(n)
        check.build[g].setub(n)
    r2 = bmp.solve(check)
    print(f"that plan under market dispatch costs {r2.F:.1f} (bilevel optimum {result.F:.1f})")
