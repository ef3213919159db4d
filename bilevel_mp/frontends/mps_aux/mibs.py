"""MibS's reader conventions and its interdiction model, for legacy AUX files.

A legacy AUX file (``N``/``M``/``LC``/``LR``/``LO``/``OS``, optionally ``IC``/``IB``) is
MibS's own format, so its MPS file is read as MibS reads it: through CoinMpsIO
(``MibSModel::readProblemData``, MibS ``src/MibSModel.cpp``, commit 64ddc2e). Where HiGHS,
which parses the file here, reads it otherwise, ``coin_mps_bounds`` follows CoinMpsIO
(CoinUtils 2.11 ``CoinMpsIO::readMps``, ``src/CoinMpsIO.cpp``):

- an integer column (``MARKER``/``INTORG``) with no ``BOUNDS`` entry gets the upper bound
  ``defaultBound_`` = 1, i.e. it is binary (``if (columnType[icolumn] ==
  COIN_UNSET_BOUND) colupper_[icolumn] = defaultBound_;``). HiGHS, CPLEX and Gurobi use
  the same rule, so it is applied to every file, and noted on every file it changes;
- a negative ``UP`` bound given as a column's first ``BOUNDS`` entry frees its lower
  bound (``if (value < 0.0) collower_[icolumn] = -infinity_;``); HiGHS keeps 0;
- an integer column's bound within 1e-5 of an integer is rounded to it.

Each rule that changes a column is recorded in ``problem.meta["notes"]``.

The interdiction form (``IC`` costs, one per MPS column, and the budget ``IB``;
``MibSModel::readAuxiliaryData`` sets ``isInterdict_`` on ``IB``) is expanded as
``MibSModel::loadProblemData`` does ("Add interdict vars and aux UL rows"). With the MPS
file's n columns ``y`` (bounds ``[l, u]``, types kept), m rows ``A y ~ b`` and objective
``c``::

    columns  0..n-1   x_j binary              (varLB 0, varUB 1, colType 'B')
             n..2n-1  y_j                     (the MPS columns)
    rows     0        sum_j IC_j x_j <= IB    ("Add interdiction budget row")
             1..m     A y ~ b                 (the MPS rows, shifted onto y)
             m+1..m+n u_j x_j + y_j <= u_j    ("Add VUB rows": y_j <= u_j (1 - x_j))
    leader   min -c . y                        (objCoef[j + numCols] = -obj[j])

The leader's columns are the x (``setUpperDim(numCols)``); the ``LC``/``LR`` indices refer
to this model (``LC`` n..2n-1, ``LR`` usually 1..m+n), the leader's rows are those not in
``LR`` (``setUpperRowData``); ``LO``/``OS`` give the follower's objective as usual. MibS
also adds one binary column (index 2n) with no coefficients and no cost
(``numAuxCols(1)``), in neither level: it changes nothing and is left out here. The MPS
file's objective constant and ``OBJSENSE`` have no place in that model (MibS ignores
both) and are refused, as are names in ``LC``/``LR`` (MibS would look them up among the
MPS columns, not the model's) and an unbounded follower column (its VUB row needs ``u``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, diags, hstack, identity, vstack

from ...errors import BilevelInputError


@dataclass
class LinearData:
    """A linear (mixed-integer) program as read: columns and rows by name, the row-wise
    matrix ``A`` (m x n), row and column bounds (+-inf when absent), integrality, the
    objective ``cost . v + offset`` and its sense."""

    cols: list
    rows: list
    A: csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    is_int: list
    cost: np.ndarray
    offset: float = 0.0
    sense: str = "min"


def coin_mps_bounds(data: LinearData, facts, mibs: bool) -> list[str]:
    """Apply the column-bound rules above to ``data`` in place (the binary default to
    any file, the other two only when ``mibs``: MibS's reader conventions); ``facts`` is
    ``lint.check_mps``'s. Returns one note per rule that changed a column."""
    index = {c: j for j, c in enumerate(data.cols)}
    notes = []
    binary = [j for j, c in enumerate(data.cols) if data.is_int[j] and c not in facts.bounds]
    for j in binary:
        data.col_lo[j], data.col_hi[j] = 0.0, 1.0
    if binary:
        who = ("CoinMpsIO's convention (MibS's reader; HiGHS, CPLEX and Gurobi agree)" if mibs
               else "the MPS convention (HiGHS, CPLEX, Gurobi, CoinMpsIO)")
        notes.append(f"{who}: integer columns with no BOUNDS entry are binary [0, 1]: "
                     f"{_names(data.cols, binary)}")
    if not mibs:
        return notes
    freed = []
    for col, entries in facts.bounds.items():
        kind, value = entries[0]
        later = {k for k, _ in entries[1:]}
        if kind == "UP" and value is not None and value < 0 and not later & {"LO", "LI", "FX", "BV", "MI", "FR"}:
            j = index[col]
            if data.col_lo[j] != -math.inf:
                data.col_lo[j] = -math.inf
                freed.append(j)
    if freed:
        notes.append("CoinMpsIO's (MibS's) convention: a negative UP bound given first frees the lower "
                     f"bound (-inf): {_names(data.cols, freed)}")
    rounded = []
    for j in range(len(data.cols)):
        if not data.is_int[j]:
            continue
        for arr, ok in ((data.col_hi, data.col_hi[j] < 1e10), (data.col_lo, data.col_lo[j] > -1e10)):
            v = float(arr[j])
            r = math.floor(v + 0.5) if ok else v
            if r != v and abs(v - r) < 1e-5:
                arr[j] = r
                rounded.append(j)
    if rounded:
        notes.append("CoinMpsIO's (MibS's) convention: bounds of integer columns within 1e-5 of an "
                     f"integer are rounded to it: {_names(data.cols, sorted(set(rounded)))}")
    return notes


def _names(cols, idx, limit=8) -> str:
    shown = ", ".join(cols[j] for j in idx[:limit])
    return shown + (f", ... ({len(idx)} columns)" if len(idx) > limit else "")


def interdiction_model(data: LinearData, aux, mps_path) -> LinearData:
    """MibS's interdiction model (module docstring) of the MPS data ``data`` and the
    interdiction AUX file ``aux``; its columns are the n leader columns x, then the n
    follower columns. Checks that ``aux``'s ``IC``/``LC``/``LR`` fit it; raises
    ``BilevelInputError`` naming the first misfit."""
    n, m = len(data.cols), len(data.rows)
    name = getattr(mps_path, "name", str(mps_path))
    costs = np.asarray(aux.interdict_costs, float)
    if len(costs) != n:
        raise BilevelInputError(f"{aux.path}: mismatched counts: {len(costs)} IC lines (interdiction costs) "
                                f"but {name} has {n} columns (MibS reads one cost per column)")
    _check_refs(aux, n, m)
    if data.sense != "min":
        raise BilevelInputError(f"{mps_path}: OBJSENSE MAX in an interdiction instance: MibS ignores it and "
                                "its leader minimises minus the MPS objective; remove OBJSENSE")
    if data.offset != 0.0:
        raise BilevelInputError(f"{mps_path}: the objective has a constant (an RHS on the objective row), "
                                "which MibS's interdiction model drops; remove it")
    unbounded = [j for j in range(n) if not math.isfinite(data.col_hi[j])]
    if unbounded:
        raise BilevelInputError(f"{mps_path}: column {data.cols[unbounded[0]]!r} has no finite upper bound, "
                                "which MibS's interdiction row u x + y <= u needs")
    taken_rows, taken_cols = set(data.rows), set(data.cols)
    xnames = [_fresh(f"interdict[{c}]", taken_cols) for c in data.cols]
    budget = _fresh("interdiction_budget", taken_rows)
    vub = [_fresh(f"interdict[{c}]", taken_rows) for c in data.cols]
    u = np.asarray(data.col_hi, float)
    A = vstack([
        hstack([csr_matrix(costs.reshape(1, n)), csr_matrix((1, n))]),
        hstack([csr_matrix((m, n)), data.A]),
        hstack([diags(u), identity(n)]),
    ]).tocsr()
    A.eliminate_zeros()
    return LinearData(
        cols=xnames + list(data.cols), rows=[budget, *data.rows, *vub], A=A,
        row_lo=np.concatenate([[-math.inf], data.row_lo, np.full(n, -math.inf)]),
        row_hi=np.concatenate([[aux.interdict_budget], data.row_hi, u]),
        col_lo=np.concatenate([np.zeros(n), data.col_lo]),
        col_hi=np.concatenate([np.ones(n), data.col_hi]),
        is_int=[True] * n + list(data.is_int),
        cost=np.concatenate([np.zeros(n), -np.asarray(data.cost, float)]), offset=0.0, sense="min")


def _check_refs(aux, n, m):
    for what, refs in (("LC", aux.lower_vars), ("LR", aux.lower_rows)):
        named = next((r for r in refs if not isinstance(r, int)), None)
        if named is not None:
            raise BilevelInputError(f"{aux.path}: {what} {named!r}: an interdiction file gives {what} as "
                                    "indices into MibS's interdiction model, not names")
    for r in aux.lower_vars:
        if r < n:
            raise BilevelInputError(f"{aux.path}: LC {r} is an interdiction (leader) column of MibS's "
                                    f"interdiction model: its follower columns are {n}..{2 * n - 1}")
        if r >= 2 * n:
            what = "MibS's auxiliary column, in neither level" if r == 2 * n else "out of range"
            raise BilevelInputError(f"{aux.path}: LC {r} is {what}: the follower columns of MibS's "
                                    f"interdiction model are {n}..{2 * n - 1}")
    missing = sorted(set(range(n, 2 * n)) - set(aux.lower_vars))
    if missing:
        raise BilevelInputError(f"{aux.path}: LC lists {len(aux.lower_vars)} of the {n} follower columns "
                                f"{n}..{2 * n - 1} of MibS's interdiction model (missing {missing[0]})")
    for r in aux.lower_rows:
        if r > m + n:
            raise BilevelInputError(f"{aux.path}: LR {r} is out of range: MibS's interdiction model has "
                                    f"{m + n + 1} rows (the budget row 0, the MPS rows 1..{m}, the "
                                    f"interdiction rows {m + 1}..{m + n})")


def _fresh(name, taken) -> str:
    out, k = name, 1
    while out in taken:
        out, k = f"{name}#{k}", k + 1
    taken.add(out)
    return out
