"""Run one architecture search end to end and write a results folder.

    from nas_frontend import run_search
    r = run_search("darts2", "cell3", "mnist1d", budget=10, seed=0, out_dir="runs/d2")

Methods: ``mp`` (:func:`nas_frontend.mp_search.mp_search`), ``darts1``, ``darts2``
(:mod:`nas_frontend.darts`), ``random``, ``evolution``, ``grid`` (the oracle-based
searchers). Data sets: ``mnist1d``, ``digits`` (:func:`models.data.load`, split seed 0 for
every method and seed, so all methods see the same data) and ``moons`` (2-D two-class
make_moons, generated here; for decision-boundary plots of the MLP space).

The folder ``out_dir`` receives ``checkpoint.pt`` (resume with ``resume=True``),
``architecture.json`` (the SearchResult plus genotype, parameters, FLOPs, resource check
and the retrained accuracies), ``history.csv``, ``losses.png``, ``alpha.png`` (supernet
methods) and, for 2-D data, ``decision_boundary.png``.

This module also holds the plumbing the searchers share: resource specs, budget
progress bars, data loading. It imports no torch at module level.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path

from .common import Budget, BudgetMeter, SearchResult

METHODS = ("mp", "darts1", "darts2", "random", "evolution", "grid")
DATASET_NAMES = ("mnist1d", "digits", "moons")
SPACES = ("cell3", "cell4", "mlp")
RESOURCE_KINDS = ("params", "flops")


def require_torch():
    """Import torch, or raise ImportError naming the extra that installs it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed in the test environment
        raise ImportError("the NAS front end needs torch, scikit-learn and mnist1d: "
                          "pip install 'bilevel-mp[nas]'") from None
    return torch


# --- inputs -------------------------------------------------------------------------------
def parse_resource(spec) -> tuple[str, float] | None:
    """Normalise a resource budget to ``(kind, bound)`` with kind ``params`` or ``flops``.

    Accepts None, ``"params:20000"``, ``("params", 20000)`` or ``{"params": 20000}``.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        kind, sep, value = spec.partition(":")
        if not sep:
            raise ValueError(f"malformed resource {spec!r}; write KIND:BOUND, e.g. params:20000")
        spec = (kind.strip(), value.strip())
    elif isinstance(spec, dict):
        if len(spec) != 1:
            raise ValueError(f"malformed resource {spec!r}; give one {{kind: bound}} entry")
        spec = next(iter(spec.items()))
    try:
        kind, value = spec
    except (TypeError, ValueError):
        raise ValueError(f"malformed resource {spec!r}; write ('params', 20000) or "
                         "'params:20000'") from None
    if kind not in RESOURCE_KINDS:
        raise ValueError(f"unknown resource kind {kind!r}; choose one of "
                         f"{', '.join(RESOURCE_KINDS)}")
    try:
        bound = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"resource bound {value!r} is not a number") from None
    if not (bound > 0 and math.isfinite(bound)):
        raise ValueError(f"resource bound must be a positive number, got {value!r}")
    return kind, bound


def as_budget(budget) -> Budget:
    """A :class:`Budget` from a Budget, a number (epochs) or a dict (epochs/seconds)."""
    if isinstance(budget, Budget):
        return budget
    if isinstance(budget, dict):
        unknown = set(budget) - {"epochs", "seconds"}
        if unknown:
            raise ValueError(f"unknown budget fields {sorted(unknown)}; use epochs, seconds")
        return Budget(**budget)
    if isinstance(budget, (int, float)) and not isinstance(budget, bool):
        return Budget(epochs=float(budget))
    raise ValueError(f"budget must be a Budget, a number of epochs or a dict, got {budget!r}")


def check_space(space: str) -> str:
    if space not in SPACES:
        raise ValueError(f"unknown search space {space!r}; choose one of {', '.join(SPACES)}")
    return space


def resource_cost(space: str, genotype, data: dict, kind: str) -> int:
    """Exact parameters or FLOPs of ``genotype`` at the data's input/class sizes."""
    from models import spaces

    f = spaces.exact_params if kind == "params" else spaces.exact_flops
    return f(space, genotype, data["n_features"], data["n_classes"])


