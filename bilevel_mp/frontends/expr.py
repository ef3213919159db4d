"""Expression front end: BOLIB-format JSON (expression strings) and Python callables.

Strings are parsed with ``ast`` and compiled node by node into Pyomo expressions; only
numbers, ``x[i]``, ``y[j]``, ``+ - * / **``, unary minus, ``pi``, ``e`` and the
functions ``exp, log, sqrt, sin, cos, abs`` are accepted. Nothing is ever passed to
``eval``, so a string cannot reach Python's builtins.

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
import json
import math
import operator
import warnings
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
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


class _Compiler:
    def __init__(self, variables: dict, where: str):
        self.variables = variables
        self.where = where

    def fail(self, msg):
        raise BilevelInputError(f"{self.where}: {msg}")

    def __call__(self, node):
        if isinstance(node, ast.Expression):
            return self(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self.fail(f"constant {node.value!r} is not a number")
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self(node.left), self(node.right)
            if isinstance(node.op, ast.Div) and isinstance(right, (int, float)) and right == 0:
                self.fail("division by zero")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in self.variables:
                self.fail(f"variable {node.id!r} must be indexed, e.g. {node.id}[0]")
            self.fail(f"unknown name {node.id!r}")
        if isinstance(node, ast.Subscript):
            if not isinstance(node.value, ast.Name) or node.value.id not in self.variables:
                self.fail("only x[i] and y[j] may be indexed")
            var = self.variables[node.value.id]
            idx = node.slice
            if not (isinstance(idx, ast.Constant) and isinstance(idx.value, int)
                    and not isinstance(idx.value, bool)):
                self.fail(f"index of {node.value.id} must be an integer literal")
            if not 0 <= idx.value < len(var):
                self.fail(f"{node.value.id}[{idx.value}] is out of range "
                          f"({node.value.id} has {len(var)} entries)")
            return var[idx.value]
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = getattr(node.func, "id", ast.dump(node.func))
                self.fail(f"function {name!r} is not allowed; allowed: {sorted(FUNCTIONS)}")
            if len(node.args) != 1 or node.keywords:
                self.fail(f"{node.func.id} takes exactly one argument")
            arg = self(node.args[0])
            fn = FUNCTIONS[node.func.id]
            if isinstance(arg, (int, float)):
                return {"abs": abs}.get(node.func.id, getattr(math, node.func.id))(arg)
            return fn(arg)
        self.fail(f"unsupported syntax {type(node).__name__}")


def parse_expression(text: str, problem: BilevelProblem, where: str = "expression"):
    """Compile an expression string over ``problem.x`` / ``problem.y`` into Pyomo."""
    if not isinstance(text, str):
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            return text
        raise BilevelInputError(f"{where}: expected an expression string, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise BilevelInputError(f"{where}: malformed expression {text!r} ({exc.msg})") from None
    return _Compiler({"x": problem.x, "y": problem.y}, where)(tree)


#: The fields of a BOLIB-format entry; any other key is an error (a typo must not silently
#: build a different problem).
FIELDS = ("name", "kind", "source", "status", "n_x", "n_y", "F", "f", "G", "g", "G_eq", "g_eq",
          "x_bounds", "y_bounds", "x_integer", "y_integer", "xy_init", "F_best", "f_best")


def problem_from_dict(d: dict) -> BilevelProblem:
    """Build a ``BilevelProblem`` from one BOLIB-format entry (fields: ``FIELDS``); an
    unknown key raises ``BilevelInputError`` naming the nearest valid one."""
    if not isinstance(d, dict):
        raise BilevelInputError(f"a problem entry must be a JSON object, got {type(d).__name__}")
    name = str(d.get("name", "bilevel"))
    for key in d:
        if key not in FIELDS:
            near = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise BilevelInputError(f"problem {name!r}: unknown field {key!r}{hint}; the fields are "
                                    f"{', '.join(FIELDS)}")
    for key in ("n_x", "n_y", "F", "f"):
        if key not in d:
            raise BilevelInputError(f"problem {name!r}: missing field {key!r}")
    p = BilevelProblem(
        int(d["n_x"]) if isinstance(d["n_x"], (int, float)) else d["n_x"],
        int(d["n_y"]) if isinstance(d["n_y"], (int, float)) else d["n_y"],
        name=name,
        x_bounds=d.get("x_bounds"),
        y_bounds=d.get("y_bounds"),
        x_integer=d.get("x_integer", False),
        y_integer=d.get("y_integer", False),
    )

    def cons(key, kind):
        items = d.get(key) or []
        if not isinstance(items, list):
            raise BilevelInputError(f"problem {name!r}: {key} must be a list of expressions")
        prefix = key.split("_")[0]
        offset = len(d.get(prefix) or []) if kind == "eq" else 0
        return [Constraint(f"{prefix}[{offset + k}]",
                           parse_expression(t, p, f"problem {name!r}, {key}[{k}]"), kind)
                for k, t in enumerate(items)]

    p.set_upper(parse_expression(d["F"], p, f"problem {name!r}, F"), cons("G", "ge") + cons("G_eq", "eq"))
    p.set_lower(parse_expression(d["f"], p, f"problem {name!r}, f"), cons("g", "ge") + cons("g_eq", "eq"))
    p.known_F = d.get("F_best")
    p.known_f = d.get("f_best")
    p.source = d.get("source", "BOLIB")
    p.meta = {k: d.get(k) for k in ("kind", "status", "xy_init") if k in d}
    init = d.get("xy_init")
    if init is not None:
        if len(init) != p.n_x + p.n_y:  # a hint only: warn, do not refuse the problem
            warnings.warn(f"problem {name!r}: xy_init has {len(init)} entries, expected "
                          f"n_x + n_y = {p.n_x + p.n_y}; ignored", stacklevel=2)
            p.meta.pop("xy_init", None)
        else:
            p.set_point(init[: p.n_x], init[p.n_x:])
    return p


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
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BilevelInputError(f"{path}: not valid JSON ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BilevelInputError(f"{path}: cannot be read ({exc})") from None
    entries = data if isinstance(data, list) else [data]
    if not entries:
        raise BilevelInputError(f"{path} holds no problems (an empty list)")
    return entries


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
