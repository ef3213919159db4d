"""Expression front end: BOLIB-format JSON (expression strings) and Python callables.

Strings are parsed with ``ast`` and compiled node by node (without recursion) into Pyomo
expressions; only ASCII numbers, ``x[i]``, ``y[j]``, ``+ - * / **``, unary minus, ``pi``,
``e`` and the functions ``exp, log, sqrt, sin, cos, abs`` are accepted. Nothing is ever
passed to ``eval``, so a string cannot reach Python's builtins. Constant subexpressions
are folded and must stay real and finite (``10**10**10`` or ``log(0)`` is refused, by name).

BOLIB entry fields (see ``shared/bolib/README.md``): name, n_x, n_y, F, f, G, g
(each ``expr >= 0``), optional xy_init, F_best, f_best, status, kind. Optional
extensions: ``G_eq`` / ``g_eq`` (``expr == 0``), ``x_integer`` (list of bools),
``x_bounds`` / ``y_bounds`` (lists of [lo, hi], null for none).

``load_problems`` also dispatches MPS/LP instance files (with their AUX file) to
``bilevel_mp.frontends.mps_aux``.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import math
import operator
import sys
import tokenize
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import pyomo.environ as pyo

from ..errors import BilevelInputError
from ..problem import BilevelProblem, Constraint
from .mps_aux import is_mps_path, read_mps_aux

FUNCTIONS = {
    "exp": pyo.exp,
    "log": pyo.log,
    "sqrt": pyo.sqrt,
    "sin": pyo.sin,
    "cos": pyo.cos,
    "abs": abs,
}
_MATH = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos,
         "abs": abs}
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_FLOAT_MAX = int(sys.float_info.max)
#: At most this many variables per level: larger problems belong in MPS+AUX files.
MAX_VARIABLES = 100_000


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Compiler:
    """Compiles an ``ast`` tree without recursion (a long sum cannot exhaust the stack).
    Constant subexpressions are folded and must stay real, finite and within float range."""

    def __init__(self, variables: dict, where: str, text: str = ""):
        self.variables = variables
        self.where = where
        self.text = text

    def fail(self, msg):
        raise BilevelInputError(f"{self.where}: {msg}")

    def __call__(self, root):
        stack, out = [(root, None)], []
        while stack:
            node, kids = stack.pop()
            if kids is None:
                kids = self.children(node)
                stack.append((node, kids))
                stack.extend((k, None) for k in reversed(kids))
            else:
                args = out[len(out) - len(kids):]
                del out[len(out) - len(kids):]
                out.append(self.combine(node, args))
        return out[0]

    def children(self, node) -> list:
        """The operands of ``node``; refuses anything outside the grammar."""
        if isinstance(node, ast.Expression):
            return [node.body]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return [node.left, node.right]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return [node.operand]
        if isinstance(node, (ast.Constant, ast.Name)):
            return []
        if isinstance(node, ast.Subscript):
            if not isinstance(node.value, ast.Name) or node.value.id not in self.variables:
                self.fail("only x[i] and y[j] may be indexed")
            return []
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else self.segment(node.func)
                self.fail(f"function {name!r} is not allowed; allowed: {sorted(FUNCTIONS)}")
            if len(node.args) != 1 or node.keywords:
                self.fail(f"{node.func.id} takes exactly one argument")
            if isinstance(node.args[0], ast.Starred):
                self.fail("unsupported syntax Starred")
            return [node.args[0]]
        self.fail(f"unsupported syntax {type(node).__name__}")

    def combine(self, node, args):
        if isinstance(node, ast.Expression):
            return args[0]
        if isinstance(node, ast.Constant):
            if not _is_num(node.value):
                self.fail(f"constant {node.value!r} is not a number")
            return self.checked(node.value, node)
        if isinstance(node, ast.BinOp):
            return self.binop(node, *args)
        if isinstance(node, ast.UnaryOp):
            return -args[0] if isinstance(node.op, ast.USub) else args[0]
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in self.variables:
                self.fail(f"variable {node.id!r} must be indexed, e.g. {node.id}[0]")
            self.fail(f"unknown name {node.id!r}")
        if isinstance(node, ast.Subscript):
            return self.variable(node)
        arg, name = args[0], node.func.id  # a Call (children() refused all else)
        if not _is_num(arg):
            return FUNCTIONS[name](arg)
        try:
            value = _MATH[name](arg)
        except (ValueError, OverflowError) as exc:
            self.fail(f"{self.segment(node)} is undefined ({exc})")
        return self.checked(value, node)

    def binop(self, node, left, right):
        if isinstance(node.op, ast.Div) and _is_num(right) and right == 0:
            self.fail("division by zero")
        if not (_is_num(left) and _is_num(right)):
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node.op, ast.Pow):
            if left == 0 and right < 0:
                self.fail(f"{self.segment(node)}: zero to a negative power")
            if abs(left) > 1 and right > 0 and right * math.log2(abs(left)) > 1100:
                self.fail(f"{self.segment(node)} is too large for a floating-point number")
        try:
            value = _BINOPS[type(node.op)](left, right)
        except (OverflowError, ZeroDivisionError, ValueError) as exc:
            self.fail(f"{self.segment(node)} cannot be computed ({exc})")
        return self.checked(value, node)

    def variable(self, node):
        name = node.value.id
        var, idx = self.variables[name], node.slice
        if not (isinstance(idx, ast.Constant) and isinstance(idx.value, int)
                and not isinstance(idx.value, bool)):
            self.fail(f"index of {name} must be an integer literal")
        if not 0 <= idx.value < len(var):
            self.fail(f"{name}[{idx.value}] is out of range ({name} has {len(var)} entries)")
        return var[idx.value]

    def checked(self, v, node):
        """A folded constant, if it is a real number within float range."""
        if isinstance(v, complex):
            self.fail(f"{self.segment(node)} is not a real number ({v})")
        if isinstance(v, int) and abs(v) > _FLOAT_MAX:
            self.fail(f"{self.segment(node)} is too large for a floating-point number")
        if isinstance(v, float) and not math.isfinite(v):
            self.fail(f"{self.segment(node)} is not finite ({v})")
        return v

    def segment(self, node) -> str:
        s = ast.get_source_segment(self.text, node) or type(node).__name__
        return s if len(s) <= 60 else s[:57] + "..."


def _top_level_terms(text: str):
    """``[(sign, chunk)]``: ``text`` split at its top-level binary ``+``/``-``, for sums
    too long for Python's parser; ``None`` when it cannot be split."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    cuts, depth, prev = [], 0, None
    for t in toks:
        if t.type == tokenize.OP and t.string in "([":
            depth += 1
        elif t.type == tokenize.OP and t.string in ")]":
            depth -= 1
        elif (t.type == tokenize.OP and t.string in "+-" and depth == 0 and prev is not None
              and (prev.type in (tokenize.NUMBER, tokenize.NAME) or prev.string in (")", "]"))):
            cuts.append((t.start[1], t.string))
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.ENDMARKER):
            prev = t
    if len(cuts) < 2:
        return None
    bounds = [(0, "+")] + [(c + 1, s) for c, s in cuts]
    ends = [c for c, _ in cuts] + [len(text)]
    return [(s, text[a:b].strip()) for (a, s), b in zip(bounds, ends)]


