"""What the sampling-based searchers share (random search :mod:`nas_frontend.random_search`,
regularised evolution :mod:`nas_frontend.evolution`, grid search :mod:`nas_frontend.grid`):

* the evaluation **oracle**, ``oracle="train"`` (:class:`TrainOracle`: train the network
  with a short run of the fixed recipe :func:`models.train.train`, charging its epochs)
  or ``oracle="table"`` (:class:`TableOracle`: look the accuracy up in a ground-truth CSV,
  by default those shipped in ``nas_frontend/tables/``, and charge the epochs and seconds
  recorded there);
* the search loop :class:`DiscreteSearch`: propose a genotype, evaluate it (each genotype
  at most once; a repeated proposal is answered from the cache at no cost), keep the best
  by validation accuracy, checkpoint, stop when the budget is spent or every candidate
  has been evaluated; :class:`OrderedSearch` proposes a fixed sequence.

A resource budget (``resource=("params", B)``) removes the architectures over B from the
candidates before the search starts (rejection), so every returned architecture meets it;
a bound no candidate meets is refused, naming the cheapest one. A budget in epochs below one
evaluation (``train_epochs``, or the table's recorded epochs) is refused too
(:mod:`nas_frontend.checks`); a budget in seconds always gets one evaluation.
The test split is never seen by a search.
"""

from __future__ import annotations

import csv
import random
import time
import warnings
from pathlib import Path

import torch

from models.spaces import all_genotypes, validate
from models.train import train

from .checks import check_budget_covers
from .common import (Budget, BudgetMeter, BudgetProgress, SearchResult, as_budget,
                     check_resume_state, load_checkpoint, save_checkpoint)
from .loader_train import fit_loader
from .space import BuiltinSpace, as_space
from .truth import TABLE_DIR

TABLE_COLUMNS = ("space", "dataset", "genotype", "seed", "epochs", "train_acc", "val_acc",
                 "val_loss", "seconds")
"""The columns of a ground-truth table the table oracle reads."""
MAX_REPEATS = 1000
"""A search stops after this many proposals in a row that were all evaluated before."""
DEFAULT_TRAIN_EPOCHS = 3
"""Epochs of the fixed recipe per architecture for ``oracle="train"``."""


def score(record: dict) -> float:
    """What the sampling searchers maximise: the validation accuracy, or minus the
    validation loss where there is no accuracy (a user's regression loss)."""
    acc = record.get("val_acc")
    return float(acc) if acc is not None else -float(record["val_loss"])


class TrainOracle:
    """Train ``genotype`` of ``space`` (a space object, :mod:`nas_frontend.space`) for
    ``epochs`` epochs with the fixed recipe (initialised under seed ``seed``;
    :func:`models.train.train` on tensors, :func:`nas_frontend.loader_train.fit_loader` on a
    user's loaders) and report its validation accuracy; charges ``epochs`` to the meter."""

    kind = "train"

    def __init__(self, space, data: dict, epochs: int = DEFAULT_TRAIN_EPOCHS, seed: int = 0):
        if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
            raise ValueError(f"train_epochs must be an integer >= 1, got {epochs!r}")
        self.sp = space
        self.data, self.epochs, self.seed = data, int(epochs), seed
        self.cost_epochs = self.epochs
        self.cost_text = f"training an architecture for train_epochs = {self.epochs} epochs"

    def candidates(self) -> list[tuple]:
        return self.sp.all_genotypes()

    def __call__(self, genotype, meter: BudgetMeter) -> dict:
        torch.manual_seed(self.seed)      # the initialisation train(genotype, ...) uses
        net, d = self.sp.make_net(genotype), self.data
        if "loaders" in d:
            r = fit_loader(net, d["loaders"]["train"], d["loaders"]["val"], self.epochs,
                           self.seed, d.get("loss"), d.get("device"))
        else:
            r = train(net, d, epochs=self.epochs, seed=self.seed)
        meter.add_epochs(self.epochs)
        return {"val_acc": r["val_acc"], "val_loss": r["val_loss"], "train_acc": r["train_acc"],
                "cost_epochs": self.epochs, "cost_seconds": r["seconds"]}


