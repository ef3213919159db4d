"""Brute-force reference solver for small, pure-integer, box-bounded bilevel problems.

``solve_by_enumeration(problem)`` visits every integer point of the leader's box and,
for each leader point that passes the constraints on x alone, every integer point of
the follower's box. It shares no code with the solver's methods, so the tests use it
as an independent truth. It is exact, and exponential in the number of variables.

The problem it solves is the optimistic bilevel program over integer points:

    min_{x, y}  F(x, y)   s.t.  G(x, y) >= 0 (or == 0),  x integer in its box,
                                y in S(x) = argmin_y { f(x, y) : g(x, y) >= 0, y integer in its box }

* constraints on x alone (G rows, and g rows in which y does not appear) filter the x;
* S(x) is the set of follower-feasible y whose f is within ``tie_tol`` of the smallest;
* the leader picks, among the y in S(x) that satisfy the G rows involving y, one with the
  smallest F (the optimistic convention); an x where no y in S(x) satisfies G, or whose
  follower problem is infeasible, is not bilevel feasible.

Ties are broken by enumeration order (lexicographic in x, then y, the last variable
varying fastest), so the answer is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn

from ..errors import BilevelInputError
from ..problem import BilevelProblem, involves

INFEASIBLE = "infeasible"
DEFAULT_MAX_POINTS = 2 ** 22
_ELEMENTS_PER_CHUNK = 2 ** 21  # bound on the size of one (x, y, row) array
_Y_BLOCK = 2 ** 16  # follower points evaluated together


@dataclass(frozen=True)
class EnumerationResult:
    """The optimum found by enumeration.

    ``F_star`` and ``f`` are in the problem's own senses (``upper_sense``,
    ``lower_sense``); ``x`` and ``y`` are integer-valued float arrays;
    ``points_visited`` counts the (x, y) pairs evaluated."""

    F_star: float
    x: np.ndarray
    y: np.ndarray
    f: float
    points_visited: int


def solve_by_enumeration(problem: BilevelProblem, max_points: int = DEFAULT_MAX_POINTS,
                         tie_tol: float = 1e-9, feas_tol: float = 1e-9,
                         use_linear_data: bool = True) -> EnumerationResult | str:
    """Solve ``problem`` by visiting every integer (x, y) of its boxes (module docstring).

    Returns an ``EnumerationResult``, or the string ``"infeasible"`` when no x is bilevel
    feasible. ``tie_tol``: follower values within it of the follower's optimum count as
    optimal; ``feas_tol``: allowed constraint violation. With ``use_linear_data`` (the
    default) linear problems are evaluated as numpy arrays; other problems, or
    ``use_linear_data=False``, go point by point through Pyomo (slow: keep them tiny).

    Raises ``BilevelInputError`` for a continuous variable, a missing or infinite bound,
    or more than ``max_points`` (x, y) pairs in the boxes.
    """
    problem.validate()
    x_low, x_size = _integer_box(problem.x, problem.x_names)
    y_low, y_size = _integer_box(problem.y, problem.y_names)
    n_x_points, n_y_points = math.prod(x_size), math.prod(y_size)
    if n_x_points * n_y_points > max_points:
        raise BilevelInputError(
            f"the boxes hold {n_x_points} leader x {n_y_points} follower points, more than "
            f"max_points = {max_points}")
    if n_x_points == 0 or n_y_points == 0:
        return INFEASIBLE
    evaluator = _linear_evaluator(problem, feas_tol) if use_linear_data else None
    if evaluator is None:
        evaluator = _PyomoEvaluator(problem, feas_tol)

    y_blocks = _YBlocks(evaluator, y_low, y_size)
    x_chunk = max(1, _ELEMENTS_PER_CHUNK // (y_blocks.rows * max(1, evaluator.n_rows)))
    best_F, best_x, best_y, visited = math.inf, None, None, 0
    for start in range(0, n_x_points, x_chunk):
        X = _grid(x_low, x_size, start, min(start + x_chunk, n_x_points))
        X = X[evaluator.x_feasible(X)]
        if len(X) == 0:
            continue
        visited += len(X) * n_y_points
        F, y_index = _optimistic_responses(evaluator, X, y_blocks, tie_tol)
        i = int(F.argmin())
        if F[i] < best_F:
            best_F, best_x = float(F[i]), X[i]
            best_y = _grid(y_low, y_size, int(y_index[i]), int(y_index[i]) + 1)[0]
    if best_x is None:
        return INFEASIBLE
    values = problem.evaluate(best_x, best_y)  # report in the user's senses
    return EnumerationResult(F_star=values["F"], x=best_x, y=best_y, f=values["f"],
                             points_visited=visited)


def _optimistic_responses(evaluator, X, y_blocks, tie_tol):
    """For each row x of X: the smallest F over the follower-optimal y satisfying the
    leader's rows (inf if none) and the index of that y in the follower's box."""
    follower_min = np.full(len(X), math.inf)
    for _, Y in y_blocks:
        feasible, f = y_blocks.follower(X, Y)
        follower_min = np.minimum(follower_min, np.where(feasible, f, math.inf).min(axis=1))
    best_F = np.full(len(X), math.inf)
    best_y = np.full(len(X), -1, dtype=np.int64)
    rows = np.arange(len(X))
    for offset, Y in y_blocks:
        feasible, f = y_blocks.follower(X, Y)
        leader_ok, F = evaluator.leader(X, Y)
        candidate = feasible & (f <= follower_min[:, None] + tie_tol) & leader_ok
        F = np.where(candidate, F, math.inf)
        j = F.argmin(axis=1)
        better = F[rows, j] < best_F
        best_F[better], best_y[better] = F[rows, j][better], j[better] + offset
    return best_F, best_y


class _YBlocks:
    """The follower's box in blocks of at most ``_Y_BLOCK`` points, as (offset, points).
    With a single block, the points and the follower's values on the last X are kept, so
    the second pass over the block does not evaluate them again."""

    def __init__(self, evaluator, low, size):
        self.evaluator, self.low, self.size = evaluator, low, size
        self.n = math.prod(size)
        self.rows = min(self.n, _Y_BLOCK)
        self.single = _grid(low, size, 0, self.n) if self.n <= _Y_BLOCK else None
        self._last = None

    def __iter__(self):
        if self.single is not None:
            yield 0, self.single
            return
        for lo in range(0, self.n, _Y_BLOCK):
            yield lo, _grid(self.low, self.size, lo, min(lo + _Y_BLOCK, self.n))

    def follower(self, X, Y):
        if self.single is not None and self._last is not None and self._last[0] is X:
            return self._last[1]
        out = self.evaluator.follower(X, Y)
        if self.single is not None:
            self._last = (X, out)
        return out


# ---------------------------------------------------------------------------- boxes
def _integer_box(var, names) -> tuple[np.ndarray, list[int]]:
    """Lowest integer and number of integers of each variable's box."""
    low, size = [], []
    for i, v in enumerate(var):
        if v.is_continuous():
            raise BilevelInputError(f"enumeration needs integer variables; {names[i]} is continuous")
        if v.lb is None or v.ub is None:
            raise BilevelInputError(f"enumeration needs finite bounds; {names[i]} has bounds "
                                    f"({v.lb}, {v.ub})")
        lo, hi = math.ceil(v.lb - 1e-9), math.floor(v.ub + 1e-9)
        low.append(lo)
        size.append(max(0, hi - lo + 1))
    return np.array(low, dtype=float), size


