"""Writing a linear (mixed-integer) bilevel problem as MPS + AUX files (the formats:
``bilevel_mp.frontends.mps_aux``)."""

from __future__ import annotations

import bz2
import gzip
import unicodedata
import warnings
from pathlib import Path

from ...errors import BilevelInputError
from ...problem import BilevelProblem
from .lint import SECTIONS

_OBJ, _RHS, _BND = "OBJ", "RHS", "BND"
#: Names of the file's own entries (objective row, RHS and BOUNDS set names): a row or
#: column so named would make an entry ambiguous when read back.
_RESERVED = {"Obj", _OBJ, _RHS, _BND}
#: HiGHS (which reads the files here) drops matrix values below 1e-9, refuses those of
#: 1e15 or more, and takes bounds and right-hand sides of 1e20 or more as infinite.
_SMALL, _LARGE, _INFINITE = 1e-9, 1e15, 1e20


def write_mps_aux(problem: BilevelProblem, mps_path, aux_path=None, dialect: str = "keyword"):
    """Write a linear (mixed-integer) bilevel problem as MPS + AUX files.

    ``dialect`` is ``"keyword"`` (BOBILib / MibS name-based) or ``"legacy"`` (MibS
    index-based). Columns are x then y, rows G then g; the upper objective is written in
    minimisation form (no OBJSENSE section, which MibS ignores); every column gets
    explicit bounds (an integer column without any would read back as binary). Names are
    made safe (``_token``) and unique. The lower objective keeps only its y terms: terms
    in x alone and its constant are constants to the follower and the format has no place
    for them (a ``UserWarning`` names them). Returns the two paths. Raises
    ``BilevelInputError`` naming the first nonlinear expression, or a number a reader
    would change (see ``_SMALL``)."""
    if dialect not in ("keyword", "legacy"):
        raise BilevelInputError(f"dialect must be 'keyword' or 'legacy', got {dialect!r}")
    problem.validate()
    mps_path = Path(mps_path)
    if not mps_path.name.lower().endswith((".mps", ".mps.gz", ".mps.bz2")):
        raise BilevelInputError(f"{mps_path}: write_mps_aux writes MPS files (.mps, .mps.gz, .mps.bz2)")
    aux_path = Path(aux_path) if aux_path is not None else mps_path.with_suffix(".aux")
    xs, ys = list(problem.x.values()), list(problem.y.values())
    cols = _unique([*problem.x_names, *problem.y_names], reserved=_RESERVED)
    index = {id(v): j for j, v in enumerate(xs + ys)}
    pname = problem.name

    def lin(expr, where):
        return _linear_coefs(expr, index, where, pname)

    c, c0 = lin(problem.F, "the upper-level objective F")
    d, d0 = lin(problem.f, "the lower-level objective f")
    dropped = [cols[j] for j in sorted(d) if j < len(xs)] + (["its constant"] if d0 else [])
    if dropped:
        warnings.warn(f"problem {pname!r}: the lower-level objective's terms in {', '.join(dropped)} "
                      "are constant for the follower and are not written (the AUX format holds y "
                      "coefficients only)", stacklevel=2)
    rows, lower = [], []  # (name, "E"|"G", rhs, {column: coefficient})
    for level, cons in (("G", problem.G), ("g", problem.g)):
        for con in cons:
            a, a0 = lin(con.body, f"constraint {con.name!r}")
            if not a:
                if (con.kind == "eq" and abs(a0) > 1e-9) or (con.kind == "ge" and a0 < -1e-9):
                    op = "==" if con.kind == "eq" else ">="
                    raise BilevelInputError(f"problem {pname!r}: constraint {con.name!r} has no "
                                            f"variables and cannot hold ({a0:g} {op} 0)")
                continue
            for j, v in a.items():
                if not _SMALL <= abs(v) < _LARGE:
                    raise BilevelInputError(
                        f"problem {pname!r}: constraint {con.name!r} has the coefficient {v:g} on "
                        f"{cols[j]!r}; MPS readers (HiGHS) drop values below {_SMALL:g} and refuse "
                        f"those of {_LARGE:g} or more: rescale the constraint")
            rows.append([con.name, "E" if con.kind == "eq" else "G", -a0, a])
            lower.append(level == "g")
    for name, _, rhs, _ in rows:
        _finite(rhs, f"the right-hand side of constraint {name!r}", pname)
    for j, v in enumerate(xs + ys):
        for b in (v.lb, v.ub):
            _finite(b, f"the bound {b} of {cols[j]!r}", pname)
    for label, v in [("the objective constant", c0)] + [(f"the cost of {cols[j]!r}", v) for j, v in c.items()]:
        _finite(v, label, pname)
    row_names = _unique([r[0] for r in rows], reserved=_RESERVED)
    for r, name in zip(rows, row_names):
        r[0] = name
    text = _mps_text(_token(pname), cols, [not v.is_continuous() for v in xs + ys],
                     [(v.lb, v.ub) for v in xs + ys], c, c0, rows)
    mps_path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if mps_path.suffix.lower() == ".gz" else bz2.open if \
        mps_path.suffix.lower() == ".bz2" else open
    with opener(mps_path, "wt", encoding="utf-8") as fh:
        fh.write(text)
    ycols = cols[len(xs):]
    lrows = [r for r, low in zip(row_names, lower) if low]
    dy = [d.get(len(xs) + k, 0.0) for k in range(len(ycols))]
    aux_path.parent.mkdir(parents=True, exist_ok=True)
    aux_path.write_text(_aux_text(dialect, problem, mps_path, ycols, dy, lrows, len(xs), row_names, lower),
                        encoding="utf-8")
    return mps_path, aux_path


