"""Build a NAS ground-truth table: train every architecture of a search space with the
fixed recipe (models.train.train), for several seeds, in parallel worker processes.

    python benchmarks/nas_truth/build.py --space cell3 --dataset mnist1d --seeds 0 1 \
        --epochs 40 --jobs 2 --out nas_frontend/tables/cell3.csv

The command line of :func:`nas_frontend.truth_build.build_table` (one torch thread per
worker; resumable: (genotype, seed) pairs already in --out are skipped, a file written with
another dataset/epochs/space is refused). The tables the package ships, and that
``oracle="table"`` reads by default, are ``nas_frontend/tables/<space>.csv``
(:data:`nas_frontend.truth.TABLE_DIR`): write there (``build_all.sh`` does) to rebuild them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_frontend.truth_build import build_table  # noqa: E402


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
    if args.reuse is not None and args.space != "cell4":
        ap.error("--reuse applies to --space cell4 (rows of a cell3 table)")
    return build_table(args.space, args.out, dataset=args.dataset, seeds=args.seeds,
                       epochs=args.epochs, jobs=args.jobs, split_seed=args.split_seed,
                       reuse=args.reuse, sample=args.sample)


if __name__ == "__main__":
    sys.exit(main())
