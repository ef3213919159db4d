"""The local iterative methods on one problem, from the same start: auxiliary-LP
descent, the Colson–Marcotte–Savard trust region and the penalty method, beside the
global method. Each result is certified (follower re-solved at x).

Problem (small enough to solve by hand): F = (x-3)² + (y-2)², follower min (y-x)² s.t. y <= 1, so y = min(x, 1) and
F* = 1 at x = 3, y = 1. From x = 0 the path crosses the kink at x = 1.

Run: python examples/local_methods.py
"""

import bilevel_mp as bmp


def build() -> bmp.BilevelProblem:
    p = bmp.BilevelProblem(n_x=1, n_y=1, name="lq-kink")
    x, y = p.x[0], p.y[0]
    p.set_upper((x - 3) ** 2 + (y - 2) ** 2, [x >= -10, x <= 10])
    p.set_lower((y - x) ** 2, [1 - y >= 0])
    return p


if __name__ == "__main__":
    problem = build()
    print(f"{'method':14s} {'status':16s} {'F':>10s} {'x':>8s} {'iters':>6s} {'certified':>9s}")
    for method, opts in [("descent", {"x0": [0.0]}), ("trust_region", {"x0": [0.0]}),
                         ("penalty", {}), ("auto", {})]:
        r = bmp.solve(problem, method=method, **opts)
        print(f"{method:14s} {r.status:16s} {r.F:10.6f} {r.x[0]:8.4f} {len(r.history):6d} {str(r.certified):>9s}")
    # the per-iteration log of the descent method
    r = bmp.solve(problem, method="descent", x0=[0.0], radius=0.5)
    for it in r.history[:5]:
        print(f"  it {it.k}: F {it.F:.6f}  predicted {it.predicted:+.4f}  step {it.step:.3g}  radius {it.radius:.3g}")
