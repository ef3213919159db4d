"""Knapsack interdiction (DeNegre 2011; the KIP instances shipped with MibS).

The leader removes items (binary x_i, interdiction cost c_i, budget B); the follower
then packs a 0/1 knapsack of capacity C from the items left; the leader minimises the
profit the follower collects:

    min_x  sum_i p_i y_i                               (leader: minimise follower profit)
    s.t.   sum_i c_i x_i <= B,          x_i in {0, 1}
           y in argmax_y  sum_i p_i y_i                (follower: maximise its profit)
                s.t.  sum_i w_i y_i <= C
                      y_i <= 1 - x_i                   (an interdicted item cannot be taken)
                      y_i in {0, 1}

Leader and follower objectives are the same expression with opposite senses, so the
optimistic and pessimistic conventions agree and ``result.F`` is the follower's profit.
Every x is follower-feasible (y = 0), so the problem is always feasible.

Random data follow the instances of MibS's ``data/interdiction/Knapsack`` folder, as
read from its files (e.g. ``10_ITEMS_1000/K5010W03.KNP``: 10 items; profits, weights
and interdiction costs integers in [1, 1000]; capacity 1950 = half the total weight;
budget 1449 = half the total interdiction cost, rounded up): profits, weights and costs are drawn independently,
uniform integers in ``value_range`` (default [1, 100], smaller numbers than MibS's for
quick tests), capacity = ceil(capacity_fraction * sum w), budget = ceil(budget_fraction
* sum c).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import BilevelInputError
from ..problem import BilevelProblem
from .network import check_number


@dataclass(frozen=True)
class KnapsackInterdictionData:
    """The instance behind a ``knapsack_interdiction`` problem (``problem.meta``)."""

    profits: tuple[float, ...]
    weights: tuple[float, ...]
    capacity: float
    interdiction_costs: tuple[float, ...]
    budget: float


def knapsack_interdiction(n_items: int | None = None, seed: int = 0,
                          budget_fraction: float = 0.5, capacity_fraction: float = 0.5,
                          value_range: tuple[int, int] = (1, 100), profits=None, weights=None,
                          capacity=None, interdiction_costs=None, budget=None,
                          name: str = "knapsack_interdiction") -> BilevelProblem:
    """A knapsack-interdiction ``BilevelProblem`` (model in the module docstring).

    Random instance from ``n_items`` and ``seed``; any of ``profits``, ``weights``,
    ``interdiction_costs`` (sequences of non-negative numbers, one per item), ``capacity``,
    ``budget`` (non-negative numbers) given explicitly replaces the random choice (random
    values are integers, stored as floats).
    ``x[i]`` interdicts item i, ``y[i]`` takes it; ``problem.meta["knapsack_interdiction"]``
    holds the data (``KnapsackInterdictionData``).
    """
    profits, weights, interdiction_costs = (_as_list(v, what) for v, what in (
        (profits, "profits"), (weights, "weights"), (interdiction_costs, "interdiction_costs")))
    given = [v for v in (profits, weights, interdiction_costs) if v is not None]
    n_items = _item_count(n_items, given)
    lo, hi = integer_range(value_range, "value_range")
    rng = np.random.default_rng(seed)

    def column(values, what):
        if values is None:
            return tuple(float(v) for v in rng.integers(lo, hi + 1, size=n_items))
        return tuple(check_number(v, f"{what}[{i}]") for i, v in enumerate(values))

    p, w, c = column(profits, "profits"), column(weights, "weights"), column(interdiction_costs,
                                                                            "interdiction_costs")
    if capacity is None:
        capacity = math.ceil(_fraction(capacity_fraction, "capacity_fraction") * sum(w))
    if budget is None:
        budget = math.ceil(_fraction(budget_fraction, "budget_fraction") * sum(c))
    data = KnapsackInterdictionData(p, w, check_number(capacity, "capacity"), c,
                                    check_number(budget, "budget"))

    prob = BilevelProblem(n_items, n_items, name=name, x_bounds=[(0, 1)] * n_items,
                          y_bounds=[(0, 1)] * n_items, x_integer=True, y_integer=True,
                          x_names=[f"interdict[{i}]" for i in range(n_items)],
                          y_names=[f"take[{i}]" for i in range(n_items)])
    x, y = prob.x, prob.y
    profit = sum(pi * yi for pi, yi in zip(data.profits, y))
    follower_rows = [sum(wi * yi for wi, yi in zip(data.weights, y)) <= data.capacity]
    follower_rows += [y[i] <= 1 - x[i] for i in range(n_items)]
    prob.set_lower(profit, follower_rows, sense="max")
    prob.set_upper(profit, [sum(ci * xi for ci, xi in zip(data.interdiction_costs, x)) <= data.budget],
                   sense="min")
    prob.meta["knapsack_interdiction"] = data
    prob.source = "knapsack interdiction: DeNegre 2011 (MibS data/interdiction/Knapsack)"
    return prob


def _as_list(values, what):
    if values is None:
        return None
    try:
        return list(values)
    except TypeError:
        raise BilevelInputError(f"{what} must be a sequence of numbers, got {values!r}") from None


def _item_count(n_items, given) -> int:
    lengths = {len(v) for v in given}
    if n_items is not None:
        if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
            raise BilevelInputError(f"n_items must be a positive integer, got {n_items!r}")
        lengths.add(int(n_items))
    if not lengths:
        raise BilevelInputError("give n_items or the item data (profits, weights, interdiction_costs)")
    if len(lengths) > 1:
        raise BilevelInputError(f"n_items and the item lists disagree on the number of items: "
                                f"{sorted(lengths)}")
    n = lengths.pop()
    if n < 1:
        raise BilevelInputError("the item lists are empty")
    return n


def integer_range(pair, what: str) -> tuple[int, int]:
    """``pair`` as integers (low, high) with 0 <= low <= high; ``BilevelInputError``
    naming the argument ``what`` otherwise."""
    try:
        lo, hi = pair
        lo, hi = int(lo), int(hi)
    except (TypeError, ValueError, OverflowError):
        raise BilevelInputError(f"{what} must be a pair of integers (low, high), got {pair!r}") from None
    if not 0 <= lo <= hi:
        raise BilevelInputError(f"{what} must satisfy 0 <= low <= high, got {pair!r}")
    return lo, hi


def _fraction(value, what) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise BilevelInputError(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


__all__ = ["knapsack_interdiction", "KnapsackInterdictionData"]
