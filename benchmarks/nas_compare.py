"""Every NAS searcher against the ground-truth table (issue: NAS ground truth).

    nice -n 10 python benchmarks/nas_compare.py --space cell4 --seeds 5 --budget-epochs 40 \
        [--resource params:6000] [--methods mp,darts1,darts2,random,evolution] [--jobs 2] \
        [--out results/nas_compare]

Each (method, seed) runs through ``nas_frontend.run_search`` with the same budget
(epochs counted as ``nas_frontend.common`` says: supernet minibatch passes for mp and
DARTS; the recorded training epochs of every architecture looked up in the table for
random search and evolution, ``oracle="table"``), no retraining. The architecture
returned is then looked up in the table: its test accuracy as the *mean over the
table's seeds* (the seed-to-seed spread of the top cells is as large as their
differences), the regret to the best architecture of the table (the best among those
meeting the resource budget, when one is given), its rank percentile (100 = best),
whether it is parameter-free (the DARTS collapse), and the search's wall time.

Prints per-method mean ± std and counts, writes ``OUT/records.json``, ``OUT/table.md``
and a strip plot of regret per method ``OUT/regret.png``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "nas_truth"))

from summarize import load_table  # noqa: E402

METHODS = ("mp", "darts1", "darts2", "random", "evolution")
TABLE_ORACLE = ("random", "evolution", "grid")


def truth(space: str, table_path: Path, resource: str | None):
    """Mean test accuracy per genotype, and the reference (best feasible) accuracy."""
    archs = load_table(table_path)
    if not archs:
        raise SystemExit(f"{table_path}: no rows")
    n_seeds = max(len(a["seeds"]) for a in archs.values())
    mean = {g: statistics.mean(s["test_acc"] for s in a["seeds"].values())
            for g, a in archs.items() if len(a["seeds"]) == n_seeds}
    feasible = set(mean)
    if resource:
        kind, bound = resource.split(":")
        feasible = {g for g in mean if archs[g][kind] <= float(bound)}
    best = max(mean[g] for g in feasible)
    return archs, mean, best, feasible


def run_one(job):
    method, space, seed, budget, resource, out, table = job
    from nas_frontend import run_search
    from nas_frontend.common import one_thread

    one_thread()
    kw = {"oracle": "table", "table": table} if method in TABLE_ORACLE else {}
    r = run_search(method, space, "mnist1d", budget=budget, seed=seed, resource=resource,
                   out_dir=Path(out) / f"{space}_{method}_seed{seed}", retrain_epochs=0,
                   progress=False, **kw)
    return {"method": method, "seed": seed, "genotype": "|".join(r.genotype),
            "epochs": r.epochs_used, "seconds": r.seconds}


def score(rec, archs, mean, best, feasible):
    g = rec["genotype"]
    acc = mean.get(g)
    rec["test_acc"] = acc
    rec["regret"] = None if acc is None else best - acc
    rec["percentile"] = None if acc is None else 100.0 * sum(v <= acc for v in mean.values()) / len(mean)
    rec["params"] = archs[g]["params"] if g in archs else None
    rec["meets_resource"] = g in feasible
    rec["parameter_free"] = bool(archs[g]["param_free"]) if g in archs else None
    return rec


def table(records, methods) -> str:
    rows = ["| method | runs | test acc (mean over table seeds) | regret | rank percentile | "
            "parameter-free | meets budget | search s | epochs |", "|---|---|---|---|---|---|---|---|---|"]

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
                    f"{ms([r['percentile'] for r in rs], '{:.1f}')} | {sum(bool(r['parameter_free']) for r in rs)} | "
                    f"{sum(r['meets_resource'] for r in rs)} | {ms([r['seconds'] for r in rs], '{:.0f}')} | "
                    f"{ms([r['epochs'] for r in rs], '{:.1f}')} |")
    return "\n".join(rows)


def plot(records, methods, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, m in enumerate(methods):
        v = [r["regret"] for r in records if r["method"] == m and r["regret"] is not None]
        ax.scatter([i] * len(v), v, alpha=0.7)
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylabel("regret (test accuracy)")
    ax.set_title("NAS searchers against the ground-truth table")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="cell4")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget-epochs", type=float, default=40.0)
    ap.add_argument("--resource", default=None, help="e.g. params:6000")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--table", default=None, help="CSV (default benchmarks/nas_truth/<space>.csv)")
    ap.add_argument("--out", default="results/nas_compare")
    ap.add_argument("--records", nargs="*", default=None,
                    help="score the records.json of earlier runs against the (now complete) "
                         "table instead of searching")
    args = ap.parse_args(argv)
    table_path = Path(args.table or ROOT / "benchmarks" / "nas_truth" / f"{args.space}.csv")
    archs, mean, best, feasible = truth(args.space, table_path, args.resource)
    methods = args.methods.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    if args.records is not None:  # re-score earlier searches
        for path in args.records:
            records += [score(r, archs, mean, best, feasible) for r in json.loads(Path(path).read_text())]
        methods = [m for m in methods if any(r["method"] == m for r in records)]
    else:
        jobs = [(m, args.space, s, args.budget_epochs, args.resource, str(out), str(table_path))
                for s in range(args.seeds) for m in methods]
        ctx = mp.get_context("spawn")
        with ctx.Pool(max(1, args.jobs), maxtasksperchild=1) as pool:
            for rec in pool.imap_unordered(run_one, jobs):
                records.append(score(rec, archs, mean, best, feasible))
                print(f"{rec['method']:10s} seed {rec['seed']}  {rec['genotype']:30s} acc {rec['test_acc']}  "
                      f"regret {rec['regret']}  {rec['seconds']:.0f} s", flush=True)
    records.sort(key=lambda r: (methods.index(r["method"]), r["seed"]))
    md = (f"space {args.space}, {args.seeds} seeds, budget {args.budget_epochs:g} epochs, resource "
          f"{args.resource or 'none'}; best in table {best:.4f} ({len(mean)} architectures)\n\n"
          + table(records, methods))
    print(md)
    (out / "records.json").write_text(json.dumps(records, indent=1))
    (out / "table.md").write_text(md + "\n")
    plot(records, methods, out / "regret.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
