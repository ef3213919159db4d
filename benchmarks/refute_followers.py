"""Try to refute the certificates of a bench run by an independent follower re-solve.

    python benchmarks/refute_followers.py RECORDS.json PROBLEMS.json [--starts 40]

For every answer of ``bilevel-mp bench --json RECORDS.json`` that carries a point, the
follower's problem at the returned x is re-solved without the product's solvers: scipy's
SLSQP from ``--starts`` random starts in the follower's box (±10 around the returned y
where unbounded), plus the returned y itself. An answer is *refuted* when some start finds
a y' feasible to 1e-7 with f(x, y') < f(x, y) − 1e-6·max(1, |f(x, y)|): the returned y
is not the follower's response. A local multi-start search cannot prove a certificate
right, only wrong; it is the independent check issue 14 asks for.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import warnings

import numpy as np
import pyomo.environ as pyo
from scipy.optimize import minimize

from bilevel_mp.frontends.expr import problem_from_dict

FEAS = 1e-7
REL = 1e-6


def _follower(problem, x):
    """f(x, ·), the follower's constraint functions (each >= 0 or == 0) and its box."""
    problem.set_point(x=x)
    ys = list(problem.y)
    lower = [c for c in problem.g] + problem.y_bound_constraints()

    def at(y, expr):
        for v, val in zip(ys, y):
            v.set_value(float(val), skip_validation=True)
        try:
            return float(pyo.value(expr))
        except (OverflowError, ValueError, ZeroDivisionError):  # outside the domain: not a witness
            return math.nan

    box = [(v.lb, v.ub) for v in ys]
    return (lambda y: at(y, problem.f)), [(c.kind, (lambda y, b=c.body: at(y, b))) for c in lower], box


def refute(problem, x, y, starts: int, rng) -> tuple[bool, float, float]:
    """(refuted, f at the returned y, best f found) for the follower at x (min form)."""
    f, cons, box = _follower(problem, x)
    y = np.asarray(y, dtype=float)
    f_ret = f(y)
    lo = np.array([yj - 10 if b[0] is None else b[0] for yj, b in zip(y, box)])
    hi = np.array([yj + 10 if b[1] is None else b[1] for yj, b in zip(y, box)])
    constraints = [{"type": "ineq" if kind == "ge" else "eq", "fun": fn} for kind, fn in cons]
    best = f_ret
    for k in range(starts + 1):
        y0 = y if k == 0 else lo + (hi - lo) * rng.random(y.size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = minimize(f, y0, method="SLSQP", constraints=constraints,
                               options={"maxiter": 300, "ftol": 1e-12})
            except (ValueError, OverflowError, ZeroDivisionError):
                continue
        yk = res.x
        gaps = [(-fn(yk) if kind == "ge" else abs(fn(yk))) for kind, fn in cons]
        viol = math.inf if any(math.isnan(g) for g in gaps) else max([0.0] + gaps)
        fk = f(yk)
        if viol <= FEAS * max(1.0, float(np.abs(yk).max(initial=0.0))) and math.isfinite(fk):
            best = min(best, fk)
    return best < f_ret - REL * max(1.0, abs(f_ret)), f_ret, best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("records")
    ap.add_argument("problems")
    ap.add_argument("--starts", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.getLogger("pyomo").setLevel(logging.CRITICAL)  # domain errors are handled above
    records = json.load(open(args.records))
    entries = {e["name"]: e for e in json.load(open(args.problems))}
    rng = np.random.default_rng(args.seed)
    checked = refuted = 0
    for r in records:
        if r.get("x") is None or r.get("y") is None or r["name"] not in entries:
            continue
        p = problem_from_dict(entries[r["name"]])
        bad, f_ret, best = refute(p, r["x"], r["y"], args.starts, rng)
        checked += 1
        if bad:
            refuted += 1
            print(f"REFUTED {r['name']} ({r['status']}): f(x, y) = {f_ret:.10g}, found {best:.10g}")
    print(f"checked {checked} answers, refuted {refuted} "
          f"({sum(1 for r in records if r.get('status') == 'optimal')} reported optimal)")
    return 1 if refuted else 0


if __name__ == "__main__":
    sys.exit(main())
