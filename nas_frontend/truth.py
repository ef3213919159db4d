"""The NAS ground-truth tables and scoring against them.

A table (CSV, columns :data:`COLUMNS`) holds every architecture of a search space trained
with the fixed recipe :func:`models.train.train` for several seeds; it is built by
:mod:`nas_frontend.truth_build` (``benchmarks/nas_truth/build.py`` is its command line).
The tables of the three spaces on MNIST-1D ship with the package in :data:`TABLE_DIR`
(``nas_frontend/tables/``): ``oracle="table"`` of the sampling searchers reads them there,
and ``benchmarks/nas_compare.py`` scores every searcher's pick against them: the test
accuracy of the returned architecture as the mean over the table's seeds, its regret to the
best (feasible) architecture of the table, and its rank percentile.

Importing this module needs no torch.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import numpy as np

from .common import parse_resource

TABLE_DIR = Path(__file__).resolve().parent / "tables"
"""Where the ground-truth CSV files ship (package data), and where ``oracle="table"``
looks for them by default."""
COLUMNS = ["space", "dataset", "genotype", "params", "flops", "param_free", "seed", "epochs",
           "train_acc", "train_loss", "val_acc", "val_loss", "test_acc", "test_loss",
           "seconds"]
"""The columns of a ground-truth table, in the order the builder writes them."""


def load_table(path: Path) -> dict:
    """{genotype: {"params", "flops", "param_free", "seeds": {seed: row}}} from a CSV."""
    archs: dict = {}
    with Path(path).open(newline="") as f:
        for r in csv.DictReader(f):
            a = archs.setdefault(r["genotype"], {"params": int(r["params"]),
                                                 "flops": int(r["flops"]),
                                                 "param_free": int(r["param_free"]),
                                                 "space": r["space"], "dataset": r["dataset"],
                                                 "epochs": int(r["epochs"]), "seeds": {}})
            a["seeds"][int(r["seed"])] = {k: float(r[k]) for k in (
                "train_acc", "train_loss", "val_acc", "val_loss", "test_acc", "test_loss",
                "seconds")}
    return archs


def read_done(path: Path, space: str, dataset: str, epochs: int) -> set[tuple[str, int]]:
    """(genotype, seed) pairs already in ``path``; ValueError if the file holds another recipe."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return set()
    done = set()
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if (row["space"], row["dataset"], int(row["epochs"])) != (space, dataset, epochs):
                raise ValueError(
                    f"{path} holds rows for space={row['space']} dataset={row['dataset']} "
                    f"epochs={row['epochs']}, not {space}/{dataset}/{epochs}; use another --out")
            done.add((row["genotype"], int(row["seed"])))
    return done


# --- scoring ------------------------------------------------------------------------------
def reference(table_path: Path, resource=None):
    """``(archs, mean, best, feasible)`` of a table: :func:`load_table`'s dict, the mean test
    accuracy per genotype (those with every seed), the reference accuracy (the best among
    the genotypes meeting ``resource``, e.g. ``"params:4500"``, when one is given) and the
    set of those genotypes. ValueError for a table without rows."""
    archs = load_table(table_path)
    if not archs:
        raise ValueError(f"{table_path}: no rows")
    n_seeds = max(len(a["seeds"]) for a in archs.values())
    mean = {g: statistics.mean(s["test_acc"] for s in a["seeds"].values())
            for g, a in archs.items() if len(a["seeds"]) == n_seeds}
    feasible = set(mean)
    if resource:
        kind, bound = parse_resource(resource)
        feasible = {g for g in mean if archs[g][kind] <= bound}
    best = max(mean[g] for g in feasible)
    return archs, mean, best, feasible


def val_means(archs, mean) -> dict:
    """Mean validation accuracy over the table's seeds (architectures with every seed)."""
    return {g: statistics.mean(s["val_acc"] for s in archs[g]["seeds"].values()) for g in mean}


def percentile(values: dict, g: str) -> float | None:
    """Rank percentile of ``values[g]`` among all values (100 = best)."""
    if g not in values:
        return None
    return 100.0 * sum(v <= values[g] for v in values.values()) / len(values)


def score(rec, archs, mean, best, feasible, val_mean=None):
    """Add to the record ``rec`` (a dict with ``"genotype"``, ``"op|op|..."``) its table
    ``test_acc`` (mean over seeds), ``regret`` to ``best``, rank ``percentile`` (and
    ``val_percentile`` with ``val_mean``), ``params``, ``meets_resource`` and
    ``parameter_free``; returns ``rec``."""
    g = rec["genotype"]
    acc = mean.get(g)
    rec["test_acc"] = acc
    rec["regret"] = None if acc is None else best - acc
    rec["percentile"] = percentile(mean, g)
    if val_mean is not None:
        rec["val_percentile"] = percentile(val_mean, g)
    rec["params"] = archs[g]["params"] if g in archs else None
    rec["meets_resource"] = g in feasible
    rec["parameter_free"] = bool(archs[g]["param_free"]) if g in archs else None
    return rec


def top1(rec) -> bool:
    """In the top 1 % of the table by mean test accuracy."""
    return rec["percentile"] is not None and rec["percentile"] >= 99.0


def regret_curve(rec, mean, best, grid, axis: str):
    """Regret of the run's incumbent at each point of ``grid`` (budget ``axis``: "epochs" or
    "seconds"); nan before its first logged point, the final architecture after its end.
    ``rec["trajectory"]`` holds ``(epochs, seconds, genotype, ...)`` points
    (:func:`nas_frontend.plots.incumbents`)."""
    k = 0 if axis == "epochs" else 1
    pts = [(p[k], best - mean[p[2]] if p[2] in mean else np.nan)
           for p in rec.get("trajectory", [])]
    end = rec["epochs"] if axis == "epochs" else rec["seconds"]
    pts.append((end, rec["regret"] if rec["regret"] is not None else np.nan))
    out = np.full(len(grid), np.nan)
    for x, r in sorted(pts, key=lambda t: t[0]):     # stable: the final point wins a tie
        out[grid >= x] = r
    return out
