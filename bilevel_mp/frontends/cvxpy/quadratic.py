"""The numeric quadratic read-out of the CVXPY front end (``bilevel_mp.frontends.cvxpy``):
a leader objective or constraint that is quadratic but not DCP is read exactly as a
quadratic polynomial by evaluating it on probe points."""

from __future__ import annotations

import numpy as np

from ...errors import BilevelInputError, UnsupportedStructureError
from ...problem import Constraint
from .canon import ZERO, poly_sum

MAX_PROBE_VARS = 300  # quadratic read-out by probing costs O(n^2) evaluations


def quadratic_expr(expr, cols, var, where):
    """Read a quadratic CVXPY expression (over clone Variables) exactly as a quadratic
    polynomial, by evaluating it on probe points; returns one Pyomo expression per
    entry (column-major). Verified at random points."""
    variables = list(expr.variables())
    n = sum(int(v.size) for v in variables)
    if n > MAX_PROBE_VARS:
        raise UnsupportedStructureError(
            f"{where} is quadratic but not DCP and involves {n} scalar variables (more than "
            f"{MAX_PROBE_VARS} are not read by probing): write it in DCP form")
    refs, slots = [], []
    for v in variables:
        lvl, start = cols[v.id]
        for j in range(int(v.size)):
            refs.append((lvl, start + j))
            slots.append((v, j))

    def value(z):
        for v in variables:
            v.value = np.zeros(v.shape) if v.shape else 0.0
        offs = 0
        for v in variables:
            vals = z[offs:offs + int(v.size)]
            v.value = vals.reshape(v.shape, order="F") if v.shape else float(vals[0])
            offs += int(v.size)
        val = expr.value
        return np.atleast_1d(np.asarray(val, float)).ravel(order="F")

    z0 = np.zeros(n)
    c0 = value(z0)
    m = c0.size
    grad = np.zeros((m, n))
    hdiag = np.zeros((m, n))
    plus = np.zeros((m, n))
    for i in range(n):
        e = z0.copy()
        e[i] = 1.0
        fp = value(e)
        e[i] = -1.0
        fm = value(e)
        plus[:, i] = fp
        grad[:, i] = (fp - fm) / 2
        hdiag[:, i] = fp + fm - 2 * c0  # = H_ii
    H = np.zeros((m, n, n))
    for i in range(n):
        H[:, i, i] = hdiag[:, i]
        for j in range(i + 1, n):
            e = z0.copy()
            e[i] = e[j] = 1.0
            hij = value(e) - plus[:, i] - plus[:, j] + c0
            H[:, i, j] = H[:, j, i] = hij
    rng = np.random.default_rng(1)
    for _ in range(3):
        z = rng.uniform(-2, 2, n)
        pred = c0 + grad @ z + 0.5 * np.einsum("mij,i,j->m", H, z, z)
        got = value(z)
        if np.abs(pred - got).max() > 1e-7 * (1 + np.abs(got).max()):
            raise UnsupportedStructureError(f"{where} could not be read as a quadratic polynomial")
    out = []
    for r in range(m):
        terms = [float(c0[r])] if abs(c0[r]) > ZERO else []
        for i in range(n):
            if abs(grad[r, i]) > ZERO:
                terms.append(float(grad[r, i]) * var(refs[i]))
            if abs(H[r, i, i]) > ZERO:
                terms.append(0.5 * float(H[r, i, i]) * var(refs[i]) * var(refs[i]))
            for j in range(i + 1, n):
                if abs(H[r, i, j]) > ZERO:
                    terms.append(float(H[r, i, j]) * var(refs[i]) * var(refs[j]))
        out.append(poly_sum(terms))
    return out


def numeric_constraint(cp, i, cc, cols, var) -> list[Constraint]:
    C = cp.constraints
    if isinstance(cc, C.Inequality):
        body, kind = cc.args[1] - cc.args[0], "ge"
    elif isinstance(cc, C.Equality):
        body, kind = cc.args[0] - cc.args[1], "eq"
    elif isinstance(cc, C.NonNeg):
        body, kind = cc.args[0], "ge"
    elif isinstance(cc, C.NonPos):
        body, kind = -cc.args[0], "ge"
    else:  # Zero
        body, kind = cc.args[0], "eq"
    rows = quadratic_expr(body, cols, var, f"leader constraint {i}")
    names = [f"leader[{i}]"] if len(rows) == 1 else [f"leader[{i}][{j}]" for j in range(len(rows))]
    out = []
    for nm, r in zip(names, rows):
        if isinstance(r, (int, float)):
            if (kind == "eq" and r != 0) or (kind == "ge" and r < -1e-9):
                raise BilevelInputError(f"leader row {nm} reads {r:g}: the constraint can never hold")
            continue
        out.append(Constraint(nm, r, kind))
    return out
