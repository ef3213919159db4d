"""Several followers: a Stackelberg leader and two Cournot followers.

Three firms sell one good at the price 10 - (x + y1 + y2). The leader commits to its
quantity x first; then the followers choose y1 and y2, each maximising its own profit
given the other's quantity: a Nash game between them (``BilevelProblem.add_follower``,
PAO's multiple submodels, BilevelJuMP's most-asked feature). Unit costs: leader 1,
followers 1 and 2.

By hand: given x the followers' equilibrium is y_i = (10 - x - 2 c_i + c_j) / 3, the
price is (10 - x + c1 + c2) / 3, and the leader's best x is (10 + c1 + c2 - 3) / 2 = 5,
with y = (5/3, 2/3), price 8/3 and profit 25/3. Had the followers been one firm
maximising their joint profit, the answer would differ: printed for comparison.

Run: python examples/stackelberg_cournot.py
"""

import bilevel_mp as bmp
from bilevel_mp import BilevelProblem

A, C0, C1, C2 = 10.0, 1.0, 1.0, 2.0


def build(as_one_firm: bool = False) -> BilevelProblem:
    p = BilevelProblem(n_x=1, n_y=2, name="stackelberg_cournot", x_bounds=[(0, A)],
                       y_bounds=[(0, A), (0, A)], y_names=["y1", "y2"])
    x, (y1, y2) = p.x[0], p.y
    price = A - x - y1 - y2
    if as_one_firm:
        p.set_lower((price - C1) * y1 + (price - C2) * y2, sense="max")
    else:
        p.add_follower([y1], (price - C1) * y1, sense="max", name="firm1")
        p.add_follower([y2], (price - C2) * y2, sense="max", name="firm2")
    p.set_upper((price - C0) * x, sense="max")
    return p


def main():
    r = bmp.solve(build())
    gaps = ", ".join(f"{k} {v:.1g}" for k, v in r.certificate.follower_gaps.items())
    print(f"Cournot followers: status {r.status}, x {r.x[0]:.4f}, y1 {r.y[0]:.4f}, y2 {r.y[1]:.4f}, "
          f"profit {r.F:.4f}")
    print(f"  certificate: each follower re-solved at x and the other's y (gaps: {gaps})")
    x = (A + C1 + C2 - 3 * C0) / 2
    print(f"  by hand: x {x:.4f}, y1 {(A - x - 2 * C1 + C2) / 3:.4f}, y2 {(A - x - 2 * C2 + C1) / 3:.4f}, "
          f"profit {((A - x + C1 + C2) / 3 - C0) * x:.4f}")
    one = bmp.solve(build(as_one_firm=True))
    print(f"one firm instead: status {one.status}, x {one.x[0]:.4f}, y1 {one.y[0]:.4f}, "
          f"y2 {one.y[1]:.4f}, profit {one.F:.4f}")


if __name__ == "__main__":
    main()
