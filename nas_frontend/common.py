"""What every searcher shares: the budget and how it is counted, the result record,
checkpoints, and one-thread torch set-up.

Budget accounting (the same for every method, so comparisons are fair):

* **epochs** = minibatch forward/backward passes over *training or validation* data,
  divided by the number of minibatches in one epoch of the training split, plus the
  full training epochs of any stand-alone network a searcher trains (random search,
  evolution, grid). A Hessian-vector product counts as one extra pass of its batch;
* **seconds** = wall time of the search (data loading and the final retraining
  excluded).

A search stops as soon as either limit is reached.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
            if v is not None and not v > 0:
                raise ValueError(f"budget {name} must be > 0, got {v}")
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
    return torch.load(path, weights_only=False)
