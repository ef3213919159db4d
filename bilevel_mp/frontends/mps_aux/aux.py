"""Reading AUX files of either dialect (the formats: ``bilevel_mp.frontends.mps_aux``)
into an ``AuxData``; finding the AUX file next to an instance file."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import BilevelInputError

MPS_SUFFIXES = (".mps", ".mps.gz", ".mps.bz2", ".lp", ".lp.gz", ".qps")
_KEY_ALIASES = {
    "@NUMCONSTR": "@NUMCONSTRS",
    "@CONSTRBEGIN": "@CONSTRSBEGIN", "@CONSTSBEGIN": "@CONSTRSBEGIN",
    "@CONSTREND": "@CONSTRSEND", "@CONSTSEND": "@CONSTRSEND",
    "@LP": "@MPS",
}
_VALUE_KEYS = ("@NUMVARS", "@NUMCONSTRS", "@NAME", "@MPS", "@OBJSENSE")
_LEGACY_KEYS = ("N", "M", "LC", "LR", "LO", "OS", "IC", "IB")


@dataclass
class AuxData:
    """The contents of an AUX file. ``lower_vars`` / ``lower_rows`` hold names, or
    0-based indices (``int``) for legacy index-based files. ``interdict_costs`` (``IC``)
    and ``interdict_budget`` (``IB``) are set only by a legacy interdiction file, whose
    ``LC``/``LR`` indices refer to MibS's interdiction model (``mps_aux.mibs``)."""

    lower_vars: list = field(default_factory=list)
    lower_obj: list = field(default_factory=list)
    lower_rows: list = field(default_factory=list)
    sense: str = "min"
    name: str | None = None
    mps: str | None = None
    dialect: str = "keyword"  # or "legacy"
    path: str = ""
    interdict_costs: list = field(default_factory=list)
    interdict_budget: float | None = None

    @property
    def interdiction(self) -> bool:
        """True for a MibS interdiction file (``IC`` and ``IB`` lines)."""
        return self.interdict_budget is not None


def is_mps_path(path) -> bool:
    """True for instance files this module reads (``.mps``, ``.mps.gz``, ``.lp``, ...)."""
    return str(path).lower().endswith(MPS_SUFFIXES)


def find_aux(mps_path) -> Path | None:
    """The AUX file next to an instance file: ``inst.aux``, ``inst.mps.aux``, else
    ``inst.txt`` (MibS's own fallback: ``MibSModel::readAuxiliaryData``)."""
    return next((c for c in aux_candidates(mps_path) if c.exists()), None)


def aux_candidates(mps_path) -> list[Path]:
    """Where ``find_aux`` looks, in order."""
    p = Path(mps_path)
    name = re.sub(r"\.(gz|bz2)$", "", p.name, flags=re.IGNORECASE)
    base = re.sub(r"\.(mps|lp|qps)$", "", name, flags=re.IGNORECASE)
    return [p.with_name(base + ".aux"), p.with_name(name + ".aux"), p.with_name(base + ".txt")]


def read_aux(path) -> AuxData:
    """Parse an AUX file of either dialect (see ``bilevel_mp.frontends.mps_aux``); any
    line ending (``\\n``, ``\\r\\n``, ``\\r``) is accepted."""
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
    ib_line = None
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
        elif key_u == "IC":
            c = _number(value, where)
            if c < 0:
                raise BilevelInputError(f"{where}: interdiction data: the interdiction cost IC {value} is "
                                        "negative (costs are spent from the budget IB)")
            aux.interdict_costs.append(c)
        elif key_u == "IB":
            if ib_line is not None:
                raise BilevelInputError(f"{where}: interdiction data: a second IB line (the budget is "
                                        f"already given on line {ib_line})")
            b = _number(value, where)
            if b < 0:
                raise BilevelInputError(f"{where}: interdiction data: the interdiction budget IB {value} "
                                        "is negative")
            aux.interdict_budget, ib_line = b, lineno
        else:
            raise BilevelInputError(f"{where}: unknown legacy AUX key {key!r} (known: {', '.join(_LEGACY_KEYS)})"
                                    + ("; keyword files start with '@'" if key.startswith("@") else ""))
    _check_count(path, "N", counts.get("N"), len(aux.lower_vars), "LC lines")
    _check_count(path, "M", counts.get("M"), len(aux.lower_rows), "LR lines")
    if len(aux.lower_obj) != len(aux.lower_vars):
        raise BilevelInputError(f"{path}: mismatched counts: {len(aux.lower_obj)} LO coefficients "
                                f"for {len(aux.lower_vars)} lower-level variables (LC lines)")
    if aux.interdict_costs and ib_line is None:
        raise BilevelInputError(f"{path}: interdiction data: {len(aux.interdict_costs)} IC lines "
                                "(interdiction costs) but no IB line (the interdiction budget)")
    if ib_line is not None and not aux.interdict_costs:
        raise BilevelInputError(f"{path}, line {ib_line}: interdiction data: IB (the interdiction budget) "
                                "without IC lines (one interdiction cost per column of the MPS file)")
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