def _finite(v, what, pname):
    if v is not None and abs(v) >= _INFINITE:
        raise BilevelInputError(f"problem {pname!r}: {what} is {v:g}; MPS readers take values of "
                                f"{_INFINITE:g} or more as infinite")


def _mps_text(name, cols, integer, bounds, cost, offset, rows) -> str:
    """Free-format MPS text: one entry a line, numbers as ``repr`` (exact)."""
    num = lambda v: repr(float(v))  # noqa: E731
    out = [f"NAME {name}", "ROWS", f" N  {_OBJ}"] + [f" {kind}  {r}" for r, kind, _, _ in rows]
    entries: list = [[] for _ in cols]
    for j, v in cost.items():
        entries[j].append((_OBJ, v))
    for r, _, _, a in rows:
        for j, v in a.items():
            entries[j].append((r, v))
    out.append("COLUMNS")
    marker, m = False, 0
    for j, col in enumerate(cols):
        if integer[j] != marker:
            out.append(f"    M{m}  'MARKER'  '{'INTORG' if integer[j] else 'INTEND'}'")
            marker, m = integer[j], m + 1
        out += [f"    {col}  {r}  {num(v)}" for r, v in entries[j]] or [f"    {col}  {_OBJ}  0.0"]
    if marker:
        out.append(f"    M{m}  'MARKER'  'INTEND'")
    out.append("RHS")
    out += [f"    {_RHS}  {_OBJ}  {num(-offset)}"] if offset else []
    out += [f"    {_RHS}  {r}  {num(b)}" for r, _, b, _ in rows if b != 0]
    out.append("BOUNDS")
    for col, (lo, hi) in zip(cols, bounds):
        if lo is not None and lo == hi:
            out.append(f" FX {_BND}  {col}  {num(lo)}")
            continue
        out.append(f" FR {_BND}  {col}" if lo is None and hi is None else
                   f" MI {_BND}  {col}" if lo is None else f" LO {_BND}  {col}  {num(lo)}")
        out += [f" UP {_BND}  {col}  {num(hi)}"] if hi is not None else []
    return "\n".join(out + ["ENDATA"]) + "\n"


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
    """A name HiGHS and the AUX reader read back as written: no whitespace, control
    characters or quotes; not starting with a comment or keyword character (``* # @ $``);
    not an MPS section keyword."""
    t = "".join("_" if ch in "'\"" or unicodedata.category(ch)[0] in "CZ" else ch for ch in str(s).strip())
    t = "_" + t if t[:1] in ("*", "#", "@", "$") else t
    return t + "_" if t.upper() in (*SECTIONS, "MARKER") else (t or "_")


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
