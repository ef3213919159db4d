"""Writing a linear (mixed-integer) bilevel problem as MPS + AUX files (the formats:
``bilevel_mp.frontends.mps_aux``)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ...backends.output import quiet
from ...errors import BilevelInputError
from ...problem import BilevelProblem


def write_mps_aux(problem: BilevelProblem, mps_path, aux_path=None, dialect: str = "keyword"):
    """Write a linear (mixed-integer) bilevel problem as MPS + AUX files.

    ``dialect`` is ``"keyword"`` (BOBILib / MibS name-based) or ``"legacy"`` (MibS
    index-based). Columns are x then y, rows G then g; the upper objective is written in
    minimisation form (no OBJSENSE section, which MibS ignores). The lower objective
    keeps only its y terms: terms in x alone are constants to the follower and the
    format has no place for them (a ``UserWarning`` names them). Returns the two paths.
    Raises ``BilevelInputError`` naming the first nonlinear expression."""
    import highspy

    if dialect not in ("keyword", "legacy"):
        raise BilevelInputError(f"dialect must be 'keyword' or 'legacy', got {dialect!r}")
    problem.validate()
    mps_path = Path(mps_path)
    aux_path = Path(aux_path) if aux_path is not None else mps_path.with_suffix(".aux")
    xs, ys = list(problem.x.values()), list(problem.y.values())
    cols = _unique([*problem.x_names, *problem.y_names])
    index = {id(v): j for j, v in enumerate(xs + ys)}
    n = len(cols)

    def lin(expr, where):
        return _linear_coefs(expr, index, where, problem.name)

    c, c0 = lin(problem.F, "the upper-level objective F")
    d, _ = lin(problem.f, "the lower-level objective f")
    dropped = [cols[j] for j in sorted(d) if j < len(xs)]
    if dropped:
        warnings.warn(f"problem {problem.name!r}: the lower-level objective's terms in {', '.join(dropped)} "
                      "are constant for the follower and are not written (the AUX format holds y "
                      "coefficients only)", stacklevel=2)
    inf = highspy.kHighsInf
    row_names, row_lo, row_hi, lower = [], [], [], []
    ri, ci, vals = [], [], []
    for level, cons in (("G", problem.G), ("g", problem.g)):
        for con in cons:
            a, a0 = lin(con.body, f"constraint {con.name!r}")
            if not a:
                if (con.kind == "eq" and abs(a0) > 1e-9) or (con.kind == "ge" and a0 < -1e-9):
                    op = "==" if con.kind == "eq" else ">="
                    raise BilevelInputError(f"problem {problem.name!r}: constraint {con.name!r} has no "
                                            f"variables and cannot hold ({a0:g} {op} 0)")
                continue
            for j, v in a.items():
                ri.append(len(row_names))
                ci.append(j)
                vals.append(v)
            row_names.append(con.name)
            row_lo.append(-a0)
            row_hi.append(-a0 if con.kind == "eq" else inf)
            lower.append(level == "g")
    row_names = _unique(row_names, reserved={"Obj", "OBJ"})
    bound = lambda b, default: default if b is None else float(b)  # noqa: E731
    from scipy.sparse import coo_matrix

    A = coo_matrix((vals, (ri, ci)), shape=(len(row_names), n)).tocsc()
    A.sum_duplicates()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(row_names)
    lp.col_cost_ = np.array([c.get(j, 0.0) for j in range(n)], float)
    lp.offset_ = float(c0)
    lp.col_lower_ = np.array([bound(v.lb, -inf) for v in xs + ys], float)
    lp.col_upper_ = np.array([bound(v.ub, inf) for v in xs + ys], float)
    lp.row_lower_ = np.asarray(row_lo, float)
    lp.row_upper_ = np.asarray(row_hi, float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.asarray(A.indptr, np.int32)
    lp.a_matrix_.index_ = np.asarray(A.indices, np.int32)
    lp.a_matrix_.value_ = np.asarray(A.data, float)
    lp.col_names_, lp.row_names_ = cols, row_names
    lp.integrality_ = [highspy.HighsVarType.kContinuous if v.is_continuous() else highspy.HighsVarType.kInteger
                       for v in xs + ys]
    lp.model_name_ = _token(problem.name)
    with quiet(True):
        h = highspy.Highs()
    h.silent()
    mps_path.parent.mkdir(parents=True, exist_ok=True)
    with quiet(True):
        ok = h.passModel(lp) != highspy.HighsStatus.kError and \
            h.writeModel(str(mps_path)) != highspy.HighsStatus.kError
    if not ok:
        raise BilevelInputError(f"problem {problem.name!r}: HiGHS could not write {mps_path}")
    ycols = cols[len(xs):]
    lrows = [r for r, low in zip(row_names, lower) if low]
    dy = [d.get(len(xs) + k, 0.0) for k in range(len(ycols))]
    aux_path.parent.mkdir(parents=True, exist_ok=True)
    aux_path.write_text(_aux_text(dialect, problem, mps_path, ycols, dy, lrows, len(xs), row_names, lower))
    return mps_path, aux_path


def _aux_text(dialect, problem, mps_path, ycols, dy, lrows, nx, row_names, lower) -> str:
    num = lambda v: repr(float(v))  # noqa: E731
    if dialect == "keyword":  # coefficients in minimisation form (the format's convention)
        lines = ["@NUMVARS", str(len(ycols)), "@NUMCONSTRS", str(len(lrows)), "@VARSBEGIN"]
        lines += [f"{name} {num(v)}" for name, v in zip(ycols, dy)]
        lines += ["@VARSEND", "@CONSTRSBEGIN", *lrows, "@CONSTRSEND",
                  "@NAME", _token(problem.name), "@MPS", mps_path.name]
    else:  # the user's sense, with OS
        s = -1.0 if problem.lower_sense == "max" else 1.0
        lines = [f"N {len(ycols)}", f"M {len(lrows)}"]
        lines += [f"LC {nx + k}" for k in range(len(ycols))]
        lines += [f"LR {i}" for i, low in enumerate(lower) if low]
        lines += [f"LO {num(s * v)}" for v in dy]
        lines += [f"OS {int(s)}"]
    return "\n".join(lines) + "\n"


def _linear_coefs(expr, index, where, pname) -> tuple[dict, float]:
    """``({column: coefficient}, constant)`` of a linear expression."""
    from pyomo.core.expr import expression_to_string
    from pyomo.repn import generate_standard_repn

    if isinstance(expr, (int, float)):
        return {}, float(expr)
    repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
    if repn.nonlinear_expr is not None or not repn.is_linear():
        text = expression_to_string(expr)
        raise BilevelInputError(
            f"problem {pname!r}: {where} is not linear ({text[:100]}{'...' if len(text) > 100 else ''}); "
            "MPS+AUX files hold (mixed-integer) linear bilevel problems only")
    a: dict = {}
    for v, coef in zip(repn.linear_vars, repn.linear_coefs):
        j = index[id(v)]
        a[j] = a.get(j, 0.0) + float(coef)
    return {j: v for j, v in a.items() if v != 0.0}, float(repn.constant)


def _token(s: str) -> str:
    return re.sub(r"\s+", "_", str(s).strip()) or "_"


def _unique(names, reserved=()) -> list[str]:
    """MPS/AUX-safe names (no whitespace), made unique."""
    out, seen = [], set(reserved)
    for s in names:
        base = t = _token(s)
        k = 1
        while t in seen:
            t = f"{base}_{k}"
            k += 1
        seen.add(t)
        out.append(t)
    return out