def resource_report(space: str, genotype, data: dict, resource) -> dict:
    """{"params", "flops", and with a resource budget "resource", "cost", "resource_ok"}."""
    from models import spaces

    nf, nc = data["n_features"], data["n_classes"]
    out = {"params": spaces.exact_params(space, genotype, nf, nc),
           "flops": spaces.exact_flops(space, genotype, nf, nc)}
    res = parse_resource(resource)
    if res is not None:
        out.update(resource=list(res), cost=out[res[0]], resource_ok=out[res[0]] <= res[1])
    return out


# --- data ---------------------------------------------------------------------------------
def load_data(name: str, seed: int = 0) -> dict:
    """The data dict of :func:`models.data.load` for ``mnist1d`` / ``digits``, or ``moons``:
    scikit-learn's make_moons (noise 0.25), 1200 points split 960 train / 240 val by
    ``seed``, plus a fixed test set of 500; features standardised by fixed constants."""
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    require_torch()
    if name != "moons":
        from models.data import load

        return load(name, seed)
    import numpy as np
    import torch
    from sklearn.datasets import make_moons

    x, y = make_moons(1200, noise=0.25, random_state=0)
    x_te, y_te = make_moons(500, noise=0.25, random_state=1)
    mean, std = np.array([0.5, 0.25]), np.array([0.87, 0.5])   # of the noiseless moons
    x, x_te = (x - mean) / std, (x_te - mean) / std
    perm = np.random.default_rng(seed).permutation(len(y))
    tr, va = perm[:960], perm[960:]
    t32 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
    t64 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.int64)  # noqa: E731
    return {"x_train": t32(x[tr]), "y_train": t64(y[tr]), "x_val": t32(x[va]),
            "y_val": t64(y[va]), "x_test": t32(x_te), "y_test": t64(y_te),
            "name": "moons", "n_features": 2, "n_classes": 2, "seed": seed}


# --- progress -----------------------------------------------------------------------------
def budget_fraction(meter: BudgetMeter) -> float:
    """How much of the budget is spent, in [0, 1] (the larger of epochs and seconds)."""
    b, f = meter.budget, 0.0
    if b.epochs is not None:
        f = max(f, meter.epochs / b.epochs)
    if b.seconds is not None:
        f = max(f, meter.seconds / b.seconds)
    return min(1.0, f)


class BudgetProgress:
    """A rich progress bar over the budget: ``with BudgetProgress(meter, "darts2") as p:
    ... p.update("val 0.91")``. Does nothing when ``enabled`` is False."""

    def __init__(self, meter: BudgetMeter, label: str, enabled: bool = True):
        self.meter, self.label, self.enabled = meter, label, enabled
        self._progress = self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn)

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      TextColumn("{task.percentage:>3.0f}% of budget"),
                                      TimeElapsedColumn())
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=1000)
            self.update()
        return self

    def update(self, text: str = "") -> None:
        if self._progress is not None:
            m = self.meter
            self._progress.update(
                self._task, completed=1000 * budget_fraction(m),
                description=f"{self.label}  {m.epochs:.1f} ep  {m.seconds:.0f} s  {text}")

    def __exit__(self, *exc):
        if self._progress is not None:
            self.update()
            self._progress.stop()
        return False


def check_resume_state(state: dict, **expected) -> None:
    """ValueError when a checkpoint was written by another search configuration."""
    for k, v in expected.items():
        if state.get(k) != v:
            raise ValueError(f"checkpoint holds {k}={state.get(k)!r}, this search has {k}={v!r};"
                             " use another checkpoint path or resume=False")


