"""What every searcher shares: the budget and how it is counted, the result record,
checkpoints, resource specs and costs, budget progress bars, minibatch streams, and
one-thread torch set-up. Importing this module needs no torch (the command line and
``import nas_frontend`` use it); the functions that need torch import it when called.

Budget accounting (the same for every method, so comparisons are fair):

* **epochs** = minibatch forward/backward passes over *training or validation* data,
  divided by the number of minibatches in one epoch of the training split, plus the
  full training epochs of any stand-alone network a searcher trains (random search,
  evolution, grid). A Hessian-vector product counts as one extra pass of its batch;
* **seconds** = wall time of the search (data loading and the final retraining
  excluded).

A search stops as soon as either limit is reached. An epoch budget too small for one
evaluation of the method is refused before the search (:mod:`nas_frontend.checks`).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from numbers import Real
from pathlib import Path

METHODS = ("mp", "darts1", "darts2", "random", "evolution", "grid")
"""The method names :func:`nas_frontend.runner.run_search` dispatches."""
RESOURCE_KINDS = ("params", "flops")


def require_torch():
    """Import torch, or raise :class:`~bilevel_mp.errors.MissingExtraError` (an
    ImportError) naming the extra that installs it."""
    try:
        import torch
    except ImportError:
        from bilevel_mp.errors import MissingExtraError  # torch: optional

        raise MissingExtraError("the NAS front end needs torch (not installed): "
                                "pip install 'bilevel-mp[nas]'") from None
    return torch


def one_thread() -> None:
    """Tiny torch workloads on few cores run many times faster on one thread."""
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)


@dataclass
class Budget:
    """Search budget: ``epochs`` (see module docstring) and/or wall ``seconds``."""

    epochs: float | None = None
    seconds: float | None = None

    def __post_init__(self):
        for name in ("epochs", "seconds"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, Real)
                                  or not (v > 0 and math.isfinite(v))):
                raise ValueError(f"budget {name} must be > 0 and finite, got {v!r}")
        if self.epochs is None and self.seconds is None:
            raise ValueError("give a budget: epochs and/or seconds")


class BudgetMeter:
    """Counts what a searcher has spent against a ``Budget``."""

    def __init__(self, budget: Budget, batches_per_epoch: int):
        if batches_per_epoch < 1:
            raise ValueError("batches_per_epoch must be >= 1")
        self.budget = budget
        self.batches_per_epoch = batches_per_epoch
        self.batches = 0.0
        self.extra_epochs = 0.0
        self.t0 = time.perf_counter()
        self.offset_seconds = 0.0  # time spent before a resume

    def add_batches(self, k: float = 1.0) -> None:
        self.batches += k

    def add_epochs(self, e: float) -> None:
        self.extra_epochs += e

    @property
    def epochs(self) -> float:
        return self.batches / self.batches_per_epoch + self.extra_epochs

    @property
    def seconds(self) -> float:
        return self.offset_seconds + time.perf_counter() - self.t0

    def exhausted(self) -> bool:
        b = self.budget
        return ((b.epochs is not None and self.epochs >= b.epochs)
                or (b.seconds is not None and self.seconds >= b.seconds))

    def state(self) -> dict:
        return {"batches": self.batches, "extra_epochs": self.extra_epochs, "seconds": self.seconds}

    def load_state(self, s: dict) -> None:
        self.batches, self.extra_epochs = s["batches"], s["extra_epochs"]
        self.offset_seconds, self.t0 = s["seconds"], time.perf_counter()


@dataclass
class SearchResult:
    """What a search returns: the derived architecture and how it was found."""

    method: str
    space: str
    dataset: str
    seed: int
    genotype: tuple
    epochs_used: float
    seconds: float
    alpha: list | None = None  # final architecture parameters (supernet methods)
    history: list = field(default_factory=list)  # one dict per iteration
    torch_seconds: float = 0.0
    solver_seconds: float = 0.0
    info: dict = field(default_factory=dict)

    def to_json(self, path) -> None:
        d = asdict(self)
        d["genotype"] = list(self.genotype)
        Path(path).write_text(json.dumps(d, indent=1, default=float))

    @classmethod
    def from_json(cls, path) -> "SearchResult":
        d = json.loads(Path(path).read_text())
        d["genotype"] = tuple(d["genotype"])
        return cls(**d)

    def score(self) -> tuple[str, float] | None:
        """The best available measure of the architecture found, as (name, value): the
        retrained test accuracy, else the search's best validation accuracy (samplers),
        else the last logged validation loss (supernet methods); None without any."""
        retrain = self.info.get("retrain")
        if isinstance(retrain, dict) and isinstance(retrain.get("test_acc"), Real):
            return "test_acc", float(retrain["test_acc"])
        if isinstance(self.info.get("best_val_acc"), Real):
            return "best_val_acc", float(self.info["best_val_acc"])
        for h in reversed(self.history):
            if isinstance(h, dict) and isinstance(h.get("val_loss"), Real):
                return "val_loss", float(h["val_loss"])
        return None

    def __repr__(self) -> str:
        """One line: method, space, dataset, seed, architecture, score, iterations logged
        (``len(history)``) and budget spent; the history and alpha are not printed."""
        score = self.score()
        shown = "" if score is None else f", {score[0]}={score[1]:.4g}"
        return (f"SearchResult(method={self.method!r}, space={self.space!r}, dataset={self.dataset!r}, "
                f"seed={self.seed}, genotype={'|'.join(map(str, self.genotype))!r}{shown}, "
                f"iterations={len(self.history)}, epochs_used={self.epochs_used:.3g}, "
                f"seconds={self.seconds:.1f})")


def save_checkpoint(path, state: dict) -> None:
    """Atomically write a searcher's state (tensors, RNG states, meter, history)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path) -> dict | None:
    """The state saved at ``path``, or None when there is none."""
    import torch

    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=False)
    except Exception as exc:  # a truncated or foreign file: any reader error
        first = (str(exc).splitlines() or [""])[0]
        raise ValueError(f"cannot read the checkpoint {path} ({type(exc).__name__}: {first}); "
                         "delete it or run without resume") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a search checkpoint; delete it or run without resume")
    return state


