"""Regularised evolution (Real, Aggarwal, Huang & Le, AAAI 2019) over a search space, with
the shared oracle and loop of :mod:`nas_frontend.discrete`.

A population of ``population`` architectures starts from uniform random samples; each
cycle draws ``sample`` members uniformly, mutates the best of them (by validation
accuracy) in one edge/slot, evaluates the child, appends it and removes the *oldest*
member (aging). The best architecture ever evaluated is returned. Defaults P = 10,
S = 3 are scaled down from the paper's P = 100, S = 25 to budgets of tens of evaluations.
"""

from __future__ import annotations

from collections import deque

from .common import Budget, SearchResult
from .discrete import DEFAULT_TRAIN_EPOCHS, DiscreteSearch, score
from .space import as_space


def neighbours(space, genotype) -> list[tuple]:
    """Genotypes one mutation away (:meth:`~nas_frontend.space.BuiltinSpace.neighbours`;
    ``space``: a built-in space's name or a space object)."""
    return as_space(space, {}).neighbours(genotype)


class Evolution(DiscreteSearch):
    """Regularised (aging) evolution; see the module docstring."""

    method = "evolution"

    def __init__(self, *a, population: int = 10, sample: int = 3, **kw):
        super().__init__(*a, **kw)
        if not (isinstance(population, int) and population >= 2):
            raise ValueError(f"population must be an integer >= 2, got {population!r}")
        if not (isinstance(sample, int) and 1 <= sample <= population):
            raise ValueError(f"sample must be an integer in [1, population], got {sample!r}")
        self.P, self.S = population, sample
        self.population: deque = deque()        # (genotype, val_acc), oldest first
        self.allowed = set(self.candidates)

    def propose(self):
        if len(self.population) < self.P:                   # initial random population
            return self.rng.choice(self.candidates)
        contenders = self.rng.sample(list(self.population), self.S)
        parent = max(contenders, key=lambda m: m[1])[0]
        kids = [k for k in self.sp.neighbours(parent) if k in self.allowed]
        return self.rng.choice(kids) if kids else self.rng.choice(self.candidates)

    def observe(self, genotype, record):
        self.population.append((genotype, score(record)))
        if len(self.population) > self.P:
            self.population.popleft()

    def settings(self):
        return {"population": self.P, "sample": self.S}

    def state(self):
        return {"population": list(self.population)}

    def load_state(self, s):
        self.population = deque(s["population"])


def evolution_search(space: str, data: dict, budget: Budget, seed: int = 0, resource=None,
                     checkpoint=None, resume: bool = False, progress: bool = True,
                     oracle: str = "train", train_epochs: int = DEFAULT_TRAIN_EPOCHS,
                     table=None, population: int = 10, sample: int = 3,
                     **kw) -> SearchResult:
    """Regularised evolution until ``budget`` is spent; children over the resource budget
    are never proposed. Oracle options as in :func:`nas_frontend.random_search.random_search`."""
    return Evolution(space, data, budget, seed, resource, oracle, train_epochs, table,
                     population=population, sample=sample, **kw).run(checkpoint, resume,
                                                                      progress)
