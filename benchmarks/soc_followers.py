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

import bilevel_mp as bmp
from bilevel_mp.library.random_soc import grid_optimum, random_soc, scs_value


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
        ref = grid_optimum(p)
        off = r.F - scs_value(p, float(r.x[0])) if r.x is not None else float("nan")
        F = "—" if r.F is None else f"{r.F:.7f}"
        print(f"| {seed} | {r.status} | {secs:.1f} | {F} | {ref:.7f} | {off:.1e} |", flush=True)


if __name__ == "__main__":
    main()
