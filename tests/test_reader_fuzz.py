"""Property-based fuzzing of the input readers (issue 14, item 6).

Readers: the BOLIB-format dict/JSON reader and expression compiler
(``bilevel_mp.frontends.expr``) and the MPS+AUX reader/writer
(``bilevel_mp.frontends.mps_aux``). The contract, checked on mutated valid inputs and on
random text and bytes: a malformed input raises a ``BilevelError`` with a message (never
another exception, never a hang), and a valid one is read as the model it states:
dict -> problem -> dict -> problem and MPS+AUX write -> read agree at random points,
compiled expressions agree with Python's own evaluation of the same string, and a
garbled number in an MPS file is refused, never read as a nearby one.

Examples are derandomized so the run is reproducible (about 20 s of CPU); set
``BILEVEL_FUZZ_SCALE=10`` to run ten times more, randomly.
"""

import copy
import faulthandler
import gzip
import json
import math
import os
import random
import re
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyomo.repn import generate_standard_repn

import bilevel_mp as bmp
from bilevel_mp.errors import BilevelError, BilevelInputError
from bilevel_mp.frontends.expr import (
    FIELDS,
    load_problems,
    parse_expression,
    problem_from_dict,
    problem_to_dict,
)
from bilevel_mp.frontends.mps_aux import read_aux, read_mps_aux, write_mps_aux
from bilevel_mp.library.classic import bolib_entries
from bilevel_mp.problem import Constraint

SCALE = int(os.environ.get("BILEVEL_FUZZ_SCALE", "1"))
DATA = Path(__file__).parent / "data" / "mps_aux"
ENTRIES = list(bolib_entries().values())
FIXTURES = sorted(p.stem for p in DATA.glob("*.mps"))


def fuzz(n):
    return settings(max_examples=n * SCALE, deadline=None, derandomize=SCALE == 1,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


class Hang(BaseException):
    """Raised by ``within`` (a BaseException, so no reader can swallow it)."""


@contextmanager
def within(seconds=10):
    """Fail a hang: ``Hang`` after ``seconds``; a hang inside C code (no Python signal
    handler runs) ends the process with a traceback after three times as long."""
    def alarm(*_):
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(3 * seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def read_or_refuse(fn, *args):
    """``fn(*args)``, or None when it refuses with a BilevelError that says something.
    Any other exception, or a hang, fails the test."""
    with within():
        try:
            return fn(*args)
        except BilevelError as exc:
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            return None


# ------------------------------------------------------------------ strategies
HUGE = [10**400, -10**400, 2**63, 10**9, 1e308, -1e308, 5e-324]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.sampled_from(HUGE),
                    st.floats(), st.text(max_size=12))
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4)
                           | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=8)

TOKENS = ["x[0]", "y[0]", "x[1]", "y[1]", "x[99]", "x[-1]", "x[0.5]", "x", "y", "z[0]", "(", ")",
          "[", "]", "+", "-", "*", "/", "**", "//", "%", "@", ",", ".", ":", "=", "==", "<",
          "e", "pi", "nan", "inf", "NaN", "1e308", "1e999", "1e-400", "10", "0", "0.0", "3",
          "2.5", "9" * 30, "1j", "0x10", "1_000", "exp", "log", "sqrt", "abs", "sin", "cos",
          "__import__", "'os'", "\"s\"", "lambda", "if", "else", "not", "and", "True", "None",
          "__class__", "getattr", "open", "ｘ", "π", "é", "\x00", "#", "\n", "\t", " ", "\\",
          "{", "}", "`", "$", "?", "!", ";", "...", "f'{x}'", "*[1]", "**{}"]


def _deep(kind, n):
    return ["(" * n + "x[0]" + ")" * n, "-" * n + "x[0]", "+".join(["x[0]"] * n),
            "x[0]**" * n + "2", "exp(" * n + "x[0]" + ")" * n, "[" * n + "]" * n,
            "10**" * min(n, 50) + "10", "x[0]*" * n + "1"][kind]


evil_strings = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=25).map("".join),
    st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join),
    st.text(max_size=40),
    st.builds(_deep, st.integers(0, 7), st.integers(1, 4000)),
    st.sampled_from(["__import__('os').system('true')", "x.__class__.__mro__", "(lambda: 1)()",
                     "x[0].__class__", "().__class__", "exp.__globals__", "[c for c in ()]",
                     "10**10**10", "2**-1e400", "(-8)**(1/3)", "log(0)", "sqrt(-1)", "exp(1e4)",
                     "1e308*10", "0**-1", "x[0]/(1-1)", "1/0.0", "nan", "-inf"]),
)


