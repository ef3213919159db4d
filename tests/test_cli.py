"""The command line: solve --json, bench with verdicts, demo."""

import json
import subprocess
import sys

from bilevel_mp import bench
from bilevel_mp.cli import main
from tests.test_result_printing import floats
from bilevel_mp.frontends.expr import problem_to_dict
from bilevel_mp.library.classic import bolib_entries
from bilevel_mp.library.random_lplp import random_lplp

FIELDS = {"name", "status", "method", "F", "f", "x", "y", "ll_gap", "certified", "seconds"}


def test_solve_json_on_random_lplp_uses_linear_path(tmp_path):
    src = tmp_path / "rand.json"
    src.write_text(json.dumps(problem_to_dict(random_lplp(8, 3))))
    out = tmp_path / "out.json"
    rc = main(["solve", str(src), "--time-limit", "30", "--json", str(out)])
    rec = json.loads(out.read_text())
    assert FIELDS <= set(rec)
    # the LP-LP path: the complementarity branch-and-bound proves n = 8 in well under 30 s
    assert rec["structure"] == "LP-LP"
    assert rec["method"] == "auto" and rec["found_by"] == "complementarity_bb"
    assert rec["status"] == "optimal" and rec["certified"] and rc == 0
    # the same optimum by an independent exact method (KKT + SOS1 on SCIP) through the CLI
    out2 = tmp_path / "kkt.json"
    assert main(["solve", str(src), "--method", "kkt", "--json", str(out2)]) == 0
    rec2 = json.loads(out2.read_text())
    assert rec2["method"] == "kkt" and rec2["mode"] == "sos1" and rec2["status"] == "optimal"
    assert abs(rec2["F"] - rec["F"]) <= 1e-6 * max(1.0, abs(rec["F"]))


