"""Run one architecture search end to end and write a results folder.

    from nas_frontend import run_search
    r = run_search("darts2", "cell3", "mnist1d", budget=10, seed=0, out_dir="runs/d2")

Methods: ``mp`` (:func:`nas_frontend.mp_search.mp_search`), ``darts1``, ``darts2``
(:mod:`nas_frontend.darts`), ``random``, ``evolution``, ``grid`` (the oracle-based
searchers). Data sets: ``mnist1d``, ``digits`` and ``moons`` (:func:`models.data.load`,
split seed 0 for every method and seed, so all methods see the same data; ``moons`` is
2-D, for decision-boundary plots of the MLP space).

The folder ``out_dir`` receives ``checkpoint.pt`` (resume with ``resume=True``),
``architecture.json`` (the SearchResult plus genotype, parameters, FLOPs, resource check
and the retrained accuracies), ``history.csv``, ``losses.png``, ``alpha.png`` (supernet
methods) and, for 2-D data, ``decision_boundary.png`` (:data:`OWNED_FILES`). A folder is
one run: a fresh search (``resume=False``) first removes those files where an earlier
run left them (a note on stderr names them; other files stay), and a resumed one
replaces the results files when it writes, so no plot of another run survives.
``resume=True`` without ``checkpoint.pt`` in the folder is an error (nothing to resume).

This module only dispatches, retrains and writes; what the searchers share is in
:mod:`nas_frontend.common`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from dataclasses import asdict
from numbers import Real
from pathlib import Path

import torch

from bilevel_mp.errors import BilevelInputError
from models.data import check_dataset, load
from models.names import check_search_space
from models.spaces import genotype_str
from models.train import train

from . import plots
from .checks import check_seed
from .common import METHODS, Budget, SearchResult, as_budget, one_thread, parse_resource
from .darts import darts_search
from .evolution import evolution_search
from .grid import grid_search
from .mp_search import mp_search
from .random_search import random_search
from .space import as_space

SEARCHERS = {"mp": (mp_search, {}), "darts1": (darts_search, {"order": 1}),
             "darts2": (darts_search, {"order": 2}), "random": (random_search, {}),
             "evolution": (evolution_search, {}), "grid": (grid_search, {})}
"""Method name (:data:`~nas_frontend.common.METHODS`) -> (search function, the extra
keyword arguments it gets)."""

CHECKPOINT = "checkpoint.pt"
RESULT_FILES = ("architecture.json", "history.csv", "losses.png", "alpha.png",
                "decision_boundary.png")
OWNED_FILES = (CHECKPOINT, "checkpoint.tmp", *RESULT_FILES)
"""The files a run writes into its results folder (``checkpoint.tmp``: a checkpoint being
written); only these are removed when the folder is reused."""


def load_data(name: str, seed: int = 0) -> dict:
    """The data dict of :func:`models.data.load` (``mnist1d``, ``digits`` or ``moons``)."""
    return load(check_dataset(name), seed)


# --- dispatch -----------------------------------------------------------------------------
def get_searcher(method: str):
    """(search function, extra keyword arguments) for a method name."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    search, extra = SEARCHERS[method]
    return search, dict(extra)


