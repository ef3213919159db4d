"""The layout as the developers' guide and the layering contracts state it: checked from
the code itself, so that a cycle, an upward import or an oversized module fails the day it
is written."""

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("bilevel_mp", "nas_frontend", "models")
MAX_LINES = 520  # "no module over ~500 lines"


def _modules():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def test_import_contracts_hold():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install import-linter)")
    out = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_no_module_over_the_size_limit():
    big = {str(p.relative_to(ROOT)): n for p in _modules()
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, big


def _function_level_imports(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, ast.ImportFrom):
                continue
            own = node.level > 0 or (node.module or "").split(".")[0] in PACKAGES
            line = path.read_text().splitlines()[node.lineno - 1]
            if own and "torch: optional" not in line:
                yield node.lineno, node.module


def test_no_function_level_imports_of_own_modules():
    """Only imports that keep torch optional may hide in a function (marked so)."""
    found = {str(p.relative_to(ROOT)): list(_function_level_imports(p)) for p in _modules()}
    assert not {k: v for k, v in found.items() if v}


def test_no_private_names_imported_across_modules():
    found = []
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                found += [(str(p.relative_to(ROOT)), node.lineno, a.name) for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, found


def test_solver_layer_imports_without_torch_or_sklearn():
    code = ("import sys; import bilevel_mp, bilevel_mp.cli; "
            "bad = [m for m in ('torch', 'sklearn', 'nas_frontend', 'models') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_only_the_one_exit_settles_a_claim_or_builds_a_result():
    """``core/finish.py`` alone marks a claim settled (certified, cleaned, proof checked)
    and builds a ``BilevelResult``: a method cannot skip the certificate's rules."""
    found = []
    for p in sorted((ROOT / "bilevel_mp").rglob("*.py")):
        rel = str(p.relative_to(ROOT))
        if rel in ("bilevel_mp/core/finish.py", "bilevel_mp/result.py"):
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "settled" and isinstance(node.ctx, ast.Store):
                found.append((rel, node.lineno, "settled"))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BilevelResult":
                found.append((rel, node.lineno, "BilevelResult("))
    assert not found, found
