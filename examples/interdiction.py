"""Network interdiction: shortest-path (Israeli & Wood 2002) and max-flow (Wood 1993).

An interdictor with a budget of R arcs spoils the network; the follower (an evader, or
a flow of supplies) makes the best of what is left. Each budget is one bilevel problem
solved exactly by ``bilevel_mp.solve`` (KKT + SOS1 on SCIP) and certified by re-solving
the follower's LP at the chosen interdictions.

Run: python examples/interdiction.py
"""

import bilevel_mp as bmp
from bilevel_mp.library.interdiction import (
    interdiction_solution,
    max_flow_interdiction,
    shortest_path_interdiction,
)

# (tail, head, length, extra length when interdicted)
ROADS = [
    ("s", "a", 4, 10), ("s", "b", 2, 10), ("a", "b", 1, 10), ("b", "a", 1, 10),
    ("a", "c", 5, 10), ("b", "d", 8, 10), ("a", "d", 9, 10), ("c", "d", 2, 10),
    ("c", "t", 6, 10), ("d", "t", 3, 10), ("d", "c", 2, 10),
]

# (tail, head, capacity)
PIPES = [
    ("s", "a", 8), ("s", "b", 6), ("s", "c", 4), ("a", "b", 3), ("a", "d", 5),
    ("b", "d", 4), ("b", "e", 5), ("c", "e", 6), ("d", "t", 9), ("e", "t", 7),
    ("a", "t", 2), ("c", "t", 3),
]


def _ordered_path(arcs, start):
    nxt = dict(arcs)
    path, node = [start], start
    while node in nxt and len(path) <= len(arcs):
        node = nxt[node]
        path.append(node)
    return "-".join(path)


def interdiction_table(build, network, budgets=(0, 1, 2, 3)):
    """(budget, status, F, interdicted arcs, arcs the follower uses, certified) per budget."""
    rows = []
    for R in budgets:
        p = build(network, "s", "t", budget=R)
        r = bmp.solve(p)
        sol = interdiction_solution(p, r)
        used = [arc for arc, f in sol.flows.items() if f > 0.5]
        rows.append((R, r.status, r.F, sol.interdicted, used, r.certified))
    return rows


def shortest_path_table(budgets=(0, 1, 2, 3)):
    return [(R, st, F, hit, _ordered_path(used, "s"), cert)
            for R, st, F, hit, used, cert in interdiction_table(shortest_path_interdiction, ROADS, budgets)]


def max_flow_table(budgets=(0, 1, 2, 3)):
    return [(R, st, F, hit, cert)
            for R, st, F, hit, _, cert in interdiction_table(max_flow_interdiction, PIPES, budgets)]


if __name__ == "__main__":
    print("shortest-path interdiction (leader maximises the evader's shortest s-t path)")
    for R, status, F, hit, path, cert in shortest_path_table():
        print(f"  budget {R}: {status}, path length {F:g}, interdict {hit}, certified {cert}")
        print(f"            evader's path {path}")
    print("max-flow interdiction (leader minimises the maximum s-t flow)")
    for R, status, F, hit, cert in max_flow_table():
        print(f"  budget {R}: {status}, max flow {F:g}, interdict {hit}, certified {cert}")
