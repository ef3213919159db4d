"""The NAS-Bench-201-style space (:mod:`models.nb201`, 15,625 cells on MNIST-1D): a uniform
sample of cells trained with the fixed recipe, searches through the user API
(``nas_frontend.search(NB201Net(), train_loader, val_loader, ...)``), and the returned cells
ranked against the sample.

    python benchmarks/nas_nb201.py sample [--cells 300] [--seeds 0] [--jobs 2]
    python benchmarks/nas_nb201.py search --methods mp,darts2,random,evolution \
        --seeds 100-109 --budget-epochs 20 [--resource params:3000] [--jobs 2]
    python benchmarks/nas_nb201.py report [--budget-epochs 20] [--resource params:3000]

Recipe (every trained cell, sample and retrainings alike): :mod:`models.train`'s (20 epochs,
AdamW lr 3e-3, weight decay 1e-4, batch 128, cosine to 0), MNIST-1D split seed 0, C = 16.
A cell's score is its test accuracy averaged over the retraining seeds (0 and 1).

Caches, committed and resumable (a rerun skips what is there; Ctrl-C loses at most the jobs
running): ``benchmarks/nas_records/nb201_cells.csv`` (one row per trained (cell, seed)) and
``benchmarks/nas_records/nb201_searches.csv`` (one row per search). The sample is the first
``--cells`` cells of a fixed random permutation of the space (seed 2026), so a larger sample
extends a smaller one. ``report`` writes ``benchmarks/NB201.md`` and
``docs/figures/nb201_regret_<budget>[_<resource>].png``: per method and budget the mean and worst regret
(the best sampled cell's score minus the found cell's, over the sample and the found cells)
and the found cells' percentile in the sample.
"""

from __future__ import annotations

import argparse
import csv
import functools
import itertools
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RECORDS = ROOT / "benchmarks" / "nas_records"
CELLS = RECORDS / "nb201_cells.csv"
SEARCHES = RECORDS / "nb201_searches.csv"
CELL_COLS = ("genotype", "seed", "epochs", "params", "flops", "train_acc", "val_acc", "val_loss",
             "test_acc", "seconds")
SEARCH_COLS = ("method", "seed", "budget_epochs", "resource", "genotype", "params",
               "epochs_used", "seconds", "iterations")
RETRAIN_SEEDS = (0, 1)
PERMUTATION_SEED = 2026
EPOCHS = 20


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _append(path: Path, cols, row: dict) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        if new:
            w.writeheader()
        w.writerow({k: row[k] for k in cols})


