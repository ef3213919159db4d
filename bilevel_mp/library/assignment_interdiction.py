"""Assignment interdiction (the ``2AP`` instances of MibS's ``data/interdiction/Assignment``).

An n x n assignment problem with arc costs d_ij >= 0. The leader interdicts arcs
(binary x_ij, interdiction cost c_ij, budget B); the follower then assigns every row to
one column at the least cost using arcs not interdicted; the leader maximises the cost
the follower is left with (a min-max problem):

    max_x  sum_ij d_ij y_ij                             (leader: maximise follower cost)
    s.t.   sum_ij c_ij x_ij <= B,          x_ij in {0, 1}
           y in argmin_y  sum_ij d_ij y_ij              (follower: minimise its cost)
                s.t.  sum_j y_ij = 1  for every row i
                      sum_i y_ij = 1  for every column j
                      y_ij <= 1 - x_ij                  (an interdicted arc cannot be used)
                      y_ij in {0, 1}

Leader and follower objectives are the same expression with opposite senses, so
``result.F`` is the follower's optimal cost at the chosen interdiction. Variables are
indexed row by row: arc (i, j) is ``x[i * n + j]`` and ``y[i * n + j]``.

Feasibility. The follower needs a perfect matching on the arcs left. Removing k < n
arcs from the complete bipartite graph K_{n,n} always leaves one (Hall: a row set S of
size s with fewer than s neighbours needs all s (n - s + 1) >= n arcs from S to the
other columns removed). So the builder requires B < (sum of the n smallest c_ij): then
no affordable interdiction removes n arcs, and every leader-feasible x leaves the
follower feasible. It refuses a larger budget rather than build a problem where some
interdictions are not bilevel feasible.

Random data: costs and interdiction costs independent uniform integers in
``cost_range`` (default [1, 19], the range seen in the 2AP05 files); the default budget
is the largest integer that passes the rule above: (sum of the n smallest c_ij) - 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BilevelInputError
from ..problem import BilevelProblem
from .knapsack_interdiction import integer_range
from .network import check_number


@dataclass(frozen=True)
class AssignmentInterdictionData:
    """The instance behind an ``assignment_interdiction`` problem (``problem.meta``):
    ``costs[i][j]`` = d_ij, ``interdiction_costs[i][j]`` = c_ij."""

    costs: tuple[tuple[float, ...], ...]
    interdiction_costs: tuple[tuple[float, ...], ...]
    budget: float

    @property
    def n(self) -> int:
        return len(self.costs)

    def safe_budget_limit(self) -> float:
        """Sum of the n smallest interdiction costs: a budget strictly below it leaves a perfect
        matching whatever the leader interdicts."""
        return float(sum(sorted(c for row in self.interdiction_costs for c in row)[:self.n]))


def assignment_interdiction(n: int, seed: int = 0, cost_range: tuple[int, int] = (1, 19),
                            costs=None, interdiction_costs=None, budget=None,
                            name: str = "assignment_interdiction") -> BilevelProblem:
    """An n x n assignment-interdiction ``BilevelProblem`` (model in the module docstring).

    ``costs`` and ``interdiction_costs`` (n x n arrays of non-negative numbers) and
    ``budget`` given explicitly replace the random choice (random values are integers
    drawn from ``cost_range`` with ``seed``). Raises ``BilevelInputError`` when the budget
    is not below the sum of the n smallest interdiction costs (module docstring).
    ``problem.meta["assignment_interdiction"]`` holds the data.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise BilevelInputError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    lo, hi = integer_range(cost_range, "cost_range")
    rng = np.random.default_rng(seed)

    def matrix(values, what):
        if values is None:
            values = rng.integers(lo, hi + 1, size=(n, n))
        try:
            values = np.asarray(values, dtype=object)
        except (TypeError, ValueError):
            raise BilevelInputError(f"{what} must be an {n} x {n} array of numbers") from None
        if values.shape != (n, n):
            raise BilevelInputError(f"{what} must be an {n} x {n} array, got shape {values.shape}")
        return tuple(tuple(check_number(values[i, j], f"{what}[{i}][{j}]") for j in range(n))
                     for i in range(n))

    d, c = matrix(costs, "costs"), matrix(interdiction_costs, "interdiction_costs")
    data = AssignmentInterdictionData(d, c, 0.0)
    bound = data.safe_budget_limit()
    if budget is None:
        budget = max(0.0, bound - 1)
    budget = check_number(budget, "budget")
    if budget >= bound:
        raise BilevelInputError(
            f"budget {budget:g} is not below {bound:g}, the sum of the {n} smallest interdiction "
            "costs: the leader could interdict n arcs and leave no perfect matching")
    data = AssignmentInterdictionData(d, c, budget)

    arcs = [(i, j) for i in range(n) for j in range(n)]
    prob = BilevelProblem(n * n, n * n, name=name, x_bounds=[(0, 1)] * (n * n),
                          y_bounds=[(0, 1)] * (n * n), x_integer=True, y_integer=True,
                          x_names=[f"interdict({i},{j})" for i, j in arcs],
                          y_names=[f"assign({i},{j})" for i, j in arcs])
    x, y = prob.x, prob.y
    cost = sum(d[i][j] * y[i * n + j] for i, j in arcs)
    rows = [sum(y[i * n + j] for j in range(n)) == 1 for i in range(n)]
    rows += [sum(y[i * n + j] for i in range(n)) == 1 for j in range(n)]
    rows += [y[k] <= 1 - x[k] for k in range(n * n)]
    prob.set_lower(cost, rows, sense="min")
    prob.set_upper(cost, [sum(c[i][j] * x[i * n + j] for i, j in arcs) <= budget], sense="max")
    prob.meta["assignment_interdiction"] = data
    prob.source = "assignment interdiction (MibS data/interdiction/Assignment, 2AP instances)"
    return prob




__all__ = ["assignment_interdiction", "AssignmentInterdictionData"]
