"""Scaling of the OR models on k-by-k grid networks: time to a proven optimum by size
and by reformulation mode.

    python benchmarks/or_scaling.py                         # default sizes, 60 s limit
    python benchmarks/or_scaling.py --models toll --k 3 4 6 # a subset

Models (seeded random integer costs, ``seed`` 0):

    interdiction   shortest-path interdiction (Israeli & Wood 2002), top-left to
                   bottom-right corner, budget ``--budget`` arcs (default 3), lengths
                   1..10, interdiction delays 5..20 (``grid_interdiction_network``)
    toll           toll setting (Labbé, Marcotte & Savard 1998), 30% of the interior
                   arcs tollable, 2 commodities between opposite corners, the outer ring
                   toll-free (``toll.grid_network``)
    max_flow       max-flow interdiction (Wood 1993), a source feeding the left column and
                   a sink fed by the right one, capacities 1..20, budget ``--budget`` grid
                   arcs (``grid_max_flow_network``)
    pricing        Stackelberg pricing (Labbé, Marcotte & Savard's seller-buyer model),
                   ``k`` products, half of them the seller's (``pricing.random_pricing``);
                   "k" is the number of products here, not a grid

toll and pricing in their default ``formulation="linear"`` (the leader's objective written
through the follower's LP duality). Modes, each ``bilevel_mp.solve`` in a fresh process:

    kkt-sos1          method="kkt", mode="sos1"          (SCIP)
    kkt-indicator     method="kkt", mode="indicator"     (SCIP)
    strong_duality    method="strong_duality"            (SCIP)
    auto              method="auto" (the method it picked is recorded)
    iw-milp-highs     reference, interdiction only: Israeli & Wood's single-level MILP
                      (the follower dualised by hand, no bilevel_mp) solved by HiGHS
    cut-milp-highs    reference, max_flow only: Wood's min-cut MILP (min the capacity of
                      the uninterdicted arcs of an s-t cut), no bilevel_mp, HiGHS

A run counts as solved when it is proven optimal, certified, and its whole wall time
(building the model, bound tightening, solve, certificate) is within the limit. A mode
stops at its first unsolved size. Solved runs of one instance must agree on the
optimum (revenue t·y, or path length; checked and reported). Note that ``time_limit``
bounds the single-level solve, not the bound tightening before it, so a run can
overrun; it is killed 60 s past the limit. Prints a markdown table, writes ``results/or_scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bilevel_mp import bench  # noqa: E402

MODELS = ("interdiction", "toll", "max_flow", "pricing")
MODES = ("kkt-sos1", "kkt-indicator", "strong_duality", "auto")
REFERENCES = {"interdiction": "iw-milp-highs", "max_flow": "cut-milp-highs"}
DEFAULT_K = {"interdiction": (3, 4, 5, 6, 7, 8, 10, 12, 14), "toll": (4, 6, 8, 10, 12, 14),
             "max_flow": (3, 4, 5, 6, 8, 10, 12), "pricing": (16, 32, 64, 128, 256)}
SOLVE_ARGS = {
    "kkt-sos1": dict(method="kkt", mode="sos1"),
    "kkt-indicator": dict(method="kkt", mode="indicator"),
    "strong_duality": dict(method="strong_duality"),
    "auto": dict(method="auto"),
}


def build(model: str, k: int, seed: int, budget: int):
    """The bilevel problem of one instance."""
    if model == "interdiction":
        from bilevel_mp.library.interdiction import grid_interdiction_network, shortest_path_interdiction

        arcs, s, t = grid_interdiction_network(k, seed=seed)
        return shortest_path_interdiction(arcs, s, t, budget, name=f"spi_grid{k}")
    if model == "max_flow":
        from bilevel_mp.library.interdiction import grid_max_flow_network, max_flow_interdiction

        arcs, s, t, hit = grid_max_flow_network(k, seed=seed)
        return max_flow_interdiction(arcs, s, t, budget, interdictable=hit, name=f"mfi_grid{k}")
    if model == "pricing":
        from bilevel_mp.library.pricing import random_pricing, stackelberg_pricing

        requirements, products = random_pricing(k, seed=seed)
        return stackelberg_pricing(requirements, products, name=f"pricing{k}")
    from bilevel_mp.library.toll import grid_network, toll_setting

    arcs, tolled, commodities = grid_network(k, seed=seed)
    return toll_setting(arcs, commodities, tolled, name=f"toll_grid{k}")


def israeli_wood_milp(k: int, seed: int, budget: int, time_limit: float) -> dict:
    """Reference: max u_t s.t. u_j - u_i <= c_a + d_a x_a, u_s = 0, sum x <= R, x binary
    (Israeli & Wood 2002's dualised single-level model), HiGHS through Pyomo."""
    import pyomo.environ as pyo

    from bilevel_mp.library.interdiction import grid_interdiction_network

    arcs, s, t = grid_interdiction_network(k, seed=seed)
    m = pyo.ConcreteModel()
    nodes = sorted({a[0] for a in arcs} | {a[1] for a in arcs})
    m.x = pyo.Var(range(len(arcs)), domain=pyo.Binary)
    m.u = pyo.Var(nodes, bounds=(0, None))
    m.u[s].fix(0)
    m.rows = pyo.ConstraintList()
    for n, (i, j, c, d) in enumerate(arcs):
        m.rows.add(m.u[j] - m.u[i] <= c + d * m.x[n])
    m.rows.add(sum(m.x.values()) <= budget)
    m.obj = pyo.Objective(expr=m.u[t], sense=pyo.maximize)
    return _highs(m, time_limit, n_x=len(arcs) + len(nodes))


def min_cut_milp(k: int, seed: int, budget: int, time_limit: float) -> dict:
    """Reference: min sum u_a beta_a s.t. alpha_i - alpha_j + beta_a + gamma_a >= 0 on every
    arc (i, j), alpha_s = 0, alpha_t = 1, sum gamma <= R, gamma_a = 0 off the grid, all
    binary (Wood 1993's single-level model of max-flow interdiction), HiGHS."""
    import pyomo.environ as pyo

    from bilevel_mp.library.interdiction import grid_max_flow_network

    arcs, s, t, hit = grid_max_flow_network(k, seed=seed)
    hit = set(hit)
    m = pyo.ConcreteModel()
    nodes = sorted({a[0] for a in arcs} | {a[1] for a in arcs}, key=str)
    m.alpha = pyo.Var(range(len(nodes)), domain=pyo.Binary)
    idx = {v: n for n, v in enumerate(nodes)}
    m.beta = pyo.Var(range(len(arcs)), domain=pyo.Binary)
    m.gamma = pyo.Var(range(len(arcs)), domain=pyo.Binary)
    m.alpha[idx[s]].fix(0)
    m.alpha[idx[t]].fix(1)
    m.rows = pyo.ConstraintList()
    for n, (i, j, _) in enumerate(arcs):
        m.rows.add(m.alpha[idx[i]] - m.alpha[idx[j]] + m.beta[n] + m.gamma[n] >= 0)
        if (i, j) not in hit:
            m.gamma[n].fix(0)
    m.rows.add(sum(m.gamma.values()) <= budget)
    m.obj = pyo.Objective(expr=sum(u * m.beta[n] for n, (_, _, u) in enumerate(arcs)))
    return _highs(m, time_limit, n_x=3 * len(arcs) + len(nodes))


def _highs(m, time_limit: float, n_x: int) -> dict:
    """Solve a reference MILP with HiGHS (Pyomo's appsi interface)."""
    from pyomo.contrib.appsi.solvers import Highs

    opt = Highs()
    opt.config.time_limit = time_limit
    opt.config.load_solution = False
    res = opt.solve(m)
    tc = str(res.termination_condition)
    optimal = tc.endswith("optimal")
    F = res.best_feasible_objective if res.best_feasible_objective is not None else None
    return dict(status="optimal" if optimal else tc, F=F, bound=res.best_objective_bound,
                certified=False, method="highs-milp", n_x=n_x, n_y=0)


REFERENCE_MODELS = {"iw-milp-highs": israeli_wood_milp, "cut-milp-highs": min_cut_milp}


def run_one(model: str, k: int, mode: str, seed: int, budget: int, time_limit: float) -> dict:
    """One instance, one mode (inside a worker process); seconds = whole wall time."""
    t0 = time.perf_counter()
    base = dict(model=model, k=k, mode=mode, seed=seed)
    try:
        if mode in REFERENCE_MODELS:
            rec = REFERENCE_MODELS[mode](k, seed, budget, time_limit)
            return {**base, **rec, "value": rec["F"], "seconds": time.perf_counter() - t0, "message": ""}
        import bilevel_mp as bmp

        p = build(model, k, seed, budget)
        r = bmp.solve(p, time_limit=time_limit, **SOLVE_ARGS[mode])
    except Exception as exc:  # a crash is a result too
        return {**base, "status": "exception", "F": None, "bound": None, "certified": False,
                "method": "", "seconds": time.perf_counter() - t0, "message": f"{type(exc).__name__}: {exc}"[:300]}
    seconds = time.perf_counter() - t0
    return {**base, "status": r.status, "F": r.F, "value": _value(model, p, r), "bound": r.bound,
            "certified": bool(r.certified), "method": r.found_by, "n_x": p.n_x, "n_y": p.n_y,
            "seconds": seconds, "message": (r.message or "")[:300]}


def _value(model, problem, result):
    """The model's own objective at the answer: toll revenue t·y, or the evader's path
    length f (F itself is written over the dual labels and can exceed it by the solver's
    feasibility tolerance)."""
    if result.x is None:
        return None
    if model == "toll":
        from bilevel_mp.library.toll import toll_solution

        return toll_solution(problem, result).revenue
    if model == "pricing":
        from bilevel_mp.library.pricing import pricing_solution

        return pricing_solution(problem, result).profit
    return result.f  # the evader's path length, or the maximum flow


def run_isolated(args: tuple, time_limit: float) -> dict:
    """``run_one`` in a fresh (spawned) process through the package's process runner,
    killed if it overruns the limit by 60 s."""
    def failed(_, status, message, seconds):
        model, k, mode, seed = args[:4]
        return dict(model=model, k=k, mode=mode, seed=seed, status={"time_limit": "killed"}.get(status, "crashed"),
                    F=None, value=None, bound=None, certified=False, method="", seconds=seconds, message=message)

    return bench.run_isolated([(run_one, args)], 1, time_limit + 60, failed,
                              context=mp.get_context("spawn"))[0]


def solved(rec: dict, time_limit: float) -> bool:
    """Proven optimal within the limit; bilevel runs must also be certified (the
    single-level reference has no follower to certify)."""
    return (rec["status"] == "optimal" and (rec["certified"] or rec["mode"] in REFERENCE_MODELS)
            and rec["seconds"] <= time_limit)


def cell(rec: dict | None, time_limit: float) -> str:
    if rec is None:
        return "–"
    if solved(rec, time_limit):
        return f"{rec['seconds']:.1f}"
    if rec["status"] == "optimal":
        return f"{rec['seconds']:.0f} s (over)"
    return {"time_limit": "> limit", "killed": "killed"}.get(rec["status"], rec["status"])


def markdown(records: list[dict], models, modes_of, ks_of, time_limit: float) -> str:
    lines = []
    for model in models:
        modes = modes_of[model]
        by = {(r["k"], r["mode"]): r for r in records if r["model"] == model}
        lines.append(f"**{model}** (seconds to proven optimum; limit {time_limit:g} s)\n")
        what = {"toll": "revenue", "pricing": "profit", "max_flow": "max flow"}.get(model, "path length")
        size = "products" if model == "pricing" else "k×k"
        lines.append(f"| {size} | n_x | n_y | {what} | " + " | ".join(modes) + " |")
        lines.append("|---|---|---|---|" + "---|" * len(modes))
        for k in ks_of[model]:
            recs = [by.get((k, m)) for m in modes]
            if all(r is None for r in recs):
                continue
            sizes = next((r for r in recs if r is not None and r.get("n_y")), {})
            values = [r["value"] for r in recs if r is not None and solved(r, time_limit)]
            value = f"{values[0]:.6g}" if values else "–"
            label = str(k) if model == "pricing" else f"{k}×{k}"
            lines.append(f"| {label} | {sizes.get('n_x', '')} | {sizes.get('n_y', '')} | {value} | "
                         + " | ".join(cell(r, time_limit) for r in recs) + " |")
        lines.append("")
        best = {m: max((k for k in ks_of[model] if by.get((k, m)) and solved(by[(k, m)], time_limit)),
                       default=None) for m in modes}
        fmt = (lambda v: str(v)) if model == "pricing" else (lambda v: f"{v}×{v}")  # noqa: E731
        lines.append("largest instance solved within the limit: "
                     + ", ".join(f"{m} {'–' if v is None else fmt(v)}" for m, v in best.items()))
        picked = sorted({r["method"] for r in records if r["model"] == model and r["mode"] == "auto" and r["method"]})
        if picked:
            lines.append(f"(auto picked: {', '.join(picked)})")
        lines.append("")
    return "\n".join(lines)


def disagreements(records: list[dict], time_limit: float) -> list[str]:
    out = []
    groups: dict = {}
    for r in records:
        if solved(r, time_limit):
            groups.setdefault((r["model"], r["k"]), []).append(r)
    for (model, k), recs in sorted(groups.items()):
        values = [r["value"] for r in recs]
        if max(values) - min(values) > 1e-6 * max(1.0, max(abs(v) for v in values)):
            out.append(f"{model} {k}x{k}: " + ", ".join(f"{r['mode']} {r['value']:.9g}" for r in recs))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--k", type=int, nargs="+", help="grid sizes (default per model)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--no-reference", action="store_true", help="skip the HiGHS MILP references")
    ap.add_argument("--budget", type=int, default=3, help="interdiction budget (arcs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", default=str(ROOT / "results" / "or_scaling.json"))
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    records: list[dict] = []
    modes_of = {m: list(args.modes) + ([REFERENCES[m]] if m in REFERENCES and not args.no_reference else [])
                for m in args.models}
    ks_of = {m: sorted(set(args.k)) if args.k else list(DEFAULT_K[m]) for m in args.models}
    for model in args.models:
        for mode in modes_of[model]:
            for k in ks_of[model]:
                rec = run_isolated((model, k, mode, args.seed, args.budget, args.time_limit), args.time_limit)
                records.append(rec)
                print(f"{model:<12} {k:>2}x{k:<2} {mode:<15} {rec['status']:<12} value={rec.get('value')} "
                      f"{rec['seconds']:.1f} s {rec.get('method', '')}", flush=True)
                if not solved(rec, args.time_limit):
                    break  # this mode stops at its first unsolved size
    table = markdown(records, args.models, modes_of, ks_of, args.time_limit)
    print()
    print(table)
    bad = disagreements(records, args.time_limit)
    print("solved runs agree on the optimum of every instance (1e-6 relative)" if not bad
          else "DISAGREEMENT:\n" + "\n".join(bad))
    wall = time.perf_counter() - t_start
    print(f"total wall time {wall:.0f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(
        machine=dict(platform=platform.platform(), python=platform.python_version(), cpus=os.cpu_count()),
        time_limit=args.time_limit, seed=args.seed, budget=args.budget, ks=ks_of, modes=modes_of,
        wall_seconds=wall, disagreements=bad, table=table, results=records,
    ), indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
