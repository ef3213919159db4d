"""Release build: ``python -m build`` makes an sdist and a wheel that pass ``twine check``,
install into fresh virtual environments and run ``bilevel-mp demo``; the version is
written in one place (``bilevel_mp.__version__``).

The venvs see the already installed dependencies (``--system-site-packages``; this
machine has no network for a full install), but bilevel-mp itself comes from the wheel or
the sdist: the test checks where it is imported from. The build runs on a copy of the
tracked files, so nothing is written into the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import bilevel_mp

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("build")
pytest.importorskip("twine")


def _tracked_copy(dest: Path) -> Path:
    """The files git tracks (as they are in the work tree), or the tree minus caches."""
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                               check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
            ".git", "__pycache__", "*.egg-info", "build", "dist", "_build", ".pytest_cache"))
        return dest
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    src = _tracked_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)])
    return out


def _venv(path: Path) -> Path:
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(path)])
    bin_dir = path / ("Scripts" if os.name == "nt" else "bin")
    # the venv's bundled setuptools may predate PEP 639 licences: build with the outer one
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "uninstall", "--quiet", "-y", "setuptools"],
                   capture_output=True)
    return bin_dir


def test_sdist_and_wheel_pass_twine_check(dist):
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    assert wheels[0].name.startswith(f"bilevel_mp-{bilevel_mp.__version__}-")
    text = _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, wheels + sdists)])
    assert text.count("PASSED") == 2
    with zipfile.ZipFile(wheels[0]) as z:
        names = z.namelist()
    # package data travel with the wheel; tests, docs and benchmarks do not
    assert any(n.startswith("bilevel_mp/library/data/") and n.endswith(".json") for n in names)
    assert any(n.startswith("nas_frontend/tables/") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in names)
    with tarfile.open(sdists[0]) as t:
        assert any(n.endswith("/pyproject.toml") for n in t.getnames())


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_installs_in_a_fresh_venv_and_runs_the_demo(dist, tmp_path, kind):
    artefact = next(dist.glob("*.whl" if kind == "wheel" else "*.tar.gz"))
    bin_dir = _venv(tmp_path / "venv")
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
          "--no-build-isolation", str(artefact)])
    where = _run([str(bin_dir / "python"), "-c", "import bilevel_mp; print(bilevel_mp.__file__)"],
                 cwd=tmp_path)
    assert Path(where.strip()).resolve().is_relative_to((tmp_path / "venv").resolve()), where
    version = _run([str(bin_dir / "bilevel-mp"), "--version"], cwd=tmp_path)
    assert bilevel_mp.__version__ in version
    demo = _run([str(bin_dir / "bilevel-mp"), "demo"], cwd=tmp_path,
                env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert "Bard1984a" in demo and demo.count("yes") >= 10 and "NOT" not in demo
    assert sorted(p.name for p in tmp_path.iterdir()) == ["venv"]  # the demo wrote nothing
