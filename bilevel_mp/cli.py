"""Command line: ``bilevel-mp solve | bench | demo | nas`` (and ``--version``).

    bilevel-mp --version                              prints "bilevel-mp <version>"
    bilevel-mp demo                                   classic problems, a table
    bilevel-mp solve FILE.json [--time-limit S] [--json OUT] [--method M] [--mode MODE]
                     [--dual-bound M] [--solver NAME] [--x0 1,2] [--set KEY=VALUE ...]
                     [--quiet] [--solver-log] [--export MODEL.mps]
    bilevel-mp solve FILE.mps [--aux FILE.aux] [--time-limit S] [--json OUT]
    bilevel-mp bench FILE.json [--time-limit S] [--jobs N] [--json OUT]
    bilevel-mp bench FILE.json --scheduler tcp://HOST:8786 | local   (Dask, docs/cluster.md)

FILE.json holds one problem or a list in the BOLIB format (see README); FILE.mps (or
.mps.gz, .lp) is a MibS/BOBILib instance whose AUX file is FILE.aux (or FILE.mps.aux, or
MibS's FILE.txt) unless --aux says.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import shutil
import sys
import textwrap
import time
import warnings
from importlib.metadata import entry_points
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import __version__, bench
from .batch import solve_many
from .backends import BACKENDS
from .core.context import CERTIFY_TIME_LIMIT
from .errors import BilevelError, BilevelInputError
from .export import EXPORTABLE, export
from .frontends.expr import load_problems, read_entries
from .frontends.mps_aux import is_mps_path
from .library import classic
from .methods import METHODS, setting_names
from .reformulations.complementarity import MODES
from .solve import solve


def _console():
    return Console(width=max(120, shutil.get_terminal_size((120, 24)).columns))


def method_settings(args) -> dict:
    """The method settings given on the command line (only those given)."""
    out = {}
    for key in ("mode", "dual_bound", "solver"):
        if getattr(args, key, None) is not None:
            out[key] = getattr(args, key)
    if getattr(args, "x0", None) is not None:
        try:
            out["x0"] = [float(v) for v in args.x0.split(",")]
        except ValueError:
            raise BilevelInputError(f"--x0 takes comma-separated numbers, got {args.x0!r}") from None
    out.update(parse_assignments(getattr(args, "set", None) or [], "--set"))
    return out


def parse_assignments(items, option: str) -> dict:
    """``["node_limit=1000", "norm=2", "line_search=golden"]`` -> a dict, each value read
    as JSON (numbers, true/false, lists) or else kept as a string."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BilevelInputError(f"{option} takes KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value  # a bare word: a string setting
    return out


def cmd_solve(args) -> int:
    problems = load_problems(args.file, aux=args.aux)
    settings = method_settings(args)
    console = _console()
    records = []
    if args.export:
        for p in problems:
            path = export_path(args.export, p.name, len(problems))
            info = export(p, path, method=export_method(args.method), **settings)
            console.print(f"wrote the {info.method} model of {p.name} to {info.path} "
                          f"({info.n_columns} columns, {info.n_rows} rows, {info.n_sos1} SOS1 sets)",
                          highlight=False, markup=False)
    for p in problems:
        res = solve(p, method=args.method, time_limit=args.time_limit,
                    certify_time_limit=args.certify_time_limit, verbose=not args.quiet,
                    solver_log=args.solver_log, **settings)
        console.print(res.summary(), highlight=False, markup=False)
        if p.known_F is not None:
            console.print(f"  known F* = {p.known_F:.6g}", highlight=False)
        records.append(res.to_dict())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(records[0] if len(records) == 1 else records, indent=1))
        console.print(f"wrote {args.json}")
    return 0 if all(r["status"] in ("optimal", "locally_optimal", "feasible") for r in records) else 1


def export_method(method: str) -> str:
    """The model ``--export`` writes: the method's own, or KKT's for ``auto``."""
    if method == "auto":
        return "kkt"
    if method not in EXPORTABLE:
        raise BilevelInputError(f"--export writes the model of {', '.join(EXPORTABLE)} (or auto: kkt); "
                                f"method {method!r} solves no single model")
    return method


def export_path(template: str, name: str, count: int) -> Path:
    """``template`` for one problem; ``stem_<name>.suffix`` for each of several."""
    path = Path(template)
    if count == 1:
        return path
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return path.with_name(f"{path.stem}_{safe}{path.suffix}")


