"""Reading MPS + AUX instance files (the formats: ``bilevel_mp.frontends.mps_aux``):
the AUX file of either dialect, then the MPS/LP file through HiGHS, into a
``BilevelProblem``."""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

from ...backends.output import quiet
from ...errors import BilevelInputError
from ...problem import BilevelProblem, Constraint
from .lint import check_mps

MPS_SUFFIXES = (".mps", ".mps.gz", ".mps.bz2", ".lp", ".lp.gz", ".qps")
_KEY_ALIASES = {
    "@NUMCONSTR": "@NUMCONSTRS",
    "@CONSTRBEGIN": "@CONSTRSBEGIN", "@CONSTSBEGIN": "@CONSTRSBEGIN",
    "@CONSTREND": "@CONSTRSEND", "@CONSTSEND": "@CONSTRSEND",
    "@LP": "@MPS",
}
_VALUE_KEYS = ("@NUMVARS", "@NUMCONSTRS", "@NAME", "@MPS", "@OBJSENSE")
_LEGACY_KEYS = ("N", "M", "LC", "LR", "LO", "OS")


@dataclass
class AuxData:
    """The contents of an AUX file. ``lower_vars`` / ``lower_rows`` hold names, or
    0-based indices (``int``) for legacy index-based files."""

    lower_vars: list = field(default_factory=list)
    lower_obj: list = field(default_factory=list)
    lower_rows: list = field(default_factory=list)
    sense: str = "min"
    name: str | None = None
    mps: str | None = None
    dialect: str = "keyword"  # or "legacy"
    path: str = ""


def is_mps_path(path) -> bool:
    """True for instance files this module reads (``.mps``, ``.mps.gz``, ``.lp``, ...)."""
    return str(path).lower().endswith(MPS_SUFFIXES)


def find_aux(mps_path) -> Path | None:
    """The AUX file next to an instance file: ``inst.aux`` or ``inst.mps.aux``."""
    return next((c for c in _aux_candidates(mps_path) if c.exists()), None)


def _aux_candidates(mps_path) -> list[Path]:
    p = Path(mps_path)
    name = re.sub(r"\.(gz|bz2)$", "", p.name, flags=re.IGNORECASE)
    base = re.sub(r"\.(mps|lp|qps)$", "", name, flags=re.IGNORECASE)
    return [p.with_name(base + ".aux"), p.with_name(name + ".aux")]


# ---------------------------------------------------------------------------- AUX
def read_aux(path) -> AuxData:
    """Parse an AUX file of either dialect (see ``bilevel_mp.frontends.mps_aux``)."""
    path = Path(path)
    if not path.is_file():
        raise BilevelInputError(f"no such AUX file: {path}" if not path.exists() else f"{path} is not a file")
    try:
        lines = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
    except OSError as exc:
        raise BilevelInputError(f"{path}: cannot be read ({exc})") from None
    content = [(k + 1, ln.strip()) for k, ln in enumerate(lines)]
    content = [(k, ln) for k, ln in content if ln and not ln.startswith(("*", "#"))]
    if not content:
        raise BilevelInputError(f"{path}: the AUX file is empty")
    aux = _read_keyword(path, content) if content[0][1].startswith("@") else _read_legacy(path, content)
    aux.path = str(path)
    for label, items in (("variable", aux.lower_vars), ("constraint", aux.lower_rows)):
        seen = set()
        for it in items:
            if it in seen:
                raise BilevelInputError(f"{path}: lower-level {label} {it!r} is listed twice")
            seen.add(it)
    return aux


def _read_keyword(path, content) -> AuxData:
    aux = AuxData(dialect="keyword")
    counts: dict = {}
    section = None
    pending = None  # a keyword whose value is on the next line
    open_line = 0
    for lineno, ln in content:
        where = f"{path}, line {lineno}"
        if ln.startswith("@"):
            if pending:
                raise BilevelInputError(f"{where}: {pending} needs a value on the line after it")
            head, _, rest = ln.replace("\t", " ").partition(" ")
            key = _KEY_ALIASES.get(head.upper(), head.upper())
            if key not in _VALUE_KEYS and rest.strip():
                raise BilevelInputError(f"{where}: unexpected text {rest.strip()!r} after {head}")
            if key in ("@VARSBEGIN", "@CONSTRSBEGIN"):
                if section:
                    raise BilevelInputError(f"{where}: {head} inside an open {section} section")
                section, open_line = key, lineno
            elif key in ("@VARSEND", "@CONSTRSEND"):
                if section != key.replace("END", "BEGIN"):
                    raise BilevelInputError(f"{where}: {head} without a matching begin keyword")
                section = None
            elif key in _VALUE_KEYS:
                if section:
                    raise BilevelInputError(f"{where}: {head} inside an open {section} section")
                if rest.strip():
                    _keyword_value(aux, counts, key, rest.strip(), where)
                else:
                    pending = key
            else:
                raise BilevelInputError(
                    f"{where}: unknown AUX keyword {head!r} (known: @NUMVARS, @NUMCONSTRS, "
                    "@VARSBEGIN/@VARSEND, @CONSTRSBEGIN/@CONSTRSEND, @NAME, @MPS, @LP, @OBJSENSE)")
        elif pending:
            _keyword_value(aux, counts, pending, ln, where)
            pending = None
        elif section == "@VARSBEGIN":
            parts = ln.split()
            if len(parts) != 2:
                raise BilevelInputError(f"{where}: expected 'variable_name coefficient', got {ln!r}")
            aux.lower_vars.append(parts[0])
            aux.lower_obj.append(_number(parts[1], where))
        elif section == "@CONSTRSBEGIN":
            parts = ln.split()
            if len(parts) != 1:
                raise BilevelInputError(f"{where}: expected one constraint name, got {ln!r}")
            aux.lower_rows.append(parts[0])
        else:
            raise BilevelInputError(f"{where}: unexpected text {ln!r} outside any AUX section")
    if pending:
        raise BilevelInputError(f"{path}: {pending} at the end of the file has no value")
    if section:
        raise BilevelInputError(f"{path}: the {section} section opened on line {open_line} is never closed")
    _check_count(path, "@NUMVARS", counts.get("@NUMVARS"), len(aux.lower_vars), "lower-level variables")
    _check_count(path, "@NUMCONSTRS", counts.get("@NUMCONSTRS"), len(aux.lower_rows), "lower-level constraints")
    return aux


