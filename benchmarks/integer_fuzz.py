"""Fuzz and differential campaign for bilevel problems whose follower has integer variables.

    python benchmarks/integer_fuzz.py --n 300 --jobs 2 --time-limit 30 --seed 0 --out benchmarks/INTEGER_FUZZ.md
    python benchmarks/integer_fuzz.py --n 300 --jobs 2 --time-limit 30 --seed 5000 --append
    python benchmarks/integer_fuzz.py --repro general 17          # one case, in this process

Every problem is solved by the default path, ``bilevel_mp.solve(p, time_limit=T)``
(method "auto", which sends integer followers to ``value_function``), in a child process
of its own with a hard kill (``bilevel_mp.bench.run_isolated``); the references are
computed in children too. Families (data generated here, with numpy; problems built
through ``BilevelProblem``, or ``library.knapsack_interdiction``):

    general       pure-integer MIBLPs: 1-3 leader and 1-3 follower variables, boxes 0..2 or
                  0..3 (a few -1..1 / -1..2), integer coefficients of both signs, 1-4
                  follower rows with x (sometimes an equality), leader rows on x alone and
                  coupling rows on y, f with or without x terms, min and max at both levels.
                  Path (a): integer value-function / disjunctive cuts.
    interdiction  followers the leader can only switch off: library knapsack interdiction
                  (4-12 items) and hand-built variants (several packing rows, general
                  integer y_j <= u_j (1 - x_i), several y blocked by one x, unblocked y,
                  leader objectives that are not the negated follower objective, coupling
                  leader rows). Path (b): branch-and-cut with interdiction cuts.
    continuous_x  one continuous leader variable in the follower's rows (fractional
                  coefficients too), 1-2 integer follower variables. Path (c).
    mixed         mixed-integer followers (integer and continuous y, integer x), some with
                  the blocking structure (cutting plane with interdiction cuts). Path (d).
    infeasible    a base instance of general / interdiction / mixed plus a coupling leader
                  row c·y <= m - 1 where m = min c·y over every follower optimum at every
                  x (so no bilevel-feasible point), chosen where possible so that the
                  high-point relaxation stays feasible.

References (independent of the solver's code):

    pure integer  ``library.enumeration.solve_by_enumeration`` (brute force), cross-checked
                  by this script's own numpy enumeration; a disagreement is a reference
                  error and the problem is skipped.
    mixed         for every integer x and every integer y_I, scipy ``linprog`` on the
                  continuous y_C gives the follower's value; the optimistic F among the
                  follower's optima (and the coupling rows) by a second LP.
    continuous_x  a grid over x: 20001 points plus every breakpoint (x where some row is
                  tight for some integer y), the follower enumerated at each; every grid
                  point is attainable, so F_grid is an upper bound (min sense) on the
                  optimum. The check is ONE-SIDED: an ``optimal`` F worse than F_grid, an
                  ``infeasible`` verdict with a feasible grid point, a proven bound that cuts
                  off F_grid, or a point that is not bilevel feasible is WRONG; F better than
                  F_grid is accepted when the point passes the check below.

Every returned point is re-checked independently (numpy / linprog on the generator's
data, not the package): x and y in their boxes and integral where declared, G and g met to
1e-6, and y follower-optimal at the returned x: no follower point (enumerated, rows to
1e-9; for mixed followers y_I enumerated and y_C by linprog) is better by more than
1e-6·(1 + |phi|) (where no follower point is feasible to 1e-9 at x — x on a breakpoint up to
the tolerance — the y returned, feasible to 1e-6, is accepted and counted in the notes); the
reported F must equal F(x, y).

Classification, tolerance 1e-6·(1 + |F*|) (1e-5 for mixed and continuous_x):

    correct   status optimal with F = F* and the point passing the check; infeasible on an
              infeasible reference (continuous_x: on a grid without a feasible point,
              unconfirmed)
    feasible  a certified point, not claimed optimal, passing the check, F no better than
              F* (continuous_x: any F)
    WRONG     optimal with F != F* (continuous_x: F worse than F_grid); optimal or a
              certified point on an infeasible reference; infeasible on a feasible one;
              unbounded / lower_level_unbounded (every box is bounded); a proven bound that
              cuts off F*; an optimal or certified point that fails the check
    beats     a certified point with F better than the exact F* (pure-integer and mixed)
    traceback an exception that is not a ``bilevel_mp.BilevelError`` (or a child crash)
    n/a       UnsupportedStructureError / BilevelInputError
    refused   another BilevelError
    none      no certified point (time_limit without a point, error, uncertified)
    killed    the child ran past 2·time_limit + 30 s and was killed
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import bilevel_mp as bmp  # noqa: E402
from bilevel_mp.bench import run_isolated  # noqa: E402
from bilevel_mp.library.enumeration import INFEASIBLE, solve_by_enumeration  # noqa: E402
from integer_fuzz_families import (CATEGORIES, ENUM_MAX_POINTS, WEIGHTS, close, instance,  # noqa: E402
                                   rel_tol, to_problem)
from integer_fuzz_truth import Data  # noqa: E402
from fuzz_campaign import instances as split_over_families  # noqa: E402


# ========================================================================= child tasks
def reference_task(family: str, seed: int) -> dict:
    """The reference of one instance (in a child process)."""
    t0 = time.perf_counter()
    rec = {"family": family, "seed": seed, "ref_status": "error", "F_star": None, "how": ""}
    try:
        inst = instance(family, seed)
        rec.update(variant=inst["variant"], upper_sense=inst["upper_sense"], n_x=inst["n_x"], n_y=inst["n_y"])
        D = Data(inst)
        if family == "continuous_x":
            F, x, y, n = D.truth_grid()
            rec.update(ref_status="grid", F_star=F, x_star=None if x is None else x.tolist(),
                       y_star=None if y is None else y.tolist(), how=f"grid of {n} points")
        elif D.pure:
            problem = to_problem(inst)
            e = solve_by_enumeration(problem, max_points=ENUM_MAX_POINTS)
            mine = D.truth_pure()
            e_F = None if e == INFEASIBLE else float(e.F_star)
            m_F = None if mine is None else mine[0]
            if (e_F is None) != (m_F is None) or (e_F is not None and not close(e_F, m_F, 1e-9)):
                rec["how"] = f"references disagree: solve_by_enumeration {e_F}, numpy enumeration {m_F}"
                return rec
            if e_F is None:
                rec.update(ref_status="infeasible", how="enumeration (both)")
            else:
                rec.update(ref_status="optimal", F_star=e_F, x_star=e.x.tolist(), y_star=e.y.tolist(),
                           how="enumeration (both)")
        else:
            t = D.truth_mixed()
            if t is None:
                rec.update(ref_status="infeasible", how="enumeration + linprog")
            else:
                rec.update(ref_status="optimal", F_star=t[0], x_star=t[1].tolist(), y_star=t[2].tolist(),
                           how="enumeration + linprog")
        if family == "infeasible" and rec["ref_status"] == "optimal":
            rec["how"] += " (the construction is feasible after all)"
    except Exception as exc:  # noqa: BLE001
        rec.update(ref_status="error", how=f"{type(exc).__name__}: {exc}"[:300])
    rec["seconds"] = time.perf_counter() - t0
    return rec


def path_of(d: dict) -> str:
    a = " ".join(d.get("assumptions") or [])
    if d.get("found_by") and d["found_by"] != "value_function":
        return f"other ({d['found_by']})"
    if "branch-and-cut with interdiction cuts" in a:
        return "branch-and-cut"
    if "interdiction cuts" in a:
        return "cutting plane + interdiction cuts"
    if "integer value-function cuts" in a:
        return "cutting plane"
    return "unknown"


def solve_task(family: str, seed: int, time_limit: float) -> dict:
    """Solve one instance by ``bmp.solve`` (in a child process); exceptions are recorded."""
    import warnings

    warnings.simplefilter("ignore")
    rec = {"family": family, "seed": seed}
    t0 = time.perf_counter()
    try:
        inst = instance(family, seed)
        res = bmp.solve(to_problem(inst), time_limit=time_limit)
    except bmp.BilevelError as exc:
        kind = "n/a" if isinstance(exc, (bmp.UnsupportedStructureError, bmp.BilevelInputError)) else "refused"
        rec.update(kind=kind, status=kind, message=f"{type(exc).__name__}: {exc}"[:300])
    except Exception as exc:  # noqa: BLE001 - the campaign looks for these
        rec.update(kind="traceback", status="exception", message=f"{type(exc).__name__}: {exc}"[:300],
                   traceback="".join(traceback.format_exc().splitlines(True)[-8:]))
    else:
        d = res.to_dict()
        rec.update(kind="result", status=d["status"], F=d["F"], x=d["x"], y=d["y"], bound=d["bound"],
                   certified=d["certified"], found_by=d["found_by"], path=path_of(d),
                   message=(d["message"] or "")[:300], assumptions=d["assumptions"])
        if d["x"] is not None and d["y"] is not None:
            try:
                rec["check"] = Data(inst).check(d["x"], d["y"])
            except Exception as exc:  # noqa: BLE001
                rec["check"] = {"error": f"{type(exc).__name__}: {exc}"}
    rec["seconds"] = time.perf_counter() - t0
    return rec


# ========================================================================= classification
def classify(rec: dict, ref: dict) -> tuple[str, str]:
    """(category, reason) of one answer against its reference (module docstring)."""
    kind, status, F = rec.get("kind"), rec.get("status"), rec.get("F")
    if kind in ("n/a", "refused", "traceback", "killed"):
        return kind, rec.get("message", "")
    family = rec["family"]
    tol = rel_tol(family)
    sense = ref.get("upper_sense", "min")
    better = (lambda a, b: a > b) if sense == "max" else (lambda a, b: a < b)
    chk = rec.get("check") or {}
    point_bad = bool(chk) and "error" not in chk and not chk.get("ok", True)
    bad_why = "; ".join(chk.get("reasons", []))
    if not point_bad and chk and "error" not in chk and F is not None and not close(F, chk["F"], tol):
        point_bad, bad_why = True, f"reported F = {F:.12g} but F(x, y) = {chk['F']:.12g}"
    bound = rec.get("bound")
    grid = ref["ref_status"] == "grid"
    F_star = ref.get("F_star")
    feasible_ref = F_star is not None and ref["ref_status"] in ("optimal", "grid")
    star = "F_grid" if grid else "F*"
    if feasible_ref and bound is not None and not close(bound, F_star, tol) and better(F_star, bound):
        return "WRONG", f"WRONG BOUND: proven bound {bound:.10g} cuts off {star} = {F_star:.10g}"
    if status == "optimal":
        if point_bad:
            return "WRONG", f"WRONG POINT: optimal but not bilevel feasible: {bad_why}"
        if not feasible_ref:
            if grid:
                return "correct", "optimal on a grid without a feasible point (point checked)"
            return "WRONG", f"WRONG OPTIMAL: optimal F = {F} on an infeasible problem"
        if F is None or (not close(F, F_star, tol) and (better(F_star, F) or not grid)):
            return "WRONG", f"WRONG OPTIMAL: F = {F if F is None else f'{F:.12g}'} vs {star} = {F_star:.12g}"
        if grid and not close(F, F_star, tol):
            return "correct", f"below the grid: F = {F:.12g}, F_grid = {F_star:.12g} (point checked)"
        if chk.get("tolerance_only"):
            return "correct", "the point is feasible to 1e-6 only (no follower point feasible to 1e-9 at x)"
        return "correct", ""
    if status == "infeasible":
        if feasible_ref:
            return "WRONG", f"WRONG VERDICT: infeasible, {star} = {F_star:.10g}"
        return "correct", "unconfirmed (grid)" if grid else ""
    if status in ("unbounded", "lower_level_unbounded"):
        return "WRONG", f"WRONG VERDICT: {status} on a bounded problem"
    if F is None or not rec.get("certified"):
        return "none", f"{status}: {rec.get('message', '')[:160]}"
    if not feasible_ref and not grid:
        return "WRONG", f"WRONG: certified point F = {F:.10g} on an infeasible problem"
    if not grid and better(F, F_star) and not close(F, F_star, tol):
        return "beats", f"certified {status} F = {F:.10g} beats F* = {F_star:.10g}" + \
            (f" ({bad_why})" if point_bad else "")
    if point_bad:
        return "WRONG", f"WRONG POINT: certified {status} point not bilevel feasible: {bad_why}"
    return "feasible", ""


# ========================================================================= report
def code_version() -> tuple[str, list[str]]:
    """``git rev-parse HEAD`` and ``git status --short bilevel_mp/``."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--short", "bilevel_mp/"], cwd=ROOT, capture_output=True,
                               text=True, timeout=30).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown", []
    return head, [line for line in dirty if line.strip()]