def _parse(text: str, where: str):
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal" for 1if: an error below
            warnings.simplefilter("ignore", SyntaxWarning)
            return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise BilevelInputError(f"{where}: malformed expression {_short(text)} ({exc.msg})") from None
    except (RecursionError, MemoryError):
        return None


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def parse_expression(text: str, problem: BilevelProblem, where: str = "expression"):
    """Compile an expression string over ``problem.x`` / ``problem.y`` into Pyomo."""
    if not isinstance(text, str):
        if _is_num(text):
            if abs(text) > _FLOAT_MAX or not math.isfinite(text):
                raise BilevelInputError(f"{where}: the number {text!r:.40} is not a finite float")
            return text
        raise BilevelInputError(f"{where}: expected an expression string, got {type(text).__name__}")
    text = text.strip()
    bad = next((k for k, ch in enumerate(text) if ord(ch) > 127 or ch == "#"), None)
    if bad is not None:
        ch = text[bad]
        raise BilevelInputError(f"{where}: character {ch!r} (U+{ord(ch):04X}) at position {bad} of "
                                f"{_short(text)} is not allowed; expressions are ASCII, without comments")
    variables = {"x": problem.x, "y": problem.y}
    tree = _parse(text, where)
    if tree is not None:
        return _Compiler(variables, where, text)(tree)
    terms = _top_level_terms(text) if "\n" not in text else None
    trees = [(s, _parse(chunk, where), chunk) for s, chunk in terms or ()]
    if not terms or any(t is None for _, t, _ in trees):
        raise BilevelInputError(f"{where}: expression {_short(text)} is nested too deeply "
                                f"for the parser")
    total = None
    for sign, tree, chunk in trees:
        v = _Compiler(variables, where, chunk)(tree)
        total = v if total is None else (total + v if sign == "+" else total - v)
    return total


#: The fields of a BOLIB-format entry; any other key is an error (a typo must not silently
#: build a different problem).
FIELDS = ("name", "kind", "source", "status", "n_x", "n_y", "F", "f", "G", "g", "G_eq", "g_eq",
          "x_bounds", "y_bounds", "x_integer", "y_integer", "xy_init", "F_best", "f_best")


