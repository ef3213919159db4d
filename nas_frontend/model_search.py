"""Architecture search on the user's own network: :func:`search_model`, which
:func:`nas_frontend.search` calls when its first argument is an ``nn.Module``.

    import nas_frontend as nf
    found = nf.search(model, train_loader, val_loader, method="mp", budget_epochs=10)
    found.model       # the derived nn.Module (each Choice replaced by its chosen op)
    found.genotype    # {choice name: op name}

The model holds :class:`~models.choice.Choice` points; the searchers are those of the
built-in spaces (``mp``, ``darts1``, ``darts2``, ``random``, ``evolution``, ``grid``) with
the same budget accounting (:mod:`nas_frontend.common`: an epoch is one pass over the
training loader), run on a :class:`~nas_frontend.module_space.ModuleSpace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from bilevel_mp.errors import BilevelInputError

from .checks import check_seed
from .common import METHODS, Budget, SearchResult, one_thread
from .linearize import default_device
from .loader_train import fit_loader, move_batch
from .module_space import ModuleSpace
from .runner import get_searcher, run_search


@dataclass
class FoundArchitecture:
    """What :func:`search_model` returns: ``model`` (the derived network; trained for
    ``retrain_epochs`` when asked, else freshly initialised), ``genotype`` (choice name ->
    op name), ``history`` (one dict per search iteration), ``result`` (the searcher's
    :class:`~nas_frontend.common.SearchResult`, with costs in ``result.info``) and
    ``retrain`` (the retrained metrics, or None)."""

    model: nn.Module
    genotype: dict
    history: list = field(default_factory=list)
    result: SearchResult | None = None
    retrain: dict | None = None

    def __repr__(self) -> str:
        g = ", ".join(f"{k}={v}" for k, v in self.genotype.items())
        r = self.result
        spent = "" if r is None else f", {r.method}: {r.epochs_used:.3g} epochs, {r.seconds:.1f} s"
        acc = "" if not self.retrain else f", val_acc={self.retrain.get('val_acc')}"
        return f"FoundArchitecture({g}{acc}{spent})"


def _check_loader(loader, what: str):
    try:
        n = len(loader)
    except TypeError:
        raise BilevelInputError(f"{what} must be a sized DataLoader (or any iterable with "
                                f"len) of (inputs, targets) batches, got "
                                f"{type(loader).__name__}") from None
    if n < 1:
        raise BilevelInputError(f"{what} is empty")
    if iter(loader) is loader:
        raise BilevelInputError(f"{what} is an iterator, which can be read only once; pass "
                                "the DataLoader itself (the search reads it many times)")
    return loader


def search_model(model: nn.Module, train_loader, val_loader, method: str = "mp",
                 budget_epochs: float | None = 10.0, resource=None, loss=None, device=None,
                 seed: int = 0, *, budget_seconds: float | None = None,
                 retrain_epochs: int = 0, progress: bool = True,
                 **settings) -> FoundArchitecture:
    """Search the architectures of ``model`` (an ``nn.Module`` with Choices) on the
    ``train_loader`` / ``val_loader`` batches ``(inputs, targets)``.

    ``method``: mp, darts1, darts2, random, evolution or grid. ``budget_epochs`` /
    ``budget_seconds``: the search budget (passes over the training loader; wall
    seconds). ``resource``: ``{"params": B}``, ``{"flops": B}`` (multiply-accumulates per
    sample at the input shape of the loader) or ``(fn, B)`` with ``fn({choice: {op: p}})``
    linear in the probabilities p; mp meets it exactly, DARTS by a penalty, the samplers by
    rejection. ``loss(outputs, targets)``: the training and validation loss (default
    cross-entropy). ``device``: default CUDA when available. ``retrain_epochs``: train the
    derived model that long with the fixed recipe (:mod:`nas_frontend.loader_train`);
    0 returns it freshly initialised. Other keywords are the method's settings (e.g.
    ``warmup_epochs``, ``train_epochs`` for the samplers, ``alpha_lr`` for DARTS).

    The loaders' own order decides the minibatches, so a search on loaders is not
    checkpointed or resumed (the built-in spaces' :func:`~nas_frontend.runner.run_search`
    is). BilevelInputError for a model without Choices, an unknown method, a loader that is
    empty, unsized, a one-pass iterator or not yielding pairs, and a resource bound no
    architecture meets.
    """
    if not isinstance(model, nn.Module):
        raise BilevelInputError(f"search: model must be an nn.Module, got {type(model).__name__}")
    if method not in METHODS:
        raise BilevelInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    seed = check_seed(seed)
    budget = Budget(epochs=budget_epochs, seconds=budget_seconds)
    _check_loader(train_loader, "train_loader")
    _check_loader(val_loader, "val_loader")
    if "oracle" in settings and settings["oracle"] != "train":
        raise BilevelInputError("a model's space is searched with oracle='train'")
    try:
        example, _ = move_batch(next(iter(train_loader)))
    except ValueError as exc:
        raise BilevelInputError(str(exc)) from None
    one_thread()
    dev = default_device(device)
    space = ModuleSpace(model, example[:2])
    data = {"name": "loaders", "loaders": {"train": train_loader, "val": val_loader},
            "loss": loss, "device": dev}
    search, extra = get_searcher(method)
    if method == "mp":
        extra["device"] = dev
    result = search(space, data, budget, seed=seed, resource=resource, progress=progress,
                    **extra, **settings)
    result.method = method
    genotype = space.validate(result.genotype)
    result.info["genotype"] = named = space.as_dict(genotype)
    torch.manual_seed(seed)
    net = space.make_net(genotype).to(dev)
    retrain = None
    if retrain_epochs:
        retrain = fit_loader(net, train_loader, val_loader, int(retrain_epochs), seed, loss, dev)
        result.info["retrain"] = retrain
    return FoundArchitecture(net, named, result.history, result, retrain)


def search(model, *args, **kwargs):
    """The NAS front end's one entry point.

    * ``search(model, train_loader, val_loader, method="mp", budget_epochs=10, ...)`` with
      an ``nn.Module`` holding :class:`~models.choice.Choice` points: searches the
      user's network (:func:`search_model`) and returns a :class:`FoundArchitecture`.
    * ``search(method, space, dataset, budget=..., out_dir=...)`` with a method name:
      a built-in space and data set, retrained and written to a results folder
      (:func:`nas_frontend.runner.run_search`); returns the SearchResult.
    """
    if isinstance(model, str):
        return run_search(model, *args, **kwargs)
    return search_model(model, *args, **kwargs)