def command_line(args) -> str:
    fams = "" if list(args.families) == list(WEIGHTS) else " --families " + " ".join(args.families)
    return (f"python benchmarks/integer_fuzz.py --n {args.n} --seed {args.seed} --jobs {args.jobs} "
            f"--time-limit {args.time_limit:g}{fams} --out {args.out}" + (" --append" if args.append else ""))


PREAMBLE = """# Integer-follower fuzz and differential campaign

Generated by `benchmarks/integer_fuzz.py`: random bilevel problems whose follower has integer
variables, solved by the default path `bilevel_mp.solve(p, time_limit=T)` (method "auto",
which routes them to `value_function`), each solve in a child process with a hard kill.
Families, references and the classification: the docstring of `benchmarks/integer_fuzz.py`.
In short: pure-integer references by brute-force enumeration (`solve_by_enumeration`, cross-checked
by a numpy enumeration in the script); mixed-integer followers by enumerating x and the integer y with
scipy `linprog` on the continuous y (optimistic F by a second LP); `continuous_x` by a grid over x
(20001 points plus every breakpoint), which is a **one-sided check**: it catches an `optimal` F worse
than the grid's, a wrong `infeasible` verdict, a bound cutting off a grid point, and points that are not
bilevel feasible, but cannot prove an F better than the grid's wrong other than by the point check.
Every returned point is re-checked independently (y follower-optimal at the returned x by enumeration /
LP, G and g met, F = F(x, y)).
"""


