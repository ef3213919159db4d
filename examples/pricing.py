"""Stackelberg pricing: a seller prices two products, a buyer covers its needs by an LP.

The buyer needs 10 units of protein and 6 of fibre and buys the cheapest bundle of
products; rivals sell at fixed prices. The seller picks the prices of its two products
(within caps) to maximise profit, anticipating the buyer's LP. Solved exactly by
``bilevel_mp.solve`` (the seller's revenue written through the buyer's LP duality, see
``bilevel_mp.library.pricing``); the answer is certified by re-solving the buyer's LP.

Run: python examples/pricing.py
"""

import bilevel_mp as bmp
from bilevel_mp.library.pricing import pricing_solution, stackelberg_pricing

REQUIREMENTS = {"protein": 10, "fibre": 6}
PRODUCTS = {
    # the seller's products: price chosen by the leader in [price_floor, price_cap]
    "mix": {"content": {"protein": 2, "fibre": 1}, "price_cap": 20, "unit_cost": 1.0},
    "bran": {"content": {"fibre": 2}, "price_cap": 20, "unit_cost": 0.5, "supply": 2},
    # rivals at fixed prices
    "whey": {"content": {"protein": 1}, "price": 3},
    "oats": {"content": {"fibre": 1}, "price": 2},
    "bar": {"content": {"protein": 1, "fibre": 1}, "price": 4, "supply": 4},
}


def solve(formulation="linear"):
    problem = stackelberg_pricing(REQUIREMENTS, PRODUCTS, formulation=formulation)
    return problem, bmp.solve(problem)


if __name__ == "__main__":
    problem, result = solve()
    print(result)
    sol = pricing_solution(problem, result)
    print(f"prices {sol.prices}")
    print(f"buyer's bundle {sol.purchases}")
    print(f"seller's profit {sol.profit:g}")
    # the same problem with the revenue kept bilinear (p * z): same optimum, harder model
    _, r2 = solve("bilinear")
    print(f"bilinear formulation: {r2.status}, profit {r2.F:g}, {r2.seconds:.2f} s "
          f"(linear: {result.seconds:.2f} s)")