class TableOracle:
    """Look ``genotype`` up in a ground-truth table (CSV with columns space, dataset,
    genotype, seed, epochs, val_acc, val_loss, seconds, ...) and charge the recorded
    training epochs and seconds to the meter. Of the seeds recorded for a genotype, the
    search seed picks one (``seeds[seed % len(seeds)]``), like one training run would.

    ``path``: a CSV file or a folder of them (default :data:`TABLE_DIR`); rows of other
    spaces/data sets are ignored.
    """

    kind = "table"

    def __init__(self, space: str, dataset: str, seed: int = 0, path=None):
        self.space, self.dataset, self.seed = space, dataset, seed
        path = Path(TABLE_DIR if path is None else path)
        files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        if not files or not all(f.exists() for f in files):
            raise ValueError(f"no ground-truth CSV at {path}; build one with "
                             "benchmarks/nas_truth/build.py")
        self.rows: dict[tuple, dict[int, dict]] = {}
        for f in files:
            with f.open(newline="") as fh:
                reader = csv.DictReader(fh)
                missing = [c for c in TABLE_COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise ValueError(f"{f} is not a ground-truth table: no column "
                                     f"{', '.join(missing)} (see nas_frontend.truth.COLUMNS)")
                for line, row in enumerate(reader, start=2):
                    if row.get("space") != space or row.get("dataset") != dataset:
                        continue
                    try:
                        g = validate(space, row["genotype"])
                        for c in ("epochs", "seconds", "val_acc", "val_loss", "train_acc"):
                            float(row[c])                 # read by __call__
                        self.rows.setdefault(g, {})[int(row["seed"])] = row
                    except (TypeError, ValueError) as exc:
                        raise ValueError(f"{f}, line {line}: {exc}") from None
        if not self.rows:
            raise ValueError(f"no ground-truth rows for space={space} dataset={dataset} in "
                             f"{path}; build them with benchmarks/nas_truth/build.py")
        recipes = {r["epochs"] for by_seed in self.rows.values() for r in by_seed.values()}
        if len(recipes) > 1:
            raise ValueError(f"{path} mixes rows of {space}/{dataset} trained for "
                             f"{sorted(recipes)} epochs; pass table= one CSV file")
        self.path = path
        self.cost_epochs = float(recipes.pop())
        self.cost_text = (f"an architecture's {self.cost_epochs:g} training epochs, charged "
                          "as recorded in the ground-truth table")

    def candidates(self) -> list[tuple]:
        every = all_genotypes(self.space)
        have = [g for g in every if g in self.rows]
        if len(have) < len(every):
            warnings.warn(f"ground-truth table {self.path} covers {len(have)} of "
                          f"{len(every)} architectures of {self.space}; searching those only")
        return have

    def __call__(self, genotype, meter: BudgetMeter) -> dict:
        by_seed = self.rows.get(tuple(genotype))
        if by_seed is None:
            raise ValueError(f"genotype {'|'.join(genotype)} is not in the ground-truth table")
        seeds = sorted(by_seed)
        row = by_seed[seeds[self.seed % len(seeds)]]
        epochs, seconds = float(row["epochs"]), float(row["seconds"])
        meter.add_epochs(epochs)
        meter.offset_seconds += seconds      # charge the recorded training time
        return {"val_acc": float(row["val_acc"]), "val_loss": float(row["val_loss"]),
                "train_acc": float(row["train_acc"]), "cost_epochs": epochs,
                "cost_seconds": seconds}


def make_oracle(oracle: str, space, data: dict, seed: int = 0,
                train_epochs: int = DEFAULT_TRAIN_EPOCHS, table=None):
    """:class:`TrainOracle` (``"train"``) or :class:`TableOracle` (``"table"``, built-in
    spaces only) for ``space`` (a name or a space object)."""
    space = as_space(space, data)
    if oracle == "train":
        return TrainOracle(space, data, train_epochs, seed)
    if oracle == "table" and not isinstance(space, BuiltinSpace):
        raise ValueError("oracle='table' is for the spaces with ground-truth tables; a "
                         "model's space is searched with oracle='train'")
    if oracle == "table":
        return TableOracle(space.name, data["name"], seed, table)
    raise ValueError(f"unknown oracle {oracle!r}; choose 'train' or 'table'")


class DiscreteSearch:
    """The loop shared by random, evolution and grid search; subclasses define
    :meth:`propose` (the next genotype, or None when they have nothing left),
    :meth:`observe` (after an evaluation) and :meth:`state` / :meth:`load_state`.
    """

    method = "discrete"

    def __init__(self, space, data: dict, budget: Budget, seed: int = 0, resource=None,
                 oracle: str = "train", train_epochs: int = DEFAULT_TRAIN_EPOCHS, table=None,
                 checkpoint_every: int | None = None):
        self.sp = as_space(space, data)
        budget = as_budget(budget)
        self.space, self.data, self.budget, self.seed = self.sp.name, data, budget, seed
        self.resource = self.sp.check_resource(resource)
        self.oracle = make_oracle(oracle, self.sp, data, seed, train_epochs, table)
        cands = self.oracle.candidates()
        if self.resource is not None:
            kind, bound = self.resource
            if self.oracle.kind == "table":        # the table may hold some of the space
                self.sp.check_resource(self.resource, cands, "in the ground-truth table")
            cands = [g for g in cands if self.sp.cost(g, kind) <= bound]
        self.candidates = cands
        check_budget_covers(self.method, budget, self.oracle.cost_epochs, self.oracle.cost_text,
                            "" if self.oracle.kind == "table" else ", or fewer train_epochs")
        self.rng = random.Random(seed)
        self.meter = BudgetMeter(budget, 1)       # these searchers charge whole epochs
        self.cache: dict[tuple, dict] = {}
        self.history: list[dict] = []
        self.checkpoint_every = checkpoint_every or (1 if oracle == "train" else 50)

    # --- subclass interface ----------------------------------------------------------------
    def propose(self) -> tuple | None:
        raise NotImplementedError

    def observe(self, genotype: tuple, record: dict) -> None:
        """Called after every evaluation (cached or not)."""

    def settings(self) -> dict:
        """Subclass settings that a checkpoint must match to be resumed."""
        return {}

    def state(self) -> dict:
        return {}

    def load_state(self, s: dict) -> None:
        pass

    # --- the loop --------------------------------------------------------------------------

    def _ident(self) -> dict:
        return dict(method=self.method, space=self.space, dataset=self.data["name"],
                    seed=self.seed, oracle=self.oracle.kind, resource=self.resource,
                    train_epochs=getattr(self.oracle, "epochs", None),
                    settings=self.settings())

    def _save(self, checkpoint) -> None:
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                **self._ident(), "rng": self.rng.getstate(), "cache": self.cache,
                "history": self.history, "meter": self.meter.state(), "own": self.state()})

    def _load(self, checkpoint) -> None:
        s = load_checkpoint(checkpoint)
        if s is None:
            return
        check_resume_state(s, **self._ident())
        self.rng.setstate(s["rng"])
        self.cache, self.history = s["cache"], s["history"]
        self.meter.load_state(s["meter"])
        self.load_state(s["own"])

    def best(self) -> tuple[tuple, dict]:
        """(genotype, record) with the highest :func:`score` (earliest on ties)."""
        if not self.cache:
            raise RuntimeError("nothing evaluated yet")
        return max(self.cache.items(), key=lambda kv: score(kv[1]))

    def run(self, checkpoint=None, resume: bool = False, progress: bool = True) -> SearchResult:
        """Search until the budget is spent; return the best architecture found."""
        if resume and checkpoint is not None:
            self._load(checkpoint)
        torch_seconds = 0.0
        n_since_save = repeats = 0
        stopped = "budget"
        with BudgetProgress(self.meter, self.method, progress) as bar:
            while not self.cache or not self.meter.exhausted():   # at least one evaluation
                if len(self.cache) >= len(self.candidates):
                    stopped = "every candidate evaluated"
                    break
                if repeats >= MAX_REPEATS:
                    stopped = f"stalled: {MAX_REPEATS} proposals in a row already evaluated"
                    break
                g = self.propose()
                if g is None:
                    stopped = "no proposal left"
                    break
                g = tuple(g)
                cached = g in self.cache
                repeats = repeats + 1 if cached else 0
                if not cached:
                    t0 = time.perf_counter()
                    self.cache[g] = self.oracle(g, self.meter)
                    torch_seconds += time.perf_counter() - t0
                rec = self.cache[g]
                self.observe(g, rec)
                best_g, best_rec = self.best()
                self.history.append({
                    "iter": len(self.history) + 1, "epochs": self.meter.epochs,
                    "seconds": self.meter.seconds, "genotype": "|".join(g),
                    "val_acc": rec["val_acc"], "val_loss": rec["val_loss"],
                    "cached": cached, "best_val_acc": best_rec["val_acc"],
                    "best_genotype": "|".join(best_g)})
                n_since_save += 1
                if n_since_save >= self.checkpoint_every:
                    self._save(checkpoint)
                    n_since_save = 0
                bar.update(f"best val {score(best_rec):.3f} {'|'.join(best_g)}")
        self._save(checkpoint)
        g, rec = self.best()
        info = {"oracle": self.oracle.kind, "stopped": stopped, "best_val_acc": rec["val_acc"],
                "evaluated": len(self.cache), "proposals": len(self.history),
                "candidates": len(self.candidates),
                **self.sp.report(g, self.resource)}
        if self.oracle.kind == "train":
            info["train_epochs"] = self.oracle.epochs
        return SearchResult(method=self.method, space=self.space, dataset=self.data["name"],
                            seed=self.seed, genotype=tuple(g), epochs_used=self.meter.epochs,
                            seconds=self.meter.seconds, history=self.history,
                            torch_seconds=torch_seconds if self.oracle.kind == "train" else 0.0,
                            info=info)


class OrderedSearch(DiscreteSearch):
    """Evaluates the candidates in the sequence :meth:`ordering` returns."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.order, self.pos = self.ordering(), 0

    def ordering(self) -> list[tuple]:
        return list(self.candidates)

    def propose(self):
        if self.pos >= len(self.order):
            return None
        self.pos += 1
        return self.order[self.pos - 1]

    def state(self):
        return {"pos": self.pos}

    def load_state(self, s):
        self.pos = s["pos"]
