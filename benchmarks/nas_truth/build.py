"""Build a NAS ground-truth table: train every architecture of a search space with the
fixed recipe (models.train.train), for several seeds, in parallel worker processes.

    python benchmarks/nas_truth/build.py --space cell3 --dataset mnist1d --seeds 0 1 \
        --epochs 40 --jobs 2 --out benchmarks/nas_truth/cell3.csv

Each worker runs one torch thread (tiny nets on 2 busy OpenMP threads run 20-70x slower).
Resumable: rows are appended to --out as runs finish, and (genotype, seed) pairs already
in the file are skipped; a file written with another dataset/epochs/space is refused.
Every row is deterministic given (space, genotype, seed, dataset, split seed, epochs);
the row order in the file depends on scheduling (sort when reading).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COLUMNS = ["space", "dataset", "genotype", "params", "flops", "param_free", "seed", "epochs",
           "train_acc", "train_loss", "val_acc", "val_loss", "test_acc", "test_loss",
           "seconds"]

_DATA = None


def _init_worker(dataset: str, split_seed: int) -> None:
    global _DATA
    import torch

    torch.set_num_threads(1)
    from models.data import load

    _DATA = load(dataset, split_seed)


def _run(space: str, genotype: str, seed: int, epochs: int) -> dict:
    from models import spaces
    from models.train import train

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
    """Minimal executor running each job lazily in this process (for --jobs 1)."""

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


def read_done(path: Path, space: str, dataset: str, epochs: int) -> set[tuple[str, int]]:
    """(genotype, seed) pairs already in ``path``; ValueError if the file holds another recipe."""
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", required=True, choices=["cell3", "cell4", "mlp"])
    ap.add_argument("--dataset", default="mnist1d", choices=["mnist1d", "digits"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--split-seed", type=int, default=0, help="train/val partition seed")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--reuse", type=Path, default=None,
                    help="cell4 only: a cell3 table (same dataset, epochs) whose rows are "
                         "copied for the cell4 genotypes with edge 2->3 = none (the same "
                         "network, same initialisation and data order, so the same numbers)")
    ap.add_argument("--sample", type=int, default=0,
                    help="only N architectures, evenly spaced over the space (speed checks)")
    args = ap.parse_args(argv)

    from models import spaces

    genos = [spaces.genotype_str(g) for g in spaces.all_genotypes(args.space)]
    if args.sample:
        step = len(genos) / args.sample
        genos = [genos[int(i * step)] for i in range(args.sample)]
    done = read_done(args.out, args.space, args.dataset, args.epochs)
    todo = [(g, s) for s in args.seeds for g in genos if (g, s) not in done]
    print(f"{args.space}/{args.dataset}: {len(genos)} architectures x {len(args.seeds)} seeds, "
          f"{len(done)} done, {len(todo)} to run with {args.jobs} processes, "
          f"{args.epochs} epochs -> {args.out}", flush=True)
    copied = []
    if args.reuse is not None:
        if args.space != "cell4":
            ap.error("--reuse applies to --space cell4 (rows of a cell3 table)")
        read_done(args.reuse, "cell3", args.dataset, args.epochs)   # recipe check
        with args.reuse.open(newline="") as f:
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
        print(f"copied {len(copied)} rows from {args.reuse} (edge 2->3 = none)", flush=True)
    if not todo and not copied:
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    new = not args.out.exists() or args.out.stat().st_size == 0
    if copied:
        with args.out.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            if new:
                w.writeheader()
            w.writerows(copied)
        new = False
    if not todo:
        return 0
    t0 = time.time()
    import multiprocessing as mp

    if args.jobs <= 1:        # in this process, in order (tests, debugging)
        _init_worker(args.dataset, args.split_seed)
        pool = _Inline()
    else:
        pool = ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker,
                                   initargs=(args.dataset, args.split_seed))
    with args.out.open("a", newline="") as f, pool:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            w.writeheader()
        futs = {pool.submit(_run, args.space, g, s, args.epochs): (g, s) for g, s in todo}
        failed = 0
        for n, fut in enumerate(pool.as_completed(futs) if args.jobs <= 1
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


if __name__ == "__main__":
    sys.exit(main())