def _grid(low: np.ndarray, size: list[int], start: int, stop: int) -> np.ndarray:
    """Points ``start..stop-1`` of the box, in lexicographic order (last entry fastest)."""
    index = np.arange(start, stop, dtype=np.int64)
    out = np.empty((len(index), len(size)))
    for k in range(len(size) - 1, -1, -1):
        index, digit = np.divmod(index, size[k])
        out[:, k] = low[k] + digit
    return out


# ---------------------------------------------------------------------------- evaluators
@dataclass
class _Rows:
    """Affine rows ``Ax x + Ay y + c``, kind ``"ge"`` (>= 0) or ``"eq"`` (== 0)."""

    Ax: np.ndarray
    Ay: np.ndarray
    c: np.ndarray
    is_eq: np.ndarray

    def satisfied(self, X, Y, tol) -> np.ndarray:
        """(len(X), len(Y)) mask of the points where every row holds."""
        if len(self.c) == 0:
            return np.ones((len(X), len(Y)), dtype=bool)
        V = (X @ self.Ax.T + self.c)[:, None, :] + (Y @ self.Ay.T)[None, :, :]
        ok = np.where(self.is_eq, np.abs(V) <= tol, V >= -tol)
        return ok.all(axis=2)


class _LinearEvaluator:
    """Every expression affine: the rows and objectives as numpy arrays."""

    def __init__(self, x_only: _Rows, follower: _Rows, leader: _Rows, f, F, tol):
        self.x_only, self.follower_rows, self.leader_rows = x_only, follower, leader
        self.f, self.F, self.tol = f, F, tol
        self.n_rows = max(len(follower.c), len(leader.c))

    def x_feasible(self, X):
        return self.x_only.satisfied(X, np.zeros((1, self.x_only.Ay.shape[1])), self.tol)[:, 0]

    def follower(self, X, Y):
        return self.follower_rows.satisfied(X, Y, self.tol), _affine(self.f, X, Y)

    def leader(self, X, Y):
        return self.leader_rows.satisfied(X, Y, self.tol), _affine(self.F, X, Y)


