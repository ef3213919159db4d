"""Reading MPS + AUX instance files (the formats: ``bilevel_mp.frontends.mps_aux``):
the AUX file of either dialect (``aux``), then the MPS/LP file through HiGHS, with MibS's
reader conventions and interdiction model for legacy AUX files (``mibs``), into a
``BilevelProblem``."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

from ...backends.output import quiet
from ...errors import BilevelInputError
from ...problem import BilevelProblem, Constraint
from .aux import MPS_SUFFIXES, AuxData, aux_candidates, find_aux, is_mps_path, read_aux
from .lint import check_mps
from .mibs import LinearData, coin_mps_bounds, interdiction_model

__all__ = ["MPS_SUFFIXES", "AuxData", "find_aux", "is_mps_path", "read_aux", "read_mps_aux"]


# ---------------------------------------------------------------------------- MPS
def _read_lp(mps_path: Path):
    """HiGHS's LP data of an MPS/LP file, with HiGHS's errors turned into ours."""
    import highspy

    if not mps_path.is_file():
        raise BilevelInputError(f"no such MPS file: {mps_path}" if not mps_path.exists()
                                else f"{mps_path} is not a file")
    # MPS files are checked strictly first: HiGHS's parser misreads some malformed files
    # and its fixed-format fallback can loop forever on others
    facts = None if re.search(r"\.lp(\.gz|\.bz2)?$", mps_path.name, re.IGNORECASE) else check_mps(mps_path)
    with quiet(True):
        h = highspy.Highs()
    fd, log = tempfile.mkstemp(suffix=".log", prefix="bilevel_mps_")
    os.close(fd)
    try:
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", log)
        with quiet(True):
            status = h.readModel(str(mps_path))
        h.setOptionValue("log_file", "")
        messages = Path(log).read_text(errors="replace").splitlines()
    finally:
        Path(log).unlink(missing_ok=True)
    errors = [m.strip() for m in messages if m.startswith("ERROR")]
    if facts and any("fixed format" in m.lower() for m in messages):
        raise BilevelInputError(f"{mps_path}: HiGHS reads this file as fixed-format MPS; only free-format "
                                "MPS is read here (no spaces in names)")
    if status == highspy.HighsStatus.kError:
        detail = "; ".join(errors[:3]) or "HiGHS could not parse it"
        raise BilevelInputError(f"{mps_path}: not a readable MPS/LP file ({detail})")
    dropped = [m.strip() for m in messages if m.startswith("WARNING")
               and re.search(r"not defined|undefined|duplicate|ignored", m, re.IGNORECASE)
               and not re.search(r"ignored 0 undefined rows 0 duplicate cost values and 0 duplicate", m)]
    if dropped:
        raise BilevelInputError(f"{mps_path}: HiGHS would drop entries of this file: " + "; ".join(dropped[:3]))
    if h.getModel().hessian_.dim_ > 0:
        raise BilevelInputError(f"{mps_path}: the objective is quadratic; MPS+AUX instances here are linear")
    lp = h.getLp()
    notes = [m.strip() for m in messages if m.startswith("WARNING")]
    sense = "max" if lp.sense_ == highspy.ObjSense.kMaximize else "min"
    return lp, notes, (_same_names(facts, lp, mps_path) if facts else sense), facts


def _same_names(facts, lp, mps_path) -> str:
    """The objective sense the file states, after checking that HiGHS read the file's
    columns and rows (``lint.check_mps`` found no entry HiGHS would misread)."""
    for kind, mine, theirs in (("columns", facts.columns, list(lp.col_names_)),
                               ("rows", facts.rows, list(lp.row_names_))):
        if mine != [str(t) for t in theirs]:
            diff = next((f"{a!r} vs {b!r}" for a, b in zip(mine, theirs) if a != b),
                        f"{len(mine)} vs {len(theirs)} {kind}")
            raise BilevelInputError(f"{mps_path}: HiGHS read the {kind} differently from the file "
                                    f"({diff}); the file is ambiguous")
    return facts.sense


def read_mps_aux(mps_path, aux_path=None, name: str | None = None) -> BilevelProblem:
    """Read an MPS (or LP) file and its AUX file into a ``BilevelProblem``.

    ``aux_path`` defaults to ``find_aux(mps_path)`` (``inst.aux``, ``inst.mps.aux`` or
    ``inst.txt`` next to ``inst.mps``). Upper-level columns become ``x`` (in file order,
    integrality kept), the AUX's lower-level columns ``y`` (in AUX order; integer ones
    keep an integer domain); AUX-named rows become ``g``, the others ``G`` (row names
    kept; a ranged row gives ``name.lo`` and ``name.hi``). A legacy AUX file brings
    MibS's reader conventions, and with ``IC``/``IB`` lines MibS's interdiction model
    (``mps_aux.mibs``). ``problem.meta`` records the format, the dialect, the upper and
    lower rows (by name, as in the file or the interdiction model), ``y_integer``,
    ``mibs_conventions`` and ``notes`` (each convention that changed the file's reading).
    Raises ``BilevelInputError`` naming what is wrong."""
    import highspy

    mps_path = Path(mps_path)
    if not mps_path.exists():
        raise BilevelInputError(f"no such MPS file: {mps_path}")
    if aux_path is None:
        aux_path = find_aux(mps_path)
        if aux_path is None:
            looked = [str(c) for c in aux_candidates(mps_path)]
            raise BilevelInputError(
                f"no AUX file for {mps_path}: looked for {', '.join(looked[:-1])} and {looked[-1]}; "
                "pass it explicitly (--aux FILE)")
    aux = read_aux(aux_path)
    lp, warnings, upper_sense, facts = _read_lp(mps_path)
    data = _linear_data(lp, mps_path, upper_sense, highspy)
    mibs = aux.dialect == "legacy"  # MibS's own format: read as MibS reads it
    notes = coin_mps_bounds(data, facts, mibs) if facts else []
    for j in np.flatnonzero(data.col_lo > data.col_hi):
        hint = " (an UP bound below 0 keeps the default lower bound 0: add MI)" if data.col_lo[j] == 0 else ""
        raise BilevelInputError(f"{mps_path}: column {data.cols[j]!r} has lower bound {data.col_lo[j]:g} above "
                                f"its upper bound {data.col_hi[j]:g}{hint}")
    if mibs and upper_sense == "max" and not aux.interdiction:
        notes.append("OBJSENSE MAX is honoured; MibS (CoinMpsIO) ignores it and would minimise the "
                     "objective as written")
    if mibs and data.offset != 0.0 and not aux.interdiction:
        notes.append(f"the objective constant {data.offset:g} is kept; MibS drops it (its objective "
                     "values differ by it)")
    if aux.interdiction:
        original = list(data.cols)
        data = interdiction_model(data, aux, mps_path)
        notes.append(f"MibS's interdiction model (MibSModel::loadProblemData) built from IC/IB: "
                     f"{len(original)} binary interdiction columns, the budget row, "
                     f"{len(original)} rows y <= u (1 - x); the leader minimises minus the MPS objective")
    p = _build(data, aux, mps_path, name or aux.name or (lp.model_name_ or "").strip()
               or mps_path.name.split(".")[0])
    p.meta.update({"mibs_conventions": mibs, "notes": notes})
    if aux.interdiction:
        p.meta["mibs_interdiction"] = {"costs": list(aux.interdict_costs), "budget": aux.interdict_budget,
                                       "columns": original}
    if warnings:
        p.meta["mps_warnings"] = warnings
    return p


def _linear_data(lp, mps_path, sense, highspy) -> LinearData:
    from scipy.sparse import csc_matrix

    n, m = lp.num_col_, lp.num_row_
    try:
        cols = [str(c) for c in lp.col_names_] if len(lp.col_names_) == n else [f"C{j}" for j in range(n)]
        rows = [str(r) for r in lp.row_names_] if len(lp.row_names_) == m else [f"R{i}" for i in range(m)]
    except UnicodeDecodeError:
        raise BilevelInputError(f"{mps_path}: a row or column name is not UTF-8 text") from None
    integ = list(lp.integrality_) if len(lp.integrality_) == n else [highspy.HighsVarType.kContinuous] * n
    for j, t in enumerate(integ):
        if t not in (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger):
            raise BilevelInputError(f"{mps_path}: column {cols[j]!r} is semi-continuous/semi-integer; "
                                    "not supported")
    inf = highspy.kHighsInf

    def bounds(values):
        v = np.asarray(values, float)
        return np.where(v >= inf, np.inf, np.where(v <= -inf, -np.inf, v))

    a = lp.a_matrix_
    A = csc_matrix((np.asarray(a.value_, float), np.asarray(a.index_), np.asarray(a.start_)),
                   shape=(m, n)).tocsr()
    return LinearData(cols, rows, A, bounds(lp.row_lower_), bounds(lp.row_upper_), bounds(lp.col_lower_),
                      bounds(lp.col_upper_), [t == highspy.HighsVarType.kInteger for t in integ],
                      np.asarray(lp.col_cost_, float), float(lp.offset_), sense)


def _build(data: LinearData, aux: AuxData, mps_path: Path, name: str) -> BilevelProblem:
    """The ``BilevelProblem`` of ``data`` split by the AUX file's columns and rows."""
    ycols = _resolve(aux.lower_vars, data.cols, "variable", "column", aux.path, mps_path)
    lrows = set(_resolve(aux.lower_rows, data.rows, "constraint", "row", aux.path, mps_path))
    if not ycols:
        raise BilevelInputError(f"{aux.path}: the AUX file names no lower-level variable")
    ylist = set(ycols)
    n = len(data.cols)
    xcols = [j for j in range(n) if j not in ylist]
    lo, hi, is_int = data.col_lo, data.col_hi, data.is_int
    bnd = lambda j: (None if lo[j] == -np.inf else float(lo[j]),  # noqa: E731
                     None if hi[j] == np.inf else float(hi[j]))
    p = BilevelProblem(
        len(xcols), len(ycols),
        name=name,
        x_bounds=[bnd(j) for j in xcols], y_bounds=[bnd(j) for j in ycols],
        x_integer=[is_int[j] for j in xcols],
        x_names=[data.cols[j] for j in xcols], y_names=[data.cols[j] for j in ycols],
    )
    var = {}
    for k, j in enumerate(xcols):
        var[j] = p.x[k]
    for k, j in enumerate(ycols):
        var[j] = p.y[k]
        if is_int[j]:  # kept; KKT-based methods refuse integer followers with a clear error
            p.y[k].domain = pyo.Integers
    G, g = _rows(data, var, lrows, mps_path)
    F = _linear(((data.cost[j], var[j]) for j in range(n)), data.offset)
    f = _linear(((c, var[j]) for c, j in zip(aux.lower_obj, ycols)), 0.0)
    p.set_upper(F, G, sense=data.sense)
    p.set_lower(f, g, sense=aux.sense)
    p.source = f"MPS+AUX: {mps_path.name} + {Path(aux.path).name}"
    p.meta = {"format": "mps+aux", "dialect": aux.dialect, "mps": str(mps_path), "aux": aux.path,
              "upper_rows": [r for i, r in enumerate(data.rows) if i not in lrows],
              "lower_rows": [data.rows[i] for i in sorted(lrows)], "y_integer": [is_int[j] for j in ycols]}
    return p


def _resolve(refs, names, what, kind, aux_path, mps_path) -> list[int]:
    index = {s: i for i, s in enumerate(names)}
    out = []
    for r in refs:
        if isinstance(r, int):
            if not 0 <= r < len(names):
                raise BilevelInputError(
                    f"{aux_path}: lower-level {what} index {r} is out of range: {mps_path.name} has "
                    f"{len(names)} {kind}s (indices start at 0)")
            i = r
        elif r in index:
            i = index[r]
        else:
            raise BilevelInputError(f"{aux_path}: lower-level {what} {r!r} is not a {kind} of {mps_path.name}")
        if i in out:
            raise BilevelInputError(f"{aux_path}: {kind} {names[i]!r} of {mps_path.name} is named twice "
                                    f"as a lower-level {what}")
        out.append(i)
    return out


def _linear(terms, constant):
    terms = [(float(c), v) for c, v in terms if c != 0.0]
    if not terms:
        return constant
    return pyo.quicksum((c * v for c, v in terms), start=constant)


def _rows(data: LinearData, var, lower_rows, mps_path):
    A = data.A
    G, g = [], []
    for i, name in enumerate(data.rows):
        lo, hi = float(data.row_lo[i]), float(data.row_hi[i])
        start, end = A.indptr[i], A.indptr[i + 1]
        terms = [(A.data[k], var[A.indices[k]]) for k in range(start, end) if A.data[k] != 0.0]
        if not terms:  # an empty row: keep nothing if it holds, else the file is infeasible
            if lo > 1e-9 or hi < -1e-9:
                raise BilevelInputError(f"{mps_path}: row {name!r} has no coefficients and requires "
                                        f"{lo:g} <= 0 <= {hi:g}: the instance is infeasible")
            continue
        body = _linear(terms, 0.0)
        out = g if i in lower_rows else G
        if lo == hi:
            out.append(Constraint(name, body - lo, "eq"))
            continue
        both = lo > -np.inf and hi < np.inf
        if lo > -np.inf:
            out.append(Constraint(f"{name}.lo" if both else name, body - lo, "ge"))
        if hi < np.inf:
            out.append(Constraint(f"{name}.hi" if both else name, hi - body, "ge"))
    return G, g
