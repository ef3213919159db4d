"""The penalty method (``bilevel_mp.algorithms.penalty``) on the BOLIB problems whose
follower is an LP or proven convex (LP-LP variant or penalised KKT NLP), from xy_init.

    nice -n 10 python benchmarks/penalty_bolib.py [--time-limit 20] [--json results/penalty_bolib.json]

Each problem runs in its own process with a hard limit (``bilevel_mp.bench``'s worker
pattern is not reused: this script is meant to be folded into benchmarks/iterative.py).
Verdicts: ``best`` (certified, F within 1e-3 relative of BOLIB's F_best, or better),
``worse`` (certified, F above that), ``failed`` (no certified point). Problems without an
F_best are counted apart.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROBLEMS = ROOT.parent / "shared" / "bolib" / "problems.json"
REL_TOL = 1e-3


def _worker(entry, time_limit, queue):
    warnings.simplefilter("ignore")
    from bilevel_mp.algorithms.penalty import choose_variant, solve_penalty
    from bilevel_mp.frontends.expr import problem_from_dict
    from bilevel_mp.structure import detect

    t0 = time.perf_counter()
    try:
        p = problem_from_dict(entry)
        variant = choose_variant(p, detect(p))
        r = solve_penalty(p, time_limit=time_limit)
        out = {"status": r.status, "F": r.F, "certified": r.certified, "message": r.message,
               "variant": variant}
    except Exception as exc:  # reported, not hidden
        out = {"status": "exception", "F": None, "certified": False, "message": repr(exc)[:300]}
    out["seconds"] = time.perf_counter() - t0
    queue.put(out)


def run_one(entry, time_limit):
    queue = mp.Queue()
    proc = mp.Process(target=_worker, args=(entry, time_limit, queue))
    t0 = time.perf_counter()
    proc.start()
    proc.join(time_limit + 15)  # certificate reserve + process start
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {"status": "killed", "F": None, "certified": False, "message": "hard limit",
                "seconds": time.perf_counter() - t0}
    return queue.get() if not queue.empty() else {
        "status": "crashed", "F": None, "certified": False, "message": f"exit {proc.exitcode}",
        "seconds": time.perf_counter() - t0}


def verdict(entry, out) -> str:
    best = entry.get("F_best")
    if not out["certified"] or out["F"] is None:
        return "failed"
    if best is None or best != best:  # no reference value (NaN)
        return "no_reference"
    return "best" if out["F"] <= best + REL_TOL * max(1.0, abs(best)) else "worse"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--problems", default=str(PROBLEMS))
    ap.add_argument("--json", default=None, help="write per-problem results here")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from bilevel_mp.frontends.expr import problem_from_dict
    from bilevel_mp.structure import detect

    entries = json.loads(Path(args.problems).read_text())
    chosen = [e for e in entries if detect(problem_from_dict(e)).lower_convex]
    rows = []
    print(f"{'problem':32s} {'class':7s} {'status':16s} {'F':>12s} {'F_best':>10s} {'s':>6s}  verdict")
    for e in chosen:
        out = run_one(e, args.time_limit)
        v = verdict(e, out)
        rows.append({"name": e["name"], "F_best": e.get("F_best"), "verdict": v, **out})
        F = "-" if out["F"] is None else f"{out['F']:.6g}"
        print(f"{e['name']:32s} {out.get('variant', '?'):7s} {out['status']:16s} {F:>12s} "
              f"{str(e.get('F_best')):>10s} {out['seconds']:6.2f}  {v}", flush=True)
    counts = {k: sum(r["verdict"] == k for r in rows) for k in ("best", "worse", "failed", "no_reference")}
    counts["better_than_best"] = sum(r["verdict"] == "best" and r["F"] < r["F_best"] - REL_TOL * max(
        1.0, abs(r["F_best"])) for r in rows)
    counts["within_1e-2"] = sum(r["verdict"] in ("best", "worse") and r["F"] <= r["F_best"] + 1e-2 * max(
        1.0, abs(r["F_best"])) for r in rows)
    med = statistics.median(r["seconds"] for r in rows) if rows else float("nan")
    print(f"\n{len(rows)} problems with an LP or convex follower, {args.time_limit:g} s limit each: "
          f"reached best known (1e-3 rel.) {counts['best']} (of which {counts['better_than_best']} "
          f"certified better than F_best), certified but worse {counts['worse']}, failed "
          f"{counts['failed']}, certified without reference {counts['no_reference']}; median time "
          f"{med:.2f} s. Within 1e-2 rel. (BOLIB's F_best has ~2 decimals): {counts['within_1e-2']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, "counts": counts, "median_s": med}, indent=1))
    return counts


if __name__ == "__main__":
    main()
