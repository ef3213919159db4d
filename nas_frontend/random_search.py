"""Random search: uniform sampling without replacement from the architectures of a space
(those within the resource budget), with the oracle and search loop of
:mod:`nas_frontend.discrete`.
"""

from __future__ import annotations

import random

from .common import Budget, SearchResult
from .discrete import DEFAULT_TRAIN_EPOCHS, OrderedSearch


class RandomSearch(OrderedSearch):
    """Uniform sampling without replacement from the candidates (those within the
    resource budget)."""

    method = "random"

    def ordering(self):
        order = list(self.candidates)
        random.Random(self.seed).shuffle(order)
        return order


def random_search(space: str, data: dict, budget: Budget, seed: int = 0, resource=None,
                  checkpoint=None, resume: bool = False, progress: bool = True,
                  oracle: str = "train", train_epochs: int = DEFAULT_TRAIN_EPOCHS, table=None,
                  **kw) -> SearchResult:
    """Random search: evaluate uniformly sampled architectures (over-budget ones rejected)
    until ``budget`` is spent; return the best by validation accuracy.

    ``oracle``: ``"train"`` (``train_epochs`` epochs of the fixed recipe each) or
    ``"table"`` (ground-truth CSV file or folder at ``table``, default the tables shipped in
    ``nas_frontend/tables/``, :data:`nas_frontend.truth.TABLE_DIR`).
    """
    return RandomSearch(space, data, budget, seed, resource, oracle, train_epochs, table,
                        **kw).run(checkpoint, resume, progress)