def problem_from_dict(d: dict) -> BilevelProblem:
    """Build a ``BilevelProblem`` from one BOLIB-format entry (fields: ``FIELDS``); an
    unknown key, or a field of the wrong type, raises ``BilevelInputError`` naming it."""
    if not isinstance(d, dict):
        raise BilevelInputError(f"a problem entry must be a JSON object, got {type(d).__name__}")
    name = d.get("name", "bilevel")
    if not isinstance(name, str):
        raise BilevelInputError(f"a problem's name must be a string, got {name!r}")
    for key in d:
        if key not in FIELDS:
            near = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise BilevelInputError(f"problem {name!r}: unknown field {key!r}{hint}; the fields are "
                                    f"{', '.join(FIELDS)}")
    for key in ("n_x", "n_y", "F", "f"):
        if key not in d:
            raise BilevelInputError(f"problem {name!r}: missing field {key!r}")
    here = f"problem {name!r}"
    with _named(here):
        p = BilevelProblem(
            _size(d["n_x"], f"{here}: n_x"), _size(d["n_y"], f"{here}: n_y"), name=name,
            x_bounds=_bounds(d.get("x_bounds"), f"{here}: x_bounds"),
            y_bounds=_bounds(d.get("y_bounds"), f"{here}: y_bounds"),
            x_integer=_flags(d.get("x_integer"), f"{here}: x_integer"),
            y_integer=_flags(d.get("y_integer"), f"{here}: y_integer"),
        )

    def cons(key, kind):
        items = _list(d.get(key), f"{here}: {key}")
        prefix = key.split("_")[0]
        offset = len(_list(d.get(prefix), f"{here}: {prefix}")) if kind == "eq" else 0
        return [Constraint(f"{prefix}[{offset + k}]", parse_expression(t, p, f"{here}, {key}[{k}]"), kind)
                for k, t in enumerate(items)]

    with _named(here):
        p.set_upper(parse_expression(d["F"], p, f"{here}, F"), cons("G", "ge") + cons("G_eq", "eq"))
        p.set_lower(parse_expression(d["f"], p, f"{here}, f"), cons("g", "ge") + cons("g_eq", "eq"))
    for key in ("F_best", "f_best"):  # NaN marks an unknown value in BOLIB
        if d.get(key) is not None and not _is_num(d[key]):
            raise BilevelInputError(f"{here}: {key} must be a number or null, got {d[key]!r:.40}")
    p.known_F, p.known_f = d.get("F_best"), d.get("f_best")
    p.source = d.get("source", "BOLIB")
    if not isinstance(p.source, str):
        raise BilevelInputError(f"{here}: source must be a string, got {p.source!r}")
    p.meta = {k: d.get(k) for k in ("kind", "status", "xy_init") if k in d}
    init = d.get("xy_init")
    if init is not None:
        init = _list(init, f"{here}: xy_init")
        for k, v in enumerate(init):
            _finite(v, f"{here}: xy_init[{k}]")
        if len(init) != p.n_x + p.n_y:  # a hint only: warn, do not refuse the problem
            warnings.warn(f"problem {name!r}: xy_init has {len(init)} entries, expected "
                          f"n_x + n_y = {p.n_x + p.n_y}; ignored", stacklevel=2)
            p.meta.pop("xy_init", None)
        else:
            p.set_point(init[: p.n_x], init[p.n_x:])
    return p


@contextmanager
def _named(here: str):
    """Prefix the problem's name to the errors of ``BilevelProblem`` (bounds, NaN checks)."""
    try:
        yield
    except BilevelInputError as exc:
        if str(exc).startswith(here):
            raise
        raise BilevelInputError(f"{here}: {exc}") from None


def _size(v, where: str) -> int:
    if _is_num(v) and v == v and 0 <= v <= MAX_VARIABLES and v == int(v):
        return int(v)
    if _is_num(v) and v == v and v > MAX_VARIABLES:
        raise BilevelInputError(f"{where} = {v!r} is too large: the expression format takes at most "
                                f"{MAX_VARIABLES} variables per level (use MPS+AUX files)")
    raise BilevelInputError(f"{where} must be a non-negative integer, got {v!r}")


def _list(v, where: str) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        raise BilevelInputError(f"{where} must be a list, got {type(v).__name__} {_short(str(v))}")
    return v


def _finite(v, where: str):
    if not _is_num(v) or abs(v) > _FLOAT_MAX or not math.isfinite(v):
        raise BilevelInputError(f"{where} must be a finite number, got {v!r:.40}")
    return v


