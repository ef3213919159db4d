"""Every NAS searcher against the ground-truth table.

    nice -n 10 python benchmarks/nas_compare.py --space cell4 --seeds 5 --budget-epochs 40 \
        [--resource params:6000] [--methods mp,darts1,darts2,random,evolution,grid] [--jobs 2] \
        [--first-seed 0] [--mp delta=0.5 --mp k=5] [--out results/nas_compare]

Each (method, seed) runs through ``nas_frontend.run_search`` with the same budget
(epochs counted as ``nas_frontend.common`` says: supernet minibatch passes for mp and
DARTS; the recorded training epochs of every architecture looked up in the table for
random search and evolution, ``oracle="table"``), no retraining. The architecture
returned is then looked up in the table (:mod:`nas_frontend.truth`, default
``nas_frontend/tables/<space>.csv``): its test accuracy as the *mean over the
table's seeds* (the seed-to-seed spread of the top cells is as large as their
differences), the regret to the best architecture of the table (the best among those
meeting the resource budget, when one is given), its rank percentile (100 = best),
whether it is parameter-free (the DARTS collapse), and the search's wall time. The
*validation* percentile of the returned architecture (its rank by the table's mean
validation accuracy) separates what the search optimised from the validation-to-test noise.

Every run also records its incumbent over the search (:func:`nas_frontend.plots.incumbents`:
MP's and DARTS' argmax architecture at each logged iteration, the best-by-validation
architecture of the sampling methods), from which the regret-versus-budget curves are
drawn, and the architecture probabilities of MP and DARTS for the alpha-trajectory figure.

Prints per-method mean ± std and counts, writes ``OUT/records.json``, ``OUT/table.md``,
a strip plot of regret per method ``OUT/regret.png`` and, without a resource budget (MP's
incumbent is its argmax cell, not its final budget-aware selection), regret versus epochs
and versus seconds ``OUT/regret_curves.png`` and the alpha trajectories of the first seed of
``mp`` and of ``darts2`` (or ``darts1``) ``OUT/alpha_trajectories.png``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bilevel_mp.cli import parse_assignments  # noqa: E402
from bilevel_mp.errors import BilevelInputError  # noqa: E402
from nas_frontend.common import one_thread  # noqa: E402
from nas_frontend.plots import alpha_labels, incumbents, pyplot  # noqa: E402
from nas_frontend.truth import (TABLE_DIR, percentile, reference, regret_curve,  # noqa: E402
                                score, top1, val_means)

METHODS = ("mp", "darts1", "darts2", "random", "evolution")
MAX_POINTS = 300           # incumbent points kept per run
TABLE_ORACLE = ("random", "evolution", "grid")


def run_one(job):
    method, space, seed, budget, resource, out, table, mp_settings = job
    from nas_frontend import run_search  # torch: optional (re-scoring --records needs none)

    one_thread()
    kw = {"oracle": "table", "table": table} if method in TABLE_ORACLE else {}
    if method == "mp":
        kw.update(mp_settings)
    r = run_search(method, space, "mnist1d", budget=budget, seed=seed, resource=resource,
                   out_dir=Path(out) / f"{space}_{method}_seed{seed}", retrain_epochs=0,
                   progress=False, **kw)
    traj = incumbents(r.history, space)
    if len(traj) > MAX_POINTS:
        keep = sorted({round(i * (len(traj) - 1) / (MAX_POINTS - 1)) for i in range(MAX_POINTS)})
        traj = [traj[i] for i in keep]
    return {"method": method, "seed": seed, "genotype": "|".join(r.genotype),
            "epochs": r.epochs_used, "seconds": r.seconds, "settings": kw if method == "mp" else {},
            "trajectory": traj}


def table(records, methods) -> str:
    rows = ["| method | runs | test acc (mean over table seeds) | regret | rank percentile | "
            "top 1% | val. percentile | parameter-free | meets budget | search s | epochs |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]

    def ms(v, f="{:.4f}"):
        v = [x for x in v if x is not None]
        if not v:
            return "-"
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        return f"{f.format(statistics.mean(v))} ± {f.format(sd)}"

    for m in methods:
        rs = [r for r in records if r["method"] == m]
        if not rs:
            continue
        rows.append(f"| {m} | {len(rs)} | {ms([r['test_acc'] for r in rs])} | {ms([r['regret'] for r in rs])} | "
                    f"{ms([r['percentile'] for r in rs], '{:.1f}')} | {sum(top1(r) for r in rs)} | "
                    f"{ms([r.get('val_percentile') for r in rs], '{:.1f}')} | "
                    f"{sum(bool(r['parameter_free']) for r in rs)} | "
                    f"{sum(r['meets_resource'] for r in rs)} | {ms([r['seconds'] for r in rs], '{:.0f}')} | "
                    f"{ms([r['epochs'] for r in rs], '{:.1f}')} |")
    return "\n".join(rows)


def plot_curves(records, methods, mean, best, path):
    """Mean regret of the incumbent versus budget epochs and versus seconds, per method
    (lines: mean over seeds; bands: min to max)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, axis in zip(axes, ("epochs", "seconds")):
        top = max(r[axis] for r in records)
        grid = np.linspace(0, top, 200)
        for m in methods:
            rs = [r for r in records if r["method"] == m]
            if not rs:
                continue
            C = np.stack([regret_curve(r, mean, best, grid, axis) for r in rs])
            ok = ~np.isnan(C).any(axis=0)       # every seed has an incumbent
            line, = ax.plot(grid[ok], C[:, ok].mean(axis=0), label=m, lw=1.5)
            ax.fill_between(grid[ok], C[:, ok].min(axis=0), C[:, ok].max(axis=0),
                            color=line.get_color(), alpha=0.12)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xlabel("budget epochs spent" if axis == "epochs" else "search seconds")
        ax.set_ylabel("regret of the current architecture")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Regret (test accuracy, table mean over seeds) versus budget", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_alpha_pair(records, space, path) -> bool:
    """Architecture probabilities per edge over the search: the first seed of ``mp``
    (left) beside the first seed of ``darts2`` (else ``darts1``, right)."""
    plt = pyplot()
    picks = []
    for m in ("mp", "darts2", "darts1"):
        rs = sorted((r for r in records if r["method"] == m and r.get("trajectory")
                     and r["trajectory"][0][3] is not None), key=lambda r: r["seed"])
        if rs and not (m == "darts1" and any(p[0] == "darts2" for p in picks)):
            picks.append((m, rs[0]))
    if not picks:
        return False
    P0 = np.asarray(picks[0][1]["trajectory"][0][3])
    rows, cols = alpha_labels(space, *P0.shape)
    fig, axes = plt.subplots(len(rows), len(picks), figsize=(4.6 * len(picks), 2.2 * len(rows)),
                             squeeze=False, sharex="col", sharey=True)
    for j, (m, r) in enumerate(picks):
        x = [p[0] for p in r["trajectory"]]
        P = np.stack([np.asarray(p[3]) for p in r["trajectory"]])
        for i in range(len(rows)):
            ax = axes[i, j]
            for o, name in enumerate(cols):
                ax.plot(x, P[:, i, o], label=name, lw=1.2)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            ax.set_title(f"{m} seed {r['seed']}: {rows[i]}", fontsize=8)
        axes[-1, j].set_xlabel("budget epochs spent", fontsize=8)
        axes[0, j].text(0.02, 0.92, f"returned {r['genotype']}", transform=axes[0, j].transAxes,
                        fontsize=7, va="top")
    axes[0, 0].legend(fontsize=7, ncol=len(cols), loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot(records, methods, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, m in enumerate(methods):
        v = [r["regret"] for r in records if r["method"] == m and r["regret"] is not None]
        ax.scatter([i] * len(v), v, alpha=0.7)
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylabel("regret (test accuracy)")
    ax.set_title("NAS searchers against the ground-truth table")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def parse_settings(items) -> dict:
    """``["delta=0.5", "basis=cg"]`` -> ``{"delta": 0.5, "basis": "cg"}`` (numbers parsed)."""
    try:
        return parse_assignments(items, "--mp")
    except BilevelInputError as exc:
        raise SystemExit(str(exc)) from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="cell4")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget-epochs", type=float, default=40.0)
    ap.add_argument("--resource", default=None, help="e.g. params:6000")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="search seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--mp", action="append", default=[], metavar="KEY=VALUE",
                    help="an mp_search setting (repeatable), e.g. --mp delta=0.5 --mp k=5")
    ap.add_argument("--table", default=None, help="CSV (default nas_frontend/tables/<space>.csv)")
    ap.add_argument("--out", default="results/nas_compare")
    ap.add_argument("--records", nargs="*", default=None,
                    help="score the records.json of earlier runs against the (now complete) "
                         "table instead of searching")
    args = ap.parse_args(argv)
    table_path = Path(args.table or TABLE_DIR / f"{args.space}.csv")
    try:
        archs, mean, best, feasible = reference(table_path, args.resource)
    except ValueError as exc:                   # a table without rows
        raise SystemExit(str(exc)) from None
    vmean = val_means(archs, mean)
    g_val = max(feasible, key=vmean.get)
    mp_settings = parse_settings(args.mp)
    methods = args.methods.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    if args.records is not None:  # re-score earlier searches
        for path in args.records:
            records += [score(r, archs, mean, best, feasible, vmean)
                        for r in json.loads(Path(path).read_text())]
        methods = [m for m in methods if any(r["method"] == m for r in records)]
    else:
        jobs = [(m, args.space, s, args.budget_epochs, args.resource, str(out), str(table_path),
                 mp_settings) for s in range(args.first_seed, args.first_seed + args.seeds)
                for m in methods]
        if args.jobs > 1:
            pool = mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=1)
            done = pool.imap_unordered(run_one, jobs)
        else:                                   # in this process (no pickling)
            pool, done = None, map(run_one, jobs)
        try:
            for rec in done:
                records.append(score(rec, archs, mean, best, feasible, vmean))
                print(f"{rec['method']:10s} seed {rec['seed']}  {rec['genotype']:30s} acc "
                      f"{rec['test_acc']}  regret {rec['regret']}  {rec['seconds']:.0f} s", flush=True)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    records.sort(key=lambda r: (methods.index(r["method"]), r["seed"]))
    md = (f"space {args.space}, {args.seeds} seeds, budget {args.budget_epochs:g} epochs, resource "
          f"{args.resource or 'none'}; best in table {best:.4f} ({len(mean)} architectures)"
          + (f"; mp settings {mp_settings}" if mp_settings else "")
          + f"\nreference: the best{' feasible' if args.resource else ''} architecture by the table's "
          f"mean validation accuracy, {g_val}, has regret {best - mean[g_val]:.4f} (rank "
          f"percentile {percentile(mean, g_val):.1f}): what a perfect validation-driven search "
          "would return\n\n"
          + table(records, methods))
    print(md)
    (out / "records.json").write_text(json.dumps(records, indent=1))
    (out / "table.md").write_text(md + "\n")
    plot(records, methods, out / "regret.png")
    if any(r.get("trajectory") for r in records) and not args.resource:
        plot_curves(records, methods, mean, best, out / "regret_curves.png")
        plot_alpha_pair(records, args.space, out / "alpha_trajectories.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