# ------------------------------------------------------------------ JSON/dict reader
def _expression_slots(d):
    slots = [("F",), ("f",)]
    for key in ("G", "g", "G_eq", "g_eq"):
        if isinstance(d.get(key), list):
            slots += [(key, k) for k, t in enumerate(d[key]) if isinstance(t, str)]
    return [s for s in slots if isinstance(_get(d, s), str)]


def _get(d, slot):
    return d.get(slot[0]) if len(slot) == 1 else d[slot[0]][slot[1]]


def _set(d, slot, v):
    if len(slot) == 1:
        d[slot[0]] = v
    else:
        d[slot[0]][slot[1]] = v


def mutate_entry(data, d):
    """Apply 1-3 random mutations to a copy of a BOLIB entry."""
    d = copy.deepcopy(d)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["del", "unknown", "retype", "expr", "char", "length",
                                        "size", "nest"]))
        slots = _expression_slots(d)
        if op == "del" and d:
            del d[data.draw(st.sampled_from(sorted(d, key=str)))]
        elif op == "unknown":
            d[data.draw(st.text(max_size=10))] = data.draw(json_values)
        elif op == "retype":
            d[data.draw(st.sampled_from(FIELDS))] = data.draw(json_values)
        elif op == "expr" and slots:
            _set(d, data.draw(st.sampled_from(slots)), data.draw(evil_strings))
        elif op == "char" and slots:
            slot = data.draw(st.sampled_from(slots))
            s = _get(d, slot)
            i = data.draw(st.integers(0, len(s)))
            ch = data.draw(st.characters() | st.sampled_from(list("()[]+-*/.e0123456789xy")))
            _set(d, slot, data.draw(st.sampled_from([s[:i] + ch + s[i:], s[:i] + ch + s[i + 1:],
                                                     s[:i] + s[i + 1:]])))
        elif op == "length":
            key = data.draw(st.sampled_from(["G", "g", "G_eq", "g_eq", "x_bounds", "y_bounds",
                                             "xy_init", "x_integer", "y_integer"]))
            items = d.get(key) if isinstance(d.get(key), list) else []
            how = data.draw(st.sampled_from(["append", "pop", "double"]))
            d[key] = (items + [data.draw(json_values)] if how == "append" else items[:-1]
                      if how == "pop" else items * 2)
        elif op == "size":
            d[data.draw(st.sampled_from(["n_x", "n_y"]))] = data.draw(st.sampled_from(
                [0, -1, 1, 2, 7, 1.5, 2.0, True, math.nan, math.inf, 10**9, "2", None, [1]]))
        elif op == "nest" and d:
            key = data.draw(st.sampled_from(sorted(d, key=str)))
            d[key] = data.draw(st.sampled_from([[d[key]], {"v": d[key]}]))
    return d


@fuzz(400)
@given(st.data())
def test_mutated_bolib_entries_read_or_raise_a_bilevel_error(data):
    d = mutate_entry(data, data.draw(st.sampled_from(ENTRIES)))
    p = read_or_refuse(problem_from_dict, d)
    if p is not None:
        assert isinstance(p, bmp.BilevelProblem)
        assert (p.n_x, p.n_y) == (d["n_x"], d["n_y"])
        assert all(k in FIELDS for k in d)


@fuzz(400)
@given(evil_strings)
def test_random_expression_strings_compile_or_raise_a_bilevel_error(text):
    p = bmp.BilevelProblem(2, 2)
    out = read_or_refuse(parse_expression, text, p, "F")
    if out is not None and isinstance(out, (int, float)):
        assert math.isfinite(out)


@fuzz(100)
@given(st.text(min_size=1, max_size=10).filter(lambda k: k not in FIELDS), json_values)
def test_an_unknown_field_is_always_refused_by_name(key, value):
    with pytest.raises(BilevelInputError, match="unknown field"):
        problem_from_dict({**ENTRIES[0], key: value})


@fuzz(60)
@given(st.data())
def test_json_files_load_or_raise_a_bilevel_error(data):
    text = json.dumps(data.draw(st.sampled_from(ENTRIES[:20])))
    kind = data.draw(st.sampled_from(["chars", "bytes", "duplicate", "deep", "random"]))
    if kind == "chars":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(text)))
            text = text[:i] + data.draw(st.sampled_from(list('{}[]",:0123456789.-eE ') + ["NaN", "Infinity", "null", "\\u0000"])) + text[i + 1:]
        raw = text.encode()
    elif kind == "bytes":
        raw = bytearray(text.encode())
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        raw = bytes(raw)
    elif kind == "duplicate":
        raw = text.replace('"F":', '"F": "y[0]", "F":', 1).encode()
    elif kind == "deep":
        n = data.draw(st.integers(1, 100_000))
        raw = ("[" * n + "]" * n).encode()
    else:
        raw = data.draw(st.binary(max_size=200))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.json"
        path.write_bytes(raw)
        out = read_or_refuse(load_problems, path)
    if kind == "duplicate":
        assert out is None
    if out is not None:
        assert all(isinstance(p, bmp.BilevelProblem) for p in out)


