"""The README's Python snippets run as written, and print what the README says they print."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_has_snippets():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_readme_snippet_runs(k, tmp_path):
    code = BLOCKS[k]
    if k > 0 and "import bilevel_mp as bmp" not in code:
        code = "import bilevel_mp as bmp\n" + code
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    # each "# status optimal, F = 3.11111"-style comment the snippet carries is what it prints
    for status, F in re.findall(r"#\s*status (\w+), F = ([-\d.]+)", BLOCKS[k]):
        assert f": {status}" in r.stdout and f"F = {F}" in r.stdout, r.stdout