def run_search(method: str, space: str, dataset: str = "mnist1d", budget=10.0, seed: int = 0,
               resource=None, out_dir=None, resume: bool = False, retrain_epochs: int = 40,
               progress: bool = True, data_seed: int = 0, **kw) -> SearchResult:
    """Search, retrain the architecture found, and write the results folder.

    ``budget``: a :class:`Budget`, a number of epochs, or ``{"epochs": E, "seconds": S}``.
    ``resource``: e.g. ``"params:20000"`` (see :func:`parse_resource`). ``out_dir``
    defaults to ``nas_runs/<space>_<method>_<dataset>_seed<seed>`` under the current
    folder; without ``resume`` the files of an earlier run there (:data:`OWNED_FILES`)
    are removed before the search starts. ``resume=True`` continues from
    ``out_dir/checkpoint.pt`` and is a :class:`BilevelInputError` when that file does not
    exist. ``retrain_epochs``:
    epochs of the fixed recipe (:func:`models.train.train`, seed ``seed``) for the final
    architecture; 0 skips retraining. Extra keywords go to the searcher (e.g.
    ``oracle="table"``, ``train_epochs=3``, ``alpha_lr=...``).

    Returns the :class:`SearchResult`; ``info["retrain"]`` holds the retrained metrics and
    ``info["out_dir"]`` the folder.
    """
    search, extra = get_searcher(method)
    check_search_space(space)
    check_dataset(dataset)
    budget = as_budget(budget)
    resource = parse_resource(resource)
    seed = check_seed(seed)
    if isinstance(retrain_epochs, bool) or not isinstance(retrain_epochs, Real) \
            or not math.isfinite(retrain_epochs) or int(retrain_epochs) != retrain_epochs \
            or retrain_epochs < 0:
        raise ValueError(f"retrain_epochs must be an integer >= 0, got {retrain_epochs!r}")
    out = Path(out_dir if out_dir is not None
               else f"nas_runs/{space}_{method}_{dataset}_seed{seed}")
    one_thread()
    data = load_data(dataset, data_seed)
    sp = as_space(space, data)
    sp.check_resource(resource)   # the searchers check too; here before the folder
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BilevelInputError(f"cannot create the results folder {out}: "
                                f"{exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise BilevelInputError(f"cannot write to the results folder {out}")
    try:
        if resume and not (out / CHECKPOINT).is_file():
            raise BilevelInputError(
                f"nothing to resume: there is no checkpoint {out / CHECKPOINT}; run without "
                "resume to start a fresh search there")
        if not resume:
            _remove_run_files(out, OWNED_FILES)
        result = search(sp, data, budget, seed=seed, resource=resource,
                        checkpoint=out / CHECKPOINT, resume=resume, progress=progress,
                        **extra, **kw)
    except (BilevelInputError, ValueError):
        if created and not any(out.iterdir()):  # a refusal leaves no empty results folder
            out.rmdir()
        raise
    result.method = method          # darts1 / darts2 rather than the function's name
    result.info.update(sp.report(result.genotype, resource))
    result.info["parameter_free"] = sp.is_parameter_free(result.genotype)
    net, retrain = None, None
    if retrain_epochs:
        net, retrain = retrain_genotype(sp, result.genotype, data, int(retrain_epochs), seed)
    result.info["retrain"] = retrain
    result.info["out_dir"] = str(out)
    write_results(result, data, out, resource, net, budget, sp)
    return result


def retrain_genotype(space, genotype, data: dict, epochs: int, seed: int):
    """(trained net, metrics) of :func:`models.train.train` for ``genotype`` of ``space``
    (a name or a space object, :mod:`nas_frontend.space`)."""
    torch.manual_seed(seed)        # the same initialisation train(genotype, ...) would use
    net = as_space(space, data).make_net(genotype)
    metrics = train(net, data, epochs=epochs, seed=seed)
    return net, metrics


# --- results folder -----------------------------------------------------------------------
def _remove_run_files(out: Path, names=OWNED_FILES) -> list[str]:
    """Delete the files ``names`` from the folder ``out`` where present (one note on stderr
    lists them) and return their names; other files are left alone."""
    removed = []
    for name in names:
        path = out / name
        if path.is_file() or path.is_symlink():
            try:
                path.unlink()
            except OSError as exc:
                raise BilevelInputError(f"cannot remove {path} of an earlier run from the "
                                        f"results folder: {exc.strerror or exc}") from None
            removed.append(name)
    if removed:
        print(f"results folder {out}: removed {', '.join(removed)} of an earlier run",
              file=sys.stderr)
    return removed


def _flat_history(history: list[dict], space: str) -> list[dict]:
    rows = []
    for h in history:
        row = {}
        for k, v in h.items():
            if k in ("probs", "alpha") and isinstance(v, (list, tuple)):
                rl, cl = plots.alpha_labels(space, len(v), len(v[0]) if v else 0)
                for i, r in enumerate(v):
                    for j, x in enumerate(r):
                        row[f"{k}[{rl[i]}][{cl[j]}]"] = x
            elif isinstance(v, (list, tuple)):
                row[k] = "|".join(map(str, v))
            else:
                row[k] = v
        rows.append(row)
    return rows


def write_history_csv(history: list[dict], space: str, path) -> None:
    """One row per history entry; probability/alpha matrices flattened to columns."""
    rows = _flat_history(history, space)
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with Path(path).open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)


def write_results(result: SearchResult, data: dict, out: Path, resource=None, net=None,
                  budget: Budget | None = None, space=None) -> None:
    """architecture.json, history.csv and the plots for ``result`` into ``out``, after
    removing the results files (:data:`RESULT_FILES`) already there: a plot this run does
    not draw (no ``alpha.png`` for a sampler, no decision boundary without retraining)
    does not survive from an earlier one."""
    for name in RESULT_FILES:
        (out / name).unlink(missing_ok=True)
    d = asdict(result)
    d["genotype"] = list(result.genotype)
    d["genotype_str"] = genotype_str(result.genotype)
    sp = as_space(result.space if space is None else space, data)
    d.update(sp.report(result.genotype, resource))
    d["parameter_free"] = sp.is_parameter_free(result.genotype)
    d["retrained_test_acc"] = (result.info.get("retrain") or {}).get("test_acc")
    d["budget"] = None if budget is None else asdict(budget)
    (out / "architecture.json").write_text(json.dumps(d, indent=1, default=float))
    write_history_csv(result.history, result.space, out / "history.csv")
    title = f"{result.method} on {result.space}/{result.dataset}, seed {result.seed}"
    plots.plot_losses(result.history, out / "losses.png", title)
    if any("probs" in h or "alpha" in h for h in result.history):
        plots.plot_alpha(result.history, result.space, out / "alpha.png", title)
    if net is not None and data["n_features"] == 2:
        acc = result.info["retrain"]["test_acc"]
        plots.plot_decision_boundaries(
            [(f"{result.method}: {genotype_str(result.genotype)}\ntest acc {acc:.3f}", net)],
            data, out / "decision_boundary.png")