def _keyword_value(aux, counts, key, value, where):
    if key in ("@NUMVARS", "@NUMCONSTRS"):
        counts[key] = _count(value, key, where)
    elif key == "@NAME":
        aux.name = value
    elif key == "@MPS":
        aux.mps = value
    elif key == "@OBJSENSE":
        v = value.upper()
        if v not in ("MIN", "MAX", "MINIMIZE", "MAXIMIZE"):
            raise BilevelInputError(f"{where}: @OBJSENSE must be MIN or MAX, got {value!r}")
        aux.sense = "max" if v.startswith("MAX") else "min"


def _read_legacy(path, content) -> AuxData:
    aux = AuxData(dialect="legacy")
    tokens = [(lineno, t) for lineno, ln in content for t in ln.split()]
    counts: dict = {}
    if len(tokens) % 2:
        raise BilevelInputError(f"{path}: legacy AUX entries come in pairs 'KEY value'; "
                                f"the last key {tokens[-1][1]!r} (line {tokens[-1][0]}) has no value")
    for k in range(0, len(tokens), 2):
        (lineno, key), (_, value) = tokens[k], tokens[k + 1]
        where = f"{path}, line {lineno}"
        key_u = key.upper()
        if key_u in ("N", "M"):
            counts[key_u] = _count(value, key, where)
        elif key_u in ("LC", "LR"):
            ref = int(value) if re.fullmatch(r"[0-9]+", value) else value
            (aux.lower_vars if key_u == "LC" else aux.lower_rows).append(ref)
        elif key_u == "LO":
            aux.lower_obj.append(_number(value, where))
        elif key_u == "OS":
            s = _number(value, where)
            if s not in (1.0, -1.0):
                raise BilevelInputError(f"{where}: OS must be 1 (min) or -1 (max), got {value!r}")
            aux.sense = "min" if s > 0 else "max"
        elif key_u in ("IC", "IB"):
            raise BilevelInputError(f"{where}: interdiction data ({key}) is not supported; "
                                    "write the interdiction constraints into the MPS file instead")
        else:
            raise BilevelInputError(f"{where}: unknown legacy AUX key {key!r} (known: {', '.join(_LEGACY_KEYS)})"
                                    + ("; keyword files start with '@'" if key.startswith("@") else ""))
    _check_count(path, "N", counts.get("N"), len(aux.lower_vars), "LC lines")
    _check_count(path, "M", counts.get("M"), len(aux.lower_rows), "LR lines")
    if len(aux.lower_obj) != len(aux.lower_vars):
        raise BilevelInputError(f"{path}: mismatched counts: {len(aux.lower_obj)} LO coefficients "
                                f"for {len(aux.lower_vars)} lower-level variables (LC lines)")
    return aux


def _count(value, key, where) -> int:
    if not re.fullmatch(r"[0-9]+", value.strip()):
        raise BilevelInputError(f"{where}: {key} needs a non-negative integer, got {value!r}")
    return int(value)


def _number(value, where) -> float:
    try:
        v = float(value)
    except ValueError:
        raise BilevelInputError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(v):
        raise BilevelInputError(f"{where}: {value!r} is not a finite number")
    return v


