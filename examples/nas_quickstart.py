"""Architecture search in one command: DARTS (second order) and random search on the MLP
space for scikit-learn's two moons, the same budget for both, each result retrained and
plotted (losses, alpha, decision boundary) into OUT/darts2 and OUT/random.

Run: python examples/nas_quickstart.py [--out OUT]   (about a minute on a laptop CPU)
OUT defaults to a fresh temporary folder, printed first; a reused OUT is replaced run by
run (see ``bilevel-mp nas --help``). ``--budget-epochs 1 --retrain-epochs 1`` is a quick
smoke run. Same from the shell:
    bilevel-mp nas --space mlp --method darts2 --dataset moons --budget-epochs 20 \
        --resource params:6000 --out OUT/darts2
"""

import argparse
import tempfile
from pathlib import Path

from nas_frontend import run_search

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default: a new temporary folder)")
    parser.add_argument("--budget-epochs", type=float, default=20,
                        help="search budget of each method, in epochs (default 20)")
    parser.add_argument("--retrain-epochs", type=int, default=40,
                        help="epochs to retrain each architecture found (default 40)")
    args = parser.parse_args()
    out = args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="nas_quickstart_"))
    print(f"results folder: {out}")
    for method in ("darts2", "random"):
        r = run_search(method, "mlp", "moons", budget={"epochs": args.budget_epochs}, seed=0,
                       resource="params:6000", retrain_epochs=args.retrain_epochs,
                       out_dir=out / method)
        print(f"{method}: {'|'.join(r.genotype)}, {r.info['params']} params "
              f"(budget met: {r.info['resource_ok']}), test accuracy "
              f"{r.info['retrain']['test_acc']:.3f} -> {r.info['out_dir']}")