def test_a_key_given_twice_is_refused(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"name": "t", "n_x": 1, "n_y": 1, "F": "x[0]", "f": "y[0]", "F": "-x[0]"}')
    with pytest.raises(BilevelInputError, match="'F' appears twice"):
        load_problems(path)


# Inputs the fuzzing found: each once crashed, hung or silently read a different model.
BASE = {"name": "t", "n_x": 1, "n_y": 1, "F": "x[0] + y[0]", "f": "y[0]", "g": ["y[0] - x[0]"]}


@pytest.mark.parametrize("fields, needle", [
    ({"F": "10**10**10"}, "too large"),                 # hung computing a 10^10-digit integer
    ({"F": "log(0)"}, r"log\(0\) is undefined"),        # ValueError
    ({"F": "exp(1000)"}, "undefined"),                  # OverflowError
    ({"F": "(-1)**0.5 * x[0]"}, "not a real number"),   # TypeError from a complex constant
    ({"F": "0**-1"}, "zero to a negative power"),       # ZeroDivisionError
    ({"F": "10**400 * x[0]"}, "too large"),             # OverflowError
    ({"F": 10**400}, "not a finite float"),             # OverflowError
    ({"F": "-" * 100_000 + "x[0]"}, "nested too deeply"),  # MemoryError from the parser
    ({"F": "\uff58[0]"}, r"U\+FF58"),                    # fullwidth x: silently read as x[0]
    ({"F": "x[0] # + y[0]"}, "comments"),               # the comment silently dropped y[0]
    ({"n_x": 1.5}, "n_x must be a non-negative integer"),   # silently truncated to 1
    ({"n_x": True}, "n_x must be a non-negative integer"),  # silently 1
    ({"n_x": math.nan}, "n_x must be"),                 # ValueError
    ({"n_y": 10**9}, "too large"),                      # hung building 10^9 variables
    ({"G": {}}, "G must be a list"),                    # silently no constraints
    ({"G": ""}, "G must be a list"),                    # silently no constraints
    ({"x_bounds": 5}, "x_bounds must be a list"),       # TypeError
    ({"x_bounds": [["0", "1"]]}, "not a number"),       # silently float('0')
    ({"x_integer": 1}, "x_integer must be a list"),     # TypeError
    ({"xy_init": ["a", 1]}, r"xy_init\[0\] must be a finite number"),  # ValueError
    ({"F_best": "x"}, "F_best must be a number"),       # crashed later, printing it
    ({"name": None}, "name must be a string"),          # silently named 'None'
])
def test_inputs_that_once_crashed_or_were_misread_are_refused_by_name(fields, needle):
    with pytest.raises(BilevelInputError, match=needle):
        with within():
            problem_from_dict({**BASE, **fields})


def test_long_sums_and_constant_functions_now_compile():
    p = problem_from_dict({**BASE, "F": " + ".join(["x[0]"] * 5000) + " + abs(-3)"})  # RecursionError,
    p.set_point([0.5], [0.0])                                                      # AttributeError
    assert pyo.value(p.F) == pytest.approx(2503.0)


