"""One interface over the search spaces a searcher may get: a built-in space by name
(:class:`BuiltinSpace`: ``cell3``, ``cell4``, ``mlp`` of :mod:`models`, sized by the data
dict) or a user's model (:class:`~nas_frontend.module_space.ModuleSpace`), and one over
the data: tensors in a :func:`models.data.load` dict or a user's DataLoaders
(:class:`LoaderBatches`).

Both space classes give: ``name``, ``validate``, ``all_genotypes``, ``from_choice`` (op
index per row -> genotype), ``columns``, ``neighbours``, ``effective``,
``is_parameter_free``, ``make_supernet``, ``make_net``, ``cost``, ``cheapest``,
``check_resource`` and ``report``.
"""

from __future__ import annotations

from models import cell, mlp, spaces
from models.names import MODEL_SPACES, check_search_space
from models.nb201 import NB201Net

from .checks import check_resource
from .common import Batches, resource_cost, resource_report
from .loader_train import move_batch
from .module_space import ModuleSpace


class BuiltinSpace:
    """A space of :mod:`models.spaces` at the input/class sizes of ``data``."""

    def __init__(self, name: str, data: dict):
        self.name = spaces.check_space(name)
        self.data = data

    def validate(self, genotype) -> tuple[str, ...]:
        return spaces.validate(self.name, genotype)

    def all_genotypes(self) -> list[tuple[str, ...]]:
        return spaces.all_genotypes(self.name)

    def columns(self) -> list[str]:
        return list(mlp.SLOT_OPS if self.name == "mlp" else cell.CELL_SPACES[self.name].ops)

    def from_choice(self, choice) -> tuple[str, ...]:
        cols = self.columns()
        return self.validate([cols[c] for c in choice])

    def neighbours(self, genotype) -> list[tuple[str, ...]]:
        """Canonical genotypes one mutation away: one cell edge changed to another op, or
        one MLP slot (of the genotype padded with ``skip`` to 3 slots) changed to another
        choice (a block or ``skip``, so depth can change by one)."""
        g = self.validate(genotype)
        slots = list(g) + ["skip"] * (mlp.MAX_DEPTH - len(g)) if self.name == "mlp" else list(g)
        out: list[tuple] = []
        for i, cur in enumerate(slots):
            for c in self.columns():
                if c == cur:
                    continue
                try:
                    child = self.validate(slots[:i] + [c] + slots[i + 1:])
                except ValueError:          # e.g. an MLP with every slot skipped
                    continue
                if child != g and child not in out:
                    out.append(child)
        return out

    def effective(self, genotype) -> tuple[str, ...]:
        """The genotype with ops on dead paths set to ``none`` (itself for ``mlp``)."""
        g = self.validate(genotype)
        return g if self.name == "mlp" else cell.effective_genotype(g, self.name)

    def is_parameter_free(self, genotype) -> bool:
        return spaces.is_parameter_free(self.name, genotype)

    def make_supernet(self):
        return spaces.make_supernet(self.name, n_features=self.data["n_features"],
                                    n_classes=self.data["n_classes"])

    def make_net(self, genotype):
        return spaces.make_net(self.name, genotype, n_features=self.data["n_features"],
                               n_classes=self.data["n_classes"])

    def cost(self, genotype, kind: str) -> int:
        return resource_cost(self.name, genotype, self.data, kind)

    def check_resource(self, resource, candidates=None, among=None):
        return check_resource(self.name, self.data, resource, candidates, among)

    def report(self, genotype, res) -> dict:
        return resource_report(self.name, genotype, self.data, res)


MODELS = {"nb201": NB201Net}
"""The model of each name in :data:`models.names.MODEL_SPACES` (built with the data's class
count)."""


def as_space(space, data: dict):
    """``space`` as a space object: ``cell3``/``cell4``/``mlp`` become a
    :class:`BuiltinSpace` on ``data``, ``nb201`` the
    :class:`~nas_frontend.module_space.ModuleSpace` of its model at the data's sizes; a space
    object passes through."""
    if not isinstance(space, str):
        return space
    if check_search_space(space) in MODEL_SPACES:
        model = MODELS[space](num_classes=data["n_classes"])
        return ModuleSpace(model, data["x_train"][:2], name=space)
    return BuiltinSpace(space, data)


class LoaderBatches:
    """Endless minibatches ``(x, y)`` from a DataLoader (re-iterated when it ends; batches
    of fewer than 2 samples skipped, for batch norm), moved to ``device``. The loader's own
    shuffling decides the order, so a search on loaders cannot be resumed."""

    def __init__(self, loader, device=None):
        self.loader, self.device, self.it = loader, device, None

    def __len__(self) -> int:
        return len(self.loader)

    def next(self):
        for _ in range(2):
            if self.it is None:
                self.it = iter(self.loader)
            for batch in self.it:
                if len(batch[1]) >= 2:
                    return move_batch(batch, self.device)
            self.it = None
        raise ValueError("the DataLoader yields no batch of 2 or more samples")

    def chunks(self) -> list:
        """One pass over the loader (for a full validation loss)."""
        return [move_batch(b, self.device) for b in self.loader if len(b[1]) >= 1]

    def state(self) -> dict:
        return {}

    def load_state(self, s: dict) -> None:
        pass


def make_batches(data: dict, split: str, batch_size: int, seed: int, to=None):
    """The minibatch stream of ``split`` (train or val): :class:`LoaderBatches` over
    ``data["loaders"][split]`` when the data are loaders, else
    :class:`~nas_frontend.common.Batches` over the tensors (moved by ``to``)."""
    if "loaders" in data:
        return LoaderBatches(data["loaders"][split], data.get("device"))
    x, y = data[f"x_{split}"], data[f"y_{split}"]
    if to is not None:
        x, y = to(x, y)
    return Batches(x, y, batch_size, seed)
