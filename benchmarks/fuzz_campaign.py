"""Fuzz and differential campaign on bilevel problems with independently known optima.

    python benchmarks/fuzz_campaign.py --n 500 --jobs 2 --time-limit 20 --seed 0 --out benchmarks/FUZZ.md
    python benchmarks/fuzz_campaign.py --repro lplp 17 kkt      # one case, in this process

Problems come from ``bilevel_mp.library.known_optima`` (families ``lplp``, ``lp_param``,
``qp``, ``milp_lp``, ``miqp``, ``nonconvex``, ``infeasible``; the reference optimum is
computed there with numpy/scipy only). Each problem is solved with ``method="auto"`` and
every other method of ``bilevel_mp.METHODS``, each solve in a child process of its own with
a hard kill (``bilevel_mp.bench.run_isolated``; the references are computed in children
too). Every answer is classified against the reference, tolerance 1e-6·(1 + |F*|):

    correct   status optimal with F = F*, or infeasible on an infeasible reference
    feasible  a certified point, not claimed optimal, F no better than F* (at F*: counted too)
    WRONG     optimal with F != F*; optimal on an infeasible reference; infeasible on a
              feasible one; unbounded / lower_level_unbounded (every box is bounded); a
              proven bound that cuts off F*; a certified point on an infeasible reference
    beats     a certified point with F better than F* (the certificate accepted a point that
              is not bilevel feasible to the reference's tolerance; its independent ll_gap
              is listed)
    traceback an exception that is not a ``bilevel_mp.BilevelError`` (or a child crash)
    n/a       UnsupportedStructureError / BilevelInputError: the method does not apply
    refused   another BilevelError (e.g. BigMError)
    none      no certified point (status error, time_limit without a point, uncertified)
    killed    the child ran past 2·time_limit + 30 s and was killed

Exact methods (``LOCAL`` false) that claim ``optimal`` on the same problem must agree;
a spread above the tolerance, or optimal against infeasible, is a disagreement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import bilevel_mp as bmp  # noqa: E402
from bilevel_mp.bench import run_isolated  # noqa: E402
from bilevel_mp.library import known_optima as ko  # noqa: E402

WEIGHTS = {"lplp": 0.2, "lp_param": 0.1, "qp": 0.15, "milp_lp": 0.15, "miqp": 0.15,
           "nonconvex": 0.15, "infeasible": 0.1}
CATEGORIES = ("correct", "feasible", "WRONG", "beats", "traceback", "n/a", "refused", "none", "killed")
REL_TOL = 1e-6


def close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * (1 + abs(b))


# ------------------------------------------------------------------------- child tasks
def reference_task(family: str, seed: int) -> dict:
    """The reference of one instance and its class (in a child process)."""
    try:
        problem, ref = ko.generate(family, seed)
        return {"family": family, "seed": seed, "ref_status": ref.status, "F_star": ref.F,
                "x_star": ref.x, "y_star": ref.y, "how": ref.how, "label": bmp.detect(problem).label,
                "n_x": problem.n_x, "n_y": problem.n_y}
    except Exception as exc:
        return {"family": family, "seed": seed, "ref_status": "error", "F_star": None,
                "how": f"{type(exc).__name__}: {exc}", "label": "", "n_x": None, "n_y": None}


def solve_task(family: str, seed: int, method: str, time_limit: float) -> dict:
    """Solve one instance with one method (in a child process); exceptions are recorded."""
    import warnings

    warnings.simplefilter("ignore")
    rec = {"family": family, "seed": seed, "method": method}
    t0 = time.perf_counter()
    try:
        data = ko.instance(family, seed)
        res = bmp.solve(ko.to_problem(data), method=method, time_limit=time_limit,
                        certify_time_limit=time_limit)
    except bmp.BilevelError as exc:
        kind = "n/a" if isinstance(exc, (bmp.UnsupportedStructureError, bmp.BilevelInputError)) else "refused"
        rec.update(kind=kind, status=kind, message=f"{type(exc).__name__}: {exc}"[:300])
    except Exception as exc:  # noqa: BLE001 - the campaign looks for these
        rec.update(kind="traceback", status="exception", message=f"{type(exc).__name__}: {exc}"[:300],
                   traceback="".join(traceback.format_exc().splitlines(True)[-8:]))
    else:
        d = res.to_dict()
        rec.update(kind="result", status=d["status"], F=d["F"], x=d["x"], y=d["y"], bound=d["bound"],
                   certified=d["certified"], found_by=d["found_by"], message=(d["message"] or "")[:300])
        if d["x"] is not None and d["y"] is not None:
            try:
                rec["check"] = ko.check_point(data, d["x"], d["y"])
            except Exception as exc:  # noqa: BLE001
                rec["check"] = {"error": f"{type(exc).__name__}: {exc}"}
    rec["seconds"] = time.perf_counter() - t0
    return rec


# ------------------------------------------------------------------------- classification
def classify(rec: dict, ref: dict, sense: str) -> tuple[str, str]:
    """(category, reason) of one answer against its reference (module docstring)."""
    kind, status, F = rec.get("kind"), rec.get("status"), rec.get("F")
    if kind in ("n/a", "refused", "traceback", "killed"):
        return kind, rec.get("message", "")
    feasible_ref, F_star = ref["ref_status"] == "optimal", ref.get("F_star")
    better = (lambda a, b: a < b) if sense == "min" else (lambda a, b: a > b)
    bound = rec.get("bound")
    if feasible_ref and bound is not None and not close(bound, F_star) and better(F_star, bound):
        return "WRONG", f"WRONG BOUND: proven bound {bound:.10g} cuts off F* = {F_star:.10g}"
    if status == "optimal":
        if not feasible_ref:
            return "WRONG", f"WRONG OPTIMAL: optimal F = {F} on an infeasible problem"
        if F is None or not close(F, F_star):
            return "WRONG", f"WRONG OPTIMAL: F = {F if F is None else f'{F:.12g}'} vs F* = {F_star:.12g}"
        return "correct", ""
    if status == "infeasible":
        return ("correct", "") if not feasible_ref else ("WRONG", f"WRONG VERDICT: infeasible, F* = {F_star:.10g}")
    if status in ("unbounded", "lower_level_unbounded"):
        return "WRONG", f"WRONG VERDICT: {status} on a bounded problem"
    if F is None or not rec.get("certified"):
        return "none", f"{status}: {rec.get('message', '')[:120]}"
    if not feasible_ref:
        return "WRONG", f"WRONG: certified point F = {F:.10g} on an infeasible problem"
    if better(F, F_star) and not close(F, F_star):
        return "beats", f"certified {status} F = {F:.10g} beats F* = {F_star:.10g}"
    return "feasible", ""


def disagreements(records: list[dict], refs: dict) -> list[str]:
    """Exact methods claiming optimal (or infeasible) that disagree on one problem."""
    exact = {m for m, mod in bmp.METHODS.items() if not mod.LOCAL}
    claims = defaultdict(list)
    for r in records:
        if r["method"] in exact and r.get("status") in ("optimal", "infeasible"):
            claims[(r["family"], r["seed"])].append(r)
    out = []
    for key, rs in sorted(claims.items()):
        opt = [r for r in rs if r["status"] == "optimal"]
        inf = [r["method"] for r in rs if r["status"] == "infeasible"]
        Fs = [r["F"] for r in opt]
        spread = bool(Fs) and not close(max(Fs), min(Fs))
        if spread or (opt and inf):
            desc = ", ".join(f"{r['method']}: {r['F']:.10g}" for r in opt) + "".join(f", {m}: infeasible" for m in inf)
            out.append(f"{key[0]} seed {key[1]} (F* = {refs[key].get('F_star')}): {desc}")
    return out


# ------------------------------------------------------------------------- report
def code_version() -> str:
    """The checkout's commit, and the product files changed since it (others may edit the tree)."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "bilevel_mp"], cwd=ROOT, capture_output=True,
                               text=True, timeout=30).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")


