"""NAS front end: architecture search on the spaces of :mod:`models` with a common budget.

    from nas_frontend import search          # = run_search
    r = search("darts2", "cell3", "mnist1d", budget=10, seed=0, out_dir="runs/d2")

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
    "run_search": "runner", "load_data": "runner",
    "darts_search": "darts", "random_search": "random_search",
    "evolution_search": "evolution", "grid_search": "grid", "mp_search": "mp_search",
}

_ALIASES = {"search": "run_search"}  # the front end's one entry point, by its short name

__all__ = ["Budget", "BudgetMeter", "METHODS", "SearchResult", "parse_resource", *_LAZY, *_ALIASES]


def __getattr__(name):
    name = _ALIASES.get(name, name)
    if name in _LAZY:
        require_torch()
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
