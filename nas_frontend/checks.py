"""Refusals before a search starts, for inputs no search can answer meaningfully: a resource
bound that no architecture of the space meets, a budget in epochs smaller than one
evaluation of the method (one MP iteration after the warm-up, one DARTS iteration, one
training of the sampling searchers), and a seed torch cannot take. Each raises
:class:`~bilevel_mp.errors.BilevelInputError` (a ValueError) naming the value, the limit and
the fix; the command line prints it as one line.

A budget in seconds cannot be checked before the search: DARTS and the sampling searchers
still make one iteration / evaluation under any budget, and MP refuses after the fact when
the seconds ran out before its first iteration (:func:`no_mp_iteration`).
"""

from __future__ import annotations

import math
from numbers import Integral

from bilevel_mp.errors import BilevelInputError
from models.spaces import all_genotypes, genotype_str

from .common import Budget, parse_resource, resource_cost

SEED_RANGE = (-(2 ** 63), 2 ** 63 - 2)
"""Seeds torch's generators take (a searcher also seeds one with ``seed + 1``)."""


def check_seed(seed) -> int:
    """``seed`` if it is an integer in :data:`SEED_RANGE`, else BilevelInputError."""
    lo, hi = SEED_RANGE
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not lo <= seed <= hi:
        raise BilevelInputError(f"seed must be an integer from -2**63 to 2**63 - 2, got {seed!r}")
    return int(seed)


def cheapest(space: str, data: dict, kind: str, candidates=None) -> tuple[int, tuple]:
    """(cost, genotype) of the architecture with the fewest ``kind`` (params or flops) among
    ``candidates`` (default: every architecture of ``space``) at the data's sizes."""
    cands = all_genotypes(space) if candidates is None else candidates
    return min((resource_cost(space, g, data, kind), tuple(g)) for g in cands)


def check_resource(space: str, data: dict, resource, candidates=None, among: str | None = None):
    """The parsed resource budget, or BilevelInputError when no architecture meets it.

    ``candidates``/``among``: check only these architectures (e.g. those of a ground-truth
    table), described as ``among`` in the message."""
    res = parse_resource(resource)
    if res is None:
        return None
    kind, bound = res
    if candidates is not None and not candidates:
        raise BilevelInputError(f"no architecture to search{'' if among is None else ' ' + among}")
    cost, g = cheapest(space, data, kind, candidates)
    if cost > bound:
        where = f"{space}" if among is None else f"{space} {among}"
        raise BilevelInputError(
            f"resource bound {kind} <= {bound:g} is below the smallest architecture of {where} "
            f"on {data['name']}: {cost} {kind} ({genotype_str(g)}); raise the bound to at "
            f"least {cost} (--resource {kind}:{cost})")
    return res


def check_budget_covers(method: str, budget: Budget, unit_epochs: float, unit: str,
                        fix: str = "") -> None:
    """BilevelInputError when ``budget.epochs`` is below ``unit_epochs``, the cost of the
    method's first evaluation (``unit`` says what that is, ``fix`` what else to change)."""
    if budget.epochs is not None and budget.epochs < unit_epochs * (1 - 1e-12):
        raise BilevelInputError(
            f"{method}: a budget of {budget.epochs:g} epochs is less than one evaluation "
            f"({unit}), so not even one architecture would be evaluated; give a budget of "
            f"{_up(unit_epochs)} epochs or more{fix}")


def check_mp_budget(budget: Budget, warmup_epochs: float, warmup_batches: int,
                    reserve_batches: int, batches_per_epoch: int) -> None:
    """BilevelInputError when an epoch budget ends before MP's first iteration, i.e. within
    the warm-up plus the passes reserved for the final selection (the search would return
    the uniform supernet's argmax, e.g. the empty cell ``none|none|none``)."""
    need = warmup_batches / batches_per_epoch + reserve_batches / batches_per_epoch  # as the loop
    if budget.epochs is None or budget.epochs > need:
        return
    reserve = (f" plus {reserve_batches / batches_per_epoch:.3g} epochs reserved for the final "
               f"one-shot selection" if reserve_batches else "")
    raise BilevelInputError(
        f"mp: a budget of {budget.epochs:g} epochs ends before the first MP iteration: the "
        f"weight warm-up takes warmup_epochs = {warmup_epochs:g} epochs{reserve}; give a "
        f"budget of {_up(need, strict=True)} epochs or more, or a smaller warmup_epochs")


def no_mp_iteration(budget: Budget, meter, warmup_epochs: float, checkpoint) -> BilevelInputError:
    """The error for an MP search whose budget in seconds ran out before its first iteration
    (the state is in ``checkpoint``, when given, for a resume)."""
    limit = "budget" if budget.seconds is None else f"budget of {budget.seconds:g} seconds"
    resume = ("" if checkpoint is None else
              f"; the state is saved in {checkpoint}: resume with a larger budget")
    spent = (f"{meter.epochs:.3g} of the {warmup_epochs:g} epochs of the weight warm-up in "
             f"{meter.seconds:.3g} s" if warmup_epochs else f"{meter.seconds:.3g} s")
    return BilevelInputError(
        f"mp: the {limit} ran out before the first MP iteration, after {spent}; give more "
        f"seconds{' or a smaller warmup_epochs' if warmup_epochs else ''}{resume}")


def _up(x: float, strict: bool = False) -> str:
    """``x`` rounded up to two decimals (and above ``x`` when ``strict``), for a message."""
    v = math.ceil(x * 100 - 1e-9) / 100
    if strict and v <= x:
        v += 0.01
    return f"{v:g}"
