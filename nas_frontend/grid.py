"""Grid search: every architecture of the space in the fixed order of
:func:`models.spaces.all_genotypes` (for ``mlp``: depth 1, 2, 3, then block names
lexicographically), evaluated with the shared oracle until the budget ends. Meant for the
MLP space (258 architectures), as in the seed paper's grid figure; works on any space.
"""

from __future__ import annotations

from .common import Budget, SearchResult
from .discrete import DEFAULT_TRAIN_EPOCHS, OrderedSearch


class GridSearch(OrderedSearch):
    """Candidates in their fixed order (over-budget ones skipped)."""

    method = "grid"


def grid_search(space: str, data: dict, budget: Budget, seed: int = 0, resource=None,
                checkpoint=None, resume: bool = False, progress: bool = True,
                oracle: str = "train", train_epochs: int = DEFAULT_TRAIN_EPOCHS, table=None,
                **kw) -> SearchResult:
    """Grid search until ``budget`` is spent; return the best by validation accuracy.
    Oracle options as in :func:`nas_frontend.random_search.random_search`."""
    return GridSearch(space, data, budget, seed, resource, oracle, train_epochs, table,
                      **kw).run(checkpoint, resume, progress)
