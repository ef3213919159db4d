"""Command line: ``bilevel-mp solve | bench | demo | nas``.

    bilevel-mp demo                                   classic problems, a table
    bilevel-mp solve FILE.json [--time-limit S] [--json OUT] [--method M] [--mode MODE]
    bilevel-mp solve FILE.mps [--aux FILE.aux] [--time-limit S] [--json OUT]
    bilevel-mp bench FILE.json [--time-limit S] [--jobs N] [--json OUT]
    bilevel-mp bench FILE.json --scheduler tcp://HOST:8786 | local   (Dask, docs/cluster.md)

FILE.json holds one problem or a list in the BOLIB format (see README); FILE.mps (or
.mps.gz, .lp) is a MibS/BOBILib instance whose AUX file is FILE.aux unless --aux says.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

from .errors import BilevelError


def _console():
    from rich.console import Console

    import shutil

    return Console(width=max(120, shutil.get_terminal_size((120, 24)).columns))


def cmd_solve(args) -> int:
    from .frontends.expr import load_problems
    from .solve import solve

    problems = load_problems(args.file, aux=args.aux)
    console = _console()
    records = []
    for p in problems:
        res = solve(p, method=args.method, mode=args.mode, time_limit=args.time_limit,
                    certify_time_limit=args.time_limit or 60.0)
        console.print(res.summary(), highlight=False)
        if p.known_F is not None:
            console.print(f"  known F* = {p.known_F:.6g}", highlight=False)
        records.append(res.to_dict())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(records[0] if len(records) == 1 else records, indent=1))
        console.print(f"wrote {args.json}")
    return 0 if all(r["status"] in ("optimal", "locally_optimal", "feasible") for r in records) else 1


def cmd_bench(args) -> int:
    from . import bench

    path = Path(args.file)
    if not path.exists():
        raise BilevelError(f"no such file: {path}")
    from .frontends.mps_aux import is_mps_path

    if is_mps_path(path):
        raise BilevelError(f"{path}: bench takes a BOLIB JSON list; solve an MPS+AUX instance with "
                           "'bilevel-mp solve FILE.mps', or batch several with bilevel_mp.batch.solve_many")
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BilevelError(f"{path}: not valid JSON ({exc})") from None
    entries = entries if isinstance(entries, list) else [entries]
    if args.filter:
        entries = [e for e in entries if args.filter in e.get("name", "")]
    if args.scheduler:
        from .batch import solve_many

        client = None if args.scheduler == "local" else args.scheduler
        records = solve_many(entries, client=client, time_limit=args.time_limit, method=args.method,
                             jobs=args.jobs, isolate=not args.no_isolate, progress=not args.no_progress)
    else:
        records = bench.run(entries, time_limit=args.time_limit, jobs=args.jobs, method=args.method,
                            progress=not args.no_progress)
    console = _console()
    console.print(bench.table(records, title=f"bilevel-mp bench {path.name}"))
    console.print(bench.summary(records))
    for r in records:
        if r["verdict"] == "improved":
            console.print(f"  improved: {r['name']}  F = {r['F']:.6g} < F_best = {r['F_best']:.6g} "
                          f"at x = {r['x']}, y = {r['y']}", highlight=False)
    if args.json:
        bench.write_json(records, args.json)
        console.print(f"wrote {args.json}")
    if args.report:
        import platform

        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        cmd = "bilevel-mp bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else "bilevel-mp bench"
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(bench.markdown_report(records, cmd, machine))
        console.print(f"wrote {args.report}")
    return 0


def cmd_demo(args) -> int:
    """Solve a handful of classic problems and print a table."""
    from rich.table import Table

    from .library import classic
    from .solve import solve

    names = ["Bard1984a", "Bard1984b", "TuyEtal1993", "BilevelJuMPReadme", "MooreBard1990Cont",
             "IntegerLeaderLP", "FrankeEtal2018Ex53", "ClarkWesterberg1990a", "Bard1988Ex2",
             "CalamaiVicente1994b"]
    table = Table(title="bilevel-mp demo: classic bilevel problems, solved and certified")
    for col in ("problem", "class", "method", "F", "known F*", "lower-level gap", "certified", "seconds"):
        table.add_column(col, justify="left" if col in ("problem", "class", "method") else "right")
    console = _console()
    with console.status("solving...") as status:
        for name in names:
            status.update(f"solving {name}")
            p = classic.get(name)
            t0 = time.perf_counter()
            r = solve(p, time_limit=args.time_limit)
            gap = "-" if r.ll_gap is None else f"{r.ll_gap:.1e}"
            table.add_row(name, r.structure, r.method, "-" if r.F is None else f"{r.F:.6g}",
                          "-" if p.known_F is None else f"{p.known_F:.6g}", gap,
                          "yes" if r.certified else "NO", f"{time.perf_counter() - t0:.2f}")
    console.print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bilevel-mp", description="Bilevel optimisation on real MP solvers")
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="solve the problem(s) in a BOLIB JSON file or an MPS+AUX instance")
    s.add_argument("file", help="BOLIB-format JSON, or an MPS/LP instance file (MibS, BOBILib)")
    s.add_argument("--aux", default=None, help="the AUX file of an MPS instance (default: FILE.aux next to it)")
    s.add_argument("--time-limit", type=float, default=None, help="seconds per solve")
    s.add_argument("--json", default=None, help="write the result(s) to this JSON file")
    s.add_argument("--method", default="auto")
    s.add_argument("--mode", default="sos1", help="KKT complementarity: sos1, indicator, bigm, product")
    s.set_defaults(func=cmd_solve)

    b = sub.add_parser("bench", help="solve a list of problems, one process each, with verdicts")
    b.add_argument("file")
    b.add_argument("--time-limit", type=float, default=60.0)
    b.add_argument("--jobs", type=int, default=1)
    b.add_argument("--json", default=None)
    b.add_argument("--method", default="auto")
    b.add_argument("--filter", default=None, help="only problems whose name contains this")
    b.add_argument("--no-progress", action="store_true")
    b.add_argument("--report", default=None, help="write a markdown report (e.g. benchmarks/BOLIB.md)")
    b.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on Dask: a scheduler address (tcp://host:8786), or 'local' for a "
                        "LocalCluster of --jobs workers (pip install 'bilevel-mp[cluster]')")
    b.add_argument("--no-isolate", action="store_true",
                   help="with --scheduler: solve inside the worker (no hard kill; faster start)")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("demo", help="solve classic problems and print a table")
    d.add_argument("--time-limit", type=float, default=60.0)
    d.set_defaults(func=cmd_demo)

    from nas_frontend.cli import add_parser as add_nas_parser  # torch is imported only when run

    add_nas_parser(sub)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "time_limit", None) is not None and args.time_limit <= 0:
        print("bilevel-mp: --time-limit must be positive", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore", category=UserWarning)
    try:
        return args.func(args)
    except BilevelError as exc:
        print(f"bilevel-mp: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