def _affine(obj, X, Y):
    ax, ay, c = obj
    return (X @ ax + c)[:, None] + (Y @ ay)[None, :]


def _linear_evaluator(problem: BilevelProblem, tol) -> _LinearEvaluator | None:
    """The problem's data as arrays, or None when some expression is not affine."""
    n_x = problem.n_x
    index = {id(v): i for i, v in enumerate(problem.x)}
    index.update({id(v): n_x + j for j, v in enumerate(problem.y)})
    n = n_x + problem.n_y

    def affine(expr):
        coef = np.zeros(n)
        if isinstance(expr, (int, float)):
            return coef, float(expr)
        repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
        if repn.nonlinear_expr is not None:
            return None
        for v, a in zip(repn.linear_vars, repn.linear_coefs):
            coef[index[id(v)]] += float(a)
        return coef, float(repn.constant)

    def rows(cons):
        forms = [affine(c.body) for c in cons]
        if any(fm is None for fm in forms):
            return None
        A = np.array([a for a, _ in forms]).reshape(len(forms), n)
        return _Rows(A[:, :n_x], A[:, n_x:], np.array([c for _, c in forms], dtype=float),
                     np.array([c.kind == "eq" for c in cons], dtype=bool))

    groups = _constraint_groups(problem)
    parts = [rows(group) for group in groups]
    objectives = [affine(problem.f), affine(problem.F)]
    if any(p is None for p in parts) or any(o is None for o in objectives):
        return None
    f, F = ((a[:n_x], a[n_x:], c) for a, c in objectives)
    return _LinearEvaluator(*parts, f=f, F=F, tol=tol)


class _PyomoEvaluator:
    """Any expression: evaluated point by point through Pyomo."""

    n_rows = 1

    def __init__(self, problem: BilevelProblem, tol):
        self.problem, self.tol = problem, tol
        self.x_only, self.follower_rows, self.leader_rows = _constraint_groups(problem)

    def _holds(self, cons) -> bool:
        return all(c.violation() <= self.tol for c in cons)

    def x_feasible(self, X):
        out = np.empty(len(X), dtype=bool)
        for i, x in enumerate(X):
            self.problem.set_point(x=x)
            out[i] = self._holds(self.x_only)
        return out

    def _table(self, X, Y, cons, objective):
        ok = np.empty((len(X), len(Y)), dtype=bool)
        value = np.empty((len(X), len(Y)))
        for i, x in enumerate(X):
            self.problem.set_point(x=x)
            for j, y in enumerate(Y):
                self.problem.set_point(y=y)
                ok[i, j] = self._holds(cons)
                value[i, j] = float(pyo.value(objective))
        return ok, value

    def follower(self, X, Y):
        return self._table(X, Y, self.follower_rows, self.problem.f)

    def leader(self, X, Y):
        return self._table(X, Y, self.leader_rows, self.problem.F)


def _constraint_groups(problem: BilevelProblem):
    """(rows on x alone, follower rows with y, leader rows with y); G and g rows in which y
    does not appear restrict the leader's choice of x."""
    x_only, follower, leader = [], [], []
    ys = {id(v) for v in problem.y.values()}
    for c in problem.g:
        (follower if involves(c.body, ys) else x_only).append(c)
    for c in problem.G:
        (leader if involves(c.body, ys) else x_only).append(c)
    return x_only, follower, leader


__all__ = ["solve_by_enumeration", "EnumerationResult", "INFEASIBLE", "DEFAULT_MAX_POINTS"]
