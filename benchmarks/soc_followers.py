"""Second-order cone followers through the default path, checked independently.

For each seed of ``bilevel_mp.library.random_soc`` (fresh seeds: none was used to choose a
setting) it runs ``bmp.solve(p)`` (auto) and compares with an independent computation:
F(x, y(x)) with the follower solved by SCS (CVXPY, eps 1e-10) on a grid of 41 x values,
refined by a bounded scalar search around the best grid point (the follower is strongly
convex, so x -> F(x, y(x)) is continuous). Reported per instance: status, seconds,
F, the reference optimum, and F minus SCS's value at the returned x (how far the returned
y is from the follower's true response, in F).

    python benchmarks/soc_followers.py [--seeds 500-519] [--box 3 | --box none] [--limit 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import bilevel_mp as bmp
from bilevel_mp.library.random_soc import random_soc


def follower_F(p, xv: float) -> float:
    import cvxpy as cp

    data, box = p.meta["data"], p.meta["box"]
    y = cp.Variable(len(data["c"]))
    cons = [cp.norm(A @ y + b * xv + e) <= 1 + h @ y for A, b, e, h in data["cones"]]
    cons += [] if box is None else [cp.abs(y) <= box]
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(y) + (data["c"] + xv * data["d"]) @ y), cons).solve(
        solver="SCS", eps=1e-10, max_iters=200000)
    return float((xv - data["x0"]) ** 2 + data["a"] @ y.value)


def reference(p) -> float:
    from scipy.optimize import minimize_scalar

    grid = np.linspace(-1, 1, 41)
    vals = [follower_F(p, xv) for xv in grid]
    k = int(np.argmin(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    ref = minimize_scalar(lambda xv: follower_F(p, xv), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-7})
    return min(min(vals), float(ref.fun))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="500-519")
    ap.add_argument("--box", default="3")
    ap.add_argument("--limit", type=float, default=60.0)
    args = ap.parse_args()
    lo, hi = (int(s) for s in args.seeds.split("-"))
    box = None if args.box == "none" else float(args.box)
    print(f"| seed | status | s | F | reference | F − F_SCS(x) |\n|---|---|---|---|---|---|")
    for seed in range(lo, hi + 1):
        p = random_soc(seed, box=box)
        t0 = time.perf_counter()
        r = bmp.solve(p, time_limit=args.limit)
        secs = time.perf_counter() - t0
        ref = reference(p)
        off = r.F - follower_F(p, float(r.x[0])) if r.x is not None else float("nan")
        F = "—" if r.F is None else f"{r.F:.7f}"
        print(f"| {seed} | {r.status} | {secs:.1f} | {F} | {ref:.7f} | {off:.1e} |", flush=True)


if __name__ == "__main__":
    main()
