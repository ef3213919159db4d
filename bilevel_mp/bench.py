"""Benchmark runner: solve a list of BOLIB-format problems, each in its own process.

Every problem runs in a child process. A solve returns within
``clock.with_grace(time_limit)`` (time limit + 5% + 2 s, certificate included); the
child is killed only if it overruns that by ``STARTUP_SECONDS`` (fork, building the
problem, sending the record back). A crash, hang or overrun is recorded and the run goes
on. ``jobs`` children run at once. Each record has the result fields of
``bilevel-mp solve --json`` plus the reference value and a verdict:

- solved      certified, and |F - F_best| <= 1e-2 · max(1, |F_best|)
- improved    certified, and F below F_best by more than that (worth checking by hand)
- worse       certified, but F above F_best by more than that (a local optimum)
- certified   certified, but the problem has no reference value
- uncertified a point came back but the certificate failed (or was not exact)
- failed      no point (infeasible, error, time limit, crash), or an unbounded verdict

Certified means: the follower re-solved at x, gap <= 1e-4 · max(1, |f|), G and g
feasible to 1e-6 (see ``bilevel_mp.core.certify``).
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import time
import warnings
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .clock import with_grace
from .frontends.expr import problem_from_dict
from .solve import solve

REL_F_TOL = 1e-2
STARTUP_SECONDS = 3.0


def verdict(record: dict, F_best) -> str:
    """The verdict of one result record against the best known value."""
    if record.get("F") is None or record.get("status") in ("unbounded", "lower_level_unbounded", "error"):
        return "failed"
    if not record.get("certified"):
        return "uncertified"
    if F_best is None or (isinstance(F_best, float) and math.isnan(F_best)):
        return "certified"
    tol = REL_F_TOL * max(1.0, abs(F_best))
    if abs(record["F"] - F_best) <= tol:
        return "solved"
    if record["F"] < F_best - tol:
        return "improved"
    return "worse"


def _name(item):
    return item.get("name") if isinstance(item, dict) else getattr(item, "name", None)


def failed_record(item, status: str, message: str, seconds: float) -> dict:
    """The record of a problem (BOLIB dict or BilevelProblem) that gave no result."""
    return {"name": _name(item), "status": status, "method": "", "F": None, "f": None,
            "x": None, "y": None, "ll_gap": None, "certified": False, "seconds": seconds,
            "message": message}


def solve_record(item, options: dict) -> dict:
    """Solve one item (BOLIB dict or BilevelProblem) in this process; its result record,
    or an error record: recorded, never raised, so that a batch goes on."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            problem = problem_from_dict(item) if isinstance(item, dict) else item
            return solve(problem, **options).to_dict()
        except Exception as exc:
            rec = failed_record(item, "error", f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
            rec["method"] = options.get("method", "auto")
            return rec


def _child(fn, args, conn) -> None:
    conn.send(fn(*args))
    conn.close()


def run_isolated(tasks: list, jobs: int, hard_limit: float, failed, done=None,
                 context=None) -> list:
    """Run each task ``(fn, args)`` in a child process of its own, ``jobs`` at a time;
    ``fn(*args)`` (a picklable top-level function) returns the task's record. A child that
    crashes gives ``failed(k, "error", message, seconds)``, one that runs past
    ``hard_limit`` seconds is killed and gives ``failed(k, "time_limit", ...)``. ``done(k,
    record)`` is called as each task ends; the records come back in task order. The one
    process runner of the bench, the Dask batch's isolation aside, and the benchmarks."""
    if context is None:
        context = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    pending = list(enumerate(tasks))
    running: dict = {}
    records: list = [None] * len(tasks)
    try:
        while pending or running:
            while pending and len(running) < max(1, jobs):
                k, (fn, args) = pending.pop(0)
                parent, child = context.Pipe(duplex=False)
                proc = context.Process(target=_child, args=(fn, args, child), daemon=True)
                proc.start()
                child.close()
                running[k] = (proc, parent, time.perf_counter())
            time.sleep(0.02)
            for k in list(running):
                proc, conn, t0 = running[k]
                elapsed = time.perf_counter() - t0
                if conn.poll():
                    try:
                        records[k] = conn.recv()
                    except EOFError:
                        records[k] = failed(k, "error", "child process died", elapsed)
                elif not proc.is_alive():
                    records[k] = failed(k, "error", f"child process crashed (exit {proc.exitcode})", elapsed)
                elif elapsed > hard_limit:
                    proc.kill()
                    records[k] = failed(k, "time_limit", f"killed after {hard_limit:.0f} s", elapsed)
                else:
                    continue
                proc.join(timeout=5)
                conn.close()
                del running[k]
                if done is not None:
                    done(k, records[k])
    finally:
        for proc, conn, _ in running.values():
            proc.kill()
    return records


def run(entries: list[dict], time_limit: float = 60.0, jobs: int = 1, method: str = "auto",
        progress: bool = True, **solve_options) -> list[dict]:
    """Solve every entry (BOLIB dicts) in child processes; returns one record each,
    in input order, with ``n_x``, ``n_y``, ``F_best``, ``verdict`` added."""
    options = {"time_limit": time_limit, "method": method, **solve_options}
    hard = with_grace(time_limit) + STARTUP_SECONDS
    bar = progress_bar(progress, len(entries))

    def done(k, rec):
        if bar is not None:
            bar[0].update(bar[1], advance=1, description=str(entries[k].get("name", ""))[:30])

    try:
        records = run_isolated([(solve_record, (e, options)) for e in entries], jobs, hard,
                               lambda k, status, msg, s: failed_record(entries[k], status, msg, s), done)
    finally:
        if bar is not None:
            bar[0].stop()
    for rec, entry in zip(records, entries):
        F_best = entry.get("F_best")
        rec["n_x"], rec["n_y"], rec["F_best"] = entry.get("n_x"), entry.get("n_y"), F_best
        rec["verdict"] = verdict(rec, F_best)
    return records


def progress_bar(enabled: bool, total: int):
    """A started rich progress bar and its task id, or None when not ``enabled``."""
    if not enabled:
        return None

    prog = Progress(TextColumn("{task.description:30s}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), transient=False)
    prog.start()
    return prog, prog.add_task("bench", total=total)


def table(records: list[dict], title: str = "bilevel-mp bench"):
    """A rich Table: problem, n_x, n_y, F found, F best, verdict, seconds."""
    t = Table(title=title)
    for col in ("problem", "n_x", "n_y", "F found", "F best", "verdict", "status", "seconds"):
        t.add_column(col, justify="right" if col not in ("problem", "verdict", "status") else "left")
    for r in records:
        t.add_row(str(r["name"]), str(r.get("n_x")), str(r.get("n_y")), _fmt(r.get("F")),
                  _fmt(r.get("F_best")), r["verdict"], r["status"], f"{r['seconds']:.2f}")
    return t


def summary(records: list[dict]) -> str:
    """``solved K of N`` (improved counts as solved), with the other verdicts' counts."""
    n = len(records)
    counts: dict = {}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    k = counts.get("solved", 0) + counts.get("improved", 0)
    rest = ", ".join(f"{v} {c}" for v, c in sorted(counts.items()))
    times = sorted(r["seconds"] for r in records)
    median = times[len(times) // 2] if times else 0.0
    return f"solved {k} of {n}  ({rest}; median {median:.2f} s)"


def write_json(records: list[dict], path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(records, indent=1))


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.6g}"


def reason(record: dict) -> str:
    """A short human reason for a problem that was not solved."""
    v, st, msg = record["verdict"], record.get("status", ""), record.get("message") or ""
    structure = record.get("structure") or ""
    if v in ("solved", "improved"):
        return ""
    if st == "unbounded":
        return "leader objective unbounded over the inducible region (as encoded)"
    if st == "lower_level_unbounded" or "unbounded at this x" in msg:
        return "follower problem unbounded for some x (unbounded variables)"
    if st == "time_limit" or "killed" in msg:
        where = "nonconvex follower" if "NLP" in structure or "NCQP" in structure else "follower"
        return f"solver time limit ({where}, {structure})"
    if st == "infeasible":
        return "reported infeasible"
    if v == "worse":
        return f"certified point worse than the reference (local optimum; {structure})"
    if v == "certified":
        return "certified point, but no reference value to compare"
    return f"{st}: {msg[:120]}"


def markdown_report(records: list[dict], command: str, machine: str) -> str:
    """``benchmarks/BOLIB.md``: summary, every problem not solved with its reason, the
    improved ones with their points, and the full table."""
    lines = ["# BOLIB benchmark", "", f"Generated by `{command}` on {machine}.", "",
             f"**{summary(records)}**", ""]
    ref = [r for r in records if r.get("F_best") is not None and not
           (isinstance(r["F_best"], float) and math.isnan(r["F_best"]))]
    solved_ref = sum(r["verdict"] in ("solved", "improved") for r in ref)
    lines += [f"With a reference value (status 1 or 2): {solved_ref} of {len(ref)} solved or improved.", ""]
    bad = [r for r in records if r["verdict"] not in ("solved", "improved")]
    lines += ["## Not solved", "", "| problem | n_x | n_y | class | verdict | F found | F best | reason |",
              "|---|---|---|---|---|---|---|---|"]
    for r in bad:
        lines.append(f"| {r['name']} | {r.get('n_x')} | {r.get('n_y')} | {r.get('structure', '')} | "
                     f"{r['verdict']} | {_fmt(r.get('F'))} | {_fmt(r.get('F_best'))} | {reason(r)} |")
    imp = [r for r in records if r["verdict"] == "improved"]
    lines += ["", "## Improved on the reference value (certified; check by hand)", "",
              "| problem | F found | F best | x | y |", "|---|---|---|---|---|"]
    for r in imp:
        xs = ", ".join(f"{v:.6g}" for v in (r.get("x") or []))
        ys = ", ".join(f"{v:.6g}" for v in (r.get("y") or []))
        lines.append(f"| {r['name']} | {_fmt(r['F'])} | {_fmt(r['F_best'])} | {xs} | {ys} |")
    lines += ["", "## All problems", "",
              "| problem | n_x | n_y | class | method | status | F found | F best | verdict | ll_gap | seconds |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        gap = "-" if r.get("ll_gap") is None else f"{r['ll_gap']:.1e}"
        lines.append(f"| {r['name']} | {r.get('n_x')} | {r.get('n_y')} | {r.get('structure', '')} | "
                     f"{r.get('found_by') or r.get('method', '')} | {r['status']} | {_fmt(r.get('F'))} | {_fmt(r.get('F_best'))} | "
                     f"{r['verdict']} | {gap} | {r['seconds']:.2f} |")
    return "\n".join(lines) + "\n"