def check_resume_state(state: dict, **expected) -> None:
    """ValueError when a checkpoint was written by another search configuration."""
    for k, v in expected.items():
        if state.get(k) != v:
            raise ValueError(f"checkpoint holds {k}={state.get(k)!r}, this search has {k}={v!r};"
                             " use another checkpoint path or resume=False")


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


# --- resource costs -----------------------------------------------------------------------
def resource_cost(space: str, genotype, data: dict, kind: str) -> int:
    """Exact parameters or FLOPs of ``genotype`` at the data's input/class sizes."""
    from models import spaces  # torch: optional

    f = spaces.exact_params if kind == "params" else spaces.exact_flops
    return f(space, genotype, data["n_features"], data["n_classes"])


def expected_cost(model, kind: str, probs):
    """The supernet's expected ``kind`` cost (params, flops, or a user space's custom
    cost) at the probabilities ``probs``, linear in them."""
    if hasattr(model, "expected_cost"):
        return model.expected_cost(kind, probs)
    return model.expected_params(probs) if kind == "params" else model.expected_flops(probs)


def resource_report(space: str, genotype, data: dict, resource) -> dict:
    """{"params", "flops", and with a resource budget "resource", "cost", "resource_ok"}."""
    from models import spaces  # torch: optional

    nf, nc = data["n_features"], data["n_classes"]
    out = {"params": spaces.exact_params(space, genotype, nf, nc),
           "flops": spaces.exact_flops(space, genotype, nf, nc)}
    res = parse_resource(resource)
    if res is not None:
        out.update(resource=list(res), cost=out[res[0]], resource_ok=out[res[0]] <= res[1])
    return out


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


# --- minibatches --------------------------------------------------------------------------
class Batches:
    """Endless shuffled minibatches of (x, y) from a seeded generator; state saveable."""

    def __init__(self, x, y, batch_size: int, seed: int):
        import torch

        self.x, self.y, self.bs = x, y, batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.perm, self.pos = None, 0

    def __len__(self) -> int:
        return (len(self.y) + self.bs - 1) // self.bs

    def next(self):
        import torch

        n = len(self.y)
        if self.perm is None or self.pos >= n or n - self.pos < 2:  # BN needs 2 samples
            self.perm, self.pos = torch.randperm(n, generator=self.gen), 0
        idx = self.perm[self.pos:self.pos + self.bs]
        self.pos += self.bs
        return self.x[idx], self.y[idx]

    def chunks(self) -> list:
        """The whole split in ``len(self)`` consecutive batches of about ``batch_size``."""
        n = len(self)
        return list(zip(self.x.tensor_split(n), self.y.tensor_split(n)))

    def state(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm, "pos": self.pos}

    def load_state(self, s: dict) -> None:
        self.gen.set_state(s["gen"])
        self.perm, self.pos = s["perm"], s["pos"]
