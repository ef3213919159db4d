"""Families and independent references of ``benchmarks/integer_fuzz.py`` (see its docstring):
random bilevel problems with integer followers generated with numpy, built through
``BilevelProblem`` (``to_problem``), and their data as arrays (``Data``) for the
reference computations and the independent check of returned points."""

from __future__ import annotations

import math

import numpy as np

from bilevel_mp import BilevelProblem
from bilevel_mp.library.knapsack_interdiction import knapsack_interdiction
from integer_fuzz_truth import Data

WEIGHTS = {"general": 0.3, "interdiction": 0.2, "continuous_x": 0.15, "mixed": 0.15, "infeasible": 0.2}
FAMILY_ID = {f: k + 1 for k, f in enumerate(WEIGHTS)}
CATEGORIES = ("correct", "feasible", "WRONG", "beats", "traceback", "n/a", "refused", "none", "killed")
ENUM_MAX_POINTS = 2 ** 25


def rel_tol(family: str) -> float:
    return 1e-5 if family in ("mixed", "continuous_x") else 1e-6


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * (1 + abs(b))


# ========================================================================= instances
# An instance is a plain dict (picklable, JSON-able):
#   n_x, n_y, xb, yb (lists of (lo, hi)), x_int, y_int (lists of bool),
#   F = [cx, cy, c0] and f = [dx, dy, d0] in the user's senses upper_sense / lower_sense,
#   G, g = lists of rows [ax, ay, b, kind]: ax·x + ay·y <= b (kind "le") or == b ("eq"),
#   builder: None, or ["knapsack", kwargs] (the problem is built by the library).

def _ints(rng, lo, hi, size):
    return [int(v) for v in rng.integers(lo, hi + 1, size)]


def _nonzero(rng, lo, hi, size):
    v = _ints(rng, lo, hi, size)
    if not any(v):
        v[int(rng.integers(size))] = int(rng.choice([k for k in range(lo, hi + 1) if k != 0]))
    return v


def _sense(rng):
    return "max" if rng.random() < 0.5 else "min"


def _inst(family, seed, variant, n_x, n_y, xb, yb, x_int, y_int, F, upper_sense, f, lower_sense, G, g,
          builder=None):
    return {"family": family, "seed": seed, "variant": variant, "n_x": n_x, "n_y": n_y,
            "xb": [list(map(float, b)) for b in xb], "yb": [list(map(float, b)) for b in yb],
            "x_int": list(map(bool, x_int)), "y_int": list(map(bool, y_int)), "F": F,
            "upper_sense": upper_sense, "f": f, "lower_sense": lower_sense, "G": G, "g": g,
            "builder": builder}


def _random_point(rng, boxes):
    return np.array([rng.integers(int(lo), int(hi) + 1) for lo, hi in boxes], dtype=float)


def gen_general(rng, family="general", seed=0):
    n_x, n_y = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    shifted = rng.random() < 0.1

    def box():
        hi = int(rng.choice([2, 3]))
        return (-1, hi - 1) if shifted and rng.random() < 0.5 else (0, hi)

    xb, yb = [box() for _ in range(n_x)], [box() for _ in range(n_y)]
    m = int(rng.integers(1, 5))
    g = []
    for k in range(m):
        ax = _ints(rng, -4, 4, n_x)
        if k == 0 and not any(ax):  # x enters the follower's rows
            ax[int(rng.integers(n_x))] = int(rng.choice([-2, -1, 1, 2, 3]))
        ay = _nonzero(rng, -4, 4, n_y)
        if k == m - 1 and m > 1 and rng.random() < 0.1:  # an equality, met at a random point
            x0, y0 = _random_point(rng, xb), _random_point(rng, yb)
            g.append([ax, ay, int(np.dot(ax, x0) + np.dot(ay, y0)), "eq"])
            continue
        b = int(rng.integers(0, 10)) + sum(max(a, 0) * int(hi) for a, (_, hi) in zip(ay, yb)) // 2
        if rng.random() < 0.1:  # a fractional constant: the strict step of the cut is below 1
            ay, b = [0.5 * a for a in ay], b / 2 + 0.25
        g.append([ax, ay, b, "le"])
    dx = _ints(rng, -3, 3, n_x) if rng.random() < 0.3 else [0] * n_x
    dy = _ints(rng, -5, 5, n_y)
    if not any(dy) and not any(dx):
        dy = _nonzero(rng, -5, 5, n_y)
    cx, cy = _ints(rng, -5, 5, n_x), _ints(rng, -5, 5, n_y)
    if not any(cx) and not any(cy):
        cy = _nonzero(rng, -5, 5, n_y)
    G = []
    for _ in range(int(rng.integers(0, 3))):
        x0, y0 = _random_point(rng, xb), _random_point(rng, yb)
        if rng.random() < 0.5:  # on x alone
            ax, ay = _nonzero(rng, -3, 3, n_x), [0] * n_y
        else:  # coupling
            ax, ay = _ints(rng, -3, 3, n_x), _nonzero(rng, -3, 3, n_y)
        G.append([ax, ay, int(np.dot(ax, x0) + np.dot(ay, y0)) + int(rng.integers(0, 3)), "le"])
    return _inst(family, seed, "general", n_x, n_y, xb, yb, [True] * n_x, [True] * n_y,
                 [cx, cy, 0], _sense(rng), [dx, dy, 0], _sense(rng), G, g)