def test_deeply_nested_json_is_refused(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # RecursionError
    with pytest.raises(BilevelInputError, match="nested too deeply"):
        load_problems(path)


# ------------------------------------------------------------------ expressions vs Python
FUNCS = ("exp", "log", "sqrt", "sin", "cos", "abs")
leaves = st.one_of(st.sampled_from(["x[0]", "x[1]", "y[0]", "y[1]", "pi", "e"]),
                   st.integers(0, 50).map(str),
                   st.floats(0, 100, allow_nan=False, allow_infinity=False).map(repr))
small = st.sampled_from(["2", "3", "0.5", "1", "0", "x[0]", "y[1]", "(-1)", "-2"])


def _extend(children):
    def wrap(s, paren):
        return f"({s})" if paren else s

    return st.one_of(
        st.builds(lambda a, op, b, p: wrap(f"{a} {op} {b}", p), children,
                  st.sampled_from(["+", "-", "*", "/"]), children, st.booleans()),
        st.builds(lambda a, b, p: wrap(f"{a} ** {b}", p), children, small, st.booleans()),
        st.builds(lambda op, a: f"{op}{a}", st.sampled_from(["-", "+", "- "]), children),
        st.builds(lambda fn, a: f"{fn}({a})", st.sampled_from(FUNCS), children),
    )


expressions = st.recursive(leaves, _extend, max_leaves=10)
points = st.lists(st.floats(-3, 3, allow_nan=False), min_size=4, max_size=4)
PY = {"__builtins__": {}, "abs": abs, "pi": math.pi, "e": math.e,
      **{f: getattr(math, f) for f in FUNCS if f != "abs"}}


def python_value(text, x, y):
    """Python's own value of the expression (the reference), or None where Python
    fails or leaves the reals."""
    try:
        with within(5):
            v = eval(text, dict(PY), {"x": x, "y": y})  # the test's own generated strings
        v = float(v)
    except (ArithmeticError, ValueError, TypeError):
        return None
    return v if math.isfinite(v) else None


def model_value(expr):
    try:
        v = float(pyo.value(expr))
    except (ArithmeticError, ValueError, TypeError):
        return None
    return v if math.isfinite(v) else None


@fuzz(500)
@given(expressions, points)
def test_compiled_expressions_evaluate_like_python(text, pt):
    x, y = pt[:2], pt[2:]
    p = bmp.BilevelProblem(2, 2)
    ref = python_value(text, x, y)
    try:
        with within():
            expr = parse_expression(text, p, "F")
    except BilevelInputError as exc:  # only numbers Python cannot hold as floats are refused
        assert ref is None or re.search(r"too large|not finite|division by zero|undefined|not a real",
                                        str(exc)), (text, exc)
        return
    if not isinstance(expr, (int, float)):
        p.set_point(x, y)
    got = model_value(expr)
    assume(ref is not None and got is not None)
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-9), text


@fuzz(5)
@given(st.integers(0, 2**32), st.integers(3500, 6000), points)
def test_sums_too_long_for_pythons_parser_compile_left_to_right(seed, n, pt):
    rng = random.Random(seed)
    terms = [(rng.choice("+-"), rng.randint(-9, 9), rng.choice(["x[0]", "x[1]", "y[0]", "(x[1] - y[0])", "3"]))
             for _ in range(n)]
    text = " ".join(f"{s} {c}*{t}" for s, c, t in terms).lstrip("+ ")
    x, y = pt[:2], pt[2:]
    ref = 0.0
    for s, c, t in terms:
        v = c * eval(t, {"__builtins__": {}}, {"x": x, "y": y})  # one short term each
        ref = ref + v if s == "+" else ref - v
    p = bmp.BilevelProblem(2, 2)
    with within(30):
        expr = parse_expression(text, p, "F")
    p.set_point(x, y)
    assert pyo.value(expr) == pytest.approx(ref, rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------ dict round trip
def _bounds(data, n):
    out = []
    for _ in range(n):
        lo = data.draw(st.none() | st.integers(-5, 2))
        hi = data.draw(st.none() | st.integers(2, 8))
        out.append([lo, hi])
    return out


def _over(data, n_x, n_y):
    """An expression over the problem's variables (indices renumbered into range)."""
    text = data.draw(expressions)
    return text.replace("x[1]", f"x[{n_x - 1}]").replace("y[1]", f"y[{n_y - 1}]")


def _values(p, x, y):
    """F, f (minimisation form) and every constraint's kind and value; None where a
    value cannot be evaluated."""
    p.set_point(x, y)
    out = [model_value(p.F), model_value(p.f)]
    return out + [(c.kind, model_value(c.body)) for c in p.G + p.g]


def _same(a, b):
    if isinstance(a, tuple):
        return a[0] == b[0] and _same(a[1], b[1])
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@fuzz(250)
@given(st.data())
def test_dict_round_trip_reads_the_same_model(data):
    n_x, n_y = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    d = {"name": data.draw(st.text(max_size=8)), "n_x": n_x, "n_y": n_y,
         "F": _over(data, n_x, n_y), "f": _over(data, n_x, n_y),
         "G": [_over(data, n_x, n_y) for _ in range(data.draw(st.integers(0, 2)))],
         "g": [_over(data, n_x, n_y) for _ in range(data.draw(st.integers(0, 2)))],
         "g_eq": [_over(data, n_x, n_y) for _ in range(data.draw(st.integers(0, 1)))],
         "x_bounds": _bounds(data, n_x), "y_bounds": _bounds(data, n_y),
         "x_integer": data.draw(st.lists(st.booleans(), min_size=n_x, max_size=n_x)),
         "y_integer": data.draw(st.lists(st.booleans(), min_size=n_y, max_size=n_y))}
    try:
        with within():
            p = problem_from_dict(d)
    except BilevelInputError:
        assume(False)
    q = problem_from_dict(json.loads(json.dumps(problem_to_dict(p))))
    assert [(v.lb, v.ub, v.is_integer()) for v in q.x.values()] == \
        [(v.lb, v.ub, v.is_integer()) for v in p.x.values()]
    assert [(v.lb, v.ub, v.is_integer()) for v in q.y.values()] == \
        [(v.lb, v.ub, v.is_integer()) for v in p.y.values()]
    for _ in range(3):
        pt = data.draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=n_x + n_y,
                                max_size=n_x + n_y))
        a, b = _values(p, pt[:n_x], pt[n_x:]), _values(q, pt[:n_x], pt[n_x:])
        assert len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b)), (d, a, b)


