"""Every example runs from a fresh clone and prints the known answer."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPECT = {
    "quickstart.py": ["LP-LP", "F = 3.11111", "certified: True"],
    "pyomo_example.py": ["price 7, q1 3, q2 1, revenue 21", "capacity shadow price 5"],
    "cvxpy_example.py": ["6.1333"],
    "nas_quickstart.py": ["darts2: ", "random: ", "(budget met: True), test accuracy 0.9"],
    "local_methods.py": ["descent        locally_optimal    1.000000   3.0000",
                         "trust_region   locally_optimal    1.000000   3.0000",
                         "auto           optimal            1.000000   3.0000"],
}


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_runs(name):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / name)], capture_output=True,
                       text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    for needle in EXPECT[name]:
        assert needle in r.stdout, (needle, r.stdout[-2000:])