def markdown(records, refs, disagree, args, wall, versions=("", "")) -> str:
    by = defaultdict(Counter)
    times = defaultdict(list)
    at_opt = Counter()
    failures = []
    for r in records:
        key = (r["family"], r["method"])
        by[key][r["category"]] += 1
        times[key].append(r.get("seconds") or 0.0)
        ref = refs[(r["family"], r["seed"])]
        if r["category"] == "feasible" and ref.get("F_star") is not None and close(r["F"], ref["F_star"]):
            at_opt[key] += 1
        if r["category"] in ("WRONG", "beats", "traceback", "killed"):
            failures.append(r)
    cats = Counter(r["category"] for r in records)
    lines = ["# Fuzz and differential campaign (known optima)", "",
             f"Generated by `python benchmarks/fuzz_campaign.py --n {args.n} --jobs {args.jobs} "
             f"--time-limit {args.time_limit:g} --seed {args.seed}` on {platform.machine()} "
             f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}, {wall / 60:.1f} min wall; code "
             f"{versions[0]}" + ("" if versions[1] == versions[0] else f" at the start, {versions[1]} at the end")
             + ".", "",
             "Problems and references: `bilevel_mp/library/known_optima.py`; classification: the "
             "docstring of `benchmarks/fuzz_campaign.py` (tolerance 1e-6·(1 + |F*|)).", ""]
    fam_counts = Counter((f, v["ref_status"]) for (f, _), v in refs.items())
    lines += ["| family | problems | reference optimal | reference infeasible | reference error |",
              "|---|---|---|---|---|"]
    for fam in WEIGHTS:
        n = sum(c for (f, _), c in fam_counts.items() if f == fam)
        if n:
            lines.append(f"| {fam} | {n} | {fam_counts[(fam, 'optimal')]} | {fam_counts[(fam, 'infeasible')]} "
                         f"| {fam_counts[(fam, 'error')]} |")
    lines += ["", f"**{len(records)} solves: " + ", ".join(f"{c} {cats[c]}" for c in CATEGORIES) +
              f"; {len(disagree)} disagreements among exact methods.**", "",
              "## Counts per family and method", "",
              "`feasible` counts certified points not claimed optimal; `(k at F*)`: k of them at F*. "
              "Time: median / max seconds per solve (inside the child).", "",
              "| family | method | " + " | ".join(CATEGORIES) + " | time (s) |",
              "|---|---|" + "---|" * len(CATEGORIES) + "---|"]
    for fam in WEIGHTS:
        for m in ["auto"] + [m for m in bmp.METHODS if m != "auto"]:
            c = by.get((fam, m))
            if not c:
                continue
            cells = [str(c[k]) + (f" ({at_opt[(fam, m)]} at F*)" if k == "feasible" and c[k] else "")
                     for k in CATEGORIES]
            t = times[(fam, m)]
            lines.append(f"| {fam} | {m} | " + " | ".join(cells) + f" | {statistics.median(t):.2f} / {max(t):.2f} |")
    lines += ["", "## Failures", "",
              "Reproduce one: `python benchmarks/fuzz_campaign.py --repro FAMILY SEED METHOD` "
              f"(time limit {args.time_limit:g} s).", ""]
    if not failures:
        lines.append("None.")
    for r in sorted(failures, key=lambda r: (r["category"], r["family"], r["seed"], r["method"])):
        chk = r.get("check") or {}
        extra = ""
        if chk and "error" not in chk:
            gap = chk.get("ll_gap")
            extra = (f"; independent check: ll_gap {gap if gap is None else f'{gap:.2e}'}, "
                     f"G viol {chk['G_violation']:.1e}, g viol {chk['g_violation']:.1e}")
        tb = r.get("traceback", "").strip().splitlines()
        where = f" at `{tb[-3].strip()}`" if r["category"] == "traceback" and len(tb) >= 3 else ""
        ref = refs[(r["family"], r["seed"])]
        rel = ""
        if r.get("F") is not None and ref.get("F_star") is not None:
            rel = f"; ΔF/(1+|F*|) = {(r['F'] - ref['F_star']) / (1 + abs(ref['F_star'])):+.1e}"
        lines.append(f"- **{r['category']}** `{r['family']} {r['seed']} {r['method']}`: {r['reason']}"
                     f"{rel}{where}{extra} (status {r.get('status')}, {r.get('seconds', 0):.1f} s)")
    lines += ["", "## Disagreements among exact methods", ""] + ([f"- {d}" for d in disagree] or ["None."])
    bad_refs = [k for k, v in refs.items() if v["ref_status"] == "error"]
    if bad_refs:
        lines += ["", "## Reference errors", ""] + [f"- {k[0]} {k[1]}: {refs[k]['how']}" for k in bad_refs]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- driver
