"""Toll setting (Labbé, Marcotte & Savard 1998): the leader's revenue as the toll varies.

A small network, one origin-destination pair with demand 2 and one tollable arc A→B.
Without toll the cheapest route O→A→B→D costs 5; the best toll-free route O→A→C→D
costs 7. The followers pay c + t and take a cheapest route, so the operator's revenue
is 2 t while t <= 7 - 5 = 2 and 0 beyond. The figure shows the three regimes:

* toll too low: everybody uses the tolled arc, but revenue is left on the table;
* toll optimal (t = 2): the tolled route and the toll-free route cost the same and the
  (optimistic) followers stay on the toll road: revenue 4;
* toll too high: the followers switch to the toll-free route, revenue 0.

The bilevel optimum from ``bilevel_mp.solve`` is marked on the curves; the curves come
from the followers' response at each toll on a grid (``toll_response``).

Run: python examples/toll_setting.py [--out FILE]
The figure goes to FILE, by default toll_setting.png in a fresh temporary folder; the
path is printed. The README's copy is refreshed on purpose only:
    python examples/toll_setting.py --out benchmarks/figures/toll_setting.png
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

import bilevel_mp as bmp
from bilevel_mp.library.toll import toll_response, toll_setting, toll_solution

ARCS = [("O", "A", 2), ("A", "B", 1), ("B", "D", 2), ("A", "C", 1), ("O", "C", 4),
        ("C", "D", 4), ("C", "B", 3)]
TOLLED = {("A", "B"): 6.0}          # tollable arc and its cap
COMMODITIES = [("O", "D", 2.0)]     # origin, destination, demand
POSITIONS = {"O": (0, 0), "A": (1, 1), "B": (2, 1), "C": (1.5, -0.6), "D": (3, 0)}


def solve():
    problem = toll_setting(ARCS, COMMODITIES, TOLLED)
    result = bmp.solve(problem)
    return problem, result


def curves(problem, grid):
    """Flow on the tolled arc and revenue at each toll of the grid."""
    flow, revenue = [], []
    for t in grid:
        r = toll_response(problem, {("A", "B"): t})
        flow.append(sum(f.get(("A", "B"), 0.0) for f in r.flows))
        revenue.append(r.revenue)
    return np.array(flow), np.array(revenue)


def plot(problem, result, grid, flow, revenue, path):
    """Draw the network, the follower's response and the revenue curve into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sol = toll_solution(problem, result)
    t_star = sol.tolls[("A", "B")]
    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(13, 3.8),
                                        gridspec_kw={"width_ratios": [1.0, 1.2, 1.2]})
    # the network, with the optimal flows
    for tail, head, cost in ARCS:
        (x0, y0), (x1, y1) = POSITIONS[tail], POSITIONS[head]
        used = sum(f.get((tail, head), 0.0) for f in sol.flows) > 1e-6
        tolled = (tail, head) in TOLLED
        ax0.annotate("", xy=(x1, y1), xytext=(x0, y0),
                     arrowprops=dict(arrowstyle="-|>", lw=2.5 if used else 1.0,
                                     color="tab:red" if tolled else ("black" if used else "grey"),
                                     shrinkA=9, shrinkB=9))
        label = f"{cost:g}+t" if tolled else f"{cost:g}"
        ax0.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.08, label, ha="center", fontsize=9,
                 color="tab:red" if tolled else "black")
    for node, (x, y) in POSITIONS.items():
        ax0.plot(x, y, "o", ms=16, color="white", mec="black")
        ax0.text(x, y, node, ha="center", va="center", fontsize=10)
    ax0.set_title(f"network (demand {COMMODITIES[0][2]:g} O→D)\nbold: optimal routing at t* = {t_star:g}",
                  fontsize=10)
    ax0.set_xlim(-0.3, 3.3)
    ax0.set_ylim(-1.0, 1.4)
    ax0.axis("off")

    regimes = [(grid[0], t_star, "tab:blue", "too low"), (t_star, grid[-1], "tab:grey", "too high")]
    for ax in (ax1, ax2):
        for lo, hi, color, text in regimes:
            ax.axvspan(lo, hi, color=color, alpha=0.08)
        ax.axvline(t_star, color="tab:red", lw=1, ls="--")
        ax.set_xlabel("toll t on arc A→B")
    ax1.step(grid, flow, where="pre", color="black")  # flow(t) is left-continuous
    ax1.plot(grid, flow, ".", ms=3, color="black")
    ax1.set_ylabel("flow on the tolled arc")
    ax1.set_title("follower's response", fontsize=10)
    ax1.text((grid[0] + t_star) / 2, 1.0, "tolled route\nO→A→B→D", ha="center", fontsize=9)
    ax1.text((t_star + grid[-1]) / 2, 1.0, "toll-free route\nO→A→C→D", ha="center", fontsize=9)
    ax1.set_ylim(-0.1, 2.3)
    ax2.plot(grid, revenue, ".", ms=3, color="black", label="revenue at grid tolls")
    ax2.plot([t_star], [sol.revenue], "*", ms=16, color="tab:red",
             label=f"bilevel optimum (solver): t* = {t_star:g}, revenue {sol.revenue:g}")
    ax2.set_ylabel("leader's revenue t · flow")
    ax2.set_title("leader's revenue", fontsize=10)
    ax2.legend(loc="center right", fontsize=8)
    top = max(revenue.max(), sol.revenue) * 1.35
    ax2.set_ylim(-0.2, top)
    for x, text in (((grid[0] + t_star) / 2, "too low"), (t_star, "optimal"), ((t_star + grid[-1]) / 2, "too high")):
        ax2.text(x, top * 0.93, text, ha="center", va="top", fontsize=9,
                 color="tab:red" if text == "optimal" else "black")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="where to write the figure (default: toll_setting.png in a new "
                             "temporary folder)")
    args = parser.parse_args()
    figure = args.out if args.out is not None else \
        Path(tempfile.mkdtemp(prefix="toll_setting_")) / "toll_setting.png"
    problem, result = solve()
    print(result)
    sol = toll_solution(problem, result)
    print(f"optimal toll {sol.tolls}, revenue {sol.revenue:g}, flows {sol.flows}")
    grid = np.linspace(0.0, 6.0, 61)
    flow, revenue = curves(problem, grid)
    k = int(np.argmax(revenue))
    print(f"grid best: toll {grid[k]:g}, revenue {revenue[k]:g}")
    for t in (1.0, 2.0, 3.0):
        r = toll_response(problem, {("A", "B"): t})
        print(f"  toll {t:g}: flow on A→B {sum(f.get(('A', 'B'), 0.0) for f in r.flows):g}, revenue {r.revenue:g}")
    print(f"figure: {plot(problem, result, grid, flow, revenue, figure)}")