# --- dispatch -----------------------------------------------------------------------------
def get_searcher(method: str):
    """(search function, extra keyword arguments) for a method name."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "mp":
        try:
            from .mp_search import mp_search
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.mp_search":
                raise
            raise ValueError("method 'mp' is not available: nas_frontend/mp_search.py is "
                             "missing from this installation") from None
        return mp_search, {}
    if method in ("darts1", "darts2"):
        from .darts import darts_search

        return darts_search, {"order": int(method[-1])}
    if method == "random":
        from .random_search import random_search

        return random_search, {}
    if method == "evolution":
        from .evolution import evolution_search

        return evolution_search, {}
    from .grid import grid_search

    return grid_search, {}


def run_search(method: str, space: str, dataset: str = "mnist1d", budget=10.0, seed: int = 0,
               resource=None, out_dir=None, resume: bool = False, retrain_epochs: int = 40,
               progress: bool = True, data_seed: int = 0, **kw) -> SearchResult:
    """Search, retrain the architecture found, and write the results folder.

    ``budget``: a :class:`Budget`, a number of epochs, or ``{"epochs": E, "seconds": S}``.
    ``resource``: e.g. ``"params:20000"`` (see :func:`parse_resource`). ``out_dir``
    defaults to ``nas_runs/<space>_<method>_<dataset>_seed<seed>``. ``retrain_epochs``:
    epochs of the fixed recipe (:func:`models.train.train`, seed ``seed``) for the final
    architecture; 0 skips retraining. Extra keywords go to the searcher (e.g.
    ``oracle="table"``, ``train_epochs=3``, ``alpha_lr=...``).

    Returns the :class:`SearchResult`; ``info["retrain"]`` holds the retrained metrics and
    ``info["out_dir"]`` the folder.
    """
    search, extra = get_searcher(method)
    check_space(space)
    if dataset not in DATASET_NAMES:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASET_NAMES)}")
    budget = as_budget(budget)
    resource = parse_resource(resource)
    if isinstance(retrain_epochs, bool) or int(retrain_epochs) != retrain_epochs \
            or retrain_epochs < 0:
        raise ValueError(f"retrain_epochs must be an integer >= 0, got {retrain_epochs!r}")
    out = Path(out_dir if out_dir is not None
               else f"nas_runs/{space}_{method}_{dataset}_seed{seed}")
    out.mkdir(parents=True, exist_ok=True)
    require_torch()
    from .common import one_thread

    one_thread()
    data = load_data(dataset, data_seed)
    result = search(space, data, budget, seed=seed, resource=resource,
                    checkpoint=out / "checkpoint.pt", resume=resume, progress=progress,
                    **extra, **kw)
    result.method = method          # darts1 / darts2 rather than the function's name
    from models.spaces import is_parameter_free

    result.info.update(resource_report(space, result.genotype, data, resource))
    result.info["parameter_free"] = is_parameter_free(space, result.genotype)
    net, retrain = None, None
    if retrain_epochs:
        net, retrain = retrain_genotype(space, result.genotype, data, int(retrain_epochs), seed)
    result.info["retrain"] = retrain
    result.info["out_dir"] = str(out)
    write_results(result, data, out, resource, net, budget)
    return result


def retrain_genotype(space: str, genotype, data: dict, epochs: int, seed: int):
    """(trained net, metrics) of :func:`models.train.train` for ``genotype``."""
    import torch

    from models.spaces import make_net
    from models.train import train

    torch.manual_seed(seed)        # the same initialisation train(genotype, ...) would use
    net = make_net(space, genotype, n_features=data["n_features"], n_classes=data["n_classes"])
    metrics = train(net, data, epochs=epochs, seed=seed)
    return net, metrics


# --- results folder -----------------------------------------------------------------------
def _flat_history(history: list[dict], space: str) -> list[dict]:
    from .plots import alpha_labels

    rows = []
    for h in history:
        row = {}
        for k, v in h.items():
            if k in ("probs", "alpha") and isinstance(v, (list, tuple)):
                rl, cl = alpha_labels(space, len(v), len(v[0]) if v else 0)
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
                  budget: Budget | None = None) -> None:
    """architecture.json, history.csv and the plots for ``result`` into ``out``."""
    from models.spaces import genotype_str, is_parameter_free

    from . import plots

    d = asdict(result)
    d["genotype"] = list(result.genotype)
    d["genotype_str"] = genotype_str(result.genotype)
    d.update(resource_report(result.space, result.genotype, data, resource))
    d["parameter_free"] = is_parameter_free(result.space, result.genotype)
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
