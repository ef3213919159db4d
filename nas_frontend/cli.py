"""``bilevel-mp nas``: run an architecture search from the command line.

    bilevel-mp nas --space cell3 --method darts2 --dataset mnist1d --budget-epochs 10 \
        --seed 0 --out runs/cell3-darts2 [--resource params:20000] [--resume]

The results folder OUT holds one run. A fresh run (no --resume) first removes the files
an earlier run left there (checkpoint.pt, architecture.json, history.csv, losses.png,
alpha.png, decision_boundary.png; a note on stderr names them), other files stay;
--resume continues from OUT/checkpoint.pt and, when there is none, exits with status 2
instead of starting over.

Bad input (unknown method/space/dataset, a budget <= 0 or too small for one evaluation of
the method, a --resource no architecture meets, a malformed --resource, --resume without
a checkpoint) and a missing ``nas`` extra exit with status 2 and a one-line message. Wire into a parser with
``add_parser(subparsers)``; the subcommand's ``func`` is :func:`run`. Building the parser
imports no torch (``bilevel-mp`` builds it for every subcommand); running a search needs
it.
"""

from __future__ import annotations

import argparse
import sys

from bilevel_mp.errors import BilevelError
from models.names import DATASETS, SEARCH_SPACES

from .common import METHODS, parse_resource, require_torch


def _resource(s: str):
    try:
        return parse_resource(s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


METHOD_HELP = {
    "mp": "steps from the auxiliary math program (linearised losses, Hessian-vector products, an LP)",
    "darts1": "DARTS, first order (Liu et al. 2019)",
    "darts2": "DARTS, second order (finite-difference Hessian-vector product)",
    "random": "random search over architectures",
    "evolution": "regularised evolution (Real et al. 2019)",
    "grid": "every architecture in a fixed order (small spaces)",
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows every option's default (none for flags and required options)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.required or action.nargs == 0 or not action.option_strings:
            return text
        if action.default is None:
            return f"{text} (default: none)"
        return f"{text} (default: %(default)s)"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``nas`` subcommand to an argparse subparsers object."""
    width = max(map(len, METHODS))
    epilog = "methods (--method):\n" + "\n".join(
        f"  {m:<{width}}  {METHOD_HELP.get(m, '')}" for m in METHODS)
    p = subparsers.add_parser("nas", help="neural architecture search (MP steps, DARTS, "
                                          "random, evolution, grid)",
                              description="Run an architecture search from the command line.",
                              epilog=epilog, formatter_class=_HelpFormatter)
    p.add_argument("--space", required=True, choices=SEARCH_SPACES,
                   help="search space: %(choices)s (required)")
    p.add_argument("--method", required=True, choices=METHODS,
                   help="searcher: %(choices)s (required; one line each below)")
    p.add_argument("--dataset", default="mnist1d", choices=DATASETS,
                   help="data set: %(choices)s")
    p.add_argument("--budget-epochs", type=float, default=None,
                   help="training epochs to spend: passes over minibatches, a Hessian-vector "
                        "product counting as one, plus every network trained on its own")
    p.add_argument("--budget-seconds", type=float, default=None,
                   help="wall seconds to spend (give this, --budget-epochs or both)")
    p.add_argument("--seed", type=int, default=0, help="seed of the search and the retraining")
    p.add_argument("--resource", type=_resource, default=None, metavar="KIND:BOUND",
                   help="resource budget of the derived architecture, e.g. params:20000 "
                        "or flops:500000")
    p.add_argument("--out", default=None, metavar="OUT",
                   help="results folder (default: nas_runs/SPACE_METHOD_DATASET_seedSEED in "
                        "the current folder); without --resume the files an earlier run "
                        "left there (checkpoint.pt, architecture.json, history.csv, losses.png, "
                        "alpha.png, decision_boundary.png) are removed first; other files "
                        "are kept")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt; an error (exit 2) when there is none")
    p.add_argument("--retrain-epochs", type=int, default=40,
                   help="epochs of the fixed recipe for the final architecture (0: skip)")
    p.add_argument("--oracle", choices=("train", "table"), default=None,
                   help="random/evolution/grid: train each architecture, or look it up in "
                        "the ground-truth table (default: train)")
    p.add_argument("--train-epochs", type=int, default=None,
                   help="random/evolution/grid with --oracle train: epochs per architecture "
                        "(default: 3)")
    p.add_argument("--table", default=None,
                   help="ground-truth CSV file or folder (default: the packaged tables)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run the search the parsed ``args`` describe; 0 on success, 2 on bad input or a
    missing extra (one line on stderr)."""
    kw = {}
    if args.method in ("random", "evolution", "grid"):
        kw = {k: v for k, v in (("oracle", args.oracle), ("train_epochs", args.train_epochs),
                                ("table", args.table)) if v is not None}
    elif any(v is not None for v in (args.oracle, args.train_epochs, args.table)):
        print(f"bilevel-mp nas: error: --oracle/--train-epochs/--table apply to random, "
              f"evolution and grid, not {args.method}", file=sys.stderr)
        return 2
    try:
        budget = {k: v for k, v in (("epochs", args.budget_epochs),
                                    ("seconds", args.budget_seconds)) if v is not None}
        if not budget:
            raise ValueError("give a budget: --budget-epochs and/or --budget-seconds")
        require_torch()
        from .runner import run_search  # torch: optional

        r = run_search(args.method, args.space, args.dataset, budget=budget, seed=args.seed,
                       resource=args.resource, out_dir=args.out, resume=args.resume,
                       retrain_epochs=args.retrain_epochs, progress=not args.no_progress,
                       **kw)
    except (BilevelError, ValueError) as exc:   # MissingExtraError, BilevelInputError, ...
        print(f"bilevel-mp nas: error: {exc}", file=sys.stderr)
        return 2
    rt = r.info.get("retrain")
    acc = "" if not rt else f", retrained test accuracy {rt['test_acc']:.4f}"
    print(f"{r.method} on {r.space}/{r.dataset} seed {r.seed}: {'|'.join(r.genotype)} "
          f"({r.epochs_used:.1f} epochs, {r.seconds:.1f} s{acc}) -> {r.info['out_dir']}")
    ok = r.info.get("resource_ok")
    if ok is not None:
        print(f"resource {r.info['resource'][0]} <= {r.info['resource'][1]:g}: "
              f"{'met' if ok else 'NOT met'} ({r.info['cost']})")
    return 0


def main(argv=None) -> int:
    """Stand-alone entry: ``python -m nas_frontend.cli --space ...``."""
    ap = argparse.ArgumentParser(prog="bilevel-mp")
    sub = ap.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = ap.parse_args(["nas", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