def _check_count(path, key, declared, found, what):
    if declared is not None and declared != found:
        raise BilevelInputError(f"{path}: mismatched counts: {key} says {declared} but the file lists "
                                f"{found} {what}")


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
    return lp, notes, _same_names(facts, lp, mps_path) if facts else sense


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

    ``aux_path`` defaults to ``find_aux(mps_path)`` (``inst.aux`` next to ``inst.mps``).
    Upper-level columns become ``x`` (in file order, integrality kept), the AUX's
    lower-level columns ``y`` (in AUX order; integer ones keep an integer domain);
    AUX-named rows become ``g``, the others ``G`` (row names kept; a ranged row gives
    ``name.lo`` and ``name.hi``). Raises ``BilevelInputError`` naming what is wrong."""
    import highspy

    mps_path = Path(mps_path)
    if not mps_path.exists():
        raise BilevelInputError(f"no such MPS file: {mps_path}")
    if aux_path is None:
        aux_path = find_aux(mps_path)
        if aux_path is None:
            raise BilevelInputError(
                f"no AUX file for {mps_path}: looked for "
                f"{' and '.join(str(c) for c in _aux_candidates(mps_path))}; "
                "pass it explicitly (--aux FILE)")
    aux = read_aux(aux_path)
    lp, notes, upper_sense = _read_lp(mps_path)
    n, m = lp.num_col_, lp.num_row_
    try:
        cols = [str(c) for c in lp.col_names_] if len(lp.col_names_) == n else [f"C{j}" for j in range(n)]
        rows = [str(r) for r in lp.row_names_] if len(lp.row_names_) == m else [f"R{i}" for i in range(m)]
    except UnicodeDecodeError:
        raise BilevelInputError(f"{mps_path}: a row or column name is not UTF-8 text") from None
    ycols = _resolve(aux.lower_vars, cols, "variable", "column", aux.path, mps_path)
    lrows = set(_resolve(aux.lower_rows, rows, "constraint", "row", aux.path, mps_path))
    if not ycols:
        raise BilevelInputError(f"{aux.path}: the AUX file names no lower-level variable")
    ylist = set(ycols)
    xcols = [j for j in range(n) if j not in ylist]
    integ = list(lp.integrality_) if len(lp.integrality_) == n else [highspy.HighsVarType.kContinuous] * n
    for j, t in enumerate(integ):
        if t not in (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger):
            raise BilevelInputError(f"{mps_path}: column {cols[j]!r} is semi-continuous/semi-integer; "
                                    "not supported")
    is_int = [t == highspy.HighsVarType.kInteger for t in integ]
    lo, hi = np.asarray(lp.col_lower_, float), np.asarray(lp.col_upper_, float)
    bnd = lambda j: (None if lo[j] <= -highspy.kHighsInf else lo[j],  # noqa: E731
                     None if hi[j] >= highspy.kHighsInf else hi[j])
    for j in np.flatnonzero(lo > hi):
        hint = " (an UP bound below 0 keeps the default lower bound 0: add MI)" if lo[j] == 0 else ""
        raise BilevelInputError(f"{mps_path}: column {cols[j]!r} has lower bound {lo[j]:g} above its upper "
                                f"bound {hi[j]:g}{hint}")
    p = BilevelProblem(
        len(xcols), len(ycols),
        name=name or aux.name or (lp.model_name_ or "").strip() or mps_path.name.split(".")[0],
        x_bounds=[bnd(j) for j in xcols], y_bounds=[bnd(j) for j in ycols],
        x_integer=[is_int[j] for j in xcols],
        x_names=[cols[j] for j in xcols], y_names=[cols[j] for j in ycols],
    )
    var = {}
    for k, j in enumerate(xcols):
        var[j] = p.x[k]
    for k, j in enumerate(ycols):
        var[j] = p.y[k]
        if is_int[j]:  # kept; KKT-based methods refuse integer followers with a clear error
            p.y[k].domain = pyo.Integers
    G, g = _rows(lp, rows, var, lrows, mps_path, highspy.kHighsInf)
    cost = np.asarray(lp.col_cost_, float)
    F = _linear(((cost[j], var[j]) for j in range(n)), float(lp.offset_))
    f = _linear(((c, var[j]) for c, j in zip(aux.lower_obj, ycols)), 0.0)
    p.set_upper(F, G, sense=upper_sense)
    p.set_lower(f, g, sense=aux.sense)
    p.source = f"MPS+AUX: {mps_path.name} + {Path(aux.path).name}"
    p.meta = {"format": "mps+aux", "dialect": aux.dialect, "mps": str(mps_path), "aux": aux.path,
              "lower_rows": [rows[i] for i in sorted(lrows)], "y_integer": [is_int[j] for j in ycols]}
    if notes:
        p.meta["mps_warnings"] = notes
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


def _rows(lp, rows, var, lower_rows, mps_path, inf):
    from scipy.sparse import csc_matrix

    a = lp.a_matrix_
    A = csc_matrix((np.asarray(a.value_, float), np.asarray(a.index_), np.asarray(a.start_)),
                   shape=(lp.num_row_, lp.num_col_)).tocsr()
    G, g = [], []
    for i in range(lp.num_row_):
        lo, hi = float(lp.row_lower_[i]), float(lp.row_upper_[i])
        start, end = A.indptr[i], A.indptr[i + 1]
        terms = [(A.data[k], var[A.indices[k]]) for k in range(start, end) if A.data[k] != 0.0]
        name = rows[i]
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
        both = lo > -inf and hi < inf
        if lo > -inf:
            out.append(Constraint(f"{name}.lo" if both else name, body - lo, "ge"))
        if hi < inf:
            out.append(Constraint(f"{name}.hi" if both else name, hi - body, "ge"))
    return G, g
