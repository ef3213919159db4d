"""The bad-input catalogue of issue 14, run against a checkout: what a user sees.

    python benchmarks/bad_inputs.py [--repo PATH] [--out FILE.json]

Each case runs in a fresh Python (``PYTHONPATH=<repo>``, a scratch working directory)
and is summarised in one line: ``exit N: <line shown>`` for a clean exit, ``raises
<bilevel_mp error>`` for the Python API's own errors, ``traceback: <exception>`` when any
other exception escaped, ``killed`` past the time limit. Run it on two checkouts
and pass both JSON files to ``--table`` for the before/after markdown table:

    python benchmarks/bad_inputs.py --repo /tmp/before --out before.json
    python benchmarks/bad_inputs.py --out after.json
    python benchmarks/bad_inputs.py --table before.json after.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from tests.test_optional_extras import HIDE  # noqa: E402  (the one "not installed" simulation)


SUM_MODEL = """
import bilevel_mp as bmp
p = bmp.BilevelProblem(1, 3, x_bounds=[(0, 2)], y_bounds=[(0, None)] * 3)
p.set_upper(sum(p.y) - 2 * p.x[0]).set_lower(sum(p.y), [p.y[j] >= p.x[0] for j in range(3)])
r = bmp.solve(p); print(f"{r.status} F = {r.F:.4g} (true optimum 0)")
"""

WHOLE_VECTOR = """
import bilevel_mp as bmp
p = bmp.BilevelProblem(1, 2)
p.set_upper(p.x[0]).set_lower(p.y[0], [p.y >= 0]); print("built", len(p.g), "constraints")
"""

KNIFE = """
import numpy as np, bilevel_mp as bmp
p = bmp.BilevelProblem(1, 1, x_bounds=[(-1, 1)], y_bounds=[(-1, 1)])
x, y = p.x[0], p.y[0]
p.set_upper((x - 0.6) ** 2 + y ** 2).set_lower(y ** 3 / 3 - x ** 2 * y)
r = bmp.solve(p)
g = np.linspace(-1, 1, 400001); phi = np.min(g ** 3 / 3 - r.x[0] ** 2 * g)
print(f"{r.status} F = {r.F:.6g}; y's gap to a grid re-solve at x: {r.f - phi:.1e}")
"""

NAN_API = """
import bilevel_mp as bmp
p = bmp.BilevelProblem(1, 1, y_bounds=[(0, 10)])
p.set_upper(p.x[0] + p.y[0], [p.x[0] >= 0, p.x[0] <= 5]).set_lower(float("inf") * p.y[0] - p.y[0])
r = bmp.solve(p); print(r.status)
"""

NAN_BOUND = """
import bilevel_mp as bmp
p = bmp.BilevelProblem(1, 1, y_bounds=[(float("nan"), 1)])
p.set_upper(p.x[0] + p.y[0]).set_lower(p.y[0]); print(bmp.solve(p).status)
"""

EQ_ONLY = """
import bilevel_mp as bmp
p = bmp.BilevelProblem(1, 2, x_bounds=[(0, 4)])
x, y = p.x, p.y
p.set_upper(x[0] + y[0] - y[1]).set_lower(y[0] + y[1], [y[0] + y[1] == x[0], y[0] - y[1] == 1])
r = bmp.solve(p); print(f"{r.status} F = {r.F:.4g} (true optimum 1)")
"""

INT_FOLLOWER = """
import bilevel_mp as bmp
p = bmp.BilevelProblem(1, 1, x_bounds=[(0, 5)], y_bounds=[(0, 5)], y_integer=[True])
p.set_upper(-p.x[0] - 10 * p.y[0]).set_lower(p.y[0], [p.y[0] >= 1.5 - p.x[0] / 4])
r = bmp.solve(p); print(r.status, r.F)
"""

NO_NLP = """
import bilevel_mp.backends.nlp as nlp
nlp._engine = lambda: (None, None)
import bilevel_mp as bmp
from bilevel_mp.library import classic
r = bmp.solve(classic.get("YeZhu2010Ex43"), time_limit=5)
print(r.status, "F =", r.F)
"""

TOLL = """
import time, bilevel_mp as bmp
from bilevel_mp.library.toll import grid_network, toll_setting
arcs, tolled, comms = grid_network(14, seed=0)
p = toll_setting(arcs, comms, tolled)
t = time.perf_counter(); r = bmp.solve(p, time_limit=10)
print(f"{r.status} after {time.perf_counter() - t:.1f} s at a 10 s limit")
"""

RIDGE = HIDE.format(hidden=["sklearn"]) + "from nas_frontend.hpo import BilevelRidge\nprint('imported')\n"
TORCH_CLI = HIDE.format(hidden=["torch"]) + \
    "import sys\nfrom bilevel_mp.cli import main\nsys.exit(main(['nas', '--space', 'mlp', '--method', 'mp', '--dataset', 'moons', '--budget-epochs', '3']))\n"

JSON_TYPO = '{"name": "t", "n_x": 1, "n_y": 1, "x_bounds": [[0, 5]], "y_bounds": [[0, 5]], ' \
            '"x_integers": [true], "F": "-x[0] - y[0]", "f": "y[0]", "g": ["y[0] - 2.22 + x[0] / 10"]}'
JSON_NAN = '{"name": "n", "n_x": 1, "n_y": 1, "F": "x[0] + y[0]", "f": "y[0]", ' \
           '"y_bounds": [[NaN, 1]], "x_bounds": [[0, 1]]}'
JSON_BOLIB = '[{"name": "a", "n_x": 1, "n_y": 1, "F": "x[0]", "f": "y[0]"}]'

CASES = [  # (label, kind, payload): kind "py" runs code, "cli" runs bilevel-mp argv
    ("`sum(p.y)` in the Python API", "py", SUM_MODEL),
    ("arithmetic on the whole vector `p.y >= 0`", "py", WHOLE_VECTOR),
    ("JSON typo `x_integers`", "cli", ["solve", "typo.json"]),
    ("NaN bound in JSON", "cli", ["solve", "nan.json"]),
    ("inf coefficient in the follower objective", "py", NAN_API),
    ("NaN variable bound (Python API)", "py", NAN_BOUND),
    ("LP-LP follower, only equality rows, free y", "py", EQ_ONLY),
    ("integer follower (y_integer)", "py", INT_FOLLOWER),
    ("knife-edge follower (tolerance exploit class)", "py", KNIFE),
    ("`bilevel-mp solve /tmp`", "cli", ["solve", "/tmp"]),
    ("empty problem list", "cli", ["solve", "empty.json"]),
    ("`bench --filter` matching nothing", "cli", ["bench", "one.json", "--filter", "zzz", "--no-progress"]),
    ("no NLP solver, auto on a nonconvex follower", "py", NO_NLP),
    ("14x14 toll grid, 10 s limit", "py", TOLL),
    ("`bilevel-mp nas` without torch", "py", TORCH_CLI),
    ("`from nas_frontend.hpo import BilevelRidge` without scikit-learn", "py", RIDGE),
    ("NAS `mp` with a budget below its warm-up", "cli",
     ["nas", "--method", "mp", "--space", "mlp", "--dataset", "moons", "--budget-epochs", "1", "--out", "nas1"]),
    ("NAS `darts2` with an unreachable resource bound", "cli",
     ["nas", "--method", "darts2", "--space", "mlp", "--dataset", "moons", "--budget-epochs", "1",
      "--resource", "params:10", "--out", "nas2"]),
    ("one Ctrl-C during a long solve", "ctrl-c", ["solve", "hard.json", "--time-limit", "120"]),
]

HARD = ("from bilevel_mp.library.random_lplp import random_lplp\n"
        "from bilevel_mp.frontends.expr import problem_to_dict\nimport json\n"
        "json.dump(problem_to_dict(random_lplp(40, 1)), open('hard.json', 'w'))\n")


def _summary(proc_rc, out: str, err: str) -> str:
    if "Traceback (most recent call last)" in err or "Traceback (most recent call last)" in out:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else "?"
        if last.startswith("bilevel_mp.errors."):  # the Python API raising its own error: intended
            return "raises " + last[len("bilevel_mp.errors."):][:130]
        return "traceback: " + last[:110]
    text = [ln for ln in (out.strip().splitlines() + err.strip().splitlines()) if ln.strip()]
    first = out.strip().splitlines()[0] if out.strip() else ""
    last = err.strip().splitlines()[-1] if err.strip() else (text[-1] if text else "")
    shown = last if proc_rc != 0 and err.strip() else (first or last)
    return f"exit {proc_rc}: {shown.strip()[:140]}"


def run_case(kind, payload, repo: Path, work: Path, timeout: float = 180.0) -> str:
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-c", "import sys; from bilevel_mp.cli import main; sys.exit(main(sys.argv[1:]))"]
    cmd = [sys.executable, "-c", payload] if kind == "py" else cli + list(payload)
    try:
        if kind == "ctrl-c":
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            time.sleep(8.0)
            t = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=timeout)
            took = time.perf_counter() - t
            status = "point returned" if "x = " in out else "no point"
            return _summary(proc.returncode, out, err) + f" ({status}, {took:.1f} s after Ctrl-C)"
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        return _summary(proc.returncode, proc.stdout, proc.stderr)
    except subprocess.TimeoutExpired:
        return f"killed after {timeout:.0f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=str(ROOT), help="checkout to run (default: this one)")
    ap.add_argument("--out", default=None, help="write the outcomes as JSON")
    ap.add_argument("--table", nargs=2, metavar=("BEFORE", "AFTER"), help="print the markdown table")
    args = ap.parse_args(argv)
    if args.table:
        before, after = (json.loads(Path(f).read_text()) for f in args.table)
        print("| input | before | after |\n|---|---|---|")
        for label, *_ in CASES:
            print(f"| {label} | {before.get(label, '-')} | {after.get(label, '-')} |".replace("\n", " "))
        return 0
    outcomes = {}
    with tempfile.TemporaryDirectory(prefix="bad_inputs_") as tmp:
        work = Path(tmp)
        (work / "typo.json").write_text(JSON_TYPO)
        (work / "nan.json").write_text(JSON_NAN)
        (work / "empty.json").write_text("[]")
        (work / "one.json").write_text(JSON_BOLIB)
        subprocess.run([sys.executable, "-c", HARD], cwd=work, check=True,
                       env={**os.environ, "PYTHONPATH": str(Path(args.repo))})
        for label, kind, payload in CASES:
            outcomes[label] = run_case(kind, payload, Path(args.repo), work)
            print(f"{label}: {outcomes[label]}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(outcomes, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
