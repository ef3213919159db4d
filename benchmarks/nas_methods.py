"""Every NAS method on both kinds of space, small budgets, one table of retrained test
accuracies.

    nice -n 10 python benchmarks/nas_methods.py                      # ~15 min on 2 cores
    python benchmarks/nas_methods.py --budget-epochs 10 --retrain-epochs 40 \
        --cases mlp:digits cell3:mnist1d --out results/nas_methods

Each (space, data set, method) is one :func:`nas_frontend.run_search` call: the search
with the same budget (training epochs, counted as in nas_frontend/common.py), then the
architecture found retrained with the fixed recipe (models.train, seed 0) and evaluated
on the test split. ``grid`` runs on the MLP space only. Writes OUT/table.md, OUT/results.json and one results
folder per run; ``--moons`` adds OUT/moons_boundaries.png, the decision boundaries of the
MLP architectures each method finds on make_moons.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_frontend.common import METHODS as ALL_METHODS, one_thread  # noqa: E402
from nas_frontend.plots import plot_decision_boundaries  # noqa: E402
from nas_frontend.runner import load_data, retrain_genotype, run_search  # noqa: E402


def run_case(space, dataset, method, args):
    t0 = time.perf_counter()
    r = run_search(method, space, dataset, budget={"epochs": args.budget_epochs},
                   seed=args.seed, out_dir=args.out / f"{space}_{dataset}_{method}",
                   retrain_epochs=args.retrain_epochs, progress=not args.no_progress)
    rt = r.info["retrain"]
    return {"space": space, "dataset": dataset, "method": method,
            "genotype": "|".join(r.genotype), "params": r.info["params"],
            "parameter_free": r.info["parameter_free"], "search_epochs": r.epochs_used,
            "search_seconds": r.seconds, "search_val_acc": r.info.get("best_val_acc"),
            "test_acc": rt["test_acc"], "val_acc": rt["val_acc"],
            "retrain_seconds": rt["seconds"], "total_seconds": time.perf_counter() - t0}


def markdown(rows, args) -> str:
    lines = [f"Budget {args.budget_epochs:g} epochs per search, retrain {args.retrain_epochs} "
             f"epochs (models.train recipe), seed {args.seed}; {platform.machine()}, "
             f"{os.cpu_count()} cores, one torch thread.", "",
             "| space / data | method | architecture | params | search epochs | search s "
             "| retrained test acc |", "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        pf = " (parameter-free)" if r["parameter_free"] else ""
        g = r["genotype"].replace("|", "\\|")          # a bare | would split the cell
        lines.append(f"| {r['space']} / {r['dataset']} | {r['method']} | `{g}`{pf} "
                     f"| {r['params']} | {r['search_epochs']:.1f} | {r['search_seconds']:.1f} "
                     f"| {r['test_acc']:.4f} |")
    return "\n".join(lines) + "\n"


def moons_figure(methods, args):
    data = load_data("moons", 0)
    panels = []
    for m in methods:
        r = run_search(m, "mlp", "moons", budget={"epochs": args.budget_epochs}, seed=args.seed,
                       out_dir=args.out / f"mlp_moons_{m}", retrain_epochs=args.retrain_epochs,
                       progress=not args.no_progress)
        net, met = retrain_genotype("mlp", r.genotype, data, args.retrain_epochs, args.seed)
        panels.append((f"{m}: {'|'.join(r.genotype)}\ntest acc {met['test_acc']:.3f}", net))
    path = args.out / "moons_boundaries.png"
    plot_decision_boundaries(panels, data, path)
    print(f"wrote {path}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(ALL_METHODS), choices=ALL_METHODS)
    ap.add_argument("--cases", nargs="+", default=["mlp:digits", "cell3:mnist1d"],
                    help="SPACE:DATASET pairs")
    ap.add_argument("--budget-epochs", type=float, default=10.0)
    ap.add_argument("--retrain-epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "nas_methods")
    ap.add_argument("--moons", action="store_true", help="also the make_moons boundary figure")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    one_thread()
    methods = args.methods
    args.out.mkdir(parents=True, exist_ok=True)
    rows, t0 = [], time.perf_counter()
    for case in args.cases:
        space, _, dataset = case.partition(":")
        for m in methods:
            if m == "grid" and space != "mlp":
                continue
            row = run_case(space, dataset, m, args)
            rows.append(row)
            print(f"{space}/{dataset} {m}: {row['genotype']} test {row['test_acc']:.4f} "
                  f"(search {row['search_seconds']:.0f} s, total {row['total_seconds']:.0f} s)",
                  flush=True)
    md = markdown(rows, args)
    (args.out / "table.md").write_text(md)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    print()
    print(md)
    if args.moons:
        moons_figure(methods, args)
    print(f"total {(time.perf_counter() - t0) / 60:.1f} min; wrote {args.out}/table.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