# ------------------------------------------------------------------ MPS + AUX reader
MPS_TOKENS = ["1e400", "nan", "inf", "-inf", "1e-400", "0", "-1", "1,5", "1abc", "0x10", "1D2",
              "x", "y", "@VARSBEGIN", "@VARSEND", "@NUMVARS", "@CONSTRSBEGIN", "@NAME", "MARKER",
              "'MARKER'", "'INTORG'", "'INTEND'", "UP", "LO", "FR", "MI", "PL", "BV", "LI", "UI",
              "SC", "FX", "RHS", "RANGES", "BOUNDS", "ROWS", "COLUMNS", "ENDATA", "NAME", "name",
              "OBJSENSE", "MAX", "N", "L", "G", "E", "\x00", "é", "\t", "999999999999", "LC", "LR",
              "LO", "OS", "N", "M", "IC", "*", "#", "@", "-0", "1e308", "x1", "y1", "l1", "R0", "C1"]


def _fixture(stem):
    return (DATA / f"{stem}.mps").read_text(), (DATA / f"{stem}.aux").read_text()


def mutate_text(data, text, tokens=MPS_TOKENS):
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        if not lines:
            break
        k = data.draw(st.integers(0, len(lines) - 1))
        toks = lines[k].split()
        op = data.draw(st.sampled_from(["del", "dup", "swap", "token", "insert", "drop", "append",
                                        "case", "char"]))
        if op == "del":
            del lines[k]
        elif op == "dup":
            lines.insert(k, lines[data.draw(st.integers(0, len(lines) - 1))])
        elif op == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[k], lines[j] = lines[j], lines[k]
        elif op == "token" and toks:
            toks[data.draw(st.integers(0, len(toks) - 1))] = data.draw(st.sampled_from(tokens))
            lines[k] = "    ".join(toks)
        elif op == "insert":
            i = data.draw(st.integers(0, len(lines[k])))
            lines[k] = lines[k][:i] + data.draw(st.sampled_from(tokens)) + lines[k][i:]
        elif op == "drop" and toks:
            del toks[data.draw(st.integers(0, len(toks) - 1))]
            lines[k] = "  ".join(toks)
        elif op == "append":
            lines[k] += " " + data.draw(st.sampled_from(tokens))
        elif op == "case":
            lines[k] = lines[k].lower() if data.draw(st.booleans()) else lines[k].upper()
        elif op == "char":
            i = data.draw(st.integers(0, len(lines[k])))
            lines[k] = lines[k][:i] + data.draw(st.characters(codec="utf-8")) + lines[k][i + 1:]
    return "\n".join(lines) + "\n"


def read_files(mps, aux, binary=False, suffix=".mps"):
    with tempfile.TemporaryDirectory() as tmp:
        m, a = Path(tmp) / f"i{suffix}", Path(tmp) / "i.aux"
        if binary:
            m.write_bytes(mps)
            a.write_bytes(aux)
        else:
            m.write_text(mps, encoding="utf-8")
            a.write_text(aux, encoding="utf-8")
        return read_or_refuse(read_mps_aux, m, a)


@fuzz(300)
@given(st.data())
def test_mutated_mps_and_aux_files_read_or_raise_a_bilevel_error(data):
    mps, aux = _fixture(data.draw(st.sampled_from(FIXTURES)))
    which = data.draw(st.sampled_from(["mps", "aux", "both"]))
    if which != "aux":
        mps = mutate_text(data, mps)
    if which != "mps":
        aux = mutate_text(data, aux)
    p = read_files(mps, aux)
    assert p is None or isinstance(p, bmp.BilevelProblem)


@fuzz(200)
@given(st.data())
def test_byte_mutations_of_mps_and_aux_files_read_or_raise_a_bilevel_error(data):
    mps, aux = (t.encode() for t in _fixture(data.draw(st.sampled_from(FIXTURES))))
    target = data.draw(st.sampled_from(["mps", "aux", "gz"]))
    raw = bytearray(gzip.compress(mps) if target == "gz" else mps if target == "mps" else aux)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        how = data.draw(st.sampled_from(["set", "insert", "truncate"]))
        if how == "set":
            raw[i] = data.draw(st.integers(0, 255))
        elif how == "insert":
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[i:]
            if not raw:
                break
    if target == "aux":
        p = read_files(mps, bytes(raw), binary=True)
    else:
        p = read_files(bytes(raw), aux, binary=True, suffix=".mps.gz" if target == "gz" else ".mps")
    assert p is None or isinstance(p, bmp.BilevelProblem)