def test_cli_reaches_method_settings(tmp_path, capsys):
    src = tmp_path / "bard.json"
    src.write_text(json.dumps(bolib_entries()["Bard1984a"]))
    out = tmp_path / "bigm.json"
    # big-M needs a dual bound, which the CLI now takes; the result rests on it: feasible
    assert main(["solve", str(src), "--mode", "bigm", "--dual-bound", "1e4", "--method", "kkt",
                 "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["mode"] == "bigm" and rec["status"] == "feasible" and rec["certified"]
    assert abs(rec["F"] - 28 / 9) <= 1e-6
    # a start point and any other setting reach a local method
    out = tmp_path / "descent.json"
    assert main(["solve", str(src), "--method", "descent", "--x0", "4", "--set", "radius=0.5",
                 "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["method"] == "descent" and rec["certified"] and abs(rec["F"] - 28 / 9) <= 1e-5
    # a setting the method does not have: exit 2, one line naming the valid ones
    assert main(["solve", str(src), "--method", "descent", "--set", "node_limit=3"]) == 2
    err = capsys.readouterr().err
    assert "no setting 'node_limit'" in err and "radius" in err
    # the back end is honoured and reported
    out = tmp_path / "highs.json"
    assert main(["solve", str(src), "--method", "kkt", "--mode", "bigm", "--dual-bound", "1e4",
                 "--solver", "highs", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["solver"] == "highs"


def test_solve_reports_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "b", "n_x": 1, "n_y": 1, "F": "x[0] +", "f": "y[0]"}))
    assert main(["solve", str(bad)]) == 2
    assert "malformed expression" in capsys.readouterr().err
    assert main(["solve", str(tmp_path / "missing.json")]) == 2


def test_bench_runs_in_processes_with_verdicts(tmp_path):
    names = ["Bard1984a", "TuyEtal1994", "AiyoshiShimizu1984Ex2"]
    entries = [bolib_entries()[n] for n in names]
    records = bench.run(entries, time_limit=20, jobs=2, progress=False)
    by = {r["name"]: r for r in records}
    assert by["Bard1984a"]["verdict"] == "solved"
    assert by["TuyEtal1994"]["verdict"] == "solved"
    assert by["AiyoshiShimizu1984Ex2"]["verdict"] == "improved"  # F = 0 < BOLIB's 5
    assert bench.summary(records).startswith("solved 3 of 3")
    for r in records:
        assert FIELDS <= set(r)


def test_bench_survives_a_crashing_problem(tmp_path):
    entries = [bolib_entries()["Bard1984a"],
               {"name": "broken", "n_x": 1, "n_y": 1, "F": "x[0] +", "f": "y[0]"}]
    records = bench.run(entries, time_limit=10, jobs=1, progress=False)
    assert records[0]["verdict"] == "solved"
    assert records[1]["verdict"] == "failed" and "malformed" in records[1]["message"]


def test_bench_cli_writes_json(tmp_path):
    src = tmp_path / "two.json"
    src.write_text(json.dumps([bolib_entries()["Bard1984b"], bolib_entries()["GlackinEtal2009"]]))
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "-m", "bilevel_mp.cli", "bench", str(src), "--json", str(out),
                        "--no-progress", "--time-limit", "20"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "solved 2 of 2" in r.stdout
    assert len(json.loads(out.read_text())) == 2


def test_demo_prints_table():
    r = subprocess.run([sys.executable, "-m", "bilevel_mp.cli", "demo"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Bard1984a" in r.stdout and "NO" not in r.stdout.split("┃ problem")[-1]


# ---------------------------------------------------------------- the face: --version, --help
def _subcommands():
    import argparse

    from bilevel_mp.cli import build_parser

    ap = build_parser()
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return ap, sub.choices


def test_version_prints_package_version(capsys):
    import pytest

    import bilevel_mp

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"bilevel-mp {bilevel_mp.__version__}"
    r = subprocess.run([sys.executable, "-m", "bilevel_mp.cli", "--version"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.split() == ["bilevel-mp", bilevel_mp.__version__]


def test_help_gives_every_option_help_choices_and_default():
    import argparse

    _, subs = _subcommands()
    for name in ("solve", "bench", "demo", "nas"):
        p = subs[name]
        text = p.format_help()
        formatter = p._get_formatter()
        for a in p._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            assert a.help, f"{name} {a.option_strings or a.dest}: no help text"
            shown = formatter._expand_help(a)
            if a.option_strings and a.nargs != 0 and not a.required:  # a value option: its default shown
                assert "(default:" in shown, f"{name} {a.option_strings}: no default in {shown!r}"
                if a.default not in (None, []) and "(default: %(default)s)" in formatter._get_help_string(a):
                    assert f"(default: {a.default})" in shown
            for choice in a.choices or ():
                assert str(choice) in text, f"{name} {a.option_strings}: choice {choice} not shown"


def test_help_describes_every_method_in_one_line():
    from bilevel_mp.cli import METHOD_HELP
    from bilevel_mp.methods import METHODS

    assert set(METHOD_HELP) == set(METHODS)
    _, subs = _subcommands()
    for name in ("solve", "bench"):
        text = subs[name].format_help()
        for m in METHODS:
            line = next((ln for ln in text.splitlines() if ln.split()[:1] == [m]), None)
            assert line is not None and len(line.split()) > 3, (name, m)
    # the choices are enforced: a method not in the list exits 2
    try:
        main(["solve", "x.json", "--method", "no_such_method"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("an unknown --method was accepted")


def test_solve_output_has_no_negative_zero_and_known_statuses(tmp_path, capsys):
    import math
    import re

    import bilevel_mp as bmp

    # max -x - y over x, y >= 0 with a follower that pushes y down: x = y = 0, F = -0 in
    # min form flipped back, duals 0 -- every zero printed and written must be a plain 0
    p = bmp.BilevelProblem(1, 2, name="zeros", x_bounds=[(0, 1)], y_bounds=[(0, 1), (0, 1)])
    p.set_upper(-p.x[0] - p.y[0] - 0 * p.y[1], sense="max")
    p.set_lower(-p.y[1], [p.y[1] <= p.x[0], p.y[0] + p.y[1] >= 0], sense="max")
    src = tmp_path / "zeros.json"
    src.write_text(json.dumps(problem_to_dict(p)))
    out = tmp_path / "zeros.json.out"
    assert main(["solve", str(src), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    rec = json.loads(out.read_text())
    assert rec["F"] == 0 and rec["x"] == [0.0]
    assert rec["status"] in bmp.STATUSES
    assert rec["certificate"]["ll_status"] in bmp.result.LL_STATUSES
    assert rec["certificate"]["solver_status"]  # the back end's own word is kept

    assert all(math.copysign(1.0, v) > 0 for v in floats(rec) if v == 0)
    numbers = re.findall(r"(?<![\w.])-[0-9][0-9.]*(?:e[+-]?[0-9]+)?", printed)
    assert all(float(t) != 0 for t in numbers), numbers


def _bard_file(tmp_path):
    src = tmp_path / "bard.json"
    src.write_text(json.dumps(bolib_entries()["Bard1984a"]))
    return src


def test_solve_shows_progress_on_stderr_unless_quiet(tmp_path, capsys):
    src = _bard_file(tmp_path)
    assert main(["solve", str(src)]) == 0
    err = capsys.readouterr().err
    last = [line for line in err.splitlines() if "incumbent" in line][-1]
    assert "Bard1984a" in last and "bound 3.11111" in last and last.endswith("optimal")
    assert main(["solve", str(src), "--quiet"]) == 0
    assert "incumbent" not in capsys.readouterr().err


def test_solve_exports_the_model_and_takes_a_pyomo_solver(tmp_path, capsys):
    import highspy

    src = _bard_file(tmp_path)
    model = tmp_path / "bard.lp"
    assert main(["solve", str(src), "--quiet", "--method", "kkt", "--mode", "bigm", "--dual-bound",
                 "100", "--solver", "scip_direct", "--export", str(model)]) == 0
    out = capsys.readouterr().out
    assert f"to {model}" in out and "feasible" in out     # big-M rests on the bound: feasible
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_feasibility_tolerance", 1e-9)
    h.readModel(str(model))
    h.run()
    assert abs(h.getInfo().objective_function_value - 28 / 9) < 1e-7
    assert main(["solve", str(src), "--export", str(tmp_path / "x.mps"), "--method", "descent"]) == 2
    assert "--export writes the model of" in capsys.readouterr().err


def test_solver_log_passes_the_solvers_log(tmp_path, capfd):
    src = _bard_file(tmp_path)
    assert main(["solve", str(src), "--quiet", "--method", "kkt", "--solver-log"]) == 0
    assert "SCIP" in capfd.readouterr().out