def cmd_bench(args) -> int:
    path = Path(args.file)
    settings = method_settings(args)
    if args.certify_time_limit is not None:
        settings["certify_time_limit"] = args.certify_time_limit
    if is_mps_path(path):
        raise BilevelError(f"{path}: bench takes a BOLIB JSON list; solve an MPS+AUX instance with "
                           "'bilevel-mp solve FILE.mps', or batch several with bilevel_mp.batch.solve_many")
    entries = read_entries(path)
    if args.filter:
        names = [e.get("name", "") if isinstance(e, dict) else "" for e in entries]
        entries = [e for e, name in zip(entries, names) if args.filter in str(name)]
        if not entries:
            near = difflib.get_close_matches(args.filter, [str(n) for n in names], n=3, cutoff=0.3)
            hint = f" (close: {', '.join(near)})" if near else ""
            raise BilevelError(f"--filter {args.filter!r} matches none of the {len(names)} problems "
                               f"in {path}{hint}")
    if args.scheduler:
        client = None if args.scheduler == "local" else args.scheduler
        records = solve_many(entries, client=client, time_limit=args.time_limit, method=args.method,
                             jobs=args.jobs, isolate=not args.no_isolate, progress=not args.no_progress,
                             **settings)
    else:
        records = bench.run(entries, time_limit=args.time_limit, jobs=args.jobs, method=args.method,
                            progress=not args.no_progress, **settings)
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
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        cmd = "bilevel-mp bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else "bilevel-mp bench"
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(bench.markdown_report(records, cmd, machine))
        console.print(f"wrote {args.report}")
    return 0


def cmd_demo(args) -> int:
    """Solve a handful of classic problems and print a table."""
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
            table.add_row(name, r.structure, r.found_by, "-" if r.F is None else f"{r.F:.6g}",
                          "-" if p.known_F is None else f"{p.known_F:.6g}", gap,
                          "yes" if r.certified else "NO", f"{time.perf_counter() - t0:.2f}")
    console.print(table)
    return 0


#: One line per method for ``--help`` (tests check every key of ``METHODS`` has one).
METHOD_HELP = {
    "auto": "picks the methods below by the problem's structure; never loses a point",
    "kkt": "follower replaced by its KKT conditions (complementarity by --mode); global, "
           "exact for followers convex in y",
    "strong_duality": "follower's primal and dual feasibility plus strong duality (LP and "
                      "convex-QP followers); global",
    "follower_dual": "follower's LP dual in the leader's model, for leaders that see y only "
                     "through -f (interdiction, max-min); global",
    "value_function": "value-function cutting planes: nonconvex and integer followers; global",
    "complementarity_bb": "branch-and-bound on the follower's complementarity pairs "
                          "(continuous LP-LP); global",
    "regularized": "Scholtes-regularised KKT from several starts; local",
    "descent": "auxiliary LP/QP descent from --x0 (continuous x); local",
    "trust_region": "Colson-Marcotte-Savard trust region from --x0; local",
    "penalty": "follower's duality gap penalised in the leader's objective; local",
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs kept as written; every option's help ends with its default, unless the
    help already states it or the option is a flag (default: off)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default:" in text or "%(default)" in text or action.default is argparse.SUPPRESS \
                or action.nargs == 0 or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _takes(setting: str) -> str:
    """The methods that have ``setting``, comma-separated (read from their Settings)."""
    return ", ".join(name for name, m in METHODS.items() if setting in setting_names(m.Settings))


def _methods_epilog() -> str:
    """``--method``'s choices, one (wrapped) line each."""
    width = max(len(name) for name in METHODS)
    lines = [textwrap.fill(METHOD_HELP.get(name, ""), 88, initial_indent=f"  {name:<{width}}  ",
                           subsequent_indent=" " * (width + 4)) for name in METHODS]
    return "methods (--method METHOD):\n" + "\n".join(lines)


def add_method_options(p: argparse.ArgumentParser) -> None:
    """--method and the settings every method may take (choices from the registries)."""
    g = p.add_argument_group("method")
    g.add_argument("--method", default="auto", choices=list(METHODS), metavar="METHOD",
                   help="one of: %(choices)s (one line each below)")
    g.add_argument("--mode", default=None, choices=list(MODES),
                   help=f"KKT complementarity, for methods {_takes('mode')} (default: sos1; "
                        "auto: chosen per stage)")
    g.add_argument("--dual-bound", type=float, default=None, metavar="M",
                   help="bound on the follower's multipliers, needed by --mode bigm; a result "
                        "resting on it is at best 'feasible' (default: none)")
    g.add_argument("--solver", default=None, metavar="NAME",
                   help=f"force a back end, for methods {_takes('solver')}: one of "
                        f"{', '.join(BACKENDS)}, or any solver Pyomo has installed (gurobi_direct, "
                        "cplex_direct, cbc, appsi_highs, ...) (default: HiGHS for LP/MILP models, "
                        "SCIP otherwise)")
    g.add_argument("--certify-time-limit", type=float, default=None, metavar="S",
                   help=f"seconds for each follower re-solve of the certificate "
                        f"(default: {CERTIFY_TIME_LIMIT:g})")
    g.add_argument("--x0", default=None, metavar="X",
                   help=f"leader start, comma-separated, for methods {_takes('x0')}, e.g. 0.5,1 "
                        "(default: the problem's xy_init, else its x values, else 0)")
    g.add_argument("--solver-log", "--verbose", dest="solver_log", action="store_true",
                   help=f"pass the solvers' own logs through (methods {_takes('verbose')})")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other setting of the method (JSON value), repeatable, e.g. "
                        "--set node_limit=1000 (default: none)")