AUX_TOKENS = ["@NUMVARS", "@NUMCONSTRS", "@NUMCONSTR", "@VARSBEGIN", "@VARSEND", "@CONSTRSBEGIN",
              "@CONSTRSEND", "@CONSTSBEGIN", "@NAME", "@MPS", "@LP", "@OBJSENSE", "@FOO", "MIN",
              "MAX", "N", "M", "LC", "LR", "LO", "OS", "IC", "IB", "0", "1", "2", "-1", "1.5", "nan",
              "inf", "1e999", "y", "x", "l1", "*", "#", "\n", "\t", " ", "\ufeff", "é", "\x00"]


@fuzz(300)
@given(st.lists(st.sampled_from(AUX_TOKENS), max_size=30))
def test_random_aux_text_reads_or_raises_a_bilevel_error(tokens):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.aux"
        path.write_text(" ".join(tokens), encoding="utf-8")
        aux = read_or_refuse(read_aux, path)
    if aux is not None:
        assert len(aux.lower_vars) == len(aux.lower_obj) or aux.dialect == "keyword"


def _numeric_fields(text):
    """(line index, token index) of every number in COLUMNS, RHS, RANGES and BOUNDS."""
    out, section = [], None
    for k, line in enumerate(text.splitlines()):
        toks = line.split()
        if not toks or line.startswith("*"):
            continue
        if len(toks) == 1 or not line[0].isspace():
            section = toks[0].upper()
            continue
        if section in ("COLUMNS", "RHS", "RANGES", "BOUNDS"):
            out += [(k, i) for i, t in enumerate(toks)
                    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", t)]
    return out


@fuzz(80)
@given(st.data())
def test_a_garbled_number_in_an_mps_file_is_refused_naming_its_line(data):
    stem = data.draw(st.sampled_from(FIXTURES))
    mps, aux = _fixture(stem)
    k, i = data.draw(st.sampled_from(_numeric_fields(mps)))
    lines = mps.splitlines()
    toks = lines[k].split()
    toks[i] = data.draw(st.sampled_from(["{}abc", "{},5", "{}.5.5", "{}D2", "0x{}", "{}e", "{}%",
                                         "{}_0", "{}-"])).format(toks[i].lstrip("+-") or "1")
    lines[k] = "    " + "    ".join(toks)
    with pytest.raises(BilevelInputError, match=f"line {k + 1}\\b"):
        with within():
            with tempfile.TemporaryDirectory() as tmp:
                m, a = Path(tmp) / "i.mps", Path(tmp) / "i.aux"
                m.write_text("\n".join(lines) + "\n")
                a.write_text(aux)
                read_mps_aux(m, a)


def _coefficient(p, row, col):
    """|coefficient| of column ``col`` in row ``row`` (the objective when row is None)."""
    var = dict(zip(p.x_names, p.x.values())) | dict(zip(p.y_names, p.y.values()))
    if row is None:
        body = p.F
    else:
        cons = [c for c in p.G + p.g if c.name in (row, f"{row}.lo", f"{row}.hi")]
        if not cons:
            return 0.0
        body = cons[0].body
    repn = generate_standard_repn(body, compute_values=True)
    return sum(abs(c) for v, c in zip(repn.linear_vars, repn.linear_coefs) if v is var[col])


@fuzz(60)
@given(st.data())
def test_a_valid_number_in_columns_is_read_exactly(data):
    stem = data.draw(st.sampled_from(FIXTURES))
    mps, aux = _fixture(stem)
    lines = mps.splitlines()
    section, entries, objective = None, [], None
    for k, line in enumerate(lines):
        toks = line.split()
        if toks and not line[0].isspace():
            section = toks[0]
        elif section == "ROWS" and toks[0] == "N" and objective is None:
            objective = toks[1]
        elif section == "COLUMNS" and len(toks) == 3 and "MARKER" not in line:
            entries.append(k)
    k = data.draw(st.sampled_from(entries))
    col, row, _ = lines[k].split()
    v = data.draw(st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: abs(v) >= 1e-6))
    text = data.draw(st.sampled_from([repr(v), f"{v:.6e}", f"{v:g}", f"{v:+.3f}"]))
    assume(float(text) != 0)
    lines[k] = f"    {col}    {row}    {text}"
    p = read_files("\n".join(lines) + "\n", aux)
    assert p is not None
    got = _coefficient(p, None if row == objective else row, col)
    assert got == pytest.approx(abs(float(text)), rel=1e-15), (lines[k], got)


