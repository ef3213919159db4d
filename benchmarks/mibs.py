"""MibS's own instances through ``bilevel-mp solve``, side by side with MibS's results.

    python benchmarks/mibs.py [--dir ../shared/mibs] [--time-limit S] [--filter TEXT]
                              [--json OUT.json] [--report benchmarks/MIBS.md]

``--dir`` holds MibS instances and an ``optima.jsonl`` with MibS's status, objective,
bound and seconds per instance (the format of ``../shared/mibs``; a folder of held-back
instances in the same format works the same way). Each instance is solved by
``bilevel-mp solve FILE.mps --aux FILE.aux --time-limit T --json ...`` in a fresh process,
one at a time, with T = MibS's own limit for that instance (``mibs_time_limit_s``) unless
``--time-limit`` caps it. Objectives are compared in MibS's form (the leader's objective,
minimised). Verdicts:

- ``solved``    ours optimal and MibS optimal with the same objective (1e-6 relative)
- ``WRONG``     ours optimal but MibS proved another value, or ours certified with an
                objective below MibS's proven optimum
- ``ours only`` ours optimal where MibS stopped at its limit (objective vs its bound)
- ``open``      neither proved it; ours certified (compare the objectives)
- ``not proven`` MibS proved it, ours did not (status and objective given)
- ``failed``    no certified point from us
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bilevel_mp.errors import BilevelError
from bilevel_mp.frontends.mps_aux import read_mps_aux

ROOT = Path(__file__).resolve().parents[1]
REL = 1e-6


def _same(a, b) -> bool:
    return a is not None and b is not None and abs(a - b) <= REL * max(1.0, abs(b))


def solve_one(folder: Path, entry: dict, time_limit: float) -> dict:
    """Run ``bilevel-mp solve`` on one instance; return its record with our objective in
    MibS's (minimisation) form and the wall seconds of the whole process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "bilevel_mp.cli", "solve", str(folder / entry["mps"]),
               "--aux", str(folder / entry["aux"]), "--time-limit", str(time_limit), "--json", str(out)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3 * time_limit + 120)
        wall = time.perf_counter() - t0
        rec = json.loads(out.read_text()) if out.exists() else {}
    if isinstance(rec, list):
        rec = rec[0] if rec else {}
    rec = {k: rec.get(k) for k in ("status", "F", "bound", "certified", "found_by", "seconds", "message")}
    rec["wall"] = wall
    rec["returncode"] = proc.returncode
    if proc.returncode and not rec.get("status"):
        rec["message"] = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        rec["message"] = rec["message"][0]
    try:  # to MibS's min form
        sign = read_mps_aux(folder / entry["mps"], folder / entry["aux"]).sense_sign
    except BilevelError:  # a reader that refuses the file (an older version): no objective to flip
        sign = 1.0
    rec["objective"] = None if rec.get("F") is None else sign * rec["F"]
    rec["our_bound"] = None if rec.get("bound") is None else sign * rec["bound"]
    return rec


def verdict(entry: dict, rec: dict) -> str:
    ours_opt = rec.get("status") == "optimal"
    mibs_opt = entry["mibs_status"] == "optimal"
    obj = rec.get("objective")
    if not rec.get("certified") or obj is None:
        return "failed"
    if mibs_opt and (ours_opt and not _same(obj, entry["objective"])
                     or obj < entry["objective"] - REL * max(1.0, abs(entry["objective"]))):
        return "WRONG"
    if ours_opt and not mibs_opt and entry.get("bound") is not None \
            and obj < entry["bound"] - REL * max(1.0, abs(entry["bound"])):
        return "WRONG"  # below MibS's proven bound
    if ours_opt and mibs_opt:
        return "solved"
    if ours_opt:
        return "ours only"
    return "not proven" if mibs_opt else "open"