def markdown_block(records, refs, args, wall, versions) -> str:
    by, times, paths, at_opt = defaultdict(Counter), defaultdict(list), defaultdict(Counter), Counter()
    notes = Counter()
    failures, check_errors = [], []
    for r in records:
        fam = r["family"]
        by[fam][r["category"]] += 1
        times[fam].append(r.get("seconds") or 0.0)
        paths[fam][r.get("path") or ("-" if r.get("kind") != "result" else "unknown")] += 1
        ref = refs[(fam, r["seed"])]
        if r["category"] == "feasible" and ref.get("F_star") is not None and r.get("F") is not None \
                and close(r["F"], ref["F_star"], rel_tol(fam)):
            at_opt[fam] += 1
        if r["category"] in ("WRONG", "beats", "traceback", "killed"):
            failures.append(r)
        if r["category"] == "correct" and r.get("reason"):
            notes[(fam, r["reason"].split(":")[0])] += 1
        if (r.get("check") or {}).get("error"):
            check_errors.append(r)
    cats = Counter(r["category"] for r in records)
    (v0, d0), (v1, d1) = versions
    lines = [f"## Seeds {args.seed}.. ({len(refs)} problems, time limit {args.time_limit:g} s)", "",
             f"Command: `{command_line(args)}`", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"{platform.platform()}; {time.strftime('%Y-%m-%d %H:%M')}; **{wall / 60:.1f} min wall**.", "",
             f"Code: `git rev-parse HEAD` = `{v0}`; `git status --short bilevel_mp/` at the start: "
             + (", ".join(f"`{s}`" for s in d0) if d0 else "clean")
             + ("" if (v1, d1) == (v0, d0) else
                f"; at the end: HEAD `{v1}`, " + (", ".join(f"`{s}`" for s in d1) if d1 else "clean"))
             + " (others edit the package concurrently).", ""]
    fam_counts = Counter((f, v["ref_status"]) for (f, _), v in refs.items())
    grid_inf = Counter(f for (f, _), v in refs.items() if v["ref_status"] == "grid" and v.get("F_star") is None)
    variants = defaultdict(Counter)
    for (f, _), v in refs.items():
        variants[f][v.get("variant", "?")] += 1
    lines += ["| family | problems | variants | reference optimal | reference infeasible | grid (no feasible grid point) "
              "| reference error |", "|---|---|---|---|---|---|---|"]
    for fam in WEIGHTS:
        n = sum(c for (f, _), c in fam_counts.items() if f == fam)
        if n:
            var = ", ".join(f"{k} {c}" for k, c in sorted(variants[fam].items()))
            lines.append(f"| {fam} | {n} | {var} | {fam_counts[(fam, 'optimal')]} | {fam_counts[(fam, 'infeasible')]} "
                         f"| {fam_counts[(fam, 'grid')]} ({grid_inf[fam]}) | {fam_counts[(fam, 'error')]} |")
    lines += ["", f"**{len(records)} solves: " + ", ".join(f"{c} {cats[c]}" for c in CATEGORIES) + ".**", "",
              "### Counts per family", "",
              "`feasible`: certified points not claimed optimal; `(k at F*)`: k of them at F*. "
              "Time: median / max seconds per solve (inside the child, building the problem included).", "",
              "| family | " + " | ".join(CATEGORIES) + " | time (s) |", "|---|" + "---|" * len(CATEGORIES) + "---|"]
    for fam in WEIGHTS:
        c = by.get(fam)
        if not c:
            continue
        cells = [str(c[k]) + (f" ({at_opt[fam]} at F*)" if k == "feasible" and c[k] else "") for k in CATEGORIES]
        t = times[fam]
        lines.append(f"| {fam} | " + " | ".join(cells) + f" | {statistics.median(t):.2f} / {max(t):.2f} |")
    all_t = [r.get("seconds") or 0.0 for r in records]
    if all_t:
        lines.append("| **all** | " + " | ".join(str(cats[k]) for k in CATEGORIES)
                     + f" | {statistics.median(all_t):.2f} / {max(all_t):.2f} |")
    lines += ["", "### Paths taken (from the result's assumptions)", "",
              "| family | " + " | ".join(sorted({p for c in paths.values() for p in c})) + " |",
              "|---|" + "---|" * len({p for c in paths.values() for p in c})]
    all_paths = sorted({p for c in paths.values() for p in c})
    for fam in WEIGHTS:
        if fam in paths:
            lines.append(f"| {fam} | " + " | ".join(str(paths[fam][p]) for p in all_paths) + " |")
    if notes:
        lines += ["", "Notes on `correct`: " + "; ".join(f"{f}: {why} ×{c}" for (f, why), c in sorted(notes.items()))
                  + "."]
    lines += ["", "### Failures", "",
              f"Reproduce one: `python benchmarks/integer_fuzz.py --repro FAMILY SEED --time-limit {args.time_limit:g}`.",
              ""]
    if not failures:
        lines.append("None.")
    for r in sorted(failures, key=lambda r: (r["category"], r["family"], r["seed"])):
        chk = r.get("check") or {}
        extra = ""
        if chk and "error" not in chk:
            gap = chk.get("ll_gap")
            extra = (f"; independent check: ll_gap {gap if gap is None else f'{gap:.2e}'}, "
                     f"G viol {chk['G_violation']:.1e}, g viol {chk['g_violation']:.1e}")
        tb = r.get("traceback", "").strip().splitlines()
        where = f" at `{tb[-3].strip()}`" if r["category"] == "traceback" and len(tb) >= 3 else ""
        ref = refs[(r["family"], r["seed"])]
        lines.append(f"- **{r['category']}** `{r['family']} {r['seed']}` ({ref.get('variant')}, path "
                     f"{r.get('path', '-')}): {r['reason']}{where}{extra} (status {r.get('status')}, "
                     f"{r.get('seconds', 0):.1f} s) — `python benchmarks/integer_fuzz.py --repro {r['family']} "
                     f"{r['seed']} --time-limit {args.time_limit:g}`")
    nones = [r for r in records if r["category"] in ("none", "n/a", "refused")]
    if nones:
        lines += ["", "### No certified point (`none`, `n/a`, `refused`)", ""]
        kinds = Counter((r["family"], re.sub(r"-?\d[\d.e+-]*", "#", r["reason"])[:90]) for r in nones)
        lines += [f"- {c} × {fam}: {why}" for (fam, why), c in sorted(kinds.items())] + [""]
        for r in sorted(nones, key=lambda r: (r["family"], r["seed"]))[:60]:
            ref = refs[(r["family"], r["seed"])]
            star = "" if ref.get("F_star") is None else f" {ref['F_star']:.10g}"
            lines.append(f"- `{r['family']} {r['seed']}` ({ref.get('variant')}, reference {ref['ref_status']}{star}, "
                         f"path {r.get('path', '-')}): {r['category']}, {r['reason'][:200]} ({r.get('seconds', 0):.1f} s)")
        if len(nones) > 60:
            lines.append(f"- ... and {len(nones) - 60} more (`--json` has them all)")
    if check_errors:
        lines += ["", "### Errors of the independent check", ""] + \
            [f"- `{r['family']} {r['seed']}`: {r['check']['error']}" for r in check_errors]
    bad_refs = [k for k, v in refs.items() if v["ref_status"] == "error"]
    if bad_refs:
        lines += ["", "### Reference errors (problems skipped)", ""] + \
            [f"- {k[0]} {k[1]}: {refs[k]['how']}" for k in sorted(bad_refs)]
    return "\n".join(lines) + "\n"