README = "bilevel_jump_readme"
X_L1 = "    x         l1        1"


@pytest.mark.parametrize("old, new, needle", [
    # HiGHS switched to its fixed-format parser and looped forever
    ("ROWS\n", "\n", "before the ROWS section"),
    (X_L1, "    x         l1        abc", "'abc' is not a number"),      # read as 0
    (X_L1, "    x         l1        1,5", "'1,5' is not a number"),      # read as 1
    (X_L1, "    x         l1        2D1", "'2D1' is not a number"),      # read as 2
    (X_L1, "    x         l1        1   l2", "a COLUMNS entry is"),      # l2 ignored
    (" UP BND       x         8", " UP BND       zz        8", "names column 'zz'"),  # new column
    (" UP BND       x         8", " UP x  y  8", "a UP bound is"),       # read as y <= 0
    (" UP BND       x         8", " UP BND       x         8   9", "a UP bound is"),  # 9 ignored
    (" UP BND       x         8", " LI BND       x         2.5", "not an integer"),
    ("    y         F         3", "    y         F         3\n    x         l3        1",
     "appears again"),                                                   # a second column x
    (" L  l1", " L  l1\n L  l1", "declared twice"),                      # names dropped
    ("ROWS\n", "OBJSENSE\n    MXA\nROWS\n", "OBJSENSE must be MIN or MAX"),  # read as MIN
    ("ROWS\n", "OBJSENSE MAXIMUM\nROWS\n", "OBJSENSE must be MIN or MAX"),  # read as MIN
])
def test_mps_files_that_hung_or_were_misread_are_refused_by_line(old, new, needle):
    mps, aux = _fixture(README)
    assert old in mps
    with tempfile.TemporaryDirectory() as tmp:
        m, a = Path(tmp) / "i.mps", Path(tmp) / "i.aux"
        m.write_text(mps.replace(old, new, 1))
        a.write_text(aux)
        with pytest.raises(BilevelInputError, match=needle):
            with within():
                read_mps_aux(m, a)


def test_a_name_that_is_not_utf8_is_refused_by_line(tmp_path):
    mps, aux = _fixture(README)  # UnicodeDecodeError when HiGHS's names reached Python
    (tmp_path / "i.mps").write_bytes(mps.encode().replace(b"    x         l1", b"    x\x80        l1"))
    (tmp_path / "i.aux").write_text(aux)
    with pytest.raises(BilevelInputError, match=r"line 13: byte 0x80 is not UTF-8"):
        read_mps_aux(tmp_path / "i.mps", tmp_path / "i.aux")


def test_a_column_or_row_named_like_a_keyword_is_refused_or_renamed(tmp_path):
    mps, aux = _fixture(README)  # HiGHS read a column 'name' as the NAME line: its entries vanished
    (tmp_path / "i.mps").write_text(mps.replace("    y    ", "    name ").replace("BND       y", "BND       name"))
    (tmp_path / "i.aux").write_text(aux.replace("y -1", "name -1"))
    with pytest.raises(BilevelInputError, match="NAME keyword"):
        read_mps_aux(tmp_path / "i.mps", tmp_path / "i.aux")
    p = bmp.BilevelProblem(1, 2, y_names=["OBJSENSE", "name"])  # the writer renames them
    p.set_upper(p.x[0] + 2 * p.y[0] + p.y[1])
    p.set_lower(3 * p.y[0] - p.y[1], [p.y[0] - p.x[0] >= 0])
    q = read_mps_aux(*write_mps_aux(p, tmp_path / "w.mps"))
    p.set_point([1.0], [2.0, 3.0])
    q.set_point([1.0], [2.0, 3.0])
    assert (pyo.value(q.F), pyo.value(q.f)) == (pyo.value(p.F), pyo.value(p.f)) == (8.0, 3.0)


def test_an_integer_column_without_entries_stays_integer(tmp_path):
    p = bmp.BilevelProblem(1, 1, x_integer=[True], x_bounds=[(None, None)])  # HiGHS's writer
    p.set_upper(p.y[0])                                                      # dropped its MARKER
    p.set_lower(p.y[0])
    q = read_mps_aux(*write_mps_aux(p, tmp_path / "w.mps"))
    assert q.x[0].is_integer() and (q.x[0].lb, q.x[0].ub) == (None, None)


# ------------------------------------------------------------------ MPS + AUX round trip
NAME_CHARS = st.sampled_from(list("abxyz019_.[]()-+*#@$'\" \té") + ["RHS", "NAME", "OBJSENSE", "BOUND",
                                                                   "BND", "OBJ", "MARKER", "\x00"])