@functools.lru_cache(maxsize=1)
def _setup():
    """(torch, loaders(seed), NB201Net, its ModuleSpace), built once per process."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from models.data import load
    from models.nb201 import NB201Net
    from nas_frontend.module_space import ModuleSpace

    torch.set_num_threads(1)
    d = load("mnist1d", 0)

    def loaders(seed):
        tr = DataLoader(TensorDataset(d["x_train"], d["y_train"]), batch_size=128, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
        va = DataLoader(TensorDataset(d["x_val"], d["y_val"]), batch_size=400)
        te = DataLoader(TensorDataset(d["x_test"], d["y_test"]), batch_size=500)
        return tr, va, te

    return torch, loaders, NB201Net, ModuleSpace(NB201Net(), d["x_train"][:2])


def permutation() -> list[tuple]:
    from models.nb201 import NB201_OPS

    cells = list(itertools.product(NB201_OPS, repeat=6))
    random.Random(PERMUTATION_SEED).shuffle(cells)
    return cells


def train_cell(job) -> dict:
    """Train one (genotype, seed) with the recipe; the cache row."""
    geno, seed = job
    torch, loaders, _, space = _setup()
    from nas_frontend.loader_train import evaluate_loader, fit_loader

    tr, va, te = loaders(seed)
    torch.manual_seed(seed)
    net = space.make_net(geno)
    r = fit_loader(net, tr, va, EPOCHS, seed)
    return {"genotype": "|".join(geno), "seed": seed, "epochs": EPOCHS,
            "params": space.cost(geno, "params"), "flops": space.cost(geno, "flops"),
            "train_acc": r["train_acc"], "val_acc": r["val_acc"], "val_loss": r["val_loss"],
            "test_acc": evaluate_loader(net, te)["acc"], "seconds": round(r["seconds"], 2)}


def train_missing(jobs: list[tuple], n_jobs: int) -> None:
    done = {(r["genotype"], int(r["seed"])) for r in _rows(CELLS)}
    todo = [(g, s) for g, s in jobs if ("|".join(g), s) not in done]
    todo = list(dict.fromkeys(todo))
    print(f"training {len(todo)} (cell, seed) pairs ({len(jobs) - len(todo)} cached)", flush=True)
    t0 = time.time()
    with mp.get_context("spawn").Pool(n_jobs) as pool:
        for i, row in enumerate(pool.imap_unordered(train_cell, todo), 1):
            _append(CELLS, CELL_COLS, row)
            if i % 10 == 0 or i == len(todo):
                print(f"  {i}/{len(todo)} trained, {time.time() - t0:.0f} s", flush=True)


def search_one(job) -> dict:
    method, seed, budget, resource = job
    torch, loaders, NB201Net, space = _setup()
    import nas_frontend as nf

    tr, va, _ = loaders(seed)
    extra = {"train_epochs": 3} if method in ("random", "evolution") else {}
    res = None
    if resource:
        kind, bound = resource.split(":")
        res = {kind: float(bound)}
    t0 = time.time()
    found = nf.search(NB201Net(), tr, va, method=method, budget_epochs=budget, resource=res,
                      seed=seed, progress=False, **extra)
    g = space.validate(found.genotype)
    return {"method": method, "seed": seed, "budget_epochs": budget, "resource": resource or "",
            "genotype": "|".join(g), "params": space.cost(g, "params"),
            "epochs_used": round(found.result.epochs_used, 3),
            "seconds": round(time.time() - t0, 2), "iterations": len(found.history)}


def _seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def cmd_sample(args) -> None:
    cells = permutation()[:args.cells]
    train_missing([(g, s) for g in cells for s in _seeds(args.seeds)], args.jobs)


def cmd_search(args) -> None:
    done = {(r["method"], int(r["seed"]), float(r["budget_epochs"]), r["resource"])
            for r in _rows(SEARCHES)}
    jobs = [(m, s, args.budget_epochs, args.resource or "") for m in args.methods.split(",")
            for s in _seeds(args.seeds)]
    todo = [j for j in jobs if (j[0], j[1], float(j[2]), j[3]) not in done]
    print(f"{len(todo)} searches ({len(jobs) - len(todo)} cached)", flush=True)
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for row in pool.imap_unordered(search_one, todo):
            _append(SEARCHES, SEARCH_COLS, row)
            print(f"  {row['method']} seed {row['seed']}: {row['genotype']} "
                  f"({row['seconds']:.0f} s)", flush=True)
    found = {tuple(r["genotype"].split("|")) for r in _rows(SEARCHES)}
    train_missing([(g, s) for g in sorted(found) for s in RETRAIN_SEEDS], args.jobs)


def scores() -> dict[str, float]:
    """Mean test accuracy over the retraining seeds of every cell trained on all of them."""
    by: dict[str, dict[int, float]] = {}
    for r in _rows(CELLS):
        by.setdefault(r["genotype"], {})[int(r["seed"])] = float(r["test_acc"])
    return {g: statistics.mean(s[k] for k in RETRAIN_SEEDS) for g, s in by.items()
            if all(k in s for k in RETRAIN_SEEDS)}


def cmd_report(args) -> None:
    max_params = float(args.resource.split(":")[1]) if args.resource else None
    sc = scores()
    fits = {r["genotype"]: max_params is None or float(r["params"]) <= max_params
            for r in _rows(CELLS)}
    sample = ["|".join(g) for g in permutation()[:args.cells]]
    ref = [sc[g] for g in sample if g in sc and fits[g]]
    if not ref:
        raise SystemExit("no sampled cell is trained on every retraining seed: run sample")
    rows = [r for r in _rows(SEARCHES) if float(r["budget_epochs"]) == args.budget_epochs
            and r["resource"] == (args.resource or "")]
    best = max(ref + [sc[r["genotype"]] for r in rows if r["genotype"] in sc
                      and fits[r["genotype"]]])
    lines = [f"NB201-style space on MNIST-1D: {len(ref)} sampled cells (of 15,625; those within "
             f"the budget) trained on seeds {RETRAIN_SEEDS}; budget {args.budget_epochs:g} "
             f"epochs, resource {args.resource or 'none'}; best score {best:.4f} (mean test "
             "accuracy; regret and percentile over the runs within the budget)", "",
             "| method | seeds | within budget | mean regret | worst regret | mean percentile "
             "| mean s |", "|---|---|---|---|---|---|---|"]
    per_method = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        runs = [r for r in rows if r["method"] == m and r["genotype"] in sc]
        mine = [r for r in runs if fits[r["genotype"]]]
        reg = [best - sc[r["genotype"]] for r in mine]
        pct = [100 * sum(v <= sc[r["genotype"]] for v in ref) / len(ref) for r in mine]
        per_method[m] = reg
        stats = (f"{statistics.mean(reg):.4f} | {max(reg):.4f} | {statistics.mean(pct):.1f}"
                 if mine else "– | – | –")
        lines.append(f"| {m} | {len(runs)} | {len(mine)} | {stats} | "
                     f"{statistics.mean(float(r['seconds']) for r in runs):.0f} |")
    text = "\n".join(lines)
    print(text)
    out = ROOT / "benchmarks" / "NB201.md"
    header = f"## budget {args.budget_epochs:g} epochs, resource {args.resource or 'none'}"
    old = out.read_text() if out.exists() else "# NAS-Bench-201-style space\n"
    parts = [p for p in old.split("\n## ") if not p.startswith(header[3:])]
    out.write_text("\n## ".join(parts).rstrip() + f"\n\n{header}\n\n{text}\n")
    if per_method:
        from nas_frontend.plots import pyplot

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for i, (m, reg) in enumerate(per_method.items()):
            if not reg:
                continue
            ax.scatter([i] * len(reg), reg, alpha=0.6)
            ax.hlines(statistics.mean(reg), i - 0.3, i + 0.3)
        ax.set_xticks(range(len(per_method)), list(per_method))
        ax.set_ylabel("regret (test accuracy)")
        ax.set_title(f"NB201-style, {args.budget_epochs:g} epochs, {args.resource or 'no budget'}")
        fig.tight_layout()
        tag = f"e{args.budget_epochs:g}" + (f"_{args.resource.replace(':', '')}"
                                            if args.resource else "")
        fig.savefig(ROOT / "docs" / "figures" / f"nb201_regret_{tag}.png", dpi=120)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--cells", type=int, default=300)
    s.add_argument("--seeds", default="0-1")
    s.add_argument("--jobs", type=int, default=2)
    s = sub.add_parser("search")
    s.add_argument("--methods", default="mp,darts2,random,evolution")
    s.add_argument("--seeds", default="100-109")
    s.add_argument("--budget-epochs", type=float, default=20.0)
    s.add_argument("--resource", default=None)
    s.add_argument("--jobs", type=int, default=2)
    s = sub.add_parser("report")
    s.add_argument("--cells", type=int, default=300)
    s.add_argument("--budget-epochs", type=float, default=20.0)
    s.add_argument("--resource", default=None)
    args = ap.parse_args(argv)
    {"sample": cmd_sample, "search": cmd_search, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    main()