# ========================================================================= driver
def instances(n: int, seed: int, families) -> list[tuple[str, int]]:
    """``n`` (family, seed) pairs split over ``families`` by ``WEIGHTS`` (at least one each)."""
    return split_over_families(n, seed, families, WEIGHTS)


def campaign(pairs, time_limit, jobs, progress=True):
    """References, then every solve; returns (records, refs)."""
    hard = 2 * time_limit + 30
    t0 = time.perf_counter()

    def ref_failed(k, status, message, seconds):
        f, s = pairs[k]
        return {"family": f, "seed": s, "ref_status": "error", "F_star": None, "how": message}

    refs = {(r["family"], r["seed"]): r for r in
            run_isolated([(reference_task, p) for p in pairs], jobs, 600, ref_failed)}
    if progress:
        print(f"  references: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    tasks = [(f, s) for f, s in pairs if refs[(f, s)]["ref_status"] != "error"]
    t1, done_count = time.perf_counter(), [0]

    def failed(k, status, message, seconds):
        f, s = tasks[k]
        kind = "killed" if status == "time_limit" else "traceback"
        return {"family": f, "seed": s, "kind": kind, "status": kind, "message": message, "seconds": seconds}

    def done(k, rec):
        done_count[0] += 1
        if progress and (done_count[0] % 500 == 0 or done_count[0] == len(tasks)):
            print(f"  {done_count[0]}/{len(tasks)} solves, {time.perf_counter() - t1:.0f} s", file=sys.stderr)

    records = run_isolated([(solve_task, (f, s, time_limit)) for f, s in tasks], jobs, hard, failed, done)
    for r in records:
        r["category"], r["reason"] = classify(r, refs[(r["family"], r["seed"])])
    return records, refs


def repro(family: str, seed: int, time_limit: float) -> None:
    inst = instance(family, seed)
    print(json.dumps(inst))
    p = to_problem(inst)
    p.model.pprint() if os.environ.get("PPRINT") else None
    print(p, bmp.detect(p).label)
    ref = reference_task(family, seed)
    print("reference:", json.dumps(ref, default=str))
    rec = solve_task(family, seed, time_limit)
    rec["category"], rec["reason"] = classify(rec, ref)
    print(json.dumps(rec, indent=1, default=str))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="number of problems")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per solve")
    ap.add_argument("--seed", type=int, default=0, help="first seed of every family")
    ap.add_argument("--out", default="benchmarks/INTEGER_FUZZ.md")
    ap.add_argument("--append", action="store_true", help="append this run's block to --out")
    ap.add_argument("--json", default=None, help="also write every record here")
    ap.add_argument("--families", nargs="+", default=list(WEIGHTS), choices=list(WEIGHTS))
    ap.add_argument("--repro", nargs=2, metavar=("FAMILY", "SEED"))
    args = ap.parse_args(argv)
    if args.repro:
        repro(args.repro[0], int(args.repro[1]), args.time_limit)
        return 0
    pairs = instances(args.n, args.seed, args.families)
    print(f"{len(pairs)} problems, {args.jobs} jobs, limit {args.time_limit:g} s", file=sys.stderr)
    t0, start_version = time.perf_counter(), code_version()
    records, refs = campaign(pairs, args.time_limit, args.jobs)
    wall = time.perf_counter() - t0
    block = markdown_block(records, refs, args, wall, (start_version, code_version()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.append and out.exists():
        out.write_text(out.read_text().rstrip("\n") + "\n\n" + block)
    else:
        out.write_text(PREAMBLE + "\n" + block)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"refs": list(refs.values()), "records": records}, indent=1,
                                              default=str))
    cats = Counter(r["category"] for r in records)
    print(", ".join(f"{c} {cats[c]}" for c in CATEGORIES) + f"; {wall / 60:.1f} min; report {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
