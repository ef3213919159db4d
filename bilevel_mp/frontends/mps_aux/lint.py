"""A strict pass over a free-format MPS file, so that HiGHS's lenient reader cannot
silently read a different model.

HiGHS reads numbers with ``atof`` (``1,5`` is 1, ``abc`` is 0), ignores extra fields,
adds a new column for a BOUNDS entry that names an unknown one, takes a line starting
with ``NAME``/``OBJSENSE`` (any case) as that keyword, and ignores an ``OBJSENSE`` value
it does not know. ``check_mps`` follows HiGHS's field rules (a set name is optional in
RHS, RANGES and BOUNDS entries) and refuses each of these cases, naming the line; it
returns the column and row names and the objective sense, which the reader compares
with what HiGHS read, and the BOUNDS entries of each column (for MibS's reader
conventions, ``mps_aux.mibs``). Line ends may be ``\n`` or ``\r\n``.
"""

from __future__ import annotations

import bz2
import gzip
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import BilevelInputError

SECTIONS = ("NAME", "OBJSENSE", "ROWS", "COLUMNS", "RHS", "RANGES", "BOUNDS", "SOS",
            "SETS", "QUADOBJ", "QMATRIX", "QSECTION", "QCMATRIX", "CSECTION", "DELAYEDROWS",
            "MODELCUTS", "INDICATORS", "GENCONS", "PWLOBJ", "PWLNAM", "PWLCON", "ENDATA")
SENSES = {"MIN": "min", "MINIMIZE": "min", "MINIMISE": "min",
          "MAX": "max", "MAXIMIZE": "max", "MAXIMISE": "max"}
_NUMBER = re.compile(r"[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity)", re.IGNORECASE)
_FLAG_BOUNDS = ("MI", "PL", "FR", "BV")
_VALUE_BOUNDS = ("UP", "LO", "FX", "LI", "UI", "SC", "SI")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class MpsFacts:
    """What the file declares: columns in order, constraint rows (not N rows) in order,
    the objective sense, and each column's BOUNDS entries in file order
    (``bounds[column] = [(type, value or None), ...]``; a column without any is absent)."""

    columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    sense: str = "min"
    bounds: dict = field(default_factory=dict)


def mps_text(path: Path) -> str:
    """The text of a (possibly gzip/bzip2-compressed) MPS file, which must be UTF-8."""
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix.lower(), open)
    with opener(path, "rb") as fh:
        raw = fh.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise BilevelInputError(f"{path}, line {line}: byte {raw[exc.start]:#04x} is not UTF-8 text") from None