def report(rows: list[tuple[dict, dict]], command: str) -> str:
    proven = [(e, r) for e, r in rows if e["mibs_status"] == "optimal"]
    solved = [(e, r) for e, r in proven if r["verdict"] == "solved"]
    ratios = [(r.get("seconds") or r["wall"]) / max(e["mibs_seconds"], 1e-3) for e, r in solved]
    walls = [r["wall"] / max(e["mibs_seconds"], 1e-3) for e, r in solved]
    wrong = sum(r["verdict"] == "WRONG" for _, r in rows)
    lines = ["# MibS instances through `bilevel-mp solve`\n", f"Command: `{command}`\n",
             f"- instances: {len(rows)}; MibS proved {len(proven)}",
             f"- certified optimum with MibS's value: {len(solved)} of {len(proven)} "
             f"({100 * len(solved) / max(1, len(proven)):.0f}%)",
             f"- wrong: {wrong}",
             f"- ours optimal where MibS stopped at its limit: {sum(r['verdict'] == 'ours only' for _, r in rows)}",
             f"- median ratio of our time to MibS's on the solved ones: {statistics.median(ratios):.2f} "
             f"(the solve's own seconds); {statistics.median(walls):.2f} (our whole process, Python start "
             "included)" if ratios else "- no ratio: nothing solved",
             "", *folder_table(rows),
             "", "| instance | MibS status | MibS obj | MibS s | ours | our obj | our bound | our solve s "
             "| our process s | verdict |", "|---|---|---|---|---|---|---|---|---|---|"]
    for e, r in rows:
        lines.append(f"| {e['name']} | {e['mibs_status']} | {_fmt(e['objective'])} | {_fmt(e['mibs_seconds'])} | "
                     f"{r.get('status')} | {_fmt(r.get('objective'))} | {_fmt(r.get('our_bound'))} | "
                     f"{_fmt(r.get('seconds'))} | {_fmt(r['wall'])} | {r['verdict']} |")
    return "\n".join(lines) + "\n"


def folder_table(rows) -> list[str]:
    """One line per instance folder: counts, and median seconds of what each side proved."""
    groups: dict = {}
    for e, r in rows:
        groups.setdefault(str(Path(e["mps"]).parent), []).append((e, r))
    out = ["| folder | instances | MibS proved | median MibS s | we proved | median our s | wrong |",
           "|---|---|---|---|---|---|---|"]
    for folder, items in sorted(groups.items()):
        mibs = [e["mibs_seconds"] for e, _ in items if e["mibs_status"] == "optimal"]
        ours = [r.get("seconds") or r["wall"] for _, r in items if r["verdict"] in ("solved", "ours only")]
        wrong = sum(r["verdict"] == "WRONG" for _, r in items)
        out.append(f"| {folder} | {len(items)} | {len(mibs)} | {_fmt(statistics.median(mibs)) if mibs else '–'} | "
                   f"{len(ours)} | {_fmt(statistics.median(ours)) if ours else '–'} | {wrong} |")
    return out


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(ROOT.parent / "shared" / "mibs"))
    ap.add_argument("--time-limit", type=float, default=None, help="cap on MibS's own limit (seconds)")
    ap.add_argument("--filter", default="", help="only instances whose name or path contains this")
    ap.add_argument("--json", default=None)
    ap.add_argument("--report", default=None)
    args = ap.parse_args(argv)
    folder = Path(args.dir)
    entries = [json.loads(line) for line in (folder / "optima.jsonl").read_text().splitlines() if line.strip()]
    entries = [e for e in entries if args.filter in e["name"] or args.filter in e["mps"]]
    rows = []
    for k, e in enumerate(entries, 1):
        limit = float(e.get("mibs_time_limit_s") or 300.0)
        if args.time_limit is not None:
            limit = min(limit, args.time_limit)
        rec = solve_one(folder, e, limit)
        rec["time_limit"] = limit
        rec["verdict"] = verdict(e, rec)
        rows.append((e, rec))
        print(f"[{k}/{len(entries)}] {e['name']}: {rec.get('status')} {_fmt(rec.get('objective'))} "
              f"(MibS {e['mibs_status']} {_fmt(e['objective'])}) {rec['wall']:.1f} s  {rec['verdict']}",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps([{**e, "ours": r} for e, r in rows], indent=1))
    command = "python benchmarks/mibs.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(rows, command)
    if args.report:
        Path(args.report).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
