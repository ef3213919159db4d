"""The local iterative methods on BOLIB, from each problem's ``xy_init``, beside the
core's global method (``auto``).

    nice -n 10 python benchmarks/iterative.py [--time-limit 20] [--jobs 2] [--update] \
        [--methods auto,descent,trust_region,penalty,regularized] [--json results/iterative.json]

Problems: those of ``../shared/bolib/problems.json`` with a best known value (status
1 or 2), continuous leader variables and smooth data (polynomial expressions: no
abs/min/max/sqrt, which every problem in the shipped set satisfies; the filter is
kept for other files). Each (method, problem) runs in its own process through
``bilevel_mp.bench.run`` with a hard limit. Verdicts as in ``bilevel_mp.bench``
(solved = certified and |F − F_best| <= 1e-2·max(1, |F_best|)). Prints one markdown
table: per method the verdict counts, the median relative F error over certified
points, the median number of iterations and the median time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from bilevel_mp import bench
from bilevel_mp.frontends.expr import problem_from_dict

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = ROOT.parent / "shared" / "bolib" / "problems.json"
NONSMOOTH = ("abs(", "min(", "max(", "sqrt(")
METHODS = ("auto", "descent", "trust_region", "penalty", "regularized")


def smooth_problems(path=PROBLEMS) -> list[dict]:
    entries = json.loads(Path(path).read_text())
    entries = entries if isinstance(entries, list) else entries.get("problems", entries)
    out = []
    for e in entries:
        if e.get("status") not in (1, 2) or e.get("F_best") is None:
            continue
        text = json.dumps({k: e.get(k) for k in ("F", "G", "f", "g")})
        if any(s in text for s in NONSMOOTH):
            continue
        p = problem_from_dict(e)
        if any(p.x_is_integer()):
            continue
        out.append(e)
    return out


def summarize(records_by_method: dict) -> str:
    rows = ["| method | solved | improved | worse | uncertified | failed | not applicable | "
            "median rel. F error | median iterations | median s |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for method, recs in records_by_method.items():
        for r in recs:  # a method that refuses the problem's structure is not a failure
            if r["verdict"] == "failed" and (r.get("message") or "").startswith("UnsupportedStructureError"):
                r["verdict"] = "n/a"
        count = {v: sum(r["verdict"] == v for r in recs) for v in
                 ("solved", "improved", "worse", "uncertified", "failed", "n/a")}
        errs = [abs(r["F"] - r["F_best"]) / max(1.0, abs(r["F_best"])) for r in recs
                if r.get("certified") and r.get("F") is not None]
        its = [r["iterations"] for r in recs if r.get("iterations")]
        secs = [r["seconds"] for r in recs if r.get("seconds") is not None]
        med = lambda v, f: f.format(statistics.median(v)) if v else "-"  # noqa: E731
        rows.append(f"| {method} | {count['solved']} | {count['improved']} | {count['worse']} | "
                    f"{count['uncertified']} | {count['failed']} | {count['n/a']} | {med(errs, '{:.2e}')} | "
                    f"{med(its, '{:.0f}')} | {med(secs, '{:.2f}')} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--problems", default=str(PROBLEMS))
    ap.add_argument("--json", default="results/iterative.json")
    ap.add_argument("--table-only", action="store_true", help="re-print the table from --json")
    ap.add_argument("--update", action="store_true",
                    help="re-run only --methods and replace them in the existing --json")
    args = ap.parse_args(argv)
    if args.table_only:
        print(summarize(json.loads(Path(args.json).read_text())))
        return 0
    entries = smooth_problems(args.problems)
    print(f"{len(entries)} smooth problems with a best known value and continuous x")
    by_method = {}
    if args.update and Path(args.json).exists():
        by_method = json.loads(Path(args.json).read_text())
    for method in args.methods.split(","):
        print(f"-- {method}", file=sys.stderr)
        by_method[method] = bench.run(entries, time_limit=args.time_limit, jobs=args.jobs, method=method)
    print(summarize(by_method))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(by_method, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