def _add_subcommand(sub, name: str, help: str, **kw) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                          formatter_class=_HelpFormatter, **kw)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bilevel-mp", description="Bilevel optimisation on real MP solvers",
                                 formatter_class=_HelpFormatter)
    ap.add_argument("--version", action="version", version=f"bilevel-mp {__version__}",
                    help="print 'bilevel-mp <version>' and exit")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = _add_subcommand(sub, "solve", "solve the problem(s) in a BOLIB JSON file or an MPS+AUX "
                        "instance", epilog=_methods_epilog())
    s.add_argument("file", help="BOLIB-format JSON, or an MPS/LP instance file (MibS, BOBILib)")
    s.add_argument("--aux", default=None, metavar="FILE",
                   help="the AUX file of an MPS instance (default: FILE.aux, FILE.mps.aux or "
                        "FILE.txt next to it)")
    s.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="seconds per problem; the certificate may add 5%% + 2 s (default: no limit)")
    s.add_argument("--json", default=None, metavar="OUT",
                   help="write the result(s) to this JSON file (default: not written)")
    s.add_argument("--quiet", action="store_true",
                   help="no live progress line (stage, incumbent, bound, gap, seconds) on stderr")
    s.add_argument("--export", default=None, metavar="FILE.mps",
                   help=f"also write the single-level model to an MPS or LP file (method "
                        f"{', '.join(EXPORTABLE)}; auto: kkt; several problems: FILE_<name>.mps) "
                        "(default: not written)")
    add_method_options(s)
    s.set_defaults(func=cmd_solve)

    b = _add_subcommand(sub, "bench", "solve a list of problems, one process each, with verdicts",
                        epilog=_methods_epilog())
    b.add_argument("file", help="BOLIB-format JSON file holding a list of problems")
    b.add_argument("--time-limit", type=float, default=60.0, metavar="S", help="seconds per problem")
    b.add_argument("--jobs", type=int, default=1, metavar="N", help="problems solved in parallel")
    b.add_argument("--json", default=None, metavar="OUT",
                   help="write the records to this JSON file (default: not written)")
    add_method_options(b)
    b.add_argument("--filter", default=None, metavar="TEXT",
                   help="only problems whose name contains TEXT (default: all)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--report", default=None, metavar="OUT.md",
                   help="write a markdown report, e.g. benchmarks/BOLIB.md (default: not written)")
    b.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on Dask: a scheduler address (tcp://host:8786), or 'local' for a "
                        "LocalCluster of --jobs workers (pip install 'bilevel-mp[cluster]') "
                        "(default: local processes, no Dask)")
    b.add_argument("--no-isolate", action="store_true",
                   help="with --scheduler: solve inside the worker (no hard kill; faster start)")
    b.set_defaults(func=cmd_bench)

    d = _add_subcommand(sub, "demo", "solve classic problems and print a table")
    d.add_argument("--time-limit", type=float, default=60.0, metavar="S", help="seconds per problem")
    d.set_defaults(func=cmd_demo)

    for ep in entry_points(group="bilevel_mp.cli"):  # e.g. "nas" from nas_frontend
        ep.load()(sub)
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
    except KeyboardInterrupt:  # a second Ctrl-C (the first ends the solve with its best point)
        print("\nbilevel-mp: aborted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
