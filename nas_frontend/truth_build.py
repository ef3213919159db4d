"""Building a NAS ground-truth table (:mod:`nas_frontend.truth`): train every architecture
of a search space with the fixed recipe (:func:`models.train.train`), for several seeds,
in parallel worker processes with one torch thread each. ``benchmarks/nas_truth/build.py``
is the command line.

Resumable: rows are appended to the output CSV as runs finish, and (genotype, seed) pairs
already in the file are skipped; a file written with another dataset/epochs/space is
refused. Every row is deterministic given (space, genotype, seed, dataset, split seed,
epochs); the row order in the file depends on scheduling (sort when reading).
"""

from __future__ import annotations

import csv
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

from models import spaces
from models.data import load
from models.train import train

from .truth import COLUMNS, read_done

_DATA = None


def init_worker(dataset: str, split_seed: int) -> None:
    """Set up a worker process: one torch thread, the data set loaded once."""
    global _DATA
    torch.set_num_threads(1)
    _DATA = load(dataset, split_seed)


def train_row(space: str, genotype: str, seed: int, epochs: int) -> dict:
    """One table row: ``genotype`` (``"op|op|..."``) trained for ``epochs`` with ``seed`` on
    the data of :func:`init_worker`, metrics written as the table stores them."""
    g = spaces.parse_genotype(genotype)
    r = train(g, _DATA, epochs=epochs, seed=seed, space=space)
    nf, nc = _DATA["n_features"], _DATA["n_classes"]
    row = {"space": space, "dataset": _DATA["name"], "genotype": genotype,
           "params": spaces.exact_params(space, g, nf, nc),
           "flops": spaces.exact_flops(space, g, nf, nc),
           "param_free": int(spaces.is_parameter_free(space, g)), "seed": seed,
           "epochs": epochs}
    if row["params"] != r["params"]:
        raise RuntimeError(f"{genotype}: counted {row['params']} params, net has {r['params']}")
    for k in ("train_acc", "train_loss", "val_acc", "val_loss", "test_acc", "test_loss"):
        row[k] = f"{r[k]:.6g}"
    row["seconds"] = f"{r['seconds']:.2f}"
    return row


class _Inline:
    """Minimal executor running each job lazily in this process (for jobs=1)."""

    class _Fut:
        def __init__(self, fn, args):
            self.fn, self.args = fn, args

        def result(self):
            return self.fn(*self.args)

    def submit(self, fn, *args):
        return self._Fut(fn, args)

    def as_completed(self, futs):
        return iter(futs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def build_table(space: str, out, dataset: str = "mnist1d", seeds=(0, 1), epochs: int = 40,
                jobs: int = 2, split_seed: int = 0, reuse=None, sample: int = 0) -> int:
    """Train the architectures of ``space`` missing from the CSV ``out`` for ``seeds`` and
    append their rows; 0 when every run succeeded, 1 when some failed (a rerun retries
    them). Progress goes to stdout, failures to stderr.

    ``reuse``: cell4 only, a cell3 table (same dataset, epochs) whose rows are copied for
    the cell4 genotypes with edge 2->3 = none (the same network, same initialisation and
    data order, so the same numbers). ``sample``: only that many architectures, evenly
    spaced over the space (speed checks). ``split_seed``: the train/val partition.
    """
    out = Path(out)
    genos = [spaces.genotype_str(g) for g in spaces.all_genotypes(space)]
    if sample:
        step = len(genos) / sample
        genos = [genos[int(i * step)] for i in range(sample)]
    done = read_done(out, space, dataset, epochs)
    todo = [(g, s) for s in seeds for g in genos if (g, s) not in done]
    print(f"{space}/{dataset}: {len(genos)} architectures x {len(seeds)} seeds, "
          f"{len(done)} done, {len(todo)} to run with {jobs} processes, "
          f"{epochs} epochs -> {out}", flush=True)
    copied = []
    if reuse is not None:
        if space != "cell4":
            raise ValueError("--reuse applies to --space cell4 (rows of a cell3 table)")
        reuse = Path(reuse)
        read_done(reuse, "cell3", dataset, epochs)   # recipe check
        with reuse.open(newline="") as f:
            src = {(r["genotype"], int(r["seed"])): r for r in csv.DictReader(f)}
        keep = []
        for g, s in todo:
            r = src.get((g[:-len("|none")], s)) if g.endswith("|none") else None
            if r is None:
                keep.append((g, s))
                continue
            gt = spaces.parse_genotype(g)
            row = dict(r, space="cell4", genotype=g, params=spaces.exact_params("cell4", gt),
                       flops=spaces.exact_flops("cell4", gt))
            if (int(r["params"]), int(r["flops"])) != (row["params"], row["flops"]):
                raise RuntimeError(f"{g}: cell3 row has other params/flops than the cell4 net")
            copied.append(row)
        todo = keep
        print(f"copied {len(copied)} rows from {reuse} (edge 2->3 = none)", flush=True)
    if not todo and not copied:
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists() or out.stat().st_size == 0
    if copied:
        with out.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            if new:
                w.writeheader()
            w.writerows(copied)
        new = False
    if not todo:
        return 0
    t0 = time.time()
    if jobs <= 1:        # in this process, in order (tests, debugging)
        init_worker(dataset, split_seed)
        pool = _Inline()
    else:
        pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"),
                                   initializer=init_worker, initargs=(dataset, split_seed))
    with out.open("a", newline="") as f, pool:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        futs = {pool.submit(train_row, space, g, s, epochs): (g, s) for g, s in todo}
        failed = 0
        for n, fut in enumerate(pool.as_completed(futs) if jobs <= 1
                                else as_completed(futs), 1):
            try:
                row = fut.result()
            except Exception as exc:  # report, keep going; a rerun retries the missing pair
                failed += 1
                g, s = futs[fut]
                print(f"[{n}/{len(todo)}] {g} seed {s}: FAILED {type(exc).__name__}: {exc}",
                      file=sys.stderr, flush=True)
                continue
            w.writerow(row)
            f.flush()
            el = time.time() - t0
            print(f"[{n}/{len(todo)}] {row['genotype']} seed {row['seed']}: val "
                  f"{float(row['val_acc']):.3f} test {float(row['test_acc']):.3f} "
                  f"({row['seconds']} s)  elapsed {el / 60:.1f} min, "
                  f"eta {el / n * (len(todo) - n) / 60:.1f} min", flush=True)
    print(f"done in {(time.time() - t0) / 60:.1f} min, {failed} failed", flush=True)
    return 1 if failed else 0