def instances(n: int, seed: int, families, weights=None) -> list[tuple[str, int]]:
    """``n`` (family, seed) pairs split over ``families`` by ``weights`` (default
    ``WEIGHTS``; at least one each)."""
    w = {f: (WEIGHTS if weights is None else weights)[f] for f in families}
    counts = {f: max(1, round(n * w[f] / sum(w.values()))) for f in families}
    while sum(counts.values()) > n and max(counts.values()) > 1:
        counts[max(counts, key=counts.get)] -= 1
    while sum(counts.values()) < n:
        counts[min(counts, key=lambda f: counts[f] / w[f])] += 1
    return [(f, seed + k) for f in families for k in range(counts[f])]


def campaign(pairs, methods, time_limit, jobs, progress=True):
    """References, then every (problem, method) solve; returns (records, refs, disagreements)."""
    hard = 2 * time_limit + 30

    def ref_failed(k, status, message, seconds):
        f, s = pairs[k]
        return {"family": f, "seed": s, "ref_status": "error", "F_star": None, "how": message, "label": ""}

    refs = {(r["family"], r["seed"]): r for r in
            run_isolated([(reference_task, p) for p in pairs], jobs, 600, ref_failed)}
    tasks = [(f, s, m) for f, s in pairs if refs[(f, s)]["ref_status"] != "error" for m in methods]
    t0, done_count = time.perf_counter(), [0]

    def failed(k, status, message, seconds):
        f, s, m = tasks[k]
        kind = "killed" if status == "time_limit" else "traceback"
        return {"family": f, "seed": s, "method": m, "kind": kind, "status": kind, "message": message,
                "seconds": seconds}

    def done(k, rec):
        done_count[0] += 1
        if progress and (done_count[0] % 100 == 0 or done_count[0] == len(tasks)):
            print(f"  {done_count[0]}/{len(tasks)} solves, {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    records = run_isolated([(solve_task, (f, s, m, time_limit)) for f, s, m in tasks], jobs, hard, failed, done)
    for r in records:
        ref = refs[(r["family"], r["seed"])]
        sense = ko.instance(r["family"], r["seed"]).upper_sense
        r["category"], r["reason"] = classify(r, ref, sense)
    return records, refs, disagreements(records, refs)


def repro(family: str, seed: int, method: str, time_limit: float) -> None:
    problem, ref = ko.generate(family, seed)
    print(problem, bmp.detect(problem).label)
    print("reference:", ref)
    rec = solve_task(family, seed, method, time_limit)
    rec["category"], rec["reason"] = classify(rec, {"ref_status": ref.status, "F_star": ref.F},
                                              ko.instance(family, seed).upper_sense)
    print(json.dumps(rec, indent=1, default=str))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="number of problems")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=20.0, help="seconds per solve")
    ap.add_argument("--seed", type=int, default=0, help="first seed of every family")
    ap.add_argument("--out", default="benchmarks/FUZZ.md")
    ap.add_argument("--json", default=None, help="also write every record here")
    ap.add_argument("--families", nargs="+", default=list(WEIGHTS), choices=list(WEIGHTS))
    ap.add_argument("--methods", nargs="+", default=list(bmp.METHODS), choices=list(bmp.METHODS))
    ap.add_argument("--repro", nargs=3, metavar=("FAMILY", "SEED", "METHOD"))
    args = ap.parse_args(argv)
    if args.repro:
        repro(args.repro[0], int(args.repro[1]), args.repro[2], args.time_limit)
        return 0
    methods = ["auto"] + [m for m in args.methods if m != "auto"] if "auto" in args.methods else args.methods
    pairs = instances(args.n, args.seed, args.families)
    print(f"{len(pairs)} problems x {len(methods)} methods, {args.jobs} jobs, limit {args.time_limit:g} s",
          file=sys.stderr)
    t0, start_version = time.perf_counter(), code_version()
    records, refs, disagree = campaign(pairs, methods, args.time_limit, args.jobs)
    wall = time.perf_counter() - t0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(markdown(records, refs, disagree, args, wall, (start_version, code_version())))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"refs": list(refs.values()), "records": records}, indent=1,
                                              default=str))
    cats = Counter(r["category"] for r in records)
    print(", ".join(f"{c} {cats[c]}" for c in CATEGORIES) + f"; {len(disagree)} disagreements; "
          f"{wall / 60:.1f} min; report {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
