"""Scaling of the exact LP-LP methods on random instances (``bilevel_mp.library.random_lplp``).

    python benchmarks/lplp_scaling.py                        # full run, 1 job (clean timings)
    python benchmarks/lplp_scaling.py --n 5 10 15 --jobs 2   # a subset, 2 processes
    python benchmarks/lplp_scaling.py --write-json data/lplp  # BOLIB JSON files, then exit
                                                              # (bilevel-mp solve FILE runs them)

For every size n (default 5, 10, 15, 20, 25, 30, 40, 50, 60, 80) and seed (default 0, 1, 2)
each mode runs with its own time limit (default 60 s) in a fresh process:

    sos1, indicator        KKT + SOS1 / indicator complementarity, SCIP        (exact)
    strong_duality         strong-duality reformulation, SCIP                   (exact)
    bigm                   KKT + big-M with a guessed dual bound, HiGHS         (unproven)
    complementarity_bb     bilevel_mp.algorithms.complementarity_bb, HiGHS LPs  (exact)
    auto                   the default path (bilevel_mp.solve(p)), a portfolio of the above

A mode stops at the first n where none of its seeds is solved (proven optimal; for bigm:
certified, which is the most it can claim). The table shows, per n and mode, how many
seeds were solved and the slowest solved time; the summary gives the largest n whose
seeds were all solved within the limit. Timings are wall-clock seconds inside the worker
(model building + solve + certificate), so use ``--jobs 1`` (the default) for numbers
you report. Results go to ``results/lplp_scaling.json``.
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

from bilevel_mp.bench import run_isolated  # noqa: E402

MODES = ("sos1", "indicator", "strong_duality", "bigm", "complementarity_bb", "auto")
DEFAULT_N = (5, 10, 15, 20, 25, 30, 40, 50, 60, 80)


def run_one(mode: str, n: int, seed: int, time_limit: float, dual_bound: float) -> dict:
    """Solve one instance with one mode (runs inside a worker process)."""
    import bilevel_mp as bmp
    from bilevel_mp.library.random_lplp import random_lplp

    p = random_lplp(n, seed)
    t0 = time.perf_counter()
    try:
        if mode in ("complementarity_bb", "auto"):
            r = bmp.solve(p, method=mode, time_limit=time_limit)
        elif mode == "strong_duality":
            r = bmp.solve(p, method="strong_duality", time_limit=time_limit)
        elif mode == "bigm":
            r = bmp.solve(p, method="kkt", mode="bigm", dual_bound=dual_bound, time_limit=time_limit)
        else:
            r = bmp.solve(p, method="kkt", mode=mode, time_limit=time_limit)
    except Exception as exc:  # a crash is a result too
        return dict(mode=mode, n=n, seed=seed, status="exception", F=None, bound=None, certified=False,
                    seconds=time.perf_counter() - t0, message=f"{type(exc).__name__}: {exc}"[:300])
    seconds = time.perf_counter() - t0
    return dict(mode=mode, n=n, seed=seed, status=r.status, F=r.F, bound=r.bound,
                certified=bool(r.certified), seconds=seconds, message=(r.message or "")[:300])


def solved(rec: dict, time_limit: float) -> bool:
    """Proven optimal (or proven infeasible) within the limit; bigm: certified feasible,
    its best possible claim."""
    if rec["seconds"] > time_limit * 1.05 + 5:  # building/certifying must not hide a time-out
        return False
    if rec["status"] == "infeasible":  # proven for the exact modes; bigm's claim otherwise
        return True
    if rec["mode"] == "bigm":
        return rec["status"] == "feasible" and rec["certified"]
    return rec["status"] == "optimal" and rec["certified"]


def _run_one_in_child(mode, n, seed, time_limit, dual_bound) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return run_one(mode, n, seed, time_limit, dual_bound)


def run_tasks(tasks, jobs, time_limit, dual_bound, on_done):
    """Run (mode, n, seed) tasks, each in a fresh (spawned) process, ``jobs`` at a time,
    through the package's process runner; a worker that overruns its limit by more than
    2x + 60 s is killed and recorded as such."""
    def failed(k, status, message, seconds):
        mode, n, seed = tasks[k]
        return dict(mode=mode, n=n, seed=seed, status={"time_limit": "killed"}.get(status, "crashed"),
                    F=None, bound=None, certified=False, seconds=seconds, message=message)

    run_isolated([(_run_one_in_child, (mode, n, seed, time_limit, dual_bound)) for mode, n, seed in tasks],
                 jobs, 2 * time_limit + 60, failed, lambda k, rec: on_done(rec), mp.get_context("spawn"))


def write_instances(directory: Path, ns, seeds) -> list[Path]:
    from bilevel_mp.frontends.expr import problem_to_dict
    from bilevel_mp.library.random_lplp import random_lplp

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in ns:
        for seed in seeds:
            p = random_lplp(n, seed)
            path = directory / f"{p.name}.json"
            path.write_text(json.dumps(problem_to_dict(p), indent=1))
            paths.append(path)
    return paths


def table(records, modes, ns, seeds, time_limit):
    from rich.table import Table

    t = Table(title=f"random LP-LP: seeds solved / {len(seeds)} (slowest solved, s); limit {time_limit:g} s")
    t.add_column("n", justify="right")
    for mode in modes:
        t.add_column(mode + (" (unproven)" if mode == "bigm" else ""), justify="right")
    by = {(r["mode"], r["n"], r["seed"]): r for r in records}
    for n in ns:
        row = [str(n)]
        for mode in modes:
            recs = [by.get((mode, n, s)) for s in seeds]
            if all(r is None for r in recs):
                row.append("-")
                continue
            ok = [r for r in recs if r is not None and solved(r, time_limit)]
            worst = max((r["seconds"] for r in ok), default=None)
            other = sorted({r["status"] for r in recs if r is not None and not solved(r, time_limit)})
            cell = f"{len(ok)}/{len(seeds)}" + (f" ({worst:.1f})" if worst is not None else "")
            if other:
                cell += " " + ",".join(other)
            row.append(cell)
        t.add_row(*row)
    return t


def largest_all_solved(records, mode, ns, seeds, time_limit):
    best = None
    by = {(r["mode"], r["n"], r["seed"]): r for r in records}
    for n in ns:
        recs = [by.get((mode, n, s)) for s in seeds]
        if all(r is not None and solved(r, time_limit) for r in recs):
            best = n
        else:
            break
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=list(DEFAULT_N))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--dual-bound", type=float, default=1e4, help="big-M's guessed dual bound")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "results" / "lplp_scaling.json"))
    ap.add_argument("--write-json", metavar="DIR", help="write the instances as BOLIB JSON and exit")
    args = ap.parse_args(argv)

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(width=150)
    ns = sorted(set(args.n))
    if args.write_json:
        paths = write_instances(Path(args.write_json), ns, args.seeds)
        console.print(f"wrote {len(paths)} instances to {args.write_json} (e.g. bilevel-mp solve {paths[0]})")
        return 0

    records: list[dict] = []
    active = list(args.modes)
    total = len(ns) * len(args.seeds) * len(active)
    t_start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("lplp scaling", total=total)
        for n in ns:
            if not active:
                break
            tasks = [(mode, n, seed) for mode in active for seed in args.seeds]

            def done(rec):
                records.append(rec)
                if not console.is_terminal:  # a log file: one line per finished run
                    console.print(f"n={rec['n']} {rec['mode']} seed {rec['seed']}: {rec['status']} "
                                  f"F={rec['F']} {rec['seconds']:.1f} s", highlight=False)
                progress.update(bar, advance=1, description=(
                    f"n={rec['n']:>3} {rec['mode']:<18} seed {rec['seed']}: {rec['status']} "
                    f"{rec['seconds']:.1f} s"))

            run_tasks(tasks, args.jobs, args.time_limit, args.dual_bound, done)
            for mode in list(active):
                recs = [r for r in records if r["mode"] == mode and r["n"] == n]
                if not any(solved(r, args.time_limit) for r in recs):
                    active.remove(mode)
                    skipped = len([m for m in ns if m > n]) * len(args.seeds)
                    progress.update(bar, advance=skipped)
    console.print(table(records, args.modes, ns, args.seeds, args.time_limit))
    summary = {m: largest_all_solved(records, m, ns, args.seeds, args.time_limit) for m in args.modes}
    for m, v in summary.items():
        label = (" (certified, optimality unproven: guessed dual bound)" if m == "bigm"
                 else " (proven optimal or proven infeasible)")
        console.print(f"largest n with all seeds solved within {args.time_limit:g} s, {m}: {v}{label}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(
        machine=dict(platform=platform.platform(), python=platform.python_version(), cpus=os.cpu_count(),
                     processor=platform.processor()),
        time_limit=args.time_limit, dual_bound=args.dual_bound, jobs=args.jobs, ns=ns, seeds=args.seeds,
        modes=args.modes, wall_seconds=time.perf_counter() - t_start,
        largest_n_all_solved=summary, results=sorted(records, key=lambda r: (r["mode"], r["n"], r["seed"])),
    ), indent=1))
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
