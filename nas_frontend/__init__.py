"""NAS front end: architecture search with a common budget, on the user's own torch
network or on the built-in spaces of :mod:`models`.

    import nas_frontend as nf
    from torch import nn

    class Net(nn.Module):                     # any nn.Module with Choice points
        def __init__(self):
            super().__init__()
            self.body = nf.Choice({"wide": nn.Linear(8, 32), "narrow": nn.Linear(8, 8)})
            ...
    found = nf.search(Net(), train_loader, val_loader, method="mp", budget_epochs=10)
    found.model, found.genotype               # the derived nn.Module, {choice: op}

    r = nf.search("darts2", "cell3", "mnist1d", budget=10, seed=0, out_dir="runs/d2")

``search`` (:func:`nas_frontend.model_search.search`) takes a model (its space:
:class:`Choice`, :class:`Zero`, :mod:`nas_frontend.module_space`) or a method name and a
built-in space (``run_search``, which retrains the result and writes a results folder).

Searchers (same signature ``f(space, data, budget, seed=0, resource=None,
checkpoint=None, resume=False, progress=True, **kw) -> SearchResult``): ``mp_search``
(steps from the auxiliary math program), ``darts_search`` (order 1 or 2),
``random_search``, ``evolution_search``, ``grid_search``. ``run_search`` dispatches by
method name, retrains the result and writes a results folder (:mod:`nas_frontend.runner`);
``bilevel-mp nas`` is its command line (:mod:`nas_frontend.cli`).

Importing this package needs no torch; using a searcher does: without torch, ``run_search``,
``load_data`` and the searchers raise ``bilevel_mp.MissingExtraError`` (an ImportError)
naming ``pip install 'bilevel-mp[nas]'``.
"""

from __future__ import annotations

import importlib

from .common import METHODS, Budget, BudgetMeter, SearchResult, parse_resource, require_torch

_LAZY = {
    "search": "model_search", "search_model": "model_search",
    "FoundArchitecture": "model_search", "Choice": "models.choice", "Zero": "models.choice",
    "ModuleSpace": "module_space",
    "run_search": "runner", "load_data": "runner",
    "darts_search": "darts", "random_search": "random_search",
    "evolution_search": "evolution", "grid_search": "grid", "mp_search": "mp_search",
}

__all__ = ["Budget", "BudgetMeter", "METHODS", "SearchResult", "parse_resource", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        require_torch()
        mod = _LAZY[name]
        return getattr(importlib.import_module(mod if "." in mod else f".{mod}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