def _bounds(v, where: str):
    if v is None:
        return None
    for k, pair in enumerate(_list(v, where)):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise BilevelInputError(f"{where}[{k}] must be a pair [lower, upper], got {pair!r:.60}")
        for side, b in zip(("lower", "upper"), pair):
            if b is not None and not _is_num(b):
                raise BilevelInputError(f"{where}[{k}]: the {side} bound {b!r} is not a number or null")
    return v


def _flags(v, where: str):
    if v is None or isinstance(v, bool):
        return bool(v)
    return _list(v, where)


def read_entries(path) -> list:
    """The raw entries of a BOLIB-format JSON file: a list of at least one JSON value.
    A missing path, a directory, unreadable or invalid JSON, or an empty list raise
    ``BilevelInputError`` naming the file."""
    path = Path(path)
    if not path.exists():
        raise BilevelInputError(f"no such file: {path}")
    if path.is_dir():
        raise BilevelInputError(f"{path} is a directory: give a BOLIB-format JSON file "
                                "or an MPS/LP instance file")
    try:
        data = json.loads(path.read_text(), object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise BilevelInputError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise BilevelInputError(f"{path}: JSON nested too deeply") from None
    except BilevelInputError as exc:
        raise BilevelInputError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BilevelInputError(f"{path}: cannot be read ({exc})") from None
    entries = data if isinstance(data, list) else [data]
    if not entries:
        raise BilevelInputError(f"{path} holds no problems (an empty list)")
    return entries


def _no_duplicate_keys(pairs):
    """JSON objects whose keys repeat are refused (``json`` would keep the last silently)."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise BilevelInputError(f"the key {k!r} appears twice in one JSON object")
        out[k] = v
    return out


def load_problems(source, aux=None) -> list[BilevelProblem]:
    """Problems from a BOLIB-format JSON file (one object or a list), or parsed JSON.

    An instance file (``.mps``, ``.mps.gz``, ``.lp``) is read with its AUX file (``aux``,
    or ``inst.aux`` found next to it) by ``bilevel_mp.frontends.mps_aux.read_mps_aux``."""
    if isinstance(source, (str, Path)) and is_mps_path(source):
        return [read_mps_aux(source, aux)]
    if aux is not None:
        raise BilevelInputError(f"an AUX file goes with an MPS/LP instance file, not with {source}")
    entries = read_entries(source) if isinstance(source, (str, Path)) else source
    entries = entries if isinstance(entries, list) else [entries]
    if not entries:
        raise BilevelInputError("the input holds no problems (an empty list)")
    return [problem_from_dict(e) for e in entries]


def problem_to_dict(problem: BilevelProblem) -> dict:
    """BOLIB-format entry of a problem (expressions printed as strings)."""
    from pyomo.core.expr import expression_to_string

    # the problem's own variables are named x[i] and y[j], which is the format's syntax
    def s(e):
        return repr(float(e)) if isinstance(e, (int, float)) else expression_to_string(e)

    return {
        "name": problem.name,
        "n_x": problem.n_x,
        "n_y": problem.n_y,
        "F": s(problem.F),
        "f": s(problem.f),
        "G": [s(c.body) for c in problem.G if c.kind == "ge"],
        "g": [s(c.body) for c in problem.g if c.kind == "ge"],
        "G_eq": [s(c.body) for c in problem.G if c.kind == "eq"],
        "g_eq": [s(c.body) for c in problem.g if c.kind == "eq"],
        "x_bounds": [[v.lb, v.ub] for v in problem.x.values()],
        "y_bounds": [[v.lb, v.ub] for v in problem.y.values()],
        "x_integer": problem.x_is_integer(),
        "y_integer": [not v.is_continuous() for v in problem.y.values()],
        "F_best": problem.known_F,
        "f_best": problem.known_f,
    }


def from_callables(n_x: int, n_y: int, F: Callable, f: Callable, G: Callable | None = None,
                   g: Callable | None = None, name: str = "bilevel", **kwargs) -> BilevelProblem:
    """Build a problem from Python functions of (x, y) that return expressions.

    ``F(x, y)`` and ``f(x, y)`` return objectives; ``G(x, y)`` and ``g(x, y)`` return
    lists of relations (``<=``, ``>=``, ``==``) or of expressions meant ``>= 0``. Use the
    functions in ``bilevel_mp.frontends.expr.FUNCTIONS`` (Pyomo's exp, cos, ...) for
    nonlinear terms."""
    p = BilevelProblem(n_x, n_y, name=name, **kwargs)
    x, y = p.x, p.y
    try:
        p.set_upper(F(x, y), G(x, y) if G else [])
        p.set_lower(f(x, y), g(x, y) if g else [])
    except BilevelInputError:
        raise
    except Exception as exc:
        raise BilevelInputError(f"problem {name!r}: building the expressions failed: {exc}") from exc
    return p