class _Lint:
    def __init__(self, path: Path):
        self.path = path
        self.facts = MpsFacts()
        self.kinds: dict = {}  # every row, N rows included -> type
        self.cols: set = set()
        self.last_col = None
        self.section = None
        self.seen: set = set()
        self.name = None
        self.where = ""

    def fail(self, msg):
        raise BilevelInputError(f"{self.where}: {msg}")

    def number(self, tok, what):
        if not _NUMBER.fullmatch(tok):
            self.fail(f"{tok!r} is not a number ({what})")
        return float(tok)

    def run(self, text: str) -> MpsFacts:
        for n, raw in enumerate(text.split("\n"), 1):  # as HiGHS: not at \x85 or U+2028
            self.where = f"{self.path}, line {n}"
            if raw.startswith("*") or not raw.strip(" \t\r"):
                continue
            line = raw.strip(" \t\r")
            if _CONTROL.search(line):
                self.fail(f"control character {_CONTROL.search(line).group()!r} in {line!r}")
            toks = re.split(r"[ \t]+", line)
            if self.header(toks, line):
                if self.section == "ENDATA":
                    break
                continue
            handler = getattr(self, f"on_{(self.section or '').lower()}", None)
            if handler is None:
                if self.section in (None, "NAME"):
                    self.fail(f"unexpected text {line!r} before the ROWS section")
                continue  # SOS, QUADOBJ, ...: HiGHS refuses or reads them; not checked here
            handler(toks, line)
        return self.facts

    def header(self, toks, line) -> bool:
        key = toks[0].upper()
        if not (key in ("NAME", "OBJSENSE") or (len(toks) == 1 and key in SECTIONS) or (
                key in ("QSECTION", "QCMATRIX", "CSECTION") and toks[0] == key)):
            return False
        sense_line = key == "OBJSENSE" and (len(toks) == 1 or len(toks) == 2 and toks[1].upper() in SENSES)
        if (key in ("NAME", "OBJSENSE") and not sense_line
                and self.section in ("ROWS", "COLUMNS", "RHS", "RANGES", "BOUNDS")):
            self.fail(f"{line!r} is read as the {key} keyword (HiGHS reads any line starting with "
                      f"{toks[0]!r} so): a row, column or set may not be named {toks[0]!r}")
        if key in self.seen and key != "OBJSENSE":
            self.fail(f"a second {key} section")
        self.seen.add(key)
        self.section = key
        if key == "NAME":
            self.name = toks[1] if len(toks) > 1 else None
        elif key == "OBJSENSE" and len(toks) > 1:
            self.on_objsense(toks[1:], line)
        return True

    def on_objsense(self, toks, line):
        if len(toks) != 1 or toks[0].upper() not in SENSES:
            self.fail(f"OBJSENSE must be MIN or MAX, got {line!r}")
        self.facts.sense = SENSES[toks[0].upper()]

    def on_rows(self, toks, line):
        if len(toks) != 2 or toks[0].upper() not in ("N", "E", "L", "G"):
            self.fail(f"a ROWS entry is 'type name' with type N, E, L or G, got {line!r}")
        kind, name = toks[0].upper(), toks[1]
        if name in self.kinds:
            self.fail(f"row {name!r} is declared twice")
        self.kinds[name] = kind
        if kind != "N":
            self.facts.rows.append(name)

    def on_columns(self, toks, line):
        if len(toks) >= 2 and toks[1].upper() == "'MARKER'":
            if len(toks) != 3:
                self.fail(f"a MARKER line is \"name 'MARKER' 'INTORG'|'INTEND'\", got {line!r}")
            return
        if len(toks) not in (3, 5):
            self.fail(f"a COLUMNS entry is 'column row value [row value]', got {line!r}")
        col = toks[0]
        if col != self.last_col:
            if col in self.cols:
                self.fail(f"column {col!r} appears again after other columns (its entries must be "
                          "consecutive)")
            self.cols.add(col)
            self.facts.columns.append(col)
            self.last_col = col
        self.pairs(toks[1:], line, "COLUMNS")

    def pairs(self, toks, line, section):
        for k in range(0, len(toks), 2):
            if toks[k] not in self.kinds:
                self.fail(f"row {toks[k]!r} in {line!r} is not declared in ROWS")
            self.number(toks[k + 1], f"the {section} value of row {toks[k]!r}")

    def on_rhs(self, toks, line, section="RHS"):
        start = 0 if toks[0] in self.kinds else 1  # HiGHS: no set name when it is a row
        if start == 1 and len(toks) > 1 and toks[1] not in self.kinds and toks[1] == self.name:
            start = 2
        rest = toks[start:]
        if len(rest) not in (2, 4):
            self.fail(f"a {section} entry is '[set] row value [row value]', got {line!r}")
        self.pairs(rest, line, section)

    def on_ranges(self, toks, line):
        self.on_rhs(toks, line, "RANGES")

    def on_bounds(self, toks, line):
        kind = toks[0].upper()
        if kind not in _FLAG_BOUNDS + _VALUE_BOUNDS or len(toks) < 2:
            self.fail(f"a BOUNDS entry is 'type [set] column [value]' with type UP, LO, FX, MI, PL, "
                      f"FR, BV, LI, UI, SC or SI, got {line!r}")
        at = 1 if toks[1] in self.cols else 2  # HiGHS: no set name when it is a column
        if at >= len(toks) or toks[at] not in self.cols:
            col = toks[at] if at < len(toks) else toks[-1]
            self.fail(f"BOUNDS entry {line!r} names column {col!r}, which is not in the COLUMNS section")
        rest = toks[at + 1:]
        if kind in _VALUE_BOUNDS and len(rest) != 1 or len(rest) > 1:
            self.fail(f"a {kind} bound is '{kind} [set] column{' value' if kind in _VALUE_BOUNDS else ''}', "
                      f"got {line!r}")
        v = None
        if rest:
            v = self.number(rest[0], f"the {kind} bound of column {toks[at]!r}")
            if kind in ("LI", "UI", "SI") and math.isfinite(v) and v != int(v):
                self.fail(f"the {kind} bound {rest[0]} of column {toks[at]!r} is not an integer")
        self.facts.bounds.setdefault(toks[at], []).append((kind, v))


def check_mps(path) -> MpsFacts:
    """Check a free-format MPS file strictly (see the module docstring); returns its facts."""
    path = Path(path)
    try:
        text = mps_text(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise BilevelInputError(f"{path}: cannot be read ({exc})") from None
    return _Lint(path).run(text)