def gen_knapsack_library(rng, family="interdiction", seed=0):
    n = int(rng.integers(4, 13))
    kwargs = {"n_items": n, "seed": int(rng.integers(0, 10 ** 6)),
              "value_range": [1, int(rng.choice([10, 30, 100]))],
              "budget_fraction": round(float(rng.uniform(0.15, 0.7)), 3),
              "capacity_fraction": round(float(rng.uniform(0.25, 0.75)), 3)}
    p = knapsack_interdiction(**kwargs)
    d = p.meta["knapsack_interdiction"]
    eye = np.eye(n, dtype=int)
    g = [[[0] * n, list(d.weights), d.capacity, "le"]]
    g += [[eye[i].tolist(), eye[i].tolist(), 1, "le"] for i in range(n)]  # y_i <= 1 - x_i
    G = [[list(d.interdiction_costs), [0] * n, d.budget, "le"]]
    return _inst(family, seed, "knapsack_library", n, n, [(0, 1)] * n, [(0, 1)] * n, [True] * n, [True] * n,
                 [[0] * n, list(d.profits), 0], "min", [[0] * n, list(d.profits), 0], "max", G, g,
                 builder=["knapsack", kwargs])


def gen_blocking(rng, family="interdiction", seed=0, continuous=0, max_x=6, max_y=6):
    """Hand-built follower with the blocking structure: y_j <= r_j (1 - x_i(j)), packing rows
    a·y <= b (a >= 0), profits; ``continuous`` of the y (the last ones) continuous."""
    n_x, n_y = int(rng.integers(2, max_x + 1)), int(rng.integers(2, max_y + 1))
    n_y = max(n_y, continuous + 1)  # some y integer
    binary_y = rng.random() < 0.4
    u = [1 if binary_y else int(rng.integers(1, 4)) for _ in range(n_y)]
    y_int = [j < n_y - continuous for j in range(n_y)]
    yb = [(0, u[j] if y_int[j] else float(rng.choice([1.0, 1.5, 2.0, 2.5]))) for j in range(n_y)]
    blocked = [int(rng.integers(n_x)) if rng.random() < 0.85 else None for _ in range(n_y)]
    if all(b is None for b in blocked):
        blocked[0] = 0
    g = []
    for j, i in enumerate(blocked):
        if i is None:
            continue
        r = yb[j][1] if rng.random() < 0.8 else max(1, int(rng.integers(1, int(math.ceil(yb[j][1])) + 1)))
        scale = int(rng.choice([1, 1, 2]))  # 2 y_j <= 2 r (1 - x_i) too
        ax, ay = [0] * n_x, [0] * n_y
        ax[i], ay[j] = scale * r, scale
        g.append([ax, ay, scale * r, "le"])
    for _ in range(int(rng.integers(1, 4))):
        w = _ints(rng, 0, 9, n_y)
        if not any(w):
            w[int(rng.integers(n_y))] = int(rng.integers(1, 10))
        cap = int(math.ceil(rng.uniform(0.3, 0.7) * sum(wj * yb[j][1] for j, wj in enumerate(w))))
        g.append([[0] * n_x, w, cap, "le"])
    profit = _ints(rng, 1, 20, n_y)
    if rng.random() < 0.2:
        profit[int(rng.integers(n_y))] *= -1  # an item the follower does not want
    dx = _ints(rng, -3, 3, n_x) if rng.random() < 0.3 else [0] * n_x
    if rng.random() < 0.7:
        f, lower_sense = [dx, profit, 0], "max"
    else:
        f, lower_sense = [[-a for a in dx], [-a for a in profit], 0], "min"
    if rng.random() < 0.2:  # the leader minimises the follower's profit (plus costs)
        F, upper_sense = [_ints(rng, 0, 3, n_x), list(profit), 0], "min"
    else:
        cx, cy = _ints(rng, -6, 6, n_x), _nonzero(rng, -6, 6, n_y)
        F, upper_sense = [cx, cy, 0], _sense(rng)
    cost = _ints(rng, 1, 5, n_x)
    G = [[cost, [0] * n_y, int(math.ceil(rng.uniform(0.2, 0.7) * sum(cost))), "le"]]
    if rng.random() < 0.3:  # a coupling row on y
        if rng.random() < 0.5:
            G.append([[0] * n_x, [-1] * n_y, -1, "le"])  # take something
        else:
            a = _nonzero(rng, 0, 3, n_y)
            G.append([[0] * n_x, a, int(sum(a) * float(np.mean([b for _, b in yb])) // 2), "le"])
    return _inst(family, seed, "blocking" + ("_mixed" if continuous else ""), n_x, n_y, [(0, 1)] * n_x, yb,
                 [True] * n_x, y_int, F, upper_sense, f, lower_sense, G, g)


def gen_interdiction(rng, family="interdiction", seed=0):
    return gen_knapsack_library(rng, family, seed) if rng.random() < 0.4 else gen_blocking(rng, family, seed)


def gen_continuous_x(rng, family="continuous_x", seed=0):
    lo = float(rng.choice([0.0, -1.0]))
    hi = lo + float(rng.choice([2.0, 3.0, 4.0]))
    n_y = int(rng.integers(1, 3))
    yb = [(0, int(rng.choice([2, 3]))) for _ in range(n_y)]
    steps = [-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2, 3]
    g = []
    for k in range(int(rng.integers(1, 4))):
        ax = float(rng.choice(steps)) if rng.random() < 0.7 else round(float(rng.uniform(-3, 3)), 2)
        if k > 0 and rng.random() < 0.25:
            ax = 0.0
        ay = _nonzero(rng, -3, 3, n_y)
        b = int(rng.integers(0, 7)) + sum(max(a, 0) for a in ay)
        g.append([[ax], ay, b, "le"])
    dy = _nonzero(rng, -4, 4, n_y)
    cx, cy = [round(float(rng.uniform(-3, 3)), 1)], _ints(rng, -4, 4, n_y)
    G = []
    if rng.random() < 0.4:
        if rng.random() < 0.5:
            G.append([[1.0], [0] * n_y, round(float(rng.uniform(lo + 0.5, hi)), 2), "le"])
        else:
            ay = _nonzero(rng, -2, 2, n_y)
            y0 = _random_point(rng, yb)
            G.append([[float(rng.choice([-1.0, 0.0, 1.0]))], ay, int(np.dot(ay, y0)) + int(rng.integers(0, 3)),
                      "le"])
    return _inst(family, seed, "continuous_x", 1, n_y, [(lo, hi)], yb, [False], [True] * n_y,
                 [cx, cy, 0], _sense(rng), [[0.0], dy, 0], _sense(rng), G, g)


def gen_mixed(rng, family="mixed", seed=0):
    if rng.random() < 0.3:
        n_c = int(rng.integers(1, 3))
        inst = gen_blocking(rng, family, seed, continuous=n_c, max_x=4, max_y=2 + n_c)
        return inst
    n_x, n_I, n_C = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
    n_y = n_I + n_C
    xb = [(0, int(rng.choice([2, 3]))) for _ in range(n_x)]
    yb = [(0, int(rng.choice([2, 3]))) for _ in range(n_I)] + \
         [(0, float(rng.choice([1.0, 1.5, 2.0, 3.0]))) for _ in range(n_C)]
    g = []
    for _ in range(int(rng.integers(2, 4))):
        ax, ay = _ints(rng, -3, 3, n_x), _nonzero(rng, -3, 3, n_y)
        if rng.random() < 0.2:  # half-integer coefficients on the continuous y
            ay = ay[:n_I] + [a / 2 for a in ay[n_I:]]
        g.append([ax, ay, int(rng.integers(2, 10)), "le"])
    if rng.random() < 0.15:  # an equality, met at a random point
        ax, ay = _ints(rng, -2, 2, n_x), _nonzero(rng, -2, 2, n_y)
        x0, yI0 = _random_point(rng, xb), _random_point(rng, yb[:n_I])
        yC0 = np.array([float(rng.choice([0.0, 0.5, 1.0])) for _ in range(n_C)])
        g.append([ax, ay, float(np.dot(ax, x0) + np.dot(ay, np.concatenate([yI0, yC0]))), "eq"])
    dx = _ints(rng, -3, 3, n_x) if rng.random() < 0.3 else [0] * n_x
    dy = _nonzero(rng, -4, 4, n_y)
    cx, cy = _ints(rng, -4, 4, n_x), _nonzero(rng, -4, 4, n_y)
    G = []
    if rng.random() < 0.4:
        x0 = _random_point(rng, xb)
        if rng.random() < 0.5:
            ax, ay = _nonzero(rng, -2, 2, n_x), [0] * n_y
        else:
            ax, ay = _ints(rng, -2, 2, n_x), _nonzero(rng, -2, 2, n_y)
        G.append([ax, ay, int(np.dot(ax, x0)) + int(rng.integers(0, 4)), "le"])
    return _inst(family, seed, "mixed", n_x, n_y, xb, yb, [True] * n_x, [True] * n_I + [False] * n_C,
                 [cx, cy, 0], _sense(rng), [dx, dy, 0], _sense(rng), G, g)


def gen_infeasible(rng, family="infeasible", seed=0):
    u = rng.random()
    if u < 0.5:
        base = gen_general(rng, family, seed)
    elif u < 0.75:
        base = gen_blocking(rng, family, seed, max_x=5, max_y=5)
    else:
        base = gen_mixed(rng, family, seed)
    D = Data(base)
    integer_y = np.array(base["y_int"])
    opt = D.follower_optima()  # (x, y_I values of every follower optimum), over every allowed x
    last, hpr = None, False
    for _ in range(20):
        c = np.array(_nonzero(rng, -2, 2, base["n_y"])) * integer_y
        if not c.any():
            c = integer_y.astype(int)
        if not opt:
            m = 0  # no follower optimum anywhere: already infeasible
        else:
            m = int(round(min(float(c @ y) for _, y in opt)))
        row = [[0] * base["n_x"], [int(v) for v in c], m - 1, "le"]
        last = row
        if D.hpr_feasible_with(row):
            hpr = True
            break
    base["G"] = base["G"] + [last]
    base["variant"] = "infeasible_" + base["variant"] + ("" if hpr else "_hpr_infeasible")
    return base


GENERATORS = {"general": gen_general, "interdiction": gen_interdiction, "continuous_x": gen_continuous_x,
              "mixed": gen_mixed, "infeasible": gen_infeasible}


def instance(family: str, seed: int) -> dict:
    rng = np.random.default_rng([FAMILY_ID[family], seed])
    return GENERATORS[family](rng, family, seed)


def to_problem(inst: dict) -> BilevelProblem:
    """The ``BilevelProblem`` of an instance (the library's builder where it has one)."""
    if inst.get("builder"):
        kind, kwargs = inst["builder"]
        assert kind == "knapsack"
        return knapsack_interdiction(**kwargs, name=f"{inst['family']}_{inst['seed']}")
    p = BilevelProblem(inst["n_x"], inst["n_y"], name=f"{inst['family']}_{inst['seed']}",
                       x_bounds=[tuple(b) for b in inst["xb"]], y_bounds=[tuple(b) for b in inst["yb"]],
                       x_integer=inst["x_int"], y_integer=inst["y_int"])
    x, y = p.x, p.y

    def lin(ax, ay, c0=0):
        terms = [float(a) * x[i] for i, a in enumerate(ax) if a] + [float(a) * y[j] for j, a in enumerate(ay) if a]
        if not terms:  # an all-zero objective (the leader is indifferent): a constant
            return float(c0)
        expr = terms[0]
        for t in terms[1:]:
            expr = expr + t
        return expr + float(c0) if c0 else expr

    def rows(rs):
        return [lin(ax, ay) <= float(b) if kind == "le" else lin(ax, ay) == float(b) for ax, ay, b, kind in rs]

    p.set_upper(lin(*inst["F"]), rows(inst["G"]), sense=inst["upper_sense"])
    p.set_lower(lin(*inst["f"]), rows(inst["g"]), sense=inst["lower_sense"])
    return p