names = st.lists(NAME_CHARS, max_size=5).map("".join)
coefs = st.one_of(st.integers(-9, 9), st.floats(-1e3, 1e3, allow_nan=False)).filter(lambda c: abs(c) >= 1e-6)


def _linear(data, variables, constant=True):
    terms = data.draw(st.lists(st.tuples(coefs, st.sampled_from(variables)), min_size=1, max_size=4))
    body = sum((c * v for c, v in terms), data.draw(st.integers(-5, 5)) if constant else 0)
    return body, generate_standard_repn(body).linear_vars


def _random_linear_problem(data):
    n_x, n_y = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    xb = [data.draw(st.tuples(st.none() | st.integers(-4, 0), st.none() | st.integers(1, 6)))
          for _ in range(n_x)]
    yb = [data.draw(st.tuples(st.none() | st.integers(-4, 0), st.none() | st.integers(1, 6)))
          for _ in range(n_y)]
    p = bmp.BilevelProblem(n_x, n_y, name=data.draw(names), x_bounds=xb, y_bounds=yb,
                           x_integer=data.draw(st.lists(st.booleans(), min_size=n_x, max_size=n_x)),
                           x_names=[data.draw(names) for _ in range(n_x)],
                           y_names=[data.draw(names) for _ in range(n_y)])
    xs, ys = list(p.x.values()), list(p.y.values())
    cons = {"G": [], "g": []}
    for level in ("G", "g"):
        for k in range(data.draw(st.integers(0, 3))):
            body, used = _linear(data, xs + ys)
            if not used:  # the terms cancel: a constant row, which the writer leaves out
                continue
            cons[level].append(Constraint(data.draw(names) or f"{level}{k}", body,
                                          data.draw(st.sampled_from(["ge", "eq"]))))
    F, _ = _linear(data, xs + ys)
    f, _ = _linear(data, ys, constant=False)  # the AUX format holds no constant for f
    p.set_upper(F, cons["G"], sense=data.draw(st.sampled_from(["min", "max"])))
    p.set_lower(f, cons["g"], sense=data.draw(st.sampled_from(["min", "max"])))
    return p


@fuzz(200)
@given(st.data())
def test_mps_aux_write_then_read_gives_the_same_model(data):
    p = _random_linear_problem(data)
    dialect = data.draw(st.sampled_from(["keyword", "legacy"]))
    with tempfile.TemporaryDirectory() as tmp:
        with within():
            m, a = write_mps_aux(p, Path(tmp) / "w.mps", dialect=dialect)
            q = read_mps_aux(m, a)
    assert (q.n_x, q.n_y, len(q.G), len(q.g)) == (p.n_x, p.n_y, len(p.G), len(p.g))
    assert [c.kind for c in q.G + q.g] == [c.kind for c in p.G + p.g]
    for a_vars, b_vars in ((p.x, q.x), (p.y, q.y)):
        assert [(v.lb, v.ub, v.is_integer()) for v in b_vars.values()] == \
            [(v.lb, v.ub, v.is_integer()) for v in a_vars.values()]
    for k, nm in enumerate(p.x_names + p.y_names):  # plain names are kept as written
        if re.fullmatch(r"[a-z][a-z0-9_]*", nm) and (p.x_names + p.y_names).count(nm) == 1:
            assert (q.x_names + q.y_names)[k] == nm
    for _ in range(3):
        pt = data.draw(st.lists(st.floats(-5, 5, allow_nan=False), min_size=p.n_x + p.n_y,
                                max_size=p.n_x + p.n_y))
        a, b = _values(p, pt[:p.n_x], pt[p.n_x:]), _values(q, pt[:p.n_x], pt[p.n_x:])
        assert all(_same(u, v) for u, v in zip(a, b)), (a, b)


@fuzz(30)
@given(st.sampled_from([1e-12, -3e-10, 1e-300, 2e15, -1e16]), st.booleans())
def test_a_coefficient_highs_would_drop_is_refused_when_written_and_read(c, in_upper):
    p = bmp.BilevelProblem(1, 1)
    x, y = p.x[0], p.y[0]
    p.set_upper(x + y, [c * x + y >= 1] if in_upper else [])
    p.set_lower(y, [] if in_upper else [c * x + y >= 1])
    with tempfile.TemporaryDirectory() as tmp:
        with pytest.raises(BilevelInputError, match="coefficient"):
            write_mps_aux(p, Path(tmp) / "w.mps")
        mps, aux = _fixture("bilevel_jump_readme")
        mps = mps.replace("    x         l1        1", f"    x         l1        {c!r}")
        assert read_files(mps, aux) is None
