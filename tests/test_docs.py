"""The documentation site builds with warnings as errors, its tutorials executed, and
passes the headless-browser check of ``docs/check_site.py`` (pages render, navigation,
search, no broken links, three screenshots).

Without Chromium or Playwright the browser half is skipped, unless
``BMP_REQUIRE_BROWSER=1`` (set by ``.ci/run`` once it has installed Chromium): then a
missing browser fails the test.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")
sys.path.insert(0, str(DOCS))
import check_site  # noqa: E402  (docs/check_site.py)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    html, doctrees = out / "html", out / "doctrees"
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-j", "auto",
                          "-b", "html", "-d", str(doctrees), str(DOCS), str(html)],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert run.returncode == 0, "the docs build failed:\n" + "\n".join(warnings or [run.stderr[-4000:]])
    return html


def test_the_site_builds_with_every_page(site):
    for page in ["index", "tutorials/quickstart", "tutorials/pyomo", "tutorials/cvxpy",
                 "tutorials/files", "tutorials/or_models", "tutorials/local_methods",
                 "tutorials/nas", "tutorials/hpo", "tutorials/batches", "guides/cli",
                 "api/solver", "api/frontends", "api/library", "api/nas", "search"]:
        assert (site / f"{page}.html").is_file(), page
    quick = (site / "tutorials/quickstart.html").read_text()
    assert "certified" in quick and "optimal" in quick   # the executed cells' output is there
    assert "totally unimodular" in (site / "tutorials/or_models.html").read_text()  # max-flow's route
    api = (site / "api/solver.html").read_text()
    assert 'id="bilevel_mp.solve"' in api and 'id="bilevel_mp.BilevelResult"' in api


def test_the_site_passes_the_browser_check(site, tmp_path):
    browser = check_site.find_browser()
    have_playwright = importlib.util.find_spec("playwright") is not None
    if browser is None or not have_playwright:
        if os.environ.get("BMP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BMP_REQUIRE_BROWSER=1 but Chromium={browser}, playwright={have_playwright}")
        pytest.skip("no Chromium or Playwright here (apt install chromium; pip install playwright)")
    failures = check_site.check(site, tmp_path / "shots", browser)
    assert not failures, "\n".join(failures)
    shots = sorted(p.name for p in (tmp_path / "shots").glob("*.png"))
    assert len(shots) == 3 and all((tmp_path / "shots" / s).stat().st_size > 10_000 for s in shots)
