"""A linear bilevel problem from matrices, in the manner of ``scipy.optimize.linprog``:

    min_{x,y}  c_xᵀx + c_yᵀy    s.t.  A_ub x + B_ub y <= b_ub,   A_eq x + B_eq y == b_eq
    y ∈ argmin_y'  d_yᵀy' (+ d_xᵀx)  s.t.  C_ub x + D_ub y' <= e_ub,  C_eq x + D_eq y' == e_eq

with variable bounds as in ``linprog`` (default ``(0, None)``: non-negative) and optional
integrality. Every matrix may be a numpy array, a nested list or a scipy.sparse matrix;
a block left out is zero. The result is an ordinary ``BilevelProblem`` (the same as one
written row by row), so every method, front end writer and certificate applies.
"""

from __future__ import annotations

import numpy as np

from ..errors import BilevelInputError
from ..problem import BilevelProblem


def linear_bilevel(c_x, c_y, d_y, *, A_ub=None, B_ub=None, b_ub=None, A_eq=None, B_eq=None,
                   b_eq=None, C_ub=None, D_ub=None, e_ub=None, C_eq=None, D_eq=None, e_eq=None,
                   d_x=None, x_bounds=(0, None), y_bounds=(0, None), x_integer=False,
                   y_integer=False, sense: str = "min", lower_sense: str = "min",
                   name: str = "linear_bilevel") -> BilevelProblem:
    """Build the linear bilevel problem of the module docstring.

    Parameters
    ----------
    c_x, c_y : array of length n_x, n_y
        The leader's objective coefficients; their lengths set n_x and n_y.
    d_y : array of length n_y
        The follower's objective coefficients (``d_x``: an optional x part, constant for
        the follower but part of f).
    A_ub, B_ub, b_ub, A_eq, B_eq, b_eq : matrices and right-hand sides, optional
        The leader's rows (G); ``A`` multiplies x, ``B`` multiplies y.
    C_ub, D_ub, e_ub, C_eq, D_eq, e_eq : matrices and right-hand sides, optional
        The follower's rows (g); ``C`` multiplies x, ``D`` multiplies y.
    x_bounds, y_bounds : a (low, high) pair for every entry, or a list of pairs
        None means unbounded on that side; default ``(0, None)``.
    x_integer, y_integer : bool or list of bool
        Integrality, for all entries or per entry.
    sense, lower_sense : "min" or "max"
        The leader's and the follower's senses.

    Returns
    -------
    BilevelProblem

    Raises
    ------
    BilevelInputError
        A shape that does not fit, a non-finite entry, a right-hand side without its rows.
    """
    c_x = _vector(c_x, "c_x")
    c_y = _vector(c_y, "c_y")
    n_x, n_y = len(c_x), len(c_y)
    d_y = _vector(d_y, "d_y", n_y)
    d_x = np.zeros(n_x) if d_x is None else _vector(d_x, "d_x", n_x)
    p = BilevelProblem(n_x, n_y, name=name, x_bounds=_bounds(x_bounds, n_x, "x_bounds"),
                       y_bounds=_bounds(y_bounds, n_y, "y_bounds"), x_integer=x_integer,
                       y_integer=y_integer)
    x, y = list(p.x), list(p.y)
    F = _dot(c_x, x) + _dot(c_y, y)
    f = _dot(d_x, x) + _dot(d_y, y)
    G = _rows(A_ub, B_ub, b_ub, "A_ub", "B_ub", "b_ub", n_x, n_y, x, y, "ub") + \
        _rows(A_eq, B_eq, b_eq, "A_eq", "B_eq", "b_eq", n_x, n_y, x, y, "eq")
    g = _rows(C_ub, D_ub, e_ub, "C_ub", "D_ub", "e_ub", n_x, n_y, x, y, "ub") + \
        _rows(C_eq, D_eq, e_eq, "C_eq", "D_eq", "e_eq", n_x, n_y, x, y, "eq")
    p.set_upper(F, G, sense=sense)
    p.set_lower(f, g, sense=lower_sense)
    return p


def _finite(a, where: str) -> np.ndarray:
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise BilevelInputError(f"{where} must hold numbers, got {a!r}"[:200]) from None
    if not np.all(np.isfinite(a)):
        raise BilevelInputError(f"{where} holds a NaN or an infinite entry")
    return a


def _vector(v, where: str, n: int | None = None) -> np.ndarray:
    v = _finite(v, where)
    if v.ndim != 1 or (n is not None and v.shape[0] != n):
        want = "a 1-D array" if n is None else f"length {n}"
        raise BilevelInputError(f"{where} must be {want}, got shape {v.shape}")
    return v


def _matrix(M, where: str, rows: int, cols: int):
    """A dense or CSR matrix of shape (rows, cols); None: zeros."""
    if M is None:
        return None
    if hasattr(M, "tocsr"):  # scipy.sparse
        M = M.tocsr()
        _finite(M.data, where)
    else:
        M = _finite(M, where)
        if M.ndim != 2:
            raise BilevelInputError(f"{where} must be a 2-D matrix, got shape {M.shape}")
    if M.shape != (rows, cols):
        raise BilevelInputError(f"{where} must have shape ({rows}, {cols}), got {M.shape}")
    return M


def _row_terms(M, i):
    """(column indices, values) of the nonzeros of row i."""
    if M is None:
        return (), ()
    if hasattr(M, "indptr"):
        lo, hi = M.indptr[i], M.indptr[i + 1]
        return M.indices[lo:hi], M.data[lo:hi]
    cols = np.flatnonzero(M[i])
    return cols, M[i, cols]


def _rows(A, B, b, nA, nB, nb, n_x, n_y, x, y, kind):
    """The rows ``A x + B y <= b`` (as ``b - A x - B y >= 0``) or ``== b``."""
    if b is None:
        if A is not None or B is not None:
            raise BilevelInputError(f"{nA}/{nB} given without their right-hand side {nb}")
        return []
    b = _vector(b, nb)
    A = _matrix(A, nA, len(b), n_x)
    B = _matrix(B, nB, len(b), n_y)
    out = []
    for i in range(len(b)):
        body = 0.0
        for cols, vals, v in (_row_terms(A, i) + (x,), _row_terms(B, i) + (y,)):
            body = body + sum(float(a) * v[j] for j, a in zip(cols, vals) if a != 0.0)
        if isinstance(body, float):
            raise BilevelInputError(f"row {i} of {nA}/{nB} has no nonzero entry: leave it out")
        out.append(body == float(b[i]) if kind == "eq" else float(b[i]) - body)
    return out


def _dot(c, v):
    return sum(float(a) * v[j] for j, a in enumerate(c) if a != 0.0) + 0.0


def _bounds(spec, n: int, where: str):
    """One (low, high) pair for all entries, or n pairs (``linprog``'s convention)."""
    if spec is None:
        return [(None, None)] * n
    pairs = list(spec)
    if len(pairs) == 2 and not any(isinstance(b, (tuple, list)) for b in pairs):
        pairs = [tuple(pairs)] * n
    if len(pairs) != n or any(not isinstance(b, (tuple, list)) or len(b) != 2 for b in pairs):
        raise BilevelInputError(f"{where} must be one (low, high) pair or {n} of them, got {spec!r}"[:200])
    return [(None if lo is None else float(lo), None if hi is None else float(hi)) for lo, hi in pairs]


__all__ = ["linear_bilevel"]
